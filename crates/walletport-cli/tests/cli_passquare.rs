//! The CLI end to end with `kind = "passquare"` against the Passquare emulator spawned in the test.

mod common;

use serde_json::Value;
use walletport_sandbox::passquare::{InstallRequest, PushKind};

use common::{cli, walletport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_against_the_emulator() {
    let v = common::passquare("sandbox-app-key").await;
    let cfg = &v.cfg;

    let out = common::expect_ok(cli(cfg, "providers --check"));
    assert!(out["providers"].as_array().is_some_and(|p| {
        p.iter()
            .any(|k| k["kind"] == "passquare" && k["capability"]["template_list"] == false)
    }));
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

    let out = common::expect_ok(cli(
        cfg,
        "balance set --phone +420000000001 --points 250.25",
    ));
    assert_eq!(out["points"], "250.25");
    let (ok, out, _) = cli(cfg, "balance get --phone +420000000001");
    assert!(ok);
    assert_eq!(out["points"], "250.25");
    assert_eq!(out["bonus_percent"], "3.5");

    common::expect_error(
        walletport(cfg, &common::ledger("credit", "+420000000001", "5", "t1")),
        "unsupported",
        "Passquare has no outbound credit",
    );

    common::expect_error(
        walletport(cfg, &common::ledger("redeem", "+420000000001", "5", "r1")),
        "unsupported",
        "Passquare has no outbound redemption",
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

    let out = common::expect_ok(cli(cfg, "customer list"));
    assert_eq!(out["items"].as_array().map(Vec::len), Some(1));
    let out = common::expect_ok(cli(cfg, "customer list --installed false"));
    assert_eq!(out["items"].as_array().map(Vec::len), Some(0));

    for args in [
        &["template", "list"][..],
        &["template", "get", "--id", "x"][..],
        &["customer", "delete", "--phone", "+420000000001"][..],
    ] {
        let (ok, out, err) = walletport(cfg, args);
        assert!(!ok, "{args:?}");
        assert_eq!(out, Value::Null);
        assert_eq!(err["error"]["kind"], "unsupported", "{args:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_bad_key_and_bad_input_fail_as_json() {
    let v = common::passquare("sandbox-app-key").await;
    v.emu.seed_customers("+420700000000", 150, 0).expect("seed");
    let cfg = &v.cfg;
    let out = common::expect_ok(cli(cfg, "customer list"));
    assert_eq!(out["items"].as_array().map(Vec::len), Some(100));
    assert_eq!(out["next_page"], "100");
    let out = common::expect_ok(cli(cfg, "customer list --page 100"));
    assert_eq!(out["items"].as_array().map(Vec::len), Some(50));
    assert_eq!(out["next_page"], Value::Null);

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
