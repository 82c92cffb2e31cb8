//! `walletport sync --csv FILE`: bulk import of customers into the store, out through the outbox.
//!
//! Every row is written with its outbox items in one go, so the gateway's worker (or `--deliver`
//! here) syncs each customer with ONE vendor request however many columns changed. Re-running is
//! safe and cheap: a row whose data is already stored changes nothing (the balance is set under
//! the transaction id `import:<phone>:<balance>`, which the ledger applies exactly once). Bad rows
//! are reported with their line numbers and skipped; the import never aborts on a row.

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use walletport::{Customer, CustomerKey, Error, Percent, Phone, ProviderConfig, Result};
use walletport_server::{Gateway, OutboxWorker};
use walletport_store::{LedgerOp, Percentages, SetPoints, Store, WriteOpts};

use crate::gateway::{bad, open_store};
use crate::settings::Settings;

/// The columns a CSV may have (header names, case-insensitive).
const COLUMNS: &[&str] = &[
    "phone",
    "name",
    "surname",
    "middle_name",
    "email",
    "birthday",
    "balance",
    "bonus",
    "discount",
];

/// At most this many bad rows are listed in the output (all are counted).
const MAX_LISTED_ERRORS: usize = 200;

struct Row {
    customer: Customer,
    balance: Option<Decimal>,
    percentages: Percentages,
}

fn column_index(headers: &csv::StringRecord) -> Result<Vec<Option<usize>>> {
    let names: Vec<String> = headers
        .iter()
        .map(|h| h.trim().to_ascii_lowercase().replace(['-', ' '], "_"))
        .map(|h| {
            if h == "middlename" {
                "middle_name".into()
            } else {
                h
            }
        })
        .collect();
    if let Some(unknown) = names.iter().find(|n| !COLUMNS.contains(&n.as_str())) {
        return Err(bad(format!(
            "unknown CSV column `{unknown}`; known: {}",
            COLUMNS.join(", ")
        )));
    }
    if !names.iter().any(|n| n == "phone") {
        return Err(bad("the CSV header has no `phone` column"));
    }
    Ok(COLUMNS
        .iter()
        .map(|c| names.iter().position(|n| n == c))
        .collect())
}

fn parse_date(raw: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%d.%m.%Y"))
        .map_err(|_| bad(format!("birthday `{raw}` is not YYYY-MM-DD or DD.MM.YYYY")))
}

fn parse_decimal(raw: &str, what: &str) -> Result<Decimal> {
    raw.replace(',', ".")
        .parse::<Decimal>()
        .map_err(|_| bad(format!("{what} `{raw}` is not a number")))
}

fn parse_row(record: &csv::StringRecord, index: &[Option<usize>]) -> Result<Row> {
    let get = |column: usize| {
        index[column]
            .and_then(|i| record.get(i))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let phone = get(0).ok_or_else(|| bad("phone is empty"))?;
    let mut customer = Customer::new(Phone::parse(phone)?);
    customer.name = get(1).map(str::to_owned);
    customer.surname = get(2).map(str::to_owned);
    customer.middle_name = get(3).map(str::to_owned);
    customer.email = get(4).map(str::to_owned);
    customer.birthday = get(5).map(parse_date).transpose()?;
    customer.validate()?;
    let balance = get(6).map(|v| parse_decimal(v, "balance")).transpose()?;
    if balance.is_some_and(|b| b.is_sign_negative() && !b.is_zero()) {
        return Err(bad("balance must not be negative"));
    }
    let pct = |column: usize, what: &str| -> Result<Option<Percent>> {
        get(column)
            .map(|v| Percent::new(parse_decimal(v, what)?))
            .transpose()
    };
    Ok(Row {
        customer,
        balance,
        percentages: Percentages {
            bonus: pct(7, "bonus")?,
            discount: pct(8, "discount")?,
        },
    })
}

/// Writes one row; `Ok(true)` when anything changed.
async fn import_row(store: &dyn Store, row: &Row) -> Result<bool> {
    let opts = WriteOpts::now();
    let up = store.upsert_customer(&row.customer, opts).await?;
    let mut changed = up.changed;
    let p = row.percentages;
    if p.bonus.is_some() || p.discount.is_some() {
        let stored = store
            .get_customer(&CustomerKey::Id(up.id.clone()))
            .await?
            .ok_or_else(|| Error::unexpected("the customer just written is gone"))?;
        let differs = p.bonus.is_some_and(|b| b != stored.bonus_percent)
            || p.discount.is_some_and(|d| d != stored.discount_percent);
        if differs {
            store.set_percentages(&up.id, p, opts).await?;
            changed = true;
        }
    }
    if let Some(points) = row.balance {
        let tx = walletport::TransactionId::new(format!(
            "import:{}:{}",
            row.customer.phone,
            points.normalize()
        ))?;
        let outcome = store
            .apply(&up.id, &LedgerOp::Set(SetPoints::new(points, tx)?), opts)
            .await?;
        changed |= outcome.applied;
    }
    Ok(changed)
}

/// Requests per second the configured vendor plan sustains, when the config names one.
fn plan_rate(provider: &ProviderConfig) -> Option<(f64, String)> {
    #[allow(unreachable_patterns)]
    let plan = match provider {
        ProviderConfig::Passquare(c) => c.plan.quota(),
        _ => return None,
    };
    let rate = plan
        .windows()
        .iter()
        .map(|w| f64::from(w.limit()) / w.per().as_secs_f64())
        .fold(f64::INFINITY, f64::min);
    rate.is_finite().then(|| (rate, plan.to_string()))
}

fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Imports `path`; with `deliver`, also runs an outbox worker until the vendor has everything.
pub(crate) async fn run(settings: &Settings, path: &Path, deliver: bool) -> Result<Value> {
    let open = || {
        csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_path(path)
            .map_err(|e| bad(format!("cannot read `{}`: {e}", path.display())))
    };
    let total = open()?.records().count() as u64;
    let mut reader = open()?;
    let headers = reader
        .headers()
        .map_err(|e| bad(format!("cannot read the CSV header: {e}")))?
        .clone();
    let index = column_index(&headers)?;
    let store = open_store(settings).await?;
    let progress = bar(
        total,
        "{bar:40} {pos}/{len} rows  {per_sec}  ETA {eta}  {msg}",
    );
    let (mut imported, mut unchanged, mut bad_rows) = (0u64, 0u64, 0u64);
    let mut errors = Vec::new();
    for record in reader.records() {
        let line = match &record {
            Ok(r) => r.position().map_or(0, |p| p.line()),
            Err(e) => e.position().map_or(0, |p| p.line()),
        };
        let result = match record {
            Ok(record) => match parse_row(&record, &index) {
                Ok(row) => import_row(store.as_ref(), &row).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(bad(format!("unreadable row: {e}"))),
        };
        match result {
            Ok(true) => imported += 1,
            Ok(false) => unchanged += 1,
            Err(e) => {
                bad_rows += 1;
                progress.println(format!("line {line}: {}", e.message()));
                if errors.len() < MAX_LISTED_ERRORS {
                    errors.push(json!({ "line": line, "error": e.message() }));
                }
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    let stats = store.outbox_stats(chrono::Utc::now()).await?;
    let vendor_eta = plan_rate(&settings.provider).map(|(rate, plan)| {
        let secs = stats.customers as f64 / rate;
        json!({ "plan": plan, "customers_to_sync": stats.customers,
                "eta": humantime::format_duration(Duration::from_secs(secs.ceil() as u64)).to_string() })
    });
    let mut out = json!({
        "rows": total, "imported": imported, "unchanged": unchanged, "bad": bad_rows,
        "errors": errors, "outbox": { "depth": stats.depth, "customers": stats.customers },
        "vendor_sync": vendor_eta,
    });
    if deliver {
        match deliver_all(settings, store.clone(), stats.customers).await {
            Ok(report) => out["delivered"] = report,
            Err(e) => {
                store.close().await;
                return Err(e);
            }
        }
    }
    store.close().await;
    Ok(out)
}

/// Runs one outbox worker until the outbox is empty, with a progress bar of customers synced.
async fn deliver_all(
    settings: &Settings,
    store: std::sync::Arc<dyn Store>,
    customers: u64,
) -> Result<Value> {
    let provider = walletport::connect(&settings.provider)?;
    let gw = Gateway::new(store.clone(), provider);
    let worker = OutboxWorker::new(gw.clone(), settings.gateway.outbox.clone());
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let progress = bar(
        customers,
        "{bar:40} {pos}/{len} customers synced  {per_sec}  ETA {eta} (vendor quota)",
    );
    loop {
        let report = worker.flush_once(&stop).await?;
        progress.inc(report.requests as u64);
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
    }))
}
