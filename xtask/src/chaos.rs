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

mod client;
mod history;
mod ledger;
mod vendor;
mod verify;
mod wire;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use client::{Plan, client};
use ledger::{Book, Kind, Via};
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
}

/// Builds (or takes) the binary and runs the chaos scenario; an error when any promise broke.
pub(crate) fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    if args.rounds == 0 || args.seconds == 0 || args.clients == 0 || args.customers < 2 {
        bail!("--rounds, --seconds and --clients must be positive and --customers at least 2");
    }
    if !(0.0..=0.5).contains(&args.redeem_share) {
        bail!("--redeem-share takes 0 to 0.5");
    }
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
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

/// `cargo build -p walletport-cli`, returning the built `walletport` executable.
fn build(root: &Path) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("chaos: cargo build -p walletport-cli");
    let out = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--quiet",
            "-p",
            "walletport-cli",
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo build")?;
    if !out.status.success() {
        bail!("cargo build -p walletport-cli failed ({})", out.status);
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "walletport")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| anyhow!("cargo build did not report the walletport executable"))
}

/// One `walletport serve` process; killed (SIGKILL) when dropped.
struct Server {
    child: Option<Child>,
    addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    fn start(bin: &Path, dir: &Path, config: &Path, n: u32) -> anyhow::Result<Self> {
        let log = dir.join(format!("serve-{n}.log"));
        let stderr = std::fs::File::create(&log).context("server log")?;
        let mut cmd = Command::new(bin);
        cmd.args(["--config"])
            .arg(config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(stderr.try_clone().context("server log")?)
            .stderr(stderr);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("WALLETPORT_") {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut server = Self {
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = std::fs::read_to_string(&server.log).unwrap_or_default();
            if let Some(addr) = text
                .split("walletport gateway on http://")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|a| a.parse().ok())
            {
                server.addr = addr;
                return Ok(server);
            }
            if let Some(status) = server
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!("server {n} exited at start ({status}):\n{}", tail(&text));
            }
            if Instant::now() > deadline {
                bail!("server {n} did not announce its address:\n{}", tail(&text));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, like a crash or the OOM killer.
    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM; waits (bounded) for a clean exit.
    fn terminate(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            bail!("the server is not running");
        };
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        if !sent.is_ok_and(|s| s.success()) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("could not send SIGTERM");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().context("waiting for the server")? {
                if status.success() {
                    return Ok(());
                }
                bail!("the server exited with {status} after SIGTERM");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the server did not stop within 30s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn write_config(dir: &Path, vendor: &Vendor) -> anyhow::Result<PathBuf> {
    let db = dir.join("chaos.db");
    let hooks = if vendor.has_hooks() {
        format!("[hooks.passquare]\ncrm_key = \"{CRM_KEY}\"\n")
    } else {
        String::new()
    };
    let toml = format!(
        r#"[server]
database = "sqlite://{db}?mode=rwc"
api_token = "{API_TOKEN}"
request_timeout = "10s"

{hooks}
[outbox]
lease = "2s"
poll_interval = "50ms"
backoff_base = "20ms"
backoff_max = "500ms"
max_attempts = 100

[provider]
{provider}"#,
        db = db.display(),
        provider = vendor.provider_toml,
    );
    let path = dir.join("walletport.toml");
    std::fs::write(&path, toml).context("writing the config")?;
    Ok(path)
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

/// The address of the live server, or `None` while it is down.
type Live = Arc<RwLock<Option<SocketAddr>>>;

fn live(addr: &Live) -> Option<SocketAddr> {
    *addr
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn set_live(addr: &Live, value: Option<SocketAddr>) {
    *addr
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = value;
}

/// Sends `call` until a 2xx comes back (bounded): setup and verification run against a live
/// server, where a failure is a finding only if it persists.
async fn until_ok<F>(what: &str, call: impl Fn() -> F) -> anyhow::Result<Answer>
where
    F: std::future::Future<Output = anyhow::Result<Answer>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = match call().await {
            Ok(a) if a.ok() => return Ok(a),
            Ok(a) => format!("{} {}", a.status, a.body),
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() > deadline {
            bail!("{what}: no success within 30s (last: {last})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `call` until a definite answer comes back (bounded): anything but a 5xx or no answer.
async fn until_answered<F>(what: &str, call: impl Fn() -> F) -> anyhow::Result<Answer>
where
    F: std::future::Future<Output = anyhow::Result<Answer>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = match call().await {
            Ok(a) if a.status < 500 => return Ok(a),
            Ok(a) => format!("{} {}", a.status, a.body),
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() > deadline {
            bail!("{what}: no answer within 30s (last: {last})");
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
    let vendor = Vendor::start(args.vendor, seed).await?;
    let hooks = vendor.has_hooks();
    eprintln!("chaos: vendor {:?}", args.vendor);
    let config = write_config(dir, &vendor)?;
    let mut server = Server::start(bin, dir, &config, 0)?;
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

    let addr: Live = Arc::new(RwLock::new(Some(server.addr)));
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
    for round in 1..=args.rounds {
        let max = args.seconds as f64;
        let life = Duration::from_secs_f64(max / 10.0 + rng.unit() * max * 0.9);
        tokio::time::sleep(life).await;
        set_live(&addr, None);
        server.kill9();
        kills.push(life.as_secs_f64());
        eprintln!(
            "chaos: round {round}: SIGKILL after {:.2}s under load",
            life.as_secs_f64()
        );
        server = Server::start(bin, dir, &config, round)?;
        set_live(&addr, Some(server.addr));
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
    let target = server.addr;
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
    if let Err(e) = server.terminate() {
        violations.push(format!("graceful stop: {e:#}"));
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
    }))
}

/// What the audit after the load found.
struct Audit {
    /// Each customer's final balance.
    balances: Vec<Decimal>,
    /// Unacknowledged operations found applied, and found missing, by the probes.
    found: u64,
    missing: u64,
    /// Ledger entries read back.
    ledger_entries: usize,
    violations: Vec<String>,
}

/// Steps 1–3: the balances lie in the window the book allows; the probes settle every
/// operation; then each balance is the one sum the book allows and the ledger agrees.
async fn audit(
    target: SocketAddr,
    book: &mut Book,
    customers: usize,
    hooks: bool,
) -> anyhow::Result<Audit> {
    let mut violations = Vec::new();
    let negative = |customer: usize, got: Decimal| {
        format!("customer {customer} has a negative balance: {got}")
    };

    // 1. Before the probes touch anything: within what the acknowledged operations and the
    //    attempts the crashes cut allow.
    for customer in 0..customers {
        let got = balance(target, customer).await?;
        let (low, high) = book.window(customer);
        if got < low || got > high {
            violations.push(format!(
                "customer {customer} ({:?}) has balance {got} after the load, outside the {low} to \
                 {high} its acknowledged and cut operations allow",
                via_of(customer, hooks)
            ));
        }
        if got < Decimal::ZERO {
            violations.push(negative(customer, got));
        }
    }

    // 2. Acknowledged operations are present; unacknowledged ones are probed (and so applied,
    //    points allowing).
    let mut probed = verify::probe_credits(target, book).await?;
    book.settle_credits();
    let redeemed = verify::probe_redemptions(target, book).await?;
    for (tx, applied) in &redeemed.resolved {
        book.resolve(tx, *applied);
    }
    probed.found += redeemed.found;
    probed.missing += redeemed.missing;
    violations.extend(probed.violations);
    violations.extend(redeemed.violations);
    let unresolved = book.unresolved();
    if unresolved > 0 {
        violations.push(format!(
            "{unresolved} operations are neither known applied nor known not applied after \
             the probes"
        ));
    }
    eprintln!(
        "chaos: unacknowledged operations: {} had been applied, {} had not",
        probed.found, probed.missing
    );

    // 3. Every operation exactly once: balances are the sums, and so are the ledgers.
    let mut balances = Vec::new();
    let mut ledger_entries = 0;
    let mut ledger_readable = true;
    for customer in 0..customers {
        let got = balance(target, customer).await?;
        let (want, high) = book.window(customer);
        if want != high {
            violations.push(format!(
                "customer {customer}: the probes left operations unresolved ({want} to {high})"
            ));
        } else if got != want {
            violations.push(format!(
                "customer {customer} ({:?}) has balance {got}, its credits less its applied \
                 redemptions are {want}",
                via_of(customer, hooks)
            ));
        }
        if got < Decimal::ZERO {
            violations.push(negative(customer, got));
        }
        if ledger_readable {
            match history::read(target, customer).await {
                Ok(entries) => {
                    ledger_entries += entries.len();
                    violations.extend(history::audit(customer, &entries, got, book));
                }
                Err(e) => {
                    // Reported once: the other customers' ledgers would say the same.
                    violations.push(format!("customer {customer}'s ledger: {e:#}"));
                    ledger_readable = false;
                }
            }
        }
        balances.push(got);
    }
    Ok(Audit {
        balances,
        found: probed.found,
        missing: probed.missing,
        ledger_entries,
        violations,
    })
}
