//! Group commit of credits on PostgreSQL.
//!
//! A credit on its own is one statement and one WAL flush, and a caller holds a pooled
//! connection for the whole flush: with a pool of 8, eight flushes at a time bound the rate. So
//! credits go through one writer task that sends whatever arrived while its previous statement
//! was committing as **one** statement over arrays (`unnest`): one round trip and one flush for
//! the whole batch. Exactly-once holds as for a single credit — the statement locks the
//! customers' rows (in id order), claims each transaction id with `ON CONFLICT DO NOTHING` and
//! writes the ledger entry and the outbox item only for the ids it claimed; an id it did not
//! claim is judged afterwards against the committed `processed_transactions` row. A batch never
//! holds one transaction id twice (a repeat waits for the next batch), and should the statement
//! fail, every credit of the batch is retried alone, so one failure stays one failure.

use std::collections::{HashSet, VecDeque};

use rust_decimal::Decimal;
use sqlx::Row as _;
use sqlx::postgres::PgPool;
use tokio::sync::{mpsc, oneshot};
use walletport_core::{CustomerId, Error, Result};

use super::ledger::{credit_alone, judge_prior};
use crate::error::db;
use crate::model::{LedgerOp, LedgerOutcome};

/// One statement for a whole batch: see the module docs. Arrays are aligned by position.
const BATCH_SQL: &str = "WITH input AS (\
     SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[], $4::int8[], $5::int8[], \
     $6::jsonb[], $7::bool[]) WITH ORDINALITY AS t(tx, cust, amount, at, expires, payload, echo, n)), \
     c AS MATERIALIZED (\
     SELECT id FROM customers WHERE id = ANY($2::text[]) ORDER BY id FOR NO KEY UPDATE), \
     claim AS (\
     INSERT INTO processed_transactions (transaction_id, customer_id, kind, amount, processed_at) \
     SELECT i.tx, i.cust, 'credit', i.amount, i.at FROM input i \
     WHERE i.cust IN (SELECT id FROM c) ORDER BY i.n \
     ON CONFLICT (transaction_id) DO NOTHING RETURNING transaction_id), \
     entry AS (\
     INSERT INTO ledger (customer_id, transaction_id, kind, amount, credited_at, expires_at) \
     SELECT i.cust, i.tx, 'credit', i.amount, i.at, i.expires FROM input i \
     JOIN claim k ON k.transaction_id = i.tx WHERE i.amount <> 0 ORDER BY i.n), \
     echo AS (\
     INSERT INTO outbox (customer_id, kind, payload, created_at, next_attempt_at) \
     SELECT i.cust, 'balance', i.payload, i.at, i.at FROM input i \
     JOIN claim k ON k.transaction_id = i.tx WHERE i.echo ORDER BY i.n) \
     SELECT ARRAY(SELECT id FROM c), ARRAY(SELECT transaction_id FROM claim)";

/// One credit waiting for the writer, with everything its rows need.
pub(crate) struct Job {
    pub(crate) customer: CustomerId,
    /// Always a [`LedgerOp::Credit`] (kept whole to judge a repeat).
    pub(crate) op: LedgerOp,
    pub(crate) amount: Decimal,
    pub(crate) now: i64,
    pub(crate) expires: Option<i64>,
    /// The outbox payload when the credit is synced to the vendor.
    pub(crate) echo: Option<serde_json::Value>,
    pub(crate) reply: oneshot::Sender<Result<LedgerOutcome>>,
}

/// What the writer task receives.
pub(crate) enum Msg {
    /// Apply this credit.
    Job(Job),
    /// Finish the queued credits and stop.
    Shutdown(oneshot::Sender<()>),
}

/// Starts the credit writer over `pool`.
pub(crate) fn spawn_writer(pool: PgPool, max_batch: usize) -> mpsc::Sender<Msg> {
    let (tx, rx) = mpsc::channel(max_batch.saturating_mul(16).max(64));
    tokio::spawn(run(pool, rx, max_batch.max(1)));
    tx
}

async fn run(pool: PgPool, mut rx: mpsc::Receiver<Msg>, max_batch: usize) {
    let mut queue: VecDeque<Job> = VecDeque::new();
    let mut shutdown = None;
    loop {
        if queue.is_empty() {
            if shutdown.is_some() {
                break;
            }
            match rx.recv().await {
                Some(Msg::Job(j)) => queue.push_back(j),
                Some(Msg::Shutdown(s)) => shutdown = Some(s),
                None => break,
            }
        }
        while shutdown.is_none() && queue.len() < max_batch {
            match rx.try_recv() {
                Ok(Msg::Job(j)) => queue.push_back(j),
                Ok(Msg::Shutdown(s)) => shutdown = Some(s),
                Err(_) => break,
            }
        }
        let batch = take_batch(&mut queue, max_batch);
        if !batch.is_empty() {
            commit(&pool, batch).await;
        }
    }
    if let Some(s) = shutdown {
        let _ = s.send(());
    }
}

/// Takes up to `max` jobs with distinct transaction ids, oldest first; repeats stay queued.
fn take_batch(queue: &mut VecDeque<Job>, max: usize) -> Vec<Job> {
    let mut ids = HashSet::new();
    let mut batch = Vec::new();
    let mut rest = VecDeque::new();
    while let Some(job) = queue.pop_front() {
        if batch.len() < max && ids.insert(job.op.transaction_id().as_str().to_owned()) {
            batch.push(job);
        } else {
            rest.push_back(job);
        }
    }
    *queue = rest;
    batch
}

async fn commit(pool: &PgPool, jobs: Vec<Job>) {
    if jobs.len() == 1 {
        for job in jobs {
            let outcome = credit_alone(pool, &job).await;
            let _ = job.reply.send(outcome);
        }
        return;
    }
    match try_batch(pool, &jobs).await {
        Ok((found, claimed)) => {
            for job in jobs {
                let outcome = if claimed.contains(job.op.transaction_id().as_str()) {
                    Ok(LedgerOutcome {
                        applied: true,
                        delta: job.amount,
                    })
                } else {
                    judge_prior(pool, &job, found.contains(job.customer.as_str())).await
                };
                let _ = job.reply.send(outcome);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, jobs = jobs.len(), "credit batch failed; retrying each credit alone");
            for job in jobs {
                let outcome = credit_alone(pool, &job).await;
                let _ = job.reply.send(outcome);
            }
        }
    }
}

/// Runs [`BATCH_SQL`]: the customers found and the transaction ids claimed.
async fn try_batch(pool: &PgPool, jobs: &[Job]) -> Result<(HashSet<String>, HashSet<String>)> {
    let n = jobs.len();
    let (mut tx, mut cust, mut amount, mut at, mut expires, mut payload, mut echo) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for j in jobs {
        tx.push(j.op.transaction_id().as_str().to_owned());
        cust.push(j.customer.as_str().to_owned());
        amount.push(j.amount);
        at.push(j.now);
        expires.push(j.expires);
        payload.push(j.echo.clone().unwrap_or(serde_json::Value::Null));
        echo.push(j.echo.is_some());
    }
    let row = sqlx::query(BATCH_SQL)
        .bind(tx)
        .bind(cust)
        .bind(amount)
        .bind(at)
        .bind(expires)
        .bind(payload)
        .bind(echo)
        .fetch_one(pool)
        .await
        .map_err(|e| db("ledger.apply", e))?;
    let g = |e| db("ledger.apply", e);
    let found: Vec<String> = row.try_get(0).map_err(g)?;
    let claimed: Vec<String> = row.try_get(1).map_err(g)?;
    Ok((found.into_iter().collect(), claimed.into_iter().collect()))
}

/// The error a credit gets once the writer has stopped (the store was closed).
pub(crate) fn stopped() -> Error {
    Error::new(
        walletport_core::ErrorKind::Unexpected,
        "the store is closed",
    )
    .with_operation("ledger.apply")
}
