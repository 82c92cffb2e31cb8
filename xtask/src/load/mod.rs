//! `cargo xtask load <benchmark>`: the load benchmarks of issue 8, each a bounded run on loopback
//! that measures walletport and its baseline side by side in one process and prints both (human
//! text on stderr, a JSON summary on stdout). `docs/benchmarks.md` records the figures.
//!
//! - `client` ([`client`]): adapter + `walletport_http::HttpTransport` against the vendor
//!   emulator, connection reuse versus a fresh connection per request.
//! - `hooks` ([`hooks`]): Passquare hooks into the gateway on SQLite and PostgreSQL versus one
//!   plain durable insert per request ([`baseline`]); the gateway's memory ([`serving_memory`]);
//!   with `--hot-customer N`, one customer with `N` ledger entries against a new one
//!   ([`hot_customer`]).
//! - `sync` ([`sync`]): balance changes through the gateway's outbox to the vendor emulator
//!   under the time-compressed `base` plan versus one request per change.
//!
//! `cargo xtask` builds without optimisations, which would measure debug code; so unless
//! `--debug-build` is given, a debug `xtask` re-runs the same command line from a `--release`
//! build of itself (`cargo run --release -p xtask -- load ...`) and exits with its status.

pub(crate) mod backend;
mod baseline;
mod child_processes;
mod client;
mod drive;
mod gateway;
mod hooks;
mod hooks_args;
mod hot_customer;
mod release_rerun;
mod rss;
mod serving_memory;
mod stats;
mod sync;
mod sync_gateways;
mod sync_rate;

/// Arguments of `cargo xtask load`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Measure this build as it is, even unoptimised (figures are then not comparable).
    #[arg(long, global = true)]
    pub(crate) debug_build: bool,
    /// Which benchmark to run.
    #[command(subcommand)]
    pub(crate) bench: Bench,
}

/// One variant per load benchmark; each module owns its arguments.
#[derive(Debug, Clone, clap::Subcommand)]
pub(crate) enum Bench {
    /// Requests from the adapter to the local vendor emulator with connection reuse, versus the
    /// same requests with a fresh connection each (the vendor's PHP example): rates, ratio, p50/p99.
    Client(client::Args),
    /// Passquare readBalance/addBalance hooks into the gateway (SQLite, PostgreSQL) at 32 and 128
    /// clients versus one plain durable insert per request; peak RSS, also with 100,000 customers;
    /// `--hot-customer N`: the same hooks for a customer with N ledger entries versus a new one.
    Hooks(hooks_args::Args),
    /// Balance changes synced through the outbox to the Passquare emulator under the `base`
    /// plan compressed in time: vendor requests (vs one per change), 429s, share of the plan.
    Sync(sync::Args),
}

/// Prints a benchmark's human text on stderr and its JSON summary on stdout (the split the module
/// docs promise), in one place for every benchmark.
pub(crate) fn print_report(human: &str, report: &impl serde::Serialize) -> anyhow::Result<()> {
    use std::io::Write as _;
    eprint!("{human}");
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, report)?;
    writeln!(out)?;
    Ok(())
}

/// Runs the chosen benchmark (from an optimised build, see the module docs).
pub(crate) fn run(root: &std::path::Path, args: &Args) -> anyhow::Result<()> {
    if release_rerun::wanted(args.debug_build) {
        return release_rerun::run(root);
    }
    match &args.bench {
        Bench::Client(args) => client::run(args),
        Bench::Hooks(args) => hooks::run(args),
        Bench::Sync(args) => sync::run(args),
    }
}
