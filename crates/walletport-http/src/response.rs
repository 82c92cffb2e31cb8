//! The response value the transport hands back; adapters parse it with pure functions.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use walletport_core::error::MAX_VENDOR_MESSAGE;
use walletport_core::{Error, ErrorKind, Result, VendorError};

use crate::redact::RedactedHeaders;

/// An HTTP response as the vendor sent it: status, headers, whole body.
///
/// The transport never interprets a vendor's body: anything that is not a transport-level failure
/// (2xx, but also 400, 401, 404, 409, 500, ...) arrives here for the adapter's `parse_response`.
#[derive(Clone, PartialEq)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The whole response body.
    pub body: Bytes,
}

impl HttpResponse {
    /// A response with `status`, no headers and `body`; handy for fixtures and the
    /// [`StubTransport`](crate::stub::StubTransport).
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: body.into(),
        }
    }

    /// A response whose body is `value` as JSON, with `Content-Type: application/json`.
    ///
    /// A value that cannot be serialized (only possible with a failing `Serialize` impl) yields
    /// an empty body.
    pub fn json_body(status: u16, value: &(impl Serialize + ?Sized)) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        Self::new(status, body)
            .with_header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
    }

    /// Appends a header (builder style, for fixtures).
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name` if it is valid visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text; invalid UTF-8 is replaced, never an error.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The body parsed as JSON into `T`.
    ///
    /// A body that is not the expected JSON is an [`ErrorKind::Unexpected`] error (permanent)
    /// that keeps the status and the raw body, truncated, in its [`VendorError`], so a support
    /// ticket can show what the vendor actually sent.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            self.error(
                ErrorKind::Unexpected,
                format!("the vendor's answer is not the expected JSON: {e}"),
            )
            .with_source(e)
        })
    }

    /// What the vendor said, as a [`VendorError`] with the status and the (truncated) body.
    pub fn vendor_error(&self) -> VendorError {
        VendorError {
            status: Some(self.status),
            code: None,
            message: if self.body.is_empty() {
                None
            } else {
                Some(truncated_text(&self.body))
            },
        }
    }

    /// An error of `kind` carrying this response as its [`VendorError`]; the retry class follows
    /// the kind. Adapters use it for a vendor answer they map to an error.
    pub fn error(&self, kind: ErrorKind, message: impl Into<String>) -> Error {
        Error::new(kind, message).with_vendor(self.vendor_error())
    }
}

/// The body as lossy UTF-8, cut to [`MAX_VENDOR_MESSAGE`] bytes before decoding so a huge body
/// costs no more than that.
pub(crate) fn truncated_text(body: &[u8]) -> String {
    let cut = body.len().min(MAX_VENDOR_MESSAGE + 4);
    String::from_utf8_lossy(&body[..cut]).into_owned()
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let preview = truncated_text(&self.body[..self.body.len().min(256)]);
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body_len", &self.body.len())
            .field("body", &preview)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Answer {
        #[allow(dead_code)]
        ok: bool,
    }

    #[test]
    fn json_failure_is_unexpected_and_keeps_truncated_body() {
        let body = format!("<html>{}</html>", "x".repeat(10_000));
        let resp = HttpResponse::new(200, body);
        let err = resp.json::<Answer>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unexpected);
        assert_eq!(err.retry(), walletport_core::Retry::Permanent);
        let vendor = err.vendor().cloned().unwrap_or_default();
        assert_eq!(vendor.status, Some(200));
        let message = vendor.message.unwrap_or_default();
        assert!(message.starts_with("<html>xxx"));
        assert!(message.len() <= MAX_VENDOR_MESSAGE + '…'.len_utf8());
    }

    #[test]
    fn json_body_round_trips() {
        let resp = HttpResponse::json_body(200, &serde_json::json!({"ok": true}));
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert!(resp.json::<Answer>().is_ok());
        assert!(resp.is_success());
    }

    #[test]
    fn invalid_utf8_never_panics() {
        let resp = HttpResponse::new(500, vec![0xff, 0xfe, b'a']);
        assert!(resp.text().ends_with('a'));
        assert!(resp.vendor_error().message.is_some());
        assert!(resp.json::<Answer>().is_err());
    }
}
