//! The ledger on PostgreSQL: every operation is one transaction from the pool running
//! [`engine::apply`] over the shared [`SqlLedgerTx`] (PostgreSQL group-commits the WAL flushes of concurrent
//! transactions itself); credits of customers that need nothing else take the batched fast path
//! of [`super::credits`]. Reads are single statements whose cost does not grow with the history.

use rust_decimal::Decimal;
use sqlx::postgres::PgPool;
use walletport_core::{CustomerId, Result};

use crate::error::db;
use crate::ledger::engine::{self, Expired};
use crate::ledger::{LedgerOp, LedgerOutcome};
use crate::logic::ledger::{BalanceParts, Entries, LedgerSql, RawEntry};
use crate::logic::ledger_tx::SqlLedgerTx;
use crate::logic::sql;
use crate::model::WriteOpts;

/// How many due lots per customer asked for [`DUE_CUSTOMERS`] reads to find its customers.
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
    let outcome =
        engine::apply(&mut SqlLedgerTx::<PgPool>::new(&mut tx), customer, op, opts).await?;
    tx.commit().await.map_err(|e| db("ledger.apply", e))?;
    outcome
}

/// The balance parts in one statement: the stored points, the open lots already past their time
/// (an index range on `lots_spending`, empty unless the expiry task is behind) and the
/// percentages.
const BALANCE: &str = "SELECT c.points, (SELECT COALESCE(SUM(l.remaining), 0) FROM lots l \
     WHERE l.customer_id = c.id AND l.open AND l.burns_at <= $2), \
     c.bonus_percent, c.discount_percent FROM customers c WHERE c.id = $1";

/// One page of a customer's entries, newest first.
const ENTRIES: &str = "SELECT id, transaction_id, kind, amount::text AS amount, \
     balance_after::text AS balance_after, at, expires_at \
     FROM ledger_entries WHERE customer_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3";

/// The customers of the soonest-due lots, by `lots_due` (a bounded range, however many lots are
/// open); a customer with more due lots than the inner limit still has all of them expired.
const DUE_CUSTOMERS: &str = "SELECT customer_id FROM (SELECT customer_id FROM lots \
     WHERE open AND burns_at <= $1 ORDER BY burns_at LIMIT $3) d GROUP BY customer_id LIMIT $2";

impl LedgerSql for PgPool {
    async fn balance_parts(&self, customer: &CustomerId, now: i64) -> Result<Option<BalanceParts>> {
        let c = customer.as_str();
        let row: Option<(Decimal, Decimal, Decimal, Decimal)> = sql!(as (Decimal, Decimal, Decimal, Decimal), fetch_optional(self), "ledger.balance",
                BALANCE, [c, now])?;
        Ok(row.map(|(points, overdue, bonus, discount)| BalanceParts {
            points,
            overdue: vec![overdue],
            bonus,
            discount,
        }))
    }

    /// Checks that the customer exists only when the page is empty.
    async fn entries(&self, id: &CustomerId, before: i64, limit: i64) -> Result<Option<Entries>> {
        const OP: &str = "ledger.list";
        let c = id.as_str();
        let rows = sql!(as RawEntry, fetch_all(self), OP, ENTRIES, [c, before, limit])?;
        if rows.is_empty() {
            let known = "SELECT 1 FROM customers WHERE id = $1";
            if sql!(fetch_optional(self), OP, known, [c])?.is_none() {
                return Ok(None);
            }
        }
        Ok(Some(rows))
    }

    async fn due_customers(&self, now: i64, max: u32) -> Result<Vec<String>> {
        let max = i64::from(max);
        let lots = max.saturating_mul(DUE_LOTS_PER_CUSTOMER);
        let due: Vec<(String,)> =
            sql!(as (String,), fetch_all(self), "ledger.expire", DUE_CUSTOMERS, [now, max, lots])?;
        Ok(due.into_iter().map(|(c,)| c).collect())
    }

    /// A second gateway picking the same customer waits for its lock and then finds nothing due.
    async fn expire_customer(&self, customer: &str, now: i64) -> Result<Expired> {
        const OP: &str = "ledger.expire";
        let mut tx = PgPool::begin(self).await.map_err(|e| db(OP, e))?;
        let expired =
            engine::expire_customer(&mut SqlLedgerTx::<PgPool>::new(&mut tx), customer, now)
                .await?;
        tx.commit().await.map_err(|e| db(OP, e))?;
        Ok(expired)
    }
}
