//! The CLI end to end with `kind = "passteam"` against the Passteam emulator spawned in the test.

mod common;

use serde_json::{Value, json};

use common::{cli, walletport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_against_the_emulator() {
    let v = common::passteam(Some("multipart")).await;
    let cfg = &v.cfg;

    let out = common::expect_ok(cli(cfg, "providers --check"));
    common::assert_capabilities(
        &out,
        "passteam",
        &[("balance_credit", false), ("campaign_send", true)],
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
    assert_eq!(
        common::customer_page(cfg, "--page-size 2"),
        (Some(2), json!("2"))
    );
    assert_eq!(
        common::customer_page(cfg, "--page-size 2 --page 2"),
        (Some(1), Value::Null)
    );

    let out = common::set_balance(cfg, "+79990000001", "150.25", "--discount 12.5");
    assert_eq!(
        (
            out["points"].as_str(),
            out["bonus_percent"].as_str(),
            out["discount_percent"].as_str()
        ),
        (Some("150.25"), Some("3.5"), Some("12.5"))
    );
    // No installed filter, no atomic ledger, no personal push, no segments at Passteam.
    common::expect_unsupported(
        cfg,
        &[
            "customer list --installed true",
            "balance credit --phone +79990000001 --amount 5 --transaction t1",
            "balance redeem --phone +79990000001 --amount 5 --transaction r1",
            "push send --phone +79990000001 --message Hi",
            "campaign create --message x --segment vip",
        ],
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

    // A misspelt key is named.
    common::expect_config_invalid(
        v.dir.path(),
        "[provider]\nkind = \"passteam\"\ntoken = \"x\"\ntokn = \"y\"\n",
        "template list",
        "tokn",
    );
}
