//! Assembling the router (API, console, hooks, system routes, limits) and running it with the
//! outbox worker and the expiry task until a graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use walletport_core::{Error, ErrorKind, Result};
use walletport_http::inbound::lingering;

use crate::api::{self, ApiState, HealthCache, OUTBOX_STATS_TTL, OutboxStatsCache, error_response};
use crate::config::GatewayConfig;
use crate::expiry::ExpiryTask;
use crate::hooks::{StoreCrmHooks, StoreWalletEvents, passteam_claims};
use crate::outbox::OutboxWorker;
use crate::state::Gateway;

/// How long a shutdown waits for in-flight requests and the worker's current deliveries.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Limits {
    timeout: Duration,
    metrics: Arc<crate::metrics::Metrics>,
}

async fn observe(State(limits): State<Limits>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let resp = match tokio::time::timeout(limits.timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &Error::new(
                ErrorKind::VendorUnavailable,
                "request timed out in the gateway",
            ),
        ),
    };
    limits
        .metrics
        .http_request(&method, &route, resp.status().as_u16());
    resp
}

async fn not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        &Error::not_found("no such endpoint (see /openapi.json)"),
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked; answered 500");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &Error::unexpected("internal error"),
    )
}

/// The gateway's whole HTTP surface: `/api/...`, the operator console under `/console/` (and `/`
/// leading to it), `/hooks/passquare`, `/hooks/passteam` (when configured), `/healthz`,
/// `/metrics`, `/openapi.json`; body limits, a request timeout, request metrics, a panic guard
/// that answers 500 instead of dropping the connection, and bodies refused before their end
/// drained so that the client reads the refusal ([`walletport_http::inbound`]).
pub fn router(config: &GatewayConfig, gw: &Gateway) -> Router {
    let state = ApiState {
        gw: gw.clone(),
        health: Arc::new(HealthCache::new(config.server.provider_health_cache)),
        outbox_stats: Arc::new(OutboxStatsCache::new(OUTBOX_STATS_TTL)),
    };
    let mut app = api::api_router(state.clone(), config.server.api_token.clone())
        .layer(DefaultBodyLimit::max(config.server.max_body))
        .merge(api::system_router(state.clone()))
        .merge(crate::console::router(state, config));
    if let Some(pq) = &config.hooks.passquare {
        let hooks = Arc::new(StoreCrmHooks::new(gw.clone()));
        app = app.nest(
            "/hooks/passquare",
            walletport_passquare::hooks::hooks_router(hooks, pq.clone()),
        );
    }
    if config.hooks.passteam.enabled {
        let events = Arc::new(StoreWalletEvents::new(gw.clone()));
        let webhooks = match &config.hooks.passteam.provider {
            Some(provider) => {
                walletport_passteam::webhooks_router_for(events, passteam_claims(), provider)
            }
            None => walletport_passteam::webhooks_router(events, passteam_claims()),
        };
        app = app.nest("/hooks/passteam", webhooks);
    }
    let limits = Limits {
        timeout: config.server.request_timeout,
        metrics: gw.metrics.clone(),
    };
    app.fallback(not_found)
        .layer(middleware::from_fn_with_state(limits, observe))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(middleware::map_request(|r: Request| async {
            lingering(r).map(Body::new)
        }))
}

/// A running gateway: its address, and the handles to stop it.
#[derive(Debug)]
pub struct RunningGateway {
    addr: SocketAddr,
    gw: Gateway,
    stop: watch::Sender<bool>,
    http: JoinHandle<()>,
    worker: Option<JoinHandle<()>>,
    expiry: JoinHandle<()>,
}

impl RunningGateway {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The shared parts (store, provider, metrics).
    pub fn gateway(&self) -> &Gateway {
        &self.gw
    }

    /// Graceful shutdown: stop accepting, let in-flight requests finish, let the worker finish
    /// the deliveries it started and hand back the rest of its claim, let the expiry task finish
    /// its pass; each bounded by [`SHUTDOWN_GRACE`]. The store stays open (the caller owns it).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        join_within_grace(
            self.http,
            "in-flight requests did not finish in time; closing them",
        )
        .await;
        if let Some(worker) = self.worker {
            // Its claimed items stay leased and are taken over when the lease runs out.
            join_within_grace(
                worker,
                "outbox worker did not stop in time; its claims expire with the lease",
            )
            .await;
        }
        // Each customer expires in a transaction of its own: nothing is left half done.
        join_within_grace(
            self.expiry,
            "expiry task did not stop in time; the next start catches up",
        )
        .await;
    }

    /// Stops everything at once without any grace, like a crash (for tests).
    pub fn abort(self) {
        self.http.abort();
        if let Some(worker) = self.worker {
            worker.abort();
        }
        self.expiry.abort();
    }

    /// Waits until the server stops (after [`RunningGateway::shutdown`] from elsewhere or an
    /// I/O failure of the listener).
    pub async fn stopped(&mut self) {
        let _ = (&mut self.http).await;
    }
}

/// Binds `config.server.listen` and starts serving, with the outbox worker when enabled and
/// the expiry task.
pub async fn start(config: &GatewayConfig, gw: Gateway) -> Result<RunningGateway> {
    config.validate()?;
    let listener = TcpListener::bind(config.server.listen).await.map_err(|e| {
        Error::config(format!("cannot listen on {}: {e}", config.server.listen)).with_source(e)
    })?;
    start_on(listener, config, gw).await
}

/// Starts serving on an already bound listener (tests bind `127.0.0.1:0`).
pub async fn start_on(
    listener: TcpListener,
    config: &GatewayConfig,
    gw: Gateway,
) -> Result<RunningGateway> {
    let addr = listener
        .local_addr()
        .map_err(|e| Error::unexpected(format!("listener has no address: {e}")))?;
    let mut checked = config.clone();
    checked.server.listen = addr;
    checked.validate()?;
    let app = router(&checked, &gw);
    let (stop, stop_rx) = watch::channel(false);
    let mut http_stop = stop_rx.clone();
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let http = tokio::spawn(async move {
        let shutdown = async move {
            let _ = http_stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "gateway HTTP server failed");
        }
    });
    let worker = checked.outbox.enabled.then(|| {
        let worker = OutboxWorker::new(gw.clone(), checked.outbox.clone());
        tokio::spawn(worker.run(stop_rx.clone()))
    });
    let expiry = tokio::spawn(ExpiryTask::new(gw.clone(), checked.ledger.clone()).run(stop_rx));
    tracing::info!(%addr, backend = ?gw.store.backend(), provider = gw.provider.info().name, "gateway listening");
    Ok(RunningGateway {
        addr,
        gw,
        stop,
        http,
        worker,
        expiry,
    })
}

/// Waits up to [`SHUTDOWN_GRACE`] for `task` to finish; past it, warns with `late` and aborts
/// the task.
async fn join_within_grace(mut task: JoinHandle<()>, late: &str) {
    if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
        .await
        .is_err()
    {
        tracing::warn!("{late}");
        task.abort();
    }
}
