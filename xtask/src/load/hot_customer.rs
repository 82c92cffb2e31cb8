//! `cargo xtask load hooks --hot-customer N` (issue 13): whether a customer's cost grows with
//! their history. Per backend, on a throw-away database of its own: `--customers` customers are
//! seeded; customer 0 (*hot*) gets `N` ledger entries through the store API (`Store::credit`,
//! amount 1, unique transaction ids, [`SEED_IN_FLIGHT`] at a time so the store group-commits;
//! every [`EXPIRING_EVERY`]th with a lifetime of a year, so the hot customer holds open expiring
//! lots beside permanent points), customer 1 (*new*) none. Then, on the gateway in this process,
//! for each `--clients` count and each operation (`readBalance`, then `addBalance`), the same
//! hook runs as the plain benchmark ([`hooks_run_on`]) go all to the hot customer, then all to
//! the new one, then the new and the hot one again, each run half of `--seconds` after its
//! `--warmup` (so that a drift of the shared machine weighs on both alike); the report gives both
//! rates and their ratio hot ÷ new (target: at least [`TARGET`]). Durability as in the plain
//! runs: each customer's balance grew by exactly its acknowledged `addBalance` calls.
//!
//! [`hooks_run_on`]: super::gateway::hooks_run_on

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use walletport_core::{Credit, CustomerId, CustomerKey, Decimal, TransactionId};
use walletport_store::{Store, WriteOpts};

use super::backend::{BackendKind, TempDb, phone, seed_customers};
use super::drive::Driven;
use super::gateway::{hooks_run_on, start_gateway};
use super::hooks_args::Args;
use super::stats::ModeSummary;

/// The least hot ÷ new rate the issue asks for.
pub(crate) const TARGET: f64 = 0.8;
/// Seeding credits in flight at once.
const SEED_IN_FLIGHT: usize = 256;
/// Every this many seeded credits has a lifetime ([`SEED_LIFETIME`]); the others never expire.
const EXPIRING_EVERY: u64 = 10;
/// The lifetime of the expiring seeded credits: a year, so none expires during the run.
const SEED_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
/// The benchmark customer with the long history.
const HOT: u64 = 0;
/// The benchmark customer without history.
const NEW: u64 = 1;

/// How the hot customer's history was written.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Seeding {
    /// Credits written (each 1 point, its own transaction id).
    pub(crate) entries: u64,
    /// Of these, credits with a lifetime (one open expiring lot each).
    pub(crate) expiring: u64,
    /// Credits in flight at once.
    pub(crate) in_flight: usize,
    /// Wall time of the seeding.
    pub(crate) seconds: f64,
    /// `entries / seconds`.
    pub(crate) rate_per_s: f64,
}

/// One operation at one clients count, on the hot and on the new customer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HotRun {
    /// `readBalance` or `addBalance`.
    pub(crate) op: String,
    /// Concurrent clients, all aimed at the one customer.
    pub(crate) clients: usize,
    /// Aimed at the customer with the history.
    pub(crate) hot: ModeSummary,
    /// Aimed at the customer without one.
    pub(crate) new: ModeSummary,
    /// `hot.rate_per_s / new.rate_per_s`.
    pub(crate) ratio: f64,
    /// The first failure of either run, if any.
    pub(crate) first_error: Option<String>,
}

/// The durability check of one customer's `addBalance` calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HotVerified {
    /// `hot` or `new`.
    pub(crate) customer: String,
    /// `addBalance` hooks answered 2xx (warm-ups included).
    pub(crate) acknowledged: u64,
    /// `addBalance` hooks that failed (may or may not have been applied).
    pub(crate) failed: u64,
    /// The balance before the runs.
    pub(crate) balance_before: Decimal,
    /// The balance after them.
    pub(crate) balance_after: Decimal,
}

/// The hot-customer part of one backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HotReport {
    /// Which store.
    pub(crate) backend: BackendKind,
    /// The hot customer's history.
    pub(crate) seeding: Seeding,
    /// Every (operation, clients) pair.
    pub(crate) runs: Vec<HotRun>,
    /// The durability checks (hot, new).
    pub(crate) verified: Vec<HotVerified>,
    /// The least ratio asked for.
    pub(crate) target: f64,
    /// Whether every ratio reached it.
    pub(crate) target_met: bool,
}

/// Seeds, measures and checks one backend.
pub(crate) async fn phase(args: &Args, kind: BackendKind) -> anyhow::Result<HotReport> {
    let entries = args.hot_customer;
    let customers = args.customers.max(NEW + 1);
    eprintln!(
        "load hooks: {} hot customer — seeding {customers} customers",
        kind.name()
    );
    let db = TempDb::create(kind, &args.pg.url, None).await?;
    let store = db.open_store(args.store_connections).await?;
    seed_customers(&store, customers, 16).await?;
    let (hot_id, new_id) = (
        id_of(store.as_ref(), HOT).await?,
        id_of(store.as_ref(), NEW).await?,
    );
    eprintln!(
        "load hooks: {} hot customer — {entries} credits, {SEED_IN_FLIGHT} in flight",
        kind.name()
    );
    let seeding = seed_history(&store, &hot_id, entries).await?;
    eprintln!(
        "load hooks: {} hot customer — seeded in {:.1} s ({:.0} credits/s)",
        kind.name(),
        seeding.seconds,
        seeding.rate_per_s
    );
    let seeded = points(store.as_ref(), &hot_id).await?;
    if seeded != Decimal::from(entries) {
        bail!(
            "{}: the hot customer has {seeded} points after {entries} acknowledged credits of 1",
            kind.name()
        );
    }

    let gateway = start_gateway(store.clone()).await?;
    let url = format!("{}/hooks/passquare", gateway.base_url());
    let (warmup, window) = (
        Duration::from_secs(args.warmup),
        Duration::from_secs(args.seconds),
    );
    let before = [
        points(store.as_ref(), &hot_id).await?,
        points(store.as_ref(), &new_id).await?,
    ];
    let mut added = [(0u64, 0u64); 2];
    let mut runs = Vec::new();
    for &clients in &args.clients {
        for op in ["readBalance", "addBalance"] {
            // Hot, new, new, hot, each for half the window: a drift of the machine or of the
            // database over the four runs weighs on both customers alike.
            let mut parts: [Vec<Driven>; 2] = Default::default();
            for who in [0, 1, 1, 0] {
                let (name, n) = [("hot", HOT), ("new", NEW)][who];
                eprintln!(
                    "load hooks: {} {op} × {clients} clients, {name} customer",
                    kind.name()
                );
                let d = hooks_run_on(&url, op, clients, n..n + 1, warmup, window / 2).await;
                if op == "addBalance" {
                    added[who].0 += d.ok_total;
                    added[who].1 += d.failed_total;
                }
                parts[who].push(d);
            }
            let [(hot, hot_error), (new, new_error)] = parts.map(merge);
            runs.push(HotRun {
                op: op.to_owned(),
                clients,
                ratio: ratio(&hot, &new),
                first_error: hot_error.or(new_error),
                hot,
                new,
            });
        }
    }
    gateway.shutdown().await;
    let after = [
        points(store.as_ref(), &hot_id).await?,
        points(store.as_ref(), &new_id).await?,
    ];
    store.close().await;
    drop(db);

    let verified: Vec<HotVerified> = ["hot", "new"]
        .into_iter()
        .enumerate()
        .map(|(i, who)| HotVerified {
            customer: who.to_owned(),
            acknowledged: added[i].0,
            failed: added[i].1,
            balance_before: before[i],
            balance_after: after[i],
        })
        .collect();
    for v in &verified {
        check(kind, v)?;
    }
    let target_met = runs.iter().all(|r| r.ratio >= TARGET);
    Ok(HotReport {
        backend: kind,
        seeding,
        runs,
        verified,
        target: TARGET,
        target_met,
    })
}

/// The customer's balance grew by every acknowledged credit of 1, and at most also by the
/// failed ones.
fn check(kind: BackendKind, v: &HotVerified) -> anyhow::Result<()> {
    let growth = v.balance_after - v.balance_before;
    let (low, high) = (
        Decimal::from(v.acknowledged),
        Decimal::from(v.acknowledged + v.failed),
    );
    if growth < low || growth > high {
        bail!(
            "{}: the {} customer's balance grew by {growth} but {} credits were acknowledged \
             ({} failed)",
            kind.name(),
            v.customer,
            v.acknowledged,
            v.failed
        );
    }
    Ok(())
}

/// `hot / new` of the rates; 0 when the new customer's run did nothing.
fn ratio(hot: &ModeSummary, new: &ModeSummary) -> f64 {
    if new.rate_per_s > 0.0 {
        hot.rate_per_s / new.rate_per_s
    } else {
        0.0
    }
}

/// One summary of several measured windows, and the first error of any.
fn merge(parts: Vec<Driven>) -> (ModeSummary, Option<String>) {
    let (mut latencies, mut errors, mut elapsed, mut first_error) =
        (Vec::new(), 0, Duration::ZERO, None);
    for d in parts {
        latencies.extend(d.latencies);
        errors += d.summary.errors;
        elapsed += d.elapsed;
        first_error = first_error.or(d.first_error);
    }
    (ModeSummary::new(latencies, errors, elapsed), first_error)
}

/// The store id of benchmark customer `n`.
async fn id_of(store: &dyn Store, n: u64) -> anyhow::Result<CustomerId> {
    Ok(store
        .get_customer(&CustomerKey::Phone(phone(n)?))
        .await
        .map_err(|e| anyhow!("reading customer {n}: {e}"))?
        .ok_or_else(|| anyhow!("customer {n} is missing"))?
        .id)
}

async fn points(store: &dyn Store, id: &CustomerId) -> anyhow::Result<Decimal> {
    Ok(store
        .balance(id, chrono::Utc::now())
        .await
        .map_err(|e| anyhow!("balance of {id}: {e}"))?
        .points)
}

/// Credits `entries` points of 1 to `id` through the store API, [`SEED_IN_FLIGHT`] at a time.
async fn seed_history(
    store: &Arc<dyn Store>,
    id: &CustomerId,
    entries: u64,
) -> anyhow::Result<Seeding> {
    let started = Instant::now();
    let mut results = futures::stream::iter(0..entries)
        .map(|i| {
            let (store, id) = (store.clone(), id.clone());
            async move {
                let tx = TransactionId::new(format!("hot-seed-{i}"))?;
                let lifetime = i.is_multiple_of(EXPIRING_EVERY).then_some(SEED_LIFETIME);
                let credit = Credit::new(Decimal::ONE, tx, lifetime)?;
                let outcome = store
                    .credit(&id, &credit, WriteOpts::now().no_echo())
                    .await
                    .map_err(|e| anyhow!("seeding credit {i}: {e}"))?;
                if !outcome.applied {
                    bail!("seeding credit {i} was not applied");
                }
                Ok(())
            }
        })
        .buffer_unordered(SEED_IN_FLIGHT);
    let (mut done, step) = (0u64, (entries / 10).max(1));
    while let Some(result) = results.next().await {
        result?;
        done += 1;
        if done.is_multiple_of(step) && done < entries {
            eprintln!(
                "  credited {done}/{entries} ({:.0}/s)",
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(Seeding {
        entries,
        expiring: entries.div_ceil(EXPIRING_EVERY),
        in_flight: SEED_IN_FLIGHT,
        seconds,
        rate_per_s: if seconds > 0.0 {
            entries as f64 / seconds
        } else {
            0.0
        },
    })
}

/// The hot-customer tables, as the in-process and the merged report print them.
pub(crate) fn human(reports: &[HotReport]) -> String {
    let mut s = String::new();
    for r in reports {
        s.push_str(&format!(
            "\nhot customer, {}: {} entries ({} expiring lots) seeded in {:.1} s, {:.0} credits/s \
             ({} in flight)\n{:<12} {:>7} {:>10} {:>9} {:>9} {:>10} {:>9} {:>9} {:>7} {:>7}\n",
            r.backend.name(),
            r.seeding.entries,
            r.seeding.expiring,
            r.seeding.seconds,
            r.seeding.rate_per_s,
            r.seeding.in_flight,
            "op",
            "clients",
            "hot req/s",
            "p50 ms",
            "p99 ms",
            "new req/s",
            "p50 ms",
            "p99 ms",
            "hot/new",
            "errors",
        ));
        for run in &r.runs {
            s.push_str(&format!(
                "{:<12} {:>7} {:>10.0} {:>9.2} {:>9.2} {:>10.0} {:>9.2} {:>9.2} {:>6.2}× {:>7}\n",
                run.op,
                run.clients,
                run.hot.rate_per_s,
                run.hot.p50_ms,
                run.hot.p99_ms,
                run.new.rate_per_s,
                run.new.p50_ms,
                run.new.p99_ms,
                run.ratio,
                run.hot.errors + run.new.errors,
            ));
        }
        for v in &r.verified {
            s.push_str(&format!(
                "{} customer: {} addBalance acknowledged ({} failed), balance {} -> {}\n",
                v.customer, v.acknowledged, v.failed, v.balance_before, v.balance_after
            ));
        }
        s.push_str(&format!(
            "target hot/new ≥ {:.2}: {}\n",
            r.target,
            if r.target_met { "met" } else { "MISSED" }
        ));
    }
    s
}

/// Errors of the hot-customer runs (they fail the benchmark like the plain runs' errors).
pub(crate) fn errors(reports: &[HotReport]) -> u64 {
    reports
        .iter()
        .flat_map(|r| &r.runs)
        .map(|run| run.hot.errors + run.new.errors)
        .sum()
}

/// With `--enforce`: fails when a ratio missed [`TARGET`].
pub(crate) fn enforce(reports: &[HotReport]) -> anyhow::Result<()> {
    let missed: Vec<String> = reports
        .iter()
        .flat_map(|r| r.runs.iter().map(move |run| (r.backend, run)))
        .filter(|(_, run)| run.ratio < TARGET)
        .map(|(backend, run)| {
            format!(
                "{} {} × {}: {:.2}×",
                backend.name(),
                run.op,
                run.clients,
                run.ratio
            )
        })
        .collect();
    if !missed.is_empty() {
        bail!(
            "load hooks --hot-customer: hot/new below {TARGET}: {}",
            missed.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(rate: f64) -> ModeSummary {
        ModeSummary {
            requests: 10,
            rate_per_s: rate,
            ..ModeSummary::default()
        }
    }

    fn report(ratios: &[f64]) -> HotReport {
        HotReport {
            backend: BackendKind::Sqlite,
            seeding: Seeding {
                entries: 10,
                expiring: 1,
                in_flight: SEED_IN_FLIGHT,
                seconds: 1.0,
                rate_per_s: 10.0,
            },
            runs: ratios
                .iter()
                .map(|r| HotRun {
                    op: "readBalance".into(),
                    clients: 4,
                    hot: summary(100.0 * r),
                    new: summary(100.0),
                    ratio: *r,
                    first_error: None,
                })
                .collect(),
            verified: Vec::new(),
            target: TARGET,
            target_met: ratios.iter().all(|r| *r >= TARGET),
        }
    }

    #[test]
    fn the_target_is_enforced_per_ratio_and_the_report_reads_back() {
        assert!(enforce(&[report(&[0.8, 1.3])]).is_ok());
        let err = enforce(&[report(&[0.95, 0.5])]).expect_err("missed");
        assert!(err.to_string().contains("0.50×"), "{err}");
        assert_eq!(ratio(&summary(50.0), &summary(100.0)), 0.5);
        assert_eq!(ratio(&summary(50.0), &summary(0.0)), 0.0);
        let json = serde_json::to_value(report(&[0.9])).expect("json");
        let back: HotReport = serde_json::from_value(json).expect("back");
        assert!(human(&[back]).contains("met"));
    }

    #[test]
    fn growth_outside_the_acknowledged_credits_fails() {
        let v = |after: i64| HotVerified {
            customer: "hot".into(),
            acknowledged: 5,
            failed: 2,
            balance_before: Decimal::from(100),
            balance_after: Decimal::from(after),
        };
        assert!(check(BackendKind::Sqlite, &v(105)).is_ok());
        assert!(check(BackendKind::Sqlite, &v(107)).is_ok());
        assert!(check(BackendKind::Sqlite, &v(104)).is_err());
        assert!(check(BackendKind::Sqlite, &v(108)).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_hot_customer_is_measured_against_a_new_one() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let cli = Cli::try_parse_from([
            "hooks",
            "--hot-customer",
            "300",
            "--clients",
            "4",
            "--seconds",
            "1",
            "--warmup",
            "0",
            "--customers",
            "3",
        ])
        .expect("args");
        let r = phase(&cli.args, BackendKind::Sqlite).await.expect("phase");
        assert_eq!((r.seeding.entries, r.seeding.expiring), (300, 30));
        assert_eq!(r.runs.len(), 2);
        for run in &r.runs {
            assert!(run.hot.requests > 0 && run.new.requests > 0, "{run:?}");
            assert_eq!(run.hot.errors + run.new.errors, 0, "{:?}", run.first_error);
            assert!(run.ratio > 0.0);
        }
        assert_eq!(r.verified[0].balance_before, Decimal::from(300));
        assert_eq!(r.verified[1].balance_before, Decimal::ZERO);
        assert!(r.verified.iter().all(|v| v.acknowledged > 0));
    }
}
