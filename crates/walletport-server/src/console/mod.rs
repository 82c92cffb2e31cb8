//! The operator console: server-rendered HTML pages under `/console/` for the merchant's staff
//! (find a customer, see their card and history, change their balance, retry a dead letter).
//!
//! Templates are [maud](https://maud.lambda.xyz) macros, checked at compile time; there is no
//! JavaScript build, only `static/console.js` (local times) and `static/console.css`.
//!
//! # Security
//! Every route but the static files and the sign-in page sits behind [`auth::require_signed_in`]:
//! with `server.api_token` set, a session signs in once with the token; without one (loopback
//! only) every session is signed in. Sessions live in memory ([`session::Sessions`]), named by
//! an `HttpOnly; SameSite=Strict; Path=/console` cookie (`Secure` with `server.behind_tls`).
//! State-changing requests are `POST` forms read with [`forms::CsrfForm`], which checks the
//! session's CSRF token first (403 otherwise). Every response gets the security headers of
//! [`auth::security_headers`] (CSP `default-src 'self'`: no inline scripts or styles).
//!
//! # Adding a page
//! 1. Add a module `console/PAGE.rs` with `pub(crate) async fn` handlers. A page takes
//!    `State(s): State<ConsoleState>` and `ctx: Ctx`, and answers
//!    `ConsoleResult<Markup>` built with [`layout::page`]`(&ctx, Nav::..., "Title", html! {..})`
//!    (call it as `layout::page`: handlers are often named `page` themselves);
//!    store errors convert with `?` into an error page ([`error::ConsoleError`]).
//! 2. A state-changing action takes `CsrfForm(input): CsrfForm<Input>` (a `Deserialize` struct
//!    of the form's fields, without `csrf`), sets a message with
//!    `ctx.flash(FlashKind::Ok | FlashKind::Error, "...")` and answers
//!    `Redirect::to("/console/...")`. Its form is [`layout::csrf_form`]`(&ctx, action, class,
//!    html! {..})`, which adds the hidden CSRF field. Confirm steps are a `GET` page showing
//!    what will happen with a form whose button sends the `POST`.
//! 3. Register it with one line in [`router`]'s signed-in block, e.g.
//!    `.route("/console/outbox", get(outbox::page))`, and declare the module below.
//!    Times render with [`layout::time`]; labelled inputs with [`layout::text_field`].

mod actions;
mod auth;
mod campaigns;
mod customer;
mod customers;
mod error;
mod forms;
mod import;
pub(crate) mod layout;
mod outbox;
mod provider;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use secrecy::SecretString;

use crate::api::ApiState;
use crate::config::GatewayConfig;

pub(crate) use auth::Ctx;
pub(crate) use error::{ConsoleError, ConsoleResult};
pub(crate) use forms::{CsrfForm, PageQuery, check_csrf};
pub(crate) use layout::{Nav, csrf_form, text_field, time};
pub(crate) use session::FlashKind;

/// What console handlers share: the API's state (gateway, health cache) and the sessions.
#[derive(Clone)]
pub(crate) struct ConsoleState {
    /// The same state the REST handlers use, so console actions call the same code.
    pub(crate) api: ApiState,
    /// Live sessions.
    pub(crate) sessions: Arc<session::Sessions>,
    /// The API token a session signs in with; `None`: no sign-in (loopback only).
    pub(crate) token: Option<Arc<SecretString>>,
    /// Add `Secure` to the session cookie (the gateway is behind TLS).
    pub(crate) secure_cookies: bool,
    /// Failed sign-in attempts, for the rate limit.
    pub(crate) limiter: Arc<auth::SignInLimiter>,
}

/// The console's script, served as a file (the CSP forbids inline scripts).
const CONSOLE_JS: &str = include_str!("static/console.js");
/// The console's stylesheet.
const CONSOLE_CSS: &str = include_str!("static/console.css");

/// A static text file with its content type.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

/// `GET /console/static/console.js`.
async fn console_js() -> Response {
    asset("text/javascript; charset=utf-8", CONSOLE_JS)
}

/// `GET /console/static/console.css`.
async fn console_css() -> Response {
    asset("text/css; charset=utf-8", CONSOLE_CSS)
}

/// The console's routes (`/`, `/console`, `/console/...`), to merge into the gateway's router.
pub(crate) fn router(api: ApiState, config: &GatewayConfig) -> Router {
    let state = ConsoleState {
        api,
        sessions: Arc::default(),
        token: config.server.api_token.clone().map(Arc::new),
        secure_cookies: config.server.behind_tls,
        limiter: Arc::default(),
    };
    // Pages with customer data (or actions on it): signed-in sessions only.
    let signed_in = Router::new()
        .route("/console/", get(customers::page))
        .route("/console/customers/{id}", get(customer::page))
        .route(
            "/console/customers/{id}/actions/{action}",
            get(actions::back_to_customer).post(actions::act),
        )
        .route("/console/outbox", get(outbox::page_view))
        .route(
            "/console/outbox/dead/{id}/retry",
            get(outbox::confirm_retry).post(outbox::retry),
        )
        .route(
            "/console/outbox/retry-all",
            get(outbox::confirm_retry_all).post(outbox::retry_all),
        )
        .route(
            "/console/campaigns",
            get(campaigns::page_view).post(campaigns::create),
        )
        .route(
            "/console/campaigns/send",
            get(campaigns::confirm_send).post(campaigns::send),
        )
        .route("/console/provider", get(provider::page_view))
        .route(
            "/console/import",
            get(import::page_view)
                .post(import::import)
                .layer(import::body_limit()),
        )
        .route("/console/import/jobs/{id}", get(import::job_view))
        .layer(import::jobs_layer())
        .route_layer(axum::middleware::from_fn(auth::require_signed_in));
    let sessioned = Router::new()
        .route(
            "/console/sign-in",
            get(auth::sign_in_form).post(auth::sign_in),
        )
        .route("/console/sign-out", post(auth::sign_out))
        .merge(signed_in)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::with_session,
        ));
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/static/console.js", get(console_js))
        .route("/console/static/console.css", get(console_css))
        .merge(sessioned)
        .route("/console/{*rest}", axum::routing::any(error::not_found))
        .layer(axum::middleware::from_fn(auth::security_headers))
        .with_state(state)
}
