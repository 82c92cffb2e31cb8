//! The `walletport serve` processes of a chaos run: building the binary, starting one on
//! loopback with the run's config, killing it (SIGKILL) or stopping it (SIGTERM).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

use super::vendor::Vendor;
use super::{API_TOKEN, CRM_KEY, START_TIMEOUT};

/// `cargo build -p walletport-cli`, returning the built `walletport` executable.
pub(super) fn build(root: &Path) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("chaos: cargo build -p walletport-cli");
    let out = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--quiet",
            "-p",
            "walletport-cli",
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo build")?;
    if !out.status.success() {
        bail!("cargo build -p walletport-cli failed ({})", out.status);
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "walletport")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| anyhow!("cargo build did not report the walletport executable"))
}

/// One `walletport serve` process; killed (SIGKILL) when dropped.
pub(super) struct Server {
    child: Option<Child>,
    /// Where it listens (announced on its log).
    pub(super) addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    /// Starts `bin serve` with `config`, logging to `dir/{name}.log`, and waits (bounded) for
    /// it to announce its address.
    pub(super) fn start(bin: &Path, dir: &Path, config: &Path, name: &str) -> anyhow::Result<Self> {
        let log = dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).context("server log")?;
        let mut cmd = Command::new(bin);
        cmd.args(["--config"])
            .arg(config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(stderr.try_clone().context("server log")?)
            .stderr(stderr);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("WALLETPORT_") {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut server = Self {
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = std::fs::read_to_string(&server.log).unwrap_or_default();
            if let Some(addr) = text
                .split("walletport gateway on http://")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|a| a.parse().ok())
            {
                server.addr = addr;
                return Ok(server);
            }
            if let Some(status) = server
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!("server {name} exited at start ({status}):\n{}", tail(&text));
            }
            if Instant::now() > deadline {
                bail!(
                    "server {name} did not announce its address:\n{}",
                    tail(&text)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, like a crash or the OOM killer.
    pub(super) fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM; waits (bounded) for a clean exit.
    pub(super) fn terminate(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            bail!("the server is not running");
        };
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        if !sent.is_ok_and(|s| s.success()) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("could not send SIGTERM");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().context("waiting for the server")? {
                if status.success() {
                    return Ok(());
                }
                bail!("the server exited with {status} after SIGTERM");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the server did not stop within 30s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Writes the gateways' config (one for all of them) to `dir/walletport.toml`: the database at
/// `database` (a URL), hooks when the vendor has them, a short outbox lease and fast retries.
pub(super) fn write_config(dir: &Path, vendor: &Vendor, database: &str) -> anyhow::Result<PathBuf> {
    let hooks = if vendor.has_hooks() {
        format!("[hooks.passquare]\ncrm_key = \"{CRM_KEY}\"\n")
    } else {
        String::new()
    };
    let toml = format!(
        r#"[server]
database = "{database}"
api_token = "{API_TOKEN}"
request_timeout = "10s"

{hooks}
[outbox]
lease = "2s"
poll_interval = "50ms"
backoff_base = "20ms"
backoff_max = "500ms"
max_attempts = 100

[provider]
{provider}"#,
        provider = vendor.provider_toml,
    );
    let path = dir.join("walletport.toml");
    std::fs::write(&path, toml).context("writing the config")?;
    Ok(path)
}
