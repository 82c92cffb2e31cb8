//! `walletport card ...` and `walletport template create|update` end to end, on each provider
//! (memory in-process; the vendors against their emulators over real HTTP): a supported call
//! works, and a call the capability lacks prints the JSON `unsupported` error.

mod common;

use std::path::Path;

use serde_json::{Value, json};

use common::{cli, walletport};

/// Fails unless the command failed with a JSON error of `kind` on stderr and nothing on stdout.
fn assert_error(result: (bool, Value, Value), kind: &str, what: &str) -> Value {
    let (ok, out, err) = result;
    assert!(!ok, "{what}: expected a `{kind}` error, got {out}");
    assert_eq!(out, Value::Null, "{what}: stdout must stay empty");
    assert_eq!(err["error"]["kind"], kind, "{what}: {err}");
    err
}

/// Runs a command that must succeed and returns its JSON.
fn ok(cfg: &Path, args: &[&str]) -> Value {
    let (ok, out, err) = walletport(cfg, args);
    assert!(ok, "{args:?}: {err}");
    out
}

/// `card issue --phone <phone> --name <name> --balance <balance>`, which must succeed; the card.
fn issue(cfg: &Path, phone: &str, name: &str, balance: &str) -> Value {
    ok(
        cfg,
        &[
            "card",
            "issue",
            "--phone",
            phone,
            "--name",
            name,
            "--balance",
            balance,
        ],
    )
}

/// `card status --phone <phone> --status <status>`, which must succeed and show the new status.
fn set_status(cfg: &Path, phone: &str, status: &str) {
    let card = ok(
        cfg,
        &["card", "status", "--phone", phone, "--status", status],
    );
    assert_eq!(card["status"], status, "{card}");
}

/// Writes `value` to `<dir>/<name>` and returns the path as the CLI argument that names it.
fn write_json(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).expect("write json");
    path.display().to_string()
}

/// A file that is never written: an unsupported command must answer before reading it.
fn absent(dir: &Path) -> String {
    dir.join("never-written.json").display().to_string()
}

/// `template create` and `template update` answer `unsupported` where the vendor keeps no
/// template catalogue of its own (Passquare, Passteam).
fn assert_no_template_writes(cfg: &Path, dir: &Path, provider: &str) {
    let file = absent(dir);
    assert_error(
        walletport(cfg, &["template", "create", "--file", &file]),
        "unsupported",
        &format!("{provider} template create"),
    );
    assert_error(
        walletport(cfg, &["template", "update", "--id", "T", "--file", &file]),
        "unsupported",
        &format!("{provider} template update"),
    );
}

/// The link commands answer `unsupported` on every provider but Skycore.
fn assert_no_links(cfg: &Path, dir: &Path, provider: &str) {
    let file = absent(dir);
    let err = assert_error(
        walletport(cfg, &["card", "link", "create", "--file", &file]),
        "unsupported",
        "card link create",
    );
    assert_eq!(err["error"]["provider"], provider, "{err}");
    assert_error(
        walletport(
            cfg,
            &["card", "link", "update", "--id", "L1", "--file", &file],
        ),
        "unsupported",
        "card link update",
    );
}

#[test]
fn memory_cards_and_templates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::memory_config(dir.path());
    let phone = "+420000000001";
    let card = ok(
        &cfg,
        &[
            "card",
            "issue",
            "--phone",
            phone,
            "--name",
            "Joe",
            "--balance",
            "10",
            "--field",
            "tier=gold",
        ],
    );
    assert_eq!(card["status"], "active", "{card}");
    assert_eq!(card["fields"]["tier"], "gold", "{card}");
    let got = ok(&cfg, &["card", "get", "--phone", phone]);
    assert_eq!(got["id"], card["id"], "{got}");

    let updated = ok(
        &cfg,
        &["card", "update", "--phone", phone, "--field", "tier=silver"],
    );
    assert_eq!(updated["fields"]["tier"], "silver", "{updated}");
    set_status(&cfg, phone, "voided");
    assert_eq!(
        ok(&cfg, &["card", "get", "--phone", phone])["status"],
        "voided"
    );

    // Bad input is a typed error and changes nothing.
    assert_error(
        cli(&cfg, &format!("card status --phone {phone} --status lost")),
        "invalid_input",
        "unknown status",
    );
    assert_error(cli(&cfg, "card get"), "invalid_input", "no card named");
    assert_error(
        cli(&cfg, &format!("card update --phone {phone} --field tier")),
        "invalid_input",
        "field without =",
    );
    assert_eq!(
        ok(&cfg, &["card", "get", "--phone", phone])["fields"]["tier"],
        "silver"
    );

    let file = write_json(
        dir.path(),
        "template.json",
        &json!({"name": "Club", "fields": [{"name": "tier"}]}),
    );
    let created = ok(&cfg, &["template", "create", "--file", &file]);
    assert_eq!(created["name"], "Club", "{created}");
    let id = created["id"].as_str().expect("template id").to_owned();
    let renamed = write_json(dir.path(), "renamed.json", &json!({"name": "Club 2"}));
    let updated = ok(
        &cfg,
        &["template", "update", "--id", &id, "--file", &renamed],
    );
    assert_eq!(updated["name"], "Club 2", "{updated}");
    assert_eq!(
        ok(&cfg, &["template", "get", "--id", &id])["name"],
        "Club 2"
    );
    assert_error(
        walletport(&cfg, &["template", "update", "--file", &renamed]),
        "invalid_input",
        "update without id",
    );
    let broken = write_json(dir.path(), "broken.json", &json!({"fields": []}));
    assert_error(
        walletport(&cfg, &["template", "create", "--file", &broken]),
        "invalid_input",
        "template without name",
    );

    assert_no_links(&cfg, dir.path(), "memory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passquare_cards_without_status_or_templates() {
    let v = common::passquare("sandbox-app-key").await;
    let cfg = &v.cfg;
    let phone = "+420000000002";
    let card = issue(cfg, phone, "Ann", "5");
    assert!(
        card["links"].as_object().is_some_and(|l| !l.is_empty()),
        "{card}"
    );
    let got = ok(cfg, &["card", "get", "--phone", phone]);
    assert_eq!(got["number"], card["number"], "{got}");

    assert_error(
        cli(cfg, &format!("card status --phone {phone} --status voided")),
        "unsupported",
        "passquare card status",
    );
    assert_no_template_writes(cfg, v.dir.path(), "passquare");
    assert_no_links(cfg, v.dir.path(), "passquare");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passteam_cards_with_status_but_no_template_writes() {
    let v = common::passteam(None).await;
    let cfg = &v.cfg;
    let phone = "+79990000003";
    let card = issue(cfg, phone, "Ivan", "7");
    assert!(card["id"].is_string(), "{card}");
    set_status(cfg, phone, "voided");
    set_status(cfg, phone, "active");
    let sent = ok(
        cfg,
        &["card", "send-link", "--phone", phone, "--via", "sms"],
    );
    assert_eq!(sent["sent"], true, "{sent}");
    let distributed = v.emu.distributed();
    assert_eq!(distributed.len(), 1, "one distribute call: {distributed:?}");
    assert_eq!(distributed[0].channel, "sms");
    assert_error(
        cli(
            cfg,
            &format!("card send-link --phone {phone} --via email --text x"),
        ),
        "invalid_input",
        "an e-mail takes no SMS text",
    );

    assert_no_template_writes(cfg, v.dir.path(), "passteam");
    assert_no_links(cfg, v.dir.path(), "passteam");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skycore_cards_templates_and_issuance_links() {
    let v = common::skycore().await;
    let cfg = &v.cfg;
    let phone = "+420000000004";
    let card = issue(cfg, phone, "Eva", "12");
    let pass_id = card["id"].as_str().expect("pass id").to_owned();
    assert!(v.emu.pass_ids().contains(&pass_id), "{card}");
    // Skycore passes have no discount field: asking for one is `unsupported`, not dropped.
    let err = assert_error(
        cli(cfg, &format!("card update --phone {phone} --discount 5")),
        "unsupported",
        "skycore discount",
    );
    assert!(err.to_string().contains("discount"), "{err}");
    set_status(cfg, phone, "redeemed");
    assert_eq!(
        ok(cfg, &["card", "get", "--card-id", &pass_id])["status"],
        "redeemed"
    );

    let template = walletport_sandbox::skycore::sample_template("Club card");
    let file = write_json(v.dir.path(), "template.json", &template);
    let created = ok(cfg, &["template", "create", "--file", &file]);
    let template_id = created["id"].as_str().expect("template id").to_owned();
    assert!(
        v.emu.templates().iter().any(|(id, _)| *id == template_id),
        "{created}"
    );

    let mut link = json!({
        "name": "Spring signup",
        "template_id": template_id,
        "layout": "loyalty-card-type2",
        "status": "active",
        "variables": {"pass-id": {"required": true}, "loyalty-points-value": {}}
    });
    let file = write_json(v.dir.path(), "link.json", &link);
    let made = ok(cfg, &["card", "link", "create", "--file", &file]);
    let link_id = made["id"].as_str().expect("link id").to_owned();
    assert!(made["preview_url"].is_string(), "{made}");
    link["status"] = json!("inactive");
    link["generation_limit"] = json!(500);
    let file = write_json(v.dir.path(), "link.json", &link);
    let changed = ok(
        cfg,
        &["card", "link", "update", "--id", &link_id, "--file", &file],
    );
    assert_eq!(changed["id"], link_id.as_str());
    let (stored, _) = v.emu.issuance_link(&link_id).expect("link stored");
    assert_eq!(stored["link-status"], "INACTIVE");
    assert_eq!(stored["link-generation-limit"], 500);

    // A secret that breaks the rules is refused by name, never echoed.
    link["encryption"] = json!({"secret_key": "short-secret", "iv": "wbJWPb9KLbxo6xpk"});
    let file = write_json(v.dir.path(), "link.json", &link);
    let err = assert_error(
        walletport(cfg, &["card", "link", "create", "--file", &file]),
        "invalid_input",
        "short secret key",
    );
    assert!(!err.to_string().contains("short-secret"), "{err}");
    link["bogus"] = json!(1);
    let file = write_json(v.dir.path(), "link.json", &link);
    assert_error(
        walletport(cfg, &["card", "link", "create", "--file", &file]),
        "invalid_input",
        "unknown key in link file",
    );
}
