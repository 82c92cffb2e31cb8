//! Conveniences over [`Provider`]: one-liners for common calls and a stream over all pages.

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use crate::domain::{Balance, CustomerRecord};
use crate::error::Result;
use crate::phone::Phone;
use crate::ports::*;

/// Shortcuts every [`Provider`] gets for free.
#[async_trait]
pub trait ProviderExt: Provider {
    /// Finds a customer by phone with all details.
    async fn customer_by_phone(&self, phone: &Phone) -> Result<CustomerRecord> {
        self.customers()
            .get_customer(GetCustomer::new(phone.clone()))
            .await
    }

    /// Reads a balance by phone.
    async fn balance_of(&self, phone: &Phone) -> Result<Balance> {
        self.balances()
            .get_balance(GetBalance {
                customer: phone.clone().into(),
            })
            .await
    }

    /// Walks every page of a listing, starting at `input.cursor`, as a stream of customers.
    ///
    /// Stops at the first error, which is yielded as the last item.
    fn all_customers(&self, input: ListCustomers) -> BoxStream<'_, Result<CustomerRecord>>
    where
        Self: Sized,
    {
        all_customers(self, input)
    }
}

impl<P: Provider + ?Sized> ProviderExt for P {}

/// [`ProviderExt::all_customers`] for `dyn Provider`.
pub fn all_customers<P: Provider + ?Sized>(
    provider: &P,
    input: ListCustomers,
) -> BoxStream<'_, Result<CustomerRecord>> {
    enum State {
        Next(ListCustomers),
        Done,
    }
    stream::unfold(State::Next(input), move |state| async move {
        let State::Next(input) = state else {
            return None;
        };
        match provider.customers().list_customers(input.clone()).await {
            Ok(page) => {
                let next = match page.next {
                    Some(cursor) if !page.items.is_empty() => State::Next(ListCustomers {
                        cursor: Some(cursor),
                        ..input
                    }),
                    _ => State::Done,
                };
                Some((stream::iter(page.items.into_iter().map(Ok)).boxed(), next))
            }
            Err(e) => Some((stream::iter([Err(e)]).boxed(), State::Done)),
        }
    })
    .flatten()
    .boxed()
}
