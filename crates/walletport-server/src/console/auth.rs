//! Who may use the console: the session middleware, the sign-in gate, sign-in (the API token,
//! compared in constant time, failures rate-limited) and sign-out, and the security headers.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use secrecy::ExposeSecret as _;
use serde::Deserialize;

use super::ConsoleState;
use super::error::{ConsoleError, ConsoleResult};
use super::forms::CsrfForm;
use super::layout::bare_page;
use super::session::{self, Flash, FlashKind, SessionInfo, Sessions, tokens_equal};

/// Failed sign-ins one client may make per [`FAILURE_WINDOW`].
pub(crate) const FAILURES_PER_CLIENT: usize = 5;
/// Failed sign-ins all clients together may make per [`FAILURE_WINDOW`] (stops a spread-out
/// guessing attack, at the price of locking everyone out for at most a window).
pub(crate) const FAILURES_GLOBAL: usize = 50;
/// The window the failure limits count in.
pub(crate) const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// The session of the request being handled, as the session middleware found or made it.
#[derive(Clone)]
pub(crate) struct Ctx {
    /// The session (id, sign-in state, CSRF token).
    pub(crate) session: SessionInfo,
    /// Where flash messages go.
    sessions: Arc<Sessions>,
    /// True when the console asks for the API token (shows "Sign out").
    pub(crate) token_required: bool,
    /// The client's address (for the sign-in rate limit and the log), when known.
    pub(crate) client: Option<IpAddr>,
}

impl Ctx {
    /// The CSRF token every state-changing form of this session carries.
    pub(crate) fn csrf(&self) -> &str {
        &self.session.csrf
    }

    /// Queues `text` for the next page this session sees.
    pub(crate) fn flash(&self, kind: FlashKind, text: impl Into<String>) {
        self.sessions.flash(&self.session.id, kind, text);
    }

    /// Queues "`what`: why it failed" as an error message, saying of `error` only what an
    /// operator may see ([`super::error::public_message`]).
    pub(crate) fn flash_failure(
        &self,
        what: impl std::fmt::Display,
        error: &walletport_core::Error,
    ) {
        let why = super::error::public_message(error);
        self.flash(FlashKind::Error, format!("{what}: {why}"));
    }

    /// Takes the queued messages (the layout shows them once).
    pub(crate) fn take_flashes(&self) -> Vec<Flash> {
        self.sessions.take_flashes(&self.session.id)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Ctx>().cloned().ok_or_else(|| {
            ConsoleError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console route has no session layer.",
            )
        })
    }
}

/// Finds the request's session or starts one (signed in when no token is configured), puts
/// a [`Ctx`] in the request's extensions and sets the cookie of a new session.
pub(crate) async fn with_session(
    State(state): State<ConsoleState>,
    mut req: Request,
    next: Next,
) -> Response {
    let found = session::cookie_id(req.headers()).and_then(|id| state.sessions.get(&id));
    let (info, new) = match found {
        Some(info) => (info, false),
        None => match state.sessions.create(state.token.is_none()) {
            Some(info) => (info, true),
            None => {
                return ConsoleError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Too many console sessions are open; try again later.",
                )
                .into_response();
            }
        },
    };
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let cookie = new.then(|| session::set_cookie(Some(&info.id), state.secure_cookies));
    req.extensions_mut().insert(Ctx {
        session: info,
        sessions: state.sessions.clone(),
        token_required: state.token.is_some(),
        client,
    });
    let mut resp = next.run(req).await;
    if let Some(cookie) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, cookie);
    }
    resp
}

/// Lets only signed-in sessions through; everyone else goes to the sign-in page.
pub(crate) async fn require_signed_in(ctx: Ctx, req: Request, next: Next) -> Response {
    if ctx.session.signed_in {
        next.run(req).await
    } else {
        Redirect::to("/console/sign-in").into_response()
    }
}

/// Adds the console's security headers to every console response.
pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// Failed sign-ins in the last window, per client and in total.
#[derive(Debug, Default)]
pub(crate) struct SignInLimiter {
    failures: Mutex<Failures>,
}

/// The instants of recent failures.
#[derive(Debug, Default)]
struct Failures {
    by_client: HashMap<IpAddr, VecDeque<Instant>>,
    all: VecDeque<Instant>,
}

impl Failures {
    /// Forgets failures older than the window.
    fn prune(&mut self, now: Instant) {
        let fresh = |t: &Instant| now.duration_since(*t) < FAILURE_WINDOW;
        while self.all.front().is_some_and(|t| !fresh(t)) {
            self.all.pop_front();
        }
        self.by_client.retain(|_, q| {
            while q.front().is_some_and(|t| !fresh(t)) {
                q.pop_front();
            }
            !q.is_empty()
        });
    }
}

impl SignInLimiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, Failures> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True when `client` (or everyone) has used up the failed attempts of the window.
    pub(crate) fn locked(&self, client: Option<IpAddr>) -> bool {
        let mut f = self.lock();
        f.prune(Instant::now());
        f.all.len() >= FAILURES_GLOBAL
            || client
                .and_then(|c| f.by_client.get(&c))
                .is_some_and(|q| q.len() >= FAILURES_PER_CLIENT)
    }

    /// Counts a failed attempt of `client`.
    pub(crate) fn failed(&self, client: Option<IpAddr>) {
        let now = Instant::now();
        let mut f = self.lock();
        f.prune(now);
        f.all.push_back(now);
        if let Some(c) = client {
            f.by_client.entry(c).or_default().push_back(now);
        }
    }
}

/// The sign-in form, with an optional error above it.
fn sign_in_page(ctx: &Ctx, error: Option<&str>) -> Markup {
    bare_page(
        "Sign in",
        html! {
            h1 { "Sign in to the console" }
            @if let Some(error) = error {
                p.flash.error role="alert" { (error) }
            }
            form method="post" action="/console/sign-in" {
                input type="hidden" name="csrf" value=(ctx.csrf());
                div.field {
                    label for="token" { "API token (" code { "server.api_token" } ")" }
                    input type="password" id="token" name="token" required
                        autocomplete="current-password" autofocus;
                }
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// `GET /console/sign-in`: the form, or the customers when already signed in.
pub(crate) async fn sign_in_form(ctx: Ctx) -> Response {
    if ctx.session.signed_in {
        return Redirect::to("/console/").into_response();
    }
    sign_in_page(&ctx, None).into_response()
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub(crate) struct SignInInput {
    /// The API token as typed.
    #[serde(default)]
    token: String,
}

/// `POST /console/sign-in`: checks the token (rate-limited) and signs the session in with a
/// fresh session id.
pub(crate) async fn sign_in(
    State(state): State<ConsoleState>,
    ctx: Ctx,
    CsrfForm(input): CsrfForm<SignInInput>,
) -> ConsoleResult<Response> {
    let Some(expected) = &state.token else {
        return Ok(Redirect::to("/console/").into_response());
    };
    let client = ctx.client;
    if state.limiter.locked(client) {
        tracing::warn!(client = ?client, "console sign-in refused: too many failed attempts");
        return Err(ConsoleError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong tokens. Sign-in is locked for a minute; wait, then try again.",
        ));
    }
    if !tokens_equal(input.token.trim(), expected.expose_secret()) {
        state.limiter.failed(client);
        tracing::warn!(client = ?client, "console sign-in failed: wrong token");
        let page = sign_in_page(&ctx, Some("That is not the gateway's API token."));
        return Ok((StatusCode::UNAUTHORIZED, page).into_response());
    }
    let signed = state.sessions.sign_in(&ctx.session.id).ok_or_else(|| {
        ConsoleError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many console sessions are open; try again later.",
        )
    })?;
    tracing::info!(client = ?client, "console sign-in");
    let mut resp = Redirect::to("/console/").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(Some(&signed.id), state.secure_cookies),
    );
    Ok(resp)
}

/// The sign-out form's fields (only the CSRF token).
#[derive(Deserialize)]
pub(crate) struct NoFields {}

/// `POST /console/sign-out`: forgets the session and deletes the cookie.
pub(crate) async fn sign_out(
    State(state): State<ConsoleState>,
    ctx: Ctx,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Response {
    state.sessions.remove(&ctx.session.id);
    let mut resp = Redirect::to("/console/sign-in").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(None, state.secure_cookies),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_locks_a_client_after_its_failures_and_everyone_after_many() {
        let l = SignInLimiter::default();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..FAILURES_PER_CLIENT {
            assert!(!l.locked(Some(a)));
            l.failed(Some(a));
        }
        assert!(l.locked(Some(a)));
        assert!(!l.locked(Some(b)));
        for _ in FAILURES_PER_CLIENT..FAILURES_GLOBAL {
            l.failed(None);
        }
        assert!(l.locked(Some(b)));
    }
}
