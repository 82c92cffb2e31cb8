//! The ledger on PostgreSQL: one transaction per operation (PostgreSQL group-commits WAL
//! flushes of concurrent transactions itself). Credits, the hot path, are one statement (one
//! round trip, an implicit transaction), batched by [`super::credits`]; debits and set-points
//! read the live balance under the customer's row lock in an explicit transaction.
//!
//! Exactly-once: the transaction id is claimed with `INSERT .. ON CONFLICT DO NOTHING` into
//! `processed_transactions`. A racing request with the same id waits on the unique index until
//! the first commits, then inserts nothing and is judged against the committed row.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::Row as _;
use sqlx::postgres::{PgConnection, PgPool};
use walletport_core::{Balance, CustomerId, Error, Result};

use super::credits::Job;
use super::customers::enqueue_in;
use super::lock_customer;
use crate::codec::{
    expiry_ns, from_ns, judge_repeat, ledger_payload, parse_percent, parse_tx, to_ns,
};
use crate::error::db;
use crate::model::{EntryKind, LedgerEntry, LedgerOp, LedgerOutcome, WriteOpts};
use crate::outbox::OutboxKind;

/// A credit in one statement, so one round trip and one implicit transaction: lock the customer
/// row (outbox ids of one customer stay in commit order), claim the transaction id, and, only
/// when the claim inserted a row, write the ledger entry and the outbox item. The data
/// dependencies (`claim` reads `c`, `entry` and `echo` read `claim`) order the steps.
const CREDIT_SQL: &str = "WITH c AS (\
     SELECT id FROM customers WHERE id = $2 FOR NO KEY UPDATE), \
     claim AS (\
     INSERT INTO processed_transactions (transaction_id, customer_id, kind, amount, processed_at) \
     SELECT $1, c.id, 'credit', $3, $4 FROM c \
     ON CONFLICT (transaction_id) DO NOTHING RETURNING customer_id), \
     entry AS (\
     INSERT INTO ledger (customer_id, transaction_id, kind, amount, credited_at, expires_at) \
     SELECT customer_id, $1, 'credit', $3, $4, $5 FROM claim WHERE $3 <> 0), \
     echo AS (\
     INSERT INTO outbox (customer_id, kind, payload, created_at, next_attempt_at) \
     SELECT customer_id, $6, $7, $4, $4 FROM claim WHERE $8) \
     SELECT EXISTS (SELECT 1 FROM c), EXISTS (SELECT 1 FROM claim)";

/// Applies a debit or set-points (credits go through [`super::credits`]; one given here is
/// applied the same way, in a transaction of its own).
pub(super) async fn apply(
    pool: &PgPool,
    customer: &CustomerId,
    op: &LedgerOp,
    opts: WriteOpts,
) -> Result<LedgerOutcome> {
    let now = to_ns(opts.now)?;
    let c = customer.as_str();
    let tx_id = op.transaction_id().as_str();
    let mut tx = pool.begin().await.map_err(|e| db("ledger.apply", e))?;
    if !lock_customer(&mut tx, c, "ledger.apply").await? {
        // The id may still be known (e.g. for another customer): a conflict says more.
        drop(tx);
        if let Some(prior) = prior(pool, tx_id).await? {
            return judge_repeat(&prior.0, &prior.1, prior.2, customer, op);
        }
        return Err(Error::not_found(format!("no customer `{customer}`")));
    }
    let claimed = sqlx::query(
        "INSERT INTO processed_transactions (transaction_id, customer_id, kind, amount, processed_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (transaction_id) DO NOTHING",
    )
    .bind(tx_id)
    .bind(c)
    .bind(op.kind())
    .bind(op.requested())
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| db("ledger.apply", e))?
    .rows_affected()
        == 1;
    if !claimed {
        let prior = prior(&mut *tx, tx_id)
            .await?
            .ok_or_else(|| Error::unexpected("processed transaction vanished"))?;
        return judge_repeat(&prior.0, &prior.1, prior.2, customer, op);
    }
    let (delta, kind, expires) = match op {
        LedgerOp::Credit(cr) => (
            cr.amount(),
            EntryKind::Credit,
            expiry_ns(now, cr.lifetime()),
        ),
        LedgerOp::Debit(d) => {
            let live = live_points(&mut tx, c, now).await?;
            if live < d.amount() {
                return Err(Error::invalid_input(format!(
                    "cannot debit {} points: the balance is {live}",
                    d.amount()
                )));
            }
            (-d.amount(), EntryKind::Debit, None)
        }
        LedgerOp::Set(s) => {
            let live = live_points(&mut tx, c, now).await?;
            let d = s
                .points()
                .checked_sub(live)
                .ok_or_else(|| Error::unexpected("balance overflows the decimal range"))?;
            (d.normalize(), EntryKind::Adjustment, None)
        }
    };
    if !delta.is_zero() {
        sqlx::query(
            "INSERT INTO ledger (customer_id, transaction_id, kind, amount, credited_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(c)
        .bind(tx_id)
        .bind(kind.as_str())
        .bind(delta)
        .bind(now)
        .bind(expires)
        .execute(&mut *tx)
        .await
        .map_err(|e| db("ledger.apply", e))?;
    }
    if opts.echo {
        let payload = ledger_payload(op, delta, now, expires);
        enqueue_in(&mut tx, c, OutboxKind::Balance, &payload, now).await?;
    }
    tx.commit().await.map_err(|e| db("ledger.apply", e))?;
    Ok(LedgerOutcome {
        applied: true,
        delta,
    })
}

/// Builds the writer's job for a credit (its rows' values and the outbox payload).
pub(super) fn credit_job(
    customer: &CustomerId,
    op: &LedgerOp,
    cr: &walletport_core::Credit,
    opts: WriteOpts,
    reply: tokio::sync::oneshot::Sender<Result<LedgerOutcome>>,
) -> Result<Job> {
    let now = to_ns(opts.now)?;
    let expires = expiry_ns(now, cr.lifetime());
    Ok(Job {
        customer: customer.clone(),
        op: op.clone(),
        amount: cr.amount(),
        now,
        expires,
        echo: opts
            .echo
            .then(|| ledger_payload(op, cr.amount(), now, expires)),
        reply,
    })
}

/// Applies one credit with [`CREDIT_SQL`] (one statement, one implicit transaction).
pub(super) async fn credit_alone(pool: &PgPool, job: &Job) -> Result<LedgerOutcome> {
    let echo = job.echo.is_some();
    let row = sqlx::query(CREDIT_SQL)
        .bind(job.op.transaction_id().as_str())
        .bind(job.customer.as_str())
        .bind(job.amount)
        .bind(job.now)
        .bind(job.expires)
        .bind(OutboxKind::Balance.as_str())
        .bind(job.echo.clone().unwrap_or(serde_json::Value::Null))
        .bind(echo)
        .fetch_one(pool)
        .await
        .map_err(|e| db("ledger.apply", e))?;
    let g = |e| db("ledger.apply", e);
    let found: bool = row.try_get(0).map_err(g)?;
    let claimed: bool = row.try_get(1).map_err(g)?;
    if claimed {
        return Ok(LedgerOutcome {
            applied: true,
            delta: job.amount,
        });
    }
    judge_prior(pool, job, found).await
}

/// The outcome of a credit whose transaction id was not claimed: the id was committed before
/// (a racing request waited on the unique index until it was), or the customer does not exist
/// (`found` false). This read sees the committed row.
pub(super) async fn judge_prior(pool: &PgPool, job: &Job, found: bool) -> Result<LedgerOutcome> {
    if let Some(prior) = prior(pool, job.op.transaction_id().as_str()).await? {
        return judge_repeat(&prior.0, &prior.1, prior.2, &job.customer, &job.op);
    }
    if found {
        // Not claimed, yet no row: only an operator deletes processed transactions.
        return Err(Error::unexpected("processed transaction vanished"));
    }
    Err(Error::not_found(format!("no customer `{}`", job.customer)))
}

async fn prior<'e, E>(exec: E, tx_id: &str) -> Result<Option<(String, String, Decimal)>>
where
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    let row = sqlx::query(
        "SELECT customer_id, kind, amount FROM processed_transactions WHERE transaction_id = $1",
    )
    .bind(tx_id)
    .fetch_optional(exec)
    .await
    .map_err(|e| db("ledger.apply", e))?;
    row.map(|r| {
        let g = |e| db("ledger.apply", e);
        Ok((
            r.try_get(0).map_err(g)?,
            r.try_get(1).map_err(g)?,
            r.try_get(2).map_err(g)?,
        ))
    })
    .transpose()
}

/// The live points, held at the `Decimal` range: entries are bounded, so only rows written before
/// the bound can exceed it, and they must not make the account unreadable.
async fn live_points(conn: &mut PgConnection, customer: &str, now: i64) -> Result<Decimal> {
    let row = sqlx::query(
        "SELECT LEAST(GREATEST(COALESCE(SUM(amount), 0), -79228162514264337593543950335), \
         79228162514264337593543950335) FROM ledger \
         WHERE customer_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(customer)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| db("ledger.balance", e))?;
    row.try_get::<Decimal, _>(0)
        .map_err(|e| db("ledger.balance", e))
}

pub(super) async fn balance(
    pool: &PgPool,
    customer: &CustomerId,
    now: DateTime<Utc>,
) -> Result<Balance> {
    let now = to_ns(now)?;
    // One statement: percentages and points from the same snapshot.
    let row = sqlx::query(
        "SELECT c.bonus_percent, c.discount_percent, \
         (SELECT LEAST(GREATEST(COALESCE(SUM(l.amount), 0), -79228162514264337593543950335), \
          79228162514264337593543950335) FROM ledger l WHERE l.customer_id = c.id \
          AND (l.expires_at IS NULL OR l.expires_at > $2)) AS points \
         FROM customers c WHERE c.id = $1",
    )
    .bind(customer.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await
    .map_err(|e| db("ledger.balance", e))?
    .ok_or_else(|| Error::not_found(format!("no customer `{customer}`")))?;
    let g = |e| db("ledger.balance", e);
    let points: Decimal = row.try_get("points").map_err(g)?;
    Ok(Balance {
        points: points.normalize(),
        bonus_percent: parse_percent(row.try_get(0).map_err(g)?)?,
        discount_percent: parse_percent(row.try_get(1).map_err(g)?)?,
    })
}

pub(super) async fn entries(
    pool: &PgPool,
    customer: &CustomerId,
    limit: u32,
) -> Result<Vec<LedgerEntry>> {
    let limit = crate::outbox::page_limit(limit)?;
    let rows = sqlx::query(
        "SELECT id, transaction_id, kind, amount, credited_at, expires_at \
         FROM ledger WHERE customer_id = $1 ORDER BY id LIMIT $2",
    )
    .bind(customer.as_str())
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(|e| db("ledger.list", e))?;
    rows.iter()
        .map(|r| {
            let g = |e| db("ledger.list", e);
            let kind: String = r.try_get("kind").map_err(g)?;
            let amount: Decimal = r.try_get("amount").map_err(g)?;
            Ok(LedgerEntry {
                id: r.try_get("id").map_err(g)?,
                customer_id: customer.clone(),
                transaction_id: parse_tx(r.try_get("transaction_id").map_err(g)?)?,
                kind: EntryKind::parse(&kind)?,
                amount: amount.normalize(),
                credited_at: from_ns(r.try_get("credited_at").map_err(g)?),
                expires_at: r
                    .try_get::<Option<i64>, _>("expires_at")
                    .map_err(g)?
                    .map(from_ns),
            })
        })
        .collect()
}

pub(super) async fn sweep(pool: &PgPool, now: DateTime<Utc>) -> Result<u64> {
    let now = to_ns(now)?;
    let done = sqlx::query(
        "DELETE FROM ledger WHERE kind = 'credit' AND expires_at IS NOT NULL AND expires_at <= $1",
    )
    .bind(now)
    .execute(pool)
    .await
    .map_err(|e| db("ledger.sweep", e))?;
    Ok(done.rows_affected())
}
