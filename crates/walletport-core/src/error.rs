//! The one error type every walletport crate returns.
//!
//! An [`Error`] says *what kind* of failure happened ([`ErrorKind`]), whether trying again can help
//! ([`Retry`]), where it happened (provider and operation) and, when a vendor answered, the vendor's
//! raw status, code and message ([`VendorError`]) so nothing the vendor said is lost.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

/// What went wrong, independent of the vendor; callers branch on this.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The provider does not offer this operation (see [`crate::Capability`]).
    Unsupported,
    /// The configuration is incomplete or contradictory.
    ConfigInvalid,
    /// The credentials were missing or wrong.
    Unauthenticated,
    /// The credentials are valid but not allowed to do this.
    PermissionDenied,
    /// The customer, card, template or campaign does not exist.
    NotFound,
    /// The thing to create exists already.
    AlreadyExists,
    /// The request contradicts earlier state (e.g. a transaction id reused with another amount).
    Conflict,
    /// The input was rejected before or by the vendor: bad phone, negative amount, bad JSON.
    InvalidInput,
    /// A redemption asked for more points than the customer holds now; nothing changed.
    InsufficientPoints,
    /// The vendor's rate limit was hit; the request was not processed.
    RateLimited,
    /// The vendor could not be reached or failed on its side.
    VendorUnavailable,
    /// Anything else, e.g. a vendor answer we could not understand.
    Unexpected,
}

impl ErrorKind {
    /// The stable snake_case name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unsupported => "unsupported",
            Self::ConfigInvalid => "config_invalid",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission_denied",
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::Conflict => "conflict",
            Self::InvalidInput => "invalid_input",
            Self::InsufficientPoints => "insufficient_points",
            Self::RateLimited => "rate_limited",
            Self::VendorUnavailable => "vendor_unavailable",
            Self::Unexpected => "unexpected",
        }
    }

    /// The retry class an error of this kind gets when nobody says otherwise.
    pub fn default_retry(self) -> Retry {
        match self {
            Self::RateLimited | Self::VendorUnavailable => Retry::Temporary { after: None },
            _ => Retry::Permanent,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether retrying the same request can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "class")]
pub enum Retry {
    /// Retrying the same request will fail the same way.
    Permanent,
    /// Retrying may succeed, optionally not before `after`.
    Temporary {
        /// The wait the vendor asked for (e.g. `Retry-After`), if any.
        #[serde(with = "humantime_serde")]
        after: Option<Duration>,
    },
    /// The failure was temporary but the retries ran out.
    Persistent,
}

/// What the vendor itself said, kept raw for logs and support tickets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct VendorError {
    /// HTTP status, if the answer came over HTTP.
    pub status: Option<u16>,
    /// The vendor's own error code (e.g. Skycore `E808`).
    pub code: Option<String>,
    /// The vendor's message or raw body (truncated to a sane length).
    pub message: Option<String>,
}

/// The error of every walletport operation.
///
/// Build one with [`Error::new`] and the `with_*` methods; read it with the accessors. The
/// details live behind one box so `Result<T, Error>` stays a pointer wide on the happy path.
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    retry: Retry,
    message: String,
    provider: Option<&'static str>,
    operation: Option<&'static str>,
    vendor: Option<VendorError>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

/// Result alias with walletport's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The longest vendor message kept in an error; longer bodies are cut (on a char boundary).
pub const MAX_VENDOR_MESSAGE: usize = 2048;

impl Error {
    /// A new error of `kind` with a human-readable message; retry class from the kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                retry: kind.default_retry(),
                message: message.into(),
                provider: None,
                operation: None,
                vendor: None,
                source: None,
            }),
        }
    }

    /// Shorthand for an [`ErrorKind::Unsupported`] error naming the operation.
    pub fn unsupported(operation: &'static str) -> Self {
        Self::new(
            ErrorKind::Unsupported,
            format!("operation `{operation}` is not supported by this provider"),
        )
        .with_operation(operation)
    }

    /// Shorthand for an [`ErrorKind::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for an [`ErrorKind::NotFound`] error.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// Shorthand for an [`ErrorKind::ConfigInvalid`] error.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ConfigInvalid, message)
    }

    /// Shorthand for an [`ErrorKind::Unexpected`] error.
    pub fn unexpected(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unexpected, message)
    }

    /// Sets the retry class.
    #[must_use]
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.inner.retry = retry;
        self
    }

    /// Names the provider, unless one is already set.
    #[must_use]
    pub fn with_provider(mut self, provider: &'static str) -> Self {
        self.inner.provider.get_or_insert(provider);
        self
    }

    /// Names the operation, unless one is already set.
    #[must_use]
    pub fn with_operation(mut self, operation: &'static str) -> Self {
        self.inner.operation.get_or_insert(operation);
        self
    }

    /// Attaches what the vendor said; an overlong message is truncated.
    #[must_use]
    pub fn with_vendor(mut self, mut vendor: VendorError) -> Self {
        if let Some(message) = vendor.message.as_mut() {
            truncate_on_char_boundary(message, MAX_VENDOR_MESSAGE);
        }
        self.inner.vendor = Some(vendor);
        self
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Arc::new(source));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// Whether retrying can help.
    pub fn retry(&self) -> Retry {
        self.inner.retry
    }

    /// True when retrying the same request may succeed now or later.
    pub fn is_temporary(&self) -> bool {
        matches!(self.inner.retry, Retry::Temporary { .. })
    }

    /// The human-readable message (never contains secrets).
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The provider that failed, if known.
    pub fn provider(&self) -> Option<&'static str> {
        self.inner.provider
    }

    /// The operation that failed, if known.
    pub fn operation(&self) -> Option<&'static str> {
        self.inner.operation
    }

    /// The vendor's raw answer, if any.
    pub fn vendor(&self) -> Option<&VendorError> {
        self.inner.vendor.as_ref()
    }

    /// Marks a temporary error as persistent: the caller retried and gave up.
    #[must_use]
    pub fn into_persistent(mut self) -> Self {
        if self.is_temporary() {
            self.inner.retry = Retry::Persistent;
        }
        self
    }

    /// A JSON value describing the error, for CLIs and HTTP APIs.
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "kind": self.inner.kind,
            "message": self.to_string(),
            "retry": self.inner.retry,
        });
        if let Some(provider) = self.inner.provider {
            body["provider"] = provider.into();
        }
        if let Some(operation) = self.inner.operation {
            body["operation"] = operation.into();
        }
        if let Some(vendor) = &self.inner.vendor {
            body["vendor"] = serde_json::to_value(vendor).unwrap_or_default();
        }
        body
    }
}

fn truncate_on_char_boundary(text: &mut String, max: usize) {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("retry", &self.inner.retry)
            .field("message", &self.inner.message);
        if let Some(p) = self.inner.provider {
            d.field("provider", &p);
        }
        if let Some(o) = self.inner.operation {
            d.field("operation", &o);
        }
        if let Some(v) = &self.inner.vendor {
            d.field("vendor", v);
        }
        if let Some(s) = &self.inner.source {
            d.field("source", &s.to_string());
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.inner.provider, self.inner.operation) {
            (Some(p), Some(o)) => write!(f, "{p} {o}: ")?,
            (Some(p), None) => write!(f, "{p}: ")?,
            (None, Some(o)) => write!(f, "{o}: ")?,
            (None, None) => {}
        }
        write!(f, "{}: {}", self.inner.kind, self.inner.message)?;
        if let Some(v) = &self.inner.vendor {
            let mut parts = Vec::new();
            if let Some(s) = v.status {
                parts.push(format!("HTTP {s}"));
            }
            if let Some(c) = &v.code {
                parts.push(format!("code {c}"));
            }
            if let Some(m) = &v.message {
                parts.push(format!("\"{m}\""));
            }
            if !parts.is_empty() {
                write!(f, " (vendor said: {})", parts.join(", "))?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::invalid_input(format!("invalid JSON: {e}")).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_provider_operation_and_vendor() {
        let e = Error::new(ErrorKind::NotFound, "no such pass")
            .with_provider("skycore")
            .with_operation("card.get")
            .with_vendor(VendorError {
                status: Some(200),
                code: Some("E808".into()),
                message: Some("Invalid pass-id".into()),
            });
        assert_eq!(
            e.to_string(),
            "skycore card.get: not_found: no such pass (vendor said: HTTP 200, code E808, \"Invalid pass-id\")"
        );
        assert_eq!(e.to_json()["kind"], "not_found");
    }

    #[test]
    fn retry_class_follows_kind_and_gives_up_as_persistent() {
        let e = Error::new(ErrorKind::VendorUnavailable, "503");
        assert!(e.is_temporary());
        assert_eq!(e.clone().into_persistent().retry(), Retry::Persistent);
        assert_eq!(Error::invalid_input("x").retry(), Retry::Permanent);
        assert_eq!(
            Error::invalid_input("x").into_persistent().retry(),
            Retry::Permanent
        );
    }

    #[test]
    fn long_vendor_messages_are_cut_on_char_boundaries() {
        let e = Error::unexpected("x").with_vendor(VendorError {
            message: Some("я".repeat(5000)),
            ..Default::default()
        });
        let m = e
            .vendor()
            .and_then(|v| v.message.clone())
            .unwrap_or_default();
        assert!(m.len() <= MAX_VENDOR_MESSAGE + '…'.len_utf8());
    }
}
