//! Retry policy: when to try again, how long to wait, and how to spot a vendor's rate-limit answer.
//!
//! The rules ([`HttpTransport`](crate::HttpTransport) applies them):
//!
//! | outcome | idempotent request | non-idempotent request |
//! | --- | --- | --- |
//! | connect error (nothing was sent) | retry | retry |
//! | 429, or a [`RateLimitDetector`] match (not processed) | retry after the wait | retry after the wait |
//! | timeout, connection lost mid-request | retry | error, not retried |
//! | 408, 502, 503, 504 | retry | error, not retried |
//! | anything else (2xx, 400, 401, 404, 409, 500, ...) | `Ok(response)` | `Ok(response)` |
//!
//! The wait before a retry is the vendor's `Retry-After` (delta-seconds or HTTP-date) when it sent
//! one, else exponential backoff with full jitter: a uniform random delay in
//! `[0, min(max_delay, base_delay × 2^(retry-1))]`.

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use http::HeaderMap;
use rand::Rng;

use crate::response::HttpResponse;

/// How many times to try and how long to wait in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Total attempts including the first; `1` disables retries. Clamped to at least 1.
    pub max_attempts: u32,
    /// The backoff scale: the first retry waits up to this long.
    pub base_delay: Duration,
    /// The longest backoff between two attempts (before jitter).
    pub max_delay: Duration,
    /// The longest `Retry-After` the transport waits inside one call. A vendor asking for more
    /// (e.g. "come back in an hour") gets no retry: the caller receives a temporary error whose
    /// `Retry::Temporary { after }` carries the wait, and can reschedule the work.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, 200 ms base, 10 s max backoff, `Retry-After` honoured up to 2 minutes.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// No retries at all: one attempt.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the total number of attempts (builder style).
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets the base and the maximum backoff delay (builder style).
    #[must_use]
    pub fn with_backoff(mut self, base_delay: Duration, max_delay: Duration) -> Self {
        self.base_delay = base_delay;
        self.max_delay = max_delay;
        self
    }

    /// Sets the longest `Retry-After` waited inside one call (builder style).
    #[must_use]
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Total attempts, at least 1.
    pub fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// The upper bound of the jittered delay before retry number `retry` (1 for the first retry).
    pub fn backoff_cap(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1).min(31));
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// A random delay in `[0, backoff_cap(retry)]` ("full jitter": spreads clients that failed
    /// together so they do not retry together).
    pub fn backoff(&self, retry: u32) -> Duration {
        let cap = self.backoff_cap(retry);
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }
}

/// Reads `Retry-After` as delta-seconds (`120`) or an HTTP-date, relative to `now`; a date in the
/// past means "now" (zero). Returns `None` when the header is absent or unreadable.
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings saturate rather than fail.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// What a [`RateLimitDetector`] found: the vendor refused because of its rate limit (so the
/// request was not processed), optionally saying how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimitHint {
    /// How long the vendor asked to wait, if it said.
    pub retry_after: Option<Duration>,
}

/// Recognises a vendor's own rate-limit answer that is not a plain HTTP 429, e.g. Passteam's
/// `"message": "You can only make N requests per hour"`.
///
/// A match means the request was *not processed*, so the transport retries it (after the wait)
/// whatever the operation, and reports [`ErrorKind::RateLimited`](walletport_core::ErrorKind)
/// when retries run out. Any `Fn(&HttpResponse) -> Option<RateLimitHint>` closure is a detector.
pub trait RateLimitDetector: Send + Sync {
    /// `Some` when `response` is a rate-limit rejection.
    fn detect(&self, response: &HttpResponse) -> Option<RateLimitHint>;
}

impl<F> RateLimitDetector for F
where
    F: Fn(&HttpResponse) -> Option<RateLimitHint> + Send + Sync,
{
    fn detect(&self, response: &HttpResponse) -> Option<RateLimitHint> {
        self(response)
    }
}

/// A detector that matches when the body contains a fixed text (any status), taking the wait
/// from `Retry-After` if present.
#[derive(Debug, Clone)]
pub struct BodyContains(String);

impl BodyContains {
    /// Matches bodies containing `needle` (case-sensitive, byte-wise).
    pub fn new(needle: impl Into<String>) -> Self {
        Self(needle.into())
    }
}

impl RateLimitDetector for BodyContains {
    fn detect(&self, response: &HttpResponse) -> Option<RateLimitHint> {
        let needle = self.0.as_bytes();
        let found = !needle.is_empty() && response.body.windows(needle.len()).any(|w| w == needle);
        found.then(|| RateLimitHint {
            retry_after: parse_retry_after(&response.headers, SystemTime::now()),
        })
    }
}

/// How the transport waits between attempts. The default ([`TokioSleeper`]) sleeps; tests inject
/// one that records the requested waits instead of spending wall time.
#[async_trait]
pub trait Sleeper: Send + Sync + fmt::Debug {
    /// Waits `duration`.
    async fn sleep(&self, duration: Duration);
}

/// Sleeps with `tokio::time::sleep` (so a paused test clock applies).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use http::header::RETRY_AFTER;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(value).expect("ascii"));
        h
    }

    #[test]
    fn retry_after_delta_seconds_and_http_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("date");
        for (value, secs) in [
            (" 120 ", 120),
            ("Sun, 06 Nov 1994 08:50:07 GMT", 30),
            // RFC 850 and asctime forms are HTTP-dates too.
            ("Sunday, 06-Nov-94 08:49:47 GMT", 10),
            ("Sun Nov  6 08:49:57 1994", 20),
            // In the past: go now.
            ("Sun, 06 Nov 1994 08:00:00 GMT", 0),
            ("99999999999999999999999", u64::MAX),
        ] {
            let expected = Some(Duration::from_secs(secs));
            assert_eq!(parse_retry_after(&headers(value), now), expected, "{value}");
        }
        assert_eq!(parse_retry_after(&headers("soon"), now), None);
        assert_eq!(parse_retry_after(&headers("-5"), now), None);
        assert_eq!(parse_retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let p =
            RetryPolicy::default().with_backoff(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(p.backoff_cap(1), Duration::from_millis(100));
        assert_eq!(p.backoff_cap(2), Duration::from_millis(200));
        assert_eq!(p.backoff_cap(4), Duration::from_millis(800));
        assert_eq!(p.backoff_cap(5), Duration::from_secs(1));
        assert_eq!(p.backoff_cap(u32::MAX), Duration::from_secs(1));
        for retry in 1..50 {
            assert!(p.backoff(retry) <= p.backoff_cap(retry));
        }
        // Full jitter actually varies.
        let samples: std::collections::HashSet<_> = (0..50).map(|_| p.backoff(3)).collect();
        assert!(samples.len() > 1);
    }

    #[test]
    fn body_contains_detects_passteam_message() {
        let d = BodyContains::new("You can only make");
        let hit = HttpResponse::new(
            200,
            r#"{"error":true,"message":"You can only make 30000 requests per hour"}"#,
        );
        assert_eq!(d.detect(&hit), Some(RateLimitHint::default()));
        assert_eq!(d.detect(&HttpResponse::new(200, "{}")), None);
        assert_eq!(BodyContains::new("").detect(&hit), None);
    }
}
