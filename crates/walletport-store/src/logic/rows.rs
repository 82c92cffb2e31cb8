//! Decoding rows into the shared row types, once for both backends.
//!
//! Both dialects select every column as text, integer or boolean (PostgreSQL casts its `JSONB`,
//! `NUMERIC` and `DATE` columns to text in the select list), so one decoder serves both and the
//! text is parsed by the codecs SQLite always used.

use chrono::NaiveDate;
use sqlx::{ColumnIndex, Decode, Row, Type};
use walletport_core::{Error, Result};

use crate::codec::{RawCard, RawCustomer, parse_decimal, parse_json};
use crate::error::db;
use crate::outbox::RawOutbox;

/// A row read by column name as text, integers and booleans: what both backends' rows offer.
/// Errors name the operation `op`.
pub(crate) trait Cols {
    /// A `TEXT` column (or one the dialect casts to text).
    fn text(&self, col: &str, op: &'static str) -> Result<String>;
    /// A nullable text column.
    fn opt_text(&self, col: &str, op: &'static str) -> Result<Option<String>>;
    /// A `BIGINT` column.
    fn int(&self, col: &str, op: &'static str) -> Result<i64>;
    /// A nullable `BIGINT` column.
    fn opt_int(&self, col: &str, op: &'static str) -> Result<Option<i64>>;
    /// A boolean column.
    fn flag(&self, col: &str, op: &'static str) -> Result<bool>;
}

impl<R: Row> Cols for R
where
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, col: &str, op: &'static str) -> Result<String> {
        self.try_get(col).map_err(|e| db(op, e))
    }
    fn opt_text(&self, col: &str, op: &'static str) -> Result<Option<String>> {
        self.try_get(col).map_err(|e| db(op, e))
    }
    fn int(&self, col: &str, op: &'static str) -> Result<i64> {
        self.try_get(col).map_err(|e| db(op, e))
    }
    fn opt_int(&self, col: &str, op: &'static str) -> Result<Option<i64>> {
        self.try_get(col).map_err(|e| db(op, e))
    }
    fn flag(&self, col: &str, op: &'static str) -> Result<bool> {
        self.try_get(col).map_err(|e| db(op, e))
    }
}

/// Decodes a customers row (the dialect's customer columns).
pub(crate) fn raw_customer(row: &impl Cols) -> Result<RawCustomer> {
    const OP: &str = "customer.decode";
    let birthday = row
        .opt_text("birthday", OP)?
        .map(|b| {
            NaiveDate::parse_from_str(&b, "%Y-%m-%d")
                .map_err(|_| Error::unexpected("stored birthday is invalid"))
        })
        .transpose()?;
    Ok(RawCustomer {
        id: row.text("id", OP)?,
        phone: row.text("phone", OP)?,
        name: row.opt_text("name", OP)?,
        surname: row.opt_text("surname", OP)?,
        middle_name: row.opt_text("middle_name", OP)?,
        email: row.opt_text("email", OP)?,
        birthday,
        extra: parse_json(&row.text("extra", OP)?)?,
        provider_ids: parse_json(&row.text("provider_ids", OP)?)?,
        referral_code: row.opt_text("referral_code", OP)?,
        invited_by: row.opt_text("invited_by", OP)?,
        bonus_percent: parse_decimal(&row.text("bonus_percent", OP)?)?,
        discount_percent: parse_decimal(&row.text("discount_percent", OP)?)?,
        created_at: row.int("created_at", OP)?,
        updated_at: row.int("updated_at", OP)?,
    })
}

/// Decodes a cards row (the dialect's card columns).
pub(crate) fn raw_card(row: &impl Cols) -> Result<RawCard> {
    const OP: &str = "card.decode";
    Ok(RawCard {
        customer_id: row.text("customer_id", OP)?,
        provider: row.text("provider", OP)?,
        vendor_card_id: row.opt_text("vendor_card_id", OP)?,
        number: row.opt_text("number", OP)?,
        track: row.opt_text("track", OP)?,
        links: parse_json(&row.text("links", OP)?)?,
        installed_apple: row.flag("installed_apple", OP)?,
        installed_google: row.flag("installed_google", OP)?,
        status: row.text("status", OP)?,
        created_at: row.int("created_at", OP)?,
        updated_at: row.int("updated_at", OP)?,
    })
}

/// Decodes an outbox or dead-letter row (the dialect's item columns).
pub(crate) fn raw_outbox(row: &impl Cols) -> Result<RawOutbox> {
    const OP: &str = "outbox.decode";
    Ok(RawOutbox {
        id: row.int("id", OP)?,
        customer_id: row.text("customer_id", OP)?,
        kind: row.text("kind", OP)?,
        payload: parse_json(&row.text("payload", OP)?)?,
        created_at: row.int("created_at", OP)?,
        attempts: row.int("attempts", OP)?,
        next_attempt_at: row.int("next_attempt_at", OP)?,
        claimed_by: row.opt_text("claimed_by", OP)?,
        claimed_until: row.opt_int("claimed_until", OP)?,
        last_error: row.opt_text("last_error", OP)?,
        died_at: row.opt_int("died_at", OP)?,
    })
}
