//! Passteam answers → [`walletport_core::Error`], keeping what the vendor said.
//!
//! The envelope `{result, message, code, error}` decides, not only the HTTP status: `error: true`
//! with HTTP 200 is a failure. The document's messages get their own kinds:
//!
//! | vendor answer | kind |
//! | --- | --- |
//! | 409 `… is duplicated. Duplicated cards: id1 id2` | `AlreadyExists` on create, `Conflict` on update (ids: [`duplicated_card_ids`]) |
//! | 500 `Provided field (PHONE) is unique and must be set.` | `InvalidInput` |
//! | `You can only make N requests per hour` (any status) | `RateLimited`, temporary |
//! | 401 / 403 | `Unauthenticated` / `PermissionDenied` |
//! | 404, or "not found" | `NotFound` |
//! | 400, 422, other `Provided …` messages | `InvalidInput` |
//! | 429 | `RateLimited` |
//! | other 5xx | `VendorUnavailable`, temporary |

use std::borrow::Cow;
use std::time::Duration;

use walletport_core::{CardId, Error, ErrorKind, Retry, VendorError};
use walletport_http::{HttpResponse, RateLimitDetector, RateLimitHint, parse_retry_after};

use crate::wire::Envelope;

/// The text of Passteam's rate-limit answer.
pub const RATE_LIMIT_MARKER: &str = "You can only make";

/// How long to wait after a rate-limit answer without `Retry-After`: Passteam counts per hour in
/// a sliding window, so a slot frees as soon as the oldest request of the hour ages out; a minute
/// is a reasonable first wait that the transport spends inside the call.
pub const RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Which kind a 409 becomes: creating something that exists, or an update clashing with
/// another card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDuplicate {
    /// `createcard`: [`ErrorKind::AlreadyExists`].
    AlreadyExists,
    /// `updatecard`: [`ErrorKind::Conflict`].
    Conflict,
}

/// The number in "You can only make N requests per hour", if the text is that message.
pub fn rate_limit_number(message: &str) -> Option<u64> {
    let rest = &message[message.find(RATE_LIMIT_MARKER)? + RATE_LIMIT_MARKER.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// Card ids after "Duplicated cards:" in a Passteam 409 message (whitespace or comma separated).
pub fn parse_duplicated_ids(message: &str) -> Vec<CardId> {
    let Some(at) = message.find("Duplicated cards:") else {
        return Vec::new();
    };
    message[at + "Duplicated cards:".len()..]
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .map(|s| s.trim_matches(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|s| !s.is_empty())
        .filter_map(|s| CardId::new(s).ok())
        .collect()
}

/// The variable named in "Provided value (v) of field (%NAME%) is duplicated", without `%`.
pub fn duplicated_variable(message: &str) -> Option<String> {
    let at = message.find("of field (")? + "of field (".len();
    let end = message[at..].find(')')? + at;
    Some(crate::config::normalize_variable(&message[at..end]))
}

/// The cards holding the duplicated value of a failed create/update, parsed from the vendor's
/// message kept in the error ("Duplicated cards: id1 id2"); empty for other errors.
///
/// ```
/// use walletport_core::{Error, ErrorKind, VendorError};
/// let e = Error::new(ErrorKind::AlreadyExists, "dup").with_vendor(VendorError {
///     status: Some(409),
///     code: Some("409".into()),
///     message: Some("Provided value (1) of field (%PHONE%) is duplicated. Duplicated cards: \
///                    5e451571cea6c6141807b792 5e451571cea6c6141807b793".into()),
/// });
/// let ids = walletport_passteam::duplicated_card_ids(&e);
/// assert_eq!(ids.len(), 2);
/// ```
pub fn duplicated_card_ids(error: &Error) -> Vec<CardId> {
    if !matches!(error.kind(), ErrorKind::AlreadyExists | ErrorKind::Conflict) {
        return Vec::new();
    }
    error
        .vendor()
        .and_then(|v| v.message.as_deref())
        .map(parse_duplicated_ids)
        .unwrap_or_default()
}

/// Maps a failed answer to an error; `None` when the answer is a success.
pub fn envelope_error(
    resp: &HttpResponse,
    envelope: Option<&Envelope>,
    on_duplicate: OnDuplicate,
) -> Option<Error> {
    let body_code = envelope.and_then(|e| e.code);
    let flagged = envelope.and_then(|e| e.error).unwrap_or(false);
    let code = body_code
        .filter(|c| *c >= 400)
        // Every non-2xx status is a failure, also an unflagged 1xx or 3xx (a redirect the
        // client did not follow, a 304): its body is not the answer to our request.
        .or_else(|| (!(200..300).contains(&resp.status)).then_some(u64::from(resp.status)));
    let message: Cow<'_, str> = match envelope.and_then(|e| e.message.as_deref()) {
        Some(m) => Cow::Borrowed(m),
        None => Cow::Owned(resp.text().chars().take(512).collect()),
    };
    let rate_limited = message.contains(RATE_LIMIT_MARKER);
    if !flagged && code.is_none() && !rate_limited {
        return None;
    }
    let message = message.into_owned();
    let vendor = VendorError {
        status: Some(resp.status),
        code: body_code.map(|c| c.to_string()),
        message: Some(message.clone()),
    };
    let lower = message.to_lowercase();
    let (kind, text) = if rate_limited {
        let n = rate_limit_number(&message)
            .map(|n| format!(" ({n} requests per hour)"))
            .unwrap_or_default();
        (
            ErrorKind::RateLimited,
            format!("Passteam rate limit reached{n}"),
        )
    } else {
        match code.unwrap_or(0) {
            409 => match on_duplicate {
                OnDuplicate::AlreadyExists => (
                    ErrorKind::AlreadyExists,
                    duplicate_text(&message, "a card with this unique value exists"),
                ),
                OnDuplicate::Conflict => (
                    ErrorKind::Conflict,
                    duplicate_text(&message, "another card holds this unique value"),
                ),
            },
            401 => (ErrorKind::Unauthenticated, "the token was rejected".into()),
            403 => (
                ErrorKind::PermissionDenied,
                "not allowed for this token".into(),
            ),
            404 => (ErrorKind::NotFound, "not found".into()),
            429 => (ErrorKind::RateLimited, "Passteam rate limit reached".into()),
            _ if lower.contains("not found") || lower.contains("не найден") => {
                (ErrorKind::NotFound, "not found".into())
            }
            _ if lower.contains("token")
                && (lower.contains("invalid") || lower.contains("auth")) =>
            {
                (ErrorKind::Unauthenticated, "the token was rejected".into())
            }
            500 if lower.contains("must be set") || lower.starts_with("provided ") => (
                ErrorKind::InvalidInput,
                format!("Passteam rejected the values: {message}"),
            ),
            400 | 422 => (
                ErrorKind::InvalidInput,
                format!("Passteam rejected the request: {message}"),
            ),
            c if c >= 500 => (
                ErrorKind::VendorUnavailable,
                format!("Passteam failed (code {c})"),
            ),
            _ if lower.starts_with("provided ") || lower.contains("invalid") => (
                ErrorKind::InvalidInput,
                format!("Passteam rejected the request: {message}"),
            ),
            c if c < 200 || (300..400).contains(&c) => (
                ErrorKind::Unexpected,
                format!("Passteam answered with HTTP {c}, not a 2xx"),
            ),
            _ => (
                ErrorKind::Unexpected,
                "Passteam answered with an error".into(),
            ),
        }
    };
    let mut error = Error::new(kind, text).with_vendor(vendor);
    if kind == ErrorKind::RateLimited {
        let after = parse_retry_after(&resp.headers, std::time::SystemTime::now())
            .unwrap_or(RATE_LIMIT_WAIT);
        error = error.with_retry(Retry::Temporary { after: Some(after) });
    }
    Some(error)
}

fn duplicate_text(message: &str, fallback: &str) -> String {
    let ids = parse_duplicated_ids(message);
    let list = ids
        .iter()
        .map(CardId::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    match (duplicated_variable(message), ids.is_empty()) {
        (Some(v), false) => format!("value of unique variable `{v}` is taken by card(s) {list}"),
        (Some(v), true) => format!("value of unique variable `{v}` is taken"),
        (None, false) => format!("{fallback}: {list}"),
        (None, true) => fallback.to_owned(),
    }
}

/// Recognises "You can only make N requests per hour" (any HTTP status) for the transport, so
/// such an answer counts as "not processed" and is retried after [`RATE_LIMIT_WAIT`] (or the
/// `Retry-After` the vendor sent).
#[derive(Debug, Clone, Copy, Default)]
pub struct PassteamRateLimit;

impl RateLimitDetector for PassteamRateLimit {
    fn detect(&self, response: &HttpResponse) -> Option<RateLimitHint> {
        let needle = RATE_LIMIT_MARKER.as_bytes();
        let found = response.body.windows(needle.len()).any(|w| w == needle);
        found.then(|| RateLimitHint {
            retry_after: Some(
                parse_retry_after(&response.headers, std::time::SystemTime::now())
                    .unwrap_or(RATE_LIMIT_WAIT),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, body: &str, on: OnDuplicate) -> Option<Error> {
        let resp = HttpResponse::new(status, body.to_owned());
        let env: Option<Envelope> = serde_json::from_str(body).ok();
        envelope_error(&resp, env.as_ref(), on)
    }

    #[test]
    fn error_true_with_http_200_is_an_error() {
        let e = err(
            200,
            r#"{"result":null,"message":"Something","code":200,"error":true}"#,
            OnDuplicate::Conflict,
        );
        assert_eq!(e.map(|e| e.kind()), Some(ErrorKind::Unexpected));
        assert!(
            err(
                200,
                r#"{"result":true,"message":"OK","code":200,"error":false}"#,
                OnDuplicate::Conflict
            )
            .is_none()
        );
    }

    #[test]
    fn duplicates_parse_ids_and_variable() {
        let body = r#"{"result":null,"message":"Provided value (value) of field (%EXAMPLE%) is duplicated. Duplicated cards: 5e451571cea6c6141807b792 5e451571cea6c6141807b793\n","code":409,"error":true}"#;
        let e =
            err(409, body, OnDuplicate::AlreadyExists).unwrap_or_else(|| Error::unexpected("none"));
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        let ids = duplicated_card_ids(&e);
        assert_eq!(
            ids.iter().map(CardId::as_str).collect::<Vec<_>>(),
            ["5e451571cea6c6141807b792", "5e451571cea6c6141807b793"]
        );
        assert!(e.message().contains("`EXAMPLE`"), "{e}");
        assert_eq!(
            e.vendor().and_then(|v| v.code.clone()).as_deref(),
            Some("409")
        );
        let e = err(200, body, OnDuplicate::Conflict).map(|e| e.kind());
        assert_eq!(e, Some(ErrorKind::Conflict), "code in the body counts");
    }

    #[test]
    fn unique_must_be_set_is_invalid_input_and_rate_limit_is_temporary() {
        let e = err(
            500,
            r#"{"result":null,"message":"Provided field (PHONE) is unique and must be set.","code":500,"error":true}"#,
            OnDuplicate::AlreadyExists,
        );
        assert_eq!(e.map(|e| e.kind()), Some(ErrorKind::InvalidInput));
        let e = err(200, r#"{"result":null,"message":"You can only make 30000 requests per hour","code":429,"error":true}"#, OnDuplicate::AlreadyExists)
            .unwrap_or_else(|| Error::unexpected("none"));
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert!(e.message().contains("30000"));
        assert_eq!(
            e.retry(),
            Retry::Temporary {
                after: Some(RATE_LIMIT_WAIT)
            }
        );
        let e = err(500, "<html>oops</html>", OnDuplicate::AlreadyExists).map(|e| e.kind());
        assert_eq!(e, Some(ErrorKind::VendorUnavailable));
    }

    #[test]
    fn detector_spots_the_message_only() {
        let hit = HttpResponse::new(
            200,
            r#"{"message":"You can only make 5 requests per hour","error":true}"#,
        );
        assert_eq!(
            PassteamRateLimit.detect(&hit).and_then(|h| h.retry_after),
            Some(RATE_LIMIT_WAIT)
        );
        assert!(
            PassteamRateLimit
                .detect(&HttpResponse::new(200, "{}"))
                .is_none()
        );
        assert_eq!(
            rate_limit_number("You can only make 30000 requests per hour"),
            Some(30000)
        );
    }
}
