//! `cargo xtask load hooks` (benchmarks 3 and 5): Passquare CRM hooks into the gateway over
//! real HTTP, beside a plain durable insert per request straight into the same database.
//!
//! Per backend (a temp SQLite file; a fresh PostgreSQL database, dropped afterwards): the gateway
//! runs in this process (`walletport_server::start_on`, `memory` provider, Passquare hooks on,
//! default store options as `walletport serve` uses), `--customers` customers are seeded through
//! the store API, and for each `--clients` count the clients — each its own keep-alive `reqwest`
//! connection — send `readBalance`, then `addBalance` (unique transaction ids, amount 1) for
//! `--seconds` after a warm-up. Every `addBalance` that got a 2xx must be in the ledger: the sum
//! of all balances must grow by exactly the acknowledged credits. The baseline ([`baseline`])
//! does one `BEGIN; INSERT; COMMIT` per credit at the same concurrency.
//!
//! Memory (benchmark 5): the peak RSS (`VmHWM`, reset per phase) of this process — gateway,
//! store and the load clients together — during each backend's hook phase, and with
//! `--rss-customers` customers in the store while serving ([`serving_memory`]).
//!
//! `--hot-customer N` adds a part per backend ([`hot_customer`]): the same hooks aimed at one
//! customer with `N` ledger entries and at a new one (`--hot-only`: that part alone).
//!
//! [`baseline`]: super::baseline
//! [`hot_customer`]: super::hot_customer
//! [`serving_memory`]: super::serving_memory

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use serde::Serialize;
use walletport_core::{CustomerKey, Decimal};
use walletport_store::Store;

use super::backend::{BackendKind, TempDb, phone, seed_customers};
use super::baseline::Baseline;
use super::child_processes::run_parts;
use super::drive::{Driven, drive};
use super::gateway::{hooks_run, run_tag, start_gateway};
use super::hooks_args::{Args, Phase};
use super::hot_customer::{self, HotReport};
use super::rss::{self, Memory};
use super::serving_memory;
use super::stats::{ModeSummary, table_header, table_row};

/// The most connections the baseline opens to PostgreSQL (its default `max_connections` is 100).
const BASELINE_PG_CONNECTIONS: usize = 64;

/// One measured run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Run {
    /// `sqlite` or `postgres`.
    pub(crate) backend: BackendKind,
    /// `readBalance`, `addBalance`, or `baseline insert`.
    pub(crate) op: &'static str,
    /// Concurrent clients.
    pub(crate) clients: usize,
    /// Rates and latencies.
    #[serde(flatten)]
    pub(crate) summary: ModeSummary,
    /// The first failure, if any.
    pub(crate) first_error: Option<String>,
}

/// The durability check of one backend's credits.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Verified {
    /// Which store.
    pub(crate) backend: BackendKind,
    /// `addBalance` hooks answered 2xx (warm-ups included).
    pub(crate) acknowledged: u64,
    /// `addBalance` hooks that failed (these may or may not have been applied).
    pub(crate) failed: u64,
    /// How much the sum of all balances grew (each credit is 1 point).
    pub(crate) ledger_growth: Decimal,
    /// Baseline inserts acknowledged and rows found.
    pub(crate) baseline_acknowledged: u64,
    /// Rows in the baseline table.
    pub(crate) baseline_rows: i64,
}

/// The JSON summary.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    /// Always `"load hooks"`.
    pub(crate) benchmark: &'static str,
    /// CPUs this process may use.
    pub(crate) cpus: usize,
    /// Measured seconds per run.
    pub(crate) seconds: u64,
    /// Customers the hooks cycle through.
    pub(crate) customers: u64,
    /// Every run.
    pub(crate) runs: Vec<Run>,
    /// The durability checks.
    pub(crate) verified: Vec<Verified>,
    /// Benchmark 5.
    pub(crate) memory: Vec<Memory>,
    /// `--hot-customer`: one customer with a long history against a new one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) hot_customer: Vec<HotReport>,
}

/// Runs the benchmark; fails when a request failed or an acknowledged credit is missing.
pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    if args.clients.is_empty() || args.clients.iter().any(|c| *c == 0 || *c > 1024) {
        bail!("--clients takes values 1..=1024");
    }
    if args.hot_only && args.hot_customer == 0 {
        bail!("--hot-only needs --hot-customer N");
    }
    if args.phase == Phase::All {
        return run_parts(args);
    }
    let runtime = crate::project::runtime(None)?;
    let report = runtime.block_on(measure(args))?;
    super::print_report(&human(&report), &report)?;
    let errors: u64 = report.runs.iter().map(|r| r.summary.errors).sum::<u64>()
        + hot_customer::errors(&report.hot_customer);
    if errors > 0 {
        bail!("load hooks: {errors} request(s) failed; see `first_error` above");
    }
    if args.enforce {
        hot_customer::enforce(&report.hot_customer)?;
    }
    Ok(())
}

async fn measure(args: &Args) -> anyhow::Result<Report> {
    let mut report = Report {
        benchmark: "load hooks",
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        seconds: args.seconds,
        customers: args.customers,
        runs: Vec::new(),
        verified: Vec::new(),
        memory: Vec::new(),
        hot_customer: Vec::new(),
    };
    for kind in args.backend.kinds() {
        match args.phase {
            Phase::Hooks | Phase::All => backend_phase(args, kind, &mut report).await?,
            Phase::Memory => {
                let m = serving_memory::phase(args, kind).await?;
                report.memory.push(m);
            }
            Phase::Hot => {
                let h = hot_customer::phase(args, kind).await?;
                report.hot_customer.push(h);
            }
        }
    }
    Ok(report)
}

async fn backend_phase(args: &Args, kind: BackendKind, report: &mut Report) -> anyhow::Result<()> {
    eprintln!(
        "load hooks: {} — seeding {} customers",
        kind.name(),
        args.customers
    );
    let db = TempDb::create(kind, &args.pg.url, None).await?;
    let store = db.open_store(args.store_connections).await?;
    seed_customers(&store, args.customers, 16).await?;
    let gateway = start_gateway(store.clone()).await?;
    let url = format!("{}/hooks/passquare", gateway.base_url());
    let peak_reset = rss::reset_peak();
    let before = rss::read();
    let (warmup, window) = (
        Duration::from_secs(args.warmup),
        Duration::from_secs(args.seconds),
    );
    let sum_before = balance_sum(store.as_ref(), args.customers).await?;
    let (mut acknowledged, mut failed) = (0, 0);
    let max_clients = args.clients.iter().copied().max().unwrap_or(1);
    // One connection per client, except that PostgreSQL allows 100 in all (other users too).
    let connections = match kind {
        BackendKind::Sqlite => max_clients,
        BackendKind::Postgres => max_clients.min(BASELINE_PG_CONNECTIONS),
    };
    for &clients in &args.clients {
        for op in ["readBalance", "addBalance"] {
            eprintln!("load hooks: {} {op} × {clients} clients", kind.name());
            let d = hooks_run(&url, op, clients, args.customers, warmup, window).await;
            if op == "addBalance" {
                acknowledged += d.ok_total;
                failed += d.failed_total;
            }
            report.runs.push(run_of(kind, op, clients, d));
        }
    }
    let after = rss::read();
    gateway.shutdown().await;
    let sum_after = balance_sum(store.as_ref(), args.customers).await?;
    // The baseline after the gateway, so the gateway's peak RSS does not include its pool.
    let baseline_reset = rss::reset_peak();
    let baseline_before = rss::read();
    let baseline = Baseline::open(kind, &db.url, u32::try_from(connections).unwrap_or(64)).await?;
    let (mut baseline_ack, mut baseline_failed) = (0, 0);
    for &clients in &args.clients {
        eprintln!(
            "load hooks: {} baseline insert × {clients} clients",
            kind.name()
        );
        let d = baseline_run(&baseline, clients, args.customers, warmup, window).await;
        baseline_ack += d.ok_total;
        baseline_failed += d.failed_total;
        report
            .runs
            .push(run_of(kind, "baseline insert", clients, d));
    }
    let baseline_after = rss::read();
    let baseline_rows = baseline.rows().await?;
    baseline.close().await;
    store.close().await;
    let verified = Verified {
        backend: kind,
        acknowledged,
        failed,
        ledger_growth: sum_after - sum_before,
        baseline_acknowledged: baseline_ack,
        baseline_rows,
    };
    check(&verified, baseline_failed)?;
    report.verified.push(verified);
    report.memory.push(Memory {
        backend: kind,
        phase: format!(
            "gateway serving the hook runs ({} customers, clients {:?}; the load clients share \
             the process)",
            args.customers, args.clients
        ),
        before,
        after,
        peak_reset,
    });
    report.memory.push(Memory {
        backend: kind,
        phase: format!(
            "baseline: plain inserts, clients {:?}, {connections} connections",
            args.clients
        ),
        before: baseline_before,
        after: baseline_after,
        peak_reset: baseline_reset,
    });
    drop(db);
    Ok(())
}

/// Every acknowledged credit is in the ledger exactly once; failed ones at most once.
fn check(v: &Verified, baseline_failed: u64) -> anyhow::Result<()> {
    let low = Decimal::from(v.acknowledged);
    let high = Decimal::from(v.acknowledged + v.failed);
    if v.ledger_growth < low || v.ledger_growth > high {
        bail!(
            "{}: the ledger grew by {} but {} credits were acknowledged ({} failed)",
            v.backend.name(),
            v.ledger_growth,
            v.acknowledged,
            v.failed
        );
    }
    let rows = u64::try_from(v.baseline_rows).unwrap_or(0);
    if rows < v.baseline_acknowledged || rows > v.baseline_acknowledged + baseline_failed {
        bail!(
            "{}: the baseline table has {rows} rows for {} acknowledged inserts",
            v.backend.name(),
            v.baseline_acknowledged
        );
    }
    Ok(())
}

fn run_of(backend: BackendKind, op: &'static str, clients: usize, d: Driven) -> Run {
    Run {
        backend,
        op,
        clients,
        summary: d.summary,
        first_error: d.first_error,
    }
}

/// The sum of the balances of customers `0..count`.
pub(crate) async fn balance_sum(store: &dyn Store, count: u64) -> anyhow::Result<Decimal> {
    let now = chrono::Utc::now();
    let mut sum = Decimal::ZERO;
    for n in 0..count {
        let customer = store
            .get_customer(&CustomerKey::Phone(phone(n)?))
            .await
            .map_err(|e| anyhow!("reading customer {n}: {e}"))?
            .ok_or_else(|| anyhow!("customer {n} is missing"))?;
        let balance = store
            .balance(&customer.id, now)
            .await
            .map_err(|e| anyhow!("balance of customer {n}: {e}"))?;
        sum += balance.points;
    }
    Ok(sum)
}

async fn baseline_run(
    baseline: &Baseline,
    clients: usize,
    customers: u64,
    warmup: Duration,
    window: Duration,
) -> Driven {
    let run: Arc<str> = Arc::from(format!("{clients}-{}", run_tag()));
    drive(
        clients,
        warmup,
        window,
        |_| baseline.clone(),
        move |b: Baseline, n| {
            let run = run.clone();
            async move {
                let customer = format!("customer-{}", n % customers);
                b.credit(&customer, &format!("base-{run}-{n}")).await
            }
        },
    )
    .await
}

fn human(r: &Report) -> String {
    let mut s = format!(
        "\nload hooks: {} CPUs, {} s per run, {} customers\n{}",
        r.cpus,
        r.seconds,
        r.customers,
        table_header()
    );
    if r.runs.is_empty() {
        s.clear();
    }
    for run in &r.runs {
        s.push_str(&table_row(
            run.backend.name(),
            run.op,
            run.clients as u64,
            &run.summary,
        ));
    }
    for v in &r.verified {
        s.push_str(&format!(
            "{}: {} credits acknowledged, ledger grew by {}; baseline {} acknowledged, {} rows\n",
            v.backend.name(),
            v.acknowledged,
            v.ledger_growth,
            v.baseline_acknowledged,
            v.baseline_rows
        ));
    }
    s.push_str(&hot_customer::human(&r.hot_customer));
    for m in &r.memory {
        s.push_str(&format!(
            "memory {} [{}]: RSS {:.1} MiB before, {:.1} MiB after, peak {:.1} MiB{}\n",
            m.backend.name(),
            m.phase,
            m.before.rss_mib,
            m.after.rss_mib,
            m.after.peak_mib,
            if m.peak_reset {
                ""
            } else {
                " (peak not resettable: whole process)"
            }
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acknowledged_hook_credits_are_in_the_ledger() {
        let db = TempDb::create(BackendKind::Sqlite, "", None)
            .await
            .expect("db");
        let store = db.open_store(8).await.expect("store");
        seed_customers(&store, 10, 4).await.expect("seed");
        let gateway = start_gateway(store.clone()).await.expect("gateway");
        let url = format!("{}/hooks/passquare", gateway.base_url());
        let window = Duration::from_millis(300);
        let read = hooks_run(&url, "readBalance", 4, 10, Duration::ZERO, window).await;
        assert!(
            read.summary.requests > 0 && read.summary.errors == 0,
            "{read:?}"
        );
        let add = hooks_run(&url, "addBalance", 4, 10, Duration::ZERO, window).await;
        assert!(add.ok_total > 0 && add.failed_total == 0, "{add:?}");
        gateway.shutdown().await;
        let sum = balance_sum(store.as_ref(), 10).await.expect("sum");
        assert_eq!(sum, Decimal::from(add.ok_total));
        let baseline = Baseline::open(BackendKind::Sqlite, &db.url, 4)
            .await
            .expect("baseline");
        let d = baseline_run(&baseline, 4, 10, Duration::ZERO, window).await;
        assert_eq!(baseline.rows().await.expect("rows"), d.ok_total as i64);
        baseline.close().await;
        store.close().await;
    }
}
