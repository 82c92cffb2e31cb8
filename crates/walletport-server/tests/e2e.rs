//! End to end over real HTTP: the Passquare emulator calls the gateway's hooks, the REST API
//! writes, and the outbox delivers to the emulator. Every scenario runs on SQLite and again on
//! PostgreSQL (a database of its own; skipped loudly when no server answers outside CI).

mod support;

use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use support::*;
use walletport_core::CustomerKey;
use walletport_sandbox::passquare::InstallRequest;
use walletport_sandbox::{Faults, QuotaWindow};
use walletport_server::{OutboxSection, OutboxWorker, SharedQuota};

on_both!(
    install_registers_and_add_balance_twice_credits_once,
    rest_credits_reach_the_vendor_as_one_coalesced_update_within_quota,
    thirty_percent_503s_still_deliver_everything,
    restart_midway_loses_nothing,
    permanent_failures_are_dead_letters_and_can_be_retried,
    passteam_webhook_repeats_are_processed_once,
    passteam_webhooks_read_the_phone_from_the_configured_variable,
);

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    answer(http().post(url).json(&body).send().await.expect("send")).await
}

/// The base plan's shape (1/s, 60/h) time-compressed for the emulator, and the client plan the
/// gateway keeps: the same shape with a margin of one tick on the short window, because the
/// emulator counts arrivals and the client counts departures: a slot is granted before the request
/// travels, and on a loaded CI machine two requests granted 26 ms apart once arrived less than the
/// emulator's 20 ms apart (a 429 and a retry, so the vendor saw 6 requests for 5).
fn scaled_quota(tick_ms: u64) -> (Vec<QuotaWindow>, String) {
    (
        vec![
            QuotaWindow {
                limit: 1,
                per: Duration::from_millis(tick_ms),
            },
            QuotaWindow {
                limit: 60,
                per: Duration::from_millis(tick_ms * 150),
            },
        ],
        format!("1/{}ms, 57/{}ms", 2 * tick_ms, tick_ms * 150),
    )
}

async fn install_registers_and_add_balance_twice_credits_once(db: Db) {
    let Some((_tdb, store)) = TestDb::with_store(db).await else {
        return;
    };
    let (emu_srv, emu) = emulator(Vec::new(), Faults::default()).await;
    let (provider, transport) = passquare_provider(&emu_srv.base_url(), "100/s");
    let gw = gateway(store.clone(), provider, Some(transport));
    let running = serve(&gateway_config(fast_outbox()), gw).await;
    wire_hook(&emu, &running);

    let p = phone(1);
    let install = InstallRequest {
        phone: p.to_string(),
        name: Some("Jana".into()),
        email: Some("jana@example.com".into()),
        ..InstallRequest::default()
    };
    let answer = emu.install(install).await.expect("install");
    assert_eq!(answer["hook"]["status"], 200, "{answer}");
    let stored = stored(store.as_ref(), &p).await;
    assert_eq!(stored.customer.name.as_deref(), Some("Jana"));
    assert_eq!(
        answer["hook"]["response"]["customerId"],
        stored.id.as_str(),
        "the CRM id goes back to Passquare"
    );
    let cards = store.list_cards(&stored.id).await.expect("cards");
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].provider, "passquare");

    for _ in 0..2 {
        let h = emu
            .add_balance_hook(p.as_str(), dec!(150.25), "tx-77", None)
            .await
            .expect("hook");
        assert_eq!(h.status, Some(200), "{h:?}");
    }
    let read = emu.read_balance_hook(p.as_str()).await.expect("read hook");
    assert_eq!(read.response["balance"], "150.25", "{read:?}");
    // A conflicting reuse of the id is refused and changes nothing.
    let h = emu
        .add_balance_hook(p.as_str(), dec!(1), "tx-77", None)
        .await
        .expect("hook");
    assert_eq!(h.status, Some(400), "{h:?}");
    let balance = store
        .balance(&stored.id, chrono::Utc::now())
        .await
        .expect("balance");
    assert_eq!(balance.points, dec!(150.25));
    // Vendor-originated changes are not echoed back to Passquare.
    let pending = store.outbox_stats(chrono::Utc::now()).await.expect("stats");
    assert_eq!(pending.depth, 0, "no echo of Passquare's own changes");
    let metrics = http()
        .get(format!("{}/metrics", running.base_url()))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(
            "walletport_hook_calls_total{vendor=\"passquare\",method=\"addBalance\",outcome=\"ok\"} 2"
        ),
        "{metrics}"
    );
    running.shutdown().await;
    assert_eq!(emu.request_count(), 0, "nothing was sent to the vendor");
    store.close().await;
}

async fn rest_credits_reach_the_vendor_as_one_coalesced_update_within_quota(db: Db) {
    let Some((_tdb, store)) = TestDb::with_store(db).await else {
        return;
    };
    let (quota, plan) = scaled_quota(20);
    let (emu_srv, emu) = emulator(quota, Faults::default()).await;
    let (provider, transport) = passquare_provider(&emu_srv.base_url(), &plan);
    let gw = gateway(store.clone(), provider, Some(transport));
    let outbox = OutboxSection {
        enabled: false,
        ..fast_outbox()
    };
    let running = serve(&gateway_config(outbox.clone()), gw.clone()).await;
    let api = format!("{}/api", running.base_url());
    for n in 0..5 {
        let (status, body) = post(
            &format!("{api}/customers"),
            json!({"phone": phone(n).as_str(), "name": format!("C{n}"), "bonus_percent": "5"}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        for k in 0..10 {
            let (status, body) = post(
                &format!("{api}/customers/{}/credits", phone(n).as_str()),
                json!({"amount": "10.5", "transaction_id": format!("order-{n}-{k}")}),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["applied"], true);
        }
    }
    // A repeated transaction id changes nothing.
    let (_, again) = post(
        &format!("{api}/customers/{}/credits", phone(0).as_str()),
        json!({"amount": "10.5", "transaction_id": "order-0-0"}),
    )
    .await;
    assert_eq!(again["applied"], false, "{again}");
    assert_eq!(again["balance"]["points"], "105");

    let (_, stop) = tokio::sync::watch::channel(false);
    let worker = OutboxWorker::new(gw.clone(), outbox);
    let report = worker.flush_once(&stop).await.expect("flush");
    assert_eq!(report.customers, 5);
    assert_eq!(
        report.requests, 5,
        "one vendor request per customer: {report:?}"
    );
    assert_eq!(report.delivered, report.claimed);
    assert_eq!(emu.request_count(), 5);
    assert_eq!(emu.quota_rejections(), 0, "never a 429 under the plan");
    for n in 0..5 {
        let c = emu.customer(phone(n).as_str()).expect("at the vendor");
        assert_eq!(c.balance, dec!(105), "latest state, once");
        assert_eq!(c.bonus, dec!(5));
    }
    let report = worker.flush_once(&stop).await.expect("flush");
    assert_eq!(report.claimed, 0, "nothing left");
    running.shutdown().await;
    store.close().await;
}

async fn thirty_percent_503s_still_deliver_everything(db: Db) {
    let Some((_tdb, store)) = TestDb::with_store(db).await else {
        return;
    };
    let faults = Faults {
        unavailable_rate: 0.3,
        seed: 7,
        ..Faults::default()
    };
    let (emu_srv, emu) = emulator(Vec::new(), faults).await;
    let (provider, transport) = passquare_provider(&emu_srv.base_url(), "200/s");
    let gw = gateway(store.clone(), provider, Some(transport));
    let running = serve(&gateway_config(fast_outbox()), gw).await;
    let api = format!("{}/api", running.base_url());
    for n in 0..20 {
        for k in 0..3 {
            let (status, body) = post(
                &format!("{api}/customers"),
                json!({"phone": phone(n).as_str()}),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            let (status, body) = post(
                &format!("{api}/customers/{}/credits", phone(n).as_str()),
                json!({"amount": n + 1, "transaction_id": format!("t-{n}-{k}")}),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
    }
    drain(store.as_ref(), Duration::from_secs(20)).await;
    assert!(emu.faults_injected() > 0, "the emulator did inject faults");
    for n in 0..20 {
        let c = emu.customer(phone(n).as_str()).expect("delivered");
        assert_eq!(c.balance, Decimal::from(3 * (n + 1)), "customer {n}");
    }
    let dead = dead_letters(store.as_ref()).await;
    assert!(dead.is_empty(), "{dead:?}");
    running.shutdown().await;
    store.close().await;
}

async fn restart_midway_loses_nothing(db: Db) {
    let Some(tdb) = TestDb::new(db).await else {
        return;
    };
    // A window the backlog fills at once (10 per 3 s): a gateway that forgot it after the crash
    // would send 10 more at once and collect 429s. The client's window is 200 ms longer, for
    // the jitter between its grant and the vendor's arrival clock on a loaded machine.
    let quota = vec![QuotaWindow {
        limit: 10,
        per: Duration::from_secs(3),
    }];
    let plan = "10/3200ms".to_owned();
    let (emu_srv, emu) = emulator(quota, Faults::default()).await;
    let config = gateway_config(fast_outbox());
    let total = 30u32;
    {
        let store = tdb.open().await;
        let quota = SharedQuota::new(store.clone());
        let (provider, transport) = passquare_provider_with(&emu_srv.base_url(), &plan, &quota);
        let running = serve(&config, gateway(store.clone(), provider, Some(transport))).await;
        let api = format!("{}/api", running.base_url());
        for n in 0..total {
            post(
                &format!("{api}/customers"),
                json!({"phone": phone(n).as_str()}),
            )
            .await;
            let (status, _) = post(
                &format!("{api}/customers/{}/credits", phone(n).as_str()),
                json!({"amount": 7, "transaction_id": format!("r-{n}")}),
            )
            .await;
            assert_eq!(status, 200);
        }
        // Crash with the backlog partly delivered (the scaled quota keeps it from finishing).
        running.abort();
    }
    let synced = (0..total)
        .filter(|n| {
            emu.customer(phone(*n).as_str())
                .is_some_and(|c| c.balance == dec!(7))
        })
        .count();
    assert!(
        synced < total as usize,
        "the crash came mid-way ({synced} of {total} synced)"
    );
    let store = tdb.open().await;
    let quota = SharedQuota::new(store.clone());
    let (provider, transport) = passquare_provider_with(&emu_srv.base_url(), &plan, &quota);
    let mut config = config;
    config.outbox.lease = Duration::from_millis(500);
    let running = serve(&config, gateway(store.clone(), provider, Some(transport))).await;
    let api = format!("{}/api", running.base_url());
    // Retried credits after the restart are recognised.
    let (_, again) = post(
        &format!("{api}/customers/{}/credits", phone(0).as_str()),
        json!({"amount": 7, "transaction_id": "r-0"}),
    )
    .await;
    assert_eq!(again["applied"], false, "{again}");
    drain(store.as_ref(), Duration::from_secs(30)).await;
    for n in 0..total {
        let c = emu
            .customer(phone(n).as_str())
            .expect("delivered after restart");
        assert_eq!(c.balance, dec!(7), "customer {n}");
    }
    // The quota's windows live in the store: the restarted gateway knows what the crashed one
    // sent in the current window, so the vendor never answers 429, not even right after it.
    assert_eq!(emu.quota_rejections(), 0, "a 429 after the restart");
    let dead = dead_letters(store.as_ref()).await;
    assert!(
        dead.is_empty(),
        "{dead:?} ({} 429s)",
        emu.quota_rejections()
    );
    running.shutdown().await;
    store.close().await;
}

async fn permanent_failures_are_dead_letters_and_can_be_retried(db: Db) {
    let Some((_tdb, store)) = TestDb::with_store(db).await else {
        return;
    };
    let (emu_srv, _emu) = emulator(Vec::new(), Faults::default()).await;
    // A wrong app_key: the vendor answers 401, a permanent error.
    let quota = walletport_http::QuotaPlan::parse("100/s").expect("plan");
    let mut cfg = walletport_passquare::PassquareConfig::new("wrong-key");
    cfg.base_url = emu_srv.base_url();
    cfg.plan = walletport_passquare::Plan::Custom(quota);
    let provider = walletport_core::Checked::wrap(std::sync::Arc::new(
        walletport_passquare::PassquareProvider::new(cfg).expect("provider"),
    ));
    let gw = gateway(store.clone(), provider, None);
    let mut config = gateway_config(fast_outbox());
    config.server.api_token = Some("api-token-4411".to_owned().into());
    let running = serve(&config, gw).await;
    let api = format!("{}/api", running.base_url());
    let auth = |r: reqwest::RequestBuilder| r.bearer_auth("api-token-4411");
    let resp = http()
        .post(format!("{api}/customers"))
        .json(&json!({"phone": phone(1).as_str()}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 401, "no token, no API");
    let resp = auth(http().post(format!("{api}/customers")))
        .json(&json!({"phone": phone(1).as_str()}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    let dead = eventually(Duration::from_secs(10), "a dead letter", || async {
        let body: Value = auth(http().get(format!("{api}/outbox?list=dead")))
            .json_answer()
            .await;
        body["items"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
            .then_some(body)
    })
    .await;
    let id = dead["items"][0]["id"].as_i64().expect("id");
    assert!(
        dead["items"][0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("unauthenticated")),
        "{dead}"
    );
    let retried: Value = auth(http().post(format!("{api}/outbox/{id}/retry")))
        .json_answer()
        .await;
    assert!(retried["id"].as_i64().is_some_and(|n| n > id), "{retried}");
    let resp = auth(http().post(format!("{api}/outbox/999999/retry")))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 404);
    running.shutdown().await;
    store.close().await;
}

async fn passteam_webhook_repeats_are_processed_once(db: Db) {
    let Some((_tdb, store)) = TestDb::with_store(db).await else {
        return;
    };
    let provider = std::sync::Arc::new(Recorder::default());
    let gw = gateway(store.clone(), provider.clone(), None);
    let running = serve(&gateway_config(fast_outbox()), gw).await;
    let url = format!("{}/hooks/passteam", running.base_url());
    let hook = |event: &str, id: &str, installed_aw: u8| {
        json!({"webhookId": id, "event": event, "card": {
            "cardId": "5e451571cea6c6141807b792", "cardCode": "000000018",
            "phoneNumber": phone(9).as_str(), "values": {}, "voided": 0,
            "installedAW": installed_aw, "installedGPay": 0, "templateId": "t1"}})
    };
    // The creation webhook delivered five times, then the install.
    let deliveries =
        std::iter::repeat_n(("createCard", "wh-1", 0), 5).chain([("installCard", "wh-2", 1)]);
    for (event, id, installed_aw) in deliveries {
        let resp = http()
            .post(&url)
            .json(&hook(event, id, installed_aw))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 200, "{event} {id}");
    }
    let p = phone(9);
    eventually(Duration::from_secs(10), "webhooks applied", || async {
        let installed = match store.get_customer(&CustomerKey::Phone(p.clone())).await {
            Ok(Some(c)) => store
                .list_cards(&c.id)
                .await
                .ok()
                .is_some_and(|cards| cards.len() == 1 && cards[0].installed.apple),
            _ => false,
        };
        installed.then_some(())
    })
    .await;
    let resp = http()
        .post(&url)
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    running.shutdown().await;
    // Passteam repeats after hours — after a restart, the in-process claims are gone, and the
    // durable record still makes the repeat change nothing.
    let gw = gateway(store.clone(), provider.clone(), None);
    let running = serve(&gateway_config(fast_outbox()), gw).await;
    let url = format!("{}/hooks/passteam", running.base_url());
    http()
        .post(&url)
        .json(&hook("createCard", "wh-1", 0))
        .send()
        .await
        .expect("send");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cards = cards_of(store.as_ref(), &p).await;
    assert!(
        cards[0].installed.apple,
        "the repeat did not undo the install"
    );
    running.shutdown().await;
    assert!(provider.sent().is_empty(), "webhooks are never echoed");
    store.close().await;
}

/// A merchant whose template calls the phone variable `TEL` (issue 12, item 2): the gateway's
/// webhooks read the holder from the configured `[provider.fields]`, not the document's example.
async fn passteam_webhooks_read_the_phone_from_the_configured_variable(db: Db) {
    let Some((_tdb, store)) = TestDb::with_store(db).await else {
        return;
    };
    let holder = phone(11);
    store
        .upsert_customer(
            &walletport_core::Customer::new(holder.clone()),
            walletport_store::WriteOpts::now().no_echo(),
        )
        .await
        .expect("customer");
    let mut config = gateway_config(fast_outbox());
    let provider: walletport_passteam::PassteamConfig = serde_json::from_value(
        json!({"token": "t", "fields": {"phone": "TEL", "balance": "POINTS"}}),
    )
    .expect("passteam config");
    config.hooks.passteam.provider = Some(provider);
    let provider = std::sync::Arc::new(Recorder::default());
    let gw = gateway(store.clone(), provider, None);
    let running = serve(&config, gw).await;
    let (status, _) = post(
        &format!("{}/hooks/passteam", running.base_url()),
        json!({"webhookId": "wh-tel-1", "event": "installCard", "card": {
            "cardId": "5e451571cea6c6141807b7aa", "cardCode": "000000042", "phoneNumber": "",
            "values": {"TEL": holder.as_str(), "POINTS": "5"}, "voided": 0,
            "installedAW": 1, "installedGPay": 0, "templateId": "t1"}}),
    )
    .await;
    assert_eq!(status, 200);
    let gw = running.gateway();
    eventually(
        Duration::from_secs(10),
        "the webhook reached the holder",
        || async {
            let cards = cards_of(store.as_ref(), &holder).await;
            cards.iter().any(|c| c.installed.apple).then_some(())
        },
    )
    .await;
    assert_eq!(
        gw.metrics
            .hook_count("passteam", "installCard", "unknown_card"),
        0
    );
    running.shutdown().await;
}
