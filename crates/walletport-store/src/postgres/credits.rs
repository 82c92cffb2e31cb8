//! Group commit of credits on PostgreSQL: the hot path (Passquare `addBalance`).
//!
//! A credit through the engine is a transaction of several round trips, and a caller holds a
//! pooled connection for all of them and the WAL flush: with a pool of 8, that bounds the rate.
//! So credits go through one writer task that sends whatever arrived while its previous
//! statement was committing as **one** statement over arrays ([`BATCH_SQL`]): one round trip and
//! one flush for the whole batch. It writes exactly what the engine would, but only for
//! customers that need nothing but the credit itself:
//!
//! - no debt (`points >= 0`), so the whole credit opens its lot;
//! - no open lot due by the latest `now` of the customer's credits, so nothing expires first;
//! - the row unchanged since the statement's snapshot (same `xmin` under the lock as without
//!   it), so the lots it checked are the current ones;
//! - amounts and points small enough (see [`FAST_SCALE`]) that the exact SQL sums equal the
//!   engine's `Decimal` arithmetic.
//!
//! For them the statement locks the customers' rows (in id order), claims each transaction id
//! with `ON CONFLICT DO NOTHING` (in id order, so two gateways never deadlock on claims), and,
//! for the ids it claimed, appends the entries with their `balance_after` (the points plus the
//! running sum of the customer's claimed credits), opens the lots, adds to the points and
//! enqueues the outbox items. Every other credit — another customer's, an id that was not
//! claimed (a repeat, a conflict, a race), an unknown customer, or all of a batch whose
//! statement failed — is applied by the engine in a transaction of its own, which decides it
//! exactly as it decides any operation.

use std::collections::{HashMap, HashSet, VecDeque};

use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::postgres::PgPool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use walletport_core::{Credit, CustomerId, Error, Result};

use super::ledger;
use crate::codec::{expiry_ns, to_ns};
use crate::error::db;
use crate::ledger::engine::{self, Expired, NEVER};
use crate::ledger::{LedgerOp, LedgerOutcome};
use crate::model::WriteOpts;

/// The most decimal places of an amount or of the points on the fast path: with points below
/// 10^20 and at most 256 credits of at most 10^12, every sum then fits `Decimal`'s 28 digits
/// exactly, as in the engine.
const FAST_SCALE: u32 = 8;

/// The planner settings of the writer's own connection. [`BATCH_SQL`] touches a handful of
/// rows per credit and is meant to run as index probes per customer (nested loops over the
/// batch). With statistics from when a table was small — a new database, or growth faster
/// than autovacuum re-analyses — PostgreSQL instead plans sequential or bitmap scans of
/// `customers` and of every open lot with hash or merge joins, a cost that grows with the
/// table: measured on 1,000 customers after 9,600 credits, 9.6 ms per statement of 32 credits
/// with stale statistics, 2.6 ms after `ANALYZE`, and 1.7 ms with these settings whatever the
/// statistics.
pub(crate) const PLANNER: [(&str, &str); 4] = [
    ("enable_seqscan", "off"),
    ("enable_bitmapscan", "off"),
    ("enable_hashjoin", "off"),
    ("enable_mergejoin", "off"),
];

/// One statement for a batch: see the module docs. Arrays are aligned by position; the result
/// is the transaction ids claimed (and so applied).
const BATCH_SQL: &str = "WITH input AS (\
     SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[], $4::int8[], $5::int8[], \
     $6::int8[], $7::jsonb[], $8::bool[]) \
     WITH ORDINALITY AS t(tx, cust, amount, at, burns, expires, payload, echo, n)), \
     c AS MATERIALIZED (\
     SELECT id, points, xmin::text AS v FROM customers WHERE id = ANY($2::text[]) \
     ORDER BY id FOR NO KEY UPDATE), \
     snap AS MATERIALIZED (\
     SELECT id, xmin::text AS v FROM customers WHERE id = ANY($2::text[])), \
     fast AS MATERIALIZED (\
     SELECT c.id, c.points FROM c JOIN snap s ON s.id = c.id AND s.v = c.v \
     WHERE c.points >= 0 AND c.points < 1e20 AND scale(c.points) <= 8 /* FAST_SCALE */ \
     AND NOT EXISTS (SELECT 1 FROM lots l WHERE l.customer_id = c.id AND l.open \
     AND l.burns_at <= (SELECT max(i.at) FROM input i WHERE i.cust = c.id))), \
     claim AS (\
     INSERT INTO processed_transactions (transaction_id, customer_id, kind, amount, processed_at) \
     SELECT i.tx, i.cust, 'credit', i.amount, i.at FROM input i JOIN fast f ON f.id = i.cust \
     ORDER BY i.tx ON CONFLICT (transaction_id) DO NOTHING RETURNING transaction_id), \
     run AS MATERIALIZED (\
     SELECT i.*, f.points + SUM(i.amount) OVER (PARTITION BY i.cust ORDER BY i.n) AS after \
     FROM input i JOIN claim k ON k.transaction_id = i.tx JOIN fast f ON f.id = i.cust), \
     entry AS (\
     INSERT INTO ledger_entries \
     (customer_id, transaction_id, kind, amount, balance_after, at, expires_at) \
     SELECT cust, tx, 'credit', amount, after, at, expires FROM run ORDER BY n \
     RETURNING id, transaction_id), \
     lot AS (\
     INSERT INTO lots (entry_id, customer_id, transaction_id, amount, remaining, burns_at, open) \
     SELECT e.id, r.cust, r.tx, r.amount, r.amount, r.burns, r.amount > 0 \
     FROM entry e JOIN run r ON r.tx = e.transaction_id), \
     bump AS (\
     UPDATE customers u SET points = s.after FROM (\
     SELECT DISTINCT ON (cust) cust, after FROM run ORDER BY cust, n DESC) s \
     WHERE u.id = s.cust), \
     echo AS (\
     INSERT INTO outbox (customer_id, kind, payload, created_at, next_attempt_at) \
     SELECT cust, 'balance', payload, at, at FROM run WHERE echo ORDER BY n) \
     SELECT ARRAY(SELECT transaction_id FROM claim)";

/// One credit waiting for the writer, with what its rows need.
pub(crate) struct Job {
    /// Whose.
    customer: CustomerId,
    /// Always a [`LedgerOp::Credit`] (kept whole for the engine path).
    op: LedgerOp,
    /// As the caller gave them (for the engine path).
    opts: WriteOpts,
    /// The credit's amount.
    amount: Decimal,
    /// `opts.now` in ns.
    now: i64,
    /// When the lot burns ([`NEVER`] without a lifetime).
    burns: i64,
    /// The outbox payload when the credit is synced to the vendor.
    echo: Option<Value>,
    reply: oneshot::Sender<Result<LedgerOutcome>>,
}

impl Job {
    /// The job for `credit`, answered on `reply`.
    pub(crate) fn new(
        customer: &CustomerId,
        credit: &Credit,
        opts: WriteOpts,
        reply: oneshot::Sender<Result<LedgerOutcome>>,
    ) -> Result<Self> {
        let now = to_ns(opts.now)?;
        let op = LedgerOp::Credit(credit.clone());
        let echo = opts.echo.then(|| {
            engine::payload(
                "credit",
                Some(&op),
                credit.amount(),
                Expired::default(),
                now,
            )
        });
        Ok(Self {
            customer: customer.clone(),
            amount: credit.amount(),
            burns: expiry_ns(now, credit.lifetime()).unwrap_or(NEVER),
            op,
            opts,
            now,
            echo,
            reply,
        })
    }

    /// The credit's transaction id.
    fn tx(&self) -> &str {
        self.op.transaction_id().as_str()
    }
}

/// What the writer task receives.
pub(crate) enum Msg {
    /// Apply this credit.
    Job(Job),
    /// Finish the queued credits and stop.
    Shutdown(oneshot::Sender<()>),
}

/// Starts the credit writer: batch statements on `batch` (a connection with [`PLANNER`]'s
/// settings), the credits they leave to the engine on `pool`.
pub(crate) fn spawn_writer(batch: PgPool, pool: PgPool, max_batch: usize) -> mpsc::Sender<Msg> {
    let (tx, rx) = mpsc::channel(max_batch.saturating_mul(16).max(64));
    tokio::spawn(run(batch, pool, rx, max_batch.max(1)));
    tx
}

/// The writer: batches what is queued, runs it, and hands the rest to engine tasks (awaited
/// before it stops).
async fn run(batch_pool: PgPool, pool: PgPool, mut rx: mpsc::Receiver<Msg>, max_batch: usize) {
    let mut queue: VecDeque<Job> = VecDeque::new();
    let mut engine_tasks = JoinSet::new();
    let mut shutdown = None;
    loop {
        while engine_tasks.try_join_next().is_some() {}
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
        for job in commit(&batch_pool, batch).await {
            let pool = pool.clone();
            engine_tasks.spawn(async move {
                let outcome = ledger::apply(&pool, &job.customer, &job.op, job.opts).await;
                let _ = job.reply.send(outcome);
            });
        }
    }
    while engine_tasks.join_next().await.is_some() {}
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
        if batch.len() < max && ids.insert(job.tx().to_owned()) {
            batch.push(job);
        } else {
            rest.push_back(job);
        }
    }
    *queue = rest;
    batch
}

/// Applies what the batch statement can and answers those jobs; returns the rest, for the
/// engine.
async fn commit(pool: &PgPool, jobs: Vec<Job>) -> Vec<Job> {
    let (fast, mut rest) = eligible(jobs);
    if fast.is_empty() {
        return rest;
    }
    match try_batch(pool, &fast).await {
        Ok(claimed) => {
            for job in fast {
                if claimed.contains(job.tx()) {
                    let delta = job.amount;
                    let _ = job.reply.send(Ok(LedgerOutcome {
                        applied: true,
                        delta,
                    }));
                } else {
                    rest.push(job);
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, jobs = fast.len(), "credit batch failed; applying each credit alone");
            rest.extend(fast);
        }
    }
    rest
}

/// Splits off, for the engine, the customers the batch statement must not take whatever their
/// stored state: an amount with more than [`FAST_SCALE`] places, or a credit whose lot is due by
/// the customer's latest `now` in the batch (a later credit would have to expire it first).
fn eligible(jobs: Vec<Job>) -> (Vec<Job>, Vec<Job>) {
    let mut latest: HashMap<&str, i64> = HashMap::new();
    for j in &jobs {
        let t = latest.entry(j.customer.as_str()).or_insert(j.now);
        *t = (*t).max(j.now);
    }
    let slow: HashSet<String> = jobs
        .iter()
        .filter(|j| {
            j.amount.scale() > FAST_SCALE
                || latest
                    .get(j.customer.as_str())
                    .is_some_and(|&t| j.burns <= t)
        })
        .map(|j| j.customer.as_str().to_owned())
        .collect();
    jobs.into_iter()
        .partition(|j| !slow.contains(j.customer.as_str()))
}

/// Runs [`BATCH_SQL`]; returns the transaction ids claimed.
async fn try_batch(pool: &PgPool, jobs: &[Job]) -> Result<HashSet<String>> {
    let tx: Vec<&str> = jobs.iter().map(Job::tx).collect();
    let cust: Vec<&str> = jobs.iter().map(|j| j.customer.as_str()).collect();
    let amount: Vec<Decimal> = jobs.iter().map(|j| j.amount).collect();
    let at: Vec<i64> = jobs.iter().map(|j| j.now).collect();
    let burns: Vec<i64> = jobs.iter().map(|j| j.burns).collect();
    let expires: Vec<Option<i64>> = jobs
        .iter()
        .map(|j| (j.burns != NEVER).then_some(j.burns))
        .collect();
    let payload: Vec<Value> = jobs
        .iter()
        .map(|j| j.echo.clone().unwrap_or(Value::Null))
        .collect();
    let echo: Vec<bool> = jobs.iter().map(|j| j.echo.is_some()).collect();
    let claimed: Vec<String> = sqlx::query_scalar(BATCH_SQL)
        .bind(tx)
        .bind(cust)
        .bind(amount)
        .bind(at)
        .bind(burns)
        .bind(expires)
        .bind(payload)
        .bind(echo)
        .fetch_one(pool)
        .await
        .map_err(|e| db("ledger.apply", e))?;
    Ok(claimed.into_iter().collect())
}

/// The error a credit gets once the writer has stopped (the store was closed).
pub(crate) fn stopped() -> Error {
    Error::unexpected("the store is closed").with_operation("ledger.apply")
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::str::FromStr;

    use sqlx::Connection as _;
    use sqlx::postgres::{PgConnectOptions, PgConnection};

    use super::{BATCH_SQL, PLANNER};
    use crate::Store as _;
    use crate::postgres::tests::grown_past_its_statistics;

    /// The plan of [`BATCH_SQL`] for 32 credits over `conn`, as text.
    async fn plan(conn: &mut PgConnection) -> String {
        let n = 32_usize;
        let ids: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
        let txs: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
        let rows: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN {BATCH_SQL}")))
                .bind(&txs)
                .bind(&ids)
                .bind(vec![rust_decimal::Decimal::ONE; n])
                .bind(vec![1_i64; n])
                .bind(vec![i64::MAX; n])
                .bind(vec![None::<i64>; n])
                .bind(vec![serde_json::Value::Null; n])
                .bind(vec![false; n])
                .fetch_all(conn)
                .await
                .expect("explain");
        rows.join("\n")
    }

    /// With statistics from when the tables were empty, the default planner scans every
    /// customer and every open lot per batch; the writer's settings keep it to index probes.
    #[tokio::test]
    async fn the_batch_statement_probes_indexes_whatever_the_statistics() {
        let fill = [
            "INSERT INTO customers (id, phone, created_at, updated_at) \
             SELECT 'c' || g, '+4200' || lpad(g::text, 7, '0'), 0, 0 \
             FROM generate_series(0, 4999) g",
            "INSERT INTO ledger_entries (id, customer_id, kind, amount, balance_after, at) \
             SELECT g, 'c' || (g % 5000), 'credit', 1, 1, 0 FROM generate_series(1, 50000) g",
            "INSERT INTO lots (entry_id, customer_id, amount, remaining, burns_at, open) \
             SELECT g, 'c' || (g % 5000), 1, 1, 9223372036854775807, true \
             FROM generate_series(1, 50000) g",
        ];
        let Some((pg, store)) = grown_past_its_statistics("walletport_plan", &fill).await else {
            return;
        };
        let options = PgConnectOptions::from_str(pg.url()).expect("url");
        let options = options.options(PLANNER.iter().copied());
        let mut writer = PgConnection::connect_with(&options).await.expect("connect");
        let plan = plan(&mut writer).await;
        for scan in ["Seq Scan", "Bitmap", "Hash", "Merge"] {
            assert!(!plan.contains(scan), "{scan} in the writer's plan:\n{plan}");
        }
        assert!(plan.contains("lots_spending"), "{plan}");
        writer.close().await.expect("close");
        store.close().await;
    }
}
