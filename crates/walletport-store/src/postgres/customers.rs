//! The PostgreSQL dialect of the shared store logic ([`crate::logic`]): transactions, row
//! locks, and the customer, card and inbound-event statements.
//!
//! Every transaction that enqueues an outbox item for a customer first locks that customer's
//! row (`FOR NO KEY UPDATE`), so the customer's outbox ids follow commit order. Columns of type
//! `JSONB`, `NUMERIC` and `DATE` are read as text (see [`crate::logic`]'s row decoding) and
//! written as native values.

use rust_decimal::Decimal;
use sqlx::Transaction;
use sqlx::postgres::{PgConnection, PgPool, Postgres};
use walletport_core::{CustomerId, CustomerKey, Result};

use crate::codec::{RawCard, RawCustomer, fields_to_json, status_str, to_ns};
use crate::error::db;
use crate::logic::customers::{CardKey, CustomerSql, CustomerWrite, Lookup};
use crate::logic::{Dialect, Enqueue, sql};
use crate::model::{SearchPlan, StoredCard, StoredCustomer};
use crate::outbox::OutboxKind;

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
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $10) ON CONFLICT (phone) DO NOTHING";
const UPDATE_CUSTOMER: &str = "UPDATE customers SET name = $1, surname = $2, middle_name = $3, \
    email = $4, birthday = $5, extra = $6, provider_ids = $7, referral_code = $8, \
    invited_by = $9, updated_at = $10 WHERE id = $11 AND phone = $12";
const SET_PERCENTAGES: &str = "UPDATE customers SET bonus_percent = $1, discount_percent = $2, \
    updated_at = $3 WHERE id = $4";
/// Summed by the database (`NUMERIC`).
const EXPIRING: &str = "SELECT COALESCE(SUM(remaining), 0) FROM lots WHERE customer_id = $1 \
    AND open AND burns_at > $2 AND burns_at <= $3";
const FIND_CARD: &str = concat!(
    "SELECT ",
    card_cols!(),
    " FROM cards WHERE provider = $1 AND (vendor_card_id = $2 OR ($2 IS NULL AND number = $3)) \
     ORDER BY seq LIMIT 1"
);
const INSERT_CARD: &str = "INSERT INTO cards (customer_id, provider, vendor_card_id, number, \
    track, links, installed_apple, installed_google, status, updated_at, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)";
/// Takes `seq` as $11 (the insert has no place for it, and PostgreSQL refuses an unused value).
const UPDATE_CARD: &str = "UPDATE cards SET customer_id = $1, provider = $2, vendor_card_id = $3, \
    number = $4, track = $5, links = $6, installed_apple = $7, installed_google = $8, \
    status = $9, updated_at = $10 WHERE seq = $11";
const CARDS_OF: &str = concat!(
    "SELECT ",
    card_cols!(),
    " FROM cards WHERE customer_id = $1 ORDER BY seq"
);
const INSERT_EVENT: &str = "INSERT INTO inbound_events (provider, event_id, received_at) \
    VALUES ($1, $2, $3) ON CONFLICT (provider, event_id) DO NOTHING";
const ENQUEUE: &str = "INSERT INTO outbox (customer_id, kind, payload, created_at, \
    next_attempt_at) VALUES ($1, $2, $3, $4, $4) RETURNING id";

/// The lowercased "first name surname" of a row, as indexed by migration 0003 (a query must use
/// the very same expression for PostgreSQL to use the index).
const FULL_NAME_KEY: &str = "lower(btrim(coalesce(name, '') || ' ' || coalesce(surname, '')))";
/// The lowercased "surname first name" of a row, as indexed by migration 0003.
const REVERSED_NAME_KEY: &str = "lower(btrim(coalesce(surname, '') || ' ' || coalesce(name, '')))";

/// Inserts an outbox item inside the caller's transaction, which holds the customer's lock
/// (also the ledger's and the backfill's).
pub(super) async fn enqueue_in(
    conn: &mut PgConnection,
    customer: &str,
    kind: OutboxKind,
    payload: &serde_json::Value,
    now: i64,
) -> Result<i64> {
    let op = "outbox.enqueue";
    let (id,) = sql!(as (i64,), fetch_one(&mut *conn), op, ENQUEUE,
        [customer, kind.as_str(), payload, now])?;
    Ok(id)
}

impl Dialect for PgPool {
    type Conn = PgConnection;
    type Tx = Transaction<'static, Postgres>;
    const ROW_LOCKS: bool = true;

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

    async fn lock_customer(conn: &mut Self::Conn, id: &str, op: &'static str) -> Result<bool> {
        let sql = "SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE";
        Ok(sql!(fetch_optional(&mut *conn), op, sql, [id])?.is_some())
    }

    async fn enqueue_in(conn: &mut Self::Conn, item: &Enqueue<'_>) -> Result<i64> {
        enqueue_in(conn, item.customer, item.kind, item.payload, item.now).await
    }
}

impl CustomerSql for PgPool {
    async fn get_customer(&self, key: &CustomerKey) -> Result<Option<RawCustomer>> {
        let (sql, arg) = match key {
            CustomerKey::Phone(p) => (BY_PHONE, p.as_str()),
            CustomerKey::Id(id) => (BY_ID, id.as_str()),
            CustomerKey::Card(card) => (BY_CARD, card.as_str()),
        };
        sql!(as RawCustomer, fetch_optional(self), "customer.get", sql, [arg])
    }

    /// Locks the row (`FOR NO KEY UPDATE`).
    async fn locked_customer(conn: &mut Self::Conn, by: Lookup<'_>) -> Result<Option<RawCustomer>> {
        let (sql, arg) = match by {
            Lookup::Phone(p) => (LOCK_BY_PHONE, p),
            Lookup::Id(id) => (LOCK_BY_ID, id),
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
        let (extra, ids) = (fields_to_json(&c.extra), fields_to_json(&c.provider_ids));
        let inviter = c.invited_by.as_ref().map(|p| p.as_str());
        let done = sql!(
            execute(&mut *conn),
            "customer.upsert",
            sql,
            [
                &c.name,
                &c.surname,
                &c.middle_name,
                &c.email,
                c.birthday,
                extra,
                ids,
                &c.referral_code,
                inviter,
                now,
                id.as_str(),
                c.phone.as_str()
            ]
        )?;
        Ok(done.rows_affected() > 0)
    }

    async fn write_percentages(conn: &mut Self::Conn, c: &StoredCustomer, now: i64) -> Result<()> {
        let (bonus, discount, id) = (c.bonus_percent.value(), c.discount_percent.value(), &c.id);
        const OP: &str = "customer.set_percentages";
        sql!(
            execute(&mut *conn),
            OP,
            SET_PERCENTAGES,
            [bonus, discount, now, id.as_str()]
        )?;
        Ok(())
    }

    async fn customers_after(&self, after: i64, limit: i64) -> Result<Vec<RawCustomer>> {
        sql!(as RawCustomer, fetch_all(self), "customer.list", CUSTOMERS_AFTER, [after, limit])
    }

    async fn search_customers(&self, plan: &SearchPlan, limit: i64) -> Result<Vec<RawCustomer>> {
        match plan {
            SearchPlan::Phone { prefix, after } => {
                let below = format!("{prefix}:");
                sql!(as RawCustomer, fetch_all(self), "customer.search", BY_PHONE_PREFIX,
                    [prefix, below, after, limit])
            }
            // chr(1114111), the largest code point, sorts after anything that starts with the
            // prefix; `lower` is PostgreSQL's on both sides; the `text_pattern_ops` indexes of
            // migration 0003 compare bytes, so the ranges hold under any collation.
            SearchPlan::Name { text, after } => {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {cols} FROM customers \
                     WHERE (({FULL_NAME_KEY} ~>=~ lower($1) \
                             AND {FULL_NAME_KEY} ~<~ (lower($1) || chr(1114111))) \
                         OR ({REVERSED_NAME_KEY} ~>=~ lower($1) \
                             AND {REVERSED_NAME_KEY} ~<~ (lower($1) || chr(1114111)))) \
                       AND seq > $2 ORDER BY seq LIMIT $3",
                    cols = customer_cols!()
                ));
                sql!(as RawCustomer, fetch_all(self), "customer.search", sql, [text, after, limit])
            }
        }
    }

    async fn expiring_points(&self, id: &CustomerId, now: i64, until: i64) -> Result<Decimal> {
        let op = "ledger.expiring_points";
        let (sum,) = sql!(as (Decimal,), fetch_one(self), op, EXPIRING, [id.as_str(), now, until])?;
        Ok(sum)
    }

    async fn find_card(conn: &mut Self::Conn, key: &CardKey<'_>) -> Result<Option<RawCard>> {
        let (provider, vendor_id, number) = (key.provider, key.vendor_id, key.number);
        sql!(as RawCard, fetch_optional(&mut *conn), "card.get", FIND_CARD,
            [provider, vendor_id, number])
    }

    async fn write_card(conn: &mut Self::Conn, seq: Option<i64>, card: &StoredCard) -> Result<()> {
        let now = to_ns(card.updated_at)?;
        let vendor_id = card.vendor_card_id.as_ref().map(|c| c.as_str());
        let links = serde_json::to_value(&card.links)?;
        let (apple, google) = (card.installed.apple, card.installed.google);
        let q = sqlx::query(if seq.is_none() {
            INSERT_CARD
        } else {
            UPDATE_CARD
        })
        .bind(card.customer_id.as_str())
        .bind(&card.provider)
        .bind(vendor_id)
        .bind(&card.number)
        .bind(&card.track)
        .bind(links)
        .bind(apple)
        .bind(google)
        .bind(status_str(card.status))
        .bind(now);
        let q = match seq {
            Some(seq) => q.bind(seq),
            None => q,
        };
        q.execute(&mut *conn)
            .await
            .map_err(|e| db("card.write", e))?;
        Ok(())
    }

    async fn delete_card(conn: &mut Self::Conn, seq: i64) -> Result<()> {
        sql!(
            execute(&mut *conn),
            "card.update",
            "DELETE FROM cards WHERE seq = $1",
            [seq]
        )?;
        Ok(())
    }

    async fn cards_of(&self, customer: &CustomerId) -> Result<Vec<RawCard>> {
        sql!(as RawCard, fetch_all(self), "card.list", CARDS_OF, [customer.as_str()])
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

    async fn record_event_alone(&self, provider: &str, id: &str, now: i64) -> Result<bool> {
        let mut conn = self.acquire().await.map_err(|e| db("event.record", e))?;
        Self::insert_event(&mut conn, provider, id, now).await
    }
}
