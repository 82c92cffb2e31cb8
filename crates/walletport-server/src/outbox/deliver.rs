//! One vendor request per customer: the customer's latest state, whatever changed.

use rust_decimal::Decimal;
use walletport_core::ports::op;
use walletport_core::{
    Balance, BalanceUpdate, Card, CustomerId, CustomerKey, Error, ErrorKind, Result, Retry,
    SetBalance, UpsertCustomer,
};
use walletport_store::{OutboxKind, StoredCard, WriteOpts};

use crate::state::Gateway;

/// Brings the vendor up to date on `customer` with ONE request carrying the current state:
/// points (live ledger balance at the gateway's `now`, at least 0: see [`vendor_view`]) and
/// percentages always, the customer's data
/// too when it (or a card) changed — each reduced to the balance fields the provider holds
/// ([`walletport_core::Provider::balance_fields`]); the store keeps the rest, and every value
/// left out is counted in `walletport_vendor_fields_not_held_total`.
///
/// A balance-only change uses `set_balance` where the vendor has it (the lighter call); anything
/// else, or a vendor without `set_balance`, uses the upsert by phone that carries the balance
/// along. Returns the operation used, or `None` when there was nothing the vendor can hold (a
/// balance-only change of fields it does not show): the items are done without a request.
pub(crate) async fn deliver(
    gw: &Gateway,
    customer: &CustomerId,
    kinds: &[OutboxKind],
) -> Result<Option<&'static str>> {
    let stored = gw
        .store
        .get_customer(&CustomerKey::Id(customer.clone()))
        .await?
        .ok_or_else(|| {
            Error::not_found(format!("customer {customer} is no longer in the store"))
                .with_retry(Retry::Permanent)
        })?;
    let balance = vendor_view(gw.store.balance(customer, gw.now()).await?);
    let (update, not_held) = gw
        .provider
        .balance_fields()
        .reduce(BalanceUpdate::from(balance));
    let cap = gw.provider.capability();
    // `set_balance` addresses the customer by phone; a provider that cannot find customers by
    // phone (Skycore keyed by customer id) gets the upsert, which carries the balance along.
    let set_balance_by_phone = cap.balance_set && cap.customer_get_by_phone;
    let balance_only = kinds
        .iter()
        .all(|k| matches!(k, OutboxKind::Balance | OutboxKind::Percentages));
    let set_balance = || async {
        gw.provider
            .balances()
            .set_balance(SetBalance {
                customer: CustomerKey::Phone(stored.customer.phone.clone()),
                update,
            })
            .await
            .map(|_| Some(op::BALANCE_SET))
    };
    let result = if balance_only && update.is_empty() {
        Ok(None)
    } else if balance_only && set_balance_by_phone {
        set_balance().await
    } else if cap.customer_upsert {
        // The store records the vendor's cards from upsert answers: none of this provider yet
        // means the vendor most likely has no record (a new customer, or a resync to a new
        // vendor), and an adapter may then create first and save a request.
        let known = gw.store.list_cards(customer).await?;
        let provider = gw.provider.info().name;
        let input = UpsertCustomer {
            customer: stored.customer.clone(),
            balance: update,
            template: None,
            likely_new: !known.iter().any(|c| c.provider == provider),
        };
        match gw.provider.customers().upsert_customer(input).await {
            Ok(record) => {
                record_new_cards(gw, customer, &known, &record.cards).await;
                Ok(Some(op::CUSTOMER_UPSERT))
            }
            Err(e) => Err(e),
        }
    } else if set_balance_by_phone && !update.is_empty() {
        set_balance().await
    } else {
        Err(Error::new(
            ErrorKind::Unsupported,
            "the provider can neither upsert customers nor set the balance fields it holds; nothing to sync with",
        )
        .with_retry(Retry::Permanent))
    };
    if result.is_ok() {
        for field in not_held {
            gw.metrics.field_not_held(field);
        }
    }
    result
}

/// The balance as a vendor card shows it: a negative balance (the reversal of a credit whose
/// points were already spent) is shown as 0, because vendors hold non-negative points; the debt
/// stays in the store and later credits pay it off first.
pub(crate) fn vendor_view(mut balance: Balance) -> Balance {
    balance.points = balance.points.max(Decimal::ZERO);
    balance
}

/// Records the cards an upsert answered with that the store does not know yet (no echo: the
/// vendor made them), so the gateway can name them by id later. The delivery stands whatever
/// this does: a failure is logged, and the next delivery tries again.
async fn record_new_cards(
    gw: &Gateway,
    customer: &CustomerId,
    known: &[StoredCard],
    cards: &[Card],
) {
    let provider = gw.provider.info().name;
    let new: Vec<Card> = cards
        .iter()
        .filter(|card| {
            !known.iter().any(|k| {
                k.provider == provider
                    && ((card.id.is_some() && k.vendor_card_id == card.id)
                        || (card.number.is_some() && k.number == card.number))
            })
        })
        .cloned()
        .collect();
    if new.is_empty() {
        return;
    }
    let opts = WriteOpts::at(gw.now()).no_echo();
    if let Err(e) = gw.record_cards(customer, &new, opts).await {
        tracing::warn!(customer = %customer, error = %e, "recording the vendor's cards failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendors_are_shown_no_debt() {
        let with = |points: i64| Balance {
            points: Decimal::from(points),
            ..Balance::default()
        };
        assert_eq!(vendor_view(with(-40)).points, Decimal::ZERO);
        assert_eq!(vendor_view(with(0)).points, Decimal::ZERO);
        assert_eq!(vendor_view(with(25)).points, Decimal::from(25));
    }
}
