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

use support::{Db, TestDb, gateway_config};
use walletport::ProviderConfig;
use walletport_sandbox::RunningServer;
use walletport_sandbox::passquare::{PassquareEmulator, PassquareEmulatorConfig};
use walletport_sandbox::passteam::{PassteamEmulator, PassteamEmulatorConfig};
use walletport_sandbox::skycore::{SkycoreEmulator, SkycoreEmulatorConfig};
use walletport_server::scenario::merchant_day;

/// The providers the scenario runs on.
#[derive(Debug, Clone, Copy)]
enum Vendor {
    Memory,
    Passquare,
    PassteamFull,
    PassteamMinimal,
    Skycore,
    SkycoreByCustomerId,
}

macro_rules! every_provider {
    ($($name:ident => $vendor:expr),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                run($vendor).await;
            }
        )*
    };
}

every_provider!(
    memory => Vendor::Memory,
    passquare => Vendor::Passquare,
    passteam_full_mapping => Vendor::PassteamFull,
    passteam_minimal_mapping => Vendor::PassteamMinimal,
    skycore => Vendor::Skycore,
    skycore_keyed_by_customer_id => Vendor::SkycoreByCustomerId,
);

const PASSTEAM_TEMPLATE: &str = "5e424c181dbf0d537c8b4569";

/// The vendor's emulator (kept running for the test) and the provider configuration a merchant
/// would write for it.
async fn vendor(which: Vendor) -> (Option<RunningServer>, ProviderConfig) {
    let local = "127.0.0.1:0".parse().expect("addr");
    let (server, toml) = match which {
        Vendor::Memory => (None, "kind = \"memory\"\n".to_owned()),
        Vendor::Passquare => {
            let config = PassquareEmulatorConfig::unlimited();
            let key = config.app_key.clone();
            let (server, _) = PassquareEmulator::spawn(config, local)
                .await
                .expect("passquare emulator");
            let toml = format!(
                "kind = \"passquare\"\nbase_url = \"{}\"\napp_key = \"{key}\"\nplan = \"1000/s\"\n",
                server.base_url()
            );
            (Some(server), toml)
        }
        Vendor::PassteamFull | Vendor::PassteamMinimal => {
            let (server, _) = PassteamEmulator::spawn(PassteamEmulatorConfig::default(), local)
                .await
                .expect("passteam emulator");
            let fields = if matches!(which, Vendor::PassteamFull) {
                "phone = \"PHONE\"\nname = \"CLIENT_NAME\"\nsurname = \"SURNAME\"\n\
                 birthday = \"BIRTHDAY\"\nemail = \"EMAIL\"\nbalance = \"BONUS\"\n\
                 bonus = \"PERCENT\"\ndiscount = \"DISCOUNT\"\ncard_number = \"NUMBERCARD\"\n"
            } else {
                "phone = \"PHONE\"\nname = \"CLIENT_NAME\"\nbalance = \"BONUS\"\n"
            };
            let toml = format!(
                "kind = \"passteam\"\nbase_url = \"{}\"\ntoken = \"sandbox-token\"\n\
                 template_id = \"{PASSTEAM_TEMPLATE}\"\n\n[fields]\n{fields}",
                server.base_url()
            );
            (Some(server), toml)
        }
        Vendor::Skycore | Vendor::SkycoreByCustomerId => {
            let config = SkycoreEmulatorConfig::default();
            let key = config.api_key.clone();
            let (server, _) = SkycoreEmulator::spawn(config, local)
                .await
                .expect("skycore emulator");
            let toml = format!(
                "kind = \"skycore\"\nendpoint = \"{}\"\napi_key = \"{key}\"\n\
                 template_id = \"sandbox-layout-1\"\nrate_limit = \"1000/s\"\npass_id = \"{}\"\n",
                server.base_url(),
                if matches!(which, Vendor::Skycore) {
                    "phone"
                } else {
                    "customer_id"
                }
            );
            (Some(server), toml)
        }
    };
    let config = ProviderConfig::from_toml(&toml).unwrap_or_else(|e| panic!("{toml}: {e}"));
    (server, config)
}

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
