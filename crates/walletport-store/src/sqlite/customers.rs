//! The SQLite dialect of the shared store logic ([`crate::logic`]): transactions at the write
//! gate, and the customer, card and inbound-event statements.
//!
//! SQLite writes one transaction at a time, so no row is ever locked; decimals and JSON are
//! stored as text, dates as `YYYY-MM-DD` text.

use rust_decimal::Decimal;
use sqlx::sqlite::SqliteConnection;
use walletport_core::{CustomerId, CustomerKey, Error, Result};

use super::{Db, WriteTx, begin};
use crate::codec::{RawCard, RawCustomer, fields_to_json, parse_decimal, status_str, to_ns};
use crate::error::db;
use crate::logic::customers::{CardKey, CustomerSql, CustomerWrite, Lookup};
use crate::logic::{Dialect, Enqueue, sql};
use crate::model::{SearchPlan, StoredCard, StoredCustomer};
use crate::outbox::OutboxKind;

macro_rules! customer_cols {
    () => {
        "seq, id, phone, name, surname, middle_name, email, birthday, extra, provider_ids, \
         referral_code, invited_by, bonus_percent, discount_percent, created_at, updated_at"
    };
}

macro_rules! card_cols {
    () => {
        "seq, customer_id, provider, vendor_card_id, number, track, links, installed_apple, \
         installed_google, status, created_at, updated_at"
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
const CUSTOMERS_AFTER: &str = concat!(
    "SELECT ",
    customer_cols!(),
    " FROM customers WHERE seq > ? ORDER BY seq LIMIT ?"
);
/// Every phone starting with the prefix sorts below prefix + ':' (the byte after '9').
const BY_PHONE_PREFIX: &str = concat!(
    "SELECT ",
    customer_cols!(),
    " FROM customers WHERE phone >= ?1 AND phone < ?2 AND phone > ?3 ORDER BY phone LIMIT ?4"
);
const INSERT_CUSTOMER: &str = "INSERT INTO customers (name, surname, middle_name, email, \
    birthday, extra, provider_ids, referral_code, invited_by, updated_at, id, phone, created_at) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?10)";
const UPDATE_CUSTOMER: &str = "UPDATE customers SET name = ?1, surname = ?2, middle_name = ?3, \
    email = ?4, birthday = ?5, extra = ?6, provider_ids = ?7, referral_code = ?8, \
    invited_by = ?9, updated_at = ?10 WHERE id = ?11 AND phone = ?12";
const SET_PERCENTAGES: &str = "UPDATE customers SET bonus_percent = ?, discount_percent = ?, \
    updated_at = ? WHERE id = ?";
const EXPIRING: &str = "SELECT remaining FROM lots WHERE customer_id = ? AND open = 1 \
    AND burns_at > ? AND burns_at <= ?";
const FIND_CARD: &str = concat!(
    "SELECT ",
    card_cols!(),
    " FROM cards WHERE provider = ?1 AND (vendor_card_id = ?2 OR (?2 IS NULL AND number = ?3)) \
     ORDER BY seq LIMIT 1"
);
/// Binds `seq` as ?11, which the insert leaves unused (SQLite allows that).
const INSERT_CARD: &str = "INSERT INTO cards (customer_id, provider, vendor_card_id, number, \
    track, links, installed_apple, installed_google, status, updated_at, created_at) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)";
const UPDATE_CARD: &str = "UPDATE cards SET customer_id = ?1, provider = ?2, vendor_card_id = ?3, \
    number = ?4, track = ?5, links = ?6, installed_apple = ?7, installed_google = ?8, \
    status = ?9, updated_at = ?10 WHERE seq = ?11";
const CARDS_OF: &str = concat!(
    "SELECT ",
    card_cols!(),
    " FROM cards WHERE customer_id = ? ORDER BY seq"
);
const INSERT_EVENT: &str = "INSERT INTO inbound_events (provider, event_id, received_at) \
    VALUES (?, ?, ?) ON CONFLICT (provider, event_id) DO NOTHING";
const ENQUEUE: &str = "INSERT INTO outbox (customer_id, kind, payload, created_at, \
    next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?4)";

/// The lowercased "first name surname" of a row, as indexed by migration 0003 (a query must use
/// the very same expression for SQLite to use the index).
const FULL_NAME_KEY: &str = "lower(trim(coalesce(name, '') || ' ' || coalesce(surname, '')))";
/// The lowercased "surname first name" of a row, as indexed by migration 0003.
const REVERSED_NAME_KEY: &str = "lower(trim(coalesce(surname, '') || ' ' || coalesce(name, '')))";

/// Inserts an outbox item inside the caller's transaction (also the ledger's and the
/// backfill's).
pub(super) async fn enqueue_in(
    conn: &mut SqliteConnection,
    customer: &str,
    kind: OutboxKind,
    payload: &serde_json::Value,
    now: i64,
) -> Result<i64> {
    let (payload, op) = (payload.to_string(), "outbox.enqueue");
    let done = sql!(
        execute(&mut *conn),
        op,
        ENQUEUE,
        [customer, kind.as_str(), payload, now]
    )?;
    Ok(done.last_insert_rowid())
}

impl Dialect for Db {
    type Conn = SqliteConnection;
    type Tx = WriteTx;
    const ROW_LOCKS: bool = false;

    async fn ping(&self) -> Result<()> {
        sql!(execute(&self.pool), "store.ping", "SELECT 1", [])?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin(&self, op: &'static str) -> Result<WriteTx> {
        begin(self, op).await
    }

    async fn commit(tx: WriteTx, op: &'static str) -> Result<()> {
        tx.commit().await.map_err(|e| db(op, e))
    }

    async fn end_unwritten(tx: WriteTx, op: &'static str) -> Result<()> {
        Self::commit(tx, op).await
    }

    /// Only checks: the write transaction already excludes every other writer.
    async fn lock_customer(conn: &mut Self::Conn, id: &str, op: &'static str) -> Result<bool> {
        let sql = "SELECT 1 FROM customers WHERE id = ?";
        Ok(sql!(fetch_optional(&mut *conn), op, sql, [id])?.is_some())
    }

    async fn enqueue_in(conn: &mut Self::Conn, item: &Enqueue<'_>) -> Result<i64> {
        enqueue_in(conn, item.customer, item.kind, item.payload, item.now).await
    }
}

impl CustomerSql for Db {
    async fn get_customer(&self, key: &CustomerKey) -> Result<Option<RawCustomer>> {
        let (sql, arg) = match key {
            CustomerKey::Phone(p) => (BY_PHONE, p.as_str()),
            CustomerKey::Id(id) => (BY_ID, id.as_str()),
            CustomerKey::Card(card) => (BY_CARD, card.as_str()),
        };
        sql!(as RawCustomer, fetch_optional(&self.pool), "customer.get", sql, [arg])
    }

    async fn locked_customer(conn: &mut Self::Conn, by: Lookup<'_>) -> Result<Option<RawCustomer>> {
        let (sql, arg) = match by {
            Lookup::Phone(p) => (BY_PHONE, p),
            Lookup::Id(id) => (BY_ID, id),
        };
        sql!(as RawCustomer, fetch_optional(&mut *conn), "customer.get", sql, [arg])
    }

    async fn write_customer(conn: &mut Self::Conn, w: &CustomerWrite<'_>) -> Result<bool> {
        let (c, id, now) = (w.customer, w.id, w.now);
        let sql = if w.created {
            INSERT_CUSTOMER
        } else {
            UPDATE_CUSTOMER
        };
        let birthday = c.birthday.map(|d| d.format("%Y-%m-%d").to_string());
        let (extra, ids) = (
            fields_to_json(&c.extra).to_string(),
            fields_to_json(&c.provider_ids).to_string(),
        );
        let inviter = c.invited_by.as_ref().map(|p| p.as_str());
        sql!(
            execute(&mut *conn),
            "customer.upsert",
            sql,
            [
                &c.name,
                &c.surname,
                &c.middle_name,
                &c.email,
                birthday,
                extra,
                ids,
                &c.referral_code,
                inviter,
                now,
                id.as_str(),
                c.phone.as_str()
            ]
        )?;
        Ok(true)
    }

    async fn write_percentages(conn: &mut Self::Conn, c: &StoredCustomer, now: i64) -> Result<()> {
        let (bonus, discount, id) = (c.bonus_percent.value(), c.discount_percent.value(), &c.id);
        const OP: &str = "customer.set_percentages";
        let (bonus, discount) = (bonus.to_string(), discount.to_string());
        sql!(
            execute(&mut *conn),
            OP,
            SET_PERCENTAGES,
            [bonus, discount, now, id.as_str()]
        )?;
        Ok(())
    }

    async fn customers_after(&self, after: i64, limit: i64) -> Result<Vec<RawCustomer>> {
        sql!(as RawCustomer, fetch_all(&self.pool), "customer.list", CUSTOMERS_AFTER,
            [after, limit])
    }

    async fn search_customers(&self, plan: &SearchPlan, limit: i64) -> Result<Vec<RawCustomer>> {
        let pool = &self.pool;
        match plan {
            SearchPlan::Phone { prefix, after } => {
                let below = format!("{prefix}:");
                sql!(as RawCustomer, fetch_all(pool), "customer.search", BY_PHONE_PREFIX,
                    [prefix, below, after, limit])
            }
            // char(1114111), the largest code point, sorts after anything that starts with the
            // prefix; `lower` is SQLite's on both sides. `+seq` keeps the planner off a walk of
            // the whole table in seq order: it must take the two name indexes (a multi-index OR)
            // and sort only the matches.
            SearchPlan::Name { text, after } => {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {cols} FROM customers \
                     WHERE (({FULL_NAME_KEY} >= lower(?1) \
                             AND {FULL_NAME_KEY} < (lower(?1) || char(1114111))) \
                         OR ({REVERSED_NAME_KEY} >= lower(?1) \
                             AND {REVERSED_NAME_KEY} < (lower(?1) || char(1114111)))) \
                       AND +seq > ?2 ORDER BY +seq LIMIT ?3",
                    cols = customer_cols!()
                ));
                sql!(as RawCustomer, fetch_all(pool), "customer.search", sql, [text, after, limit])
            }
        }
    }

    /// Summed exactly in Rust: amounts are text.
    async fn expiring_points(&self, id: &CustomerId, now: i64, until: i64) -> Result<Decimal> {
        const OP: &str = "ledger.expiring_points";
        let lots: Vec<(String,)> =
            sql!(as (String,), fetch_all(&self.pool), OP, EXPIRING, [id.as_str(), now, until])?;
        lots.iter().try_fold(Decimal::ZERO, |sum, (remaining,)| {
            sum.checked_add(parse_decimal(remaining)?)
                .ok_or_else(|| Error::unexpected("expiring points overflow the decimal range"))
        })
    }

    async fn find_card(conn: &mut Self::Conn, key: &CardKey<'_>) -> Result<Option<RawCard>> {
        let (provider, vendor_id, number) = (key.provider, key.vendor_id, key.number);
        sql!(as RawCard, fetch_optional(&mut *conn), "card.get", FIND_CARD,
            [provider, vendor_id, number])
    }

    async fn write_card(conn: &mut Self::Conn, seq: Option<i64>, card: &StoredCard) -> Result<()> {
        let now = to_ns(card.updated_at)?;
        let sql = if seq.is_none() {
            INSERT_CARD
        } else {
            UPDATE_CARD
        };
        let vendor_id = card.vendor_card_id.as_ref().map(|c| c.as_str());
        let links = serde_json::to_string(&card.links)?;
        let (apple, google) = (card.installed.apple, card.installed.google);
        sql!(
            execute(&mut *conn),
            "card.write",
            sql,
            [
                card.customer_id.as_str(),
                &card.provider,
                vendor_id,
                &card.number,
                &card.track,
                links,
                apple,
                google,
                status_str(card.status),
                now,
                seq
            ]
        )?;
        Ok(())
    }

    async fn delete_card(conn: &mut Self::Conn, seq: i64) -> Result<()> {
        sql!(
            execute(&mut *conn),
            "card.update",
            "DELETE FROM cards WHERE seq = ?",
            [seq]
        )?;
        Ok(())
    }

    async fn cards_of(&self, customer: &CustomerId) -> Result<Vec<RawCard>> {
        sql!(as RawCard, fetch_all(&self.pool), "card.list", CARDS_OF, [customer.as_str()])
    }

    async fn insert_event(
        conn: &mut Self::Conn,
        provider: &str,
        id: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sql!(
            execute(&mut *conn),
            "event.record",
            INSERT_EVENT,
            [provider, id, now]
        )?;
        Ok(done.rows_affected() == 1)
    }

    /// At the write gate, outside a transaction.
    async fn record_event_alone(&self, provider: &str, id: &str, now: i64) -> Result<bool> {
        let _turn = self.turn().await;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| db("event.record", e))?;
        Self::insert_event(&mut conn, provider, id, now).await
    }
}
