//! Customers, cards and inbound events: the logic of both backends, over the statements of
//! [`CustomerSql`].

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use walletport_core::{CardId, Customer, CustomerId, CustomerKey, Error, ErrorKind, Result, Retry};

use super::customer_sql::{CardKey, CustomerSql, CustomerWrite, Lookup};
use super::{Enqueue, commit_echoed};
use crate::codec::{
    RawCard, RawCustomer, check_fields, customer_payload, merge_card, merge_customer,
    new_customer_id, patch_card, to_ns, validate_card, validate_customer, validate_event_id,
    validate_patch, validate_provider,
};
use crate::model::{
    CardPatch, CardUpdated, CustomerPage, CustomerSearch, ListCustomers, NewCard, Percentages,
    SearchPlan, StoredCard, StoredCustomer, Upserted, WriteOpts,
};
use crate::outbox::OutboxKind as Kind;

/// Decodes a customer row the dialect read.
fn decoded(row: Option<RawCustomer>) -> Result<Option<StoredCustomer>> {
    row.map(RawCustomer::into_stored).transpose()
}

/// The provider's card with this vendor id (or, without one, this number), with its row id.
async fn find_card<D: CustomerSql>(
    conn: &mut D::Conn,
    provider: &str,
    vendor_id: Option<&str>,
    number: Option<&str>,
) -> Result<Option<(i64, StoredCard)>> {
    let key = CardKey {
        provider,
        vendor_id,
        number,
    };
    let row = D::find_card(conn, &key).await?;
    row.map(|r| Ok((r.seq, r.into_stored()?))).transpose()
}

/// The outbox payload of a card change.
fn card_payload(card: &StoredCard, removed: bool) -> serde_json::Value {
    serde_json::json!({ "card": card, "removed": removed })
}

/// The error of an insert that found the new CRM id taken.
fn id_taken(e: Error, id: &CustomerId) -> Error {
    if e.kind() == ErrorKind::AlreadyExists {
        Error::new(
            ErrorKind::AlreadyExists,
            format!("customer id `{id}` is taken"),
        )
        .with_operation("customer.upsert")
    } else {
        e
    }
}

/// The entry bound holds for what is stored, not only for each patch: a patch may not add keys
/// past [`MAX_FIELDS`](crate::codec::MAX_FIELDS). A map that is not growing passes, so a row
/// written before the bound stays editable.
fn check_merged_fields(stored: &Customer, merged: &Customer) -> Result<()> {
    let maps = [
        ("extra", &stored.extra, &merged.extra),
        ("provider_ids", &stored.provider_ids, &merged.provider_ids),
    ];
    for (what, before, after) in maps {
        if after.len() > before.len() {
            check_fields(&format!("{what} (stored and new keys)"), after)?;
        }
    }
    Ok(())
}

/// [`Store::upsert_customer`](crate::Store::upsert_customer) in one write transaction.
pub(crate) async fn upsert<D: CustomerSql>(
    d: &D,
    c: &Customer,
    opts: WriteOpts,
) -> Result<Upserted> {
    const OP: &str = "customer.upsert";
    validate_customer(c)?;
    let now = to_ns(opts.now)?;
    // A concurrent create of the same phone (PostgreSQL) makes our insert do nothing; the next
    // round then finds (and locks) that customer and patches it.
    for _ in 0..3 {
        let mut tx = d.begin(OP).await?;
        let by = Lookup::Phone(c.phone.as_str());
        let existing = decoded(D::locked_customer(&mut tx, by).await?)?;
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
                check_merged_fields(&stored.customer, &merged)?;
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
        let write = CustomerWrite {
            customer: &merged,
            id: &id,
            created,
            now,
        };
        let written = D::write_customer(&mut tx, &write)
            .await
            .map_err(|e| id_taken(e, &id))?;
        if !written {
            continue; // lost the race to create this phone
        }
        let payload = opts.echo.then(|| customer_payload(&merged, created));
        let echo = payload
            .as_ref()
            .map(|p| Enqueue::new(id.as_str(), Kind::Customer, p, now));
        commit_echoed::<D>(tx, OP, echo).await?;
        return Ok(Upserted {
            id,
            created,
            changed: true,
        });
    }
    Err(Error::unexpected("customer upsert kept racing; try again")
        .with_retry(Retry::Temporary { after: None }))
}

/// [`Store::get_customer`](crate::Store::get_customer).
pub(crate) async fn get<D: CustomerSql>(
    d: &D,
    key: &CustomerKey,
) -> Result<Option<StoredCustomer>> {
    decoded(d.get_customer(key).await?)
}

/// Cuts `rows` (read with one row more than `limit`) to a page; `next` makes the cursor of the
/// page's last row when there is a further page.
fn page(
    mut rows: Vec<RawCustomer>,
    limit: i64,
    next: impl FnOnce(i64, &StoredCustomer) -> String,
) -> Result<CustomerPage> {
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let last_seq = rows.last().map(|r| r.seq);
    let customers = rows
        .into_iter()
        .map(RawCustomer::into_stored)
        .collect::<Result<Vec<_>>>()?;
    let next = match (more, last_seq, customers.last()) {
        (true, Some(seq), Some(last)) => Some(next(seq, last)),
        _ => None,
    };
    Ok(CustomerPage { customers, next })
}

/// [`Store::list_customers`](crate::Store::list_customers): one page in creation order.
pub(crate) async fn list<D: CustomerSql>(d: &D, q: &ListCustomers) -> Result<CustomerPage> {
    let limit = q.page_size()?;
    let rows = d.customers_after(q.after_seq()?, limit + 1).await?;
    page(rows, limit, |seq, _| seq.to_string())
}

/// [`Store::search_customers`](crate::Store::search_customers): a phone-prefix range on the
/// unique phone index, or name-prefix ranges on the two name indexes of migration 0003.
pub(crate) async fn search<D: CustomerSql>(d: &D, q: &CustomerSearch) -> Result<CustomerPage> {
    let limit = q.page_size()?;
    let plan = q.plan()?;
    let rows = d.search_customers(&plan, limit + 1).await?;
    page(rows, limit, |seq, c| match &plan {
        SearchPlan::Phone { .. } => c.customer.phone.as_str().to_owned(),
        SearchPlan::Name { .. } => seq.to_string(),
    })
}

/// [`Store::expiring_points`](crate::Store::expiring_points): the open lots burning in
/// `(now, until]`, off the `lots_spending` index.
pub(crate) async fn expiring_points<D: CustomerSql>(
    d: &D,
    customer: &CustomerId,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Decimal> {
    if until < now {
        return Err(Error::invalid_input("the window ends before it starts"));
    }
    d.expiring_points(customer, to_ns(now)?, to_ns(until)?)
        .await
}

/// [`Store::set_percentages`](crate::Store::set_percentages) in one write transaction.
pub(crate) async fn set_percentages<D: CustomerSql>(
    d: &D,
    id: &CustomerId,
    p: Percentages,
    opts: WriteOpts,
) -> Result<StoredCustomer> {
    const OP: &str = "customer.set_percentages";
    if p.bonus.is_none() && p.discount.is_none() {
        return Err(Error::invalid_input("no percentage to set"));
    }
    let now = to_ns(opts.now)?;
    let mut tx = d.begin(OP).await?;
    let mut stored = decoded(D::locked_customer(&mut tx, Lookup::Id(id.as_str())).await?)?
        .ok_or_else(|| Error::not_found(format!("no customer `{id}`")))?;
    let bonus = p.bonus.unwrap_or(stored.bonus_percent);
    let discount = p.discount.unwrap_or(stored.discount_percent);
    if bonus == stored.bonus_percent && discount == stored.discount_percent {
        return Ok(stored);
    }
    stored.bonus_percent = bonus;
    stored.discount_percent = discount;
    stored.updated_at = opts.now;
    D::write_percentages(&mut tx, &stored, now).await?;
    let payload = opts
        .echo
        .then(|| serde_json::json!({ "bonus_percent": bonus, "discount_percent": discount }));
    let echo = payload
        .as_ref()
        .map(|p| Enqueue::new(id.as_str(), Kind::Percentages, p, now));
    commit_echoed::<D>(tx, OP, echo).await?;
    Ok(stored)
}

/// [`Store::attach_card`](crate::Store::attach_card) in one write transaction.
pub(crate) async fn attach_card<D: CustomerSql>(
    d: &D,
    customer: &CustomerId,
    card: &NewCard,
    opts: WriteOpts,
) -> Result<StoredCard> {
    const OP: &str = "card.attach";
    validate_card(card)?;
    let now = to_ns(opts.now)?;
    let mut tx = d.begin(OP).await?;
    if !D::lock_customer(&mut tx, customer.as_str(), OP).await? {
        return Err(Error::not_found(format!("no customer `{customer}`")));
    }
    let vendor_id = card.vendor_card_id.as_ref().map(CardId::as_str);
    let number = card.number.as_deref();
    let mut found = find_card::<D>(&mut tx, &card.provider, vendor_id, number).await?;
    if found.is_none() && vendor_id.is_some() && number.is_some() {
        found = find_card::<D>(&mut tx, &card.provider, None, number).await?;
    }
    let (seq, changed, next) = merge_card(found, customer, card, opts.now)?;
    if !changed {
        return Ok(next);
    }
    D::write_card(&mut tx, seq, &next).await?;
    let payload = opts.echo.then(|| card_payload(&next, false));
    let echo = payload
        .as_ref()
        .map(|p| Enqueue::new(customer.as_str(), Kind::Card, p, now));
    commit_echoed::<D>(tx, OP, echo).await?;
    Ok(next)
}

/// [`Store::update_card`](crate::Store::update_card), deduplicated by the patch's event id in
/// the same transaction.
pub(crate) async fn update_card<D: CustomerSql>(
    d: &D,
    provider: &str,
    vendor_id: &CardId,
    patch: &CardPatch,
    opts: WriteOpts,
) -> Result<CardUpdated> {
    const OP: &str = "card.update";
    validate_provider(provider)?;
    validate_patch(patch)?;
    let now = to_ns(opts.now)?;
    let mut tx = d.begin(OP).await?;
    // Claim the event id first: a concurrent delivery of the same event waits here and then
    // sees it taken. Every early return below rolls the claim back: a later delivery may apply.
    if let Some(event) = &patch.event_id
        && !D::insert_event(&mut tx, provider, event, now).await?
    {
        return Ok(CardUpdated::Duplicate);
    }
    let vendor_id = Some(vendor_id.as_str());
    let Some(mut found) = find_card::<D>(&mut tx, provider, vendor_id, None).await? else {
        return Ok(CardUpdated::NotFound);
    };
    if D::ROW_LOCKS {
        if !D::lock_customer(&mut tx, found.1.customer_id.as_str(), OP).await? {
            return Ok(CardUpdated::NotFound);
        }
        // Re-read under the customer's lock (the card may have changed meanwhile).
        let Some(again) = find_card::<D>(&mut tx, provider, vendor_id, None).await? else {
            return Ok(CardUpdated::NotFound);
        };
        found = again;
    }
    let (seq, card) = found;
    let next = patch_card(&card, patch, opts.now);
    if patch.remove {
        D::delete_card(&mut tx, seq).await?;
    } else if next != card {
        D::write_card(&mut tx, Some(seq), &next).await?;
    }
    let changed = patch.remove || next != card;
    let payload = (opts.echo && changed).then(|| card_payload(&next, patch.remove));
    let echo = payload
        .as_ref()
        .map(|p| Enqueue::new(next.customer_id.as_str(), Kind::Card, p, now));
    commit_echoed::<D>(tx, OP, echo).await?;
    Ok(CardUpdated::Applied(next))
}

/// [`Store::list_cards`](crate::Store::list_cards): oldest first.
pub(crate) async fn list_cards<D: CustomerSql>(
    d: &D,
    customer: &CustomerId,
) -> Result<Vec<StoredCard>> {
    let rows = d.cards_of(customer).await?;
    rows.into_iter().map(RawCard::into_stored).collect()
}

/// [`Store::record_inbound_event`](crate::Store::record_inbound_event): true the first time.
pub(crate) async fn record_event<D: CustomerSql>(
    d: &D,
    provider: &str,
    event: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    validate_provider(provider)?;
    validate_event_id(event)?;
    d.record_event_alone(provider, event, to_ns(now)?).await
}
