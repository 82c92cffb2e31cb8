//! `cargo xtask load client`: how fast the adapter talks to a vendor over keep-alive connections,
//! against the vendor's own integration style (its PHP example sets `CURLOPT_FRESH_CONNECT` and
//! `CURLOPT_FORBID_REUSE`: one new TCP connection per request).
//!
//! One process, one run: the vendor emulator (`walletport-sandbox`, unlimited quota, no faults)
//! serves on `127.0.0.1:0`; two adapters over the real `walletport_http::HttpTransport` differ
//! only in `TransportConfig::with_reuse_connections(true | false)`. Both read the balances of
//! seeded customers (`BalancePort::get_balance`, Passquare 2.3 `read_customer`) with the same
//! concurrency, in alternating rounds so a load change on a shared machine hits both alike. Every
//! answer is checked against the balance set before measuring; the emulator counts the TCP
//! connections it accepts, which shows what each mode really did.
//!
//! Bounded: at most 20,000 requests per mode, loopback only, a deadline for the whole run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use axum::serve::ListenerExt;
use rust_decimal::Decimal;
use serde::Serialize;
use tokio::task::{JoinHandle, JoinSet};
use walletport_core::{BalanceUpdate, Checked, GetBalance, Percent, Phone, Provider, SetBalance};
use walletport_http::{HttpTransport, RetryPolicy, TransportConfig};
use walletport_passquare::{PassquareConfig, PassquareProvider, mapping::PROVIDER};
use walletport_sandbox::passquare::{PassquareEmulator, PassquareEmulatorConfig};

use super::stats::ModeSummary;

/// The first seeded phone; the others follow it.
const FIRST_PHONE: &str = "+420700000000";

/// Arguments of `cargo xtask load client`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Measured requests per mode (each mode sends this many).
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..=20_000))]
    pub(crate) requests: u64,
    /// Requests in flight at once, per mode.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub(crate) concurrency: u64,
    /// The vendor whose adapter and emulator are measured.
    #[arg(long, value_enum, default_value_t = Vendor::Passquare)]
    pub(crate) vendor: Vendor,
    /// Rounds the requests are split into, alternating which mode goes first.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=20))]
    pub(crate) rounds: u64,
    /// Seeded customers the reads cycle through.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub(crate) customers: u64,
    /// Give up (and fail) when the whole run takes longer than this many seconds.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub(crate) deadline_secs: u64,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            requests: 2_000,
            concurrency: 8,
            vendor: Vendor::Passquare,
            rounds: 4,
            customers: 100,
            deadline_secs: 300,
        }
    }
}

/// The vendors this benchmark can drive (the others join when their emulators are wired here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Vendor {
    /// Passquare: reads are 2.3 `read_customer`.
    Passquare,
}

/// The JSON summary of a run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    /// Always `"load client"`.
    pub(crate) benchmark: &'static str,
    /// The vendor measured.
    pub(crate) vendor: Vendor,
    /// The port call and the vendor method it becomes.
    pub(crate) operation: &'static str,
    /// Requests per mode.
    pub(crate) requests_per_mode: u64,
    /// Requests in flight per mode.
    pub(crate) concurrency: u64,
    /// Alternating rounds.
    pub(crate) rounds: u64,
    /// Seeded customers read.
    pub(crate) customers: u64,
    /// CPUs this process may use (client and emulator share them).
    pub(crate) cpus: usize,
    /// Keep-alive connections (walletport's default).
    pub(crate) reuse: Mode,
    /// A fresh connection per request (the vendor's PHP example).
    pub(crate) fresh: Mode,
    /// `reuse.rate_per_s / fresh.rate_per_s`.
    pub(crate) ratio: f64,
}

/// One mode's figures plus what the emulator saw.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Mode {
    /// Rates and latencies.
    #[serde(flatten)]
    pub(crate) summary: ModeSummary,
    /// TCP connections the emulator accepted during the measured phases.
    pub(crate) connections_opened: u64,
    /// The first failure, if any.
    pub(crate) first_error: Option<String>,
}

/// Runs the benchmark and prints the summary; fails when a request failed or the deadline passed.
pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let runtime = crate::project::runtime(None)?;
    let deadline = Duration::from_secs(args.deadline_secs);
    let report = runtime
        .block_on(async { tokio::time::timeout(deadline, measure(args)).await })
        .map_err(|_| anyhow!("load client: gave up after {} s", args.deadline_secs))??;
    super::print_report(&human(&report), &report)?;
    let errors = report.reuse.summary.errors + report.fresh.summary.errors;
    if errors > 0 {
        bail!("load client: {errors} request(s) failed; see `first_error` above");
    }
    Ok(())
}

/// The human-readable lines of a report.
pub(crate) fn human(r: &Report) -> String {
    let line = |label: &str, m: &Mode| {
        format!(
            "  {label:<26} {:>9.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms   max {:>7.3} ms   \
             {} connections, {} errors\n",
            m.summary.rate_per_s,
            m.summary.p50_ms,
            m.summary.p99_ms,
            m.summary.max_ms,
            m.connections_opened,
            m.summary.errors,
        )
    };
    format!(
        "load client: {:?} {}, {} requests per mode, {} in flight, {} rounds, {} customers, {} CPUs\n{}{}  ratio (reuse / fresh): {:.2}x\n",
        r.vendor,
        r.operation,
        r.requests_per_mode,
        r.concurrency,
        r.rounds,
        r.customers,
        r.cpus,
        line("reuse connections:", &r.reuse),
        line("fresh connection each:", &r.fresh),
        r.ratio,
    )
}

/// The emulator on loopback with a counter of accepted connections; stops when dropped.
struct Emulator {
    base_url: String,
    accepted: Arc<AtomicU64>,
    emulator: PassquareEmulator,
    task: JoinHandle<()>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Emulator {
    async fn start() -> anyhow::Result<Self> {
        let emulator = PassquareEmulator::new(PassquareEmulatorConfig::unlimited());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .context("binding the emulator on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let accepted = Arc::new(AtomicU64::new(0));
        let counter = accepted.clone();
        // TCP_NODELAY like a production web server (nginx's default); counted per accept.
        let listener = listener.tap_io(move |stream| {
            counter.fetch_add(1, Ordering::Relaxed);
            let _ = stream.set_nodelay(true);
        });
        let router = emulator.router();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            base_url: format!("http://{addr}"),
            accepted,
            emulator,
            task,
        })
    }

    fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
}

/// The adapter as users build it, over a transport that reuses connections or not. No client
/// quota (the emulator is unlimited) and a single attempt, so every failure is counted.
fn provider(base_url: &str, reuse: bool) -> anyhow::Result<Arc<dyn Provider>> {
    let mut config = PassquareConfig::new(PassquareEmulatorConfig::default().app_key);
    config.base_url = base_url.to_owned();
    let transport = TransportConfig::parse(PROVIDER, base_url)?
        .with_timeout(Duration::from_secs(10))
        .with_retry(RetryPolicy::default().with_max_attempts(1))
        .with_reuse_connections(reuse);
    let transport = Arc::new(HttpTransport::new(transport)?);
    Ok(Checked::wrap(Arc::new(PassquareProvider::with_transport(
        config, transport,
    )?)))
}

/// A seeded customer and the balance the emulator holds for it.
type Target = (Phone, Decimal);

/// Seeds `count` customers with cards and sets balance `100 + i` on the i-th (not measured).
async fn seed(emulator: &Emulator, via: &dyn Provider, count: u64) -> anyhow::Result<Vec<Target>> {
    emulator
        .emulator
        .seed_customers(FIRST_PHONE, count, 0)
        .map_err(|e| anyhow!("seeding the emulator: {e}"))?;
    let first: u64 = FIRST_PHONE.trim_start_matches('+').parse()?;
    let mut targets = Vec::new();
    for i in 0..count {
        let phone = Phone::parse(&format!("+{}", first + i))?;
        let points = Decimal::from(100 + i);
        via.balances()
            .set_balance(SetBalance {
                customer: phone.clone().into(),
                update: BalanceUpdate {
                    points: Some(points),
                    bonus_percent: Some(Percent::default()),
                    discount_percent: Some(Percent::default()),
                },
            })
            .await
            .with_context(|| format!("setting the balance of {phone}"))?;
        targets.push((phone, points));
    }
    Ok(targets)
}

/// What one phase of one mode produced.
#[derive(Debug, Default)]
struct Phase {
    latencies: Vec<Duration>,
    errors: u64,
    elapsed: Duration,
    first_error: Option<String>,
}

impl Phase {
    fn absorb(&mut self, other: Phase) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.first_error = self.first_error.take().or(other.first_error);
    }
}

/// Sends `n` balance reads with `concurrency` in flight, cycling through `targets` from `offset`,
/// and checks each answer.
async fn phase(
    provider: &Arc<dyn Provider>,
    targets: &Arc<Vec<Target>>,
    n: u64,
    concurrency: u64,
    offset: u64,
) -> anyhow::Result<Phase> {
    if targets.is_empty() {
        bail!("no seeded customers to read");
    }
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency.min(n) {
        let (provider, targets, next) = (provider.clone(), targets.clone(), next.clone());
        tasks.spawn(async move {
            let mut done = Phase::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let (phone, want) = &targets[((offset + i) % targets.len() as u64) as usize];
                let t0 = Instant::now();
                let got = provider
                    .balances()
                    .get_balance(GetBalance {
                        customer: phone.clone().into(),
                    })
                    .await;
                done.latencies.push(t0.elapsed());
                let failure = match got {
                    Ok(b) if b.points == *want => None,
                    Ok(b) => Some(format!("{phone}: balance {} instead of {want}", b.points)),
                    Err(e) => Some(format!("{phone}: {e}")),
                };
                if let Some(message) = failure {
                    done.errors += 1;
                    done.first_error.get_or_insert(message);
                }
            }
            done
        });
    }
    let mut total = Phase::default();
    while let Some(done) = tasks.join_next().await {
        total.absorb(done.context("a load task panicked")?);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// Requests of round `round` out of `rounds` when `total` are split as evenly as possible.
fn share(total: u64, rounds: u64, round: u64) -> u64 {
    total / rounds + u64::from(round < total % rounds)
}

/// Starts the emulator, seeds it, warms both modes up and measures them in alternating rounds.
pub(crate) async fn measure(args: &Args) -> anyhow::Result<Report> {
    let Vendor::Passquare = args.vendor;
    let emulator = Emulator::start().await?;
    let reuse = provider(&emulator.base_url, true)?;
    let fresh = provider(&emulator.base_url, false)?;
    let targets = Arc::new(seed(&emulator, reuse.as_ref(), args.customers).await?);

    let warm_up = (args.requests / 10).clamp(1, 200);
    for p in [&reuse, &fresh] {
        let w = phase(p, &targets, warm_up, args.concurrency, 0).await?;
        if let Some(e) = w.first_error {
            bail!("warm-up failed: {e}");
        }
    }

    let (mut reuse_total, mut fresh_total) = (Phase::default(), Phase::default());
    let (mut reuse_conns, mut fresh_conns) = (0, 0);
    let mut offset = 0;
    for round in 0..args.rounds {
        let n = share(args.requests, args.rounds, round);
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_reuse in order {
            let (p, total, conns) = if is_reuse {
                (&reuse, &mut reuse_total, &mut reuse_conns)
            } else {
                (&fresh, &mut fresh_total, &mut fresh_conns)
            };
            let before = emulator.accepted();
            total.absorb(phase(p, &targets, n, args.concurrency, offset).await?);
            *conns += emulator.accepted() - before;
        }
        offset += n;
    }

    let mode = |p: Phase, connections_opened| Mode {
        summary: ModeSummary::new(p.latencies, p.errors, p.elapsed),
        connections_opened,
        first_error: p.first_error,
    };
    let (reuse, fresh) = (
        mode(reuse_total, reuse_conns),
        mode(fresh_total, fresh_conns),
    );
    let ratio = if fresh.summary.rate_per_s > 0.0 {
        reuse.summary.rate_per_s / fresh.summary.rate_per_s
    } else {
        0.0
    };
    Ok(Report {
        benchmark: "load client",
        vendor: args.vendor,
        operation: "BalancePort::get_balance (Passquare 2.3 read_customer)",
        requests_per_mode: args.requests,
        concurrency: args.concurrency,
        rounds: args.rounds,
        customers: args.customers,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        reuse,
        fresh,
        ratio,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn rounds_split_the_requests_exactly() {
        for (total, rounds) in [(2_000, 4), (7, 3), (1, 4), (20_000, 20)] {
            let parts: Vec<u64> = (0..rounds).map(|r| share(total, rounds, r)).collect();
            assert_eq!(parts.iter().sum::<u64>(), total, "{total} in {rounds}");
            assert!(parts.iter().max().unwrap_or(&0) - parts.iter().min().unwrap_or(&0) <= 1);
        }
    }

    #[test]
    fn arguments_are_bounded() {
        let parsed = Cli::try_parse_from(["client"]).expect("defaults");
        assert_eq!(parsed.args.requests, Args::default().requests);
        assert_eq!(parsed.args.concurrency, Args::default().concurrency);
        for bad in [
            &["client", "--requests", "0"][..],
            &["client", "--requests", "20001"],
            &["client", "--concurrency", "0"],
            &["client", "--vendor", "skycore"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_modes_read_every_balance_and_only_fresh_opens_a_connection_per_request() {
        let args = Args {
            requests: 60,
            concurrency: 4,
            rounds: 2,
            customers: 7,
            ..Args::default()
        };
        let r = measure(&args).await.expect("run");
        for m in [&r.reuse, &r.fresh] {
            assert_eq!(m.summary.requests, 60);
            assert_eq!(m.summary.errors, 0, "{:?}", m.first_error);
            assert!(m.summary.rate_per_s > 0.0 && m.summary.p99_ms >= m.summary.p50_ms);
        }
        assert_eq!(r.fresh.connections_opened, 60, "one connection per request");
        assert!(
            r.reuse.connections_opened <= 4,
            "kept-alive connections are reused: {}",
            r.reuse.connections_opened
        );
        assert!(r.ratio > 0.0);
        let text = human(&r);
        assert!(text.contains("ratio (reuse / fresh)"), "{text}");
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["fresh"]["requests"], 60);
        assert_eq!(json["vendor"], "passquare");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wrong_answer_counts_as_an_error() {
        let emulator = Emulator::start().await.expect("emulator");
        let p = provider(&emulator.base_url, true).expect("provider");
        let mut targets = seed(&emulator, p.as_ref(), 3).await.expect("seed");
        for t in &mut targets {
            t.1 += Decimal::ONE;
        }
        let done = phase(&p, &Arc::new(targets), 9, 3, 0).await.expect("phase");
        assert_eq!((done.latencies.len(), done.errors), (9, 9));
        assert!(
            done.first_error.is_some_and(|e| e.contains("instead of")),
            "the mismatch is reported"
        );
    }
}
