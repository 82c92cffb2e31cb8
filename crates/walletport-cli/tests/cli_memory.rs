//! The CLI end to end on the memory provider with a state file: separate invocations chain.

mod common;

use std::path::Path;

use serde_json::Value;

/// The binary as the other CLI tests run it, plus two plain `WALLETPORT_` variables.
fn walletport(config: &Path, args: &[&str]) -> (bool, Value, Value) {
    common::walletport_env(
        config,
        // Plain WALLETPORT_ variables (no `__`) are not configuration keys.
        &[
            ("WALLETPORT_LOG", "warn"),
            ("WALLETPORT_TEST_PG", "postgres://ignored"),
        ],
        args,
    )
}

/// [`walletport`] of a command line whose words contain no white space, split on it.
fn cli(config: &Path, line: &str) -> (bool, Value, Value) {
    walletport(config, &line.split_whitespace().collect::<Vec<_>>())
}

#[test]
fn a_chain_of_invocations_shares_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::memory_config(dir.path());

    let providers = common::expect_ok(cli(&cfg, "providers"));
    common::assert_capabilities(&providers, "memory", &[]);

    let out = common::expect_ok(cli(&cfg, common::JOE_UPSERT));
    assert_eq!(out["customer"]["phone"], "+420000000001");
    assert!(out["cards"][0]["links"]["apple"].is_string(), "{out}");
    assert_eq!(out["balance"]["points"], "100");

    let out = common::expect_ok(cli(&cfg, "customer get --phone 420000000001"));
    assert_eq!(out["customer"]["name"], "Joe");

    let credit = [
        "balance",
        "credit",
        "--phone",
        "+420000000001",
        "--amount",
        "150.25",
        "--transaction",
        "order-1",
        "--lifetime",
        "30d",
    ];
    let out = common::expect_ok(walletport(&cfg, &credit));
    assert_eq!(out["applied"], true);
    let (ok, out, _) = walletport(&cfg, &credit);
    assert!(ok);
    assert_eq!(out["applied"], false, "same transaction credits once");

    let (ok, out, _) = cli(&cfg, "balance get --phone +420000000001");
    assert!(ok);
    assert_eq!(out["points"], "250.25", "decimal printed exactly: {out}");
    assert_eq!(out["bonus_percent"], "3.5");

    common::expect_ok(walletport(
        &cfg,
        &common::telegram_push("+420000000001", "Hi"),
    ));

    common::create_and_send_campaign(|args| walletport(&cfg, args));

    let out = common::expect_ok(cli(&cfg, "template list"));
    assert!(out["items"].as_array().is_some_and(|t| !t.is_empty()));

    assert_eq!(common::customer_page(&cfg, "").0, Some(1));
}

#[test]
fn bad_input_fails_with_json_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::memory_config(dir.path());
    let (ok, _, _) = cli(&cfg, "customer upsert --phone +420000000001");
    assert!(ok);
    let state_before = std::fs::read(dir.path().join("state.json")).expect("state written");

    let (ok, out, err) = cli(&cfg, "customer upsert --phone not-a-phone");
    assert!(!ok);
    assert_eq!(out, Value::Null);
    assert_eq!(err["error"]["kind"], "invalid_input");

    let err = common::expect_error(
        walletport(&cfg, &common::ledger("credit", "+420000000001", "-5", "t1")),
        "invalid_input",
        "a negative credit",
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("positive"))
    );

    common::expect_error(
        cli(&cfg, "customer frobnicate"),
        "invalid_input",
        "customer frobnicate",
    );

    let state_after = std::fs::read(dir.path().join("state.json")).expect("state kept");
    assert_eq!(state_before, state_after, "failed commands changed nothing");

    let out = common::expect_ok(cli(&cfg, "balance get --phone +420000000001"));
    assert_eq!(out["points"], "0");
}

#[test]
fn balance_redeem_spends_once_and_never_overdraws() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::memory_config(dir.path());
    let phone = "+420000000001";
    common::expect_ok(cli(&cfg, &format!("customer upsert --phone {phone}")));
    common::expect_ok(cli(
        &cfg,
        &format!(
            "balance credit --phone {phone} --amount 120 --transaction order-1 --lifetime 30d"
        ),
    ));

    let coffee = [
        "balance",
        "redeem",
        "--phone",
        phone,
        "--amount",
        "100",
        "--transaction-id",
        "till-1",
    ];
    let out = common::expect_ok(walletport(&cfg, &coffee));
    assert_eq!(out["applied"], true, "{out}");
    assert_eq!(out["balance"]["points"], "20", "{out}");
    let out = common::expect_ok(walletport(&cfg, &coffee));
    assert_eq!(
        out["applied"], false,
        "same transaction redeems once: {out}"
    );
    assert_eq!(out["balance"]["points"], "20", "{out}");

    // `--transaction` as for credits; another amount under the same id is a conflict.
    common::expect_error(
        walletport(&cfg, &common::ledger("redeem", phone, "5", "till-1")),
        "conflict",
        "another amount under till-1",
    );

    let state_before = std::fs::read(dir.path().join("state.json")).expect("state written");
    let (ok, out, err) = walletport(&cfg, &common::ledger("redeem", phone, "20.01", "till-2"));
    assert!(!ok, "redeemed more than held: {out}");
    assert_eq!(out, Value::Null, "stdout stays empty");
    assert_eq!(err["error"]["kind"], "insufficient_points", "{err}");
    assert_eq!(err["error"]["operation"], "balance.redeem", "{err}");
    let state_after = std::fs::read(dir.path().join("state.json")).expect("state kept");
    assert_eq!(
        state_before, state_after,
        "a refused redemption changed nothing"
    );

    common::expect_error(
        walletport(&cfg, &common::ledger("redeem", phone, "0", "till-3")),
        "invalid_input",
        "a zero redemption",
    );

    let out = common::expect_ok(cli(&cfg, &format!("balance get --phone {phone}")));
    assert_eq!(out["points"], "20");
}

#[test]
fn environment_overrides_config_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::memory_config(dir.path());
    let (ok, _, err) = common::walletport_env(
        &cfg,
        &[("WALLETPORT_PROVIDER__BOGUS", "1")],
        &["customer", "list"],
    );
    assert!(!ok, "an unknown key from the environment is rejected");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("bogus")),
        "{err}"
    );
}

#[test]
fn config_errors_are_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    // An unknown provider kind: the message names the kinds there are.
    common::expect_config_invalid(
        dir.path(),
        "[provider]\nkind = \"nosuch\"\n",
        "customer get --phone +420000000001",
        "memory",
    );
}
