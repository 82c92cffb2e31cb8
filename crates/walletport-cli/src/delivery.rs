//! What `sync --deliver` and `resync --deliver` share: the vendor plan's pace, progress bars, and
//! a worker that runs until the outbox is empty.

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use walletport::{ProviderConfig, Result};
use walletport_http::QuotaPlan;
use walletport_server::OutboxWorker;
use walletport_store::Store;

use crate::settings::Settings;

/// The quota plan the configured vendor's transport keeps, when it has one.
fn plan_of(provider: &ProviderConfig) -> Option<QuotaPlan> {
    #[allow(unreachable_patterns)]
    match provider {
        ProviderConfig::Passquare(c) => Some(c.plan.quota()),
        ProviderConfig::Passteam(c) => walletport_passteam::transport_config(c)
            .ok()?
            .quota
            .map(|q| q.plan().clone()),
        ProviderConfig::Skycore(c) => c.transport_config().ok()?.quota.map(|q| q.plan().clone()),
        _ => None,
    }
}

/// Requests per second the configured vendor plan sustains over its longest window, and the
/// plan as text, when the config names one.
pub(crate) fn plan_rate(provider: &ProviderConfig) -> Option<(f64, String)> {
    let plan = plan_of(provider)?;
    let rate = plan
        .windows()
        .iter()
        .map(|w| f64::from(w.limit()) / w.per().as_secs_f64())
        .fold(f64::INFINITY, f64::min);
    rate.is_finite().then(|| (rate, plan.to_string()))
}

/// How long the vendor plan needs for `customers` deliveries (one request each, as the outbox
/// coalesces a customer's changes), as JSON for the command's summary.
pub(crate) fn vendor_eta(provider: &ProviderConfig, customers: u64) -> Option<Value> {
    plan_rate(provider).map(|(rate, plan)| {
        let secs = customers as f64 / rate;
        json!({
            "plan": plan,
            "customers_to_sync": customers,
            "requests_per_customer": 1,
            "eta": humantime::format_duration(Duration::from_secs(secs.ceil() as u64)).to_string(),
        })
    })
}

/// A progress bar on stderr (drawn only on a terminal).
pub(crate) fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Runs one outbox worker until the outbox is empty, with a progress bar of customers synced.
pub(crate) async fn deliver_all(
    settings: &Settings,
    store: Arc<dyn Store>,
    customers: u64,
) -> Result<Value> {
    let gw = crate::gateway::gateway_over(settings, store.clone())?;
    let worker = OutboxWorker::new(gw.clone(), settings.gateway.outbox.clone());
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let progress = bar(
        customers,
        "{bar:40} {pos}/{len} customers synced  {per_sec}  ETA {eta} (vendor quota)",
    );
    let mut dead = 0;
    loop {
        let report = worker.flush_once(&stop).await?;
        progress.inc(report.requests as u64);
        dead += report.dead;
        if report.claimed == 0 {
            let stats = store.outbox_stats(chrono::Utc::now()).await?;
            if stats.depth == 0 {
                break;
            }
            tokio::time::sleep(settings.gateway.outbox.poll_interval).await;
        }
    }
    progress.finish_and_clear();
    Ok(json!({
        "vendor_requests": gw.metrics.vendor_requests(),
        "items": gw.metrics.delivered_items(),
        "dead_lettered": dead,
    }))
}
