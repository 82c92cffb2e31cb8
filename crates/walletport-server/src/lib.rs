//! # walletport-server
//!
//! The gateway a merchant runs (`walletport serve`): it keeps the customer database the vendors
//! require the merchant to keep, answers the vendors' inbound hooks, offers one REST API over
//! any vendor, and pushes CRM-side changes out to the vendor within its rate limits.
//!
//! - **Inbound**: `POST /hooks/passquare` (CRM hooks 1.1–1.3 over [`StoreCrmHooks`]) and
//!   `POST /hooks/passteam` (card webhooks over [`StoreWalletEvents`], deduplicated durably).
//! - **REST API** under `/api`, described at `/openapi.json` ([`ApiDoc`]), bearer-token auth;
//!   `/healthz` and `/metrics` (Prometheus text).
//! - **Outbox**: [`OutboxWorker`] claims batches, coalesces each customer's changes into one
//!   vendor request carrying the latest state, retries temporary failures with backoff and
//!   dead-letters permanent ones.
//! - **Shared quota**: [`SharedQuota`] keeps the vendor plan's windows in the store, so gateways
//!   on one database share one plan and a restart remembers it.
//! - **Expiry**: [`ExpiryTask`] writes off credits past their lifetime every
//!   `[ledger] expiry_interval` and queues the new balance, so the vendor card drops them too.
//!
//! ```no_run
//! # async fn demo() -> walletport_core::Result<()> {
//! use std::sync::Arc;
//! use walletport_server::{Gateway, GatewayConfig, start};
//!
//! let config = GatewayConfig::default(); // 127.0.0.1:8080, sqlite://walletport.db
//! let store = walletport_store::connect(&config.server.database).await?;
//! let provider: Arc<dyn walletport_core::Provider> =
//!     Arc::new(walletport_memory::MemoryProvider::open(&Default::default())?);
//! let running = start(&config, Gateway::new(store.clone(), provider)).await?;
//! // ... until a signal:
//! running.shutdown().await;
//! store.close().await;
//! # Ok(()) }
//! ```

pub mod api;
pub mod config;
mod console;
pub mod expiry;
pub mod hooks;
pub mod import;
pub mod metrics;
pub mod outbox;
mod preflight;
pub mod quota;
#[cfg(feature = "scenario")]
pub mod scenario;
mod server;
mod state;

pub use api::ApiDoc;
pub use config::{
    DEFAULT_LISTEN, GatewayConfig, HooksSection, LedgerSection, OutboxSection,
    PassteamHooksSection, ServerSection,
};
pub use expiry::ExpiryTask;
pub use hooks::{StoreCrmHooks, StoreWalletEvents};
pub use metrics::{Metrics, TransportStatsSource, VendorOutcome};
pub use outbox::{FlushReport, OutboxWorker};
pub use preflight::{StartupCheck, check_provider};
pub use quota::SharedQuota;
pub use server::{RunningGateway, SHUTDOWN_GRACE, router, start, start_on};
pub use state::Gateway;
/// Re-exported from core: the gateway and the memory provider read time through one clock.
pub use walletport_core::clock::{self, Clock, ManualClock, SystemClock};

/// Re-exported so embedders configure hooks with the same type.
pub use walletport_passquare::PassquareHooksConfig;
