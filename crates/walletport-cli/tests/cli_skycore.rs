//! The CLI end to end with `kind = "skycore"` against the Skycore emulator spawned in the test:
//! every command works, or answers a JSON `unsupported` error exactly where the capability says.

mod common;

use serde_json::json;

use common::cli;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_against_the_emulator() {
    let v = common::skycore().await;
    // The CLI has no card command: the pass a CRM would issue is generated on Skycore directly.
    v.emu.seed_pass(
        "sandbox-layout-1",
        "420000000001",
        json!({"account-name": "Joe Doe", "account-id": "C1", "loyalty-points": "100", "barcode-value": "420000000001"}),
    )
    .expect("seeded");
    let cfg = &v.cfg;

    let out = common::expect_ok(cli(cfg, "providers"));
    common::assert_capabilities(
        &out,
        "skycore",
        &[
            ("customer_get_by_phone", true),
            ("customer_upsert", true),
            ("template_list", false),
        ],
    );
    // `--check` reads the configured template: one request, and the balance fields it holds.
    let out = common::expect_ok(cli(cfg, "providers --check"));
    assert_eq!(out["check"]["requests"], 1, "{out}");
    assert_eq!(
        out["check"]["balance_fields"],
        json!(["points", "bonus_percent"]),
        "{out}"
    );

    let out = common::expect_ok(cli(cfg, "customer get --phone +420000000001"));
    assert_eq!(out["customer"]["phone"], "+420000000001");
    assert_eq!(out["customer"]["name"], "Joe Doe");
    assert_eq!(out["cards"][0]["id"], "420000000001");
    assert_eq!(out["balance"]["points"], "100");
    common::expect_error(
        cli(cfg, "customer get --phone +420000000002"),
        "not_found",
        "unknown phone",
    );

    let out = common::set_balance(cfg, "+420000000001", "250.25", "--bonus 5");
    assert_eq!(
        (out["points"].clone(), out["bonus_percent"].clone()),
        (json!("250.25"), json!("5"))
    );
    assert_eq!(
        v.emu
            .pass_data("420000000001")
            .map(|d| d["loyalty-points"].clone()),
        Some(json!("250.25"))
    );

    let out = common::expect_ok(cli(cfg, "push send --phone +420000000001 --message Hello"));
    assert_eq!(out["accepted"], true);
    assert_eq!(
        v.emu
            .notifications()
            .last()
            .map(|n| n.message.clone())
            .as_deref(),
        Some("Hello")
    );

    let out = common::expect_ok(cli(cfg, "template get --id sandbox-layout-1"));
    assert_eq!(out["name"], "Sandbox layout 1");
    common::expect_error(
        cli(cfg, "template get --id nope"),
        "not_found",
        "unknown template",
    );

    // A customer is a pass: the upsert generates one for a new phone.
    let out = common::expect_ok(cli(
        cfg,
        "customer upsert --phone +420000000003 --name Ann --balance 12",
    ));
    assert_eq!(out["customer"]["phone"], "+420000000003", "{out}");
    let out = common::expect_ok(cli(cfg, "balance get --phone +420000000003"));
    assert_eq!(out["points"], "12", "{out}");

    // No discount field, no Telegram, no listing, deletion, ledger, campaigns or catalogue.
    common::expect_unsupported(
        cfg,
        &[
            "balance set --phone +420000000001 --discount 10",
            "push send --phone +420000000001 --message Hi --channel telegram",
            "customer list",
            "customer delete --phone +420000000001",
            "balance credit --phone +420000000001 --amount 5 --transaction t1",
            "balance redeem --phone +420000000001 --amount 5 --transaction r1",
            "campaign create --message Sale!",
            "campaign send --id c1",
            "template list",
        ],
    );
    let mut passes = v.emu.pass_ids();
    passes.sort();
    assert_eq!(
        passes,
        ["420000000001", "420000000003"],
        "nothing unsupported reached Skycore"
    );
}
