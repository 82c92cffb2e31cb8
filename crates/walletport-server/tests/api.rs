//! The REST surface over real HTTP: OpenAPI, health, metrics, limits, typed errors, expiring
//! credits at exact instants (injected clock), and refusal to serve publicly without a token.

mod support;

use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use serde_json::{Value, json};
use support::*;
use walletport_server::{Gateway, GatewayConfig, ManualClock, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_health_metrics_and_errors() {
    let tdb = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let (running, store) = memory_gateway(&tdb, None).await;
    let base = running.base_url();
    let c = reqwest::Client::new();

    let doc: Value = c.get(format!("{base}/openapi.json")).json_answer().await;
    for path in [
        "/api/customers",
        "/api/customers/{key}/credits",
        "/api/customers/{key}/redemptions",
        "/api/customers/{key}/credits/{transaction_id}/reversal",
        "/api/customers/{key}/balance",
        "/api/customers/{key}/ledger",
        "/api/outbox/{id}/retry",
        "/api/templates",
        "/api/campaigns/{id}/send",
        "/healthz",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(
        doc["paths"]["/api/customers/{key}/balance"]["put"].is_object(),
        "PUT balance missing from OpenAPI"
    );
    for schema in [
        "RedemptionInput",
        "BalanceInput",
        "LedgerResult",
        "LedgerEntryView",
        "LedgerPageView",
    ] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "{schema} missing from OpenAPI"
        );
    }

    let health = c.get(format!("{base}/healthz")).send().await.expect("send");
    assert_eq!(health.status().as_u16(), 200);
    let health: Value = health.json().await.expect("json");
    assert_eq!(health["store"], "ok");

    // Typed 400s, 404s and 413s; nothing panics on garbage.
    let r = c
        .post(format!("{base}/api/customers"))
        .header("content-type", "application/json")
        .body("{\"phone\": ")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["kind"], "invalid_input");
    let api = Rest::new(&running);
    for bad in [
        json!({"phone": "call me"}),
        json!({"phone": "+420710000001", "bonus_percent": "170"}),
        json!({"phone": "+420710000001", "email": "nope"}),
        json!({"phone": "+420710000001", "bogus": 1}),
    ] {
        let (status, _) = api.call("POST", "/api/customers", bad.clone()).await;
        assert_eq!(status, 400, "{bad}");
    }
    let (status, _) = api
        .call("GET", "/api/customers/+420710000099", Value::Null)
        .await;
    assert_eq!(status, 404);
    let huge = "x".repeat(300 * 1024);
    let r = c
        .post(format!("{base}/api/customers"))
        .header("content-type", "application/json")
        .body(format!("{{\"phone\": \"{huge}\"}}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 413);
    let r = c
        .post(format!("{base}/hooks/passquare"))
        .body(vec![b'{'; 70 * 1024])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 413);
    for garbage in [
        "",
        "null",
        "[]",
        "{\"method\":\"addBalance\"}",
        "\u{0}\u{1}",
    ] {
        let r = c
            .post(format!("{base}/hooks/passquare"))
            .body(garbage)
            .send()
            .await
            .expect("send");
        assert!(
            matches!(r.status().as_u16(), 400 | 401),
            "{garbage:?}: {}",
            r.status()
        );
    }
    let (status, _) = api.call("GET", "/api/outbox?list=bogus", Value::Null).await;
    assert_eq!(status, 400);

    let metrics = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("walletport_outbox_depth"), "{metrics}");
    assert!(
        metrics.contains("route=\"/api/customers\",status=\"400\""),
        "{metrics}"
    );
    assert!(!metrics.contains(CRM_KEY), "no secrets in metrics");
    running.shutdown().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_with_a_lifetime_burn_at_the_exact_instant() {
    let tdb = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let t0 = Utc
        .with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .expect("instant");
    let clock = ManualClock::new(t0);
    let (running, store) = memory_gateway(&tdb, Some(clock.clone())).await;
    let rest = Rest::new(&running);
    let api = format!("{}/api", running.base_url());
    let c = reqwest::Client::new();
    let p = phone(3);
    rest.create_customer(json!({"phone": p.as_str()})).await;
    let credits = format!("/api/customers/{}/credits", p.as_str());
    for (tx, amount, lifetime) in [("a", 10, Some("1h")), ("b", 5, None)] {
        let mut body = json!({"amount": amount, "transaction_id": tx});
        if let Some(l) = lifetime {
            body["lifetime"] = json!(l);
        }
        rest.ok("POST", &credits, body).await;
    }
    let points = |c: reqwest::Client, url: String| async move {
        let b: Value = c.get(url).json_answer().await;
        b["points"].as_str().unwrap_or_default().to_owned()
    };
    let url = format!("{api}/customers/{}/balance", p.as_str());
    assert_eq!(points(c.clone(), url.clone()).await, "15");
    clock.advance(TimeDelta::seconds(3599));
    assert_eq!(points(c.clone(), url.clone()).await, "15");
    clock.advance(TimeDelta::seconds(1));
    assert_eq!(
        points(c.clone(), url.clone()).await,
        "5",
        "burnt at credited_at + 1h"
    );
    running.shutdown().await;
    store.close().await;
}

#[tokio::test]
async fn refuses_public_address_without_token() {
    let (_tdb, store) = TestDb::with_store(Db::Sqlite).await.expect("sqlite");
    let provider = memory_provider();
    let mut config = GatewayConfig::default();
    config.server.listen = "0.0.0.0:0".parse().expect("addr");
    let e = start(&config, Gateway::new(store.clone(), provider))
        .await
        .expect_err("must refuse");
    assert_eq!(e.kind(), walletport_core::ErrorKind::ConfigInvalid);
    assert!(e.message().contains("api_token"), "{e}");
    tokio::time::sleep(Duration::from_millis(1)).await;
    store.close().await;
}

/// Issue 13, item 0: a credit of `Decimal::MAX` (or with 19 decimal places) is refused with 400
/// and changes nothing, so one typo at a till cannot make an account unreadable; the same bound
/// holds for Passquare's `addBalance` hook. Runs on both backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_amounts_are_refused_and_the_account_stays_readable() {
    for db in [Db::Sqlite, Db::Postgres] {
        let Some(tdb) = TestDb::new(db).await else {
            continue;
        };
        let (running, store) = memory_gateway(&tdb, None).await;
        let api = Rest::new(&running);
        let phone = phone(42);
        api.create_customer(json!({"phone": phone.as_str()})).await;
        let credits = format!("/api/customers/{phone}/credits");
        api.ok(
            "POST",
            &credits,
            json!({"amount": "10", "transaction_id": "ok-1"}),
        )
        .await;
        for (amount, tx) in [
            ("79228162514264337593543950335", "max"),
            ("1000000000000.5", "over"),
            ("0.0000000000000000001", "scale"),
        ] {
            let body = json!({"amount": amount, "transaction_id": tx});
            let answer = api.call("POST", &credits, body).await;
            assert_refused(&answer, 400, "invalid_input", &format!("{db:?} {amount}"));
        }
        let hook = json!({"crm_key": CRM_KEY, "method": "addBalance", "customer": {
            "phone": phone.as_str(), "sum": "79228162514264337593543950335", "transactionId": "h-max"}});
        let (status, body) = api.call("POST", "/hooks/passquare", hook).await;
        assert_eq!(status, 400, "{db:?} hook: {body}");
        let balance = api
            .ok(
                "GET",
                &format!("/api/customers/{phone}/balance"),
                Value::Null,
            )
            .await;
        assert_eq!(balance["points"], "10", "nothing changed: {balance}");
        let (status, body) = api
            .call(
                "POST",
                &credits,
                json!({"amount": "1000000000000", "transaction_id": "ok-2"}),
            )
            .await;
        assert_eq!(status, 200, "the bound itself is accepted: {body}");
        running.shutdown().await;
        store.close().await;
    }
}
