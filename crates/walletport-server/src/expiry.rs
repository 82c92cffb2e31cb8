//! The expiry task: every `[ledger] expiry_interval` it writes off the credit lots past their
//! lifetime, so the expiry becomes a ledger entry and reaches the vendor card through the outbox.
//!
//! Balances the gateway reads are exact at any instant (a lot past its time never counts); the
//! task is what makes the change durable and visible to the vendor, within one interval plus one
//! outbox delivery. Several gateways on one database may all run it: the store expires each lot
//! under the customer's lock, never twice. The gateway's [`Clock`](crate::Clock) says what "now"
//! is, so tests move a [`ManualClock`](crate::ManualClock) and call [`ExpiryTask::run_once`].

use tokio::sync::watch;
use walletport_core::Result;
use walletport_store::ExpiryReport;

use crate::config::LedgerSection;
use crate::state::Gateway;

/// Customers expired per store call: each is a transaction of its own, so a large backlog is
/// worked off in bounded steps.
pub const EXPIRY_BATCH: u32 = 500;

/// Expires due credit lots now and then; one per gateway process.
#[derive(Debug, Clone)]
pub struct ExpiryTask {
    gw: Gateway,
    config: LedgerSection,
}

impl ExpiryTask {
    /// A task over `gw`'s store and clock.
    pub fn new(gw: Gateway, config: LedgerSection) -> Self {
        Self { gw, config }
    }

    /// One pass: expires every lot due at the clock's current instant, [`EXPIRY_BATCH`]
    /// customers at a time until none is left, and counts what it did in the metrics.
    pub async fn run_once(&self) -> Result<ExpiryReport> {
        let now = self.gw.now();
        let mut total = ExpiryReport::default();
        loop {
            let step = self.gw.store.expire_due(now, EXPIRY_BATCH).await?;
            if step.customers == 0 {
                break;
            }
            self.gw.metrics.expired(step.lots, step.points);
            total.customers += step.customers;
            total.lots += step.lots;
            total.points = total.points.saturating_add(step.points);
        }
        if total.customers > 0 {
            tracing::info!(
                customers = total.customers,
                lots = total.lots,
                points = %total.points,
                "expired credit lots"
            );
        }
        Ok(total)
    }

    /// Runs a pass at once (catching up after downtime) and then every `expiry_interval` until
    /// `stop` turns true (or its sender is gone); a failed pass is logged and tried again at the next interval.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                break;
            }
            if let Err(e) = self.run_once().await {
                tracing::warn!(error = %e, "expiring credit lots failed; trying again next interval");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.expiry_interval) => {}
                // The gateway is gone without a shutdown: nothing to stop us later.
                changed = stop.changed() => if changed.is_err() { break; }
            }
        }
        tracing::info!("expiry task stopped");
    }
}
