//! The CLI end to end with `kind = "passteam"` against the Passteam emulator spawned in the test.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;
use walletport_sandbox::passteam::{PassteamEmulator, PassteamEmulatorConfig};

use common::walletport;

fn passteam_config(dir: &Path, base_url: &str, encoding: &str) -> PathBuf {
    common::write_config(
        dir,
        &format!(
            "[provider]\nkind = \"passteam\"\nbase_url = \"{base_url}\"\ntoken = \"sandbox-token\"\n\
             template_id = \"5e424c181dbf0d537c8b4569\"\nencoding = \"{encoding}\"\n\n\
             [provider.fields]\nphone = \"PHONE\"\nname = \"CLIENT_NAME\"\nsurname = \"SURNAME\"\n\
             birthday = \"BIRTHDAY\"\nemail = \"EMAIL\"\nbalance = \"BONUS\"\nbonus = \"PERCENT\"\n\
             discount = \"DISCOUNT\"\ncard_number = \"NUMBERCARD\"\n"
        ),
    )
}

async fn emulator() -> (walletport_sandbox::RunningServer, PassteamEmulator) {
    common::spawn_emulator(|addr| PassteamEmulator::spawn(PassteamEmulatorConfig::default(), addr))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_against_the_emulator() {
    let (server, emu) = emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = passteam_config(dir.path(), &server.base_url(), "multipart");

    let (ok, out, err) = walletport(&cfg, &["providers", "--check"]);
    assert!(ok, "{err}");
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

    let upsert = [
        "customer",
        "upsert",
        "--phone",
        "+79990000001",
        "--name",
        "Иван",
        "--surname",
        "Петров",
        "--email",
        "ivan@example.com",
        "--birthday",
        "1980-01-25",
        "--balance",
        "100",
        "--bonus",
        "3.50",
        "--discount",
        "5",
    ];
    let (ok, out, err) = walletport(&cfg, &upsert);
    assert!(ok, "{err}");
    assert_eq!(out["customer"]["phone"], "+79990000001");
    assert_eq!(out["customer"]["surname"], "Петров");
    assert_eq!(out["balance"]["points"], "100");
    assert!(out["cards"][0]["links"]["apple"].is_string(), "{out}");
    let card_id = out["cards"][0]["id"].as_str().expect("card id").to_owned();
    assert_eq!(emu.card_count(), 1);

    // Upsert of the existing phone updates the same card.
    let (ok, out, err) = walletport(
        &cfg,
        &[
            "customer",
            "upsert",
            "--phone",
            "79990000001",
            "--name",
            "Ivan",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out["customer"]["name"], "Ivan");
    assert_eq!(
        out["customer"]["email"], "ivan@example.com",
        "unset fields kept"
    );
    assert_eq!(out["cards"][0]["id"], card_id.as_str());
    assert_eq!(emu.card_count(), 1);

    let (ok, out, err) = walletport(&cfg, &["customer", "get", "--phone", "+79990000001"]);
    assert!(ok, "{err}");
    assert_eq!(out["customer"]["birthday"], "1980-01-25");
    assert_eq!(
        out["customer"]["provider_ids"]["passteam"],
        card_id.as_str()
    );

    for n in 2..=3 {
        let phone = format!("+7999000000{n}");
        let (ok, _, err) = walletport(&cfg, &["customer", "upsert", "--phone", &phone]);
        assert!(ok, "{err}");
    }
    let (ok, out, err) = walletport(&cfg, &["customer", "list", "--page-size", "2"]);
    assert!(ok, "{err}");
    assert_eq!(out["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(out["next_page"], "2");
    let (ok, out, err) = walletport(
        &cfg,
        &["customer", "list", "--page-size", "2", "--page", "2"],
    );
    assert!(ok, "{err}");
    assert_eq!(out["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(out["next_page"], Value::Null);
    let (ok, _, err) = walletport(&cfg, &["customer", "list", "--installed", "true"]);
    assert!(!ok);
    assert_eq!(
        err["error"]["kind"], "unsupported",
        "no installed filter at Passteam"
    );

    let (ok, out, err) = walletport(
        &cfg,
        &[
            "balance",
            "set",
            "--phone",
            "+79990000001",
            "--points",
            "150.25",
            "--discount",
            "12.5",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out["points"], "150.25");
    let (ok, out, err) = walletport(&cfg, &["balance", "get", "--phone", "+79990000001"]);
    assert!(ok, "{err}");
    assert_eq!(
        (
            out["points"].as_str(),
            out["bonus_percent"].as_str(),
            out["discount_percent"].as_str()
        ),
        (Some("150.25"), Some("3.5"), Some("12.5"))
    );
    let (ok, _, err) = walletport(
        &cfg,
        &[
            "balance",
            "credit",
            "--phone",
            "+79990000001",
            "--amount",
            "5",
            "--transaction",
            "t1",
        ],
    );
    assert!(!ok);
    assert_eq!(
        err["error"]["kind"], "unsupported",
        "no atomic credit: {err}"
    );

    let (ok, _, err) = walletport(
        &cfg,
        &[
            "balance",
            "redeem",
            "--phone",
            "+79990000001",
            "--amount",
            "5",
            "--transaction",
            "r1",
        ],
    );
    assert!(!ok);
    assert_eq!(err["error"]["kind"], "unsupported", "no redemption: {err}");

    let (ok, _, err) = walletport(
        &cfg,
        &["push", "send", "--phone", "+79990000001", "--message", "Hi"],
    );
    assert!(!ok);
    assert_eq!(err["error"]["kind"], "unsupported");

    let (ok, created, err) = walletport(
        &cfg,
        &[
            "campaign",
            "create",
            "--message",
            "Скидка 20%",
            "--name",
            "Nov",
        ],
    );
    assert!(ok, "{err}");
    assert!(emu.pushes().is_empty(), "create sends nothing");
    let id = created["id"].as_str().expect("campaign id").to_owned();
    let (ok, sent, err) = walletport(&cfg, &["campaign", "send", "--id", &id]);
    assert!(ok, "{err}");
    assert!(sent["sent_at"].is_string());
    assert_eq!(
        emu.pushes()
            .iter()
            .map(|p| p.message.as_str())
            .collect::<Vec<_>>(),
        ["Скидка 20%"]
    );
    let (ok, _, err) = walletport(
        &cfg,
        &["campaign", "create", "--message", "x", "--segment", "vip"],
    );
    assert!(!ok);
    assert_eq!(err["error"]["kind"], "unsupported");

    let (ok, out, err) = walletport(&cfg, &["template", "list"]);
    assert!(ok, "{err}");
    assert_eq!(out["items"][0]["id"], "5e424c181dbf0d537c8b4569");
    assert_eq!(out["items"][0]["name"], "Sandbox loyalty");
    let (ok, out, err) = walletport(
        &cfg,
        &["template", "get", "--id", "5e424c181dbf0d537c8b4569"],
    );
    assert!(ok, "{err}");
    assert!(
        out["fields"].as_array().is_some_and(|f| f
            .iter()
            .any(|f| f["name"] == "PHONE" && f["kind"] == "phone" && f["unique"] == true)),
        "{out}"
    );
    let (ok, _, err) = walletport(
        &cfg,
        &["template", "get", "--id", "5e424c181dbf0d537c8b4560"],
    );
    assert!(!ok);
    assert_eq!(err["error"]["kind"], "not_found");

    let (ok, _, err) = walletport(&cfg, &["customer", "delete", "--phone", "+79990000001"]);
    assert!(ok, "{err}");
    let (ok, _, err) = walletport(&cfg, &["customer", "get", "--phone", "+79990000001"]);
    assert!(!ok);
    assert_eq!(err["error"]["kind"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_encoding_and_bad_input() {
    let (server, emu) = emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = passteam_config(dir.path(), &server.base_url(), "form");

    let (ok, _, err) = walletport(
        &cfg,
        &[
            "customer",
            "upsert",
            "--phone",
            "+79990000009",
            "--name",
            "A&B=[%]",
        ],
    );
    assert!(ok, "{err}");
    assert!(emu.requests().iter().any(|r| {
        r.method == "createcard"
            && r.content_type == "application/x-www-form-urlencoded"
            && r.fields
                .iter()
                .any(|(k, v)| k == "values[%CLIENT_NAME%]" && v == "A&B=[%]")
    }));

    let before = emu.card_count();
    let (ok, out, err) = walletport(
        &cfg,
        &[
            "customer",
            "upsert",
            "--phone",
            "+79990000010",
            "--email",
            "not-an-email",
        ],
    );
    assert!(!ok);
    assert_eq!(out, Value::Null);
    assert_eq!(err["error"]["kind"], "invalid_input");
    assert_eq!(emu.card_count(), before, "nothing created");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[provider]\nkind = \"passteam\"\ntoken = \"x\"\ntokn = \"y\"\n",
    )
    .expect("write");
    let (ok, _, err) = walletport(&bad, &["template", "list"]);
    assert!(!ok);
    assert_eq!(err["error"]["kind"], "config_invalid");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("tokn")),
        "{err}"
    );
}
