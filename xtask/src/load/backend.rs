//! Throw-away databases for the gateway benchmarks: a SQLite file in a temp directory, or a
//! PostgreSQL database of its own on the local server, created for the run and dropped after it
//! (also when the run fails), plus the seeding helpers the benchmarks share.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use walletport_core::{Customer, Phone};
use walletport_store::testing::TempPgDatabase;
use walletport_store::{Store, StoreOptions, WriteOpts};

/// Which store a benchmark runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum BackendKind {
    /// One file, `synchronous=FULL`, WAL.
    Sqlite,
    /// The local PostgreSQL server (a fresh database per run).
    Postgres,
}

impl BackendKind {
    /// The lower-case name used in reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// `--backend sqlite|postgres|both`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BackendChoice {
    /// SQLite only.
    Sqlite,
    /// PostgreSQL only.
    Postgres,
    /// SQLite, then PostgreSQL.
    Both,
}

impl BackendChoice {
    /// The backends to run, in order.
    pub(crate) fn kinds(self) -> Vec<BackendKind> {
        match self {
            Self::Sqlite => vec![BackendKind::Sqlite],
            Self::Postgres => vec![BackendKind::Postgres],
            Self::Both => vec![BackendKind::Sqlite, BackendKind::Postgres],
        }
    }
}

/// `--pg` (or `WALLETPORT_LOAD_PG`): the PostgreSQL server a run creates its fresh databases on;
/// one definition for every task that takes it.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PgServer {
    /// The PostgreSQL server (no database name; a fresh database is created and dropped).
    #[arg(
        long = "pg",
        value_name = "PG",
        env = "WALLETPORT_LOAD_PG",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    pub(crate) url: String,
}

/// A database that exists for one benchmark phase.
pub(crate) struct TempDb {
    /// The database URL the store and the baseline connect to.
    pub(crate) url: String,
    /// Which backend.
    pub(crate) kind: BackendKind,
    dir: Option<tempfile::TempDir>,
    /// Dropping it drops the PostgreSQL database.
    _pg: Option<TempPgDatabase>,
}

impl TempDb {
    /// A fresh database: SQLite in a new temp directory under `sqlite_dir` (the system temp dir
    /// when `None`), or a new PostgreSQL database on the server at `pg_base`
    /// (`postgres://USER@HOST:PORT`, no database name).
    pub(crate) async fn create(
        kind: BackendKind,
        pg_base: &str,
        sqlite_dir: Option<&std::path::Path>,
    ) -> anyhow::Result<Self> {
        match kind {
            BackendKind::Sqlite => {
                let dir = match sqlite_dir {
                    Some(parent) => tempfile::tempdir_in(parent),
                    None => tempfile::tempdir(),
                }
                .context("creating a temp dir for SQLite")?;
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("load.db").display());
                Ok(Self {
                    url,
                    kind,
                    dir: Some(dir),
                    _pg: None,
                })
            }
            BackendKind::Postgres => {
                let pg = TempPgDatabase::create(pg_base, "walletport_load")
                    .await
                    .map_err(|e| anyhow!("creating a PostgreSQL database: {e}"))?;
                Ok(Self {
                    url: pg.url().to_owned(),
                    kind,
                    dir: None,
                    _pg: Some(pg),
                })
            }
        }
    }

    /// Opens the gateway's store on this database (migrations included).
    pub(crate) async fn open_store(&self, max_connections: u32) -> anyhow::Result<Arc<dyn Store>> {
        let options = StoreOptions {
            max_connections,
            ..StoreOptions::default()
        };
        walletport_store::connect_with(&self.url, options)
            .await
            .map_err(|e| anyhow!("opening the {} store: {e}", self.kind.name()))
    }

    /// The SQLite file's directory (`None` for PostgreSQL).
    pub(crate) fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }
}

/// The `n`-th benchmark customer's phone: `+42072` and seven digits (Czech mobile numbers,
/// valid E.164 for up to 10 million customers).
pub(crate) fn phone(n: u64) -> anyhow::Result<Phone> {
    Phone::parse(&format!("+42072{:07}", n % 10_000_000))
        .map_err(|e| anyhow!("benchmark phone {n}: {e}"))
}

/// Creates customers `0..count` through the store API (`upsert_customer`, no outbox item),
/// `in_flight` at a time; returns how long it took.
pub(crate) async fn seed_customers(
    store: &Arc<dyn Store>,
    count: u64,
    in_flight: usize,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut results = futures::stream::iter(0..count)
        .map(|n| {
            let store = store.clone();
            async move {
                let customer = Customer::new(phone(n)?);
                store
                    .upsert_customer(&customer, WriteOpts::now().no_echo())
                    .await
                    .map(|_| ())
                    .map_err(|e| anyhow!("seeding customer {n}: {e}"))
            }
        })
        .buffer_unordered(in_flight.max(1));
    let mut done = 0u64;
    while let Some(result) = results.next().await {
        result?;
        done += 1;
        if done.is_multiple_of(20_000) {
            eprintln!("  seeded {done}/{count} customers");
        }
    }
    Ok(started.elapsed())
}
