//! How a [`HttpTransport`](crate::HttpTransport) is set up.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use url::Url;
use walletport_core::{Error, Result};

use crate::limiter::{InProcessLimiters, Limiter, LimiterFactory};
use crate::plan::QuotaPlan;
use crate::redact::{RedactedHeaders, is_sensitive_header, redacted_url};
use crate::retry::{RateLimitDetector, RetryPolicy, Sleeper, TokioSleeper};

/// The default `User-Agent`: `walletport/<version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("walletport/", env!("CARGO_PKG_VERSION"));

/// Everything an [`HttpTransport`](crate::HttpTransport) needs: where, how long, how often, how
/// fast. Start from [`TransportConfig::new`] and adjust with the `with_*` methods.
#[derive(Clone)]
#[non_exhaustive]
pub struct TransportConfig {
    /// The provider's name (`"passquare"`), put in every error and trace.
    pub provider: &'static str,
    /// The vendor's API root; request paths are appended to it (`https://host/api` +
    /// `/v2/read` = `https://host/api/v2/read`).
    pub base_url: Url,
    /// Whole-request timeout (connect, send, wait, read the body), per attempt. Default 30 s.
    pub timeout: Duration,
    /// Connection-establishment timeout. Default 10 s.
    pub connect_timeout: Duration,
    /// Retry policy. Default: see [`RetryPolicy::default`].
    pub retry: RetryPolicy,
    /// The quota limiter every attempt passes through; share one `Arc` between transports that
    /// spend the same vendor quota. `None`: no client-side quota.
    pub quota: Option<Arc<dyn Limiter>>,
    /// Recognises the vendor's own rate-limit answers besides HTTP 429.
    pub rate_limit_detector: Option<Arc<dyn RateLimitDetector>>,
    /// Keep connections alive between requests (default). `false` opens a fresh connection per
    /// request — slower, only for comparison benchmarks and misbehaving servers.
    pub reuse_connections: bool,
    /// The `User-Agent` header. Default [`DEFAULT_USER_AGENT`].
    pub user_agent: String,
    /// Headers sent with every request (e.g. an API key header); a request's own header of the
    /// same name wins. Credential headers are marked sensitive.
    pub default_headers: HeaderMap,
    /// The largest response body accepted; a larger one fails with `Unexpected`. Default 16 MiB.
    pub max_response_bytes: usize,
    /// How the transport waits between attempts. Default [`TokioSleeper`].
    pub sleeper: Arc<dyn Sleeper>,
}

impl TransportConfig {
    /// Defaults for `provider` at `base_url`.
    pub fn new(provider: &'static str, base_url: Url) -> Self {
        Self {
            provider,
            base_url,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            quota: None,
            rate_limit_detector: None,
            reuse_connections: true,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            default_headers: HeaderMap::new(),
            max_response_bytes: 16 * 1024 * 1024,
            sleeper: Arc::new(TokioSleeper),
        }
    }

    /// Like [`new`](Self::new) from a URL string; a malformed URL is `ConfigInvalid`.
    pub fn parse(provider: &'static str, base_url: &str) -> Result<Self> {
        let url = Url::parse(base_url)
            .map_err(|e| Error::config(format!("invalid base URL: {e}")).with_provider(provider))?;
        Ok(Self::new(provider, url))
    }

    /// Sets the whole-request timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the connect timeout.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Uses a (possibly shared) quota limiter.
    #[must_use]
    pub fn with_quota(mut self, limiter: Arc<dyn Limiter>) -> Self {
        self.quota = Some(limiter);
        self
    }

    /// Uses a new in-process limiter of its own for `plan` (none for the unlimited plan).
    #[must_use]
    pub fn with_quota_plan(self, plan: QuotaPlan) -> Self {
        self.with_quota_from(&InProcessLimiters, plan)
    }

    /// Uses the limiter `limiters` builds for this provider and `plan`. An in-process factory
    /// gets no call for the unlimited plan; any other one does, so that a `Retry-After` still
    /// reaches every process sharing its windows.
    #[must_use]
    pub fn with_quota_from(mut self, limiters: &dyn LimiterFactory, plan: QuotaPlan) -> Self {
        self.quota = (!plan.is_unlimited() || limiters.shares_pauses())
            .then(|| limiters.limiter(self.provider, plan));
        self
    }

    /// Recognises the vendor's own rate-limit answers.
    #[must_use]
    pub fn with_rate_limit_detector(mut self, detector: impl RateLimitDetector + 'static) -> Self {
        self.rate_limit_detector = Some(Arc::new(detector));
        self
    }

    /// Keeps connections alive (`true`, default) or opens one per request.
    #[must_use]
    pub fn with_reuse_connections(mut self, reuse: bool) -> Self {
        self.reuse_connections = reuse;
        self
    }

    /// Sets the `User-Agent`.
    #[must_use]
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Adds a header sent with every request; a name or value HTTP cannot carry is
    /// `ConfigInvalid` (the value is not echoed: it may be a key).
    pub fn with_default_header(mut self, name: &str, value: &str) -> Result<Self> {
        let provider = self.provider;
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Error::config(format!("invalid header name {name:?}")).with_provider(provider)
        })?;
        let mut value = HeaderValue::from_str(value).map_err(|_| {
            Error::config(format!("invalid value for header `{name}`")).with_provider(provider)
        })?;
        if is_sensitive_header(&name) {
            value.set_sensitive(true);
        }
        self.default_headers.append(name, value);
        Ok(self)
    }

    /// Sets the largest accepted response body.
    #[must_use]
    pub fn with_max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// Replaces how the transport waits between attempts (tests record instead of sleeping).
    #[must_use]
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }
}

impl fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportConfig")
            .field("provider", &self.provider)
            .field("base_url", &redacted_url(&self.base_url))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .field("quota", &self.quota.as_ref().map(|q| q.plan().to_string()))
            .field("rate_limit_detector", &self.rate_limit_detector.is_some())
            .field("reuse_connections", &self.reuse_connections)
            .field("user_agent", &self.user_agent)
            .field("default_headers", &RedactedHeaders(&self.default_headers))
            .field("max_response_bytes", &self.max_response_bytes)
            .field("sleeper", &self.sleeper)
            .finish()
    }
}
