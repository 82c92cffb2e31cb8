//! Counters of what a transport did, cheap to read (atomics), for metrics and tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// A snapshot of a transport's counters since it was built.
///
/// The gateway exports these as metrics; tests assert on them (e.g. "exactly 3 attempts").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TransportStats {
    /// Calls to `execute`.
    pub requests: u64,
    /// Attempts handed to the HTTP client (first tries and retries; a refused connection counts).
    pub attempts: u64,
    /// Attempts after the first of their request.
    pub retries: u64,
    /// Responses recognised as a rate-limit rejection (HTTP 429 or the vendor's detector).
    pub rate_limited: u64,
    /// Calls to `execute` that returned an error.
    pub failures: u64,
    /// Attempts that had to wait for the quota limiter.
    pub quota_waits: u64,
    /// Total time attempts spent waiting for the quota limiter.
    #[serde(with = "duration_ms")]
    pub quota_wait_time: Duration,
    /// Total time spent waiting between attempts (backoff and `Retry-After`).
    #[serde(with = "duration_ms")]
    pub retry_wait_time: Duration,
}

mod duration_ms {
    use std::time::Duration;

    pub(super) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// The live counters behind [`TransportStats`].
#[derive(Debug, Default)]
pub(crate) struct StatsCounters {
    requests: AtomicU64,
    attempts: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    failures: AtomicU64,
    quota_waits: AtomicU64,
    quota_wait_nanos: AtomicU64,
    retry_wait_nanos: AtomicU64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl StatsCounters {
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn attempt(&self, retry: bool) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        if retry {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn failure(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn quota_wait(&self, waited: Duration) {
        if !waited.is_zero() {
            self.quota_waits.fetch_add(1, Ordering::Relaxed);
            self.quota_wait_nanos
                .fetch_add(nanos(waited), Ordering::Relaxed);
        }
    }

    pub(crate) fn retry_wait(&self, waited: Duration) {
        self.retry_wait_nanos
            .fetch_add(nanos(waited), Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> TransportStats {
        TransportStats {
            requests: self.requests.load(Ordering::Relaxed),
            attempts: self.attempts.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            quota_waits: self.quota_waits.load(Ordering::Relaxed),
            quota_wait_time: Duration::from_nanos(self.quota_wait_nanos.load(Ordering::Relaxed)),
            retry_wait_time: Duration::from_nanos(self.retry_wait_nanos.load(Ordering::Relaxed)),
        }
    }
}
