//! The card and template routes over real HTTP: issue / read / update / status of a stored
//! customer's card at the vendor (the store records the card and its status), template create /
//! update, typed 400 / 401 / 404 / 501 answers, and the routes in the OpenAPI document.

mod support;

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use support::*;
use walletport_core::{Capability, Card, CardId, CustomerKey, op};
use walletport_server::{Gateway, RunningGateway};
use walletport_store::{NewCard, WriteOpts};
use walletport_testkit::StubProvider;

const TOKEN: &str = "cards-test-token-5e1";

/// Serves `gw` behind [`TOKEN`]; a client that sends it.
async fn serve_with_token(gw: Gateway) -> (RunningGateway, Rest) {
    let mut config = gateway_config(fast_outbox());
    config.server.api_token = Some(SecretString::from(TOKEN));
    let running = serve(&config, gw).await;
    let api = Rest::new(&running).with_token(TOKEN);
    (running, api)
}

/// A customer of `phone` with a name and a bonus percentage.
fn joe(phone: &str) -> Value {
    json!({"phone": phone, "name": "Joe", "bonus_percent": "5"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_card_life_cycle_and_templates() {
    let (_tdb, store) = TestDb::with_store(Db::Sqlite).await.expect("sqlite");
    let (running, api) = serve_with_token(Gateway::new(store.clone(), memory_provider())).await;
    let phone = phone(1).to_string();
    let card = format!("/api/customers/{phone}/card");

    // The routes are behind the token and in the OpenAPI document.
    let r = api.c.get(api.url(&card)).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 401);
    let doc: Value = api.c.get(api.url("/openapi.json")).json_answer().await;
    for (path, method) in [
        ("/api/customers/{key}/card", "post"),
        ("/api/customers/{key}/card", "patch"),
        ("/api/customers/{key}/card/status", "put"),
        ("/api/templates", "post"),
        ("/api/templates/{id}", "put"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }

    assert_refused(
        &api.call("POST", &card, json!({})).await,
        404,
        "not_found",
        "issue for an unknown customer",
    );
    api.create_customer(joe(&phone)).await;
    let issued = api
        .ok("POST", &card, json!({"fields": {"tier": "gold"}}))
        .await;
    assert_eq!(issued["fields"]["tier"], "gold", "{issued}");
    let card_id = issued["id"].clone();
    assert!(card_id.is_string(), "{issued}");
    let customer = format!("/api/customers/{phone}");
    let (_, detail) = api.call("GET", &customer, Value::Null).await;
    assert_eq!(detail["cards"][0]["vendor_card_id"], card_id, "{detail}");
    assert_eq!(detail["cards"][0]["status"], "active", "{detail}");

    let got = api.ok("GET", &card, Value::Null).await;
    assert_eq!(got["id"], card_id);

    let updated = api
        .ok("PATCH", &card, json!({"fields": {"tier": "silver"}}))
        .await;
    assert_eq!(updated["fields"]["tier"], "silver");
    // Points belong to the store (/credits): a card update does not take them.
    assert_refused(
        &api.call("PATCH", &card, json!({"points": "100"})).await,
        400,
        "invalid_input",
        "points in a card update",
    );

    let status = format!("{card}/status");
    assert_refused(
        &api.call("PUT", &status, json!({"status": "lost"})).await,
        400,
        "invalid_input",
        "unknown status",
    );
    // A second card of the customer at the same provider: the status change is not its.
    let provider = detail["cards"][0]["provider"].as_str().expect("provider");
    let stored = store
        .get_customer(&CustomerKey::Phone(phone.parse().expect("phone")))
        .await
        .expect("read")
        .expect("stored");
    let other = NewCard {
        provider: provider.to_owned(),
        vendor_card_id: Some(CardId::new("other-card").expect("card id")),
        ..NewCard::default()
    };
    let opts = WriteOpts::at(chrono::Utc::now());
    store
        .attach_card(&stored.id, &other, opts)
        .await
        .expect("second card");
    let voided = api.ok("PUT", &status, json!({"status": "voided"})).await;
    assert_eq!(voided["status"], "voided");
    let (_, detail) = api.call("GET", &customer, Value::Null).await;
    assert_eq!(detail["cards"][0]["status"], "voided", "store follows");
    assert_eq!(
        (
            &detail["cards"][1]["vendor_card_id"],
            &detail["cards"][1]["status"]
        ),
        (&json!("other-card"), &json!("active")),
        "only the card the vendor changed follows: {detail}"
    );

    let created = api
        .ok(
            "POST",
            "/api/templates",
            json!({"name": "Club", "fields": [{"name": "tier"}]}),
        )
        .await;
    let template = format!(
        "/api/templates/{}",
        created["id"].as_str().expect("template id")
    );
    let renamed = api.ok("PUT", &template, json!({"name": "Club 2"})).await;
    assert_eq!(renamed["name"], "Club 2");
    let (_, got) = api.call("GET", &template, Value::Null).await;
    assert_eq!(got["name"], "Club 2");
    assert_refused(
        &api.call("PUT", &template, json!({"id": "other", "name": "X"}))
            .await,
        400,
        "invalid_input",
        "id in body differs from path",
    );
    assert_refused(
        &api.call("POST", "/api/templates", json!({"fields": []}))
            .await,
        400,
        "invalid_input",
        "template without name",
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passquare_issues_cards_but_has_no_status_or_template_writes() {
    let (emu_server, _emu) = emulator(Vec::new(), Default::default()).await;
    let (_tdb, store) = TestDb::with_store(Db::Sqlite).await.expect("sqlite");
    let (provider, transport) = passquare_provider(&emu_server.base_url(), "1000/s");
    let (running, api) = serve_with_token(gateway(store.clone(), provider, Some(transport))).await;
    let phone = phone(2).to_string();
    api.create_customer(joe(&phone)).await;
    drain(store.as_ref(), Duration::from_secs(10)).await;

    let card_url = format!("/api/customers/{phone}/card");
    let card = api.ok("POST", &card_url, json!({})).await;
    assert!(
        card["links"].as_object().is_some_and(|l| !l.is_empty()),
        "{card}"
    );
    let got = api.ok("GET", &card_url, Value::Null).await;
    assert_eq!(got["number"], card["number"]);

    assert_refused(
        &api.call(
            "PUT",
            &format!("{card_url}/status"),
            json!({"status": "voided"}),
        )
        .await,
        501,
        "unsupported",
        "passquare card status",
    );
    assert_refused(
        &api.call("POST", "/api/templates", json!({"name": "Club"}))
            .await,
        501,
        "unsupported",
        "passquare template create",
    );
    let refused = api
        .call(
            "POST",
            "/api/links",
            json!({"name": "Signup", "variables": {}}),
        )
        .await;
    assert_refused(&refused, 501, "unsupported", "passquare issuance link");
    assert_eq!(refused.1["error"]["provider"], "passquare", "{}", refused.1);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skycore_card_status_and_template_create() {
    use walletport_sandbox::skycore::{SkycoreEmulator, SkycoreEmulatorConfig};
    let emu_config = SkycoreEmulatorConfig::default();
    let key = emu_config.api_key.clone();
    let (emu_server, emu) =
        SkycoreEmulator::spawn(emu_config, "127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("spawn emulator");
    let config = walletport::ProviderConfig::from_toml(&format!(
        "kind = \"skycore\"\nendpoint = \"{}\"\napi_key = \"{key}\"\n\
         template_id = \"sandbox-layout-1\"\nrate_limit = \"1000/s\"\n",
        emu_server.base_url()
    ))
    .expect("config");
    // As `walletport serve` builds it: one adapter behind the provider and the links.
    let adapter = Arc::new(
        walletport_skycore::SkycoreProvider::new(match &config {
            walletport::ProviderConfig::Skycore(c) => c.clone(),
            _ => unreachable!("a skycore config"),
        })
        .expect("skycore"),
    );
    let provider = walletport_core::Checked::wrap(adapter.clone());
    let (_tdb, store) = TestDb::with_store(Db::Sqlite).await.expect("sqlite");
    let gw = Gateway::new(store.clone(), provider).with_skycore(adapter);
    let (running, api) = serve_with_token(gw).await;
    let phone = phone(3).to_string();
    api.create_customer(joe(&phone)).await;

    let card_url = format!("/api/customers/{phone}/card");
    let card = api.ok("POST", &card_url, json!({})).await;
    let pass_id = card["id"].as_str().expect("pass id").to_owned();
    assert!(emu.pass_ids().contains(&pass_id), "{card}");
    let redeemed = api
        .ok(
            "PUT",
            &format!("{card_url}/status"),
            json!({"status": "redeemed"}),
        )
        .await;
    assert_eq!(redeemed["status"], "redeemed");
    let (_, detail) = api
        .call("GET", &format!("/api/customers/{phone}"), Value::Null)
        .await;
    assert_eq!(detail["cards"][0]["vendor_card_id"], pass_id.as_str());
    assert_eq!(detail["cards"][0]["status"], "redeemed", "{detail}");

    let template = walletport_sandbox::skycore::sample_template("Club card");
    let created = api.ok("POST", "/api/templates", template).await;
    let id = created["id"].as_str().expect("template id").to_owned();
    assert!(emu.templates().iter().any(|(t, _)| *t == id), "{created}");

    // Issuance links: created and changed at Skycore, refused with 400 when malformed.
    let mut link = json!({
        "name": "Spring signup",
        "status": "active",
        "variables": {"pass-id": {"required": true}, "loyalty-points-value": {}}
    });
    let made = api.ok("POST", "/api/links", link.clone()).await;
    let link_id = made["id"].as_str().expect("link id").to_owned();
    assert!(made["preview_url"].is_string(), "{made}");
    link["status"] = json!("inactive");
    api.ok("PUT", &format!("/api/links/{link_id}"), link).await;
    let (stored, _) = emu.issuance_link(&link_id).expect("link stored");
    assert_eq!(stored["link-status"], "INACTIVE");
    assert_refused(
        &api.call(
            "POST",
            "/api/links",
            json!({"name": "x", "variables": {}, "colour": "red"}),
        )
        .await,
        400,
        "invalid_input",
        "an unknown key in a link",
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_the_vendor_issued_but_the_store_refused_is_named_in_the_error() {
    let (_tdb, store) = TestDb::with_store(Db::Sqlite).await.expect("sqlite");
    let vendor = Arc::new(StubProvider::new(Capability::ALL));
    let (running, api) = serve_with_token(Gateway::new(store.clone(), vendor.clone())).await;
    let (holder, newcomer) = (phone(5).to_string(), phone(6).to_string());
    api.create_customer(joe(&holder)).await;
    api.create_customer(joe(&newcomer)).await;
    let held = store
        .get_customer(&CustomerKey::Phone(holder.parse().expect("phone")))
        .await
        .expect("read")
        .expect("stored");
    let card = NewCard {
        provider: "stub".into(),
        number: Some("N-1".into()),
        ..NewCard::default()
    };
    let opts = WriteOpts::at(chrono::Utc::now());
    store
        .attach_card(&held.id, &card, opts)
        .await
        .expect("card");
    // The vendor answers with a card whose number the holder has: the store refuses it.
    vendor.answer(
        op::CARD_ISSUE,
        Card {
            id: Some(CardId::new("vendor-7").expect("id")),
            number: Some("N-1".into()),
            ..Card::default()
        },
    );
    let path = format!("/api/customers/{newcomer}/card");
    let answer = api.call("POST", &path, json!({})).await;
    assert_refused(
        &answer,
        409,
        "conflict",
        "a card number another customer holds",
    );
    let message = answer.1["error"]["message"].as_str().expect("message");
    assert!(message.contains("`vendor-7`"), "{message}");
    running.shutdown().await;
}
