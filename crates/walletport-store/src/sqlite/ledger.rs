//! The ledger on SQLite: one writer task group-commits ledger operations.
//!
//! SQLite has one writer at a time, and a connection that finds the database locked polls with
//! growing sleeps; against a writer that commits back to back it would hardly ever get in (the
//! outbox worker's claims starved while credits streamed in). So every write transaction of
//! the store, this writer's batches included, first takes its turn at the store's fair write
//! gate (first come, first served): a waiting claim runs right after the current batch.
//!
//! Callers send a [`Job`] and wait for its answer. The writer takes whatever is queued (up to
//! `max_batch`), applies the jobs one after another inside one `BEGIN IMMEDIATE` transaction and
//! commits once, so N concurrent credits cost one fsync instead of N. Each job gets its own
//! outcome: a duplicate or a conflict is decided by reads before the job writes anything, so it
//! never disturbs the other jobs of the batch. Should the database itself fail mid-batch, the
//! batch is rolled back and every job is retried alone, so one failure stays one failure.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::Connection as _;
use sqlx::Row as _;
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};
use walletport_core::{Balance, CustomerId, Error, Result};

use super::Db;
use super::customers::enqueue_in;
use crate::codec::{
    checked_sum, expiry_ns, from_ns, judge_repeat, ledger_payload, parse_decimal, parse_percent,
    parse_tx, to_ns,
};
use crate::error::db;
use crate::model::{EntryKind, LedgerEntry, LedgerOp, LedgerOutcome, WriteOpts};
use crate::outbox::OutboxKind;

/// One ledger operation waiting for the writer.
pub(crate) struct Job {
    pub(crate) customer: CustomerId,
    pub(crate) op: LedgerOp,
    pub(crate) opts: WriteOpts,
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
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        match apply_one(&mut tx, job).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e);
            }
        }
    }
    tx.commit().await.map_err(|e| db("ledger.commit", e))?;
    Ok(outcomes)
}

async fn apply_one(conn: &mut SqliteConnection, job: &Job) -> Result<Result<LedgerOutcome>> {
    let now = match to_ns(job.opts.now) {
        Ok(n) => n,
        Err(e) => return Ok(Err(e)),
    };
    let customer = job.customer.as_str();
    let tx_id = job.op.transaction_id().as_str();
    let prior = sqlx::query(
        "SELECT customer_id, kind, amount FROM processed_transactions WHERE transaction_id = ?",
    )
    .bind(tx_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| db("ledger.apply", e))?;
    if let Some(row) = prior {
        let c: String = row
            .try_get("customer_id")
            .map_err(|e| db("ledger.apply", e))?;
        let k: String = row.try_get("kind").map_err(|e| db("ledger.apply", e))?;
        let a: String = row.try_get("amount").map_err(|e| db("ledger.apply", e))?;
        let amount = match parse_decimal(&a) {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        return Ok(judge_repeat(&c, &k, amount, &job.customer, &job.op));
    }
    let exists = sqlx::query("SELECT 1 FROM customers WHERE id = ?")
        .bind(customer)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| db("ledger.apply", e))?;
    if exists.is_none() {
        return Ok(Err(Error::not_found(format!("no customer `{customer}`"))));
    }
    let (delta, kind, expires) = match &job.op {
        LedgerOp::Credit(c) => (c.amount(), EntryKind::Credit, expiry_ns(now, c.lifetime())),
        LedgerOp::Debit(d) => {
            let live = match live_points(conn, customer, now).await? {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            };
            if live < d.amount() {
                return Ok(Err(Error::invalid_input(format!(
                    "cannot debit {} points: the balance is {live}",
                    d.amount()
                ))));
            }
            (-d.amount(), EntryKind::Debit, None)
        }
        LedgerOp::Set(s) => {
            let live = match live_points(conn, customer, now).await? {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            };
            match s.points().checked_sub(live) {
                Some(d) => (d.normalize(), EntryKind::Adjustment, None),
                None => {
                    return Ok(Err(Error::unexpected(
                        "balance overflows the decimal range",
                    )));
                }
            }
        }
    };
    sqlx::query(
        "INSERT INTO processed_transactions (transaction_id, customer_id, kind, amount, processed_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(tx_id)
    .bind(customer)
    .bind(job.op.kind())
    .bind(job.op.requested().to_string())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| db("ledger.apply", e))?;
    if !delta.is_zero() {
        sqlx::query(
            "INSERT INTO ledger (customer_id, transaction_id, kind, amount, credited_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(customer)
        .bind(tx_id)
        .bind(kind.as_str())
        .bind(delta.to_string())
        .bind(now)
        .bind(expires)
        .execute(&mut *conn)
        .await
        .map_err(|e| db("ledger.apply", e))?;
    }
    if job.opts.echo {
        let payload = ledger_payload(&job.op, delta, now, expires);
        enqueue_in(conn, customer, OutboxKind::Balance, &payload, now).await?;
    }
    Ok(Ok(LedgerOutcome {
        applied: true,
        delta,
    }))
}

/// The sum of the rows live at `now`. Outer error: the database; inner: overflow.
async fn live_points(
    conn: &mut SqliteConnection,
    customer: &str,
    now: i64,
) -> Result<Result<Decimal>> {
    let rows = sqlx::query(
        "SELECT amount FROM ledger WHERE customer_id = ? AND (expires_at IS NULL OR expires_at > ?)",
    )
    .bind(customer)
    .bind(now)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db("ledger.balance", e))?;
    let mut amounts = Vec::with_capacity(rows.len());
    for r in &rows {
        let a: String = r.try_get(0).map_err(|e| db("ledger.balance", e))?;
        match parse_decimal(&a) {
            Ok(a) => amounts.push(a),
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(checked_sum(amounts))
}

pub(super) async fn balance(
    pool: &SqlitePool,
    customer: &CustomerId,
    now: DateTime<Utc>,
) -> Result<Balance> {
    let now = to_ns(now)?;
    // One read transaction: the percentages and the ledger come from the same snapshot.
    let mut tx = pool.begin().await.map_err(|e| db("ledger.balance", e))?;
    let row = sqlx::query("SELECT bonus_percent, discount_percent FROM customers WHERE id = ?")
        .bind(customer.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| db("ledger.balance", e))?
        .ok_or_else(|| Error::not_found(format!("no customer `{customer}`")))?;
    let bonus: String = row.try_get(0).map_err(|e| db("ledger.balance", e))?;
    let discount: String = row.try_get(1).map_err(|e| db("ledger.balance", e))?;
    let points = live_points(&mut tx, customer.as_str(), now).await??;
    tx.commit().await.map_err(|e| db("ledger.balance", e))?;
    Ok(Balance {
        points: points.normalize(),
        bonus_percent: parse_percent(parse_decimal(&bonus)?)?,
        discount_percent: parse_percent(parse_decimal(&discount)?)?,
    })
}

pub(super) async fn entries(
    pool: &SqlitePool,
    customer: &CustomerId,
    limit: u32,
) -> Result<Vec<LedgerEntry>> {
    let limit = crate::outbox::page_limit(limit)?;
    let rows = sqlx::query(
        "SELECT id, customer_id, transaction_id, kind, amount, credited_at, expires_at \
         FROM ledger WHERE customer_id = ? ORDER BY id LIMIT ?",
    )
    .bind(customer.as_str())
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(|e| db("ledger.list", e))?;
    rows.iter()
        .map(|r| {
            let g = |e| db("ledger.list", e);
            let amount: String = r.try_get("amount").map_err(g)?;
            let kind: String = r.try_get("kind").map_err(g)?;
            Ok(LedgerEntry {
                id: r.try_get("id").map_err(g)?,
                customer_id: customer.clone(),
                transaction_id: parse_tx(r.try_get("transaction_id").map_err(g)?)?,
                kind: EntryKind::parse(&kind)?,
                amount: parse_decimal(&amount)?,
                credited_at: from_ns(r.try_get("credited_at").map_err(g)?),
                expires_at: r
                    .try_get::<Option<i64>, _>("expires_at")
                    .map_err(g)?
                    .map(from_ns),
            })
        })
        .collect()
}

pub(super) async fn sweep(store: &Db, now: DateTime<Utc>) -> Result<u64> {
    let now = to_ns(now)?;
    let _turn = store.turn().await;
    let done = sqlx::query(
        "DELETE FROM ledger WHERE kind = 'credit' AND expires_at IS NOT NULL AND expires_at <= ?",
    )
    .bind(now)
    .execute(&store.pool)
    .await
    .map_err(|e| db("ledger.sweep", e))?;
    Ok(done.rows_affected())
}
