//! Customers, cards and inbound events on SQLite.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row as _;
use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};
use walletport_core::{CardId, Customer, CustomerId, CustomerKey, Error, ErrorKind, Result};

use super::{Db, begin};
use crate::codec::{
    RawCard, RawCustomer, customer_payload, fields_to_json, merge_card, merge_customer,
    new_customer_id, parse_decimal, parse_json, patch_card, status_str, to_ns, validate_card,
    validate_customer, validate_event_id, validate_patch, validate_provider,
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

/// Decodes a customers row selected with `customer_cols!`.
fn raw_customer(row: &SqliteRow) -> Result<RawCustomer> {
    let g = |e| db("customer.decode", e);
    let birthday: Option<String> = row.try_get("birthday").map_err(g)?;
    let birthday = match birthday {
        Some(b) => Some(
            NaiveDate::parse_from_str(&b, "%Y-%m-%d")
                .map_err(|_| Error::unexpected("stored birthday is invalid"))?,
        ),
        None => None,
    };
    let extra: String = row.try_get("extra").map_err(g)?;
    let provider_ids: String = row.try_get("provider_ids").map_err(g)?;
    let bonus: String = row.try_get("bonus_percent").map_err(g)?;
    let discount: String = row.try_get("discount_percent").map_err(g)?;
    Ok(RawCustomer {
        id: row.try_get("id").map_err(g)?,
        phone: row.try_get("phone").map_err(g)?,
        name: row.try_get("name").map_err(g)?,
        surname: row.try_get("surname").map_err(g)?,
        middle_name: row.try_get("middle_name").map_err(g)?,
        email: row.try_get("email").map_err(g)?,
        birthday,
        extra: parse_json(&extra)?,
        provider_ids: parse_json(&provider_ids)?,
        referral_code: row.try_get("referral_code").map_err(g)?,
        invited_by: row.try_get("invited_by").map_err(g)?,
        bonus_percent: parse_decimal(&bonus)?,
        discount_percent: parse_decimal(&discount)?,
        created_at: row.try_get("created_at").map_err(g)?,
        updated_at: row.try_get("updated_at").map_err(g)?,
    })
}

/// Decodes a cards row selected with `card_cols!`.
fn raw_card(row: &SqliteRow) -> Result<RawCard> {
    let g = |e| db("card.decode", e);
    let links: String = row.try_get("links").map_err(g)?;
    Ok(RawCard {
        customer_id: row.try_get("customer_id").map_err(g)?,
        provider: row.try_get("provider").map_err(g)?,
        vendor_card_id: row.try_get("vendor_card_id").map_err(g)?,
        number: row.try_get("number").map_err(g)?,
        track: row.try_get("track").map_err(g)?,
        links: parse_json(&links)?,
        installed_apple: row.try_get("installed_apple").map_err(g)?,
        installed_google: row.try_get("installed_google").map_err(g)?,
        status: row.try_get("status").map_err(g)?,
        created_at: row.try_get("created_at").map_err(g)?,
        updated_at: row.try_get("updated_at").map_err(g)?,
    })
}

/// The customer with this phone, read on the caller's connection.
async fn by_phone(conn: &mut SqliteConnection, phone: &str) -> Result<Option<StoredCustomer>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        customer_cols!(),
        " FROM customers WHERE phone = ?"
    ))
    .bind(phone)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| db("customer.get", e))?;
    row.map(|r| raw_customer(&r)?.into_stored()).transpose()
}

/// The customer with this CRM id, read on the caller's connection.
pub(super) async fn by_id(
    conn: &mut SqliteConnection,
    id: &CustomerId,
) -> Result<Option<StoredCustomer>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        customer_cols!(),
        " FROM customers WHERE id = ?"
    ))
    .bind(id.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| db("customer.get", e))?;
    row.map(|r| raw_customer(&r)?.into_stored()).transpose()
}

/// Inserts an outbox item inside the caller's transaction.
pub(super) async fn enqueue_in(
    conn: &mut SqliteConnection,
    customer: &str,
    kind: OutboxKind,
    payload: &serde_json::Value,
    now: i64,
) -> Result<i64> {
    let done = sqlx::query(
        "INSERT INTO outbox (customer_id, kind, payload, created_at, next_attempt_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(customer)
    .bind(kind.as_str())
    .bind(payload.to_string())
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| db("outbox.enqueue", e))?;
    Ok(done.last_insert_rowid())
}

/// Fields as the JSON TEXT the columns hold.
fn json_text(f: &walletport_core::Fields) -> String {
    fields_to_json(f).to_string()
}

/// [`Store::upsert_customer`](crate::Store::upsert_customer) in one write transaction.
pub(super) async fn upsert(store: &Db, c: &Customer, opts: WriteOpts) -> Result<Upserted> {
    validate_customer(c)?;
    let now = to_ns(opts.now)?;
    let mut tx = begin(store, "customer.upsert").await?;
    let existing = by_phone(&mut tx, c.phone.as_str()).await?;
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
    let birthday = merged.birthday.map(|d| d.format("%Y-%m-%d").to_string());
    let q = if created {
        sqlx::query(
            "INSERT INTO customers (name, surname, middle_name, email, birthday, extra, \
             provider_ids, referral_code, invited_by, updated_at, id, phone, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
    } else {
        sqlx::query(
            "UPDATE customers SET name = ?, surname = ?, middle_name = ?, email = ?, \
             birthday = ?, extra = ?, provider_ids = ?, referral_code = ?, invited_by = ?, \
             updated_at = ? WHERE id = ? AND phone = ?",
        )
    };
    let q = q
        .bind(merged.name.clone())
        .bind(merged.surname.clone())
        .bind(merged.middle_name.clone())
        .bind(merged.email.clone())
        .bind(birthday)
        .bind(json_text(&merged.extra))
        .bind(json_text(&merged.provider_ids))
        .bind(merged.referral_code.clone())
        .bind(merged.invited_by.as_ref().map(|p| p.as_str().to_owned()))
        .bind(now)
        .bind(id.as_str().to_owned())
        .bind(merged.phone.as_str().to_owned());
    let q = if created { q.bind(now) } else { q };
    q.execute(&mut *tx).await.map_err(|e| {
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
    if opts.echo {
        enqueue_in(
            &mut tx,
            id.as_str(),
            OutboxKind::Customer,
            &customer_payload(&merged, created),
            now,
        )
        .await?;
    }
    tx.commit().await.map_err(|e| db("customer.upsert", e))?;
    Ok(Upserted {
        id,
        created,
        changed: true,
    })
}

/// [`Store::get_customer`](crate::Store::get_customer): by phone, id, or a card's id or number.
pub(super) async fn get(pool: &SqlitePool, key: &CustomerKey) -> Result<Option<StoredCustomer>> {
    let mut conn = pool.acquire().await.map_err(|e| db("customer.get", e))?;
    match key {
        CustomerKey::Phone(p) => by_phone(&mut conn, p.as_str()).await,
        CustomerKey::Id(id) => by_id(&mut conn, id).await,
        CustomerKey::Card(card) => {
            let row = sqlx::query(concat!(
                "SELECT ",
                customer_cols!(),
                " FROM customers WHERE id = (SELECT customer_id FROM cards \
                 WHERE vendor_card_id = ?1 OR number = ?1 ORDER BY seq LIMIT 1)"
            ))
            .bind(card.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| db("customer.get", e))?;
            row.map(|r| raw_customer(&r)?.into_stored()).transpose()
        }
    }
}

/// [`Store::list_customers`](crate::Store::list_customers): one page in creation order.
pub(super) async fn list(pool: &SqlitePool, q: &ListCustomers) -> Result<CustomerPage> {
    let limit = q.page_size()?;
    let after = q.after_seq()?;
    let rows = sqlx::query(concat!(
        "SELECT ",
        customer_cols!(),
        " FROM customers WHERE seq > ? ORDER BY seq LIMIT ?"
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

/// [`Store::set_percentages`](crate::Store::set_percentages) in one write transaction.
pub(super) async fn set_percentages(
    store: &Db,
    id: &CustomerId,
    p: Percentages,
    opts: WriteOpts,
) -> Result<StoredCustomer> {
    if p.bonus.is_none() && p.discount.is_none() {
        return Err(Error::invalid_input("no percentage to set"));
    }
    let now = to_ns(opts.now)?;
    let mut tx = begin(store, "customer.set_percentages").await?;
    let mut stored = by_id(&mut tx, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("no customer `{id}`")))?;
    let bonus = p.bonus.unwrap_or(stored.bonus_percent);
    let discount = p.discount.unwrap_or(stored.discount_percent);
    if bonus == stored.bonus_percent && discount == stored.discount_percent {
        return Ok(stored);
    }
    sqlx::query(
        "UPDATE customers SET bonus_percent = ?, discount_percent = ?, updated_at = ? WHERE id = ?",
    )
    .bind(bonus.value().to_string())
    .bind(discount.value().to_string())
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

/// The provider's card with this vendor id (or, without one, this number), with its row id.
async fn find_card(
    conn: &mut SqliteConnection,
    provider: &str,
    vendor_id: Option<&str>,
    number: Option<&str>,
) -> Result<Option<(i64, StoredCard)>> {
    let row = sqlx::query(concat!(
        "SELECT seq, ",
        card_cols!(),
        " FROM cards WHERE provider = ?1 AND (vendor_card_id = ?2 OR (?2 IS NULL AND number = ?3)) \
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

/// Inserts the card (`seq` `None`) or updates the row `seq`.
async fn write_card(
    conn: &mut SqliteConnection,
    seq: Option<i64>,
    card: &StoredCard,
    now: i64,
) -> Result<()> {
    let q = match seq {
        None => sqlx::query(
            "INSERT INTO cards (customer_id, provider, vendor_card_id, number, track, links, \
             installed_apple, installed_google, status, updated_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ),
        Some(_) => sqlx::query(
            "UPDATE cards SET customer_id = ?, provider = ?, vendor_card_id = ?, number = ?, \
             track = ?, links = ?, installed_apple = ?, installed_google = ?, status = ?, \
             updated_at = ? WHERE seq = ?",
        ),
    };
    let links = serde_json::to_string(&card.links)?;
    q.bind(card.customer_id.as_str())
        .bind(&card.provider)
        .bind(card.vendor_card_id.as_ref().map(|c| c.as_str().to_owned()))
        .bind(&card.number)
        .bind(&card.track)
        .bind(links)
        .bind(card.installed.apple)
        .bind(card.installed.google)
        .bind(status_str(card.status))
        .bind(now)
        .bind(seq.unwrap_or(now))
        .execute(&mut *conn)
        .await
        .map_err(|e| db("card.write", e))?;
    Ok(())
}

/// The outbox payload of a card change.
fn card_payload(card: &StoredCard, removed: bool) -> serde_json::Value {
    serde_json::json!({ "card": card, "removed": removed })
}

/// [`Store::attach_card`](crate::Store::attach_card) in one write transaction.
pub(super) async fn attach_card(
    store: &Db,
    customer: &CustomerId,
    card: &NewCard,
    opts: WriteOpts,
) -> Result<StoredCard> {
    validate_card(card)?;
    let now = to_ns(opts.now)?;
    let mut tx = begin(store, "card.attach").await?;
    if by_id(&mut tx, customer).await?.is_none() {
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
        enqueue_in(
            &mut tx,
            customer.as_str(),
            OutboxKind::Card,
            &card_payload(&next, false),
            now,
        )
        .await?;
    }
    tx.commit().await.map_err(|e| db("card.attach", e))?;
    Ok(next)
}

/// [`Store::update_card`](crate::Store::update_card), deduplicated by the patch's event id.
pub(super) async fn update_card(
    store: &Db,
    provider: &str,
    vendor_id: &CardId,
    patch: &CardPatch,
    opts: WriteOpts,
) -> Result<CardUpdated> {
    validate_provider(provider)?;
    validate_patch(patch)?;
    let now = to_ns(opts.now)?;
    let mut tx = begin(store, "card.update").await?;
    if let Some(event) = &patch.event_id {
        let seen = sqlx::query("SELECT 1 FROM inbound_events WHERE provider = ? AND event_id = ?")
            .bind(provider)
            .bind(event)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db("card.update", e))?;
        if seen.is_some() {
            return Ok(CardUpdated::Duplicate);
        }
    }
    let Some((seq, card)) = find_card(&mut tx, provider, Some(vendor_id.as_str()), None).await?
    else {
        return Ok(CardUpdated::NotFound);
    };
    let next = patch_card(&card, patch, opts.now);
    if patch.remove {
        sqlx::query("DELETE FROM cards WHERE seq = ?")
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(|e| db("card.update", e))?;
    } else if next != card {
        write_card(&mut tx, Some(seq), &next, now).await?;
    }
    if let Some(event) = &patch.event_id {
        insert_event(&mut tx, provider, event, now).await?;
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

/// [`Store::list_cards`](crate::Store::list_cards): oldest first.
pub(super) async fn list_cards(
    pool: &SqlitePool,
    customer: &CustomerId,
) -> Result<Vec<StoredCard>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        card_cols!(),
        " FROM cards WHERE customer_id = ? ORDER BY seq"
    ))
    .bind(customer.as_str())
    .fetch_all(pool)
    .await
    .map_err(|e| db("card.list", e))?;
    rows.iter().map(|r| raw_card(r)?.into_stored()).collect()
}

/// Records an inbound event id on the caller's connection; true the first time only.
async fn insert_event(
    conn: &mut SqliteConnection,
    provider: &str,
    event: &str,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO inbound_events (provider, event_id, received_at) VALUES (?, ?, ?) \
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

/// [`Store::record_inbound_event`](crate::Store::record_inbound_event) in one write transaction.
pub(super) async fn record_event(
    store: &Db,
    provider: &str,
    event: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    validate_provider(provider)?;
    validate_event_id(event)?;
    let now = to_ns(now)?;
    let _turn = store.turn().await;
    let mut conn = store
        .pool
        .acquire()
        .await
        .map_err(|e| db("event.record", e))?;
    insert_event(&mut conn, provider, event, now).await
}

/// The lowercased "first name surname" of a row, as indexed by migration 0003 (a query must use
/// the very same expression for SQLite to use the index).
const FULL_NAME_KEY: &str = "lower(trim(coalesce(name, '') || ' ' || coalesce(surname, '')))";
/// The lowercased "surname first name" of a row, as indexed by migration 0003.
const REVERSED_NAME_KEY: &str = "lower(trim(coalesce(surname, '') || ' ' || coalesce(name, '')))";

/// [`Store::search_customers`](crate::Store::search_customers): a phone-prefix range on the
/// unique phone index, or name-prefix ranges on the two name indexes of migration 0003.
pub(super) async fn search(
    pool: &SqlitePool,
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
                " FROM customers WHERE phone >= ?1 AND phone < ?2 AND phone > ?3 \
                 ORDER BY phone LIMIT ?4"
            ))
            .bind(prefix)
            .bind(format!("{prefix}:"))
            .bind(after)
            .bind(limit + 1)
            .fetch_all(pool)
            .await
        }
        SearchPlan::Name { text, after } => {
            // char(1114111), the largest code point, sorts after anything that starts with the
            // prefix; `lower` is SQLite's on both sides. `+seq` keeps the planner off a walk of
            // the whole table in seq order: it must take the two name indexes (a multi-index OR)
            // and sort only the matches.
            let sql = format!(
                "SELECT {cols} FROM customers \
                 WHERE (({FULL_NAME_KEY} >= lower(?1) \
                         AND {FULL_NAME_KEY} < (lower(?1) || char(1114111))) \
                     OR ({REVERSED_NAME_KEY} >= lower(?1) \
                         AND {REVERSED_NAME_KEY} < (lower(?1) || char(1114111)))) \
                   AND +seq > ?2 ORDER BY +seq LIMIT ?3",
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
/// `(now, until]`, off the `lots_spending` index, summed exactly in Rust (amounts are text).
pub(super) async fn expiring_points(
    pool: &SqlitePool,
    customer: &CustomerId,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<rust_decimal::Decimal> {
    const OP: &str = "ledger.expiring_points";
    if until < now {
        return Err(Error::invalid_input("the window ends before it starts"));
    }
    let rows = sqlx::query(
        "SELECT remaining FROM lots WHERE customer_id = ? AND open = 1 \
         AND burns_at > ? AND burns_at <= ?",
    )
    .bind(customer.as_str())
    .bind(to_ns(now)?)
    .bind(to_ns(until)?)
    .fetch_all(pool)
    .await
    .map_err(|e| db(OP, e))?;
    rows.iter()
        .try_fold(rust_decimal::Decimal::ZERO, |sum, row| {
            let text: String = row.try_get("remaining").map_err(|e| db(OP, e))?;
            sum.checked_add(crate::codec::parse_decimal(&text)?)
                .ok_or_else(|| Error::unexpected("expiring points overflow the decimal range"))
        })
}
