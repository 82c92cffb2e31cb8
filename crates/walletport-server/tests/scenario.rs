//! One gateway scenario, every provider: the same merchant day runs through the gateway against
//! the in-memory provider and each vendor's emulator over real HTTP, and must end with the outbox
//! drained, no dead letters, and the vendor holding what the store holds (for every balance field
//! the provider holds).
//!
//! The scenario: customers created through the REST API and by CSV import, credits, percentage
//! changes, a push, the card's install link sent, a campaign (where the provider has campaigns),
//! a card status change (where it has status changes). Passteam runs twice: with the full field mapping and with a minimal one
//! (phone, name and balance only), the template most merchants start from.

mod support;

use support::vendors::{Vendor, every_provider, vendor};
use support::{Db, TestDb, gateway_config};
use walletport::ProviderConfig;
use walletport_server::scenario::merchant_day;

every_provider!(run);

/// The scenario on a fresh SQLite database against `which`.
async fn run(which: Vendor) {
    let db = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let store = db.open().await;
    let (_emulator, config) = vendor(which).await;
    let provider = walletport::connect(&config).expect("connect");
    let mut gateway = gateway_config(support::fast_outbox());
    if let ProviderConfig::Passteam(c) = &config {
        gateway.hooks.passteam.provider = Some(c.clone());
    }
    let report = merchant_day(provider, store.clone(), gateway).await;
    assert!(report.vendor_requests > 0, "{which:?}: {report:?}");
    if matches!(which, Vendor::Skycore | Vendor::SkycoreByCustomerId) {
        // Skycore hands out a pass's install page only when it generates the pass: the outbox
        // records it, so the merchant finds it on the stored card.
        let page = store
            .list_customers(&walletport_store::ListCustomers::default())
            .await
            .expect("customers");
        assert_eq!(page.customers.len(), 6);
        for customer in page.customers {
            let cards = store.list_cards(&customer.id).await.expect("cards");
            assert!(
                cards
                    .iter()
                    .any(|c| c.provider == "skycore" && c.links.page.is_some()),
                "{which:?}: {} has no recorded install page: {cards:?}",
                customer.customer.phone
            );
        }
    }
    store.close().await;
}
