//! `/healthz` and `/metrics`.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Mutex;
use walletport_core::ErrorKind;

use super::ApiState;
use super::views::Health;

/// The provider's last health answer, reused for a while: a vendor status call costs quota
/// (Passquare's base plan allows 60 requests an hour).
#[derive(Debug)]
pub(crate) struct HealthCache {
    ttl: Duration,
    last: Mutex<Option<(Instant, String)>>,
}

impl HealthCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            last: Mutex::new(None),
        }
    }
}

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
    let provider = {
        let mut last = s.health.last.lock().await;
        match &*last {
            Some((at, answer)) if at.elapsed() < s.health.ttl => answer.clone(),
            _ => {
                let answer = match s.gw.provider.status().await {
                    Ok(_) => "ok".to_owned(),
                    Err(e) if e.kind() == ErrorKind::Unsupported => "unchecked".to_owned(),
                    Err(e) => e.to_string(),
                };
                *last = Some((Instant::now(), answer.clone()));
                answer
            }
        }
    };
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
    let outbox = match s.gw.store.outbox_stats(s.gw.now()).await {
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
