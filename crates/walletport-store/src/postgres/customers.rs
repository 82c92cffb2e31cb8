//! Customers, cards and inbound events on PostgreSQL.

use chrono::{DateTime, Utc};
use sqlx::Row as _;
use sqlx::postgres::{PgConnection, PgPool, PgRow};
use walletport_core::{CardId, Customer, CustomerId, CustomerKey, Error, ErrorKind, Result};

use super::lock_customer;
use crate::codec::{
    RawCard, RawCustomer, customer_payload, fields_to_json, merge_card, merge_customer,
    new_customer_id, patch_card, status_str, to_ns, validate_card, validate_customer,
    validate_event_id, validate_patch, validate_provider,
};
use crate::error::db;
use crate::model::{
    CardPatch, CardUpdated, CustomerPage, ListCustomers, NewCard, Percentages, StoredCard,
    StoredCustomer, Upserted, WriteOpts,
};
use crate::outbox::OutboxKind;

macro_rules! customer_cols {
    () => {
        "seq, id, phone, name, surname, middle_name, email, birthday, extra, provider_ids, \
         referral_code, invited_by, bonus_percent, discount_percent, created_at, updated_at"
    };
}

macro_rules! card_cols {
    () => {
        "customer_id, provider, vendor_card_id, number, track, links, installed_apple, \
         installed_google, status, created_at, updated_at"
    };
}

fn raw_customer(row: &PgRow) -> Result<RawCustomer> {
    let g = |e| db("customer.decode", e);
    Ok(RawCustomer {
        id: row.try_get("id").map_err(g)?,
        phone: row.try_get("phone").map_err(g)?,
        name: row.try_get("name").map_err(g)?,
        surname: row.try_get("surname").map_err(g)?,
        middle_name: row.try_get("middle_name").map_err(g)?,
        email: row.try_get("email").map_err(g)?,
        birthday: row.try_get("birthday").map_err(g)?,
        extra: row.try_get("extra").map_err(g)?,
        provider_ids: row.try_get("provider_ids").map_err(g)?,
        referral_code: row.try_get("referral_code").map_err(g)?,
        invited_by: row.try_get("invited_by").map_err(g)?,
        bonus_percent: row.try_get("bonus_percent").map_err(g)?,
        discount_percent: row.try_get("discount_percent").map_err(g)?,
        created_at: row.try_get("created_at").map_err(g)?,
        updated_at: row.try_get("updated_at").map_err(g)?,
    })
}

fn raw_card(row: &PgRow) -> Result<RawCard> {
    let g = |e| db("card.decode", e);
    Ok(RawCard {
        customer_id: row.try_get("customer_id").map_err(g)?,
        provider: row.try_get("provider").map_err(g)?,
        vendor_card_id: row.try_get("vendor_card_id").map_err(g)?,
        number: row.try_get("number").map_err(g)?,
        track: row.try_get("track").map_err(g)?,
        links: row.try_get("links").map_err(g)?,
        installed_apple: row.try_get("installed_apple").map_err(g)?,
        installed_google: row.try_get("installed_google").map_err(g)?,
        status: row.try_get("status").map_err(g)?,
        created_at: row.try_get("created_at").map_err(g)?,
        updated_at: row.try_get("updated_at").map_err(g)?,
    })
}

fn decode(row: Option<PgRow>) -> Result<Option<StoredCustomer>> {
    row.map(|r| raw_customer(&r)?.into_stored()).transpose()
}

/// Inserts an outbox item inside the caller's transaction (which holds the customer's lock).
pub(super) async fn enqueue_in(
    conn: &mut PgConnection,
    customer: &str,
    kind: OutboxKind,
    payload: &serde_json::Value,
    now: i64,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO outbox (customer_id, kind, payload, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(customer)
    .bind(kind.as_str())
    .bind(payload)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| db("outbox.enqueue", e))?;
    row.try_get(0).map_err(|e| db("outbox.enqueue", e))
}

pub(super) async fn upsert(pool: &PgPool, c: &Customer, opts: WriteOpts) -> Result<Upserted> {
    validate_customer(c)?;
    let now = to_ns(opts.now)?;
    // A concurrent create of the same phone makes our insert do nothing; the next round then
    // finds (and locks) that customer and patches it.
    for _ in 0..3 {
        let mut tx = pool.begin().await.map_err(|e| db("customer.upsert", e))?;
        let existing = decode(
            sqlx::query(concat!(
                "SELECT ",
                customer_cols!(),
                " FROM customers WHERE phone = $1 FOR NO KEY UPDATE"
            ))
            .bind(c.phone.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db("customer.upsert", e))?,
        )?;
        let (merged, id, created) = match existing {
            None => {
                let id = match &c.id {
                    Some(id) => id.clone(),
                    None => new_customer_id()?,
                };
                let mut merged = c.clone();
                merged.id = Some(id.clone());
                (merged, id, true)
            }
            Some(stored) => {
                if let Some(asked) = &c.id
                    && *asked != stored.id
                {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!(
                            "phone {} belongs to customer `{}`, not `{asked}`",
                            c.phone, stored.id
                        ),
                    ));
                }
                let (merged, changed) = merge_customer(&stored.customer, c);
                if !changed {
                    return Ok(Upserted {
                        id: stored.id,
                        created: false,
                        changed: false,
                    });
                }
                (merged, stored.id, false)
            }
        };
        let q = if created {
            sqlx::query(
                "INSERT INTO customers (name, surname, middle_name, email, birthday, extra, \
                 provider_ids, referral_code, invited_by, updated_at, id, phone, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $10) \
                 ON CONFLICT (phone) DO NOTHING",
            )
        } else {
            sqlx::query(
                "UPDATE customers SET name = $1, surname = $2, middle_name = $3, email = $4, \
                 birthday = $5, extra = $6, provider_ids = $7, referral_code = $8, \
                 invited_by = $9, updated_at = $10 WHERE id = $11 AND phone = $12",
            )
        };
        let done = q
            .bind(merged.name.clone())
            .bind(merged.surname.clone())
            .bind(merged.middle_name.clone())
            .bind(merged.email.clone())
            .bind(merged.birthday)
            .bind(fields_to_json(&merged.extra))
            .bind(fields_to_json(&merged.provider_ids))
            .bind(merged.referral_code.clone())
            .bind(merged.invited_by.as_ref().map(|p| p.as_str().to_owned()))
            .bind(now)
            .bind(id.as_str().to_owned())
            .bind(merged.phone.as_str().to_owned())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                let e = db("customer.upsert", e);
                if e.kind() == ErrorKind::AlreadyExists {
                    Error::new(
                        ErrorKind::AlreadyExists,
                        format!("customer id `{id}` is taken"),
                    )
                    .with_operation("customer.upsert")
                } else {
                    e
                }
            })?;
        if done.rows_affected() == 0 {
            continue; // lost the race to create this phone
        }
        if opts.echo {
            let payload = customer_payload(&merged, created);
            enqueue_in(&mut tx, id.as_str(), OutboxKind::Customer, &payload, now).await?;
        }
        tx.commit().await.map_err(|e| db("customer.upsert", e))?;
        return Ok(Upserted {
            id,
            created,
            changed: true,
        });
    }
    Err(Error::unexpected("customer upsert kept racing; try again")
        .with_retry(walletport_core::Retry::Temporary { after: None }))
}

pub(super) async fn get(pool: &PgPool, key: &CustomerKey) -> Result<Option<StoredCustomer>> {
    let (sql, arg) = match key {
        CustomerKey::Phone(p) => (
            concat!(
                "SELECT ",
                customer_cols!(),
                " FROM customers WHERE phone = $1"
            ),
            p.as_str(),
        ),
        CustomerKey::Id(id) => (
            concat!("SELECT ", customer_cols!(), " FROM customers WHERE id = $1"),
            id.as_str(),
        ),
        CustomerKey::Card(card) => (
            concat!(
                "SELECT ",
                customer_cols!(),
                " FROM customers WHERE id = (SELECT customer_id FROM cards \
                 WHERE vendor_card_id = $1 OR number = $1 ORDER BY seq LIMIT 1)"
            ),
            card.as_str(),
        ),
    };
    decode(
        sqlx::query(sql)
            .bind(arg)
            .fetch_optional(pool)
            .await
            .map_err(|e| db("customer.get", e))?,
    )
}

pub(super) async fn list(pool: &PgPool, q: &ListCustomers) -> Result<CustomerPage> {
    let limit = q.page_size()?;
    let after = q.after_seq()?;
    let rows = sqlx::query(concat!(
        "SELECT ",
        customer_cols!(),
        " FROM customers WHERE seq > $1 ORDER BY seq LIMIT $2"
    ))
    .bind(after)
    .bind(limit + 1)
    .fetch_all(pool)
    .await
    .map_err(|e| db("customer.list", e))?;
    let more = rows.len() as i64 > limit;
    let mut customers = Vec::with_capacity(rows.len());
    let mut last = after;
    for row in rows.iter().take(limit as usize) {
        last = row.try_get("seq").map_err(|e| db("customer.list", e))?;
        customers.push(raw_customer(row)?.into_stored()?);
    }
    Ok(CustomerPage {
        customers,
        next: more.then(|| last.to_string()),
    })
}

pub(super) async fn set_percentages(
    pool: &PgPool,
    id: &CustomerId,
    p: Percentages,
    opts: WriteOpts,
) -> Result<StoredCustomer> {
    if p.bonus.is_none() && p.discount.is_none() {
        return Err(Error::invalid_input("no percentage to set"));
    }
    let now = to_ns(opts.now)?;
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| db("customer.set_percentages", e))?;
    let mut stored = decode(
        sqlx::query(concat!(
            "SELECT ",
            customer_cols!(),
            " FROM customers WHERE id = $1 FOR NO KEY UPDATE"
        ))
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| db("customer.set_percentages", e))?,
    )?
    .ok_or_else(|| Error::not_found(format!("no customer `{id}`")))?;
    let bonus = p.bonus.unwrap_or(stored.bonus_percent);
    let discount = p.discount.unwrap_or(stored.discount_percent);
    if bonus == stored.bonus_percent && discount == stored.discount_percent {
        return Ok(stored);
    }
    sqlx::query(
        "UPDATE customers SET bonus_percent = $1, discount_percent = $2, updated_at = $3 \
         WHERE id = $4",
    )
    .bind(bonus.value())
    .bind(discount.value())
    .bind(now)
    .bind(id.as_str())
    .execute(&mut *tx)
    .await
    .map_err(|e| db("customer.set_percentages", e))?;
    if opts.echo {
        let payload = serde_json::json!({ "bonus_percent": bonus, "discount_percent": discount });
        enqueue_in(&mut tx, id.as_str(), OutboxKind::Percentages, &payload, now).await?;
    }
    tx.commit()
        .await
        .map_err(|e| db("customer.set_percentages", e))?;
    stored.bonus_percent = bonus;
    stored.discount_percent = discount;
    stored.updated_at = opts.now;
    Ok(stored)
}

async fn find_card(
    conn: &mut PgConnection,
    provider: &str,
    vendor_id: Option<&str>,
    number: Option<&str>,
) -> Result<Option<(i64, StoredCard)>> {
    let row = sqlx::query(concat!(
        "SELECT seq, ",
        card_cols!(),
        " FROM cards WHERE provider = $1 AND (vendor_card_id = $2 OR ($2 IS NULL AND number = $3)) \
         ORDER BY seq LIMIT 1"
    ))
    .bind(provider)
    .bind(vendor_id)
    .bind(number)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| db("card.get", e))?;
    match row {
        Some(r) => {
            let seq: i64 = r.try_get("seq").map_err(|e| db("card.get", e))?;
            Ok(Some((seq, raw_card(&r)?.into_stored()?)))
        }
        None => Ok(None),
    }
}

async fn write_card(
    conn: &mut PgConnection,
    seq: Option<i64>,
    card: &StoredCard,
    now: i64,
) -> Result<()> {
    let q = match seq {
        None => sqlx::query(
            "INSERT INTO cards (customer_id, provider, vendor_card_id, number, track, links, \
             installed_apple, installed_google, status, updated_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        ),
        Some(_) => sqlx::query(
            "UPDATE cards SET customer_id = $1, provider = $2, vendor_card_id = $3, number = $4, \
             track = $5, links = $6, installed_apple = $7, installed_google = $8, status = $9, \
             updated_at = $10 WHERE seq = $11",
        ),
    };
    let q = q
        .bind(card.customer_id.as_str().to_owned())
        .bind(card.provider.clone())
        .bind(card.vendor_card_id.as_ref().map(|c| c.as_str().to_owned()))
        .bind(card.number.clone())
        .bind(card.track.clone())
        .bind(serde_json::to_value(&card.links)?)
        .bind(card.installed.apple)
        .bind(card.installed.google)
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

fn card_payload(card: &StoredCard, removed: bool) -> serde_json::Value {
    serde_json::json!({ "card": card, "removed": removed })
}

pub(super) async fn attach_card(
    pool: &PgPool,
    customer: &CustomerId,
    card: &NewCard,
    opts: WriteOpts,
) -> Result<StoredCard> {
    validate_card(card)?;
    let now = to_ns(opts.now)?;
    let mut tx = pool.begin().await.map_err(|e| db("card.attach", e))?;
    if !lock_customer(&mut tx, customer.as_str(), "card.attach").await? {
        return Err(Error::not_found(format!("no customer `{customer}`")));
    }
    let vendor_id = card.vendor_card_id.as_ref().map(CardId::as_str);
    let mut found = find_card(&mut tx, &card.provider, vendor_id, card.number.as_deref()).await?;
    if found.is_none() && vendor_id.is_some() && card.number.is_some() {
        found = find_card(&mut tx, &card.provider, None, card.number.as_deref()).await?;
    }
    let (seq, changed, next) = merge_card(found, customer, card, opts.now)?;
    if !changed {
        return Ok(next);
    }
    write_card(&mut tx, seq, &next, now).await?;
    if opts.echo {
        let payload = card_payload(&next, false);
        enqueue_in(&mut tx, customer.as_str(), OutboxKind::Card, &payload, now).await?;
    }
    tx.commit().await.map_err(|e| db("card.attach", e))?;
    Ok(next)
}

pub(super) async fn update_card(
    pool: &PgPool,
    provider: &str,
    vendor_id: &CardId,
    patch: &CardPatch,
    opts: WriteOpts,
) -> Result<CardUpdated> {
    validate_provider(provider)?;
    validate_patch(patch)?;
    let now = to_ns(opts.now)?;
    let mut tx = pool.begin().await.map_err(|e| db("card.update", e))?;
    // Claim the event id first: a concurrent delivery of the same event waits here and then
    // sees it taken.
    if let Some(event) = &patch.event_id
        && !insert_event(&mut tx, provider, event, now).await?
    {
        return Ok(CardUpdated::Duplicate);
    }
    let Some((_, probe)) = find_card(&mut tx, provider, Some(vendor_id.as_str()), None).await?
    else {
        return Ok(CardUpdated::NotFound); // rolls the event back: a later delivery may apply
    };
    if !lock_customer(&mut tx, probe.customer_id.as_str(), "card.update").await? {
        return Ok(CardUpdated::NotFound);
    }
    // Re-read under the customer's lock.
    let Some((seq, card)) = find_card(&mut tx, provider, Some(vendor_id.as_str()), None).await?
    else {
        return Ok(CardUpdated::NotFound);
    };
    let next = patch_card(&card, patch, opts.now);
    if patch.remove {
        sqlx::query("DELETE FROM cards WHERE seq = $1")
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(|e| db("card.update", e))?;
    } else if next != card {
        write_card(&mut tx, Some(seq), &next, now).await?;
    }
    if opts.echo && (patch.remove || next != card) {
        let payload = card_payload(&next, patch.remove);
        enqueue_in(
            &mut tx,
            next.customer_id.as_str(),
            OutboxKind::Card,
            &payload,
            now,
        )
        .await?;
    }
    tx.commit().await.map_err(|e| db("card.update", e))?;
    Ok(CardUpdated::Applied(next))
}

pub(super) async fn list_cards(pool: &PgPool, customer: &CustomerId) -> Result<Vec<StoredCard>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        card_cols!(),
        " FROM cards WHERE customer_id = $1 ORDER BY seq"
    ))
    .bind(customer.as_str())
    .fetch_all(pool)
    .await
    .map_err(|e| db("card.list", e))?;
    rows.iter().map(|r| raw_card(r)?.into_stored()).collect()
}

async fn insert_event(
    conn: &mut PgConnection,
    provider: &str,
    event: &str,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO inbound_events (provider, event_id, received_at) VALUES ($1, $2, $3) \
         ON CONFLICT (provider, event_id) DO NOTHING",
    )
    .bind(provider)
    .bind(event)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| db("event.record", e))?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn record_event(
    pool: &PgPool,
    provider: &str,
    event: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    validate_provider(provider)?;
    validate_event_id(event)?;
    let now = to_ns(now)?;
    let mut conn = pool.acquire().await.map_err(|e| db("event.record", e))?;
    insert_event(&mut conn, provider, event, now).await
}

/// The lowercased "first name surname" of a row, as indexed by migration 0003 (a query must use
/// the very same expression for PostgreSQL to use the index).
const FULL_NAME_KEY: &str = "lower(btrim(coalesce(name, '') || ' ' || coalesce(surname, '')))";
/// The lowercased "surname first name" of a row, as indexed by migration 0003.
const REVERSED_NAME_KEY: &str = "lower(btrim(coalesce(surname, '') || ' ' || coalesce(name, '')))";

/// [`Store::search_customers`](crate::Store::search_customers): a phone-prefix range or
/// name-prefix ranges on the `text_pattern_ops` indexes of migration 0003 (byte order, so the
/// ranges hold under any collation).
pub(super) async fn search(
    pool: &PgPool,
    q: &crate::model::CustomerSearch,
) -> Result<CustomerPage> {
    use crate::model::SearchPlan;
    let limit = q.page_size()?;
    let plan = q.plan()?;
    let rows = match &plan {
        SearchPlan::Phone { prefix, after } => {
            // Every phone starting with the prefix sorts below prefix + ':' (the byte after '9').
            sqlx::query(concat!(
                "SELECT ",
                customer_cols!(),
                " FROM customers WHERE phone ~>=~ $1 AND phone ~<~ $2 AND phone ~>~ $3 \
                 ORDER BY phone USING ~<~ LIMIT $4"
            ))
            .bind(prefix)
            .bind(format!("{prefix}:"))
            .bind(after)
            .bind(limit + 1)
            .fetch_all(pool)
            .await
        }
        SearchPlan::Name { text, after } => {
            // chr(1114111), the largest code point, sorts after anything that starts with the
            // prefix; `lower` is PostgreSQL's on both sides.
            let sql = format!(
                "SELECT {cols} FROM customers \
                 WHERE (({FULL_NAME_KEY} ~>=~ lower($1) \
                         AND {FULL_NAME_KEY} ~<~ (lower($1) || chr(1114111))) \
                     OR ({REVERSED_NAME_KEY} ~>=~ lower($1) \
                         AND {REVERSED_NAME_KEY} ~<~ (lower($1) || chr(1114111)))) \
                   AND seq > $2 ORDER BY seq LIMIT $3",
                cols = customer_cols!()
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(text)
                .bind(after)
                .bind(limit + 1)
                .fetch_all(pool)
                .await
        }
    }
    .map_err(|e| db("customer.search", e))?;
    let more = rows.len() as i64 > limit;
    let mut customers = Vec::with_capacity(rows.len());
    let mut last_seq = 0_i64;
    for row in rows.iter().take(limit as usize) {
        last_seq = row.try_get("seq").map_err(|e| db("customer.search", e))?;
        customers.push(raw_customer(row)?.into_stored()?);
    }
    let next = match (&plan, customers.last()) {
        (_, None) => None,
        (_, Some(_)) if !more => None,
        (SearchPlan::Phone { .. }, Some(last)) => Some(last.customer.phone.as_str().to_owned()),
        (SearchPlan::Name { .. }, Some(_)) => Some(last_seq.to_string()),
    };
    Ok(CustomerPage { customers, next })
}

/// [`Store::expiring_points`](crate::Store::expiring_points): the open lots burning in
/// `(now, until]`, off the `lots_spending` index, summed by the database (`NUMERIC`).
pub(super) async fn expiring_points(
    pool: &PgPool,
    customer: &CustomerId,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<rust_decimal::Decimal> {
    if until < now {
        return Err(Error::invalid_input("the window ends before it starts"));
    }
    sqlx::query_scalar::<_, rust_decimal::Decimal>(
        "SELECT COALESCE(SUM(remaining), 0) FROM lots WHERE customer_id = $1 AND open \
         AND burns_at > $2 AND burns_at <= $3",
    )
    .bind(customer.as_str())
    .bind(to_ns(now)?)
    .bind(to_ns(until)?)
    .fetch_one(pool)
    .await
    .map_err(|e| db("ledger.expiring_points", e))
}
