use std::net::SocketAddr;

use serde_json::{Value, json};

use super::*;
use crate::common::one_window;

const KEY: &str = "sandbox-api-key";

/// A running emulator and a client that posts to it.
struct Api {
    server: RunningServer,
    client: reqwest::Client,
}

impl Api {
    /// Posts `body` with `key`; the raw answer, headers included.
    async fn post(&self, key: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/", self.server.base_url()))
            .header("X-Api-Key", key)
            .json(body)
            .send()
            .await
            .expect("send")
    }

    /// Posts `body` with `key`; the HTTP status and the JSON answer.
    async fn call_as(&self, key: &str, body: Value) -> (u16, Value) {
        let resp = self.post(key, &body).await;
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("json"))
    }

    /// Posts `body` with the right key; the JSON answer.
    async fn call(&self, body: Value) -> Value {
        self.call_as(KEY, body).await.1
    }
}

async fn start(config: SkycoreEmulatorConfig) -> (Api, SkycoreEmulator) {
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
    let (server, emulator) = SkycoreEmulator::spawn(config, addr).await.expect("bind");
    let client = reqwest::Client::new();
    (Api { server, client }, emulator)
}

fn generate(pass_id: &str, template: &str, data: Value) -> Value {
    json!({"action": "generatepass", "pass-template-id": template, "pass-id": pass_id,
        "pass-data": data, "pass-meta-data": {"user-phone": "420000000001"}})
}

#[tokio::test]
async fn api_key_is_checked_case_sensitively() {
    let (api, emulator) = start(SkycoreEmulatorConfig::default()).await;
    let (status, body) = api
        .call_as(&KEY.to_uppercase(), json!({"action": "getpassdata"}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["status"], "Failure");
    assert!(emulator.requests().is_empty());
}

#[tokio::test]
async fn pass_lifecycle_rename_status_and_notifications() {
    let (api, emulator) = start(SkycoreEmulatorConfig::default()).await;
    let created = api
        .call(generate(
            "p1",
            "sandbox-layout-1",
            json!({"loyalty-points": "10"}),
        ))
        .await;
    assert_eq!(created["status"], "Success");
    assert!(
        created["pass-install-url"]
            .as_str()
            .is_some_and(|u| u.contains("/wallet/gc/"))
    );
    assert_eq!(created["tracking-id"].as_str().map(str::len), Some(10));

    let dup = api
        .call(generate("p1", "sandbox-layout-1", json!({})))
        .await;
    assert_eq!(dup["status"], "Failure");
    assert_eq!(dup["error-code"], checks::E_DUPLICATE);

    let update = json!({"action": "UpdatePassData", "pass-id": "p1", "new-pass-id ": " p2",
        "pass-template-id": "sandbox-layout-1",
        "priority": true, "pass-data": {"pass-status": "VOIDED", "loyalty-points": 20,
        "pass-update-notification": "Your card was voided"}});
    let updated = api.call(update).await;
    assert_eq!(updated["status"], "Success", "{updated}");
    assert_eq!(updated["pass-id"], "p2");
    assert_eq!(emulator.pass_ids(), vec!["p2".to_owned()]);
    assert_eq!(
        emulator.notifications(),
        vec![SkycoreNotification {
            pass_id: "p2".into(),
            message: "Your card was voided".into()
        }]
    );

    let read = api
        .call(json!({"action": "getpassdata", "pass-id": "p2",
        "pass-template-id": "sandbox-layout-1"}))
        .await;
    assert_eq!(read["pass-data"]["pass-status"], "voided");
    assert_eq!(read["pass-data"]["loyalty-points"], 20);
    assert_eq!(read["pass-data"]["card-issuer"], "Sandbox Store");
    assert_eq!(read["pass-data"]["info-module"], "This pass is voided.");

    let missing = api
        .call(json!({"action": "getpassdata", "pass-id": "p1",
        "pass-template-id": "sandbox-layout-1"}))
        .await;
    assert_eq!(missing["status"], "FAILURE");
    assert_eq!(missing["error-code"], "E808");

    // pass-template-id is mandatory, and must be the pass's own template.
    for (template, code) in [(None, "E802"), (Some("sandbox-layout-2"), "E808")] {
        let mut read = json!({"action": "getpassdata", "pass-id": "p2"});
        let mut update = json!({"action": "updatepassdata", "pass-id": "p2",
            "pass-data": {"loyalty-points": "1"}});
        if let Some(t) = template {
            read["pass-template-id"] = json!(t);
            update["pass-template-id"] = json!(t);
        }
        for body in [read, update] {
            let r = api.call(body.clone()).await;
            assert_eq!(r["error-code"], code, "{body}");
        }
    }
}

#[tokio::test]
async fn validations_answer_with_documented_codes() {
    let (api, _emulator) = start(SkycoreEmulatorConfig::default()).await;
    let layout = |t: &str| generate("p1", t, json!({"custom-field-1": "x"}));
    // In order: the third call creates `p1`.
    for (body, field, want) in [
        (generate("p1", "nope", json!({})), "error-code", "E802"),
        (layout("sandbox-layout-1"), "error-code", "E922"),
        (layout("sandbox-layout-2"), "status", "Success"),
        (
            json!({"action": "createPassIssuanceLink", "link-name": "L",
            "pass-template-id": "sandbox-layout-1", "pass-variables": {}}),
            "error-code",
            "E1543",
        ),
    ] {
        let r = api.call(body.clone()).await;
        assert_eq!(r[field], want, "{body}");
    }
}

#[tokio::test]
async fn templates_and_links_round_trip() {
    let config = SkycoreEmulatorConfig {
        alternate_keys: true,
        ..Default::default()
    };
    let (api, emulator) = start(config).await;
    let create = json!({"action": "createPassTemplate", "pass-template-type": "loyalty",
        "pass-template-subtype": "loyalty-card-type2", "pass-template-name": "T2",
        "appearance": {"program-logo": "l", "program-logo-gpay": "g", "card-issuer": "Shop", "background-color": "#112233"},
        "universal-fields": {"program-name": "P", "dynamic-pass-field-1": "custom-field-1", "custom-field-1-label": "Tier", "link1": "a@b.cz", "link1-type": "email"},
        "apple-wallet-fields": {"text-color": "#FFFFFF", "description": "d"},
        "barcode-fields": {"barcode-type": "QRCODE"}});
    let created = api.call(create).await;
    let id = created["pass-template-id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(id.len(), 32, "{created}");
    assert!(emulator.templates().contains(&(id.clone(), Layout::Two)));

    let updated = api
        .call(
            json!({"action": "UpdatePassTemplate", "pass-template-id": id,
        "pass-template-name": "T2b", "appearance": {"background-color": "#445566"}}),
        )
        .await;
    assert_eq!(updated["pass-template-name"], "T2b", "{updated}");
    let bad = api
        .call(
            json!({"action": "updatePassTemplate", "pass-template-id": id,
        "appearance": {"background-color": "red"}}),
        )
        .await;
    assert_eq!(
        bad["error-message"],
        "The background-color value is invalid."
    );

    let got = api
        .call(json!({"action": "getpasstemplate", "pass-template-id": id}))
        .await;
    let t = &got["pass-template"];
    assert_eq!(t["pass-name"], "T2b");
    assert_eq!(t["pass-issuer"], "Shop");
    assert_eq!(t["link1-URI"], "a@b.cz");
    assert_eq!(t["dynamic-pass-field-1"], "custom-field-1");

    let pass = api
        .call(generate("p9", &id, json!({"custom-field-1": "Gold"})))
        .await;
    assert_eq!(pass["status"], "Success");
    let read = api
        .call(json!({"action": "getpassdata", "pass-id": "p9", "pass-template-id": id}))
        .await;
    assert_eq!(
        read["pass-data"]["pass-issuer"], "Shop",
        "alternate keys: {read}"
    );
    assert_eq!(read["pass-data"]["custom-field-1"], "Gold");

    let link = api
        .call(json!({"action": "createPassIssuanceLink", "link-name": "L",
        "pass-template-id": id, "link-status": "ACTIVE",
        "pass-variables": {"pass-id": {"is-required": true, "value-encryption": false},
                           "loyalty-points-value": {"is-required": true, "value-encryption": true}}}))
        .await;
    let link_id = link["pass-issuance-link-template-id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        link["preview-url"].as_str().is_some_and(|u| u.ends_with(
            "loyalty-points-value=Encrypted({ Parameter Value })&pass-id={ Parameter Value }"
        )),
        "{link}"
    );
    let upd = api
        .call(
            json!({"action": "updatePassIssuanceLink", "issuance-link-id": link_id,
        "link-status": "INACTIVE"}),
        )
        .await;
    assert_eq!(upd["status"], "Success", "{upd}");
    assert_eq!(
        emulator
            .issuance_link(&link_id)
            .map(|(b, _)| b["link-status"].clone()),
        Some(json!("INACTIVE"))
    );
    let missing = api
        .call(json!({"action": "updatePassIssuanceLink", "issuance-link-id": "x"}))
        .await;
    assert_eq!(missing["error-code"], checks::E_LINK);
}

#[tokio::test]
async fn faults_are_injected() {
    let config = SkycoreEmulatorConfig {
        faults: Faults {
            unavailable_rate: 1.0,
            ..Faults::default()
        },
        ..Default::default()
    };
    let (api, emulator) = start(config).await;
    let resp = api
        .client
        .post(api.server.base_url())
        .header("X-Api-Key", KEY)
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(emulator.faults_injected(), 1);
}

#[tokio::test]
async fn an_injected_internal_error_comes_after_the_update_and_its_push() {
    let (api, emulator) = start(SkycoreEmulatorConfig::default()).await;
    api.call(generate("p1", "sandbox-layout-1", json!({})))
        .await;
    emulator.fail_after_processing("UpdatePassData", 1);
    let update = json!({"action": "updatepassdata", "pass-id": "p1",
        "pass-template-id": "sandbox-layout-1",
        "pass-data": {"loyalty-points": "7", "pass-update-notification": "7 points"}});
    let failed = api.call(update.clone()).await;
    assert_eq!(failed["status"], "Failure");
    assert_eq!(failed["error-code"], "E809");
    assert_eq!(
        failed["error-message"],
        "Internal Error. The pass was not updated."
    );
    assert_eq!(
        emulator.pass_data("p1").expect("kept")["loyalty-points"],
        "7"
    );
    assert_eq!(
        emulator.notifications().len(),
        1,
        "the push went out all the same"
    );
    let again = api.call(update).await;
    assert_eq!(again["status"], "Success", "one-shot: {again}");

    emulator.fail_after_processing("generatepass", 1);
    let r = api
        .call(generate("p2", "sandbox-layout-1", json!({})))
        .await;
    assert_eq!(r["error-code"], "E830");
    assert!(emulator.pass_ids().contains(&"p2".to_owned()));
}

#[tokio::test]
async fn a_configured_plan_is_enforced_with_429s() {
    let config = SkycoreEmulatorConfig {
        quota: one_window(2, 60),
        ..Default::default()
    };
    let (api, emulator) = start(config).await;
    let read = json!({"action": "getpasstemplate", "pass-template-id": "sandbox-layout-1"});
    for _ in 0..2 {
        let (status, body) = api.call_as(KEY, read.clone()).await;
        assert_eq!(
            (status, &body["status"]),
            (200, &json!("Success")),
            "{body}"
        );
    }
    // A request with a wrong key is refused before the plan and takes no slot.
    let (status, _) = api.call_as("wrong", read.clone()).await;
    assert_eq!(status, 401);
    let resp = api.post(KEY, &read).await;
    assert_eq!(resp.status().as_u16(), 429);
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(retry_after.as_deref(), Some("60"));
    let body: Value = resp.json().await.expect("json");
    assert_eq!(
        (&body["status"], &body["error-code"]),
        (&json!("Failure"), &json!("E429")),
        "{body}"
    );
    assert_eq!(emulator.quota_rejections(), 1);
    assert_eq!(emulator.request_count(), 3, "the refused one is counted");
    assert_eq!(
        emulator.requests().len(),
        2,
        "only processed ones are logged"
    );
}

#[tokio::test]
async fn no_plan_by_default() {
    let (api, emulator) = start(SkycoreEmulatorConfig::default()).await;
    let read = json!({"action": "getpasstemplate", "pass-template-id": "sandbox-layout-1"});
    for _ in 0..30 {
        let (status, _) = api.call_as(KEY, read.clone()).await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        (emulator.quota_rejections(), emulator.request_count()),
        (0, 30)
    );
}
