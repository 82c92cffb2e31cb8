use std::net::SocketAddr;

use serde_json::{Value, json};

use super::*;
use crate::common::one_window;

/// A running emulator and the client that calls it.
struct Api {
    server: RunningServer,
    http: reqwest::Client,
}

impl Api {
    /// `POST /api/v2/<method>` with `body`, the sandbox app key added unless it names one.
    async fn call(&self, method: &str, mut body: Value) -> (u16, Value) {
        if body.get("app_key").is_none() {
            body["app_key"] = json!("sandbox-app-key");
        }
        let resp = self
            .http
            .post(format!("{}/api/v2/{method}", self.server.base_url()))
            .json(&body)
            .send()
            .await
            .expect("send");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

async fn start(config: PassquareEmulatorConfig) -> (Api, PassquareEmulator) {
    let (server, emu) = PassquareEmulator::spawn(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("spawn");
    let http = reqwest::Client::new();
    (Api { server, http }, emu)
}

#[tokio::test]
async fn app_key_methods_and_validation() {
    let (api, emu) = start(PassquareEmulatorConfig::unlimited()).await;
    let (st, body) = api.call("status", json!({"app_key": "wrong"})).await;
    assert_eq!((st, body["success"].clone()), (401, json!(false)));
    let (st, body) = api.call("status", json!({})).await;
    assert_eq!(
        (st, body),
        (
            200,
            json!({"app": "walletport-sandbox", "balance": "980.00"})
        )
    );
    let (st, _) = api.call("crm/nothing", json!({})).await;
    assert_eq!(st, 404);
    for bad in [
        json!({"phone": "nope"}),
        json!({"phone": "+420000000001", "bonus": "150"}),
        json!({"phone": "+420000000001", "birthday": "1980-01-25"}),
        json!({"phone": "+420000000001", "email": "no-at-sign"}),
        json!({"phone": "+420000000001", "balance": "ten"}),
    ] {
        let (st, body) = api.call("crm/user_create_or_update", bad.clone()).await;
        assert_eq!(st, 400, "{bad} -> {body}");
    }
    assert_eq!(emu.customer_count(), 0, "bad input changes nothing");
    let (st, _) = api
        .call(
            "crm/user_create_or_update",
            json!({"phone": "+420000000009", "push": "hi"}),
        )
        .await;
    assert_eq!(st, 404, "push to an unknown customer");
}

#[tokio::test]
async fn cards_numbers_links_and_the_card_modified_rule() {
    let mut config = PassquareEmulatorConfig::unlimited();
    config.first_card_number = 700;
    let (api, emu) = start(config).await;
    let (st, a) = api
        .call(
            "crm/user_create_or_update",
            json!({"phone": "420000000001", "name": "Joe",
        "link": "https://form.example/f", "sms": "Card: %link%"}),
        )
        .await;
    assert_eq!(st, 200, "{a}");
    assert_eq!(
        (
            a["card_number"].clone(),
            a["card"].clone(),
            a["sms_send"].clone()
        ),
        (json!("700"), json!(true), json!(true))
    );
    assert!(
        a["card_url"]
            .as_str()
            .is_some_and(|u| u.ends_with(".pkpass"))
    );
    let hash = a["user_hash"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        emu.sms_log()[0].text,
        format!("Card: https://form.example/f/?hash={hash}")
    );
    let (_, b) = api
        .call(
            "crm/user_create_or_update",
            json!({"phone": "+420000000002"}),
        )
        .await;
    assert_eq!(b["card_number"], "701");
    let (_, again) = api
        .call(
            "crm/user_create_or_update",
            json!({"phone": "+420000000001"}),
        )
        .await;
    assert_eq!(
        (again["card_number"].clone(), again["card"].clone()),
        (json!("700"), json!(false))
    );

    api.call(
        "crm/user_create_or_update",
        json!({"phone": "+420000000001", "push": "Order ready"}),
    )
    .await;
    api.call(
        "crm/user_create_or_update",
        json!({"phone": "+420000000001", "bonus": "5", "push": "Hi"}),
    )
    .await;
    let kinds: Vec<_> = emu
        .push_log()
        .into_iter()
        .map(|p| (p.kind, p.text))
        .collect();
    assert_eq!(kinds[0], (PushKind::Personal, "Order ready".to_owned()));
    assert_eq!(
        kinds[1].0,
        PushKind::CardModified,
        "a push with a change becomes a notice"
    );
}

#[tokio::test]
async fn listing_filters_and_campaigns_by_segment() {
    let (api, emu) = start(PassquareEmulatorConfig::unlimited()).await;
    emu.set_clock(
        chrono::NaiveDate::from_ymd_opt(2020, 6, 1).and_then(|d| d.and_hms_opt(12, 0, 0)),
    );
    emu.seed_customers("+420600000000", 5, 2).expect("seed");
    emu.set_clock(
        chrono::NaiveDate::from_ymd_opt(2021, 6, 1).and_then(|d| d.and_hms_opt(12, 0, 0)),
    );
    emu.seed_customers("+420600000100", 3, 1).expect("seed");
    let list = |body: Value| api.call("crm/read_customers", body);
    let (_, all) = list(json!({})).await;
    assert_eq!(all["customers"].as_array().map(Vec::len), Some(8));
    let (_, y2020) =
        list(json!({"start_date": "01.01.2020", "end_date": "31.12.2020 23:59:59"})).await;
    assert_eq!(y2020["customers"].as_array().map(Vec::len), Some(5));
    let (_, inst) = list(json!({"installed": true})).await;
    assert_eq!(inst["customers"].as_array().map(Vec::len), Some(5));
    let (_, not) = list(json!({"installed": false, "offset": 1})).await;
    assert_eq!(not["customers"], json!(["+420600000002", "+420600000004"]));
    let (st, _) = list(json!({"start_date": "2020-01-01"})).await;
    assert_eq!(st, 400);

    let seg = emu
        .add_segment(
            "vip",
            &["+420600000000".to_owned(), "+420600000100".to_owned()],
        )
        .expect("segment");
    let (_, created) = api
        .call(
            "crm/push/create",
            json!({"message": "Sale", "type": "text", "segment_uuid": seg}),
        )
        .await;
    let uuid = created["result"]["uuid"].clone();
    assert_eq!(created["result"]["name"], "Push#0001");
    let (st, sent) = api.call("crm/push/send", json!({"push_uuid": uuid})).await;
    assert_eq!(
        (st, sent["result"]["recipients"].clone()),
        (200, json!(1)),
        "only installed members"
    );
    let (st, _) = api.call("crm/push/send", json!({"push_uuid": uuid})).await;
    assert_eq!(st, 400, "a campaign is sent once");
    let (st, _) = api
        .call(
            "crm/push/create",
            json!({"message": "x", "segment_uuid": "nope"}),
        )
        .await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn the_plan_answers_429_past_its_windows() {
    let config = PassquareEmulatorConfig {
        quota: one_window(2, 60),
        ..PassquareEmulatorConfig::default()
    };
    let (api, emu) = start(config).await;
    assert_eq!(api.call("status", json!({})).await.0, 200);
    assert_eq!(
        api.call("status", json!({"app_key": "wrong"})).await.0,
        401,
        "every request counts"
    );
    let resp = api
        .http
        .post(format!("{}/api/v2/status", api.server.base_url()))
        .json(&json!({"app_key": "sandbox-app-key"}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(emu.quota_rejections(), 1);
    // Admin calls are not counted.
    let resp = api
        .http
        .get(format!("{}/_admin/pushes", api.server.base_url()))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn read_customer_by_card_exists_only_in_the_examples_version() {
    for (numbers, by_card) in [(Numbers::String, false), (Numbers::Number, true)] {
        let config = PassquareEmulatorConfig {
            numbers,
            ..PassquareEmulatorConfig::unlimited()
        };
        let (api, _emu) = start(config).await;
        let (st, made) = api
            .call(
                "crm/user_create_or_update",
                json!({"phone": "+420000000001"}),
            )
            .await;
        assert_eq!(st, 200, "{made}");
        let number = made["card_number"].clone();
        let (st, body) = api.call("crm/read_customer", json!({"card": number})).await;
        if by_card {
            assert_eq!(st, 200, "{body}");
            assert_eq!(body["customer"]["phone"], "+420000000001");
        } else {
            assert_eq!(st, 400, "2.7.5 has no `card` parameter: {body}");
            assert!(body["error"].as_str().is_some_and(|e| e.contains("phone")));
        }
        let (st, _) = api
            .call(
                "crm/read_customer",
                json!({"phone": "+420000000001", "card": number}),
            )
            .await;
        assert_eq!(st, 200, "a phone works in both versions");
    }
}
