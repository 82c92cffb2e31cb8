//! The command-line arguments of `cargo xtask load hooks`, shared by the benchmark, its memory
//! phase and the child processes it splits into.

use super::backend::{BackendChoice, PgServer};

/// Arguments of `cargo xtask load hooks`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Concurrent clients, one measured run per value.
    #[arg(long, value_delimiter = ',', default_values_t = [32usize, 128])]
    pub(crate) clients: Vec<usize>,
    /// Measured seconds per (backend, operation, clients) run.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=120))]
    pub(crate) seconds: u64,
    /// Unmeasured warm-up seconds before each run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=30))]
    pub(crate) warmup: u64,
    /// Which stores to measure.
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    pub(crate) backend: BackendChoice,
    /// Customers seeded for the hook runs (the hooks cycle through them).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub(crate) customers: u64,
    /// Customers in the store for the memory phase (benchmark 5); 0 skips it.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub(crate) rss_customers: u64,
    /// Also measure `readBalance` and `addBalance` for one customer with this many ledger
    /// entries against a new customer, in the same run (issue 13); 0 skips it.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub(crate) hot_customer: u64,
    /// With `--hot-customer`: run only that part (no plain hook runs, no baseline).
    #[arg(long)]
    pub(crate) hot_only: bool,
    /// Fail when a hot-customer rate is below the target share of the new customer's.
    #[arg(long)]
    pub(crate) enforce: bool,
    /// Connections of the gateway's store pool (`walletport serve` uses the default).
    #[arg(long, default_value_t = walletport_store::StoreOptions::default().max_connections, value_parser = clap::value_parser!(u32).range(1..=90))]
    pub(crate) store_connections: u32,
    /// What this process runs; `all` runs every (backend, hooks | hot | memory) part in a fresh child
    /// process of its own, so each peak RSS starts from a clean process.
    #[arg(long, value_enum, default_value_t = Phase::All, hide = true)]
    pub(crate) phase: Phase,
    /// The PostgreSQL server the fresh databases are created on.
    #[command(flatten)]
    pub(crate) pg: PgServer,
}

/// `--phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Phase {
    /// Every part, each in a child process.
    All,
    /// The hook and baseline runs of `--backend`, in this process.
    Hooks,
    /// The memory phase (`--rss-customers`) of `--backend`, in this process.
    Memory,
    /// The hot-customer runs (`--hot-customer`) of `--backend`, in this process.
    Hot,
}
