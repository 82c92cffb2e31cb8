//! The SQLite dialect of the shared store logic ([`crate::logic`]): transactions at the write
//! gate, and the customer, card and inbound-event statements.
//!
//! SQLite writes one transaction at a time, so no row is ever locked; decimals and JSON are
//! stored as text, dates as `YYYY-MM-DD` text.

use sqlx::sqlite::{Sqlite, SqliteConnection, SqliteRow};
use walletport_core::Result;

use super::{Db, WriteTx, begin};
use crate::error::db;
use crate::logic::customer_sql::{CustomerSql, CustomerStatements};
use crate::logic::run::{Runner, runner};
use crate::logic::{Dialect, sql};

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
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?10) \
    ON CONFLICT (phone) DO NOTHING";
const UPDATE_CUSTOMER: &str = "UPDATE customers SET name = ?1, surname = ?2, middle_name = ?3, \
    email = ?4, birthday = ?5, extra = ?6, provider_ids = ?7, referral_code = ?8, \
    invited_by = ?9, updated_at = ?10 WHERE id = ?11 AND phone = ?12";
const SET_PERCENTAGES: &str = "UPDATE customers SET bonus_percent = ?, discount_percent = ?, \
    updated_at = ? WHERE id = ?";
/// One row per lot: amounts are text, summed exactly in Rust.
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
    next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?4) RETURNING id";

/// The lowercased "first name surname" of a row, as indexed by migration 0003 (a query must use
/// the very same expression for SQLite to use the index).
macro_rules! full_name_key {
    () => {
        "lower(trim(coalesce(name, '') || ' ' || coalesce(surname, '')))"
    };
}
/// The lowercased "surname first name" of a row, as indexed by migration 0003.
macro_rules! reversed_name_key {
    () => {
        "lower(trim(coalesce(surname, '') || ' ' || coalesce(name, '')))"
    };
}

/// char(1114111), the largest code point, sorts after anything that starts with the prefix;
/// `lower` is SQLite's on both sides. `+seq` keeps the planner off a walk of the whole table in
/// seq order: it must take the two name indexes (a multi-index OR) and sort only the matches.
const BY_NAME_PREFIX: &str = concat!(
    "SELECT ",
    customer_cols!(),
    " FROM customers WHERE ((",
    full_name_key!(),
    " >= lower(?1) AND ",
    full_name_key!(),
    " < (lower(?1) || char(1114111))) OR (",
    reversed_name_key!(),
    " >= lower(?1) AND ",
    reversed_name_key!(),
    " < (lower(?1) || char(1114111)))) AND +seq > ?2 ORDER BY +seq LIMIT ?3"
);

runner!(Db, Sqlite, SqliteRow, |db| db.pool);

impl Dialect for Db {
    type Conn = SqliteConnection;
    type Tx = WriteTx;
    const ROW_LOCKS: bool = false;
    /// Only checks: the write transaction already excludes every other writer.
    const LOCK_CUSTOMER: &str = "SELECT 1 FROM customers WHERE id = ?";
    const ENQUEUE: &str = ENQUEUE;

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
}

impl CustomerSql for Db {
    /// No row locks: the lookups of a write are the plain ones.
    const CUSTOMERS: CustomerStatements = CustomerStatements {
        by_phone: BY_PHONE,
        by_id: BY_ID,
        by_card: BY_CARD,
        lock_by_phone: BY_PHONE,
        lock_by_id: BY_ID,
        after: CUSTOMERS_AFTER,
        phone_prefix: BY_PHONE_PREFIX,
        name_prefix: BY_NAME_PREFIX,
        insert: INSERT_CUSTOMER,
        update: UPDATE_CUSTOMER,
        set_percentages: SET_PERCENTAGES,
        expiring: EXPIRING,
        find_card: FIND_CARD,
        insert_card: INSERT_CARD,
        update_card: UPDATE_CARD,
        delete_card: "DELETE FROM cards WHERE seq = ?",
        cards_of: CARDS_OF,
        insert_event: INSERT_EVENT,
    };

    /// At the write gate, outside a transaction.
    async fn record_event_alone(&self, provider: &str, id: &str, now: i64) -> Result<bool> {
        let _turn = self.turn().await;
        let mut conn = Runner::acquire(self, "event.record").await?;
        Self::insert_event(&mut conn, provider, id, now).await
    }
}
