//! Enrolment: creating or patching a holder and issuing their cards in the [`State`]. Both a
//! customer upsert and a card issue enrol the holder first, so the two ports share these steps.

use chrono::{DateTime, Utc};
use walletport_core::{
    BalanceUpdate, Card, CardId, Customer, CustomerId, Error, ErrorKind, Fields, InstallLinks,
    Phone, Result, TemplateId,
};

use crate::ledger::Ledger;
use crate::state::{CardEntry, CustomerEntry, State, check_fields};
use crate::{LINK_BASE, MAX_FIELDS, NAME};

/// Enrols a holder for an upsert or a card issue: checks the balance values, creates the customer
/// (with a first card of `template`) or patches the existing one, then applies the balance
/// values. Returns the holder's phone.
pub(crate) fn enrol(
    state: &mut State,
    patch: Customer,
    template: &TemplateId,
    balance: &BalanceUpdate,
    now: DateTime<Utc>,
) -> Result<Phone> {
    Ledger::check_update(balance)?;
    let phone = patch.phone.clone();
    put_customer(state, patch, template, now)?;
    state.apply_balance(&phone, balance)?;
    Ok(phone)
}

/// Creates the customer (with a first card of `template`) or patches the existing one.
fn put_customer(
    state: &mut State,
    patch: Customer,
    template: &TemplateId,
    now: DateTime<Utc>,
) -> Result<()> {
    patch.validate()?;
    check_fields(&patch.extra, MAX_FIELDS as usize)?;
    state.template(template)?;
    if patch.invited_by.as_ref() == Some(&patch.phone) {
        return Err(Error::invalid_input("a customer cannot invite themselves"));
    }
    if let Some(id) = &patch.id
        && let Some(other) = state.customer_by_id(id)
        && other.customer.phone != patch.phone
    {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!("customer id {id} belongs to another customer"),
        ));
    }
    let phone = patch.phone.clone();
    if state.customers.contains_key(&phone) {
        let entry = state.customer_mut(&phone)?;
        merge(&mut entry.customer, patch);
        check_fields(&entry.customer.extra, MAX_FIELDS as usize)?;
        return Ok(());
    }
    let seq = state.seq();
    let mut customer = patch;
    if customer.id.is_none() {
        customer.id = Some(generate_id(state, seq)?);
    }
    customer.provider_ids.remove(NAME);
    state.customers.insert(
        phone.clone(),
        CustomerEntry {
            seq,
            created_at: now,
            customer,
            cards: Vec::new(),
            ledger: Ledger::default(),
        },
    );
    issue(state, &phone, template.clone(), Default::default())?;
    Ok(())
}

/// `memory-<seq>`, made unique against ids callers chose themselves.
fn generate_id(state: &State, seq: u64) -> Result<CustomerId> {
    let mut candidate = CustomerId::new(format!("{NAME}-{seq}"))?;
    let mut n = 1u32;
    while state.customer_by_id(&candidate).is_some() {
        candidate = CustomerId::new(format!("{NAME}-{seq}-{n}"))?;
        n += 1;
    }
    Ok(candidate)
}

/// Applies the set fields of `patch`; `None` fields and absent map keys stay as they are.
fn merge(customer: &mut Customer, patch: Customer) {
    let Customer {
        phone: _,
        id,
        name,
        surname,
        middle_name,
        email,
        birthday,
        extra,
        referral_code,
        invited_by,
        mut provider_ids,
    } = patch;
    let set = |slot: &mut Option<String>, value: Option<String>| {
        if value.is_some() {
            *slot = value;
        }
    };
    if id.is_some() {
        customer.id = id;
    }
    set(&mut customer.name, name);
    set(&mut customer.surname, surname);
    set(&mut customer.middle_name, middle_name);
    set(&mut customer.email, email);
    set(&mut customer.referral_code, referral_code);
    if birthday.is_some() {
        customer.birthday = birthday;
    }
    if invited_by.is_some() {
        customer.invited_by = invited_by;
    }
    customer.extra.extend(extra);
    provider_ids.remove(NAME);
    customer.provider_ids.extend(provider_ids);
}

/// Issues a new card for `owner` with the next card number and deterministic install links.
pub(crate) fn issue(
    state: &mut State,
    owner: &Phone,
    template: TemplateId,
    fields: Fields,
) -> Result<CardId> {
    let number = state.next_card_number;
    state.next_card_number = number
        .checked_add(1)
        .ok_or_else(|| Error::unexpected("memory: card numbers exhausted"))?;
    let id = CardId::new(format!("card-{number}"))?;
    let card = Card {
        id: Some(id.clone()),
        number: Some(number.to_string()),
        barcode: Some(number.to_string()),
        links: InstallLinks {
            apple: Some(format!("{LINK_BASE}/apple/{number}.pkpass")),
            google: Some(format!("{LINK_BASE}/google/{number}")),
            page: Some(format!("{LINK_BASE}/card/{number}")),
            qr: Some(format!("{LINK_BASE}/qr/{number}.png")),
        },
        fields,
        template: Some(template),
        ..Card::default()
    };
    let entry = state.customer_mut(owner)?;
    entry.cards.push(id.clone());
    if entry.cards.len() == 1 {
        entry
            .customer
            .provider_ids
            .insert(NAME.to_owned(), id.to_string());
    }
    state.cards.insert(
        id.clone(),
        CardEntry {
            card,
            owner: owner.clone(),
        },
    );
    Ok(id)
}
