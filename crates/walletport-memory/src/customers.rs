//! `CustomerPort`: upsert by phone, lookups, paged listing with filters, delete.

use async_trait::async_trait;
use walletport_core::{
    CustomerPort, CustomerRecord, DeleteCustomer, Error, GetCustomer, ListCustomers, Page,
    PageCursor, Result, UpsertCustomer,
};

use crate::MemoryProvider;
use crate::config::MAX_PAGE_SIZE;
use crate::enrolment::enrol;
use crate::state::{CustomerEntry, State};

#[async_trait]
impl CustomerPort for MemoryProvider {
    async fn upsert_customer(&self, input: UpsertCustomer) -> Result<CustomerRecord> {
        let template = self.template_or_default(input.template.as_ref());
        self.write(|state, now| {
            let phone = enrol(state, input.customer, &template, &input.balance, now)?;
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
