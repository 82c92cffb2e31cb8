//! `CustomerPort`: upsert by phone, lookups, paged listing with filters, delete.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use walletport_core::{
    Customer, CustomerId, CustomerPort, CustomerRecord, DeleteCustomer, Error, ErrorKind,
    GetCustomer, ListCustomers, Page, PageCursor, Result, TemplateId, UpsertCustomer,
};

use crate::cards::issue;
use crate::config::MAX_PAGE_SIZE;
use crate::ledger::Ledger;
use crate::state::{CustomerEntry, State, check_fields};
use crate::{MAX_FIELDS, MemoryProvider, NAME};

#[async_trait]
impl CustomerPort for MemoryProvider {
    async fn upsert_customer(&self, input: UpsertCustomer) -> Result<CustomerRecord> {
        let template = input
            .template
            .clone()
            .unwrap_or_else(|| self.default_template.clone());
        self.write(|state, now| {
            Ledger::check_update(&input.balance)?;
            let phone = input.customer.phone.clone();
            put_customer(state, input.customer, &template, now)?;
            if !input.balance.is_empty() {
                let seq = state.seq();
                state
                    .customer_mut(&phone)?
                    .ledger
                    .apply(&input.balance, seq);
            }
            state.record(state.customer(&phone)?, now, true)
        })
    }

    async fn get_customer(&self, input: GetCustomer) -> Result<CustomerRecord> {
        self.read(|state, now| {
            let phone = state.resolve(&input.key)?;
            state.record(state.customer(&phone)?, now, input.with_referrals)
        })
    }

    async fn list_customers(&self, input: ListCustomers) -> Result<Page<CustomerRecord>> {
        let size = input.page_size.unwrap_or(self.page_size);
        if size == 0 {
            return Err(Error::invalid_input("page size must be at least 1"));
        }
        let size = size.min(MAX_PAGE_SIZE) as usize;
        let after = parse_cursor(input.cursor.as_ref())?;
        self.read(|state, now| {
            let mut matching: Vec<&CustomerEntry> = state
                .customers
                .values()
                .filter(|e| matches_filters(state, e, &input))
                .collect();
            matching.sort_by_key(|e| e.seq);
            let total = matching.len() as u64;
            let mut rest = matching.into_iter().filter(|e| e.seq > after).peekable();
            let mut items = Vec::with_capacity(size);
            let mut last = None;
            while items.len() < size {
                let Some(entry) = rest.next() else { break };
                last = Some(entry.seq);
                items.push(state.record(entry, now, false)?);
            }
            let next = match (rest.peek(), last) {
                (Some(_), Some(seq)) => Some(PageCursor(seq.to_string())),
                _ => None,
            };
            Ok(Page {
                items,
                next,
                total: Some(total),
            })
        })
    }

    async fn delete_customer(&self, input: DeleteCustomer) -> Result<()> {
        self.write(|state, _| {
            let phone = state.resolve(&input.key)?;
            state.remove_customer(&phone)
        })
    }
}

/// The cursor is the registration sequence number of the last customer returned, so pages stay
/// correct while customers are added or deleted between calls.
fn parse_cursor(cursor: Option<&PageCursor>) -> Result<u64> {
    match cursor {
        None => Ok(0),
        Some(PageCursor(text)) => text
            .parse()
            .map_err(|_| Error::invalid_input("invalid page cursor")),
    }
}

fn matches_filters(state: &State, entry: &CustomerEntry, input: &ListCustomers) -> bool {
    input
        .registered_from
        .is_none_or(|from| entry.created_at.date_naive() >= from)
        && input
            .registered_to
            .is_none_or(|to| entry.created_at.naive_utc() <= to)
        && input
            .installed
            .is_none_or(|want| state.installed(entry) == want)
}

/// Creates the customer (with a first card of `template`) or patches the existing one.
pub(crate) fn put_customer(
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
