//! `/healthz` and `/metrics`.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Mutex;
use walletport_core::ErrorKind;
use walletport_store::OutboxStats;

use super::ApiState;
use super::views::Health;

/// A value computed at most once per `ttl` and shared meanwhile: a caller that arrives while
/// it is being computed waits for that computation instead of starting its own, so the cost
/// behind it is bounded by the clock, not by how often it is asked for. A failure is not kept:
/// the next caller computes again.
#[derive(Debug)]
pub(crate) struct Reused<T> {
    ttl: Duration,
    last: Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> Reused<T> {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            last: Mutex::new(None),
        }
    }

    /// The kept value while it is younger than `ttl`, else what `compute` gives (kept on success).
    pub(crate) async fn get<E>(&self, compute: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        let mut last = self.last.lock().await;
        if let Some((at, value)) = &*last
            && at.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        let value = compute.await?;
        *last = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

/// The provider's last health answer: a vendor status call costs quota (Passquare's base plan
/// allows 60 requests an hour).
pub(crate) type HealthCache = Reused<String>;

/// The outbox figures `/metrics` reports: they count the whole outbox (about 0.8 ms per 1,000
/// items waiting), so however many scrapers ask, a gateway reads them once per
/// [`OUTBOX_STATS_TTL`] at most.
pub(crate) type OutboxStatsCache = Reused<OutboxStats>;

/// How long `/metrics` reuses the outbox figures: under any scrape interval worth having.
pub(crate) const OUTBOX_STATS_TTL: Duration = Duration::from_secs(5);

/// Store and provider reachability; 503 when either fails.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub(crate) async fn healthz(State(s): State<ApiState>) -> Response {
    let body = health(&s).await;
    let status = if body.status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// The store's and the provider's reachability (the provider's answer reused from the cache)
/// and the start-up check: what `/healthz` and the console's provider page report.
pub(crate) async fn health(s: &ApiState) -> Health {
    let store = match s.gw.store.ping().await {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.to_string(),
    };
    let provider = s
        .health
        .get(async {
            Ok::<_, std::convert::Infallible>(match s.gw.provider.status().await {
                Ok(_) => "ok".to_owned(),
                Err(e) if e.kind() == ErrorKind::Unsupported => "unchecked".to_owned(),
                Err(e) => e.to_string(),
            })
        })
        .await
        .unwrap_or_else(|never| match never {});
    let healthy = store == "ok" && (provider == "ok" || provider == "unchecked");
    Health {
        status: if healthy { "ok" } else { "unhealthy" }.to_owned(),
        store,
        provider,
        startup_check: s.gw.startup_check().to_string(),
    }
}

/// Prometheus text metrics (encoded by `prometheus-client`, see [`crate::metrics`]).
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text exposition format", body = String)))]
pub(crate) async fn metrics(State(s): State<ApiState>) -> Response {
    let outbox = match s
        .outbox_stats
        .get(s.gw.store.outbox_stats(s.gw.now()))
        .await
    {
        Ok(stats) => Some(stats),
        Err(e) => {
            tracing::warn!(error = %e, "outbox stats unavailable for /metrics");
            None
        }
    };
    let transport = s.gw.transport_stats.as_ref().map(|f| f());
    let text = s.gw.metrics.render(outbox.as_ref(), transport.as_ref());
    let mut resp = text.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    resp
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// A computation that counts its runs and answers its run number (or fails when told to).
    async fn counted(runs: &AtomicU32, fail: bool) -> Result<u32, &'static str> {
        let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        if fail { Err("store down") } else { Ok(run) }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_within_the_ttl_share_one_computation_even_when_they_overlap() {
        let cache = Arc::new(Reused::new(Duration::from_secs(3600)));
        let runs = Arc::new(AtomicU32::new(0));
        let callers: Vec<_> = (0..16)
            .map(|_| {
                let (cache, runs) = (cache.clone(), runs.clone());
                tokio::spawn(async move { cache.get(counted(&runs, false)).await })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.expect("caller"), Ok(1));
        }
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "one computation for 16 callers"
        );
    }

    #[tokio::test]
    async fn a_failure_is_not_kept_and_an_old_value_is_computed_again() {
        let runs = AtomicU32::new(0);
        let cache = Reused::new(Duration::from_secs(3600));
        assert_eq!(cache.get(counted(&runs, true)).await, Err("store down"));
        assert_eq!(
            cache.get(counted(&runs, false)).await,
            Ok(2),
            "computed again"
        );
        assert_eq!(cache.get(counted(&runs, false)).await, Ok(2), "then reused");

        let expired = Reused::new(Duration::ZERO);
        assert_eq!(expired.get(counted(&runs, false)).await, Ok(3));
        assert_eq!(
            expired.get(counted(&runs, false)).await,
            Ok(4),
            "older than its ttl"
        );
    }
}
