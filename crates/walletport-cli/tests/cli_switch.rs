//! Switching vendors through the binary: `serve` checks the configuration against the vendor at
//! start (a wrong key stops it, an unreachable vendor does not), and `resync` moves a live
//! programme from Passquare to Skycore.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;

use common::{cli, write_config};
use serde_json::Value;

/// Starts `walletport serve` on an ephemeral port; returns the child and the line that says how
/// the start went: the gateway's announcement or the JSON error (log lines are skipped).
fn serve(config: &Path) -> (std::process::Child, String) {
    let mut child = common::spawn_serve(Some(config), config.parent().expect("dir"));
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines().map_while(Result::ok);
    let outcome = lines
        .find(|l| l.starts_with("walletport gateway on") || l.starts_with('{'))
        .unwrap_or_default();
    // Keep reading, or the gateway's next log line would hit a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, outcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_a_key_the_vendor_rejects_and_names_it() {
    let v = common::passquare("wrong-key").await;
    let (mut child, first) = serve(&v.cfg);
    let status = child.wait().expect("wait");
    assert!(!status.success(), "serve must not start: {first}");
    let error: Value = serde_json::from_str(&first).expect("a JSON error");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("app_key"), "names the key to fix: {error}");
    assert!(
        !message.contains("wrong-key"),
        "never prints the secret: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_when_the_vendor_is_unreachable_and_healthz_says_so() {
    // A port that was bound and released: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let dir = tempfile::tempdir().expect("tmp");
    let config = write_config(dir.path(), &common::passquare_toml(&url, "any-key"));
    let (mut child, first) = serve(&config);
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the gateway starts anyway: {first}"))
        .to_owned();
    let health = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 503, "the vendor is down");
    let body: Value = health.json().await.expect("json");
    let check = body["startup_check"].as_str().unwrap_or_default();
    assert!(check.starts_with("vendor unreachable at start"), "{body}");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_moves_a_live_programme_from_passquare_to_skycore() {
    // The programme runs on Passquare: its config and the CSV in one directory.
    let pq = common::passquare("sandbox-app-key").await;
    let sky = common::skycore().await;
    std::fs::write(
        pq.dir.path().join("c.csv"),
        "phone,name,balance,bonus\n+420700000011,Ann,100,5\n+420700000012,Bob,20.5,\n\
         +420700000013,Cyril,0,\n",
    )
    .expect("csv");

    let out = common::expect_ok(cli(&pq.cfg, "sync --csv c.csv --deliver"));
    assert_eq!(out["imported"], 3, "{out}");

    // The merchant points the gateway at Skycore (the same config file) and resyncs.
    std::fs::copy(&sky.cfg, &pq.cfg).expect("switch the config");
    let on_skycore = &pq.cfg;
    let first = common::expect_ok(cli(on_skycore, "resync"));
    assert_eq!(
        (first["scanned"].as_u64(), first["queued"].as_u64()),
        (Some(3), Some(3)),
        "{first}"
    );
    assert!(
        first["vendor_sync"]["eta"].is_string(),
        "an ETA from the plan: {first}"
    );
    let again = common::expect_ok(cli(on_skycore, "resync"));
    assert_eq!(
        again["queued"], 0,
        "running it twice queues nothing twice: {again}"
    );
    let done = common::expect_ok(cli(on_skycore, "resync --deliver"));
    assert_eq!(done["delivered"]["vendor_requests"], 3, "{done}");
    assert_eq!(done["delivered"]["dead_lettered"], 0, "{done}");

    // Every customer now has a Skycore pass with the balance the store holds.
    for (phone, points) in [
        ("+420700000011", "100"),
        ("+420700000012", "20.5"),
        ("+420700000013", "0"),
    ] {
        let (ok, balance, err) = cli(on_skycore, &format!("balance get --phone {phone}"));
        assert!(ok, "{phone}: {err}");
        assert_eq!(balance["points"], points, "{phone}: {balance}");
    }
    let one = common::expect_ok(cli(on_skycore, "resync --phone +420700000012"));
    assert_eq!(
        (one["scanned"].as_u64(), one["queued"].as_u64()),
        (Some(1), Some(1)),
        "{one}"
    );
    let (ok, _, err) = cli(on_skycore, "resync --phone +420700000099");
    assert!(!ok);
    assert_eq!(err["error"]["kind"], "not_found", "{err}");
}
