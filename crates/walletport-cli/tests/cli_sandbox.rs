//! `walletport sandbox <vendor>` as a new user runs it (docs/operations.md): the emulator starts,
//! prints the `[provider]` table that points walletport at it, and the CLI works against that
//! table as written, on every vendor.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use common::{cli, expect_ok};

/// A `walletport sandbox` process, killed when dropped.
struct Sandbox(Child);

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `walletport sandbox <vendor>` on an ephemeral port; the process and its start line.
fn sandbox(vendor: &str) -> (Sandbox, Value) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("walletport"))
        .args(["sandbox", vendor, "--listen", "127.0.0.1:0"])
        .env_remove("WALLETPORT_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the sandbox");
    let stdout = child.stdout.take().expect("stdout");
    let sandbox = Sandbox(child);
    let line = BufReader::new(stdout)
        .lines()
        .next()
        .expect("a start line")
        .expect("utf-8");
    let started: Value = serde_json::from_str(&line).expect("the start line is JSON");
    (sandbox, started)
}

#[test]
fn each_sandbox_prints_a_provider_table_the_cli_works_with() {
    for vendor in ["passquare", "passteam", "skycore"] {
        let (_sandbox, started) = sandbox(vendor);
        assert_eq!(started["sandbox"], vendor, "{started}");
        let config = started["config"].as_str().expect("a config table");
        assert!(config.starts_with("[provider]"), "{config}");
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = common::write_config(dir.path(), config);

        let check = expect_ok(cli(&cfg, "providers --check"));
        assert_eq!(check["check"]["ok"], true, "{vendor}: {check}");
        let phone = "+420000000001";
        let out = expect_ok(cli(
            &cfg,
            &format!("customer upsert --phone {phone} --name Joe"),
        ));
        assert_eq!(out["customer"]["phone"], phone, "{vendor}: {out}");
        let out = common::set_balance(&cfg, phone, "150.25", "");
        assert_eq!(out["points"], "150.25", "{vendor}: {out}");
        let out = expect_ok(cli(&cfg, &format!("customer get --phone {phone}")));
        assert_eq!(out["customer"]["name"], "Joe", "{vendor}: {out}");
    }
}
