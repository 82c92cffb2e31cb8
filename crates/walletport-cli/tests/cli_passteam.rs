//! The CLI end to end with `kind = "passteam"` against the Passteam emulator spawned in the test.

mod common;

use serde_json::Value;

use common::{cli, walletport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_against_the_emulator() {
    let v = common::passteam(Some("multipart")).await;
    let cfg = &v.cfg;

    let out = common::expect_ok(cli(cfg, "providers --check"));
    assert!(
        out["providers"]
            .as_array()
            .is_some_and(|p| p.iter().any(|k| k["kind"] == "passteam"
                && k["capability"]["balance_credit"] == false
                && k["capability"]["campaign_send"] == true))
    );
    assert!(
        out["check"]["requests"].as_u64().is_some_and(|n| n >= 1),
        "{out}"
    );

    let upsert = "customer upsert --phone +79990000001 --name Иван --surname Петров \
                  --email ivan@example.com --birthday 1980-01-25 --balance 100 --bonus 3.50 \
                  --discount 5";
    let out = common::expect_ok(cli(cfg, upsert));
    assert_eq!(out["customer"]["phone"], "+79990000001");
    assert_eq!(out["customer"]["surname"], "Петров");
    assert_eq!(out["balance"]["points"], "100");
    assert!(out["cards"][0]["links"]["apple"].is_string(), "{out}");
    let card_id = out["cards"][0]["id"].as_str().expect("card id").to_owned();
    assert_eq!(v.emu.card_count(), 1);

    // Upsert of the existing phone updates the same card.
    let out = common::expect_ok(cli(cfg, "customer upsert --phone 79990000001 --name Ivan"));
    assert_eq!(out["customer"]["name"], "Ivan");
    assert_eq!(
        out["customer"]["email"], "ivan@example.com",
        "unset fields kept"
    );
    assert_eq!(out["cards"][0]["id"], card_id.as_str());
    assert_eq!(v.emu.card_count(), 1);

    let out = common::expect_ok(cli(cfg, "customer get --phone +79990000001"));
    assert_eq!(out["customer"]["birthday"], "1980-01-25");
    assert_eq!(
        out["customer"]["provider_ids"]["passteam"],
        card_id.as_str()
    );

    for n in 2..=3 {
        let phone = format!("+7999000000{n}");
        common::expect_ok(cli(cfg, &format!("customer upsert --phone {phone}")));
    }
    let out = common::expect_ok(cli(cfg, "customer list --page-size 2"));
    assert_eq!(out["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(out["next_page"], "2");
    let out = common::expect_ok(cli(cfg, "customer list --page-size 2 --page 2"));
    assert_eq!(out["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(out["next_page"], Value::Null);
    common::expect_error(
        cli(cfg, "customer list --installed true"),
        "unsupported",
        "no installed filter at Passteam",
    );

    let out = common::expect_ok(cli(
        cfg,
        "balance set --phone +79990000001 --points 150.25 --discount 12.5",
    ));
    assert_eq!(out["points"], "150.25");
    let out = common::expect_ok(cli(cfg, "balance get --phone +79990000001"));
    assert_eq!(
        (
            out["points"].as_str(),
            out["bonus_percent"].as_str(),
            out["discount_percent"].as_str()
        ),
        (Some("150.25"), Some("3.5"), Some("12.5"))
    );
    common::expect_error(
        walletport(cfg, &common::ledger("credit", "+79990000001", "5", "t1")),
        "unsupported",
        "no atomic credit",
    );

    common::expect_error(
        walletport(cfg, &common::ledger("redeem", "+79990000001", "5", "r1")),
        "unsupported",
        "no redemption",
    );

    common::expect_error(
        cli(cfg, "push send --phone +79990000001 --message Hi"),
        "unsupported",
        "push send --phone +79990000001 --message Hi",
    );

    let created = common::expect_ok(walletport(
        cfg,
        &[
            "campaign",
            "create",
            "--message",
            "Скидка 20%",
            "--name",
            "Nov",
        ],
    ));
    assert!(v.emu.pushes().is_empty(), "create sends nothing");
    let id = created["id"].as_str().expect("campaign id").to_owned();
    let sent = common::expect_ok(cli(cfg, &format!("campaign send --id {id}")));
    assert!(sent["sent_at"].is_string());
    assert_eq!(
        v.emu
            .pushes()
            .iter()
            .map(|p| p.message.as_str())
            .collect::<Vec<_>>(),
        ["Скидка 20%"]
    );
    common::expect_error(
        cli(cfg, "campaign create --message x --segment vip"),
        "unsupported",
        "campaign create --message x --segment vip",
    );

    let out = common::expect_ok(cli(cfg, "template list"));
    assert_eq!(out["items"][0]["id"], "5e424c181dbf0d537c8b4569");
    assert_eq!(out["items"][0]["name"], "Sandbox loyalty");
    let out = common::expect_ok(cli(cfg, "template get --id 5e424c181dbf0d537c8b4569"));
    assert!(
        out["fields"].as_array().is_some_and(|f| f
            .iter()
            .any(|f| f["name"] == "PHONE" && f["kind"] == "phone" && f["unique"] == true)),
        "{out}"
    );
    common::expect_error(
        cli(cfg, "template get --id 5e424c181dbf0d537c8b4560"),
        "not_found",
        "template get --id 5e424c181dbf0d537c8b4560",
    );

    common::expect_ok(cli(cfg, "customer delete --phone +79990000001"));
    common::expect_error(
        cli(cfg, "customer get --phone +79990000001"),
        "not_found",
        "customer get --phone +79990000001",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_encoding_and_bad_input() {
    let v = common::passteam(Some("form")).await;
    let cfg = &v.cfg;

    common::expect_ok(cli(
        cfg,
        "customer upsert --phone +79990000009 --name A&B=[%]",
    ));
    assert!(v.emu.requests().iter().any(|r| {
        r.method == "createcard"
            && r.content_type == "application/x-www-form-urlencoded"
            && r.fields
                .iter()
                .any(|(key, value)| key == "values[%CLIENT_NAME%]" && value == "A&B=[%]")
    }));

    let before = v.emu.card_count();
    let (ok, out, err) = cli(
        cfg,
        "customer upsert --phone +79990000010 --email not-an-email",
    );
    assert!(!ok);
    assert_eq!(out, Value::Null);
    assert_eq!(err["error"]["kind"], "invalid_input");
    assert_eq!(v.emu.card_count(), before, "nothing created");

    let bad = v.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[provider]\nkind = \"passteam\"\ntoken = \"x\"\ntokn = \"y\"\n",
    )
    .expect("write");
    let err = common::expect_error(
        cli(&bad, "template list"),
        "config_invalid",
        "a misspelt key",
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("tokn")),
        "{err}"
    );
}
