//! `walletport resync [--phone P] [--deliver]`: queue the full current state of every customer
//! (or one), so that a gateway pointed at another vendor issues their cards there.
//!
//! Idempotent: a customer who already has a full-state item waiting gets no second one, so
//! running it twice queues no duplicate work. Pages of customers are queued in one transaction
//! each, in the store's insertion order; the gateway's worker (or `--deliver` here) then sends
//! each customer with ONE vendor request, at the pace of the vendor plan.

use serde_json::{Value, json};
use walletport::{CustomerKey, Error, Phone, Result};
use walletport_store::{Store, resync_all};

use crate::delivery::{bar, deliver_all, vendor_eta};
use crate::gateway::open_store;
use crate::settings::Settings;

/// Customers queued per store transaction.
const PAGE: u32 = 1_000;

/// Queues the resync; with `deliver`, also runs an outbox worker until the vendor has it all.
pub(crate) async fn run(settings: &Settings, phone: Option<Phone>, deliver: bool) -> Result<Value> {
    let store = open_store(settings).await?;
    let result = run_on(settings, &store, phone, deliver).await;
    store.close().await;
    result
}

async fn run_on(
    settings: &Settings,
    store: &std::sync::Arc<dyn Store>,
    phone: Option<Phone>,
    deliver: bool,
) -> Result<Value> {
    let customer = match phone {
        Some(phone) => Some(
            store
                .get_customer(&CustomerKey::Phone(phone.clone()))
                .await?
                .ok_or_else(|| Error::not_found(format!("no customer with phone {phone}")))?
                .id,
        ),
        None => None,
    };
    let progress = bar(0, "{spinner} {pos} customers scanned  {per_sec}  {msg}");
    let mut queued = 0u64;
    let total = resync_all(store.as_ref(), customer, PAGE, |page| {
        progress.inc(page.scanned);
        queued += page.queued;
        progress.set_message(format!("{queued} queued"));
    })
    .await?;
    let (scanned, queued) = (total.scanned, total.queued);
    progress.finish_and_clear();
    let stats = store.outbox_stats(chrono::Utc::now()).await?;
    let mut out = json!({
        "scanned": scanned,
        "queued": queued,
        "already_waiting": scanned - queued,
        "provider": settings.provider.kind(),
        "outbox": { "depth": stats.depth, "customers": stats.customers },
        "vendor_sync": vendor_eta(&settings.provider, stats.customers),
    });
    if deliver {
        out["delivered"] = deliver_all(settings, store.clone(), stats.customers).await?;
    }
    Ok(out)
}
