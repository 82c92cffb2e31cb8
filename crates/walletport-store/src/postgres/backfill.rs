//! Converting the customers a v0.1 database listed in `ledger_backfill` (migration
//! `0002_ledger`) on open: balances after each entry, lots, expiry entries and the materialised
//! points, computed exactly in Rust by [`convert`] and written with one statement per table.
//!
//! Each customer is converted in a transaction of its own that also takes it off the list, so a
//! crash mid-way resumes where it stopped and a second open finds an empty list (one cheap
//! query). Gateways opening at once share the work: the first to delete a customer's list row
//! converts it; the other waits on that row, deletes nothing and moves on.

use rust_decimal::Decimal;
use sqlx::postgres::{PgConnection, PgPool};
use walletport_core::Result;

use crate::error::db;
use crate::ledger::backfill::{Conversion, convert};
use crate::logic::backfill::old_rows;
use crate::logic::sql;
use crate::logic::{Enqueue, Runner};
use crate::outbox::OutboxKind;

/// The operation name of the backfill's database errors.
const OP: &str = "store.backfill";

/// Customers read from the list per query.
const PAGE: i64 = 500;

/// The amount is read as text, like SQLite's (see [`old_rows`]).
const OLD_ENTRIES: &str = "SELECT id, transaction_id, kind, amount::text AS amount, at, \
    expires_at FROM ledger_entries WHERE customer_id = $1 ORDER BY id";

/// Converts every customer still listed in `ledger_backfill` at the wall-clock instant `now`
/// (ns); returns how many this call converted.
pub(super) async fn run(pool: &PgPool, now: i64) -> Result<u64> {
    let mut done = 0;
    let mut after = String::new();
    loop {
        let customers: Vec<String> = sqlx::query_scalar(
            "SELECT customer_id FROM ledger_backfill WHERE customer_id > $1 \
             ORDER BY customer_id LIMIT $2",
        )
        .bind(&after)
        .bind(PAGE)
        .fetch_all(pool)
        .await
        .map_err(|e| db(OP, e))?;
        let Some(last) = customers.last() else {
            return Ok(done);
        };
        after = last.clone();
        for customer in &customers {
            let mut tx = pool.begin().await.map_err(|e| db(OP, e))?;
            if convert_customer(&mut tx, customer, now).await? {
                done += 1;
            }
            tx.commit().await.map_err(|e| db(OP, e))?;
        }
        tracing::info!(customers = done, "converted v0.1 ledgers");
    }
}

/// Converts one customer inside the caller's transaction and takes it off the list; false when
/// another gateway took it first.
async fn convert_customer(conn: &mut PgConnection, customer: &str, now: i64) -> Result<bool> {
    let taken = sqlx::query("DELETE FROM ledger_backfill WHERE customer_id = $1")
        .bind(customer)
        .execute(&mut *conn)
        .await
        .map_err(|e| db(OP, e))?;
    if taken.rows_affected() == 0 {
        return Ok(false);
    }
    let locked = sqlx::query("SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE")
        .bind(customer)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| db(OP, e))?;
    if locked.is_none() {
        return Ok(true);
    }
    let rows = old_rows(sql!(as _, fetch_all(&mut *conn), OP, OLD_ENTRIES, [customer])?)?;
    if !rows.is_empty() {
        write(conn, customer, &convert(rows, now), now).await?;
    }
    Ok(true)
}

/// Writes one customer's conversion: three statements over arrays and the points.
async fn write(conn: &mut PgConnection, customer: &str, c: &Conversion, now: i64) -> Result<()> {
    let (ids, after): (Vec<i64>, Vec<Decimal>) = c.balances_after.iter().copied().unzip();
    sqlx::query(
        "UPDATE ledger_entries e SET balance_after = u.after \
         FROM unnest($1::int8[], $2::numeric[]) AS u(id, after) WHERE e.id = u.id",
    )
    .bind(ids)
    .bind(after)
    .execute(&mut *conn)
    .await
    .map_err(|e| db(OP, e))?;
    let lots = &c.lots;
    sqlx::query(
        "INSERT INTO lots (entry_id, customer_id, transaction_id, amount, remaining, expired, \
         burns_at, open) \
         SELECT l.entry_id, $1, l.tx, l.amount, l.remaining, l.expired, l.burns_at, \
         l.remaining > 0 \
         FROM unnest($2::int8[], $3::text[], $4::numeric[], $5::numeric[], $6::numeric[], \
         $7::int8[]) AS l(entry_id, tx, amount, remaining, expired, burns_at)",
    )
    .bind(customer)
    .bind(lots.iter().map(|l| l.entry_id).collect::<Vec<_>>())
    .bind(
        lots.iter()
            .map(|l| l.transaction_id.clone())
            .collect::<Vec<_>>(),
    )
    .bind(lots.iter().map(|l| l.amount).collect::<Vec<_>>())
    .bind(lots.iter().map(|l| l.remaining).collect::<Vec<_>>())
    .bind(lots.iter().map(|l| l.expired).collect::<Vec<_>>())
    .bind(lots.iter().map(|l| l.burns_at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .map_err(|e| db(OP, e))?;
    let ex = &c.expiries;
    sqlx::query(
        "INSERT INTO ledger_entries (customer_id, transaction_id, kind, amount, balance_after, at) \
         SELECT $1, x.tx, 'expiry', x.amount, x.after, x.at \
         FROM unnest($2::text[], $3::numeric[], $4::numeric[], $5::int8[]) \
         WITH ORDINALITY AS x(tx, amount, after, at, n) ORDER BY x.n",
    )
    .bind(customer)
    .bind(
        ex.iter()
            .map(|x| x.transaction_id.clone())
            .collect::<Vec<_>>(),
    )
    .bind(ex.iter().map(|x| x.amount).collect::<Vec<_>>())
    .bind(ex.iter().map(|x| x.balance_after).collect::<Vec<_>>())
    .bind(ex.iter().map(|x| x.at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .map_err(|e| db(OP, e))?;
    sqlx::query("UPDATE customers SET points = $2 WHERE id = $1")
        .bind(customer)
        .bind(c.points)
        .execute(&mut *conn)
        .await
        .map_err(|e| db(OP, e))?;
    if let Some(payload) = c.outbox_payload(now) {
        PgPool::enqueue_in(
            conn,
            &Enqueue::new(customer, OutboxKind::Balance, &payload, now),
        )
        .await?;
    }
    Ok(())
}
