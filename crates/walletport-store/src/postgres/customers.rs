//! The PostgreSQL dialect of the shared store logic ([`crate::logic`]): transactions, row
//! locks, and the customer, card and inbound-event statements.
//!
//! Every transaction that enqueues an outbox item for a customer first locks that customer's
//! row (`FOR NO KEY UPDATE`), so the customer's outbox ids follow commit order. Columns of type
//! `JSONB`, `NUMERIC` and `DATE` are read as text (see [`crate::logic`]'s row decoding) and
//! written as native values.

use sqlx::Transaction;
use sqlx::postgres::{PgConnection, PgPool, PgRow, Postgres};
use walletport_core::Result;

use crate::error::db;
use crate::logic::Dialect;
use crate::logic::customer_sql::{CustomerSql, CustomerStatements};
use crate::logic::run::{Runner, runner};

macro_rules! customer_cols {
    () => {
        "seq, id, phone, name, surname, middle_name, email, \
         to_char(birthday, 'YYYY-MM-DD') AS birthday, extra::text AS extra, \
         provider_ids::text AS provider_ids, referral_code, invited_by, \
         bonus_percent::text AS bonus_percent, discount_percent::text AS discount_percent, \
         created_at, updated_at"
    };
}

macro_rules! card_cols {
    () => {
        "seq, customer_id, provider, vendor_card_id, number, track, links::text AS links, \
         installed_apple, installed_google, status, created_at, updated_at"
    };
}

/// Customers by phone, CRM id, or a card's vendor id or number.
const BY_PHONE: &str = concat!(
    "SELECT ",
    customer_cols!(),
    " FROM customers WHERE phone = $1"
);
const BY_ID: &str = concat!("SELECT ", customer_cols!(), " FROM customers WHERE id = $1");
const BY_CARD: &str = concat!(
    "SELECT ",
    customer_cols!(),
    " FROM customers WHERE id = (SELECT customer_id FROM cards \
     WHERE vendor_card_id = $1 OR number = $1 ORDER BY seq LIMIT 1)"
);
/// The customer a write is about, locked.
const LOCK_BY_PHONE: &str = concat!(
    "SELECT ",
    customer_cols!(),
    " FROM customers WHERE phone = $1 FOR NO KEY UPDATE"
);
const LOCK_BY_ID: &str = concat!(
    "SELECT ",
    customer_cols!(),
    " FROM customers WHERE id = $1 FOR NO KEY UPDATE"
);
const CUSTOMERS_AFTER: &str = concat!(
    "SELECT ",
    customer_cols!(),
    " FROM customers WHERE seq > $1 ORDER BY seq LIMIT $2"
);
/// Every phone starting with the prefix sorts below prefix + ':' (the byte after '9'), in byte
/// order (`text_pattern_ops`), so the range holds under any collation.
const BY_PHONE_PREFIX: &str = concat!(
    "SELECT ",
    customer_cols!(),
    " FROM customers WHERE phone ~>=~ $1 AND phone ~<~ $2 AND phone ~>~ $3 \
     ORDER BY phone USING ~<~ LIMIT $4"
);
/// A create that finds the phone taken by a concurrent create inserts nothing.
const INSERT_CUSTOMER: &str = "INSERT INTO customers (name, surname, middle_name, email, \
    birthday, extra, provider_ids, referral_code, invited_by, updated_at, id, phone, created_at) \
    VALUES ($1, $2, $3, $4, $5::date, $6::jsonb, $7::jsonb, $8, $9, $10, $11, $12, $10) \
    ON CONFLICT (phone) DO NOTHING";
const UPDATE_CUSTOMER: &str = "UPDATE customers SET name = $1, surname = $2, middle_name = $3, \
    email = $4, birthday = $5::date, extra = $6::jsonb, provider_ids = $7::jsonb, referral_code = $8, \
    invited_by = $9, updated_at = $10 WHERE id = $11 AND phone = $12";
const SET_PERCENTAGES: &str = "UPDATE customers SET bonus_percent = $1::numeric, \
    discount_percent = $2::numeric, \
    updated_at = $3 WHERE id = $4";
/// Summed by the database (`NUMERIC`), one row.
const EXPIRING: &str = "SELECT COALESCE(SUM(remaining), 0)::text FROM lots WHERE customer_id = $1 \
    AND open AND burns_at > $2 AND burns_at <= $3";
const FIND_CARD: &str = concat!(
    "SELECT ",
    card_cols!(),
    " FROM cards WHERE provider = $1 AND (vendor_card_id = $2 OR ($2 IS NULL AND number = $3)) \
     ORDER BY seq LIMIT 1"
);
const INSERT_CARD: &str = "INSERT INTO cards (customer_id, provider, vendor_card_id, number, \
    track, links, installed_apple, installed_google, status, updated_at, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $10)";
/// Takes `seq` as $11 (the insert has no place for it, and PostgreSQL refuses an unused value).
const UPDATE_CARD: &str = "UPDATE cards SET customer_id = $1, provider = $2, vendor_card_id = $3, \
    number = $4, track = $5, links = $6::jsonb, installed_apple = $7, installed_google = $8, \
    status = $9, updated_at = $10 WHERE seq = $11";
const CARDS_OF: &str = concat!(
    "SELECT ",
    card_cols!(),
    " FROM cards WHERE customer_id = $1 ORDER BY seq"
);
const INSERT_EVENT: &str = "INSERT INTO inbound_events (provider, event_id, received_at) \
    VALUES ($1, $2, $3) ON CONFLICT (provider, event_id) DO NOTHING";
const ENQUEUE: &str = "INSERT INTO outbox (customer_id, kind, payload, created_at, \
    next_attempt_at) VALUES ($1, $2, $3::jsonb, $4, $4) RETURNING id";

/// The lowercased "first name surname" of a row, as indexed by migration 0003 (a query must use
/// the very same expression for PostgreSQL to use the index).
macro_rules! full_name_key {
    () => {
        "lower(btrim(coalesce(name, '') || ' ' || coalesce(surname, '')))"
    };
}
/// The lowercased "surname first name" of a row, as indexed by migration 0003.
macro_rules! reversed_name_key {
    () => {
        "lower(btrim(coalesce(surname, '') || ' ' || coalesce(name, '')))"
    };
}

/// chr(1114111), the largest code point, sorts after anything that starts with the prefix;
/// `lower` is PostgreSQL's on both sides; the `text_pattern_ops` indexes of migration 0003
/// compare bytes, so the ranges hold under any collation.
const BY_NAME_PREFIX: &str = concat!(
    "SELECT ",
    customer_cols!(),
    " FROM customers WHERE ((",
    full_name_key!(),
    " ~>=~ lower($1) AND ",
    full_name_key!(),
    " ~<~ (lower($1) || chr(1114111))) OR (",
    reversed_name_key!(),
    " ~>=~ lower($1) AND ",
    reversed_name_key!(),
    " ~<~ (lower($1) || chr(1114111)))) AND seq > $2 ORDER BY seq LIMIT $3"
);

runner!(PgPool, Postgres, PgRow, |pool| pool);

impl Dialect for PgPool {
    type Conn = PgConnection;
    type Tx = Transaction<'static, Postgres>;
    const ROW_LOCKS: bool = true;
    const LOCK_CUSTOMER: &str = "SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE";
    const ENQUEUE: &str = ENQUEUE;

    /// A round trip on a pooled connection (pinged first only when it sat idle).
    async fn ping(&self) -> Result<()> {
        let answer = sqlx::raw_sql("SELECT 1").execute(self).await;
        answer.map(drop).map_err(|e| db("store.ping", e))
    }

    async fn close(&self) {
        PgPool::close(self).await;
    }

    async fn begin(&self, op: &'static str) -> Result<Self::Tx> {
        PgPool::begin(self).await.map_err(|e| db(op, e))
    }

    async fn commit(tx: Self::Tx, op: &'static str) -> Result<()> {
        tx.commit().await.map_err(|e| db(op, e))
    }

    async fn end_unwritten(tx: Self::Tx, _: &'static str) -> Result<()> {
        drop(tx);
        Ok(())
    }
}

impl CustomerSql for PgPool {
    /// A write's lookups lock the row (`FOR NO KEY UPDATE`).
    const CUSTOMERS: CustomerStatements = CustomerStatements {
        by_phone: BY_PHONE,
        by_id: BY_ID,
        by_card: BY_CARD,
        lock_by_phone: LOCK_BY_PHONE,
        lock_by_id: LOCK_BY_ID,
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
        delete_card: "DELETE FROM cards WHERE seq = $1",
        cards_of: CARDS_OF,
        insert_event: INSERT_EVENT,
    };

    async fn record_event_alone(&self, provider: &str, id: &str, now: i64) -> Result<bool> {
        let mut conn = Runner::acquire(self, "event.record").await?;
        Self::insert_event(&mut conn, provider, id, now).await
    }
}
