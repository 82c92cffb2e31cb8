//! The baseline of `load hooks`: what a hand-written integration does for each incoming credit
//! — one plain durable `INSERT` in its own transaction, straight into the same database with
//! `sqlx`, no HTTP, no gateway, no batching — at the same concurrency as the gateway run.
//!
//! The table mirrors the essentials of the gateway's ledger: customer, a unique transaction id
//! (the usual exactly-once guard), the amount and the time. SQLite connects exactly like the
//! store (WAL, `synchronous=FULL`, busy timeout, `BEGIN IMMEDIATE`), so both pay the same fsync.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::backend::BackendKind;

/// A connection pool on the benchmark database with the baseline table in place.
#[derive(Clone)]
pub(crate) enum Baseline {
    /// SQLite, connected like the store.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

const SQLITE_TABLE: &str = "CREATE TABLE IF NOT EXISTS load_baseline (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer TEXT NOT NULL,
    transaction_id TEXT NOT NULL UNIQUE,
    amount TEXT NOT NULL,
    credited_at INTEGER NOT NULL)";

const PG_TABLE: &str = "CREATE TABLE IF NOT EXISTS load_baseline (
    id BIGSERIAL PRIMARY KEY,
    customer TEXT NOT NULL,
    transaction_id TEXT NOT NULL UNIQUE,
    amount NUMERIC NOT NULL,
    credited_at TIMESTAMPTZ NOT NULL)";

impl Baseline {
    /// Connects `connections` connections to `url` and creates the table.
    pub(crate) async fn open(
        kind: BackendKind,
        url: &str,
        connections: u32,
    ) -> anyhow::Result<Self> {
        match kind {
            BackendKind::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)
                    .context("baseline SQLite URL")?
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(30));
                let pool = SqlitePoolOptions::new()
                    .max_connections(connections.max(1))
                    .acquire_timeout(Duration::from_secs(60))
                    .connect_with(options)
                    .await
                    .context("baseline SQLite pool")?;
                sqlx::raw_sql(SQLITE_TABLE)
                    .execute(&pool)
                    .await
                    .context("creating the baseline table")?;
                Ok(Self::Sqlite(pool))
            }
            BackendKind::Postgres => {
                let pool = PgPoolOptions::new()
                    .max_connections(connections.max(1))
                    .acquire_timeout(Duration::from_secs(60))
                    .connect(url)
                    .await
                    .context("baseline PostgreSQL pool")?;
                sqlx::raw_sql(PG_TABLE)
                    .execute(&pool)
                    .await
                    .context("creating the baseline table")?;
                Ok(Self::Postgres(pool))
            }
        }
    }

    /// One credit: `BEGIN; INSERT ...; COMMIT` — durable when it returns.
    pub(crate) async fn credit(&self, customer: &str, transaction_id: &str) -> Result<(), String> {
        match self {
            Self::Sqlite(pool) => {
                let mut tx = pool
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(
                    "INSERT INTO load_baseline (customer, transaction_id, amount, credited_at) \
                     VALUES (?, ?, '1', ?)",
                )
                .bind(customer)
                .bind(transaction_id)
                .bind(chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0))
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
                tx.commit().await.map_err(|e| e.to_string())
            }
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
                sqlx::query(
                    "INSERT INTO load_baseline (customer, transaction_id, amount, credited_at) \
                     VALUES ($1, $2, 1, now())",
                )
                .bind(customer)
                .bind(transaction_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
                tx.commit().await.map_err(|e| e.to_string())
            }
        }
    }

    /// Rows in the baseline table (every acknowledged insert must be there).
    pub(crate) async fn rows(&self) -> anyhow::Result<i64> {
        let sql = "SELECT COUNT(*) FROM load_baseline";
        let n = match self {
            Self::Sqlite(pool) => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await,
            Self::Postgres(pool) => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await,
        };
        n.context("counting baseline rows")
    }

    /// Closes the pool.
    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}
