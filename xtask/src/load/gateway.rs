//! The gateway the `load hooks` benchmarks drive, started in this process (`memory` provider,
//! Passquare hooks on), and the keep-alive HTTP clients that send it hooks. The hook runs, the
//! memory phase and `load sync` all talk to a gateway this way.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use serde_json::{Value, json};
use walletport_core::{Checked, Provider};
use walletport_passquare::PassquareHooksConfig;
use walletport_server::{Gateway, GatewayConfig, RunningGateway, start_on};
use walletport_store::Store;

use super::backend::phone;
use super::drive::{Driven, drive};

/// The `crm_key` the benchmark gateway accepts.
pub(crate) const CRM_KEY: &str = "load-bench-crm-key";

/// Starts a gateway over `store`: Passquare hooks on, `memory` provider, loopback port 0.
pub(crate) async fn start_gateway(store: Arc<dyn Store>) -> anyhow::Result<RunningGateway> {
    let memory = walletport_memory::MemoryProvider::open(&Default::default())
        .map_err(|e| anyhow!("memory provider: {e}"))?;
    let provider: Arc<dyn Provider> = Checked::wrap(Arc::new(memory));
    let mut config = GatewayConfig::default();
    config.server.listen = "127.0.0.1:0".parse().context("loopback address")?;
    config.hooks.passquare = Some(PassquareHooksConfig::with_crm_key(CRM_KEY));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the gateway listener")?;
    start_on(listener, &config, Gateway::new(store, provider))
        .await
        .map_err(|e| anyhow!("starting the gateway: {e}"))
}

/// A keep-alive client for one load task (one connection, reused).
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

/// The hook body for request `n`: customers `first..first + customers` in turn; credits of 1
/// with a unique id.
pub(crate) fn hook_body(
    op: &str,
    n: u64,
    first: u64,
    customers: u64,
    run: &str,
) -> anyhow::Result<Vec<u8>> {
    let mut customer = json!({ "phone": phone(first + n % customers.max(1))?.as_str() });
    if op == "addBalance" {
        customer["sum"] = json!("1");
        customer["transactionId"] = json!(format!("load-{run}-{n}"));
    }
    let body = json!({ "crm_key": CRM_KEY, "method": op, "customer": customer });
    Ok(serde_json::to_vec(&body)?)
}

/// Sends one hook and checks the documented answer (`success: true`).
pub(crate) async fn send_hook(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
) -> Result<(), String> {
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?;
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() && answer["success"] == json!(true) {
        Ok(())
    } else {
        Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&bytes)
                .chars()
                .take(200)
                .collect::<String>()
        ))
    }
}

/// Drives `op` hooks at `url` from `clients` keep-alive clients, aimed at customers
/// `0..customers` in turn.
pub(crate) async fn hooks_run(
    url: &str,
    op: &'static str,
    clients: usize,
    customers: u64,
    warmup: Duration,
    window: Duration,
) -> Driven {
    hooks_run_on(url, op, clients, 0..customers, warmup, window).await
}

/// Drives `op` hooks at `url` from `clients` keep-alive clients, aimed at the benchmark
/// customers `aim` in turn (a single one: `n..n + 1`).
pub(crate) async fn hooks_run_on(
    url: &str,
    op: &'static str,
    clients: usize,
    aim: std::ops::Range<u64>,
    warmup: Duration,
    window: Duration,
) -> Driven {
    let (first, customers) = (aim.start, aim.end.saturating_sub(aim.start));
    let url: Arc<str> = Arc::from(url);
    // Transaction ids stay unique across runs and processes sharing a database.
    let run: Arc<str> = Arc::from(format!("{}-{clients}-{}", std::process::id(), run_tag()));
    drive(
        clients,
        warmup,
        window,
        |_| http_client(),
        move |client: reqwest::Client, n| {
            let (url, run) = (url.clone(), run.clone());
            async move {
                let body = hook_body(op, n, first, customers, &run).map_err(|e| e.to_string())?;
                send_hook(&client, &url, body).await
            }
        },
    )
    .await
}

/// A short tag that differs between runs.
pub(crate) fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{nanos:08x}")
}
