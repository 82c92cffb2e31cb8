//! Form bodies for state-changing console requests: the CSRF token is checked before the fields
//! are read, so a forged or stale form changes nothing.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::auth::Ctx;
use super::error::ConsoleError;
use super::session::tokens_equal;

/// The largest urlencoded form body the console reads (CSV uploads use their own extractor).
const MAX_FORM: usize = 64 * 1024;

/// The field every console form carries.
#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// Checks a submitted CSRF token against the session's (constant time); 403 when it differs.
pub(crate) fn check_csrf(ctx: &Ctx, given: &str) -> Result<(), ConsoleError> {
    if !given.is_empty() && tokens_equal(given, ctx.csrf()) {
        Ok(())
    } else {
        tracing::warn!("console form refused: missing or wrong CSRF token");
        Err(ConsoleError::csrf())
    }
}

/// An `application/x-www-form-urlencoded` body whose `csrf` field matched the session's token,
/// read into `T` (which ignores the `csrf` field). 403 on a bad token, 400 on bad fields.
pub(crate) struct CsrfForm<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CsrfForm<T> {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let ctx =
            <Ctx as axum::extract::FromRequestParts<S>>::from_request_parts(&mut parts, state)
                .await?;
        let req = Request::from_parts(parts, body);
        let bytes = axum::body::to_bytes(req.into_body(), MAX_FORM)
            .await
            .map_err(|_| {
                ConsoleError::new(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.")
            })?;
        let field: CsrfField = parse(&bytes)?;
        check_csrf(&ctx, &field.csrf)?;
        parse(&bytes).map(CsrfForm)
    }
}

/// Reads a urlencoded body into `T`; 400 with the reason when it does not fit.
fn parse<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ConsoleError> {
    serde_urlencoded::from_bytes(bytes).map_err(|e| {
        ConsoleError::new(
            StatusCode::BAD_REQUEST,
            format!("The form is not valid: {e}."),
        )
    })
}

/// A query string read into `T`; a malformed one is a 400 error page (not axum's plain text).
pub(crate) struct PageQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for PageQuery<T> {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(PageQuery)
            .map_err(|e| {
                ConsoleError::new(
                    StatusCode::BAD_REQUEST,
                    format!("The address is not valid: {e}."),
                )
            })
    }
}
