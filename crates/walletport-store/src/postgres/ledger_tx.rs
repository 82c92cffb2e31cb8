//! The ledger engine's SQL steps on PostgreSQL ([`LedgerTx`]), run on a connection inside a
//! transaction: `lock_points` takes the customer's row lock (`FOR NO KEY UPDATE`), which every
//! ledger write, the expiry task and the credit batches take too, so one account changes in one
//! transaction at a time while other customers go on in parallel.

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::Row as _;
use sqlx::postgres::{PgConnection, PgRow};
use walletport_core::Result;

use crate::error::db;
use crate::ledger::engine::{LedgerTx, Lot, NewEntry, NewLot, Prior};
use crate::logic::{Enqueue, Runner};
use crate::outbox::OutboxKind;
use sqlx::postgres::PgPool;

/// The operation name database errors of the ledger's writes carry.
const OP: &str = "ledger.apply";

/// The lot columns [`lot`] decodes, spelled once for every lot query.
macro_rules! lot_select {
    ($rest:literal) => {
        concat!(
            "SELECT entry_id, transaction_id, amount, remaining, expired, burns_at, reversed \
             FROM lots WHERE customer_id = $1 ",
            $rest
        )
    };
}

/// The open lots in spending order, one statement per combination of bounds, so each bound is
/// an index condition on `lots_spending` (a `$n IS NULL OR ..` filter would make a customer with
/// 100,000 never-expiring lots scan them all to find no due one).
const OPEN_LOTS: &str = lot_select!("AND open ORDER BY burns_at, entry_id LIMIT $2");
/// [`OPEN_LOTS`] after a `(burns_at, entry_id)` position (spending page by page).
const OPEN_LOTS_AFTER: &str = lot_select!(
    "AND open AND (burns_at, entry_id) > ($3, $4) ORDER BY burns_at, entry_id LIMIT $2"
);
/// [`OPEN_LOTS`] due by an instant (expiring).
const OPEN_LOTS_DUE: &str =
    lot_select!("AND open AND burns_at <= $3 ORDER BY burns_at, entry_id LIMIT $2");
/// [`OPEN_LOTS`] after a position and due by an instant.
const OPEN_LOTS_AFTER_DUE: &str = lot_select!(
    "AND open AND (burns_at, entry_id) > ($3, $4) AND burns_at <= $5 \
     ORDER BY burns_at, entry_id LIMIT $2"
);

/// A ledger transaction on the caller's connection (an operation's, the expiry task's or the
/// backfill's transaction).
pub(super) struct PgLedgerTx<'c> {
    /// A connection inside a transaction.
    pub(super) conn: &'c mut PgConnection,
}

/// Decodes a lots row selected with [`lot_select`].
fn lot(row: &PgRow) -> Result<Lot> {
    let g = |e| db(OP, e);
    Ok(Lot {
        entry_id: row.try_get("entry_id").map_err(g)?,
        transaction_id: row.try_get("transaction_id").map_err(g)?,
        amount: row.try_get("amount").map_err(g)?,
        remaining: row.try_get("remaining").map_err(g)?,
        expired: row.try_get("expired").map_err(g)?,
        burns_at: row.try_get("burns_at").map_err(g)?,
        reversed: row.try_get("reversed").map_err(g)?,
    })
}

/// Reads the committed record of `transaction_id`.
async fn prior(conn: &mut PgConnection, transaction_id: &str) -> Result<Option<Prior>> {
    let row = sqlx::query(
        "SELECT customer_id, kind, amount FROM processed_transactions WHERE transaction_id = $1",
    )
    .bind(transaction_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| db(OP, e))?;
    row.map(|r| {
        let g = |e| db(OP, e);
        Ok(Prior {
            customer: r.try_get(0).map_err(g)?,
            kind: r.try_get(1).map_err(g)?,
            amount: r.try_get(2).map_err(g)?,
        })
    })
    .transpose()
}

#[async_trait]
impl LedgerTx for PgLedgerTx<'_> {
    async fn lock_points(&mut self, customer: &str) -> Result<Option<Decimal>> {
        let row = sqlx::query("SELECT points FROM customers WHERE id = $1 FOR NO KEY UPDATE")
            .bind(customer)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(|e| db(OP, e))?;
        row.map(|r| r.try_get(0).map_err(|e| db(OP, e))).transpose()
    }

    async fn set_points(&mut self, customer: &str, points: Decimal) -> Result<()> {
        sqlx::query("UPDATE customers SET points = $2 WHERE id = $1")
            .bind(customer)
            .bind(points)
            .execute(&mut *self.conn)
            .await
            .map_err(|e| db(OP, e))?;
        Ok(())
    }

    async fn prior(&mut self, transaction_id: &str) -> Result<Option<Prior>> {
        prior(self.conn, transaction_id).await
    }

    async fn claim(
        &mut self,
        transaction_id: &str,
        customer: &str,
        kind: &str,
        amount: Decimal,
        at: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO processed_transactions \
             (transaction_id, customer_id, kind, amount, processed_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (transaction_id) DO NOTHING",
        )
        .bind(transaction_id)
        .bind(customer)
        .bind(kind)
        .bind(amount)
        .bind(at)
        .execute(&mut *self.conn)
        .await
        .map_err(|e| db(OP, e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn open_lots(
        &mut self,
        customer: &str,
        after: Option<(i64, i64)>,
        due_by: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Lot>> {
        let q = match (after, due_by) {
            (None, None) => sqlx::query(OPEN_LOTS).bind(customer).bind(limit),
            (None, Some(d)) => sqlx::query(OPEN_LOTS_DUE)
                .bind(customer)
                .bind(limit)
                .bind(d),
            (Some((b, e)), None) => sqlx::query(OPEN_LOTS_AFTER)
                .bind(customer)
                .bind(limit)
                .bind(b)
                .bind(e),
            (Some((b, e)), Some(d)) => sqlx::query(OPEN_LOTS_AFTER_DUE)
                .bind(customer)
                .bind(limit)
                .bind(b)
                .bind(e)
                .bind(d),
        };
        let rows = q.fetch_all(&mut *self.conn).await.map_err(|e| db(OP, e))?;
        rows.iter().map(lot).collect()
    }

    async fn credit_lot(&mut self, customer: &str, transaction_id: &str) -> Result<Option<Lot>> {
        let row = sqlx::query(lot_select!("AND transaction_id = $2"))
            .bind(customer)
            .bind(transaction_id)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(|e| db(OP, e))?;
        row.as_ref().map(lot).transpose()
    }

    async fn insert_entry(&mut self, e: &NewEntry<'_>) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO ledger_entries \
             (customer_id, transaction_id, kind, amount, balance_after, at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(e.customer)
        .bind(e.transaction_id)
        .bind(e.kind.as_str())
        .bind(e.amount)
        .bind(e.balance_after)
        .bind(e.at)
        .bind(e.expires_at)
        .fetch_one(&mut *self.conn)
        .await
        .map_err(|e| db(OP, e))?;
        row.try_get(0).map_err(|e| db(OP, e))
    }

    async fn insert_lot(&mut self, l: &NewLot<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO lots \
             (entry_id, customer_id, transaction_id, amount, remaining, burns_at, open) \
             VALUES ($1, $2, $3, $4, $5, $6, $5 > 0)",
        )
        .bind(l.entry_id)
        .bind(l.customer)
        .bind(l.transaction_id)
        .bind(l.amount)
        .bind(l.remaining)
        .bind(l.burns_at)
        .execute(&mut *self.conn)
        .await
        .map_err(|e| db(OP, e))?;
        Ok(())
    }

    async fn update_lot(&mut self, l: &Lot) -> Result<()> {
        sqlx::query(
            "UPDATE lots SET remaining = $2, expired = $3, reversed = $4, open = $2 > 0 \
             WHERE entry_id = $1",
        )
        .bind(l.entry_id)
        .bind(l.remaining)
        .bind(l.expired)
        .bind(l.reversed)
        .execute(&mut *self.conn)
        .await
        .map_err(|e| db(OP, e))?;
        Ok(())
    }

    async fn enqueue_balance(&mut self, customer: &str, payload: &Value, at: i64) -> Result<()> {
        let item = Enqueue::new(customer, OutboxKind::Balance, payload, at);
        PgPool::enqueue_in(self.conn, &item).await?;
        Ok(())
    }
}
