//! The request value an adapter builds; the transport executes it.
//!
//! Adapters are sans-IO: `build_request(&Input, &Config) -> HttpRequest` is a pure function, so a
//! documented vendor example becomes a pure-data fixture. Everything the transport needs to execute
//! the request safely — above all whether it may be retried ([`HttpRequest::idempotent`]) — travels
//! in the value.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use serde::Serialize;
use walletport_core::{Error, Result};

use crate::redact::{RedactedHeaders, is_sensitive_header, path_without_query};

/// An HTTP request built by an adapter, executed by a [`crate::Transport`].
///
/// Build one with [`HttpRequest::get`], [`HttpRequest::post_json`], ... and the builder methods
/// ([`header`](Self::header), [`idempotent`](Self::idempotent), [`query`](Self::query)). Its
/// `Debug` output never shows a sensitive header's value nor the body's content (bodies may carry
/// API keys, as Passquare's `crm_key` does), so requests can be logged and put in test failures.
#[derive(Clone)]
pub struct HttpRequest {
    /// The HTTP method.
    pub method: Method,
    /// Path relative to the transport's base URL (e.g. `/api/v2/crm/read_customer`, query string
    /// allowed), or an absolute `http(s)://` URL for the rare call outside the base.
    pub path: String,
    /// Request headers; authentication headers are marked sensitive (see [`is_sensitive_header`]).
    pub headers: HeaderMap,
    /// The request body, exactly as it goes on the wire.
    pub body: Bytes,
    /// True when sending the request twice has the same effect as once (reads, upserts by a
    /// natural key, credits carrying a transaction id). Only idempotent requests are retried after a
    /// failure that may have happened after the vendor processed them.
    pub idempotent: bool,
    /// The port operation this request serves (e.g. `customer.upsert`), for errors and tracing.
    pub operation: &'static str,
    /// Overrides the transport's whole-request timeout for this request.
    pub timeout: Option<Duration>,
    /// A builder step that failed (e.g. a header value with a newline); reported by
    /// [`HttpRequest::validate`] and by the transport before anything is sent.
    invalid: Option<String>,
}

impl HttpRequest {
    /// A request with no headers and an empty body. Idempotent exactly when the method is safe or
    /// idempotent by HTTP semantics (GET, HEAD, OPTIONS, PUT, DELETE); adjust with
    /// [`idempotent`](Self::idempotent).
    pub fn new(method: Method, operation: &'static str, path: impl Into<String>) -> Self {
        let idempotent = matches!(
            method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
        );
        Self {
            method,
            path: path.into(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            idempotent,
            operation,
            timeout: None,
            invalid: None,
        }
    }

    /// A GET request (idempotent).
    pub fn get(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::GET, operation, path)
    }

    /// A POST request with an empty body, **not** idempotent unless marked so.
    pub fn post(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::POST, operation, path)
    }

    /// A POST request whose body is `body` as JSON, with `Content-Type: application/json`;
    /// **not** idempotent unless marked so.
    ///
    /// Fails with [`ErrorKind::Unexpected`](walletport_core::ErrorKind::Unexpected) only when the
    /// value cannot be serialized (a map with non-string keys, a failing `Serialize` impl).
    pub fn post_json(
        operation: &'static str,
        path: impl Into<String>,
        body: &(impl Serialize + ?Sized),
    ) -> Result<Self> {
        Self::post(operation, path).json(body)
    }

    /// Replaces the body with `body` as JSON and sets `Content-Type: application/json`.
    pub fn json(self, body: &(impl Serialize + ?Sized)) -> Result<Self> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            Error::unexpected(format!("cannot serialize the request body: {e}"))
                .with_operation(self.operation)
        })?;
        Ok(self
            .body(bytes)
            .header_value(CONTENT_TYPE, HeaderValue::from_static("application/json")))
    }

    /// Replaces the body with `pairs` URL-encoded and sets
    /// `Content-Type: application/x-www-form-urlencoded`.
    pub fn form<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Self {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            ser.append_pair(k.as_ref(), v.as_ref());
        }
        self.body(ser.finish()).header_value(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        )
    }

    /// Replaces the body with raw bytes (no `Content-Type` is set).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Appends a header. A name or value HTTP does not allow (e.g. a newline in the value) makes
    /// the request invalid: [`validate`](Self::validate) and the transport then fail with
    /// [`ErrorKind::InvalidInput`](walletport_core::ErrorKind::InvalidInput) without sending.
    /// Authentication headers are marked sensitive automatically.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match self.parse_header(name, value) {
            Some((name, value)) => self.header_value(name, value),
            None => self,
        }
    }

    /// Appends a header that is always marked sensitive (never shown in `Debug` or traces), for
    /// API keys in vendor-specific headers the automatic rule would not recognise.
    pub fn sensitive_header(mut self, name: &str, value: &str) -> Self {
        if let Some((name, mut value)) = self.parse_header(name, value) {
            value.set_sensitive(true);
            self.headers.append(name, value);
        }
        self
    }

    fn parse_header(&mut self, name: &str, value: &str) -> Option<(HeaderName, HeaderValue)> {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            self.invalid
                .get_or_insert_with(|| format!("invalid header name {name:?}"));
            return None;
        };
        let Ok(value) = HeaderValue::from_str(value) else {
            // The value is never echoed: it may be a secret.
            self.invalid
                .get_or_insert_with(|| format!("invalid value for header `{name}`"));
            return None;
        };
        Some((name, value))
    }

    /// Appends an already-typed header; marks it sensitive when [`is_sensitive_header`] says so.
    pub fn header_value(mut self, name: HeaderName, mut value: HeaderValue) -> Self {
        if is_sensitive_header(&name) {
            value.set_sensitive(true);
        }
        self.headers.append(name, value);
        self
    }

    /// Sets `Authorization: Bearer <token>` (sensitive).
    pub fn bearer_auth(self, token: &str) -> Self {
        self.header(AUTHORIZATION.as_str(), &format!("Bearer {token}"))
    }

    /// Sets `Authorization: Basic base64(user:password)` (sensitive).
    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        let encoded = STANDARD.encode(format!("{user}:{password}"));
        self.header(AUTHORIZATION.as_str(), &format!("Basic {encoded}"))
    }

    /// Appends `key=value` (URL-encoded) to the path's query string.
    pub fn query(mut self, key: &str, value: &str) -> Self {
        let pair = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(key, value)
            .finish();
        let sep = if self.path.contains('?') { '&' } else { '?' };
        self.path.push(sep);
        self.path.push_str(&pair);
        self
    }

    /// Marks whether the request may be sent twice safely (see the field's docs).
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Overrides the transport's whole-request timeout for this request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Fails with [`ErrorKind::InvalidInput`](walletport_core::ErrorKind::InvalidInput) when a
    /// builder step was given something HTTP cannot carry.
    pub fn validate(&self) -> Result<()> {
        match &self.invalid {
            None => Ok(()),
            Some(why) => Err(Error::invalid_input(why.clone()).with_operation(self.operation)),
        }
    }

    /// The body as UTF-8 text (lossy), e.g. for fixture assertions in tests.
    pub fn body_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The body parsed as JSON, e.g. for fixture assertions in tests.
    pub fn body_json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::unexpected(format!("request body is not the expected JSON: {e}"))
                .with_operation(self.operation)
        })
    }

    /// The path without its query string (query strings may carry keys), for logs and traces.
    pub fn path_for_logs(&self) -> &str {
        path_without_query(&self.path)
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("HttpRequest");
        d.field("method", &self.method)
            .field("path", &self.path_for_logs())
            .field("operation", &self.operation)
            .field("idempotent", &self.idempotent)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body", &format_args!("<{} bytes>", self.body.len()));
        if let Some(t) = self.timeout {
            d.field("timeout", &t);
        }
        if let Some(why) = &self.invalid {
            d.field("invalid", why);
        }
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_rfc7617_base64() {
        let req = HttpRequest::get("op", "/x").basic_auth("Aladdin", "open sesame");
        let value = req.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        assert_eq!(value, Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
    }

    #[test]
    fn invalid_header_value_is_reported_without_echoing_it() {
        let req = HttpRequest::get("op", "/x").header("X-Api-Key", "abc\ndef");
        let err = req.validate().unwrap_err();
        assert_eq!(err.kind(), walletport_core::ErrorKind::InvalidInput);
        assert!(!err.to_string().contains("abc"));
        assert!(!format!("{req:?}").contains("abc"));
    }

    #[test]
    fn query_pairs_are_encoded_and_hidden_from_logs() {
        let req = HttpRequest::get("op", "/list")
            .query("page", "2")
            .query("q", "a b&c");
        assert_eq!(req.path, "/list?page=2&q=a+b%26c");
        assert_eq!(req.path_for_logs(), "/list");
    }

    #[test]
    fn sensitive_header_keeps_earlier_values_and_hides_the_new_one() {
        let req = HttpRequest::get("op", "/")
            .header("X-Custom", "public")
            .sensitive_header("X-Custom", "hidden");
        let values: Vec<_> = req.headers.get_all("x-custom").iter().collect();
        assert_eq!(values.len(), 2);
        assert!(!values[0].is_sensitive());
        assert!(values[1].is_sensitive());
        assert!(!format!("{req:?}").contains("hidden"));
        assert!(format!("{req:?}").contains("public"));
    }

    #[test]
    fn methods_default_to_their_http_idempotency() {
        assert!(HttpRequest::get("op", "/").idempotent);
        assert!(HttpRequest::new(Method::PUT, "op", "/").idempotent);
        assert!(!HttpRequest::post("op", "/").idempotent);
        assert!(HttpRequest::post("op", "/").idempotent(true).idempotent);
    }
}
