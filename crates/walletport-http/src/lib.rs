//! # walletport-http
//!
//! The one HTTP transport every walletport vendor adapter uses.
//!
//! Adapters are sans-IO: they build an [`HttpRequest`] value and parse an [`HttpResponse`] value
//! with pure functions; a [`Transport`] executes the request. Keeping the network in one place
//! keeps retries, quotas, timeouts and tracing the same for every vendor:
//!
//! - [`HttpTransport`]: one keep-alive `reqwest` client (rustls), per-attempt timeouts, retries
//!   with exponential backoff and full jitter that honour `Retry-After`, and that retry only what
//!   is safe — see the table in [`retry`]. A rate-limit rejection (HTTP 429 or a vendor answer a
//!   [`RateLimitDetector`] recognises) was not processed, so it is retried for any operation.
//!   Transport-level failures become a [`walletport_core::Error`] (`VendorUnavailable`,
//!   `RateLimited`; `Retry::Persistent` when retries ran out); every other response, 2xx or 4xx or
//!   500, is returned for the adapter to interpret.
//! - [`Limiter`]: enforces every window of a [`QuotaPlan`] (e.g. `"1/s, 600/h"`) as a strict
//!   sliding window, making callers wait in line (interactive [`Priority`] first) instead of
//!   collecting 429s. Every attempt, retries included, passes through it. [`QuotaLimiter`] keeps
//!   the windows in this process; a [`LimiterFactory`] lets the caller put them elsewhere (the
//!   gateway keeps them in its database, shared by every gateway on it).
//! - [`TransportStats`]: counters (requests, attempts, retries, quota waits and wait time).
//! - [`inbound::Lingering`]: the receiving side's one piece: a request body that, refused before
//!   its end, is drained so the sender reads the refusal instead of a connection reset.
//! - [`stub::StubTransport`]: scripted answers and a record of the requests, for tests.
//! - `tracing`: one `http.request` span per request with provider, operation, method, path
//!   (never the query), attempt, status and elapsed time. Bodies and credential header values are
//!   never logged, and `Debug` of a request hides them.
//!
//! ## Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use walletport_http::{
//!     BodyContains, HttpRequest, HttpTransport, QuotaPlan, RetryPolicy, Transport, TransportConfig,
//! };
//!
//! # async fn demo() -> walletport_core::Result<()> {
//! let config = TransportConfig::parse("passteam", "https://api.example.invalid")?
//!     .with_timeout(Duration::from_secs(20))
//!     .with_retry(RetryPolicy::default().with_max_attempts(3))
//!     .with_quota_plan(QuotaPlan::parse("30_000/h, 350_000/d")?)
//!     .with_rate_limit_detector(BodyContains::new("You can only make"))
//!     .with_default_header("X-Api-Key", "not-a-real-key")?;
//! let transport: Arc<dyn Transport> = Arc::new(HttpTransport::new(config)?);
//!
//! #[derive(serde::Deserialize)]
//! struct Answer { error: bool }
//!
//! let req = HttpRequest::post_json("customer.upsert", "/api/v1/customers", &serde_json::json!({
//!     "phone": "+420000000001",
//! }))?
//! .idempotent(true); // an upsert keyed by phone may be sent twice
//! let resp = transport.execute(req).await?;
//! let answer: Answer = resp.json()?;
//! # let _ = answer.error;
//! # Ok(())
//! # }
//! ```
//!
//! In adapter tests, hand the adapter a [`stub::StubTransport`] instead and assert on the
//! requests it recorded.

mod config;
pub mod inbound;
mod limiter;
mod plan;
mod quota;
mod redact;
mod request;
mod response;
pub mod retry;
mod stats;
pub mod stub;
mod transport;
mod turns;

pub use config::{DEFAULT_USER_AGENT, TransportConfig};
pub use limiter::{
    InProcessLimiters, Limiter, LimiterFactory, Priority, QuotaUsage, WindowLimits, WindowUsage,
};
pub use plan::{MAX_WINDOW_LIMIT, QuotaPlan, QuotaWindow};
pub use quota::QuotaLimiter;
pub use redact::is_sensitive_header;
pub use request::HttpRequest;
pub use response::HttpResponse;
pub use retry::{
    BodyContains, RateLimitDetector, RateLimitHint, RetryPolicy, Sleeper, TokioSleeper,
    parse_retry_after,
};
pub use stats::TransportStats;
pub use stub::StubTransport;
pub use transport::{HttpTransport, Transport};
pub use turns::Turns;

/// Re-exported so adapters name the same types the requests use.
pub use bytes::Bytes;
/// Re-exported so adapters name the same types the requests use.
pub use http::{HeaderMap, HeaderName, HeaderValue, Method};
/// Re-exported so adapters name the same URL type the configuration uses.
pub use url::Url;
