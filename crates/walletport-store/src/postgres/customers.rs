//! The PostgreSQL dialect of the shared store logic ([`crate::logic`]): transactions, row
//! locks, and the customer, card and inbound-event statements.
//!
//! Every transaction that enqueues an outbox item for a customer first locks that customer's
//! row (`FOR NO KEY UPDATE`), so the customer's outbox ids follow commit order. Columns of type
//! `JSONB`, `NUMERIC` and `DATE` are read as text (see [`crate::logic`]'s row decoding) and
//! written as native values.

use rust_decimal::Decimal;
use sqlx::Transaction;
use sqlx::postgres::{PgConnection, PgPool, PgRow, Postgres};
use walletport_core::{Customer, CustomerId, CustomerKey, Result};

use crate::codec::{fields_to_json, status_str};
use crate::error::db;
use crate::logic::customers::{CustomerSql, Lookup, Numbered};
use crate::logic::{Cols as _, Dialect, raw_card, raw_customer, sql};
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
        "customer_id, provider, vendor_card_id, number, track, links::text AS links, \
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

/// A customer row and its `seq`.
fn numbered(row: &PgRow) -> Result<Numbered> {
    Ok((
        row.int("seq", "customer.decode")?,
        raw_customer(row)?.into_stored()?,
    ))
}

fn customer(row: Option<PgRow>) -> Result<Option<StoredCustomer>> {
    row.map(|r| raw_customer(&r)?.into_stored()).transpose()
}

/// Inserts an outbox item inside the caller's transaction, which holds the customer's lock
/// (also the ledger's and the backfill's).
pub(super) async fn enqueue_in(
    conn: &mut PgConnection,
    customer: &str,
    kind: OutboxKind,
    payload: &serde_json::Value,
    now: i64,
) -> Result<i64> {
    let row = sql!(
        fetch_one(&mut *conn),
        "outbox.enqueue",
        "INSERT INTO outbox (customer_id, kind, payload, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
        customer,
        kind.as_str(),
        payload,
        now,
    )?;
    row.int("id", "outbox.enqueue")
}

impl Dialect for PgPool {
    type Conn = PgConnection;
    type Tx = Transaction<'static, Postgres>;
    const ROW_LOCKS: bool = true;

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

    async fn lock_customer(conn: &mut PgConnection, id: &str, op: &'static str) -> Result<bool> {
        let row = sql!(
            fetch_optional(&mut *conn),
            op,
            "SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE",
            id
        )?;
        Ok(row.is_some())
    }

    async fn enqueue_in(
        conn: &mut PgConnection,
        customer: &str,
        kind: OutboxKind,
        payload: &serde_json::Value,
        now: i64,
    ) -> Result<i64> {
        enqueue_in(conn, customer, kind, payload, now).await
    }
}

/// The lowercased "first name surname" of a row, as indexed by migration 0003 (a query must use
/// the very same expression for PostgreSQL to use the index).
const FULL_NAME_KEY: &str = "lower(btrim(coalesce(name, '') || ' ' || coalesce(surname, '')))";
/// The lowercased "surname first name" of a row, as indexed by migration 0003.
const REVERSED_NAME_KEY: &str = "lower(btrim(coalesce(surname, '') || ' ' || coalesce(name, '')))";

impl CustomerSql for PgPool {
    async fn get_customer(&self, key: &CustomerKey) -> Result<Option<StoredCustomer>> {
        let (sql, arg) = match key {
            CustomerKey::Phone(p) => (BY_PHONE, p.as_str()),
            CustomerKey::Id(id) => (BY_ID, id.as_str()),
            CustomerKey::Card(card) => (BY_CARD, card.as_str()),
        };
        customer(sql!(fetch_optional(self), "customer.get", sql, arg)?)
    }

    /// Locks the row (`FOR NO KEY UPDATE`).
    async fn customer_for_write(
        conn: &mut PgConnection,
        by: Lookup<'_>,
        op: &'static str,
    ) -> Result<Option<StoredCustomer>> {
        let (sql, arg) = match by {
            Lookup::Phone(p) => (
                concat!(
                    "SELECT ",
                    customer_cols!(),
                    " FROM customers WHERE phone = $1 FOR NO KEY UPDATE"
                ),
                p,
            ),
            Lookup::Id(id) => (
                concat!(
                    "SELECT ",
                    customer_cols!(),
                    " FROM customers WHERE id = $1 FOR NO KEY UPDATE"
                ),
                id,
            ),
        };
        customer(sql!(fetch_optional(&mut *conn), op, sql, arg)?)
    }

    /// A create that finds the phone taken by a concurrent create inserts nothing.
    async fn write_customer(
        conn: &mut PgConnection,
        c: &Customer,
        id: &CustomerId,
        created: bool,
        now: i64,
    ) -> Result<bool> {
        let sql = if created {
            "INSERT INTO customers (name, surname, middle_name, email, birthday, extra, \
             provider_ids, referral_code, invited_by, updated_at, id, phone, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $10) \
             ON CONFLICT (phone) DO NOTHING"
        } else {
            "UPDATE customers SET name = $1, surname = $2, middle_name = $3, email = $4, \
             birthday = $5, extra = $6, provider_ids = $7, referral_code = $8, \
             invited_by = $9, updated_at = $10 WHERE id = $11 AND phone = $12"
        };
        let done = sql!(
            execute(&mut *conn),
            "customer.upsert",
            sql,
            c.name.clone(),
            c.surname.clone(),
            c.middle_name.clone(),
            c.email.clone(),
            c.birthday,
            fields_to_json(&c.extra),
            fields_to_json(&c.provider_ids),
            c.referral_code.clone(),
            c.invited_by.as_ref().map(|p| p.as_str().to_owned()),
            now,
            id.as_str().to_owned(),
            c.phone.as_str().to_owned(),
        )?;
        Ok(done.rows_affected() > 0)
    }

    async fn write_percentages(
        conn: &mut PgConnection,
        id: &CustomerId,
        bonus: Decimal,
        discount: Decimal,
        now: i64,
    ) -> Result<()> {
        sql!(
            execute(&mut *conn),
            "customer.set_percentages",
            "UPDATE customers SET bonus_percent = $1, discount_percent = $2, updated_at = $3 \
             WHERE id = $4",
            bonus,
            discount,
            now,
            id.as_str(),
        )?;
        Ok(())
    }

    async fn customers_after(&self, after: i64, limit: i64) -> Result<Vec<Numbered>> {
        let rows = sql!(
            fetch_all(self),
            "customer.list",
            concat!(
                "SELECT ",
                customer_cols!(),
                " FROM customers WHERE seq > $1 ORDER BY seq LIMIT $2"
            ),
            after,
            limit,
        )?;
        rows.iter().map(numbered).collect()
    }

    /// Ranges on the `text_pattern_ops` indexes of migration 0003 (byte order, so the ranges
    /// hold under any collation).
    async fn search_customers(&self, plan: &SearchPlan, limit: i64) -> Result<Vec<Numbered>> {
        let rows = match plan {
            // Every phone starting with the prefix sorts below prefix + ':' (the byte after '9').
            SearchPlan::Phone { prefix, after } => sql!(
                fetch_all(self),
                "customer.search",
                concat!(
                    "SELECT ",
                    customer_cols!(),
                    " FROM customers WHERE phone ~>=~ $1 AND phone ~<~ $2 AND phone ~>~ $3 \
                     ORDER BY phone USING ~<~ LIMIT $4"
                ),
                prefix,
                format!("{prefix}:"),
                after,
                limit,
            )?,
            // chr(1114111), the largest code point, sorts after anything that starts with the
            // prefix; `lower` is PostgreSQL's on both sides.
            SearchPlan::Name { text, after } => sql!(
                fetch_all(self),
                "customer.search",
                sqlx::AssertSqlSafe(format!(
                    "SELECT {cols} FROM customers \
                     WHERE (({FULL_NAME_KEY} ~>=~ lower($1) \
                             AND {FULL_NAME_KEY} ~<~ (lower($1) || chr(1114111))) \
                         OR ({REVERSED_NAME_KEY} ~>=~ lower($1) \
                             AND {REVERSED_NAME_KEY} ~<~ (lower($1) || chr(1114111)))) \
                       AND seq > $2 ORDER BY seq LIMIT $3",
                    cols = customer_cols!()
                )),
                text,
                after,
                limit,
            )?,
        };
        rows.iter().map(numbered).collect()
    }

    /// Summed by the database (`NUMERIC`).
    async fn expiring_points(
        &self,
        customer: &CustomerId,
        now: i64,
        until: i64,
    ) -> Result<Decimal> {
        sqlx::query_scalar::<_, Decimal>(
            "SELECT COALESCE(SUM(remaining), 0) FROM lots WHERE customer_id = $1 AND open \
             AND burns_at > $2 AND burns_at <= $3",
        )
        .bind(customer.as_str())
        .bind(now)
        .bind(until)
        .fetch_one(self)
        .await
        .map_err(|e| db("ledger.expiring_points", e))
    }

    async fn find_card(
        conn: &mut PgConnection,
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
                " FROM cards WHERE provider = $1 \
                 AND (vendor_card_id = $2 OR ($2 IS NULL AND number = $3)) ORDER BY seq LIMIT 1"
            ),
            provider,
            vendor_id,
            number,
        )?;
        row.map(|r| Ok((r.int("seq", "card.get")?, raw_card(&r)?.into_stored()?)))
            .transpose()
    }

    async fn write_card(
        conn: &mut PgConnection,
        seq: Option<i64>,
        card: &StoredCard,
        now: i64,
    ) -> Result<()> {
        let sql = match seq {
            None => {
                "INSERT INTO cards (customer_id, provider, vendor_card_id, number, track, links, \
                 installed_apple, installed_google, status, updated_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)"
            }
            Some(_) => {
                "UPDATE cards SET customer_id = $1, provider = $2, vendor_card_id = $3, \
                 number = $4, track = $5, links = $6, installed_apple = $7, \
                 installed_google = $8, status = $9, updated_at = $10 WHERE seq = $11"
            }
        };
        let q = sqlx::query(sql)
            .bind(card.customer_id.as_str())
            .bind(&card.provider)
            .bind(card.vendor_card_id.as_ref().map(|c| c.as_str()))
            .bind(&card.number)
            .bind(&card.track)
            .bind(serde_json::to_value(&card.links)?)
            .bind(card.installed.apple)
            .bind(card.installed.google)
            .bind(status_str(card.status))
            .bind(now);
        // The insert has no `seq` parameter, and PostgreSQL refuses a value it has no place for.
        let q = match seq {
            Some(seq) => q.bind(seq),
            None => q,
        };
        q.execute(&mut *conn)
            .await
            .map_err(|e| db("card.write", e))?;
        Ok(())
    }

    async fn delete_card(conn: &mut PgConnection, seq: i64) -> Result<()> {
        sql!(
            execute(&mut *conn),
            "card.update",
            "DELETE FROM cards WHERE seq = $1",
            seq
        )?;
        Ok(())
    }

    async fn cards_of(&self, customer: &CustomerId) -> Result<Vec<StoredCard>> {
        let rows = sql!(
            fetch_all(self),
            "card.list",
            concat!(
                "SELECT ",
                card_cols!(),
                " FROM cards WHERE customer_id = $1 ORDER BY seq"
            ),
            customer.as_str(),
        )?;
        rows.iter().map(|r| raw_card(r)?.into_stored()).collect()
    }

    async fn insert_event(
        conn: &mut PgConnection,
        provider: &str,
        event: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sql!(
            execute(&mut *conn),
            "event.record",
            "INSERT INTO inbound_events (provider, event_id, received_at) VALUES ($1, $2, $3) \
             ON CONFLICT (provider, event_id) DO NOTHING",
            provider,
            event,
            now,
        )?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_event_alone(&self, provider: &str, event: &str, now: i64) -> Result<bool> {
        let mut conn = self.acquire().await.map_err(|e| db("event.record", e))?;
        Self::insert_event(&mut conn, provider, event, now).await
    }
}
