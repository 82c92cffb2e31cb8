//! The gateway scenario every provider must pass: one merchant day through the REST API and the
//! outbox, ending with the vendor holding what the store holds.
//!
//! It is a test harness (behind the `scenario` cargo feature): the gateway's own suite runs it
//! against the in-memory provider and each vendor's emulator, and an adapter made by `cargo xtask
//! new-adapter` runs it against its own emulator with a few lines. It panics with a message naming
//! the provider and the broken promise, like any test assertion.
//!
//! The day: six customers created through the REST API and by CSV import, credits (one repeated
//! transaction id), percentage changes, a push, the card's install link, a campaign, a card
//! status change and a last credit. Operations the provider lacks must answer `unsupported`.
//! Afterwards: the outbox is drained, there are no dead letters, and for every balance field the
//! provider holds, the vendor's value read back through the adapter equals the store's.

use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use walletport_core::{CustomerKey, GetBalance, Phone, Provider};
use walletport_store::Store;

use crate::config::{GatewayConfig, OutboxSection};
use crate::preflight::check_provider;
use crate::server::start_on;
use crate::state::Gateway;

/// What a scenario run did, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScenarioReport {
    /// Customers whose vendor state was compared with the store.
    pub customers_compared: usize,
    /// Vendor requests the outbox worker sent.
    pub vendor_requests: u64,
    /// Outbox items delivered.
    pub delivered_items: u64,
}

/// Outbox settings that keep tests quick: short polls, backoffs and leases.
pub fn quick_outbox() -> OutboxSection {
    OutboxSection {
        batch: 200,
        max_attempts: 30,
        lease: Duration::from_secs(5),
        poll_interval: Duration::from_millis(20),
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(50),
        concurrency: 4,
        ..OutboxSection::default()
    }
}

/// Waits (polling, bounded by `within`) until the outbox has no waiting items.
///
/// # Panics
/// When it still has some after `within`.
pub async fn wait_drained(store: &dyn Store, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let stats = store
            .outbox_stats(chrono::Utc::now())
            .await
            .expect("outbox stats");
        if stats.depth == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "outbox not drained in {within:?}: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The REST API of the running gateway.
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

    /// Credits the scenario's customer `n` with `amount` points under transaction id `tx`.
    async fn credit(&self, n: u32, amount: &str, tx: &str) {
        let path = format!("/api/customers/{}/credits", phone(n));
        let body = json!({ "amount": amount, "transaction_id": tx });
        self.ok(reqwest::Method::POST, &path, body).await;
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

/// The scenario's customer `n`.
fn phone(n: u32) -> Phone {
    Phone::parse(&format!("+4207300{n:05}")).expect("phone")
}

/// Runs the merchant day through a gateway over `store` and `provider` (a fresh, empty store);
/// `gateway` is the configuration to start from (its listen address and outbox are replaced).
///
/// # Panics
/// When the provider breaks a promise of the scenario; the message names it.
pub async fn merchant_day(
    provider: Arc<dyn Provider>,
    store: Arc<dyn Store>,
    mut gateway: GatewayConfig,
) -> ScenarioReport {
    let name = provider.info().name;
    let gw = Gateway::new(store.clone(), provider.clone());
    check_provider(&gw)
        .await
        .unwrap_or_else(|e| panic!("{name}: the start-up check refuses a working config: {e}"));
    gateway.server.listen = "127.0.0.1:0".parse().expect("loopback");
    gateway.outbox = quick_outbox();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let running = start_on(listener, &gateway, gw).await.expect("gateway");
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
    let import = crate::import::import_csv(store.as_ref(), csv.as_bytes(), |_, _| {})
        .await
        .expect("import");
    assert_eq!((import.imported, import.bad), (3, 0), "{name}: {import:?}");

    // Credits, twice for one customer, and a repeat that must not count.
    for (n, amount, tx) in [
        (1, "10", "t-1"),
        (1, "2.5", "t-2"),
        (2, "7", "t-3"),
        (4, "1", "t-4"),
    ] {
        api.credit(n, amount, tx).await;
    }
    api.credit(1, "10", "t-1").await;

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
    wait_drained(store.as_ref(), Duration::from_secs(30)).await;

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
    api.credit(6, "4", "t-late").await;
    wait_drained(store.as_ref(), Duration::from_secs(30)).await;

    let stats = store.outbox_stats(chrono::Utc::now()).await.expect("stats");
    assert_eq!((stats.depth, stats.dead), (0, 0), "{name}: {stats:?}");
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
                // As the gateway addresses the customer: by phone where the provider finds
                // customers by phone, else by the store's customer id.
                customer: if cap.customer_get_by_phone {
                    CustomerKey::Phone(phone(n))
                } else {
                    CustomerKey::Id(stored.id.clone())
                },
            })
            .await
            .unwrap_or_else(|e| panic!("{name}: customer {n} unreadable at the vendor: {e}"));
        let same = |a: Decimal, b: Decimal| a.normalize() == b.normalize();
        if held.points {
            assert!(
                same(ours.points, theirs.points),
                "{name} #{n} points: {ours:?} vs {theirs:?}"
            );
        }
        if held.bonus_percent {
            assert!(
                same(ours.bonus_percent.value(), theirs.bonus_percent.value()),
                "{name} #{n} bonus: {ours:?} vs {theirs:?}"
            );
        }
        if held.discount_percent {
            assert!(
                same(
                    ours.discount_percent.value(),
                    theirs.discount_percent.value()
                ),
                "{name} #{n} discount: {ours:?} vs {theirs:?}"
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
    let metrics = running.gateway().metrics.clone();
    if !held.discount_percent {
        assert!(
            metrics.fields_not_held("discount_percent") > 0,
            "{name}: what was not sent is counted"
        );
    }
    let report = ScenarioReport {
        customers_compared: 6,
        vendor_requests: metrics.vendor_requests(),
        delivered_items: metrics.delivered_items(),
    };
    running.shutdown().await;
    report
}
