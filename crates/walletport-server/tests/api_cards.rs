//! The card and template routes over real HTTP: issue / read / update / status of a stored
//! customer's card at the vendor (the store records the card and its status), template create /
//! update, typed 400 / 401 / 404 / 501 answers, and the routes in the OpenAPI document.

mod support;

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use support::*;
use walletport_server::{Gateway, RunningGateway, start_on};

const TOKEN: &str = "cards-test-token-5e1";

async fn serve(gw: Gateway) -> RunningGateway {
    let mut config = gateway_config(fast_outbox());
    config.server.api_token = Some(SecretString::from(TOKEN));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    start_on(listener, &config, gw).await.expect("start")
}

/// One authorised call: its status and JSON body.
async fn call(c: &Client, method: Method, url: String, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = c.request(method, url).bearer_auth(TOKEN);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Fails unless the answer is `status` with an error of `kind`.
fn assert_error(answer: (StatusCode, Value), status: StatusCode, kind: &str, what: &str) {
    assert_eq!(answer.0, status, "{what}: {}", answer.1);
    assert_eq!(answer.1["error"]["kind"], kind, "{what}: {}", answer.1);
}

async fn create_customer(c: &Client, base: &str, phone: &str) {
    let (status, body) = call(
        c,
        Method::POST,
        format!("{base}/api/customers"),
        Some(json!({"phone": phone, "name": "Joe", "bonus_percent": "5"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_card_life_cycle_and_templates() {
    let tdb = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let store = tdb.open().await;
    let provider = walletport_core::Checked::wrap(Arc::new(
        walletport_memory::MemoryProvider::open(&Default::default()).expect("memory"),
    ));
    let running = serve(Gateway::new(store.clone(), provider)).await;
    let base = running.base_url();
    let c = Client::new();
    let phone = phone(1).to_string();
    let card_url = format!("{base}/api/customers/{phone}/card");

    // The routes are behind the token and in the OpenAPI document.
    let r = c.get(&card_url).send().await.expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let doc: Value = c.get(format!("{base}/openapi.json")).json_answer().await;
    for (path, method) in [
        ("/api/customers/{key}/card", "post"),
        ("/api/customers/{key}/card", "patch"),
        ("/api/customers/{key}/card/status", "put"),
        ("/api/templates", "post"),
        ("/api/templates/{id}", "put"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }

    assert_error(
        call(&c, Method::POST, card_url.clone(), Some(json!({}))).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "issue for an unknown customer",
    );
    create_customer(&c, &base, &phone).await;
    let (status, card) = call(
        &c,
        Method::POST,
        card_url.clone(),
        Some(json!({"fields": {"tier": "gold"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{card}");
    assert_eq!(card["fields"]["tier"], "gold", "{card}");
    let card_id = card["id"].clone();
    assert!(card_id.is_string(), "{card}");
    let (_, detail) = call(
        &c,
        Method::GET,
        format!("{base}/api/customers/{phone}"),
        None,
    )
    .await;
    assert_eq!(detail["cards"][0]["vendor_card_id"], card_id, "{detail}");
    assert_eq!(detail["cards"][0]["status"], "active", "{detail}");

    let (status, got) = call(&c, Method::GET, card_url.clone(), None).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["id"], card_id);

    let (status, updated) = call(
        &c,
        Method::PATCH,
        card_url.clone(),
        Some(json!({"fields": {"tier": "silver"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["fields"]["tier"], "silver");
    // Points belong to the store (/credits): a card update does not take them.
    assert_error(
        call(
            &c,
            Method::PATCH,
            card_url.clone(),
            Some(json!({"points": "100"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        "points in a card update",
    );

    let status_url = format!("{card_url}/status");
    assert_error(
        call(
            &c,
            Method::PUT,
            status_url.clone(),
            Some(json!({"status": "lost"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        "unknown status",
    );
    let (status, voided) = call(
        &c,
        Method::PUT,
        status_url,
        Some(json!({"status": "voided"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{voided}");
    assert_eq!(voided["status"], "voided");
    let (_, detail) = call(
        &c,
        Method::GET,
        format!("{base}/api/customers/{phone}"),
        None,
    )
    .await;
    assert_eq!(detail["cards"][0]["status"], "voided", "store follows");

    let (status, created) = call(
        &c,
        Method::POST,
        format!("{base}/api/templates"),
        Some(json!({"name": "Club", "fields": [{"name": "tier"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().expect("template id").to_owned();
    let (status, renamed) = call(
        &c,
        Method::PUT,
        format!("{base}/api/templates/{id}"),
        Some(json!({"name": "Club 2"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["name"], "Club 2");
    let (_, got) = call(&c, Method::GET, format!("{base}/api/templates/{id}"), None).await;
    assert_eq!(got["name"], "Club 2");
    assert_error(
        call(
            &c,
            Method::PUT,
            format!("{base}/api/templates/{id}"),
            Some(json!({"id": "other", "name": "X"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        "id in body differs from path",
    );
    assert_error(
        call(
            &c,
            Method::POST,
            format!("{base}/api/templates"),
            Some(json!({"fields": []})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        "template without name",
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passquare_issues_cards_but_has_no_status_or_template_writes() {
    let (emu_server, _emu) = emulator(Vec::new(), Default::default()).await;
    let tdb = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let store = tdb.open().await;
    let (provider, transport) = passquare_provider(&emu_server.base_url(), "1000/s");
    let running = serve(gateway(store.clone(), provider, Some(transport))).await;
    let base = running.base_url();
    let c = Client::new();
    let phone = phone(2).to_string();
    create_customer(&c, &base, &phone).await;
    drain(store.as_ref(), Duration::from_secs(10)).await;

    let card_url = format!("{base}/api/customers/{phone}/card");
    let (status, card) = call(&c, Method::POST, card_url.clone(), Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{card}");
    assert!(
        card["links"].as_object().is_some_and(|l| !l.is_empty()),
        "{card}"
    );
    let (status, got) = call(&c, Method::GET, card_url.clone(), None).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["number"], card["number"]);

    assert_error(
        call(
            &c,
            Method::PUT,
            format!("{card_url}/status"),
            Some(json!({"status": "voided"})),
        )
        .await,
        StatusCode::NOT_IMPLEMENTED,
        "unsupported",
        "passquare card status",
    );
    assert_error(
        call(
            &c,
            Method::POST,
            format!("{base}/api/templates"),
            Some(json!({"name": "Club"})),
        )
        .await,
        StatusCode::NOT_IMPLEMENTED,
        "unsupported",
        "passquare template create",
    );
    let (status, refused) = call(
        &c,
        Method::POST,
        format!("{base}/api/links"),
        Some(json!({"name": "Signup", "variables": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{refused}");
    assert_eq!(refused["error"]["kind"], "unsupported", "{refused}");
    assert_eq!(refused["error"]["provider"], "passquare", "{refused}");
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
    let tdb = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let store = tdb.open().await;
    let running = serve(Gateway::new(store.clone(), provider).with_skycore(adapter)).await;
    let base = running.base_url();
    let c = Client::new();
    let phone = phone(3).to_string();
    create_customer(&c, &base, &phone).await;

    let card_url = format!("{base}/api/customers/{phone}/card");
    let (status, card) = call(&c, Method::POST, card_url.clone(), Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{card}");
    let pass_id = card["id"].as_str().expect("pass id").to_owned();
    assert!(emu.pass_ids().contains(&pass_id), "{card}");
    let (status, redeemed) = call(
        &c,
        Method::PUT,
        format!("{card_url}/status"),
        Some(json!({"status": "redeemed"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{redeemed}");
    assert_eq!(redeemed["status"], "redeemed");
    let (_, detail) = call(
        &c,
        Method::GET,
        format!("{base}/api/customers/{phone}"),
        None,
    )
    .await;
    assert_eq!(detail["cards"][0]["vendor_card_id"], pass_id.as_str());
    assert_eq!(detail["cards"][0]["status"], "redeemed", "{detail}");

    let template = json!({
        "name": "Club card",
        "layout": "loyalty-card-type2",
        "settings": {
            "appearance": {"program-logo": "https://x.invalid/l.png",
                "program-logo-gpay": "https://x.invalid/g.png", "card-issuer": "Shop",
                "background-color": "#112233"},
            "apple-wallet-fields": {"text-color": "", "description": "d"},
            "barcode-fields": {"barcode-type": "QRCODE"},
            "universal-fields": {"program-name": "Club"}
        }
    });
    let (status, created) = call(
        &c,
        Method::POST,
        format!("{base}/api/templates"),
        Some(template),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().expect("template id").to_owned();
    assert!(emu.templates().iter().any(|(t, _)| *t == id), "{created}");

    // Issuance links: created and changed at Skycore, refused with 400 when malformed.
    let mut link = json!({
        "name": "Spring signup",
        "status": "active",
        "variables": {"pass-id": {"required": true}, "loyalty-points-value": {}}
    });
    let (status, made) = call(
        &c,
        Method::POST,
        format!("{base}/api/links"),
        Some(link.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let link_id = made["id"].as_str().expect("link id").to_owned();
    assert!(made["preview_url"].is_string(), "{made}");
    link["status"] = json!("inactive");
    let (status, changed) = call(
        &c,
        Method::PUT,
        format!("{base}/api/links/{link_id}"),
        Some(link),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let (stored, _) = emu.issuance_link(&link_id).expect("link stored");
    assert_eq!(stored["link-status"], "INACTIVE");
    assert_error(
        call(
            &c,
            Method::POST,
            format!("{base}/api/links"),
            Some(json!({"name": "x", "variables": {}, "colour": "red"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        "an unknown key in a link",
    );
    running.shutdown().await;
}
