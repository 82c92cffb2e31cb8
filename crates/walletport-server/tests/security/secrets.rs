//! No configured secret, right or wrong, appears in anything a full run writes: logs captured at
//! TRACE level, HTTP answers, errors, `Debug` output, stored dead letters.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use walletport_core::ListTemplates;
use walletport_sandbox::Faults;
use walletport_sandbox::passquare::{CrmHookTarget, HookAuth, InstallRequest};
use walletport_store::OutboxList;

use super::wire::base64;
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_logs_errors_or_debug_output() {
    let logs = super::support::logs::capture_logs();
    let tdb = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let store = tdb.open().await;
    let faults = Faults {
        unavailable_rate: 0.3,
        seed: 11,
        ..Faults::default()
    };
    let (emu_srv, emu) = emulator(Vec::new(), faults).await;
    let config = config();
    let running = serve(store.clone(), &emu_srv.base_url(), &config).await;
    let base = running.base_url();
    let http = reqwest::Client::new();
    let mut seen = String::new();
    let mut note = |status: u16, body: &str| seen.push_str(&format!("{status} {body}\n"));

    // The vendor calls the hooks, with the key in the body and then with Basic credentials.
    let mut target = CrmHookTarget {
        url: format!("{base}/hooks/passquare"),
        crm_key: Some(CRM_KEY.into()),
        ..CrmHookTarget::default()
    };
    emu.set_crm_hook(Some(target.clone()));
    let p = phone(21);
    let installed = emu
        .install(InstallRequest {
            phone: p.to_string(),
            name: Some("Secret Keeper".into()),
            ..InstallRequest::default()
        })
        .await
        .expect("install");
    note(200, &installed.to_string());
    target.auth = HookAuth::Basic;
    target.basic_user = Some(BASIC_USER.into());
    target.basic_password = Some(BASIC_PASSWORD.into());
    emu.set_crm_hook(Some(target.clone()));
    let h = emu
        .add_balance_hook(p.as_str(), rust_decimal::Decimal::from(5), "sec-tx-1", None)
        .await
        .expect("hook");
    assert_eq!(h.status, Some(200), "{h:?}");
    note(200, &h.response.to_string());
    // ... and with wrong credentials.
    target.basic_password = Some(WRONG_CRM_KEY.into());
    emu.set_crm_hook(Some(target.clone()));
    let h = emu.read_balance_hook(p.as_str()).await.expect("hook");
    assert_eq!(h.status, Some(401), "{h:?}");
    note(401, &h.response.to_string());

    // The REST API: writes that go out through the outbox, a push, a campaign, bad tokens.
    for n in 30..36 {
        let (s, b) = send(
            http.post(format!("{base}/api/customers"))
                .bearer_auth(API_TOKEN)
                .json(&json!({"phone": phone(n).as_str(), "bonus_percent": "3"})),
        )
        .await;
        note(s, &b);
        let (s, b) = send(
            http.post(format!(
                "{base}/api/customers/{}/credits",
                phone(n).as_str()
            ))
            .bearer_auth(API_TOKEN)
            .json(&json!({"amount": "12", "transaction_id": format!("sec-{n}")})),
        )
        .await;
        note(s, &b);
    }
    for req in [
        http.post(format!("{base}/api/customers/{}/push", p.as_str()))
            .bearer_auth(API_TOKEN)
            .json(&json!({"text": "hello"})),
        http.post(format!("{base}/api/campaigns"))
            .bearer_auth(API_TOKEN)
            .json(&json!({"message": "sale"})),
        http.get(format!("{base}/api/customers"))
            .bearer_auth(WRONG_TOKEN),
        http.get(format!("{base}/api/customers/{}", p.as_str()))
            .bearer_auth(API_TOKEN),
        http.post(format!("{base}/hooks/passquare")).json(
            &json!({"crm_key": WRONG_CRM_KEY, "method": "readBalance", "customer": {"phone": p.as_str()}}),
        ),
    ] {
        let (s, b) = send(req).await;
        note(s, &b);
    }
    drain(store.as_ref(), Duration::from_secs(20)).await;
    assert!(
        emu.faults_injected() > 0,
        "deliveries met (and logged) failures"
    );

    for path in ["/metrics", "/healthz", "/openapi.json"] {
        let (s, b) = send(http.get(format!("{base}{path}"))).await;
        note(s, &b);
    }
    let mut outputs = vec![format!("{config:?}"), format!("{:?}", running.gateway())];
    running.shutdown().await;

    // A second gateway with the wrong app_key: the vendor refuses, items are dead-lettered, and
    // the dead letters are listed by the API with their error text.
    let (bad_provider, _) = {
        let mut cfg = walletport_passquare::PassquareConfig::new(WRONG_APP_KEY);
        cfg.base_url = emu_srv.base_url();
        cfg.plan = walletport_passquare::Plan::Custom(
            walletport_http::QuotaPlan::parse("500/s").expect("plan"),
        );
        let provider = walletport_passquare::PassquareProvider::new(cfg).expect("provider");
        (walletport_core::Checked::wrap(Arc::new(provider)), ())
    };
    let bad = super::support::serve(&config, gateway(store.clone(), bad_provider, None)).await;
    let (s, b) = send(
        http.put(format!(
            "{}/api/customers/{}/percentages",
            bad.base_url(),
            p.as_str()
        ))
        .bearer_auth(API_TOKEN)
        .json(&json!({"discount_percent": "7"})),
    )
    .await;
    note(s, &b);
    let dead_url = format!("{}/api/outbox?list=dead", bad.base_url());
    let (s, b) = eventually(Duration::from_secs(10), "a dead letter", || async {
        let (s, b) = send(http.get(&dead_url).bearer_auth(API_TOKEN)).await;
        b.contains("unauthenticated").then_some((s, b))
    })
    .await;
    note(s, &b);

    // The other vendors' secrets: their configs and what a refused call reports.
    let (pt_srv, _pt) = walletport_sandbox::passteam::PassteamEmulator::spawn(
        Default::default(),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("passteam emulator");
    let (sc_srv, _sc) = walletport_sandbox::skycore::SkycoreEmulator::spawn(
        Default::default(),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("skycore emulator");
    for raw in [
        json!({"kind": "passteam", "base_url": pt_srv.base_url(), "token": PASSTEAM_TOKEN,
            "login": "merchant", "password": PASSTEAM_PASSWORD}),
        json!({"kind": "passteam", "base_url": pt_srv.base_url(), "login": "merchant",
            "password": PASSTEAM_PASSWORD}),
        json!({"kind": "skycore", "endpoint": sc_srv.base_url(), "api_key": SKYCORE_API_KEY,
            "template_id": "1"}),
        json!({"kind": "passquare", "base_url": emu_srv.base_url(), "app_key": WRONG_APP_KEY}),
    ] {
        let cfg = walletport::ProviderConfig::from_value(raw).expect("provider config");
        outputs.push(format!("{cfg:?}"));
        let provider = walletport::connect(&cfg).expect("connect");
        let result = provider
            .templates()
            .list_templates(ListTemplates::default())
            .await;
        let e = result.expect_err("wrong credentials are refused");
        outputs.push(format!("{e} | {e:?} | {}", e.to_json()));
    }
    bad.shutdown().await;
    store.close().await;
    let dead = store_text(&tdb).await;
    outputs.push(dead);
    let _ = std::io::stderr().flush();

    let logged = logs.text();
    assert!(
        logged.contains("gateway listening") && logged.contains("TRACE"),
        "the capture saw the run at TRACE level ({} bytes)",
        logged.len()
    );
    assert!(
        logged.contains("outbox delivery failed"),
        "errors were logged too"
    );
    let everything = format!("{logged}\n{seen}\n{}", outputs.join("\n"));
    for secret in [
        APP_KEY,
        WRONG_APP_KEY,
        CRM_KEY,
        WRONG_CRM_KEY,
        BASIC_PASSWORD,
        API_TOKEN,
        WRONG_TOKEN,
        PASSTEAM_TOKEN,
        PASSTEAM_PASSWORD,
        SKYCORE_API_KEY,
    ] {
        for form in [
            secret.to_owned(),
            base64(&format!("{BASIC_USER}:{secret}")),
            base64(&format!(":{secret}")),
        ] {
            if let Some(at) = everything.find(&form) {
                let from = everything[..at]
                    .char_indices()
                    .rev()
                    .nth(300)
                    .map_or(0, |(i, _)| i);
                let context: String = everything[from..].chars().take(600).collect();
                panic!("secret {secret:?} appears as {form:?}:\n...{context}...");
            }
        }
    }
}

/// The dead letters' error texts as the CLI would show them (straight from the database).
async fn store_text(tdb: &TestDb) -> String {
    let store = tdb.open().await;
    let items = store
        .list_outbox(OutboxList::Dead, None, 1000, chrono::Utc::now())
        .await
        .expect("dead");
    store.close().await;
    assert!(!items.is_empty(), "the wrong app_key produced dead letters");
    format!("{items:?}")
}
