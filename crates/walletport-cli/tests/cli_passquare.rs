//! The CLI end to end with `kind = "passquare"` against the Passquare emulator spawned in the test.

mod common;

use serde_json::{Value, json};
use walletport_sandbox::passquare::{InstallRequest, PushKind};

use common::{cli, walletport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_against_the_emulator() {
    let v = common::passquare("sandbox-app-key").await;
    let cfg = &v.cfg;

    let out = common::expect_ok(cli(cfg, "providers --check"));
    common::assert_capabilities(&out, "passquare", &[("template_list", false)]);
    assert_eq!(out["check"]["account"], "walletport-sandbox");
    assert_eq!(out["check"]["requests"], 1);

    let out = common::expect_ok(cli(cfg, common::JOE_UPSERT));
    assert_eq!(out["customer"]["phone"], "+420000000001");
    assert_eq!(out["cards"][0]["number"], "120");
    assert!(out["cards"][0]["links"]["apple"].is_string(), "{out}");
    assert_eq!(out["balance"]["points"], "100");
    let sent = v.emu.request_log()[1].body.clone();
    assert_eq!(sent["birthday"], "25.01.1980", "dd.mm.yyyy on the wire");
    assert_eq!(sent["bonus"], "3.5", "numbers as strings by default");

    let out = common::expect_ok(cli(cfg, "customer get --phone 420000000001"));
    assert_eq!(out["customer"]["name"], "Joe");
    assert_eq!(out["customer"]["birthday"], "1980-01-25");

    let out = common::set_balance(cfg, "+420000000001", "250.25", "");
    assert_eq!(out["points"], "250.25");
    assert_eq!(out["bonus_percent"], "3.5");

    // No outbound ledger, no template catalogue, no deletion at Passquare.
    common::expect_unsupported(
        cfg,
        &[
            "balance credit --phone +420000000001 --amount 5 --transaction t1",
            "balance redeem --phone +420000000001 --amount 5 --transaction r1",
            "template list",
            "template get --id x",
            "customer delete --phone +420000000001",
        ],
    );

    v.emu
        .install(InstallRequest {
            phone: "+420000000001".into(),
            ..InstallRequest::default()
        })
        .await
        .expect("install");
    common::expect_ok(walletport(
        cfg,
        &common::telegram_push("+420000000001", "Hi"),
    ));
    let out = common::create_and_send_campaign(|args| walletport(cfg, args));
    assert_eq!(out["recipients"], 1);
    let pushes = v.emu.push_log();
    assert!(
        pushes
            .iter()
            .any(|p| p.channel == "telegram" && p.kind == PushKind::Personal)
    );
    assert!(pushes.iter().any(|p| p.text == "Sale!"));

    assert_eq!(common::customer_page(cfg, "").0, Some(1));
    assert_eq!(common::customer_page(cfg, "--installed false").0, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_bad_key_and_bad_input_fail_as_json() {
    let v = common::passquare("sandbox-app-key").await;
    v.emu.seed_customers("+420700000000", 150, 0).expect("seed");
    let cfg = &v.cfg;
    assert_eq!(common::customer_page(cfg, ""), (Some(100), json!("100")));
    assert_eq!(
        common::customer_page(cfg, "--page 100"),
        (Some(50), Value::Null)
    );

    let before = v.emu.request_count();
    common::expect_error(
        cli(cfg, "customer upsert --phone not-a-phone"),
        "invalid_input",
        "customer upsert --phone not-a-phone",
    );
    assert_eq!(
        v.emu.request_count(),
        before,
        "bad input never reaches Passquare"
    );

    let bad = common::write_config(
        v.dir.path(),
        &common::passquare_toml(&v.server.base_url(), "wrong-key"),
    );
    let (ok, _, err) = cli(&bad, "providers --check");
    assert!(!ok);
    assert_eq!(err["error"]["kind"], "unauthenticated", "{err}");
    assert!(
        !err.to_string().contains("wrong-key"),
        "the key never shows"
    );
}
