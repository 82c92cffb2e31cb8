//! The ledger on SQLite: one writer task group-commits ledger operations.
//!
//! SQLite has one writer at a time, and a connection that finds the database locked polls with
//! growing sleeps; against a writer that commits back to back it would hardly ever get in (the
//! outbox worker's claims starved while credits streamed in). So every write transaction of
//! the store, this writer's batches included, first takes its turn at the store's fair write
//! gate (first come, first served): a waiting claim runs right after the current batch.
//!
//! Callers send a [`Job`] and wait for its answer. The writer takes whatever is queued (up to
//! `max_batch`), runs each job through the ledger engine ([`engine::apply`] over
//! [`BatchTx`]) one after another inside one `BEGIN IMMEDIATE` transaction and commits
//! once, so N concurrent credits cost one fsync instead of N. Each job gets its own outcome: a
//! refused job (a duplicate, a conflict, too few points) wrote nothing of its own, only the
//! expiries that were due anyway, so it never disturbs the other jobs of the batch. Should the
//! database itself fail mid-batch, the batch is rolled back and every job is retried alone, so
//! one failure stays one failure.
//!
//! Balances and ledger pages are read from the pool; the expiry task's writes take the write
//! gate per customer like every other write.

use sqlx::Connection as _;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::{mpsc, oneshot};
use walletport_core::{CustomerId, Error, Result};

use super::ledger_tx::BatchTx;
use super::{Db, begin};
use crate::codec::{parse_decimal, to_ns};
use crate::error::db;
use crate::ledger::engine::{self, Expired};
use crate::ledger::{LedgerOp, LedgerOutcome};
use crate::logic::ledger::{BalanceParts, Entries, LedgerSql, RawEntry};
use crate::logic::ledger_tx::SqlLedgerTx;
use crate::logic::sql;
use crate::model::WriteOpts;

/// What of a customer's open lots is past its time: a range of the `lots_spending` index.
const OVERDUE: &str =
    "SELECT remaining FROM lots WHERE customer_id = ? AND open = 1 AND burns_at <= ?";

/// The customers with lots past their time, read off the `lots_due` index (named: SQLite's
/// planner would rather scan all open lots through `lots_spending` for the `DISTINCT`).
const DUE_CUSTOMERS: &str = "SELECT DISTINCT customer_id FROM lots INDEXED BY lots_due \
     WHERE open = 1 AND burns_at <= ? LIMIT ?";

/// One ledger operation waiting for the writer.
pub(crate) struct Job {
    /// Whose points.
    pub(crate) customer: CustomerId,
    /// What to do.
    pub(crate) op: LedgerOp,
    /// When, and whether the vendor hears of it.
    pub(crate) opts: WriteOpts,
    /// Where the job's own outcome goes once its batch committed.
    pub(crate) reply: oneshot::Sender<Result<LedgerOutcome>>,
}

/// What the writer task receives.
pub(crate) enum Msg {
    /// Apply this job.
    Job(Job),
    /// Finish the queued jobs, close the connection and stop.
    Shutdown(oneshot::Sender<()>),
}

/// Starts the writer task on its own connection; it takes `store`'s write turn for each batch.
pub(crate) fn spawn_writer(
    conn: SqliteConnection,
    store: Db,
    max_batch: usize,
) -> mpsc::Sender<Msg> {
    let (tx, rx) = mpsc::channel(max_batch.saturating_mul(16).max(64));
    tokio::spawn(run(conn, store, rx, max_batch));
    tx
}

/// The writer loop: waits for work, gathers a batch, takes the write turn and commits it, until
/// a shutdown request (or every sender is gone).
async fn run(mut conn: SqliteConnection, store: Db, mut rx: mpsc::Receiver<Msg>, max_batch: usize) {
    let mut batch = Vec::with_capacity(max_batch);
    let mut shutdown = None;
    while shutdown.is_none() {
        let Some(first) = rx.recv().await else { break };
        match first {
            Msg::Job(j) => batch.push(j),
            Msg::Shutdown(s) => shutdown = Some(s),
        }
        drain(&mut rx, &mut batch, &mut shutdown, max_batch);
        if !batch.is_empty() {
            let _turn = store.turn().await;
            // Jobs that arrived while this waited for its turn join the batch.
            drain(&mut rx, &mut batch, &mut shutdown, max_batch);
            commit_batch(&mut conn, std::mem::take(&mut batch)).await;
        }
    }
    if let Err(e) = conn.close().await {
        tracing::warn!(error = %crate::error::redact(&e.to_string()), "closing the ledger writer failed");
    }
    if let Some(s) = shutdown {
        let _ = s.send(());
    }
}

/// Moves what is queued into `batch` (up to `max_batch`), stopping at a shutdown request.
fn drain(
    rx: &mut mpsc::Receiver<Msg>,
    batch: &mut Vec<Job>,
    shutdown: &mut Option<oneshot::Sender<()>>,
    max_batch: usize,
) {
    while shutdown.is_none() && batch.len() < max_batch {
        match rx.try_recv() {
            Ok(Msg::Job(j)) => batch.push(j),
            Ok(Msg::Shutdown(s)) => *shutdown = Some(s),
            Err(_) => break,
        }
    }
}

/// Commits `jobs` as one batch and answers each; on a database failure, retries each alone so
/// the failure reaches only the job that causes it.
async fn commit_batch(conn: &mut SqliteConnection, jobs: Vec<Job>) {
    match try_batch(conn, &jobs).await {
        Ok(outcomes) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                let _ = job.reply.send(outcome);
            }
        }
        Err(e) if jobs.len() == 1 => {
            for job in jobs {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, jobs = jobs.len(), "ledger batch failed; retrying each job alone");
            for job in jobs {
                let outcome = match try_batch(conn, std::slice::from_ref(&job)).await {
                    Ok(mut v) => v
                        .pop()
                        .unwrap_or_else(|| Err(Error::unexpected("empty batch"))),
                    Err(e) => Err(e),
                };
                let _ = job.reply.send(outcome);
            }
        }
    }
}

/// Applies `jobs` in one transaction. The outer error means the database failed (nothing of
/// the batch is committed); the inner results are the jobs' own outcomes.
async fn try_batch(
    conn: &mut SqliteConnection,
    jobs: &[Job],
) -> Result<Vec<Result<LedgerOutcome>>> {
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| db("ledger.apply", e))?;
    match apply_all(&mut tx, jobs).await {
        Ok(outcomes) => {
            tx.commit().await.map_err(|e| db("ledger.commit", e))?;
            Ok(outcomes)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// Runs the jobs through the ledger engine on the batch's transaction, one after another, and
/// writes out what they buffered.
async fn apply_all(
    conn: &mut SqliteConnection,
    jobs: &[Job],
) -> Result<Vec<Result<LedgerOutcome>>> {
    let mut batch = BatchTx::new(conn);
    let keys: Vec<_> = jobs
        .iter()
        .filter_map(|j| {
            let now = to_ns(j.opts.now).ok()?;
            Some((j.customer.as_str(), j.op.transaction_id().as_str(), now))
        })
        .collect();
    batch.prefetch(&keys).await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        outcomes.push(engine::apply(&mut batch, &job.customer, &job.op, job.opts).await?);
    }
    batch.flush().await?;
    Ok(outcomes)
}

/// One page of a customer's entries, newest first.
const ENTRIES: &str = "SELECT id, transaction_id, kind, amount, balance_after, at, expires_at \
     FROM ledger_entries WHERE customer_id = ? AND id < ? ORDER BY id DESC LIMIT ?";

impl LedgerSql for Db {
    /// One read transaction: the customer's row, then the overdue lots (a range of the
    /// `lots_spending` index, whatever the history's length).
    async fn balance_parts(&self, customer: &CustomerId, now: i64) -> Result<Option<BalanceParts>> {
        const OP: &str = "ledger.balance";
        let c = customer.as_str();
        let mut tx = self.pool.begin().await.map_err(|e| db(OP, e))?;
        let sql = "SELECT points, bonus_percent, discount_percent FROM customers WHERE id = ?";
        let row: Option<(String, String, String)> =
            sql!(as (String, String, String), fetch_optional(&mut *tx), OP, sql, [c])?;
        let Some((points, bonus, discount)) = row else {
            return Ok(None);
        };
        let overdue: Vec<(String,)> =
            sql!(as (String,), fetch_all(&mut *tx), OP, OVERDUE, [c, now])?;
        tx.commit().await.map_err(|e| db(OP, e))?;
        Ok(Some(BalanceParts {
            points: parse_decimal(&points)?,
            overdue: overdue
                .iter()
                .map(|(r,)| parse_decimal(r))
                .collect::<Result<_>>()?,
            bonus: parse_decimal(&bonus)?,
            discount: parse_decimal(&discount)?,
        }))
    }

    /// One read transaction with the check that the customer exists.
    async fn entries(&self, id: &CustomerId, before: i64, limit: i64) -> Result<Option<Entries>> {
        const OP: &str = "ledger.list";
        let c = id.as_str();
        let mut tx = self.pool.begin().await.map_err(|e| db(OP, e))?;
        let known = "SELECT 1 FROM customers WHERE id = ?";
        if sql!(fetch_optional(&mut *tx), OP, known, [c])?.is_none() {
            return Ok(None);
        }
        let rows = sql!(as RawEntry, fetch_all(&mut *tx), OP, ENTRIES, [c, before, limit])?;
        tx.commit().await.map_err(|e| db(OP, e))?;
        Ok(Some(rows))
    }

    async fn due_customers(&self, now: i64, max: u32) -> Result<Vec<String>> {
        let max = i64::from(max);
        let due: Vec<(String,)> =
            sql!(as (String,), fetch_all(&self.pool), "ledger.expire", DUE_CUSTOMERS, [now, max])?;
        Ok(due.into_iter().map(|(c,)| c).collect())
    }

    /// At the store's write gate, so it interleaves fairly with the writer's batches; the
    /// engine re-reads the lots in the transaction, so a lot another process expired meanwhile
    /// is not expired again.
    async fn expire_customer(&self, customer: &str, now: i64) -> Result<Expired> {
        const OP: &str = "ledger.expire";
        let mut tx = begin(self, OP).await?;
        let expired =
            engine::expire_customer(&mut SqlLedgerTx::<Db>::new(&mut tx), customer, now).await?;
        tx.commit().await.map_err(|e| db(OP, e))?;
        Ok(expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::SqliteStore;
    use crate::sqlite::ledger_tx::{FLUSH_POINTS, OPEN_LOTS, PREFETCH};
    use crate::sqlite::tests::plan;
    use crate::{Store as _, StoreOptions};
    use chrono::DateTime;

    /// Reading a balance, spending and expiring search an index by customer, so their cost does
    /// not grow with the customer's history.
    #[tokio::test]
    async fn ledger_queries_are_index_range_scans() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("plan.db").display());
        let store = SqliteStore::open(&url, StoreOptions::default())
            .await
            .expect("open");
        let pool = store.pool();
        // The writer's account prefetch looks each job up by key.
        let p = plan(pool, PREFETCH).await;
        assert!(
            p.contains("SEARCH c USING INDEX")
                && p.contains("SEARCH p USING")
                && p.contains("lots_spending (customer_id=? AND burns_at<?)"),
            "{p}"
        );
        for sql in OPEN_LOTS.iter().chain([&OVERDUE]) {
            let p = plan(pool, sql).await;
            assert!(
                p.starts_with("SEARCH lots USING INDEX lots_spending (customer_id=?")
                    && !p.contains("TEMP B-TREE"),
                "{sql}: {p}"
            );
        }
        let p = plan(pool, DUE_CUSTOMERS).await;
        assert!(
            p.starts_with("SEARCH lots USING INDEX lots_due (burns_at<?)"),
            "{p}"
        );
        // The writer's points flush looks each customer up by key, never scans them.
        let p = plan(pool, FLUSH_POINTS).await;
        assert!(
            p.contains("SEARCH customers USING")
                && p.contains("(id=?)")
                && !p.contains("SCAN customers"),
            "{p}"
        );
        store.close().await;
    }

    /// The writer's buffered rows land as the immediate writes did: integer columns stay
    /// integers (a never-expiring lot's `burns_at` is exactly `i64::MAX`), entry ids follow
    /// `AUTOINCREMENT`'s sequence, and a transaction id repeated within one group commit is
    /// applied once.
    #[tokio::test]
    async fn group_commit_writes_exact_rows() {
        use std::time::Duration;
        use walletport_core::{Credit, Customer, Phone, Redemption, TransactionId};

        let tx = |s: &str| TransactionId::new(s).expect("id");

        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("batch.db").display()
        );
        let store = std::sync::Arc::new(
            SqliteStore::open(&url, StoreOptions::default())
                .await
                .expect("open"),
        );
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("instant");
        let opts = WriteOpts::at(now).no_echo();
        let mut ids = Vec::new();
        for n in 0..2 {
            let phone = Phone::parse(&format!("+42070000000{n}")).expect("phone");
            let c = store.upsert_customer(&Customer::new(phone), opts).await;
            ids.push(c.expect("customer").id);
        }
        // 20 credits at once, so the writer group-commits them; ids t-0..t-4 come twice.
        let mut all = tokio::task::JoinSet::new();
        for i in 0..20 {
            let id = TransactionId::new(format!("t-{}", i % 15)).expect("id");
            let lifetime = (i % 15 % 2 == 0).then(|| Duration::from_secs(60));
            let credit = Credit::new(rust_decimal::Decimal::ONE, id, lifetime).expect("credit");
            let customer = ids[i % 15 % 2].clone();
            let store = store.clone();
            all.spawn(async move { store.credit(&customer, &credit, opts).await });
        }
        let mut applied = 0;
        while let Some(r) = all.join_next().await {
            applied += usize::from(r.expect("task").expect("credit").applied);
        }
        assert_eq!(applied, 15);
        let pool = store.pool();
        let never: Vec<(i64, String)> = sqlx::query_as(
            "SELECT burns_at, typeof(burns_at) FROM lots WHERE expired = '0' AND burns_at > ?",
        )
        .bind(now.timestamp_nanos_opt().expect("ns") + 120_000_000_000)
        .fetch_all(pool)
        .await
        .expect("lots");
        assert_eq!(never.len(), 7);
        assert!(
            never.iter().all(|(b, t)| *b == i64::MAX && t == "integer"),
            "{never:?}"
        );
        let (rows, max, seq): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), MAX(id), (SELECT seq FROM sqlite_sequence WHERE name = 'ledger_entries') \
             FROM ledger_entries",
        )
        .fetch_one(pool)
        .await
        .expect("entries");
        assert_eq!((rows, max, seq), (15, 15, 15));
        let mut total = rust_decimal::Decimal::ZERO;
        for c in &ids {
            total += store.balance(c, now).await.expect("balance").points;
        }
        assert_eq!(total, rust_decimal::Decimal::from(15));

        // Redemptions and credits of the same customers in one group: each job sees the
        // points the previous ones left, flushed or not, and the history adds up.
        let one = rust_decimal::Decimal::ONE;
        let mut all = tokio::task::JoinSet::new();
        for i in 0..13 {
            let (who, op) = match i {
                0..6 => (
                    0,
                    LedgerOp::Redeem(
                        Redemption::new(one, tx(&format!("r-{i}"))).expect("redemption"),
                    ),
                ),
                6..10 => {
                    let c = Credit::new(one + one, tx(&format!("u-{i}")), None).expect("credit");
                    (1, LedgerOp::Credit(c))
                }
                _ => (
                    1,
                    LedgerOp::Redeem(
                        Redemption::new(one, tx(&format!("s-{i}"))).expect("redemption"),
                    ),
                ),
            };
            let customer = ids[who].clone();
            let store = store.clone();
            all.spawn(async move { store.apply(&customer, &op, opts).await });
        }
        while let Some(r) = all.join_next().await {
            assert!(r.expect("task").expect("apply").applied);
        }
        for (c, want) in ids.iter().zip([2, 12]) {
            let points = store.balance(c, now).await.expect("balance").points;
            assert_eq!(points, rust_decimal::Decimal::from(want));
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT amount, balance_after FROM ledger_entries WHERE customer_id = ? ORDER BY id",
            )
            .bind(c.as_str())
            .fetch_all(pool)
            .await
            .expect("entries");
            let mut running = rust_decimal::Decimal::ZERO;
            for (amount, after) in rows {
                running += amount.parse::<rust_decimal::Decimal>().expect("amount");
                assert_eq!(
                    after.parse::<rust_decimal::Decimal>().expect("after"),
                    running
                );
            }
            assert_eq!(running, points);
        }
        store.close().await;
    }
}
