//! The ledger on PostgreSQL: every operation is one transaction from the pool running
//! [`engine::apply`] over [`PgLedgerTx`] (PostgreSQL group-commits the WAL flushes of concurrent
//! transactions itself); credits of customers that need nothing else take the batched fast path
//! of [`super::credits`]. Reads are single statements whose cost does not grow with the history.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::Row as _;
use sqlx::postgres::PgPool;
use walletport_core::{Balance, CustomerId, Error, Result};

use super::ledger_tx::PgLedgerTx;
use crate::codec::{from_ns, parse_percent, parse_tx, to_ns};
use crate::error::db;
use crate::ledger::engine;
use crate::ledger::{EntryKind, ExpiryReport, LedgerEntry, LedgerOp, LedgerOutcome};
use crate::ledger::{LedgerPage, LedgerQuery};
use crate::model::WriteOpts;

/// How many due lots per customer asked for [`expire_due`] reads to find its customers.
const DUE_LOTS_PER_CUSTOMER: i64 = 16;

/// Applies `op` in a transaction of its own: committed when the engine decided (also when it
/// refused the operation: lots it expired on the way stay expired), rolled back on a database
/// failure.
pub(super) async fn apply(
    pool: &PgPool,
    customer: &CustomerId,
    op: &LedgerOp,
    opts: WriteOpts,
) -> Result<LedgerOutcome> {
    let mut tx = pool.begin().await.map_err(|e| db("ledger.apply", e))?;
    let outcome = engine::apply(&mut PgLedgerTx { conn: &mut tx }, customer, op, opts).await?;
    tx.commit().await.map_err(|e| db("ledger.apply", e))?;
    outcome
}

/// The balance at `now` in one statement: the stored points less the open lots already past
/// their time (an index range on `lots_spending`, empty unless the expiry task is behind).
pub(super) async fn balance(
    pool: &PgPool,
    customer: &CustomerId,
    now: DateTime<Utc>,
) -> Result<Balance> {
    let now = to_ns(now)?;
    let row = sqlx::query(
        "SELECT c.bonus_percent, c.discount_percent, c.points, \
         (SELECT COALESCE(SUM(l.remaining), 0) FROM lots l \
          WHERE l.customer_id = c.id AND l.open AND l.burns_at <= $2) \
         FROM customers c WHERE c.id = $1",
    )
    .bind(customer.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await
    .map_err(|e| db("ledger.balance", e))?
    .ok_or_else(|| Error::not_found(format!("no customer `{customer}`")))?;
    let g = |e| db("ledger.balance", e);
    let points: Decimal = row.try_get(2).map_err(g)?;
    let overdue: Decimal = row.try_get(3).map_err(g)?;
    Ok(Balance {
        points: engine::live_points(points, [overdue]),
        bonus_percent: parse_percent(row.try_get(0).map_err(g)?)?,
        discount_percent: parse_percent(row.try_get(1).map_err(g)?)?,
    })
}

/// One page of the customer's ledger, newest first (`id < before`).
pub(super) async fn page(
    pool: &PgPool,
    customer: &CustomerId,
    query: &LedgerQuery,
) -> Result<LedgerPage> {
    let g = |e| db("ledger.list", e);
    let limit = crate::outbox::page_limit(query.limit)?;
    let rows = sqlx::query(
        "SELECT id, transaction_id, kind, amount, balance_after, at, expires_at \
         FROM ledger_entries WHERE customer_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(customer.as_str())
    .bind(query.before.unwrap_or(i64::MAX))
    .bind(limit + 1)
    .fetch_all(pool)
    .await
    .map_err(g)?;
    if rows.is_empty() {
        let known = sqlx::query("SELECT 1 FROM customers WHERE id = $1")
            .bind(customer.as_str())
            .fetch_optional(pool)
            .await
            .map_err(g)?;
        if known.is_none() {
            return Err(Error::not_found(format!("no customer `{customer}`")));
        }
    }
    let full = rows.len() as i64 > limit;
    let entries = rows
        .iter()
        .take(rows.len().min(limit as usize))
        .map(|r| {
            let kind: String = r.try_get("kind").map_err(g)?;
            let amount: Decimal = r.try_get("amount").map_err(g)?;
            let after: Decimal = r.try_get("balance_after").map_err(g)?;
            Ok(LedgerEntry {
                id: r.try_get("id").map_err(g)?,
                customer_id: customer.clone(),
                transaction_id: parse_tx(r.try_get("transaction_id").map_err(g)?)?,
                kind: EntryKind::parse(&kind)?,
                amount: amount.normalize(),
                balance_after: after.normalize(),
                at: from_ns(r.try_get("at").map_err(g)?),
                expires_at: r
                    .try_get::<Option<i64>, _>("expires_at")
                    .map_err(g)?
                    .map(from_ns),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let next = if full {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(LedgerPage { entries, next })
}

/// Expires the due lots of at most `max_customers` customers, each in its own transaction. A
/// second gateway picking the same customer waits for its lock and then finds nothing due.
pub(super) async fn expire_due(
    pool: &PgPool,
    now: DateTime<Utc>,
    max_customers: u32,
) -> Result<ExpiryReport> {
    let g = |e| db("ledger.expire", e);
    let now = to_ns(now)?;
    // The soonest-due lots first, by `lots_due` (a bounded range, however many lots are open);
    // a customer with more due lots than the inner limit still has all of them expired.
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT customer_id FROM (SELECT customer_id FROM lots WHERE open AND burns_at <= $1 \
         ORDER BY burns_at LIMIT $3) d GROUP BY customer_id LIMIT $2",
    )
    .bind(now)
    .bind(i64::from(max_customers))
    .bind(i64::from(max_customers).saturating_mul(DUE_LOTS_PER_CUSTOMER))
    .fetch_all(pool)
    .await
    .map_err(g)?;
    let mut report = ExpiryReport::default();
    for customer in due {
        let mut tx = pool.begin().await.map_err(g)?;
        let expired =
            engine::expire_customer(&mut PgLedgerTx { conn: &mut tx }, &customer, now).await?;
        tx.commit().await.map_err(g)?;
        if expired.lots > 0 {
            report.customers += 1;
            report.lots += expired.lots;
            report.points = report.points.saturating_add(expired.points);
        }
    }
    Ok(report)
}
