//! `walletport sync --csv FILE`: bulk import of customers into the store, out through the outbox,
//! by the rules of [`walletport_server::import`] (which the gateway's import uses too).

use std::fs::File;
use std::path::Path;

use serde_json::{Value, json};
use walletport::Result;
use walletport_server::import::import_csv;

use crate::delivery::{bar, deliver_all, vendor_eta};
use crate::gateway::{bad, open_store};
use crate::settings::Settings;

/// Imports `path`; with `deliver`, also runs an outbox worker until the vendor has everything.
pub(crate) async fn run(settings: &Settings, path: &Path, deliver: bool) -> Result<Value> {
    let open =
        || File::open(path).map_err(|e| bad(format!("cannot read `{}`: {e}", path.display())));
    // Records for the progress bar's length (the header line excluded; quoted newlines aside).
    let total = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(open()?)
        .records()
        .count() as u64;
    let store = open_store(settings).await?;
    let result = import_and_deliver(settings, &store, open()?, total, deliver).await;
    store.close().await;
    result
}

async fn import_and_deliver(
    settings: &Settings,
    store: &std::sync::Arc<dyn walletport_store::Store>,
    file: File,
    total: u64,
    deliver: bool,
) -> Result<Value> {
    let progress = bar(
        total,
        "{bar:40} {pos}/{len} rows  {per_sec}  ETA {eta}  {msg}",
    );
    let report = import_csv(store.as_ref(), file, |result, line| {
        if let Err(e) = result {
            progress.println(format!("line {line}: {}", e.message()));
        }
        progress.inc(1);
    })
    .await?;
    progress.finish_and_clear();
    let stats = store.outbox_stats(chrono::Utc::now()).await?;
    let mut out = json!({
        "rows": report.rows, "imported": report.imported, "unchanged": report.unchanged,
        "bad": report.bad, "errors": report.errors,
        "outbox": { "depth": stats.depth, "customers": stats.customers },
        "vendor_sync": vendor_eta(&settings.provider, stats.customers),
    });
    if deliver {
        out["delivered"] = deliver_all(settings, store.clone(), stats.customers).await?;
    }
    Ok(out)
}
