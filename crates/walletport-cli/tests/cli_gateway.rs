//! The gateway commands as a user runs them: `serve` with no config at all (then SIGTERM),
//! `sync --csv` (bad rows reported, re-runs change nothing, `--deliver` syncs out) and
//! `outbox list`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("walletport")
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[test]
fn serve_without_config_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut child = common::spawn_serve(None, dir.path());
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the address is announced")
        .to_owned();
    let health = http_get(&addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"store\":\"ok\""), "{health}");
    let openapi = http_get(&addr, "/openapi.json");
    assert!(openapi.contains("/api/customers"), "{openapi}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("\"stopped\": true"), "{stdout}");
    assert!(
        dir.path().join("walletport.db").exists(),
        "default SQLite file"
    );
}

#[test]
fn sync_csv_reports_bad_rows_resumes_and_delivers() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("c.csv"),
        "phone,name,balance,bonus\n+420700000002,Petr,100,5\nnot-a-phone,X,1,1\n\
         +420700000003,,abc,\n+420700000004,Eva,20,\n",
    )
    .expect("csv");
    let run = |args: &[&str]| {
        let out = Command::new(bin())
            .args(args)
            .current_dir(dir.path())
            .env_remove("WALLETPORT_CONFIG")
            .output()
            .expect("run");
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")
    };
    let first = run(&["sync", "--csv", "c.csv"]);
    assert_eq!(first["imported"], 2, "{first}");
    assert_eq!(first["bad"], 2);
    assert_eq!(first["errors"][0]["line"], 3);
    assert_eq!(first["errors"][1]["line"], 4);
    assert_eq!(first["outbox"]["customers"], 2);
    let pending = run(&["outbox", "list"]);
    assert_eq!(pending["customers"], 2, "{pending}");
    let second = run(&["sync", "--csv", "c.csv", "--deliver"]);
    assert_eq!(second["imported"], 0, "{second}");
    assert_eq!(second["unchanged"], 2);
    assert_eq!(
        second["delivered"]["vendor_requests"], 2,
        "one request per customer: {second}"
    );
    let after = run(&["outbox", "list"]);
    assert_eq!(after["depth"], 0, "{after}");
    let dead = run(&["outbox", "list", "--dead"]);
    assert_eq!(dead["items"], serde_json::json!([]));
}
