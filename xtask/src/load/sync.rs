//! `cargo xtask load sync` (benchmark 4, quota efficiency): `--changes` balance changes over
//! `--customers` customers arrive through the gateway's REST API (`POST
//! /api/customers/{phone}/credits`, 16 writers); the outbox worker delivers them to the Passquare
//! emulator under the `base` plan (1 request/s and 60 requests/h) compressed `--scale` times.
//!
//! Time compression: every window of the plan is divided by `--scale`, on both sides — the
//! emulator rejects with 429 what the real vendor would, and the adapter is configured with the
//! same plan (`Plan::Custom`), each window lengthened by `--margin` (a fraction) but at least by
//! `--jitter-ms`, so that departures the client spaced exactly are not seen closer by the
//! emulator after loopback and scheduling jitter. The default scale 3,600 turns the hour into
//! 1 s: 60 requests/s sustained, 1 per 0.28 ms at most, so 1,000 customers need ≥ 16.7 s and each
//! scenario stays well under a minute. Compression cannot shrink the jitter (a few hundred µs on
//! loopback, milliseconds on a loaded machine) nor a `Retry-After` (whole seconds: one 429 stalls
//! the sender a compressed hour), so the 1 s window — 0.28 ms here — gets the absolute margin;
//! it only binds in bursts, while the hourly window sets the sustained pace.
//!
//! Two scenarios, each on a fresh database and emulator:
//! - `burst`: all changes are written first, then the worker drains the backlog — the pure
//!   coalescing figure (one request per customer).
//! - `live`: the worker runs while the changes arrive, as in production; a customer flushed
//!   early and changed again is sent again (one request per dirty customer per flush).
//!
//! The worker is `walletport_server::OutboxWorker` with the default `[outbox]` settings, driven
//! here by the same loop as its `run` (flush while there is work, sleep `poll_interval` when
//! idle) so every `FlushReport` is counted. Afterwards every customer's balance at the emulator
//! must equal the store's: the latest state arrived, nothing was lost.
//!
//! `--gateways N` (issue 15) runs N gateways on the one database, each with its own pool,
//! provider and worker and each configured with the whole plan ([`super::sync_gateways`]);
//! `--uneven` sends every write to one of them. The share of the plan then counts only the
//! requests the emulator accepted (`accepted_share`), since a 429 spends nothing of the plan.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde::Serialize;
use walletport_core::CustomerKey;
use walletport_http::{QuotaPlan, QuotaWindow};
use walletport_passquare::{PassquareConfig, Plan};
use walletport_sandbox::QuotaWindow as EmuWindow;
use walletport_sandbox::passquare::{PassquareEmulator, PassquareEmulatorConfig};
use walletport_server::{Gateway, OutboxSection};

use super::backend::{BackendChoice, BackendKind, PgServer, TempDb, phone, seed_customers};
use super::sync_gateways::{Fleet, LimiterChoice, Totals, write_changes};
use super::sync_rate::{RateReport, Sampler};

const APP_KEY: &str = "load-sync-app-key";

/// Arguments of `cargo xtask load sync`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Balance changes (credits) written through the REST API.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub(crate) changes: u64,
    /// Customers the changes are spread over (round robin).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub(crate) customers: u64,
    /// Time compression of the plan: every window divided by this.
    #[arg(long, default_value_t = 3_600.0)]
    pub(crate) scale: f64,
    /// The client-side plan's windows are this fraction longer than the emulator's...
    #[arg(long, default_value_t = 0.02)]
    pub(crate) margin: f64,
    /// ... and at least this many milliseconds longer (jitter does not compress).
    #[arg(long, default_value_t = 5.0)]
    pub(crate) jitter_ms: f64,
    /// `[outbox] batch`: the most outbox items one flush claims (the gateway's default: 100).
    #[arg(long, default_value_t = OutboxSection::default().batch, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) batch: u32,
    /// `[outbox] poll_interval` in milliseconds: how long an idle worker sleeps before it looks
    /// again (the gateway's default: 500).
    #[arg(long, default_value_t = OutboxSection::default().poll_interval.as_millis() as u64, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub(crate) poll_ms: u64,
    /// Which scenarios to run.
    #[arg(long, value_enum, default_value_t = Scenario::Both)]
    pub(crate) scenario: Scenario,
    /// Which store.
    #[arg(long, value_enum, default_value_t = BackendChoice::Sqlite)]
    pub(crate) backend: BackendChoice,
    /// Give up (and fail) when one scenario takes longer than this many seconds.
    #[arg(long, default_value_t = 180, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub(crate) deadline_secs: u64,
    /// The PostgreSQL server the fresh databases are created on.
    #[command(flatten)]
    pub(crate) pg: PgServer,
    /// In-process gateways on the one database, each with its own store pool, provider,
    /// quota limiter and outbox worker, and each configured with the full plan.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub(crate) gateways: u32,
    /// Send every write to gateway 0 (the other gateways' workers still deliver).
    #[arg(long)]
    pub(crate) uneven: bool,
    /// Where each gateway keeps the vendor quota: `shared` (in the store, the default with
    /// several gateways) or `local` (in its transport alone, the default with one).
    #[arg(long, value_enum)]
    pub(crate) limiter: Option<LimiterChoice>,
}

/// `--scenario`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Scenario {
    /// Write everything, then drain.
    Burst,
    /// Write while the worker runs.
    Live,
    /// Both, one after the other.
    Both,
}

impl Scenario {
    fn list(self) -> Vec<Scenario> {
        match self {
            Self::Both => vec![Self::Burst, Self::Live],
            one => vec![one],
        }
    }
}

/// One scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Outcome {
    /// `burst` or `live`.
    pub(crate) scenario: Scenario,
    /// Which store.
    pub(crate) backend: BackendKind,
    /// Changes written (each answered 200, applied).
    pub(crate) changes: u64,
    /// Customers changed.
    pub(crate) customers: u64,
    /// Seconds the writers took.
    pub(crate) write_s: f64,
    /// Requests that reached the emulator (429s included).
    pub(crate) vendor_requests: u64,
    /// What a naive integration sends: one request per change.
    pub(crate) naive_requests: u64,
    /// Non-empty flushes (claims) of the worker.
    pub(crate) flushes: u64,
    /// Sum over flushes of the distinct customers in each: the target for `vendor_requests`.
    pub(crate) dirty_customers_per_flush: u64,
    /// Requests the worker reports sending.
    pub(crate) worker_requests: u64,
    /// HTTP 429s the emulator answered.
    pub(crate) rejected_429: u64,
    /// Outbox items delivered.
    pub(crate) delivered_items: u64,
    /// Rates during the backlog.
    pub(crate) rate: RateReport,
    /// Customers whose balance at the emulator differs from the store's afterwards.
    pub(crate) mismatched_balances: u64,
    /// Gateways on the database.
    pub(crate) gateways: u32,
    /// Whether every write went to gateway 0.
    pub(crate) uneven: bool,
    /// Where the gateways kept the vendor quota.
    pub(crate) limiter: LimiterChoice,
    /// Requests the emulator accepted (not 429) per second over the whole backlog, over the
    /// plan's rate: the share of the plan actually used (equals `rate.backlog_share` without
    /// 429s).
    pub(crate) accepted_share: f64,
    /// Each gateway's worker, gateway 0 first.
    pub(crate) per_gateway: Vec<Totals>,
}

/// The JSON summary.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    /// Always `"load sync"`.
    pub(crate) benchmark: &'static str,
    /// Time compression.
    pub(crate) scale: f64,
    /// The emulator's plan (compressed).
    pub(crate) vendor_plan: String,
    /// The adapter's plan (compressed, with the margin).
    pub(crate) client_plan: String,
    /// The plan's sustained limit in requests per second (the hourly window, compressed).
    pub(crate) plan_rate_per_s: f64,
    /// `[outbox] batch`.
    pub(crate) batch: u32,
    /// The scenarios.
    pub(crate) outcomes: Vec<Outcome>,
}

/// Runs the benchmark; fails on a failed write, a lost change or a deadline.
pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let valid = (1.0..=1e6).contains(&args.scale)
        && (0.0..=0.5).contains(&args.margin)
        && (0.0..=1000.0).contains(&args.jitter_ms);
    if !valid {
        bail!("--scale takes 1..=1e6, --margin 0..=0.5, --jitter-ms 0..=1000");
    }
    let runtime = crate::project::runtime(None)?;
    let plans = Plans::new(args.scale, args.margin, args.jitter_ms)?;
    let mut report = Report {
        benchmark: "load sync",
        scale: args.scale,
        vendor_plan: format!("1/{:?}, 60/{:?}", plans.tick, plans.hour),
        client_plan: plans.client.to_string(),
        plan_rate_per_s: 60.0 / plans.hour.as_secs_f64(),
        batch: args.batch,
        outcomes: Vec::new(),
    };
    for kind in args.backend.kinds() {
        for scenario in args.scenario.list() {
            let deadline = Duration::from_secs(args.deadline_secs);
            let outcome = runtime
                .block_on(async {
                    tokio::time::timeout(deadline, one(args, &plans, kind, scenario)).await
                })
                .map_err(|_| anyhow!("load sync: gave up after {} s", args.deadline_secs))??;
            report.outcomes.push(outcome);
        }
    }
    super::print_report(&human(&report), &report)?;
    for o in &report.outcomes {
        if o.mismatched_balances > 0 {
            bail!(
                "load sync: {} customers' balances differ at the vendor",
                o.mismatched_balances
            );
        }
    }
    Ok(())
}

/// The compressed plan, vendor side and client side.
struct Plans {
    tick: Duration,
    hour: Duration,
    client: QuotaPlan,
}

impl Plans {
    fn new(scale: f64, margin: f64, jitter_ms: f64) -> anyhow::Result<Self> {
        let tick = Duration::from_secs_f64(1.0 / scale);
        let hour = Duration::from_secs_f64(3600.0 / scale);
        let jitter = Duration::from_secs_f64(jitter_ms / 1e3);
        let window = |limit, per: Duration| {
            let longer = per + per.mul_f64(margin).max(jitter);
            QuotaWindow::new(limit, longer).map_err(|e| anyhow!("plan: {e}"))
        };
        let client = QuotaPlan::new([window(1, tick)?, window(60, hour)?]);
        Ok(Self { tick, hour, client })
    }
}

async fn one(
    args: &Args,
    plans: &Plans,
    kind: BackendKind,
    scenario: Scenario,
) -> anyhow::Result<Outcome> {
    eprintln!(
        "load sync: {} {scenario:?} — seeding {} customers",
        kind.name(),
        args.customers
    );
    let db = TempDb::create(kind, &args.pg.url, None).await?;
    let stores = Fleet::open_stores(&db, args.gateways).await?;
    seed_customers(&stores[0], args.customers, 16).await?;
    let emu_config = PassquareEmulatorConfig {
        app_key: APP_KEY.into(),
        quota: vec![
            EmuWindow {
                limit: 1,
                per: plans.tick,
            },
            EmuWindow {
                limit: 60,
                per: plans.hour,
            },
        ],
        ..PassquareEmulatorConfig::default()
    };
    let vendor = Vendor::start(emu_config)?;
    let emu = vendor.emu.clone();
    let mut pq = PassquareConfig::new(APP_KEY);
    pq.base_url = vendor.base_url.clone();
    // Every gateway gets the vendor's whole plan: no split by hand.
    pq.plan = Plan::Custom(plans.client.clone());
    let outbox = OutboxSection {
        batch: args.batch,
        poll_interval: Duration::from_millis(args.poll_ms),
        ..OutboxSection::default()
    };
    let limiter = LimiterChoice::or_default(args.limiter, args.gateways);
    let fleet = Fleet::start(stores, &pq, limiter).await?;
    let apis = fleet.apis();
    let store = fleet.members[0].store.clone();

    let sampler = Sampler::start(emu.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut write_s = 0.0;
    if scenario == Scenario::Burst {
        write_s = write_changes(&apis, args.uneven, args.changes, args.customers).await?;
    }
    let started = Instant::now();
    let workers = fleet.spawn_workers(&outbox, &stopped);
    if scenario == Scenario::Live {
        write_s = write_changes(&apis, args.uneven, args.changes, args.customers).await?;
    }
    let writes_done = sampler.elapsed();
    // Drained when every item is delivered (none dead: the emulator has no faults here).
    loop {
        let stats = store
            .outbox_stats(chrono::Utc::now())
            .await
            .map_err(|e| anyhow!("outbox stats: {e}"))?;
        if stats.depth == 0 && stats.dead == 0 {
            break;
        }
        if stats.dead > 0 {
            bail!("{} outbox items went to the dead letters", stats.dead);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send_replace(true);
    let mut per_gateway = Vec::new();
    for w in workers {
        per_gateway.push(w.await.context("a worker task")??);
    }
    let totals = Totals::sum(&per_gateway);
    let drained_s = started.elapsed().as_secs_f64();
    let samples = sampler.stop().await;
    let plan_rate = 60.0 / plans.hour.as_secs_f64();
    let rate = RateReport::from_samples(&samples, plans.hour, plan_rate, drained_s, writes_done);
    let rejected = emu.quota_rejections();
    let accepted_share = if drained_s > 0.0 {
        rate.requests.saturating_sub(rejected) as f64 / drained_s / plan_rate
    } else {
        0.0
    };
    let mismatched = mismatches(&fleet.members[0].gw, &emu, args.customers).await?;
    fleet.shutdown().await;
    drop(db);
    drop(vendor);
    Ok(Outcome {
        scenario,
        backend: kind,
        changes: args.changes,
        customers: args.customers.min(args.changes),
        write_s,
        vendor_requests: emu.request_count() as u64,
        naive_requests: args.changes,
        flushes: totals.flushes,
        dirty_customers_per_flush: totals.customers,
        worker_requests: totals.requests,
        rejected_429: rejected,
        delivered_items: totals.delivered,
        rate,
        mismatched_balances: mismatched,
        gateways: args.gateways,
        uneven: args.uneven,
        limiter,
        accepted_share,
        per_gateway,
    })
}

/// The vendor emulator on a runtime of its own (another thread), as a vendor is another machine:
/// the gateway's load then does not delay when the emulator sees a request arrive.
struct Vendor {
    base_url: String,
    emu: PassquareEmulator,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Vendor {
    fn start(config: PassquareEmulatorConfig) -> anyhow::Result<Self> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("vendor-emulator".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow!("emulator runtime: {e}")));
                        return;
                    }
                };
                rt.block_on(async move {
                    match PassquareEmulator::spawn(config, ([127, 0, 0, 1], 0).into()).await {
                        Ok((server, emu)) => {
                            let _ = ready_tx.send(Ok((server.base_url(), emu)));
                            let _ = stopped.await;
                            drop(server);
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(anyhow!("starting the emulator: {e}")));
                        }
                    }
                });
            })
            .context("spawning the emulator thread")?;
        let (base_url, emu) = ready_rx
            .recv()
            .map_err(|_| anyhow!("the emulator thread ended early"))??;
        Ok(Self {
            base_url,
            emu,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Vendor {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Customers whose balance at the emulator is not the store's.
async fn mismatches(gw: &Gateway, emu: &PassquareEmulator, customers: u64) -> anyhow::Result<u64> {
    let now = gw.now();
    let mut bad = 0;
    for n in 0..customers {
        let p = phone(n)?;
        let stored = gw
            .store
            .get_customer(&CustomerKey::Phone(p.clone()))
            .await
            .map_err(|e| anyhow!("customer {n}: {e}"))?
            .ok_or_else(|| anyhow!("customer {n} missing"))?;
        let balance = gw
            .store
            .balance(&stored.id, now)
            .await
            .map_err(|e| anyhow!("balance {n}: {e}"))?;
        let at_vendor = emu.customer(p.as_str()).map(|c| c.balance);
        if at_vendor.map(|b| b.normalize()) != Some(balance.points.normalize()) {
            bad += 1;
        }
    }
    Ok(bad)
}

fn human(r: &Report) -> String {
    let mut s = format!(
        "\nload sync: base plan ×{} (vendor {}, client {}), plan limit {:.1} req/s, outbox batch {}\n",
        r.scale, r.vendor_plan, r.client_plan, r.plan_rate_per_s, r.batch
    );
    for o in &r.outcomes {
        s.push_str(&format!(
            "{:?}/{}: {} changes over {} customers (written in {:.1} s): {} vendor requests \
             (naive {}), {} flushes with {} dirty customers in all, {} × 429; drained in {:.1} s: \
             {:.1} req/s = {:.1}% of plan over the whole backlog; from the first request \
             {:.1}%, steady state {:.1}%, after the writes {:.1}%; busiest window {}; {} balance \
             mismatches\n",
            o.scenario,
            o.backend.name(),
            o.changes,
            o.customers,
            o.write_s,
            o.vendor_requests,
            o.naive_requests,
            o.flushes,
            o.dirty_customers_per_flush,
            o.rejected_429,
            o.rate.drained_s,
            o.rate.backlog_rate_per_s,
            o.rate.backlog_share * 100.0,
            o.rate.overall_share * 100.0,
            o.rate.steady_share * 100.0,
            o.rate.after_writes_share * 100.0,
            o.rate.busiest_window,
            o.mismatched_balances
        ));
        if o.gateways > 1 || o.limiter == LimiterChoice::Shared {
            let each: Vec<String> = o
                .per_gateway
                .iter()
                .map(|t| format!("{} requests/{} items", t.requests, t.delivered))
                .collect();
            s.push_str(&format!(
                "  {} gateways, {:?} limiter, writes {}: accepted requests {:.1}% of plan over the backlog; \
                 per worker {}\n",
                o.gateways,
                o.limiter,
                if o.uneven {
                    "all to gateway 0"
                } else {
                    "spread"
                },
                o.accepted_share * 100.0,
                each.join(", ")
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(scenario: Scenario) -> Args {
        Args {
            changes: 200,
            customers: 20,
            scale: 3_600.0,
            margin: 0.02,
            // Wider than the command's 5 ms: the tests share 2 CPUs with each other and with
            // builds, and a 429 from loopback jitter would fail them for no fault of the code.
            jitter_ms: 15.0,
            batch: OutboxSection::default().batch,
            poll_ms: OutboxSection::default().poll_interval.as_millis() as u64,
            scenario,
            backend: BackendChoice::Sqlite,
            deadline_secs: 60,
            pg: PgServer { url: String::new() },
            gateways: 1,
            uneven: false,
            limiter: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_backlog_costs_one_request_per_customer_and_no_429() {
        let args = small(Scenario::Burst);
        let plans = Plans::new(args.scale, args.margin, args.jitter_ms).expect("plan");
        let o = one(&args, &plans, BackendKind::Sqlite, Scenario::Burst)
            .await
            .expect("run");
        assert_eq!(o.delivered_items, 200);
        assert_eq!(o.dirty_customers_per_flush, 20);
        assert_eq!(o.vendor_requests, 20, "{o:?}");
        assert_eq!(o.rejected_429, 0);
        assert_eq!(o.mismatched_balances, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn three_gateways_on_one_postgres_database_deliver_every_change() {
        let args = Args {
            gateways: 3,
            uneven: true,
            backend: BackendChoice::Postgres,
            pg: PgServer {
                url: "postgres://postgres@127.0.0.1:5432".into(),
            },
            ..small(Scenario::Live)
        };
        let plans = Plans::new(args.scale, args.margin, args.jitter_ms).expect("plan");
        let o = one(&args, &plans, BackendKind::Postgres, Scenario::Live)
            .await
            .expect("run");
        assert_eq!(o.limiter, LimiterChoice::Shared);
        assert_eq!(o.per_gateway.len(), 3);
        assert_eq!(o.delivered_items, 200, "{o:?}");
        assert_eq!(o.mismatched_balances, 0, "{o:?}");
        assert_eq!(
            o.rejected_429, 0,
            "one plan shared by three gateways: {o:?}"
        );
    }
}
