//! The console's error page: a typed error with its HTTP status, rendered as HTML (never JSON,
//! never the internals of a server error).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use walletport_core::Error;

use super::layout;
use crate::api::status_of;

/// A console request that failed: the status and a message safe to show.
#[derive(Debug)]
pub(crate) struct ConsoleError {
    /// The HTTP status of the error page.
    pub(crate) status: StatusCode,
    /// What went wrong, in words an operator understands.
    pub(crate) message: String,
}

/// What a console handler answers.
pub(crate) type ConsoleResult<T> = Result<T, ConsoleError>;

impl ConsoleError {
    /// An error page with `status` and `message`.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 403: the form did not carry this session's CSRF token.
    pub(crate) fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from this console. Go back, reload the page and try again.",
        )
    }

    /// 404: no such console page.
    pub(crate) fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "There is no such page in the console.",
        )
    }
}

/// The message of `error` that an operator may see: the error's own text for the caller's
/// mistakes, a generic one for server faults (logged instead).
pub(crate) fn public_message(error: &Error) -> String {
    if status_of(error).is_server_error() {
        tracing::warn!(error = %error, "console request failed");
        format!(
            "The gateway could not do this ({}). Details are in the gateway's log.",
            error.kind()
        )
    } else {
        error.message().to_owned()
    }
}

impl From<Error> for ConsoleError {
    fn from(error: Error) -> Self {
        Self::new(status_of(&error), public_message(&error))
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error").to_owned();
        let body = layout::bare_page(
            &title,
            html! {
                h1 { (title) }
                p role="alert" { (self.message) }
                p { a href="/console/" { "Back to the customers" } }
            },
        );
        (self.status, body).into_response()
    }
}

/// The console's answer to a URL under `/console/` that no page serves.
pub(crate) async fn not_found() -> ConsoleError {
    ConsoleError::not_found()
}
