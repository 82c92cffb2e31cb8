//! Pieces every emulator shares: serving, fault injection and a sliding-window quota.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Locks `m`, going on past a poisoned lock: a handler that panicked must not wedge the
/// emulator for the requests after it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sets `Retry-After` on an answer past the plan: the exceeded window's length in whole
/// seconds, at least 1. Each emulator decides for which windows its vendor sends it.
pub(crate) fn insert_retry_after(resp: &mut Response, window: &QuotaWindow) {
    let secs = window.per.as_secs().max(1);
    resp.headers_mut()
        .insert("retry-after", HeaderValue::from(secs));
}

/// Faults to inject into a share of requests, reproducibly (seeded).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Share of requests answered 503 without being processed (0.0–1.0).
    pub unavailable_rate: f64,
    /// Share of requests answered 429 with `Retry-After: retry_after_secs`.
    pub throttle_rate: f64,
    /// The `Retry-After` seconds sent with injected 429s.
    pub retry_after_secs: u64,
    /// Share of requests delayed by `slow_delay_ms` before processing.
    pub slow_rate: f64,
    /// The delay of slow requests, in milliseconds.
    pub slow_delay_ms: u64,
    /// Seed of the fault dice, so a failing run can be replayed.
    pub seed: u64,
}

impl Faults {
    /// True when no fault is configured.
    pub fn is_off(&self) -> bool {
        self.unavailable_rate <= 0.0 && self.throttle_rate <= 0.0 && self.slow_rate <= 0.0
    }
}

/// What the fault dice decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Unavailable,
    Throttle,
    Slow,
}

/// Live fault state: the configuration, the seeded dice and counters.
#[derive(Debug)]
pub struct FaultInjector {
    faults: Faults,
    rng: Mutex<StdRng>,
    injected: std::sync::atomic::AtomicU64,
}

impl FaultInjector {
    /// A new injector with the dice seeded from `faults.seed`.
    pub fn new(faults: Faults) -> Self {
        Self {
            rng: Mutex::new(StdRng::seed_from_u64(faults.seed)),
            faults,
            injected: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many requests got a fault so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn roll(&self) -> Fault {
        if self.faults.is_off() {
            return Fault::None;
        }
        let x: f64 = lock(&self.rng).random();
        let f = &self.faults;
        let fault = if x < f.unavailable_rate {
            Fault::Unavailable
        } else if x < f.unavailable_rate + f.throttle_rate {
            Fault::Throttle
        } else if x < f.unavailable_rate + f.throttle_rate + f.slow_rate {
            Fault::Slow
        } else {
            Fault::None
        };
        if fault != Fault::None {
            self.injected
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        fault
    }
}

async fn inject(State(injector): State<Arc<FaultInjector>>, req: Request, next: Next) -> Response {
    match injector.roll() {
        Fault::None => next.run(req).await,
        Fault::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "injected fault: service unavailable",
        )
            .into_response(),
        Fault::Throttle => {
            let mut resp =
                (StatusCode::TOO_MANY_REQUESTS, "injected fault: slow down").into_response();
            if let Ok(v) = HeaderValue::from_str(&injector.faults.retry_after_secs.to_string()) {
                resp.headers_mut().insert("retry-after", v);
            }
            resp
        }
        Fault::Slow => {
            tokio::time::sleep(Duration::from_millis(injector.faults.slow_delay_ms)).await;
            next.run(req).await
        }
    }
}

/// Wraps `router` so a share of requests get the configured faults before reaching it.
pub fn with_faults(router: Router, injector: Arc<FaultInjector>) -> Router {
    router.layer(middleware::from_fn_with_state(injector, inject))
}

/// One window of a rate-limit plan: at most `limit` requests in any `per` interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaWindow {
    /// Requests allowed in the window.
    pub limit: u32,
    /// The window length.
    #[serde(with = "secs")]
    pub per: Duration,
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// A vendor-side sliding-window quota: the emulator rejects what the real vendor would.
#[derive(Debug)]
pub struct SlidingQuota {
    windows: Vec<(QuotaWindow, Mutex<VecDeque<Instant>>)>,
    rejected: std::sync::atomic::AtomicU64,
}

impl SlidingQuota {
    /// A quota over all `windows` at once.
    pub fn new(windows: &[QuotaWindow]) -> Self {
        Self {
            windows: windows
                .iter()
                .map(|w| (*w, Mutex::new(VecDeque::new())))
                .collect(),
            rejected: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Counts a request; `Err(window)` names the first exceeded window (and the request is not
    /// counted).
    pub fn admit(&self) -> Result<(), QuotaWindow> {
        let now = Instant::now();
        let mut guards: Vec<_> = self.windows.iter().map(|(w, q)| (w, lock(q))).collect();
        for (w, q) in guards.iter_mut() {
            while q.front().is_some_and(|t| now.duration_since(*t) >= w.per) {
                q.pop_front();
            }
            if q.len() >= w.limit as usize {
                self.rejected
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Err(**w);
            }
        }
        for (_, q) in guards.iter_mut() {
            q.push_back(now);
        }
        Ok(())
    }

    /// How many requests were rejected so far.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A running emulator: its address and a handle that stops it when dropped.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, the base URL to configure an adapter with.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on `addr` (use port 0 for a free port) in a background task.
pub async fn serve(router: Router, addr: SocketAddr) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "emulator stopped");
        }
    });
    Ok(RunningServer { addr, task })
}

/// A JSON body with a status, the common answer shape of emulators.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A plan of one window, `limit` requests per `per_secs` seconds: what the emulators' quota
/// tests configure.
#[cfg(test)]
pub(crate) fn one_window(limit: u32, per_secs: u64) -> Vec<QuotaWindow> {
    vec![QuotaWindow {
        limit,
        per: Duration::from_secs(per_secs),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sliding_quota_enforces_every_window() {
        let q = SlidingQuota::new(&[
            QuotaWindow {
                limit: 1,
                per: Duration::from_secs(1),
            },
            QuotaWindow {
                limit: 3,
                per: Duration::from_secs(60),
            },
        ]);
        assert!(q.admit().is_ok());
        assert!(q.admit().is_err(), "second within a second");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(q.admit().is_ok());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(q.admit().is_ok());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(q.admit().map_err(|w| w.limit), Err(3), "minute window full");
        tokio::time::advance(Duration::from_secs(57)).await;
        assert!(q.admit().is_ok(), "first minute slot freed");
        assert_eq!(q.rejected(), 2);
    }

    #[test]
    fn faults_follow_their_rates_reproducibly() {
        let f = Faults {
            unavailable_rate: 0.3,
            seed: 7,
            ..Faults::default()
        };
        let a = FaultInjector::new(f.clone());
        let b = FaultInjector::new(f);
        let rolls_a: Vec<_> = (0..1000).map(|_| a.roll()).collect();
        let rolls_b: Vec<_> = (0..1000).map(|_| b.roll()).collect();
        assert_eq!(rolls_a, rolls_b);
        let n = rolls_a.iter().filter(|f| **f == Fault::Unavailable).count();
        assert!((250..350).contains(&n), "{n}");
    }
}
