//! The unified REST API (`/api/...`), bearer-token auth, typed errors and the plumbing shared by
//! its handlers.

mod cards;
mod customers;
mod ledger;
mod links;
mod openapi;
mod outbox;
mod system;
mod templates;
mod vendor;
pub mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use walletport_core::{CustomerId, CustomerKey, Error, ErrorKind, Phone};
use walletport_store::StoredCustomer;

pub use openapi::ApiDoc;

use crate::state::Gateway;

/// Shared state of the API handlers.
#[derive(Clone)]
pub(crate) struct ApiState {
    pub(crate) gw: Gateway,
    pub(crate) health: Arc<system::HealthCache>,
    pub(crate) outbox_stats: Arc<system::OutboxStatsCache>,
}

/// An [`Error`] as an HTTP answer: status by kind, `{"error": {...}}` body.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

/// The HTTP status an error kind maps to.
pub fn status_of(error: &Error) -> StatusCode {
    match error.kind() {
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::AlreadyExists | ErrorKind::Conflict | ErrorKind::InsufficientPoints => {
            StatusCode::CONFLICT
        }
        ErrorKind::Unsupported => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::VendorUnavailable => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub(crate) fn error_response(status: StatusCode, error: &Error) -> Response {
    let body = serde_json::json!({ "error": error.to_json() });
    (status, axum::Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if status_of(&self.0).is_server_error() {
            tracing::warn!(error = %self.0, "API request failed");
        }
        error_response(status_of(&self.0), &self.0)
    }
}

/// Handler result.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// A vendor object (card, template) answered as the JSON it serialises to.
pub(crate) fn vendor_json<T: serde::Serialize>(
    value: &T,
) -> ApiResult<axum::Json<serde_json::Value>> {
    Ok(axum::Json(
        serde_json::to_value(value).map_err(Error::from)?,
    ))
}

/// The stored customer a path's `{key}` names: the first step of most `/api/customers/{key}`
/// handlers.
pub(crate) async fn stored_customer(s: &ApiState, key: &str) -> Result<StoredCustomer, Error> {
    s.gw.customer(&customer_key(key)?).await
}

/// Runs `op` (shared with the console) for the customer a path names and answers with its
/// result as the view `V`: the tail of every handler that only forwards to such an operation.
pub(crate) async fn on_customer<I, T, V: From<T>>(
    s: &ApiState,
    key: &str,
    input: I,
    op: impl AsyncFnOnce(&Gateway, &CustomerKey, I) -> Result<T, Error>,
) -> ApiResult<axum::Json<V>> {
    Ok(axum::Json(
        op(&s.gw, &customer_key(key)?, input).await?.into(),
    ))
}

/// A JSON body whose rejections are typed errors (400, or 413 when too large).
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> Response {
    let status = rejection.status();
    let error = Error::invalid_input(rejection.body_text());
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        error_response(StatusCode::PAYLOAD_TOO_LARGE, &error)
    } else {
        error_response(StatusCode::BAD_REQUEST, &error)
    }
}

/// A query string whose rejections are typed 400 errors.
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(rejection) => {
                let rejection: QueryRejection = rejection;
                Err(error_response(
                    StatusCode::BAD_REQUEST,
                    &Error::invalid_input(rejection.body_text()),
                ))
            }
        }
    }
}

/// A customer named in a path: a phone when it reads as one, else a CRM id.
pub(crate) fn customer_key(raw: &str) -> Result<CustomerKey, Error> {
    match Phone::parse(raw) {
        Ok(phone) => Ok(CustomerKey::Phone(phone)),
        Err(_) => Ok(CustomerKey::Id(CustomerId::new(raw)?)),
    }
}

/// Checks `Authorization: Bearer TOKEN` against the configured token in constant time.
pub(crate) fn token_matches(expected: &SecretString, header: Option<&HeaderValue>) -> bool {
    let Some(value) = header.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(given) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    else {
        return false;
    };
    let given = given.trim().as_bytes();
    let expected = expected.expose_secret().as_bytes();
    // `ct_eq` on slices of different lengths answers false without comparing contents; only the
    // length of the token can be learnt from timing, never its bytes.
    bool::from(given.ct_eq(expected))
}

async fn require_token(
    State(token): State<Arc<SecretString>>,
    req: Request,
    next: Next,
) -> Response {
    if token_matches(&token, req.headers().get(header::AUTHORIZATION)) {
        next.run(req).await
    } else {
        let mut resp = error_response(
            StatusCode::UNAUTHORIZED,
            &Error::new(
                ErrorKind::Unauthenticated,
                "missing or wrong bearer token (Authorization: Bearer TOKEN)",
            ),
        );
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        resp
    }
}

/// The `/api` routes, behind the bearer token when one is configured.
pub(crate) fn api_router(state: ApiState, token: Option<SecretString>) -> Router {
    let router = Router::new()
        .route(
            "/api/customers",
            get(customers::list).post(customers::upsert),
        )
        .route("/api/customers/{key}", get(customers::get))
        .route(
            "/api/customers/{key}/balance",
            get(customers::balance).put(ledger::set_balance),
        )
        .route("/api/customers/{key}/credits", post(ledger::credit))
        .route(
            "/api/customers/{key}/credits/{transaction_id}/reversal",
            post(ledger::reverse),
        )
        .route("/api/customers/{key}/redemptions", post(ledger::redeem))
        .route("/api/customers/{key}/ledger", get(ledger::history))
        .route(
            "/api/customers/{key}/percentages",
            put(customers::percentages),
        )
        .route(
            "/api/customers/{key}/card",
            get(cards::get).post(cards::issue).patch(cards::update),
        )
        .route("/api/customers/{key}/card/status", put(cards::status))
        .route(
            "/api/customers/{key}/card/install-link",
            post(cards::send_install_link),
        )
        .route("/api/customers/{key}/push", post(vendor::push))
        .route("/api/campaigns", post(vendor::create_campaign))
        .route("/api/campaigns/{id}/send", post(vendor::send_campaign))
        .route(
            "/api/templates",
            get(vendor::list_templates).post(templates::create),
        )
        .route(
            "/api/templates/{id}",
            get(vendor::get_template).put(templates::update),
        )
        .route("/api/links", post(links::create))
        .route("/api/links/{id}", put(links::update))
        .route("/api/outbox", get(outbox::list))
        .route("/api/outbox/{id}/retry", post(outbox::retry))
        .with_state(state);
    match token {
        Some(token) => router.layer(axum::middleware::from_fn_with_state(
            Arc::new(token),
            require_token,
        )),
        None => router,
    }
}

/// The open routes: `/healthz`, `/metrics`, `/openapi.json`.
pub(crate) fn system_router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(system::healthz))
        .route("/metrics", get(system::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .with_state(state)
}

pub(crate) use cards::set_customer_card_status;
pub(crate) use customers::set_customer_percentages;
pub(crate) use ledger::{credit_customer, redeem_customer};
pub(crate) use system::{HealthCache, OUTBOX_STATS_TTL, OutboxStatsCache, health};
pub(crate) use vendor::{create_campaign_at_vendor, push_to_customer, send_campaign_at_vendor};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_is_compared_exactly() {
        let token = SecretString::from("s3cret");
        let h = |v: &str| HeaderValue::from_str(v).ok();
        assert!(token_matches(&token, h("Bearer s3cret").as_ref()));
        assert!(!token_matches(&token, h("Bearer s3cre").as_ref()));
        assert!(!token_matches(&token, h("Bearer s3cretx").as_ref()));
        assert!(!token_matches(&token, h("Basic s3cret").as_ref()));
        assert!(!token_matches(&token, None));
    }

    #[test]
    fn path_keys_are_phones_or_ids() {
        assert!(matches!(
            customer_key("+420700000001"),
            Ok(CustomerKey::Phone(_))
        ));
        assert!(matches!(
            customer_key("2f1c6a1e-0000-4000-8000-000000000001"),
            Ok(CustomerKey::Id(_))
        ));
        assert!(customer_key(" ").is_err());
    }
}
