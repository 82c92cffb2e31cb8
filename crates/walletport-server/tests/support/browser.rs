//! Headless Chromium driven through chromedriver (Debian's `chromium` and `chromium-driver`
//! packages) with fantoccini: shared by `tests/console_browser.rs` and `cargo xtask
//! console-screenshots`, so both start the browser the same way.

#![allow(dead_code, unreachable_pub)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

/// The variable that skips the browser test when set to `1` (never implied).
pub const SKIP_VAR: &str = "WALLETPORT_SKIP_BROWSER";

/// What to do when the tools are missing: the message every caller prints.
pub const INSTALL_HINT: &str = "run the tests with `cargo xtask test`, which installs them, or install them yourself: \
     `DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver` \
     (or set WALLETPORT_SKIP_BROWSER=1 to skip the browser test explicitly)";

/// How long chromedriver may take to accept connections.
const DRIVER_START: Duration = Duration::from_secs(20);

/// The two programs the browser needs.
#[derive(Debug, Clone)]
pub struct Tools {
    /// The Chromium binary (Debian: `/usr/bin/chromium`).
    pub chromium: PathBuf,
    /// The WebDriver server (Debian: `/usr/bin/chromedriver`).
    pub chromedriver: PathBuf,
}

/// Whether `WALLETPORT_SKIP_BROWSER=1` asks to skip the browser.
pub fn skip_requested() -> bool {
    std::env::var(SKIP_VAR).is_ok_and(|v| v.trim() == "1")
}

/// The first executable called `name` on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds chromium and chromedriver on `PATH`, or says which is missing and how to install it.
pub fn find_tools() -> Result<Tools, String> {
    let chromium = on_path("chromium").or_else(|| on_path("chromium-browser"));
    let chromedriver = on_path("chromedriver");
    match (chromium, chromedriver) {
        (Some(chromium), Some(chromedriver)) => Ok(Tools {
            chromium,
            chromedriver,
        }),
        (chromium, _) => Err(format!(
            "headless Chromium is not installed ({} missing): {INSTALL_HINT}",
            if chromium.is_none() {
                "chromium"
            } else {
                "chromedriver"
            }
        )),
    }
}

/// A free loopback port (bound, read, released).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("no free port for chromedriver: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port for chromedriver: {e}"))
}

/// A chromedriver process with one headless Chromium session; the process is killed on drop.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
}

impl Browser {
    /// Starts `chromedriver --port=<free port>` and opens a headless Chromium session with a
    /// `width` × `height` window.
    pub async fn launch(tools: &Tools, width: u32, height: u32) -> Result<Self, String> {
        let port = free_port()?;
        let mut driver = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {}: {e}; {INSTALL_HINT}",
                    tools.chromedriver.display()
                )
            })?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let started = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if started.elapsed() > DRIVER_START || driver.try_wait().ok().flatten().is_some() {
                let _ = driver.kill();
                let _ = driver.wait();
                return Err(format!(
                    "chromedriver did not accept connections on {addr} within {DRIVER_START:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": tools.chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    format!("--window-size={width},{height}"),
                ],
            }),
        );
        let connected = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://{addr}"))
            .await;
        match connected {
            Ok(client) => Ok(Self { client, driver }),
            Err(e) => {
                let _ = driver.kill();
                let _ = driver.wait();
                Err(format!("chromedriver could not start Chromium: {e}"))
            }
        }
    }

    /// Ends the session and stops chromedriver.
    pub async fn close(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Never leave a chromedriver behind, whatever failed.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
