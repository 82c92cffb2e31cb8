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
/// too when it (or a card) changed.
///
/// A balance-only change uses `set_balance` where the vendor has it (the lighter call); anything
/// else, or a vendor without `set_balance`, uses the upsert by phone that carries the balance
/// along. Returns the operation used.
pub(crate) async fn deliver(
    gw: &Gateway,
    customer: &CustomerId,
    kinds: &[OutboxKind],
) -> Result<&'static str> {
    let stored = gw
        .store
        .get_customer(&CustomerKey::Id(customer.clone()))
        .await?
        .ok_or_else(|| {
            Error::not_found(format!("customer {customer} is no longer in the store"))
                .with_retry(Retry::Permanent)
        })?;
    let balance = gw.store.balance(customer, gw.now()).await?;
    let update = BalanceUpdate::from(balance);
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
            .map(|_| op::BALANCE_SET)
    };
    if balance_only && cap.balance_set {
        return set_balance().await;
    }
    if cap.customer_upsert {
        let input = UpsertCustomer {
            customer: stored.customer.clone(),
            balance: update,
            template: None,
        };
        return gw
            .provider
            .customers()
            .upsert_customer(input)
            .await
            .map(|_| op::CUSTOMER_UPSERT);
    }
    if cap.balance_set {
        return set_balance().await;
    }
    Err(Error::new(
        ErrorKind::Unsupported,
        "the provider can neither upsert customers nor set balances; nothing to sync with",
    ))
}
