//! The SQLite dialect of the shared store logic ([`crate::logic`]): transactions at the write
//! gate, and the customer, card and inbound-event statements.
//!
//! SQLite writes one transaction at a time, so no row is ever locked; decimals and JSON are
//! stored as text, dates as `YYYY-MM-DD` text.

use rust_decimal::Decimal;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use walletport_core::{Customer, CustomerId, CustomerKey, Result};

use super::{Db, WriteTx, begin};
use crate::codec::{fields_to_json, parse_decimal, status_str};
use crate::error::db;
use crate::logic::customers::{CustomerSql, Lookup, Numbered};
use crate::logic::{Cols as _, Dialect, raw_card, raw_customer, sql};
use crate::model::{SearchPlan, StoredCard, StoredCustomer};
use crate::outbox::OutboxKind;

macro_rules! card_cols {
    () => {
        "customer_id, provider, vendor_card_id, number, track, links, installed_apple, \
         installed_google, status, created_at, updated_at"
    };
}

macro_rules! customer_cols {
    () => {
        "seq, id, phone, name, surname, middle_name, email, birthday, extra, provider_ids, \
         referral_code, invited_by, bonus_percent, discount_percent, created_at, updated_at"
    };
}

/// Customers by phone, CRM id, or a card's vendor id or number.
const BY_PHONE: &str = concat!(
    "SELECT ",
    customer_cols!(),
    " FROM customers WHERE phone = ?"
);
const BY_ID: &str = concat!("SELECT ", customer_cols!(), " FROM customers WHERE id = ?");
const BY_CARD: &str = concat!(
    "SELECT ",
    customer_cols!(),
    " FROM customers WHERE id = (SELECT customer_id FROM cards \
     WHERE vendor_card_id = ?1 OR number = ?1 ORDER BY seq LIMIT 1)"
);

/// A customer row and its `seq`.
fn numbered(row: &SqliteRow) -> Result<Numbered> {
    Ok((
        row.int("seq", "customer.decode")?,
        raw_customer(row)?.into_stored()?,
    ))
}

fn customer(row: Option<SqliteRow>) -> Result<Option<StoredCustomer>> {
    row.map(|r| raw_customer(&r)?.into_stored()).transpose()
}

/// Inserts an outbox item inside the caller's transaction (also the ledger's and the
/// backfill's).
pub(super) async fn enqueue_in(
    conn: &mut SqliteConnection,
    customer: &str,
    kind: OutboxKind,
    payload: &serde_json::Value,
    now: i64,
) -> Result<i64> {
    let done = sql!(
        execute(&mut *conn),
        "outbox.enqueue",
        "INSERT INTO outbox (customer_id, kind, payload, created_at, next_attempt_at) \
         VALUES (?1, ?2, ?3, ?4, ?4)",
        customer,
        kind.as_str(),
        payload.to_string(),
        now,
    )?;
    Ok(done.last_insert_rowid())
}

impl Dialect for Db {
    type Conn = SqliteConnection;
    type Tx = WriteTx;
    const ROW_LOCKS: bool = false;

    async fn begin(&self, op: &'static str) -> Result<WriteTx> {
        begin(self, op).await
    }

    async fn commit(tx: WriteTx, op: &'static str) -> Result<()> {
        tx.commit().await.map_err(|e| db(op, e))
    }

    async fn end_unwritten(tx: WriteTx, op: &'static str) -> Result<()> {
        Self::commit(tx, op).await
    }

    async fn lock_customer(
        conn: &mut SqliteConnection,
        id: &str,
        op: &'static str,
    ) -> Result<bool> {
        let found = sql!(
            fetch_optional(&mut *conn),
            op,
            "SELECT 1 FROM customers WHERE id = ?",
            id
        )?;
        Ok(found.is_some())
    }

    async fn enqueue_in(
        conn: &mut SqliteConnection,
        customer: &str,
        kind: OutboxKind,
        payload: &serde_json::Value,
        now: i64,
    ) -> Result<i64> {
        enqueue_in(conn, customer, kind, payload, now).await
    }
}

/// The lowercased "first name surname" of a row, as indexed by migration 0003 (a query must use
/// the very same expression for SQLite to use the index).
const FULL_NAME_KEY: &str = "lower(trim(coalesce(name, '') || ' ' || coalesce(surname, '')))";
/// The lowercased "surname first name" of a row, as indexed by migration 0003.
const REVERSED_NAME_KEY: &str = "lower(trim(coalesce(surname, '') || ' ' || coalesce(name, '')))";

impl CustomerSql for Db {
    async fn get_customer(&self, key: &CustomerKey) -> Result<Option<StoredCustomer>> {
        let (sql, arg) = match key {
            CustomerKey::Phone(p) => (BY_PHONE, p.as_str()),
            CustomerKey::Id(id) => (BY_ID, id.as_str()),
            CustomerKey::Card(card) => (BY_CARD, card.as_str()),
        };
        customer(sql!(fetch_optional(&self.pool), "customer.get", sql, arg)?)
    }

    async fn customer_for_write(
        conn: &mut SqliteConnection,
        by: Lookup<'_>,
        op: &'static str,
    ) -> Result<Option<StoredCustomer>> {
        let (sql, arg) = match by {
            Lookup::Phone(p) => (BY_PHONE, p),
            Lookup::Id(id) => (BY_ID, id),
        };
        customer(sql!(fetch_optional(&mut *conn), op, sql, arg)?)
    }

    async fn write_customer(
        conn: &mut SqliteConnection,
        c: &Customer,
        id: &CustomerId,
        created: bool,
        now: i64,
    ) -> Result<bool> {
        let sql = if created {
            "INSERT INTO customers (name, surname, middle_name, email, birthday, extra, \
             provider_ids, referral_code, invited_by, updated_at, id, phone, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?10)"
        } else {
            "UPDATE customers SET name = ?1, surname = ?2, middle_name = ?3, email = ?4, \
             birthday = ?5, extra = ?6, provider_ids = ?7, referral_code = ?8, invited_by = ?9, \
             updated_at = ?10 WHERE id = ?11 AND phone = ?12"
        };
        sql!(
            execute(&mut *conn),
            "customer.upsert",
            sql,
            c.name.clone(),
            c.surname.clone(),
            c.middle_name.clone(),
            c.email.clone(),
            c.birthday.map(|d| d.format("%Y-%m-%d").to_string()),
            fields_to_json(&c.extra).to_string(),
            fields_to_json(&c.provider_ids).to_string(),
            c.referral_code.clone(),
            c.invited_by.as_ref().map(|p| p.as_str().to_owned()),
            now,
            id.as_str().to_owned(),
            c.phone.as_str().to_owned(),
        )?;
        Ok(true)
    }

    async fn write_percentages(
        conn: &mut SqliteConnection,
        id: &CustomerId,
        bonus: Decimal,
        discount: Decimal,
        now: i64,
    ) -> Result<()> {
        sql!(
            execute(&mut *conn),
            "customer.set_percentages",
            "UPDATE customers SET bonus_percent = ?, discount_percent = ?, updated_at = ? \
             WHERE id = ?",
            bonus.to_string(),
            discount.to_string(),
            now,
            id.as_str(),
        )?;
        Ok(())
    }

    async fn customers_after(&self, after: i64, limit: i64) -> Result<Vec<Numbered>> {
        let rows = sql!(
            fetch_all(&self.pool),
            "customer.list",
            concat!(
                "SELECT ",
                customer_cols!(),
                " FROM customers WHERE seq > ? ORDER BY seq LIMIT ?"
            ),
            after,
            limit,
        )?;
        rows.iter().map(numbered).collect()
    }

    async fn search_customers(&self, plan: &SearchPlan, limit: i64) -> Result<Vec<Numbered>> {
        let rows = match plan {
            // Every phone starting with the prefix sorts below prefix + ':' (the byte after '9').
            SearchPlan::Phone { prefix, after } => sql!(
                fetch_all(&self.pool),
                "customer.search",
                concat!(
                    "SELECT ",
                    customer_cols!(),
                    " FROM customers WHERE phone >= ?1 AND phone < ?2 AND phone > ?3 \
                     ORDER BY phone LIMIT ?4"
                ),
                prefix,
                format!("{prefix}:"),
                after,
                limit,
            )?,
            // char(1114111), the largest code point, sorts after anything that starts with the
            // prefix; `lower` is SQLite's on both sides. `+seq` keeps the planner off a walk of
            // the whole table in seq order: it must take the two name indexes (a multi-index OR)
            // and sort only the matches.
            SearchPlan::Name { text, after } => sql!(
                fetch_all(&self.pool),
                "customer.search",
                sqlx::AssertSqlSafe(format!(
                    "SELECT {cols} FROM customers \
                     WHERE (({FULL_NAME_KEY} >= lower(?1) \
                             AND {FULL_NAME_KEY} < (lower(?1) || char(1114111))) \
                         OR ({REVERSED_NAME_KEY} >= lower(?1) \
                             AND {REVERSED_NAME_KEY} < (lower(?1) || char(1114111)))) \
                       AND +seq > ?2 ORDER BY +seq LIMIT ?3",
                    cols = customer_cols!()
                )),
                text,
                after,
                limit,
            )?,
        };
        rows.iter().map(numbered).collect()
    }

    /// Summed exactly in Rust: amounts are text.
    async fn expiring_points(
        &self,
        customer: &CustomerId,
        now: i64,
        until: i64,
    ) -> Result<Decimal> {
        const OP: &str = "ledger.expiring_points";
        let rows = sql!(
            fetch_all(&self.pool),
            OP,
            "SELECT remaining FROM lots WHERE customer_id = ? AND open = 1 \
             AND burns_at > ? AND burns_at <= ?",
            customer.as_str(),
            now,
            until,
        )?;
        rows.iter().try_fold(Decimal::ZERO, |sum, row| {
            sum.checked_add(parse_decimal(&row.text("remaining", OP)?)?)
                .ok_or_else(|| {
                    walletport_core::Error::unexpected("expiring points overflow the decimal range")
                })
        })
    }

    async fn find_card(
        conn: &mut SqliteConnection,
        provider: &str,
        vendor_id: Option<&str>,
        number: Option<&str>,
    ) -> Result<Option<(i64, StoredCard)>> {
        let row = sql!(
            fetch_optional(&mut *conn),
            "card.get",
            concat!(
                "SELECT seq, ",
                card_cols!(),
                " FROM cards WHERE provider = ?1 \
                 AND (vendor_card_id = ?2 OR (?2 IS NULL AND number = ?3)) ORDER BY seq LIMIT 1"
            ),
            provider,
            vendor_id,
            number,
        )?;
        row.map(|r| Ok((r.int("seq", "card.get")?, raw_card(&r)?.into_stored()?)))
            .transpose()
    }

    async fn write_card(
        conn: &mut SqliteConnection,
        seq: Option<i64>,
        card: &StoredCard,
        now: i64,
    ) -> Result<()> {
        let sql = match seq {
            None => {
                "INSERT INTO cards (customer_id, provider, vendor_card_id, number, track, links, \
                 installed_apple, installed_google, status, updated_at, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)"
            }
            Some(_) => {
                "UPDATE cards SET customer_id = ?1, provider = ?2, vendor_card_id = ?3, \
                 number = ?4, track = ?5, links = ?6, installed_apple = ?7, \
                 installed_google = ?8, status = ?9, updated_at = ?10 WHERE seq = ?11"
            }
        };
        sql!(
            execute(&mut *conn),
            "card.write",
            sql,
            card.customer_id.as_str(),
            &card.provider,
            card.vendor_card_id.as_ref().map(|c| c.as_str()),
            &card.number,
            &card.track,
            serde_json::to_string(&card.links)?,
            card.installed.apple,
            card.installed.google,
            status_str(card.status),
            now,
            seq,
        )?;
        Ok(())
    }

    async fn delete_card(conn: &mut SqliteConnection, seq: i64) -> Result<()> {
        sql!(
            execute(&mut *conn),
            "card.update",
            "DELETE FROM cards WHERE seq = ?",
            seq
        )?;
        Ok(())
    }

    async fn cards_of(&self, customer: &CustomerId) -> Result<Vec<StoredCard>> {
        let rows = sql!(
            fetch_all(&self.pool),
            "card.list",
            concat!(
                "SELECT ",
                card_cols!(),
                " FROM cards WHERE customer_id = ? ORDER BY seq"
            ),
            customer.as_str(),
        )?;
        rows.iter().map(|r| raw_card(r)?.into_stored()).collect()
    }

    async fn insert_event(
        conn: &mut SqliteConnection,
        provider: &str,
        event: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sql!(
            execute(&mut *conn),
            "event.record",
            "INSERT INTO inbound_events (provider, event_id, received_at) VALUES (?, ?, ?) \
             ON CONFLICT (provider, event_id) DO NOTHING",
            provider,
            event,
            now,
        )?;
        Ok(done.rows_affected() == 1)
    }

    /// At the write gate, outside a transaction.
    async fn record_event_alone(&self, provider: &str, event: &str, now: i64) -> Result<bool> {
        let _turn = self.turn().await;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| db("event.record", e))?;
        Self::insert_event(&mut conn, provider, event, now).await
    }
}
