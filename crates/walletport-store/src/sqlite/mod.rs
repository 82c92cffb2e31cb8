//! The SQLite store: one file in WAL mode with `synchronous=FULL`, a pool for reads and
//! ordinary writes (`BEGIN IMMEDIATE`), and one writer task that group-commits ledger
//! operations.

mod backfill;
mod customers;
mod ledger;
mod ledger_tx;
mod outbox;
mod quota;

use std::str::FromStr;

use chrono::Utc;
use sqlx::Connection as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, oneshot};
use walletport_core::{CustomerId, Error, ErrorKind, Result};

use crate::error::{bad_url, db, migration_failed};
use crate::ledger::{LedgerOp, LedgerOutcome};
use crate::logic::store::Engine;
use crate::model::WriteOpts;
use crate::{Backend, StoreOptions};

/// The SQLite implementation of [`Store`](crate::Store).
pub struct SqliteStore {
    store: Db,
    writer: mpsc::Sender<ledger::Msg>,
    /// Woken after writes that enqueue ([`Store::outbox_signal`](crate::Store::outbox_signal)).
    signal: std::sync::Arc<tokio::sync::Notify>,
}

/// The pool and the store's write gate: SQLite lets one transaction write at a time, and its
/// own wait for the lock is polling with sleeps of up to 100 ms, which a busy writer (the
/// ledger's back-to-back group commits) wins almost every time. Every write of the store takes
/// its turn at this gate first, first come first served, so a waiting write runs next.
#[derive(Clone)]
pub(crate) struct Db {
    /// Readers and the non-ledger writers.
    pub(crate) pool: SqlitePool,
    gate: Arc<Mutex<()>>,
}

impl Db {
    /// Waits for this write's turn; the turn lasts until the guard is dropped.
    pub(crate) async fn turn(&self) -> OwnedMutexGuard<()> {
        Arc::clone(&self.gate).lock_owned().await
    }
}

/// A write transaction (`BEGIN IMMEDIATE`) holding the write turn until it ends.
pub(crate) struct WriteTx {
    // Dropped first: an unfinished transaction is rolled back, then the turn is released.
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    _turn: OwnedMutexGuard<()>,
}

impl WriteTx {
    /// Commits, then releases the turn.
    pub(crate) async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating with `?mode=rwc`) the database at `url`, migrates it (converting v0.1
    /// ledgers) and starts the ledger writer.
    pub async fn open(url: &str, options: StoreOptions) -> Result<Self> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| bad_url("SQLite", url, &e))?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone())
            .await
            .map_err(|e| db("store.open", e))?;
        if options.migrate {
            sqlx::migrate!("migrations/sqlite")
                .run(&pool)
                .await
                .map_err(|e| migration_failed("SQLite", &e))?;
        }
        let store = Db {
            pool,
            gate: Arc::new(Mutex::new(())),
        };
        if options.migrate {
            // v0.1 ledgers listed by migration 0002 (a no-op query once converted).
            backfill::run(&store, crate::codec::to_ns(Utc::now())?).await?;
        }
        let writer_conn = SqliteConnection::connect_with(&connect)
            .await
            .map_err(|e| db("store.open", e))?;
        let writer = ledger::spawn_writer(writer_conn, store.clone(), options.max_batch.max(1));
        Ok(Self {
            store,
            writer,
            signal: std::sync::Arc::default(),
        })
    }

    /// The connection pool, for operators' queries and tests.
    pub fn pool(&self) -> &SqlitePool {
        &self.store.pool
    }
}

/// Starts a write transaction once it is this write's turn (the turn first, so no pooled
/// connection is held while waiting).
pub(crate) async fn begin(store: &Db, op: &'static str) -> Result<WriteTx> {
    let turn = store.turn().await;
    let tx = store
        .pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| db(op, e))?;
    Ok(WriteTx { tx, _turn: turn })
}

impl Engine for SqliteStore {
    type Sql = Db;
    const BACKEND: Backend = Backend::Sqlite;

    fn sql(&self) -> &Db {
        &self.store
    }

    /// Queues the operation for the writer's next group commit and waits for its outcome.
    async fn apply_op(&self, c: &CustomerId, op: &LedgerOp, o: WriteOpts) -> Result<LedgerOutcome> {
        crate::codec::to_ns(o.now)?;
        let (reply, answer) = oneshot::channel();
        let job = ledger::Job {
            customer: c.clone(),
            op: op.clone(),
            opts: o,
            reply,
        };
        let stopped = || {
            Error::new(ErrorKind::Unexpected, "the store is closed").with_operation("ledger.apply")
        };
        self.writer
            .send(ledger::Msg::Job(job))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    async fn stop_writer(&self) {
        let (done, stopped) = oneshot::channel();
        if self.writer.send(ledger::Msg::Shutdown(done)).await.is_ok() {
            let _ = stopped.await;
        }
    }

    fn signal(&self) -> &std::sync::Arc<tokio::sync::Notify> {
        &self.signal
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use sqlx::Row as _;
    use sqlx::sqlite::SqlitePool;

    /// The query plan of `sql` (its `detail` lines), for tests that pin a statement to an index.
    pub(crate) async fn plan(pool: &SqlitePool, sql: &str) -> String {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        sqlx::query(sqlx::AssertSqlSafe(explain))
            .fetch_all(pool)
            .await
            .expect("explain")
            .iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}
