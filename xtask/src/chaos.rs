//! `cargo xtask chaos`: crash the gateway under load and check that nothing acknowledged is lost
//! and nothing is counted twice.
//!
//! It runs the real `walletport serve` binary on loopback with a temporary SQLite database and a
//! vendor emulator (`--vendor passquare|passteam|skycore`, in this process, with 5% injected
//! 503s) as the vendor the outbox delivers to. Clients send REST credits with unique transaction
//! ids, some of them repeated, on Passquare `addBalance` hooks for half of the customers, and REST
//! redemptions (`--redeem-share` of the new operations, REST customers only); `--rounds` times
//! the server is killed with SIGKILL at a random moment and started again. Every 2xx answer that
//! reports a balance must report one of at least zero, and a `delta` of the amount. Then, with the
//! load stopped:
//!
//! 1. each customer's balance lies in the window the book allows: acknowledged credits less
//!    acknowledged redemptions, widened by every attempt the crashes cut (a redemption answered
//!    409 `insufficient_points` counts as not applied), and is not negative;
//! 2. every acknowledged REST credit, sent again, is answered `applied: false` (it is in the
//!    ledger); every unacknowledged credit is probed the same way (hooks: balance before/after),
//!    which also applies it if it was lost — so afterwards every credit is there exactly once;
//!    then every redemption is sent again, which tells whether it is in the ledger (and applies a
//!    lost one, points allowing), so afterwards every operation's state is known;
//! 3. each customer's balance equals its credits less its applied redemptions (a credit or
//!    redemption counted twice, or an acknowledged one lost, breaks the sum), and the ledger the
//!    API serves (`GET /api/customers/{key}/ledger`) adds up to it, never dips below zero, and
//!    holds each operation exactly once;
//! 4. the outbox drains: nothing pending, nothing dead-lettered, and the vendor shows every
//!    API-credited customer's CRM balance (deliveries carry absolute state, so a repeated delivery
//!    changes nothing; a lost or reordered one would show), while hook credits are not echoed;
//! 5. the last server stops gracefully on SIGTERM.
//!
//! Bounded: the rounds, a deadline on every wait, and a timeout on every request; the server
//! process is killed when this task ends, whatever the outcome.
//!
//! `--gateways N` (N > 1, issue 15) runs N `walletport serve` processes on one fresh PostgreSQL
//! database (created on `--pg`, dropped afterwards) instead of one on SQLite; client `i` talks to
//! gateway `i mod N` (to another live one while it is down), and each round SIGKILLs one gateway
//! picked at random and restarts it. The vendor emulator (any of the three) then enforces `--plan`
//! with its vendor's rate-limit answer, and every gateway is configured with that same whole plan
//! (each window `--margin-ms` longer, for jitter), and the audit adds: the emulator answered no
//! 429 — counted overall and after each restart (up to the next kill, or the end of the drain).

mod audit;
mod client;
mod history;
mod ledger;
mod quota;
mod server;
mod vendor;
mod verify;
mod wire;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::load::backend::{BackendKind, PgServer, TempDb};
use audit::audit;
use client::{Plan, client};
use ledger::{Book, Kind, Via};
use quota::QuotaLog;
use server::{Server, build, write_config};
use vendor::{Vendor, VendorKind};
use wire::{Answer, Rng, request};

const CRM_KEY: &str = "chaos-crm-key-91ce";
const API_TOKEN: &str = "chaos-api-token-6b05";
/// How long a server may take to announce its address after start.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the outbox may take to drain after the load stops.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Arguments of `cargo xtask chaos`.
#[derive(Debug, Clone, clap::Args)]
#[command(mut_arg("url", |pg| pg.help(
    "With `--gateways` > 1: the PostgreSQL server (no database name; a fresh database is created \
     and dropped)"
)))]
pub(crate) struct Args {
    /// How many times the server is killed (SIGKILL) and restarted.
    #[arg(long, default_value_t = 3)]
    pub(crate) rounds: u32,
    /// The longest a server lives under load before it is killed (each kill comes at a random
    /// moment between a tenth of this and all of it).
    #[arg(long, default_value_t = 12)]
    pub(crate) seconds: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    pub(crate) clients: usize,
    /// Customers (half credited by hooks, half by the REST API).
    #[arg(long, default_value_t = 40)]
    pub(crate) customers: usize,
    /// The share of new operations that are REST redemptions (of 1.00–19.99 points, one in ten
    /// of 100.00–999.99, against credits of 1.00–99.99); 0 sends none.
    #[arg(long, default_value_t = 0.2)]
    pub(crate) redeem_share: f64,
    /// Seed of the random choices (time-based when absent; printed either way).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Use this `walletport` binary instead of building `walletport-cli`.
    #[arg(long)]
    pub(crate) bin: Option<PathBuf>,
    /// The vendor whose emulator the gateway delivers to.
    #[arg(long, value_enum, default_value = "passquare")]
    pub(crate) vendor: VendorKind,
    /// Keep the work directory (database, config, server logs) even when the run passes.
    #[arg(long)]
    pub(crate) keep: bool,
    /// Gateways (`walletport serve` processes) on one database; more than one runs them on a
    /// fresh PostgreSQL database with the vendor's plan enforced by its emulator (every vendor).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub(crate) gateways: u32,
    /// With `--gateways` > 1: the plan the emulator enforces and every gateway is configured
    /// with (whole, not split).
    #[arg(long, default_value = "10/s")]
    pub(crate) plan: String,
    /// With `--gateways` > 1: each window of the gateways' plan is this many milliseconds longer
    /// than the emulator's, for the jitter between a slot's grant and the request's arrival at
    /// the vendor (the convention of `walletport_http::QuotaLimiter`); 0 configures the very same
    /// plan.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub(crate) margin_ms: u64,
    /// The PostgreSQL server the fresh databases are created on.
    #[command(flatten)]
    pub(crate) pg: PgServer,
}

impl Args {
    /// The plan the emulator enforces: only with several gateways (the single-gateway run keeps
    /// an unlimited vendor and a `200/s` gateway plan).
    fn enforced_plan(&self) -> anyhow::Result<Option<walletport_http::QuotaPlan>> {
        if self.gateways < 2 {
            return Ok(None);
        }
        let plan = walletport_http::QuotaPlan::parse(&self.plan)
            .map_err(|e| anyhow!("--plan {:?}: {e}", self.plan))?;
        if plan.is_unlimited() {
            bail!("--plan must name at least one window");
        }
        Ok(Some(plan))
    }
}

/// Builds (or takes) the binary and runs the chaos scenario; an error when any promise broke.
pub(crate) fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    if args.rounds == 0 || args.seconds == 0 || args.clients == 0 || args.customers < 2 {
        bail!("--rounds, --seconds and --clients must be positive and --customers at least 2");
    }
    if !(0.0..=0.5).contains(&args.redeem_share) {
        bail!("--redeem-share takes 0 to 0.5");
    }
    args.enforced_plan()?;
    let bin = match &args.bin {
        Some(b) => b.clone(),
        None => build(root)?,
    };
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let dir = std::env::temp_dir().join(format!("walletport-chaos-{}-{seed}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    eprintln!("chaos: seed {seed}, work dir {}", dir.display());
    let runtime = crate::project::runtime(Some(2))?;
    let started = Instant::now();
    let result = runtime.block_on(chaos(&bin, &dir, args, seed));
    match &result {
        Ok(summary) => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", serde_json::to_string_pretty(summary)?)?;
            eprintln!("chaos: passed in {:.1}s", started.elapsed().as_secs_f64());
            if !args.keep {
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
        Err(_) => eprintln!(
            "chaos: FAILED; database, config and server logs kept in {}",
            dir.display()
        ),
    }
    result.map(|_| ())
}

fn phone(customer: usize) -> String {
    format!("+4207300{customer:05}")
}

/// With hooks (Passquare), even customers are credited by hooks, odd ones by the REST API;
/// without, every customer by the REST API.
fn via_of(customer: usize, hooks: bool) -> Via {
    if hooks && customer.is_multiple_of(2) {
        Via::Hook
    } else {
        Via::Api
    }
}

/// Each gateway's address, or `None` while it is down.
type Live = Arc<RwLock<Vec<Option<SocketAddr>>>>;

/// The gateway client `id` talks to: its own (`id mod N`), or while that one is down the next
/// live one, or `None` while all are down.
fn live(addr: &Live, id: usize) -> Option<SocketAddr> {
    let all = addr
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let n = all.len().max(1);
    (0..n).find_map(|k| all.get((id + k) % n).copied().flatten())
}

fn set_live(addr: &Live, gateway: usize, value: Option<SocketAddr>) {
    if let Some(slot) = addr
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get_mut(gateway)
    {
        *slot = value;
    }
}

/// `plan` with every window `margin` longer.
fn with_margin(
    plan: &walletport_http::QuotaPlan,
    margin: Duration,
) -> anyhow::Result<walletport_http::QuotaPlan> {
    let windows = plan.windows().iter().map(|w| {
        walletport_http::QuotaWindow::new(w.limit(), w.per() + margin)
            .map_err(|e| anyhow!("plan with margin: {e}"))
    });
    Ok(walletport_http::QuotaPlan::new(
        windows.collect::<anyhow::Result<Vec<_>>>()?,
    ))
}

/// The log name of gateway `g`'s `life`-th process (`serve-LIFE` with a single gateway).
fn log_name(gateways: u32, g: usize, life: u32) -> String {
    if gateways > 1 {
        format!("serve-g{g}-{life}")
    } else {
        format!("serve-{life}")
    }
}

/// Sends `call` until a 2xx comes back (bounded): setup and verification run against a live
/// server, where a failure is a finding only if it persists.
async fn until_ok<F>(what: &str, call: impl Fn() -> F) -> anyhow::Result<Answer>
where
    F: std::future::Future<Output = anyhow::Result<Answer>>,
{
    until(what, "success", Answer::ok, call).await
}

/// Sends `call` until a definite answer comes back (bounded): anything but a 5xx or no answer.
async fn until_answered<F>(what: &str, call: impl Fn() -> F) -> anyhow::Result<Answer>
where
    F: std::future::Future<Output = anyhow::Result<Answer>>,
{
    until(what, "answer", |a| a.status < 500, call).await
}

/// Sends `call` every 50 ms until `done` takes its answer, for at most 30 s; the error names
/// `what`, the `wanted` answer and the last one seen.
async fn until<F>(
    what: &str,
    wanted: &str,
    done: impl Fn(&Answer) -> bool,
    call: impl Fn() -> F,
) -> anyhow::Result<Answer>
where
    F: std::future::Future<Output = anyhow::Result<Answer>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = match call().await {
            Ok(a) if done(&a) => return Ok(a),
            Ok(a) => format!("{} {}", a.status, a.body),
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() > deadline {
            bail!("{what}: no {wanted} within 30s (last: {last})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn balance(addr: SocketAddr, customer: usize) -> anyhow::Result<Decimal> {
    let path = format!("/api/customers/{}/balance", phone(customer));
    let a = until_ok("balance", || {
        request(addr, "GET", &path, Some(API_TOKEN), None)
    })
    .await?;
    a.body["points"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| anyhow!("balance answer without points: {}", a.body))
}

/// Waits (bounded) until the outbox has nothing pending.
async fn wait_for_drain(target: SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    loop {
        let a = until_ok("listing the outbox", || {
            request(
                target,
                "GET",
                "/api/outbox?list=pending&limit=1",
                Some(API_TOKEN),
                None,
            )
        })
        .await?;
        if a.body["items"].as_array().is_some_and(Vec::is_empty) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the outbox did not drain within {DRAIN_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn chaos(bin: &Path, dir: &Path, args: &Args, seed: u64) -> anyhow::Result<Value> {
    let mut rng = Rng::new(seed);
    let enforced = args.enforced_plan()?;
    let gateway_plan = match &enforced {
        Some(plan) => Some(with_margin(plan, Duration::from_millis(args.margin_ms))?),
        None => None,
    };
    let plans = enforced.as_ref().zip(gateway_plan.as_ref());
    let vendor = Vendor::start(args.vendor, seed, plans).await?;
    let hooks = vendor.has_hooks();
    eprintln!("chaos: vendor {:?}", args.vendor);
    // Several gateways share one PostgreSQL database, dropped when `_pg` goes.
    let _pg = match args.gateways {
        1 => None,
        _ => Some(TempDb::create(BackendKind::Postgres, &args.pg.url, None).await?),
    };
    let database = match &_pg {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}?mode=rwc", dir.join("chaos.db").display()),
    };
    let config = write_config(dir, &vendor, &database)?;
    let mut servers = Vec::new();
    for g in 0..args.gateways as usize {
        servers.push(Server::start(
            bin,
            dir,
            &config,
            &log_name(args.gateways, g, 0),
        )?);
    }
    if let Some((plan, theirs)) = plans {
        eprintln!(
            "chaos: {} gateways on PostgreSQL, the vendor enforcing {plan}, each gateway \
             configured with the whole plan ({theirs})",
            args.gateways
        );
    }
    let server = &servers[0];
    for c in 0..args.customers {
        let body = json!({"phone": phone(c), "name": format!("Chaos {c}")});
        until_ok("creating customers", || {
            request(
                server.addr,
                "POST",
                "/api/customers",
                Some(API_TOKEN),
                Some(&body),
            )
        })
        .await?;
    }

    // The customers reach the vendor before the load starts: a delivery carries the customer's
    // state at send time, so from here on the vendor must only see API credits (no echo of hooks).
    wait_for_drain(server.addr).await?;

    let addr: Live = Arc::new(RwLock::new(servers.iter().map(|s| Some(s.addr)).collect()));
    let stop = Arc::new(AtomicBool::new(false));
    let plan = Plan {
        customers: args.customers,
        seed,
        hooks,
        redeem_share: args.redeem_share,
    };
    let clients: Vec<_> = (0..args.clients)
        .map(|id| {
            let (addr, stop) = (addr.clone(), stop.clone());
            tokio::spawn(client(id, addr, stop, plan))
        })
        .collect();
    let mut kills = Vec::new();
    let mut victims = Vec::new();
    let mut quota = QuotaLog::new(vendor.quota_rejections());
    for round in 1..=args.rounds {
        let max = args.seconds as f64;
        let life = Duration::from_secs_f64(max / 10.0 + rng.unit() * max * 0.9);
        // One gateway draws no number, so a single-gateway seed replays as before.
        let victim = match args.gateways {
            1 => 0,
            n => rng.below(u64::from(n)) as usize,
        };
        tokio::time::sleep(life).await;
        quota.killed(vendor.quota_rejections());
        set_live(&addr, victim, None);
        servers[victim].kill9();
        kills.push(life.as_secs_f64());
        victims.push(victim);
        eprintln!(
            "chaos: round {round}: SIGKILL {}after {:.2}s under load",
            if args.gateways > 1 {
                format!("gateway {victim} ")
            } else {
                String::new()
            },
            life.as_secs_f64()
        );
        servers[victim] =
            Server::start(bin, dir, &config, &log_name(args.gateways, victim, round))?;
        set_live(&addr, victim, Some(servers[victim].addr));
        quota.restarted(vendor.quota_rejections());
    }
    // The last server takes load for a moment too, then the load stops.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut book = Book::default();
    let (mut refused, mut broken) = (Vec::new(), Vec::new());
    let mut failed = 0;
    for c in clients {
        let log = c.await.context("a client task failed")?;
        book.add(log.sent)?;
        refused.extend(log.refused);
        broken.extend(log.broken);
        failed += log.failed;
    }
    let (credits, redemptions) = (book.counts(Kind::Credit), book.counts(Kind::Redemption));
    eprintln!(
        "chaos: {} credit requests ({} distinct, {} acknowledged), {} redemption requests ({} \
         distinct, {} acknowledged, {} refused for want of points at least once); {failed} \
         failed by the crashes",
        credits.attempts,
        credits.distinct,
        credits.acked,
        redemptions.attempts,
        redemptions.distinct,
        redemptions.acked,
        redemptions.insufficient,
    );
    let mut violations: Vec<String> = refused
        .iter()
        .take(20)
        .map(|r| format!("a valid operation was refused: {r}"))
        .collect();
    violations.extend(
        broken
            .iter()
            .take(20)
            .map(|b| format!("an answer broke the contract: {b}")),
    );
    let target = servers[0].addr;
    let audit = audit(target, &mut book, args.customers, hooks).await?;
    violations.extend(audit.violations);
    let balances = audit.balances;

    // 4. The outbox drains; the vendor shows the CRM's balances; no dead letters.
    if let Err(e) = wait_for_drain(target).await {
        violations.push(format!("{e:#}"));
    }
    let dead = until_ok("listing dead letters", || {
        request(
            target,
            "GET",
            "/api/outbox?list=dead&limit=1000",
            Some(API_TOKEN),
            None,
        )
    })
    .await?;
    let dead_letters = dead.body["items"].as_array().map_or(0, Vec::len);
    if dead_letters > 0 {
        violations.push(format!(
            "{dead_letters} dead letters without a permanent vendor error: {}",
            dead.body
        ));
    }
    // The 429s end here: the read-back below spends the plan too, but it is this run's, not the
    // gateways'; it waits one longest window so the gateways' requests leave the vendor's window.
    quota.killed(vendor.quota_rejections());
    if let Some(plan) = &enforced {
        eprintln!(
            "chaos: the vendor answered {} of {} requests with 429 (plan {plan}): {} before the \
             first kill, after each restart {:?}",
            quota.total(),
            vendor.request_count(),
            quota.before_first_kill.unwrap_or(0),
            quota.after_restarts
        );
        if quota.total() > 0 {
            violations.push(format!(
                "the vendor answered {} requests with 429 under a plan every gateway keeps \
                 (after the restarts: {:?})",
                quota.total(),
                quota.after_restarts
            ));
        }
        let longest = plan.windows().iter().map(|w| w.per()).max();
        tokio::time::sleep(longest.unwrap_or_default()).await;
    }
    for (customer, crm) in balances.iter().enumerate() {
        let shown = vendor.points(&phone(customer)).await?;
        let expected = match via_of(customer, hooks) {
            Via::Api => Some(*crm),
            // Passquare's own credits are not echoed back to it.
            Via::Hook => Some(Decimal::ZERO),
        };
        if shown.map(|v| v.normalize()) != expected.map(|e| e.normalize()) {
            violations.push(format!(
                "customer {customer}: the vendor shows {shown:?}, expected {expected:?}"
            ));
        }
    }
    let vendor_requests = vendor.request_count();

    // 5. A clean stop.
    for (g, server) in servers.iter_mut().enumerate() {
        if let Err(e) = server.terminate() {
            violations.push(format!("graceful stop of gateway {g}: {e:#}"));
        }
    }
    if !violations.is_empty() {
        for v in &violations {
            eprintln!("chaos: VIOLATION: {v}");
        }
        bail!("{} violations (first: {})", violations.len(), violations[0]);
    }
    Ok(json!({
        "seed": seed,
        "rounds": args.rounds,
        "kills_after_seconds": kills,
        "credit_requests": credits.attempts,
        "credits": credits.distinct,
        "acknowledged": credits.acked,
        "redemption_share": args.redeem_share,
        "redemption_requests": redemptions.attempts,
        "redemptions": redemptions.distinct,
        "redemptions_acknowledged": redemptions.acked,
        "redemptions_refused_insufficient_points": redemptions.insufficient,
        "failed_by_crashes": failed,
        "unacknowledged_found_applied": audit.found,
        "unacknowledged_found_missing": audit.missing,
        "ledger_entries_audited": audit.ledger_entries,
        "vendor_requests": vendor_requests,
        "vendor": format!("{:?}", args.vendor).to_lowercase(),
        "vendor_faults_injected": vendor.faults_injected(),
        "dead_letters": dead_letters,
        "gateways": args.gateways,
        "killed_gateways": victims,
        "vendor_plan": enforced.map(|p| p.to_string()),
        "gateway_plan": gateway_plan.map(|p| p.to_string()),
        "rejected_429": quota.total(),
        "rejected_429_before_first_kill": quota.before_first_kill.unwrap_or(0),
        "rejected_429_after_each_restart": quota.after_restarts,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_keeps_its_gateway_and_falls_over_to_a_live_one() {
        let a = SocketAddr::from(([127, 0, 0, 1], 1));
        let b = SocketAddr::from(([127, 0, 0, 1], 2));
        let c = SocketAddr::from(([127, 0, 0, 1], 3));
        let addr: Live = Arc::new(RwLock::new(vec![Some(a), Some(b), Some(c)]));
        assert_eq!(live(&addr, 4), Some(b));
        set_live(&addr, 1, None);
        assert_eq!(live(&addr, 4), Some(c));
        set_live(&addr, 0, None);
        set_live(&addr, 2, None);
        assert_eq!(live(&addr, 4), None);
        let one: Live = Arc::new(RwLock::new(vec![Some(a)]));
        assert_eq!(live(&one, 7), Some(a));
        assert_eq!(log_name(1, 0, 2), "serve-2");
        assert_eq!(log_name(3, 1, 2), "serve-g1-2");
    }
}
