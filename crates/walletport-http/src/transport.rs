//! The [`Transport`] port and its real implementation, [`HttpTransport`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::BytesMut;
use tracing::{Instrument, field};
use url::Url;
use walletport_core::{Error, ErrorKind, Result, Retry, VendorError};

use crate::config::TransportConfig;
use crate::limiter::Priority;
use crate::redact::{path_without_query, redacted_url};
use crate::request::HttpRequest;
use crate::response::HttpResponse;
use crate::retry::parse_retry_after;
use crate::stats::{StatsCounters, TransportStats};

/// Executes an [`HttpRequest`]: the one thing adapters need from the network.
///
/// Object-safe, so an adapter holds an `Arc<dyn Transport>` and tests substitute a
/// [`StubTransport`](crate::stub::StubTransport) or their own implementation.
#[async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    /// Sends `req` (with whatever retries and waiting the implementation does) and returns the
    /// vendor's response, or a transport-level error (unreachable, timed out, rate-limited or
    /// unavailable after retries).
    async fn execute(&self, req: HttpRequest) -> Result<HttpResponse>;
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Arc<T> {
    async fn execute(&self, req: HttpRequest) -> Result<HttpResponse> {
        (**self).execute(req).await
    }
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Box<T> {
    async fn execute(&self, req: HttpRequest) -> Result<HttpResponse> {
        (**self).execute(req).await
    }
}

/// The real transport: one keep-alive `reqwest` client, retries, the quota limiter, tracing.
///
/// Cheap to clone (clones share the client, the limiter and the counters).
///
/// - Redirects are not followed (a 3xx is returned to the adapter): every request the vendor sees
///   must pass through the quota limiter.
/// - The timeouts bound each attempt on the network, not the time spent waiting for quota or
///   between attempts; wrap `execute` in `tokio::time::timeout` for an overall deadline.
/// - A rate-limit rejection that names its wait (`Retry-After` or a [`RateLimitHint`]) also
///   pauses the shared [`Limiter`] until then, so other callers do not spend requests that
///   would be refused too.
/// - Each attempt waits for the limiter as the current task's [`Priority`].
///
/// [`RateLimitHint`]: crate::RateLimitHint
/// [`Limiter`]: crate::Limiter
#[derive(Clone)]
pub struct HttpTransport {
    inner: Arc<Inner>,
}

struct Inner {
    config: TransportConfig,
    client: reqwest::Client,
    stats: StatsCounters,
}

/// A failed attempt, before the decision whether to try again.
struct Failure {
    kind: ErrorKind,
    message: String,
    vendor: Option<VendorError>,
    source: Option<reqwest::Error>,
    /// Safe to retry whatever the request: it was provably not processed.
    not_processed: bool,
    rate_limited: bool,
    retry_after: Option<Duration>,
}

enum Outcome {
    Done(Result<HttpResponse>),
    Failed(Failure),
}

impl HttpTransport {
    /// Builds the client. Fails with `ConfigInvalid` when the base URL is not `http(s)` or the
    /// `User-Agent` is not a valid header value.
    pub fn new(config: TransportConfig) -> Result<Self> {
        let provider = config.provider;
        let bad = |msg: String| Error::config(msg).with_provider(provider);
        if !matches!(config.base_url.scheme(), "http" | "https")
            || config.base_url.cannot_be_a_base()
        {
            return Err(bad(format!(
                "base URL must be http(s), got {}",
                redacted_url(&config.base_url)
            )));
        }
        let user_agent = http::HeaderValue::from_str(&config.user_agent)
            .map_err(|_| bad("User-Agent is not a valid header value".to_owned()))?;
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(user_agent)
            .default_headers(config.default_headers.clone())
            .redirect(reqwest::redirect::Policy::none());
        if !config.reuse_connections {
            builder = builder.pool_max_idle_per_host(0);
        }
        let client = builder
            .build()
            .map_err(|e| bad(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                client,
                stats: StatsCounters::default(),
            }),
        })
    }

    /// The configuration the transport was built with.
    pub fn config(&self) -> &TransportConfig {
        &self.inner.config
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> TransportStats {
        self.inner.stats.snapshot()
    }

    /// The absolute URL a request path resolves to: an `http(s)://` path as is, anything else
    /// appended to the base URL (one `/` between them). `InvalidInput` when the result is not a URL.
    pub fn url_for(&self, path: &str) -> Result<Url> {
        let joined = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            let base = self.inner.config.base_url.as_str().trim_end_matches('/');
            let path = path.trim_start_matches('/');
            format!("{base}/{path}")
        };
        Url::parse(&joined).map_err(|e| {
            Error::invalid_input(format!(
                "request path {:?} does not make a valid URL: {e}",
                path_without_query(path)
            ))
            .with_provider(self.inner.config.provider)
        })
    }

    async fn run(&self, req: HttpRequest, url: Url, span: tracing::Span) -> Result<HttpResponse> {
        let cfg = &self.inner.config;
        let stats = &self.inner.stats;
        let attempts = cfg.retry.attempts();
        let started = tokio::time::Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            span.record("attempt", attempt);
            if let Some(quota) = &cfg.quota {
                let waited = quota.acquire(Priority::current()).await;
                stats.quota_wait(waited);
                if !waited.is_zero() {
                    tracing::debug!(waited_ms = waited.as_millis() as u64, "waited for quota");
                }
            }
            stats.attempt(attempt > 1);
            let failure = match self.attempt(&req, &url).await {
                Outcome::Done(result) => {
                    if let Ok(resp) = &result {
                        span.record("status", resp.status);
                    }
                    span.record("elapsed_ms", started.elapsed().as_millis() as u64);
                    return result;
                }
                Outcome::Failed(failure) => failure,
            };
            if failure.rate_limited {
                stats.rate_limited();
                if let (Some(quota), Some(after)) = (&cfg.quota, failure.retry_after) {
                    // Everyone sharing this quota would be refused too: hold them all.
                    quota.pause_for(after).await;
                }
            }
            if let Some(status) = failure.vendor.as_ref().and_then(|v| v.status) {
                span.record("status", status);
            }
            let retryable = failure.not_processed || req.idempotent;
            let give_up = |failure: Failure, note: String, retry: Retry| {
                span.record("elapsed_ms", started.elapsed().as_millis() as u64);
                tracing::warn!(kind = %failure.kind, %note, "request failed");
                Err(self.error(&req, failure, &note, retry))
            };
            if !retryable {
                let after = failure.retry_after;
                return give_up(
                    failure,
                    "not retried: the request is not idempotent and may have been processed"
                        .to_owned(),
                    Retry::Temporary { after },
                );
            }
            if let Some(after) = failure
                .retry_after
                .filter(|a| *a > cfg.retry.max_retry_after)
            {
                return give_up(
                    failure,
                    format!(
                        "the vendor asked to wait {}, longer than the {} allowed in one call",
                        humantime::format_duration(after),
                        humantime::format_duration(cfg.retry.max_retry_after)
                    ),
                    Retry::Temporary { after: Some(after) },
                );
            }
            if attempt >= attempts {
                return give_up(
                    failure,
                    format!("gave up after {attempt} attempts"),
                    Retry::Persistent,
                );
            }
            let wait = failure
                .retry_after
                .unwrap_or_else(|| cfg.retry.backoff(attempt));
            tracing::info!(
                kind = %failure.kind,
                wait_ms = wait.as_millis() as u64,
                "retrying"
            );
            stats.retry_wait(wait);
            cfg.sleeper.sleep(wait).await;
        }
    }

    /// One attempt: send, read the body, classify.
    async fn attempt(&self, req: &HttpRequest, url: &Url) -> Outcome {
        let cfg = &self.inner.config;
        let mut builder = self
            .inner
            .client
            .request(req.method.clone(), url.clone())
            .headers(req.headers.clone())
            .body(req.body.clone());
        if let Some(timeout) = req.timeout {
            builder = builder.timeout(timeout);
        }
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => return self.network_failure(req, e),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match read_body(response, cfg.max_response_bytes).await {
            Ok(body) => body,
            Err(BodyError::Network(e)) => return self.network_failure(req, e),
            Err(BodyError::TooLarge) => {
                return Outcome::Done(Err(self.error(
                    req,
                    Failure {
                        kind: ErrorKind::Unexpected,
                        message: format!(
                            "response body larger than {} bytes",
                            cfg.max_response_bytes
                        ),
                        vendor: Some(VendorError {
                            status: Some(status),
                            ..VendorError::default()
                        }),
                        source: None,
                        not_processed: false,
                        rate_limited: false,
                        retry_after: None,
                    },
                    "",
                    Retry::Permanent,
                )));
            }
        };
        let resp = HttpResponse {
            status,
            headers,
            body: body.freeze(),
        };
        tracing::debug!(status, body_len = resp.body.len(), "response");
        let header_wait = parse_retry_after(&resp.headers, SystemTime::now());
        let hint = if status == 429 {
            Some(header_wait)
        } else {
            cfg.rate_limit_detector
                .as_ref()
                .and_then(|d| d.detect(&resp))
                .map(|h| h.retry_after.or(header_wait))
        };
        if let Some(retry_after) = hint {
            return Outcome::Failed(Failure {
                kind: ErrorKind::RateLimited,
                message: "the vendor's rate limit was hit".to_owned(),
                vendor: Some(resp.vendor_error()),
                source: None,
                not_processed: true,
                rate_limited: true,
                retry_after,
            });
        }
        if matches!(status, 408 | 502 | 503 | 504) {
            return Outcome::Failed(Failure {
                kind: ErrorKind::VendorUnavailable,
                message: format!("the vendor answered HTTP {status}"),
                vendor: Some(resp.vendor_error()),
                source: None,
                not_processed: false,
                rate_limited: false,
                retry_after: header_wait,
            });
        }
        Outcome::Done(Ok(resp))
    }

    fn network_failure(&self, req: &HttpRequest, e: reqwest::Error) -> Outcome {
        let e = e.without_url();
        if e.is_builder() {
            return Outcome::Done(Err(self.error(
                req,
                Failure {
                    kind: ErrorKind::InvalidInput,
                    message: "the request could not be built".to_owned(),
                    vendor: None,
                    source: Some(e),
                    not_processed: true,
                    rate_limited: false,
                    retry_after: None,
                },
                "",
                Retry::Permanent,
            )));
        }
        let (message, not_processed) = if e.is_connect() {
            ("cannot connect to the vendor".to_owned(), true)
        } else if e.is_timeout() {
            let limit = req.timeout.unwrap_or(self.inner.config.timeout);
            (
                format!(
                    "the vendor did not answer within {}",
                    humantime::format_duration(limit)
                ),
                false,
            )
        } else {
            ("the connection to the vendor failed".to_owned(), false)
        };
        tracing::debug!(
            connect = e.is_connect(),
            timeout = e.is_timeout(),
            "network error"
        );
        Outcome::Failed(Failure {
            kind: ErrorKind::VendorUnavailable,
            message,
            vendor: None,
            source: Some(e),
            not_processed,
            rate_limited: false,
            retry_after: None,
        })
    }

    fn error(&self, req: &HttpRequest, failure: Failure, note: &str, retry: Retry) -> Error {
        let message = if note.is_empty() {
            failure.message
        } else {
            format!("{}; {note}", failure.message)
        };
        let mut err = Error::new(failure.kind, message)
            .with_retry(retry)
            .with_provider(self.inner.config.provider)
            .with_operation(req.operation);
        if let Some(vendor) = failure.vendor {
            err = err.with_vendor(vendor);
        }
        if let Some(source) = failure.source {
            err = err.with_source(source);
        }
        self.inner.stats.failure();
        err
    }
}

enum BodyError {
    Network(reqwest::Error),
    TooLarge,
}

async fn read_body(
    mut response: reqwest::Response,
    max: usize,
) -> std::result::Result<BytesMut, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > max as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Network)? {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[async_trait]
impl Transport for HttpTransport {
    async fn execute(&self, req: HttpRequest) -> Result<HttpResponse> {
        let provider = self.inner.config.provider;
        self.inner.stats.request();
        let prepared = req
            .validate()
            .and_then(|()| self.url_for(&req.path))
            .map_err(|e| e.with_provider(provider));
        let url = match prepared {
            Ok(url) => url,
            Err(e) => {
                self.inner.stats.failure();
                return Err(e);
            }
        };
        let span = tracing::info_span!(
            "http.request",
            provider,
            operation = req.operation,
            method = %req.method,
            path = url.path(),
            attempt = field::Empty,
            status = field::Empty,
            elapsed_ms = field::Empty,
        );
        self.run(req, url, span.clone()).instrument(span).await
    }
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("config", &self.inner.config)
            .field("stats", &self.stats())
            .finish()
    }
}
