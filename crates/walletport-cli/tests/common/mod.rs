//! Setup shared by the CLI end-to-end tests: running the `walletport` binary against a config
//! file, parsing its JSON output, writing that config file and spawning a vendor emulator.
//! Each test binary compiles this module on its own, so not all of it is used by every one.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use walletport_sandbox::RunningServer;
use walletport_sandbox::passquare::{PassquareEmulator, PassquareEmulatorConfig};
use walletport_sandbox::passteam::{PassteamEmulator, PassteamEmulatorConfig};
use walletport_sandbox::skycore::{SkycoreEmulator, SkycoreEmulatorConfig};

/// Runs `walletport --config <config> <args>` from the config's directory and returns
/// (success, stdout JSON, stderr JSON), so every test sees the CLI exactly as a user would.
pub(crate) fn walletport(config: &Path, args: &[&str]) -> (bool, Value, Value) {
    walletport_env(config, &[], args)
}

/// [`walletport`] of a command line whose words contain no white space, split on it, so a test
/// reads like the shell session it stands for (`cli(&cfg, "balance get --phone +420000000001")`).
pub(crate) fn cli(config: &Path, line: &str) -> (bool, Value, Value) {
    walletport(config, &line.split_whitespace().collect::<Vec<_>>())
}

/// Like [`walletport`], with extra environment variables set, for tests that check which
/// variables the CLI reads as configuration and which it ignores.
pub(crate) fn walletport_env(
    config: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> (bool, Value, Value) {
    let out = Command::cargo_bin("walletport")
        .expect("binary built")
        .current_dir(config.parent().expect("config has a directory"))
        .env_remove("WALLETPORT_CONFIG")
        .envs(env.iter().copied())
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("walletport runs");
    (out.status.success(), parse(&out.stdout), parse(&out.stderr))
}

/// Parses one output stream: empty means `Null`, anything else must be JSON (the CLI's contract).
fn parse(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
    }
}

/// Starts `walletport [--config <config>] serve --listen 127.0.0.1:0` in `dir`, stdout and
/// stderr piped: the gateway announces its address, or prints its JSON error, on stderr.
pub(crate) fn spawn_serve(config: Option<&Path>, dir: &Path) -> std::process::Child {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("walletport"));
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("WALLETPORT_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn")
}

/// Writes `body` to `<dir>/walletport.toml` and returns its path, so each vendor test only
/// spells out its own `[provider]` section.
pub(crate) fn write_config(dir: &Path, body: &str) -> PathBuf {
    let config = dir.join("walletport.toml");
    std::fs::write(&config, body).expect("write config");
    config
}

/// Spawns an emulator on an ephemeral loopback port; `spawn` is the vendor's `Emulator::spawn`
/// with its config already bound.
pub(crate) async fn spawn_emulator<E, F, Fut>(spawn: F) -> (RunningServer, E)
where
    F: FnOnce(SocketAddr) -> Fut,
    Fut: Future<Output = std::io::Result<(RunningServer, E)>>,
{
    spawn(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("emulator starts")
}

/// A vendor emulator on loopback and a config in a fresh temporary directory that points the
/// CLI at it: where every vendor test starts. Dropping it stops the emulator and removes the files,
/// so bind it whole (`let v = ...`): a pattern that skips `server` would drop it at once.
pub(crate) struct Vendor<E> {
    /// Keeps the emulator serving.
    pub(crate) server: RunningServer,
    /// The emulator, to see what the CLI sent it.
    pub(crate) emu: E,
    /// Holds the config and any file the test writes; must outlive every command run.
    pub(crate) dir: tempfile::TempDir,
    /// `<dir>/walletport.toml`.
    pub(crate) cfg: PathBuf,
}

impl<E> Vendor<E> {
    /// Spawns the emulator (see [`spawn_emulator`]) and writes the config `provider_toml` makes
    /// of its base URL.
    async fn start<F, Fut>(spawn: F, provider_toml: impl FnOnce(&str) -> String) -> Self
    where
        F: FnOnce(SocketAddr) -> Fut,
        Fut: Future<Output = std::io::Result<(RunningServer, E)>>,
    {
        let (server, emu) = spawn_emulator(spawn).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = write_config(dir.path(), &provider_toml(&server.base_url()));
        Self {
            server,
            emu,
            dir,
            cfg,
        }
    }
}

/// The Passquare emulator without rate limits, configured with `app_key` (the emulator accepts
/// `sandbox-app-key`).
pub(crate) async fn passquare(app_key: &str) -> Vendor<PassquareEmulator> {
    Vendor::start(
        |addr| PassquareEmulator::spawn(PassquareEmulatorConfig::unlimited(), addr),
        |url| passquare_toml(url, app_key),
    )
    .await
}

/// The Passteam emulator, configured as [`passteam_toml`] with `encoding`.
pub(crate) async fn passteam(encoding: Option<&str>) -> Vendor<PassteamEmulator> {
    Vendor::start(
        |addr| PassteamEmulator::spawn(PassteamEmulatorConfig::default(), addr),
        |url| passteam_toml(url, encoding),
    )
    .await
}

/// The Skycore emulator, configured with the API key it accepts.
pub(crate) async fn skycore() -> Vendor<SkycoreEmulator> {
    let config = SkycoreEmulatorConfig::default();
    let key = config.api_key.clone();
    Vendor::start(
        |addr| SkycoreEmulator::spawn(config, addr),
        |url| skycore_toml(url, &key),
    )
    .await
}

/// `balance <verb> --phone <phone> --amount <amount> --transaction <id>`: the ledger command
/// (credit or redeem) as the memory tests run it, spelled once.
pub(crate) fn ledger<'a>(
    verb: &'a str,
    phone: &'a str,
    amount: &'a str,
    transaction: &'a str,
) -> [&'a str; 8] {
    [
        "balance",
        verb,
        "--phone",
        phone,
        "--amount",
        amount,
        "--transaction",
        transaction,
    ]
}

/// `push send --phone <phone> --message <message> --channel telegram`: a personal push on the
/// one channel only some vendors carry.
pub(crate) fn telegram_push<'a>(phone: &'a str, message: &'a str) -> [&'a str; 8] {
    [
        "push",
        "send",
        "--phone",
        phone,
        "--message",
        message,
        "--channel",
        "telegram",
    ]
}

/// The output of a command that must succeed (its JSON error otherwise in the message).
pub(crate) fn expect_ok(result: (bool, Value, Value)) -> Value {
    let (ok, out, err) = result;
    assert!(ok, "{err}");
    out
}

/// Fails unless the command failed with a JSON error (`{"error": {...}}`) of `kind`; returns
/// the error for further checks.
pub(crate) fn expect_error(result: (bool, Value, Value), kind: &str, what: &str) -> Value {
    let (ok, out, err) = result;
    assert!(!ok, "{what}: expected a `{kind}` error, got {out}");
    assert_eq!(err["error"]["kind"], kind, "{what}: {err}");
    err
}

/// Fails unless the `providers` output `out` lists `kind` with each named capability as
/// expected: one table per vendor instead of a hand-written search through the list.
pub(crate) fn assert_capabilities(out: &Value, kind: &str, expected: &[(&str, bool)]) {
    let provider = out["providers"]
        .as_array()
        .and_then(|p| p.iter().find(|k| k["kind"] == kind))
        .unwrap_or_else(|| panic!("`{kind}` is not listed: {out}"));
    for (capability, supported) in expected {
        assert_eq!(
            provider["capability"][capability], *supported,
            "{kind} {capability}: {out}"
        );
    }
}

/// Fails unless every command line in `lines` fails with the JSON `unsupported` error and prints
/// nothing on stdout: the calls a vendor's capability lacks, one table per vendor.
pub(crate) fn expect_unsupported(config: &Path, lines: &[&str]) {
    for line in lines {
        let (ok, out, err) = cli(config, line);
        assert!(!ok, "{line}: expected an `unsupported` error, got {out}");
        assert_eq!(out, Value::Null, "{line}: stdout must stay empty");
        assert_eq!(err["error"]["kind"], "unsupported", "{line}: {err}");
    }
}

/// `balance set --phone <phone> --points <points> <more>`, which must succeed and echo the
/// points; then `balance get`: the balance as the vendor now holds it.
pub(crate) fn set_balance(config: &Path, phone: &str, points: &str, more: &str) -> Value {
    let set = expect_ok(cli(
        config,
        &format!("balance set --phone {phone} --points {points} {more}"),
    ));
    assert_eq!(set["points"], points, "{set}");
    expect_ok(cli(config, &format!("balance get --phone {phone}")))
}

/// `customer list <flags>`, which must succeed: how many customers the page holds, and its
/// `next_page`.
pub(crate) fn customer_page(config: &Path, flags: &str) -> (Option<usize>, Value) {
    let out = expect_ok(cli(config, &format!("customer list {flags}")));
    (
        out["items"].as_array().map(Vec::len),
        out["next_page"].clone(),
    )
}

/// Writes `toml` to `<dir>/bad.toml` and fails unless `line` run against it is refused with a
/// `config_invalid` error whose message contains `names` (what the user has to fix).
pub(crate) fn expect_config_invalid(dir: &Path, toml: &str, line: &str, names: &str) {
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, toml).expect("write bad config");
    let err = expect_error(cli(&bad, line), "config_invalid", toml);
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(names)),
        "{err}"
    );
}

/// Creates the campaign "Sale!" (named "Nov") and sends it through `run` (the test's way of
/// invoking the binary); returns the send command's output.
pub(crate) fn create_and_send_campaign(run: impl Fn(&[&str]) -> (bool, Value, Value)) -> Value {
    let created = expect_ok(run(&[
        "campaign",
        "create",
        "--message",
        "Sale!",
        "--name",
        "Nov",
    ]));
    let id = created["id"].as_str().expect("campaign id").to_owned();
    expect_ok(run(&["campaign", "send", "--id", &id]))
}

/// Writes a config for the in-process memory provider, its state in `<dir>/state.json`, and
/// returns its path: separate invocations against it share that state.
pub(crate) fn memory_config(dir: &Path) -> PathBuf {
    write_config(
        dir,
        &format!(
            "[provider]\nkind = \"memory\"\npath = \"{}\"\n",
            dir.join("state.json").display()
        ),
    )
}

/// The `[provider]` section for the Passquare emulator at `base_url` (the plan high enough that
/// no test waits on it).
pub(crate) fn passquare_toml(base_url: &str, app_key: &str) -> String {
    format!(
        "[provider]\nkind = \"passquare\"\nbase_url = \"{base_url}\"\napp_key = \"{app_key}\"\n\
         plan = \"1000/s\"\n"
    )
}

/// The `[provider]` section for the Passteam emulator at `base_url`: its sandbox token and
/// template, the documented field names, and the body `encoding` when one is given.
pub(crate) fn passteam_toml(base_url: &str, encoding: Option<&str>) -> String {
    let encoding = encoding
        .map(|e| format!("encoding = \"{e}\"\n"))
        .unwrap_or_default();
    format!(
        "[provider]\nkind = \"passteam\"\nbase_url = \"{base_url}\"\ntoken = \"sandbox-token\"\n\
         template_id = \"5e424c181dbf0d537c8b4569\"\n{encoding}\n\
         [provider.fields]\nphone = \"PHONE\"\nname = \"CLIENT_NAME\"\nsurname = \"SURNAME\"\n\
         birthday = \"BIRTHDAY\"\nemail = \"EMAIL\"\nbalance = \"BONUS\"\nbonus = \"PERCENT\"\n\
         discount = \"DISCOUNT\"\ncard_number = \"NUMBERCARD\"\n"
    )
}

/// The `[provider]` section for the Skycore emulator at `endpoint`, on its first sandbox layout.
pub(crate) fn skycore_toml(endpoint: &str, api_key: &str) -> String {
    format!(
        "[provider]\nkind = \"skycore\"\nendpoint = \"{endpoint}\"\napi_key = \"{api_key}\"\n\
         template_id = \"sandbox-layout-1\"\nrate_limit = \"1000/s\"\n"
    )
}

/// `customer upsert` of Joe (+420000000001) with every field a customer has and a balance:
/// the first write of the memory and Passquare end-to-end tests.
pub(crate) const JOE_UPSERT: &str = "customer upsert --phone +420000000001 --name Joe \
                                      --email joe@passquare.com --birthday 1980-01-25 \
                                      --balance 100 --bonus 3.50";
