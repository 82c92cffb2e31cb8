//! Passquare answers → `walletport_core::Error`, keeping the raw body.
//!
//! Passquare documents no error format. We map the HTTP status first, then whatever body came
//! back (`{"error": ...}`, `{"message": ...}`, `{"success": false}` or plain text); a 200 with
//! `"success": false` or a non-empty `"error"` is an error too. The raw body always stays in
//! the error's [`walletport_core::VendorError`].

use std::time::{Duration, SystemTime};

use walletport_core::{Error, ErrorKind, Result, Retry};
use walletport_http::HttpResponse;

use crate::wire::WireOutcome;

/// Classifies an error text the vendor wrote (English or Russian, as Passquare answers both).
fn kind_from_text(text: &str) -> Option<ErrorKind> {
    let t = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if has(&[
        "not found",
        "no customer",
        "not exist",
        "не найден",
        "unknown customer",
    ]) {
        Some(ErrorKind::NotFound)
    } else if has(&["too many", "rate limit", "limit exceeded", "лимит"]) {
        Some(ErrorKind::RateLimited)
    } else if has(&[
        "app_key",
        "private key",
        "unauthori",
        "authenticat",
        "invalid key",
        "ключ",
    ]) {
        Some(ErrorKind::Unauthenticated)
    } else if has(&[
        "not connected",
        "marketplace",
        "not allowed",
        "forbidden",
        "disabled",
    ]) {
        Some(ErrorKind::PermissionDenied)
    } else if has(&["already exists"]) {
        Some(ErrorKind::AlreadyExists)
    } else {
        None
    }
}

fn kind_from_status(status: u16) -> ErrorKind {
    match status {
        400 | 422 => ErrorKind::InvalidInput,
        401 => ErrorKind::Unauthenticated,
        402 | 403 => ErrorKind::PermissionDenied,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        429 => ErrorKind::RateLimited,
        408 | 500..=599 => ErrorKind::VendorUnavailable,
        _ => ErrorKind::Unexpected,
    }
}

fn retry_after(resp: &HttpResponse) -> Option<Duration> {
    walletport_http::parse_retry_after(&resp.headers, SystemTime::now())
}

/// Turns any non-successful answer into an [`Error`]; `Ok(())` for a success.
///
/// Every later `parse_*` function calls this first, so each of them maps errors the same way.
pub fn check_response(resp: &HttpResponse) -> Result<()> {
    let outcome: Option<WireOutcome> = serde_json::from_slice(&resp.body).ok();
    let text = outcome.as_ref().and_then(|o| {
        o.error_text().or_else(|| {
            (o.success.0 == Some(false))
                .then(|| o.message_text())
                .flatten()
        })
    });
    if resp.is_success() {
        let failed = outcome
            .as_ref()
            .is_some_and(|o| o.success.0 == Some(false) || o.error_text().is_some());
        if !failed {
            return Ok(());
        }
        let message = text.unwrap_or_else(|| "Passquare answered \"success\": false".into());
        let kind = kind_from_text(&message).unwrap_or(ErrorKind::Unexpected);
        return Err(with_retry(resp, resp.error(kind, message), kind));
    }
    let text = text.or_else(|| {
        // A short plain-text body is the message.
        let body = resp.text();
        let body = body.trim();
        (outcome.is_none() && !body.is_empty() && body.len() <= 200).then(|| body.to_owned())
    });
    let status_kind = kind_from_status(resp.status);
    let kind = match status_kind {
        // A text may be more precise than a generic 400.
        ErrorKind::InvalidInput | ErrorKind::Unexpected => text
            .as_deref()
            .and_then(kind_from_text)
            .unwrap_or(status_kind),
        k => k,
    };
    let message = text.unwrap_or_else(|| format!("Passquare answered HTTP {}", resp.status));
    Err(with_retry(resp, resp.error(kind, message), kind))
}

fn with_retry(resp: &HttpResponse, e: Error, kind: ErrorKind) -> Error {
    if kind == ErrorKind::RateLimited {
        e.with_retry(Retry::Temporary {
            after: retry_after(resp),
        })
    } else {
        e
    }
}

/// A body that passed [`check_response`] but is not what the document describes.
pub(crate) fn unexpected(resp: &HttpResponse, e: &Error) -> Error {
    resp.error(
        ErrorKind::Unexpected,
        format!(
            "Passquare's answer does not match the document: {}",
            e.message()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use walletport_http::{HeaderName, HeaderValue};

    fn kind(status: u16, body: &str) -> Option<ErrorKind> {
        check_response(&HttpResponse::new(status, body.to_owned()))
            .err()
            .map(|e| e.kind())
    }

    #[test]
    fn statuses_and_bodies_map_to_kinds() {
        assert_eq!(kind(200, r#"{"success": true}"#), None);
        assert_eq!(kind(200, r#"{"app": "x"}"#), None);
        assert_eq!(kind(200, "not json at all"), None, "parsers report garbage");
        assert_eq!(
            kind(200, r#"{"success": false}"#),
            Some(ErrorKind::Unexpected)
        );
        assert_eq!(
            kind(200, r#"{"success": false, "error": "Customer not found"}"#),
            Some(ErrorKind::NotFound)
        );
        assert_eq!(
            kind(200, r#"{"error": "Invalid app_key"}"#),
            Some(ErrorKind::Unauthenticated)
        );
        assert_eq!(kind(200, r#"{"error": null, "success": true}"#), None);
        assert_eq!(
            kind(400, r#"{"message": "phone is required"}"#),
            Some(ErrorKind::InvalidInput)
        );
        assert_eq!(kind(400, "customer not found"), Some(ErrorKind::NotFound));
        assert_eq!(kind(401, ""), Some(ErrorKind::Unauthenticated));
        assert_eq!(kind(404, "<html>"), Some(ErrorKind::NotFound));
        assert_eq!(kind(503, "down"), Some(ErrorKind::VendorUnavailable));
        assert_eq!(kind(302, ""), Some(ErrorKind::Unexpected));
    }

    #[test]
    fn raw_body_and_retry_after_are_kept() {
        let resp = HttpResponse::new(429, r#"{"error": "Too many requests"}"#).with_header(
            HeaderName::from_static("retry-after"),
            HeaderValue::from_static("7"),
        );
        let e = check_response(&resp).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(
            e.retry(),
            Retry::Temporary {
                after: Some(Duration::from_secs(7))
            }
        );
        let v = e.vendor().cloned().unwrap_or_default();
        assert_eq!(v.status, Some(429));
        assert_eq!(
            v.message.as_deref(),
            Some(r#"{"error": "Too many requests"}"#)
        );
        assert_eq!(e.message(), "Too many requests");
    }
}
