//! One vendor request per customer: the customer's latest state, whatever changed.

use walletport_core::ports::op;
use walletport_core::{
    BalanceUpdate, CustomerId, CustomerKey, Error, ErrorKind, Result, Retry, SetBalance,
    UpsertCustomer,
};
use walletport_store::OutboxKind;

use crate::state::Gateway;

/// Brings the vendor up to date on `customer` with ONE request carrying the current state:
/// points (live ledger balance at the gateway's `now`) and percentages always, the customer's data
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
    let balance = gw.store.balance(customer, gw.now()).await?;
    let (update, not_held) = gw
        .provider
        .balance_fields()
        .reduce(BalanceUpdate::from(balance));
    let cap = gw.provider.capability();
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
    } else if balance_only && cap.balance_set {
        set_balance().await
    } else if cap.customer_upsert {
        let input = UpsertCustomer {
            customer: stored.customer.clone(),
            balance: update,
            template: None,
        };
        gw.provider
            .customers()
            .upsert_customer(input)
            .await
            .map(|_| Some(op::CUSTOMER_UPSERT))
    } else if cap.balance_set && !update.is_empty() {
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
