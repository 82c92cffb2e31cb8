//! What the tests read back after the gateway acted: a customer's stored state by phone, the
//! dead letters, and waiting (bounded) for something the gateway does in the background.

use std::time::Duration;

use rust_decimal::Decimal;
use walletport_core::{CustomerKey, Phone};
use walletport_store::{
    LedgerEntry, LedgerQuery, OutboxItem, OutboxList, Store, StoredCard, StoredCustomer,
};

/// The stored customer with phone `p`; fails when there is none.
pub async fn stored(store: &dyn Store, p: &Phone) -> StoredCustomer {
    store
        .get_customer(&CustomerKey::Phone(p.clone()))
        .await
        .expect("read")
        .unwrap_or_else(|| panic!("no stored customer {p}"))
}

/// The points of the customer with phone `p` now.
pub async fn balance_of(store: &dyn Store, p: &Phone) -> Decimal {
    let c = stored(store, p).await;
    store
        .balance(&c.id, chrono::Utc::now())
        .await
        .expect("balance")
        .points
}

/// The stored cards of the customer with phone `p`.
pub async fn cards_of(store: &dyn Store, p: &Phone) -> Vec<StoredCard> {
    let c = stored(store, p).await;
    store.list_cards(&c.id).await.expect("cards")
}

/// The newest page of the ledger of the customer with phone `p`.
pub async fn ledger_of(store: &dyn Store, p: &Phone) -> Vec<LedgerEntry> {
    let c = stored(store, p).await;
    let query = LedgerQuery::default();
    store.ledger(&c.id, &query).await.expect("ledger").entries
}

/// The first 100 dead letters.
pub async fn dead_letters(store: &dyn Store) -> Vec<OutboxItem> {
    store
        .list_outbox(OutboxList::Dead, None, 100, chrono::Utc::now())
        .await
        .expect("dead")
}

/// Polls `probe` until it answers `Some` (its value), for at most `within`; fails naming `what`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
