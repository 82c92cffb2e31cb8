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

use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use support::{Db, TestDb, drain, fast_outbox, gateway_config};
use walletport::{CustomerKey, GetBalance, Phone, Provider, ProviderConfig};
use walletport_sandbox::RunningServer;
use walletport_sandbox::passquare::{PassquareEmulator, PassquareEmulatorConfig};
use walletport_sandbox::passteam::{PassteamEmulator, PassteamEmulatorConfig};
use walletport_sandbox::skycore::{SkycoreEmulator, SkycoreEmulatorConfig};
use walletport_server::{Gateway, check_provider, start_on};

/// The providers the scenario runs on.
#[derive(Debug, Clone, Copy)]
enum Vendor {
    Memory,
    Passquare,
    PassteamFull,
    PassteamMinimal,
    Skycore,
}

macro_rules! every_provider {
    ($($name:ident => $vendor:expr),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                merchant_day($vendor).await;
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
        Vendor::Skycore => {
            let config = SkycoreEmulatorConfig::default();
            let key = config.api_key.clone();
            let (server, _) = SkycoreEmulator::spawn(config, local)
                .await
                .expect("skycore emulator");
            let toml = format!(
                "kind = \"skycore\"\nendpoint = \"{}\"\napi_key = \"{key}\"\n\
                 template_id = \"sandbox-layout-1\"\nrate_limit = \"1000/s\"\n",
                server.base_url()
            );
            (Some(server), toml)
        }
    };
    let config = ProviderConfig::from_toml(&toml).unwrap_or_else(|e| panic!("{toml}: {e}"));
    (server, config)
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let (status, out) = self.send(method.clone(), path, Some(body)).await;
        assert!(status < 300, "{method} {path}: {status} {out}");
        out
    }

    /// Calls an operation the provider may lack: it works when `supported`, and answers an
    /// `unsupported` error otherwise, before any vendor request.
    async fn maybe(&self, supported: bool, method: reqwest::Method, path: &str, body: Value) {
        let (status, out) = self.send(method.clone(), path, Some(body)).await;
        if supported {
            assert!(status < 300, "{method} {path}: {status} {out}");
        } else {
            assert_eq!(
                out["error"]["kind"], "unsupported",
                "{method} {path}: {out}"
            );
        }
    }
}

fn phone(n: u32) -> Phone {
    Phone::parse(&format!("+4207300{n:05}")).expect("phone")
}

async fn merchant_day(which: Vendor) {
    let db = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let store = db.open().await;
    let (_emulator, config) = vendor(which).await;
    let provider: Arc<dyn Provider> = walletport::connect(&config).expect("connect");
    let gw = Gateway::new(store.clone(), provider.clone());
    check_provider(&gw)
        .await
        .unwrap_or_else(|e| panic!("{which:?}: the start-up check refuses a working config: {e}"));
    let mut gconfig = gateway_config(fast_outbox());
    if let ProviderConfig::Passteam(c) = &config {
        gconfig.hooks.passteam.fields = Some(c.fields.clone());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let running = start_on(listener, &gconfig, gw).await.expect("gateway");
    let api = Api {
        base: running.base_url(),
        http: reqwest::Client::new(),
    };
    let cap = provider.capability();
    use reqwest::Method;

    // Customers: three through the REST API, three by CSV import.
    for n in 1..=3 {
        api.ok(
            Method::POST,
            "/api/customers",
            json!({ "phone": phone(n).as_str(), "name": format!("Rest {n}") }),
        )
        .await;
    }
    let csv = format!(
        "phone,name,balance,bonus,discount\n{},Csv Four,40,5,0\n{},Csv Five,,,\n{},Csv Six,6.5,,3\n",
        phone(4),
        phone(5),
        phone(6)
    );
    let report = walletport_server::import::import_csv(store.as_ref(), csv.as_bytes(), |_, _| {})
        .await
        .expect("import");
    assert_eq!((report.imported, report.bad), (3, 0), "{report:?}");

    // Credits, twice for one customer, and a repeat that must not count.
    for (n, amount, tx) in [
        (1, "10", "t-1"),
        (1, "2.5", "t-2"),
        (2, "7", "t-3"),
        (4, "1", "t-4"),
    ] {
        let path = format!("/api/customers/{}/credits", phone(n));
        api.ok(
            Method::POST,
            &path,
            json!({ "amount": amount, "transaction_id": tx }),
        )
        .await;
    }
    let repeat = format!("/api/customers/{}/credits", phone(1));
    api.ok(
        Method::POST,
        &repeat,
        json!({ "amount": "10", "transaction_id": "t-1" }),
    )
    .await;

    // Percentages.
    for (n, bonus, discount) in [(1, "5", "0"), (2, "0", "10"), (5, "3.5", "2")] {
        let path = format!("/api/customers/{}/percentages", phone(n));
        api.ok(
            Method::PUT,
            &path,
            json!({ "bonus_percent": bonus, "discount_percent": discount }),
        )
        .await;
    }

    // Everything the store holds reaches the vendor before the vendor-only operations, which
    // need the customer's card there.
    drain(store.as_ref(), Duration::from_secs(30)).await;

    let push = format!("/api/customers/{}/push", phone(1));
    api.maybe(
        cap.push_wallet,
        Method::POST,
        &push,
        json!({ "text": "Your coffee is on us", "channel": "wallet" }),
    )
    .await;
    let link = format!("/api/customers/{}/card/install-link", phone(2));
    api.maybe(
        cap.card_send_install_link,
        Method::POST,
        &link,
        json!({ "via": "sms" }),
    )
    .await;
    let (status, campaign) = api
        .send(
            Method::POST,
            "/api/campaigns",
            Some(json!({ "message": "Double points this weekend" })),
        )
        .await;
    if cap.campaign_create {
        assert!(status < 300, "campaign: {status} {campaign}");
        let id = campaign["id"].as_str().expect("campaign id");
        let send = format!("/api/campaigns/{id}/send");
        api.maybe(cap.campaign_send, Method::POST, &send, json!({}))
            .await;
    } else {
        assert_eq!(campaign["error"]["kind"], "unsupported", "{campaign}");
    }
    let status_path = format!("/api/customers/{}/card/status", phone(3));
    api.maybe(
        cap.card_set_status,
        Method::PUT,
        &status_path,
        json!({ "status": "voided" }),
    )
    .await;
    if cap.card_set_status {
        api.ok(Method::PUT, &status_path, json!({ "status": "active" }))
            .await;
    }

    // A last change after the vendor-only calls, so the outbox runs again.
    let late = format!("/api/customers/{}/credits", phone(6));
    api.ok(
        Method::POST,
        &late,
        json!({ "amount": "4", "transaction_id": "t-late" }),
    )
    .await;
    drain(store.as_ref(), Duration::from_secs(30)).await;

    let stats = store.outbox_stats(chrono::Utc::now()).await.expect("stats");
    assert_eq!((stats.depth, stats.dead), (0, 0), "{which:?}: {stats:?}");
    let held = provider.balance_fields();
    for n in 1..=6 {
        let stored = running
            .gateway()
            .customer_by_phone(&phone(n))
            .await
            .expect("stored customer");
        let ours = store
            .balance(&stored.id, chrono::Utc::now())
            .await
            .expect("balance");
        let theirs = provider
            .balances()
            .get_balance(GetBalance {
                customer: CustomerKey::Phone(phone(n)),
            })
            .await
            .unwrap_or_else(|e| panic!("{which:?}: customer {n} unreadable at the vendor: {e}"));
        let same = |a: Decimal, b: Decimal| a.normalize() == b.normalize();
        if held.points {
            assert!(
                same(ours.points, theirs.points),
                "{which:?} #{n} points: {ours:?} vs {theirs:?}"
            );
        }
        if held.bonus_percent {
            assert!(
                same(ours.bonus_percent.value(), theirs.bonus_percent.value()),
                "{which:?} #{n} bonus: {ours:?} vs {theirs:?}"
            );
        }
        if held.discount_percent {
            assert!(
                same(
                    ours.discount_percent.value(),
                    theirs.discount_percent.value()
                ),
                "{which:?} #{n} discount: {ours:?} vs {theirs:?}"
            );
        }
    }
    assert_eq!(
        store
            .balance(
                &running
                    .gateway()
                    .customer_by_phone(&phone(1))
                    .await
                    .unwrap()
                    .id,
                chrono::Utc::now()
            )
            .await
            .unwrap()
            .points,
        Decimal::new(125, 1),
        "the repeated transaction id counted once"
    );
    let metrics = &running.gateway().metrics;
    if !held.discount_percent {
        assert!(
            metrics.fields_not_held("discount_percent") > 0,
            "{which:?}: what was not sent is counted"
        );
    }
    running.shutdown().await;
    store.close().await;
}
