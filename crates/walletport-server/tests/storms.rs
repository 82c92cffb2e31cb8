//! Duplicate storms: what a vendor (or a retrying client) does when it is not sure a call
//! arrived, all at once.
//!
//! - 1,000 concurrent Passquare `addBalance` hooks with ONE transaction id → one ledger entry, one
//!   credit, every caller answered success (on PostgreSQL spread over two gateways sharing the
//!   database, as a scaled-out deployment would receive them).
//! - The same storm on the REST API: exactly one caller is told `applied: true`.
//! - A Passteam webhook delivered 5 times concurrently → handled once: straight into the store's
//!   event handler (no in-process claim in front), and over HTTP to two gateways sharing the
//!   database (each with its own in-process claim, so only the durable record can stop the
//!   second); a later repeat at a freshly started gateway does not undo a newer event.
//!
//! Every scenario runs on SQLite and on PostgreSQL (a database of its own, dropped afterwards;
//! skipped loudly when no server answers outside CI, a failure in CI).

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use support::*;
use walletport_core::{Phone, WalletEvents};
use walletport_server::{Gateway, RunningGateway, StoreWalletEvents};
use walletport_store::Store;

on_both!(
    thousand_concurrent_add_balance_hooks_with_one_transaction_id_credit_once,
    concurrent_rest_credits_with_one_transaction_id_apply_once,
    passteam_webhook_delivered_five_times_concurrently_is_handled_once,
    passteam_webhook_storm_over_two_gateways_is_handled_once,
);

const STORM: usize = 1000;

/// How long the background handling of a storm may take.
const STORM_WAIT: Duration = Duration::from_secs(15);

/// Gateways over one database: on SQLite they share the one store (a single SQLite gateway is
/// the deployment model); on PostgreSQL each has its own connection pool, as separate
/// processes would.
struct Cluster {
    _tdb: TestDb,
    stores: Vec<Arc<dyn Store>>,
    gateways: Vec<RunningGateway>,
    provider: Arc<Recorder>,
}

impl Cluster {
    async fn start(db: Db, instances: usize) -> Option<Self> {
        let tdb = TestDb::new(db).await?;
        let provider = Arc::new(Recorder::default());
        let mut stores: Vec<Arc<dyn Store>> = Vec::new();
        let mut gateways = Vec::new();
        for i in 0..instances {
            let store = if db == Db::Sqlite && i > 0 {
                stores[0].clone()
            } else {
                tdb.open().await
            };
            let gw = gateway(store.clone(), provider.clone(), None);
            gateways.push(start_gateway(gw).await);
            stores.push(store);
        }
        Some(Self {
            _tdb: tdb,
            stores,
            gateways,
            provider,
        })
    }

    fn store(&self) -> &dyn Store {
        self.stores[0].as_ref()
    }

    fn hook_count(&self, method: &str, outcome: &str) -> u64 {
        self.gateways
            .iter()
            .map(|g| g.gateway().metrics.hook_count("passteam", method, outcome))
            .sum()
    }

    /// Checks that the vendor was sent nothing (webhooks are never echoed), then stops.
    async fn stop_unechoed(self) {
        assert!(self.provider.sent().is_empty(), "webhooks are never echoed");
        self.stop().await;
    }

    async fn stop(self) {
        for g in self.gateways {
            g.shutdown().await;
        }
        for s in &self.stores {
            s.close().await;
        }
    }
}

async fn start_gateway(gw: Gateway) -> RunningGateway {
    serve(&gateway_config(fast_outbox()), gw).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Registers `phone` through the createCustomer hook (no outbox echo) and returns its CRM id.
async fn register(client: &reqwest::Client, gw: &RunningGateway, p: &str) -> String {
    let body = json!({"crm_key": CRM_KEY, "method": "createCustomer",
        "customer": {"phone": p, "name": "Storm"}});
    let url = format!("{}/hooks/passquare", gw.base_url());
    let (status, v) = answer(client.post(url).json(&body).send().await.expect("send")).await;
    assert_eq!(status, 200, "{v}");
    v["customerId"].as_str().expect("customerId").to_owned()
}

/// A cluster for a storm (two gateways on PostgreSQL, one on SQLite), a client, and the
/// customer `phone(n)` registered through the first gateway's hook; `None` without the backend.
async fn storm_cluster(db: Db, n: u32) -> Option<(Cluster, reqwest::Client, Phone)> {
    let instances = if db == Db::Postgres { 2 } else { 1 };
    let cluster = Cluster::start(db, instances).await?;
    let c = client();
    let p = phone(n);
    register(&c, &cluster.gateways[0], p.as_str()).await;
    Some((cluster, c, p))
}

async fn thousand_concurrent_add_balance_hooks_with_one_transaction_id_credit_once(db: Db) {
    let Some((cluster, c, p)) = storm_cluster(db, 4242).await else {
        return;
    };
    let body = json!({"crm_key": CRM_KEY, "method": "addBalance",
        "customer": {"phone": p.as_str(), "sum": "12.34", "transactionId": "storm-1"}});
    let start = Arc::new(tokio::sync::Barrier::new(STORM));
    let calls = (0..STORM).map(|i| {
        let url = format!(
            "{}/hooks/passquare",
            cluster.gateways[i % cluster.gateways.len()].base_url()
        );
        let (c, body, start) = (c.clone(), body.clone(), start.clone());
        tokio::spawn(async move {
            start.wait().await;
            answer(c.post(url).json(&body).send().await.expect("send")).await
        })
    });
    let answers = join_all(calls).await;
    for answer in answers {
        let (status, body) = answer.expect("task");
        assert_eq!(status, 200, "every repeat is answered success: {body}");
        assert_eq!(body, json!({"success": true}));
    }
    let entries = ledger_of(cluster.store(), &p).await;
    assert_eq!(entries.len(), 1, "one ledger entry: {entries:?}");
    assert_eq!(
        entries[0].transaction_id.as_ref().map(|t| t.as_str()),
        Some("pq:storm-1")
    );
    assert_eq!(balance_of(cluster.store(), &p).await, dec!(12.34));
    let ok: u64 = cluster
        .gateways
        .iter()
        .map(|g| {
            g.gateway()
                .metrics
                .hook_count("passquare", "addBalance", "ok")
        })
        .sum();
    assert_eq!(ok, STORM as u64, "every call was handled and answered");
    // The same id with another amount is a conflict and changes nothing.
    let conflicting = json!({"crm_key": CRM_KEY, "method": "addBalance",
        "customer": {"phone": p.as_str(), "sum": "99", "transactionId": "storm-1"}});
    let resp = c
        .post(format!(
            "{}/hooks/passquare",
            cluster.gateways[0].base_url()
        ))
        .json(&conflicting)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(balance_of(cluster.store(), &p).await, dec!(12.34));
    let stats = cluster
        .store()
        .outbox_stats(chrono::Utc::now())
        .await
        .expect("stats");
    assert_eq!(stats.depth, 0, "a vendor's own credit is not echoed");
    cluster.stop().await;
}

async fn concurrent_rest_credits_with_one_transaction_id_apply_once(db: Db) {
    let Some((cluster, c, p)) = storm_cluster(db, 4343).await else {
        return;
    };
    let n = 300;
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let calls = (0..n).map(|i| {
        let url = format!(
            "{}/api/customers/{}/credits",
            cluster.gateways[i % cluster.gateways.len()].base_url(),
            p.as_str()
        );
        let (c, start) = (c.clone(), start.clone());
        tokio::spawn(async move {
            start.wait().await;
            let body = json!({"amount": "7.5", "transaction_id": "order-1"});
            answer(c.post(url).json(&body).send().await.expect("send")).await
        })
    });
    let mut applied = 0;
    for answer in join_all(calls).await {
        let (status, body) = answer.expect("task");
        assert_eq!(status, 200, "{body}");
        if body["applied"] == true {
            applied += 1;
        } else {
            assert_eq!(body["applied"], false, "{body}");
            assert_eq!(body["delta"], "0", "{body}");
        }
        assert_eq!(
            body["balance"]["points"], "7.5",
            "every answer shows one credit: {body}"
        );
    }
    assert_eq!(applied, 1, "exactly one caller applied the credit");
    assert_eq!(ledger_of(cluster.store(), &p).await.len(), 1);
    assert_eq!(balance_of(cluster.store(), &p).await, dec!(7.5));
    cluster.stop().await;
}

const CARD_ID: &str = "5e451571cea6c6141807b700";

fn webhook(event: &str, id: &str, p: &str, installed_aw: u8) -> Value {
    json!({"webhookId": id, "event": event, "card": {
        "cardId": CARD_ID, "cardCode": "000000042",
        "phoneNumber": p, "values": {}, "voided": 0,
        "installedAW": installed_aw, "installedGPay": 0, "templateId": "t1"}})
}

async fn passteam_webhook_delivered_five_times_concurrently_is_handled_once(db: Db) {
    let Some(cluster) = Cluster::start(db, 1).await else {
        return;
    };
    let p = phone(5151);
    // Straight into the handler: no in-process claim in front, only the store's durable record.
    // The first delivery of an unknown card also has to create its holder and attach the card.
    let events = StoreWalletEvents::new(cluster.gateways[0].gateway().clone());
    let fields = walletport_passteam::FieldMap::documented();
    let body = webhook("installCard", "wh-storm-1", p.as_str(), 1).to_string();
    let event = walletport_passteam::parse_webhook(body.as_bytes(), &fields).expect("parse");
    let results = join_all((0..5).map(|_| events.on_wallet_event(event.clone()))).await;
    for r in &results {
        assert!(r.is_ok(), "a repeat is not an error: {r:?}");
    }
    assert_eq!(cluster.hook_count("installCard", "ok"), 1, "handled once");
    assert_eq!(cluster.hook_count("installCard", "duplicate"), 4);
    let cards = cards_of(cluster.store(), &p).await;
    assert_eq!(
        cards.len(),
        1,
        "one card, however the deliveries raced: {cards:?}"
    );
    assert!(cards[0].installed.apple);
    // A newer event, then the old one five times again: the old one changes nothing.
    let body = webhook("unInstallCard", "wh-storm-2", p.as_str(), 0).to_string();
    let newer = walletport_passteam::parse_webhook(body.as_bytes(), &fields).expect("parse");
    events.on_wallet_event(newer).await.expect("uninstall");
    let results = join_all((0..5).map(|_| events.on_wallet_event(event.clone()))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(cluster.hook_count("installCard", "ok"), 1);
    assert_eq!(cluster.hook_count("installCard", "duplicate"), 9);
    let cards = cards_of(cluster.store(), &p).await;
    assert!(
        !cards[0].installed.apple,
        "an old repeat did not undo the uninstall"
    );
    cluster.stop_unechoed().await;
}

async fn post_all(c: &reqwest::Client, urls: &[String], body: &Value) {
    let sends = urls.iter().map(|url| {
        let (c, body, url) = (c.clone(), body.clone(), url.clone());
        tokio::spawn(async move { c.post(url).json(&body).send().await.expect("send") })
    });
    for resp in join_all(sends).await {
        assert_eq!(resp.expect("task").status().as_u16(), 200);
    }
}

async fn passteam_webhook_storm_over_two_gateways_is_handled_once(db: Db) {
    let Some(mut cluster) = Cluster::start(db, 2).await else {
        return;
    };
    let c = client();
    let p = phone(5252);
    let urls = |cluster: &Cluster, n: usize| -> Vec<String> {
        (0..n)
            .map(|i| {
                let g = &cluster.gateways[i % cluster.gateways.len()];
                format!("{}/hooks/passteam", g.base_url())
            })
            .collect()
    };
    // Five deliveries, three to one gateway and two to the other: each gateway's in-process
    // claim lets exactly one through, so two handlers race and the store must stop one.
    let install = webhook("createCard", "wh-multi-1", p.as_str(), 1);
    post_all(&c, &urls(&cluster, 5), &install).await;
    eventually(STORM_WAIT, "both handlers finished", || async {
        let seen =
            cluster.hook_count("createCard", "ok") + cluster.hook_count("createCard", "duplicate");
        (seen >= 2).then_some(())
    })
    .await;
    assert_eq!(cluster.hook_count("createCard", "ok"), 1, "processed once");
    assert_eq!(cluster.hook_count("createCard", "duplicate"), 1);
    let failures: u64 = ["conflict", "already_exists", "unexpected", "invalid_input"]
        .iter()
        .map(|o| cluster.hook_count("createCard", o))
        .sum();
    assert_eq!(failures, 0, "the race is not an error");
    let cards = cards_of(cluster.store(), &p).await;
    assert_eq!(cards.len(), 1, "{cards:?}");
    assert!(cards[0].installed.apple);

    let uninstall = webhook("unInstallCard", "wh-multi-2", p.as_str(), 0);
    post_all(&c, &urls(&cluster, 1), &uninstall).await;
    eventually(STORM_WAIT, "uninstall handled", || async {
        (cluster.hook_count("unInstallCard", "ok") == 1).then_some(())
    })
    .await;

    // Passteam's repeat a day later reaches a gateway started since (no in-process memory).
    let store = if db == Db::Sqlite {
        cluster.stores[0].clone()
    } else {
        cluster._tdb.open().await
    };
    let fresh = start_gateway(gateway(store.clone(), cluster.provider.clone(), None)).await;
    cluster.gateways.push(fresh);
    cluster.stores.push(store);
    let late: Vec<String> = (0..5)
        .map(|_| format!("{}/hooks/passteam", cluster.gateways[2].base_url()))
        .collect();
    post_all(&c, &late, &install).await;
    let late_gateway = cluster.gateways[2].gateway().clone();
    eventually(STORM_WAIT, "the late repeat was looked at", || async {
        let metrics = &late_gateway.metrics;
        (metrics.hook_count("passteam", "createCard", "duplicate") == 1).then_some(())
    })
    .await;
    assert_eq!(cluster.hook_count("createCard", "ok"), 1);
    let cards = cards_of(cluster.store(), &p).await;
    assert!(
        !cards[0].installed.apple,
        "the late repeat did not re-install"
    );
    cluster.stop_unechoed().await;
}

/// The ledger keeps Passquare's transaction ids apart from the merchant's with a `pq:` prefix
/// (`hooks.rs`, `PASSQUARE_TX_PREFIX`: "so they never collide"). A merchant credit whose own id
/// happens to carry that prefix must then not be taken for the vendor's credit: it is either
/// refused as invalid or applied as a credit of its own — never silently answered "already
/// applied" while nothing was credited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_transaction_id_never_collides_with_a_passquare_one() {
    let Some(cluster) = Cluster::start(Db::Sqlite, 1).await else {
        return;
    };
    let c = client();
    let gw = &cluster.gateways[0];
    let p = phone(4444);
    register(&c, gw, p.as_str()).await;
    let hook = json!({"crm_key": CRM_KEY, "method": "addBalance",
        "customer": {"phone": p.as_str(), "sum": "5", "transactionId": "123"}});
    let resp = c
        .post(format!("{}/hooks/passquare", gw.base_url()))
        .json(&hook)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    let (status, body) = Rest::new(gw)
        .call(
            "POST",
            &format!("/api/customers/{}/credits", p.as_str()),
            json!({"amount": "5", "transaction_id": "pq:123"}),
        )
        .await;
    let balance = balance_of(cluster.store(), &p).await;
    match status {
        400 => assert_eq!(balance, dec!(5), "refused, nothing changed: {body}"),
        200 => {
            assert_eq!(
                body["applied"], true,
                "the merchant's credit is not a duplicate: {body}"
            );
            assert_eq!(balance, dec!(10), "{body}");
        }
        other => panic!("unexpected answer {other}: {body}"),
    }
    cluster.stop().await;
}
