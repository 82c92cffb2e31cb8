//! Converting the customers a v0.1 database listed in `ledger_backfill` (migration
//! `0002_ledger`) on open: balances after each entry, lots, expiry entries and the materialised
//! points, computed exactly in Rust by [`convert`].
//!
//! Each page of customers is converted in one write transaction, and a customer leaves the list
//! in the transaction that converted it, so a crash mid-way resumes where it stopped and a
//! second open finds an empty list (one cheap query).

use rust_decimal::Decimal;
use sqlx::sqlite::SqliteConnection;
use walletport_core::Result;

use super::{Db, begin};
use crate::codec::decimal_text as text;
use crate::error::db;
use crate::ledger::EntryKind;
use crate::ledger::backfill::convert;
use crate::ledger::engine::LedgerTx as _;
use crate::ledger::engine::NewEntry;
use crate::logic::backfill::old_rows;
use crate::logic::ledger_tx::{LotRow, SqlLedgerTx};
use crate::logic::sql;

/// The operation name of the backfill's database errors.
const OP: &str = "store.backfill";

/// Customers converted per write transaction.
const PAGE: i64 = 500;

/// One page of the customers still to convert.
const LISTED: &str = "SELECT customer_id FROM ledger_backfill ORDER BY customer_id LIMIT ?";
/// A customer's v0.1 rows, oldest first.
const OLD_ENTRIES: &str = "SELECT id, transaction_id, kind, amount, at, expires_at \
    FROM ledger_entries WHERE customer_id = ? ORDER BY id";

/// Converts every customer still listed in `ledger_backfill` at the wall-clock instant `now`
/// (ns); returns how many were converted.
pub(super) async fn run(store: &Db, now: i64) -> Result<u64> {
    let mut done = 0;
    loop {
        let mut tx = begin(store, OP).await?;
        let listed: Vec<(String,)> = sql!(as _, fetch_all(&mut *tx), OP, LISTED, [PAGE])?;
        let customers: Vec<String> = listed.into_iter().map(|(c,)| c).collect();
        if customers.is_empty() {
            tx.commit().await.map_err(|e| db(OP, e))?;
            return Ok(done);
        }
        for customer in &customers {
            convert_customer(&mut tx, customer, now).await?;
        }
        tx.commit().await.map_err(|e| db(OP, e))?;
        done += customers.len() as u64;
        tracing::info!(customers = done, "converted v0.1 ledgers");
    }
}

/// Converts one customer inside the caller's write transaction and takes it off the list.
async fn convert_customer(conn: &mut SqliteConnection, customer: &str, now: i64) -> Result<()> {
    let rows = old_rows(sql!(as _, fetch_all(&mut *conn), OP, OLD_ENTRIES, [customer])?)?;
    let c = convert(rows, now);
    for (id, balance_after) in &c.balances_after {
        sqlx::query("UPDATE ledger_entries SET balance_after = ? WHERE id = ?")
            .bind(text(*balance_after))
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(|e| db(OP, e))?;
    }
    // The converted history is written by the ledger's own statements.
    let mut steps = SqlLedgerTx::<Db>::new(conn);
    for lot in &c.lots {
        let row = LotRow {
            entry_id: lot.entry_id,
            customer,
            transaction_id: lot.transaction_id.as_deref(),
            amount: lot.amount,
            remaining: lot.remaining,
            expired: lot.expired,
            burns_at: lot.burns_at,
        };
        steps.insert_lot_row(&row).await?;
    }
    for e in &c.expiries {
        let entry = NewEntry {
            customer,
            transaction_id: e.transaction_id.as_deref(),
            kind: EntryKind::Expiry,
            amount: e.amount,
            balance_after: e.balance_after,
            at: e.at,
            expires_at: None,
        };
        steps.insert_entry(&entry).await?;
    }
    if c.points != Decimal::ZERO {
        steps.set_points(customer, c.points).await?;
    }
    if let Some(payload) = c.outbox_payload(now) {
        steps.enqueue_balance(customer, &payload, now).await?;
    }
    sqlx::query("DELETE FROM ledger_backfill WHERE customer_id = ?")
        .bind(customer)
        .execute(&mut *conn)
        .await
        .map_err(|e| db(OP, e))?;
    Ok(())
}
