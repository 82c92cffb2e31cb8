//! `walletport serve` and `walletport outbox ...`: the gateway over the configured store and
//! provider.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};
use walletport::{Error, Result};
use walletport_server::{Gateway, SharedQuota, api::views::OutboxItemView, check_provider, start};
use walletport_store::{OutboxId, OutboxList, Store};

use crate::args::OutboxCmd;
use crate::settings::Settings;

/// Opens the configured database (`server.database`).
pub(crate) async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>> {
    walletport_store::connect(&settings.gateway.server.database).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Runs the gateway until SIGINT or SIGTERM, then shuts down gracefully.
pub(crate) async fn serve(settings: &Settings, listen: Option<SocketAddr>) -> Result<Value> {
    let mut config = settings.gateway.clone();
    if let Some(addr) = listen {
        config.server.listen = addr;
    }
    if let walletport::ProviderConfig::Passteam(passteam) = &settings.provider {
        config.hooks.passteam.provider = Some(passteam.clone());
    }
    config.validate()?;
    let store = open_store(settings).await?;
    let gw = match gateway_over(settings, store.clone()) {
        Ok(gw) => gw,
        Err(e) => {
            store.close().await;
            return Err(e);
        }
    };
    let check = match check_provider(&gw).await {
        Ok(check) => check,
        Err(e) => {
            store.close().await;
            return Err(e);
        }
    };
    let running = match start(&config, gw).await {
        Ok(r) => r,
        Err(e) => {
            store.close().await;
            return Err(e);
        }
    };
    let addr = running.addr();
    let provider = settings.provider.kind();
    eprintln!(
        "walletport gateway on http://{addr} (provider `{provider}`, {:?} store); REST API under /api, OpenAPI at /openapi.json; Ctrl-C to stop",
        store.backend()
    );
    eprintln!("operator console: http://{addr}/console/");
    eprintln!("provider check: {check}");
    shutdown_signal().await;
    eprintln!("shutting down: finishing in-flight requests and deliveries");
    running.shutdown().await;
    store.close().await;
    Ok(json!({ "stopped": true, "listen": addr.to_string() }))
}

/// `outbox list` / `outbox retry`, straight on the store.
pub(crate) async fn outbox(settings: &Settings, cmd: OutboxCmd) -> Result<Value> {
    let store = open_store(settings).await?;
    let result = outbox_on(store.as_ref(), cmd).await;
    store.close().await;
    result
}

async fn outbox_on(store: &dyn Store, cmd: OutboxCmd) -> Result<Value> {
    let now = chrono::Utc::now();
    match cmd {
        OutboxCmd::List { dead, after, limit } => {
            let which = if dead {
                OutboxList::Dead
            } else {
                OutboxList::Pending
            };
            let items = store
                .list_outbox(which, after.map(OutboxId), limit, now)
                .await?;
            let stats = store.outbox_stats(now).await?;
            let items: Vec<OutboxItemView> = items.iter().map(OutboxItemView::from).collect();
            Ok(json!({
                "list": if dead { "dead" } else { "pending" },
                "items": items,
                "depth": stats.depth,
                "dead": stats.dead,
                "customers": stats.customers,
            }))
        }
        OutboxCmd::Retry { id } => {
            let id: OutboxId = id.parse()?;
            let new = store.retry_dead(id, now).await?;
            Ok(json!({ "retried": id.0, "id": new.0 }))
        }
    }
}

/// The gateway's parts over `store`: the configured provider, whose every vendor request takes
/// its slot of the vendor plan from the store (shared by every gateway on the database).
pub(crate) fn gateway_over(settings: &Settings, store: Arc<dyn Store>) -> Result<Gateway> {
    let quota = SharedQuota::new(store.clone());
    // On Skycore, the gateway's provider and its issuance links (`/api/links`) are one adapter,
    // so they share one transport and its quota.
    let skycore = walletport::skycore_adapter(&settings.provider, &quota)?.map(Arc::new);
    let provider = match &skycore {
        Some(adapter) => walletport::Checked::wrap(adapter.clone()),
        None => walletport::connect_with(&settings.provider, &quota)?,
    };
    let mut gw = Gateway::new(store, provider);
    if let Some(adapter) = skycore {
        gw = gw.with_skycore(adapter);
    }
    if let Some(limiter) = quota.limiters().into_iter().next() {
        gw = gw.with_quota(limiter);
    }
    Ok(gw)
}

/// Where the vendor quota of a direct CLI command (`customer`, `balance`, `card`, `template`,
/// `push`, `campaign`, `providers --check`) lives: with a configured store
/// ([`Settings::store_configured`]) the store's shared quota, so the command cannot push the
/// vendor over the plan the gateways on that database keep; else this process alone.
pub(crate) struct DirectQuota {
    store: Option<Arc<dyn Store>>,
    shared: Option<SharedQuota>,
}

impl DirectQuota {
    /// Opens the configured store for a vendor provider; the memory provider sends nothing, and
    /// without a configured store there is nothing to share.
    pub(crate) async fn open(settings: &Settings) -> Result<Self> {
        if !settings.store_configured || settings.provider.kind() == "memory" {
            return Ok(Self {
                store: None,
                shared: None,
            });
        }
        let store = open_store(settings).await?;
        Ok(Self {
            shared: Some(SharedQuota::new(store.clone())),
            store: Some(store),
        })
    }

    /// The limiter factory to connect the provider with.
    pub(crate) fn limiters(&self) -> &dyn walletport::LimiterFactory {
        match &self.shared {
            Some(shared) => shared as &dyn walletport::LimiterFactory,
            None => &walletport::InProcessLimiters,
        }
    }

    /// Closes the store, if one was opened.
    pub(crate) async fn close(self) {
        if let Some(store) = self.store {
            store.close().await;
        }
    }
}

/// A configuration error for a bad CLI value.
pub(crate) fn bad(message: impl Into<String>) -> Error {
    Error::invalid_input(message)
}
