//! A small load generator for the gateway (the later `cargo xtask load` builds on it).
//!
//! ```text
//! cargo run --release -p walletport-server --example load -- hooks [CLIENTS] [SECONDS]
//! cargo run --release -p walletport-server --example load -- sync [CREDITS] [CUSTOMERS] [SCALE]
//! ```
//!
//! `hooks`: a gateway on a temp SQLite file; CLIENTS concurrent clients send Passquare
//! `readBalance`, then `addBalance` (unique transaction ids) hooks for SECONDS each; prints
//! throughput and p50/p99 latency.
//!
//! `sync`: CREDITS credits over CUSTOMERS customers arrive through the REST API while the outbox
//! delivers to the Passquare emulator under the `base` plan (1/s, 60/h) compressed SCALE times;
//! prints vendor requests sent, 429s, and the achieved rate as a share of the plan.

#![allow(clippy::print_stdout, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use walletport_core::{Checked, Customer, Phone, Provider};
use walletport_http::{HttpTransport, QuotaPlan, TransportConfig};
use walletport_passquare::{PassquareConfig, PassquareHooksConfig, PassquareProvider, Plan};
use walletport_sandbox::QuotaWindow;
use walletport_sandbox::passquare::{PassquareEmulator, PassquareEmulatorConfig};
use walletport_server::{Gateway, GatewayConfig, OutboxSection, start_on};
use walletport_store::{Store, WriteOpts};

const CRM_KEY: &str = "load-crm-key";

fn phone(n: u64) -> Phone {
    Phone::parse(&format!("+4207200{n:05}")).expect("phone")
}

async fn sqlite_store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("load.db").display());
    walletport_store::connect(&url).await.expect("store")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn hooks(clients: usize, seconds: u64) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = sqlite_store(&dir).await;
    let customers = 1000u64;
    for n in 0..customers {
        store
            .upsert_customer(&Customer::new(phone(n)), WriteOpts::now().no_echo())
            .await
            .expect("seed");
    }
    let provider: Arc<dyn Provider> = Checked::wrap(Arc::new(
        walletport_memory::MemoryProvider::open(&Default::default()).expect("memory"),
    ));
    let mut config = GatewayConfig::default();
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.hooks.passquare = Some(PassquareHooksConfig::with_crm_key(CRM_KEY));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let running = start_on(listener, &config, Gateway::new(store.clone(), provider))
        .await
        .expect("start");
    let url = format!("{}/hooks/passquare", running.base_url());
    let seq = Arc::new(AtomicU64::new(0));
    for method in ["readBalance", "addBalance"] {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let errors = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (url, seq, errors) = (url.clone(), seq.clone(), errors.clone());
            let client = reqwest::Client::new();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let n = seq.fetch_add(1, Ordering::Relaxed);
                    let mut customer = json!({"phone": phone(n % customers).as_str()});
                    if method == "addBalance" {
                        customer["sum"] = json!("1.5");
                        customer["transactionId"] = json!(format!("load-{n}"));
                    }
                    let body = json!({"crm_key": CRM_KEY, "method": method, "customer": customer});
                    let started = Instant::now();
                    let ok = client
                        .post(&url)
                        .json(&body)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    latencies.push(started.elapsed());
                    if !ok {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                latencies
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("client"));
        }
        all.sort();
        println!(
            "{method}: {clients} clients, {:.0} hooks/s, p50 {:.2} ms, p99 {:.2} ms, {} errors ({} calls)",
            all.len() as f64 / seconds as f64,
            percentile(&all, 0.5).as_secs_f64() * 1e3,
            percentile(&all, 0.99).as_secs_f64() * 1e3,
            errors.load(Ordering::Relaxed),
            all.len()
        );
    }
    running.shutdown().await;
    store.close().await;
}

async fn sync(credits: u64, customers: u64, scale: f64) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = sqlite_store(&dir).await;
    // The base plan, 1/s and 60/h, compressed `scale` times.
    let tick = Duration::from_secs_f64(1.0 / scale);
    let hour = Duration::from_secs_f64(3600.0 / scale);
    let emu_config = PassquareEmulatorConfig {
        app_key: "load-app-key".into(),
        quota: vec![
            QuotaWindow {
                limit: 1,
                per: tick,
            },
            QuotaWindow {
                limit: 60,
                per: hour,
            },
        ],
        ..PassquareEmulatorConfig::default()
    };
    let (emu_srv, emu) = PassquareEmulator::spawn(emu_config, "127.0.0.1:0".parse().expect("a"))
        .await
        .expect("emulator");
    // The client keeps a margin: the emulator counts arrivals, the limiter departures.
    let client_plan = QuotaPlan::parse(&format!(
        "1/{}us, 58/{}us",
        (tick.as_micros() as f64 * 1.1).ceil(),
        hour.as_micros()
    ))
    .expect("plan");
    let mut pq = PassquareConfig::new("load-app-key");
    pq.base_url = emu_srv.base_url();
    pq.plan = Plan::Custom(client_plan.clone());
    let transport = HttpTransport::new(
        TransportConfig::parse("passquare", &emu_srv.base_url())
            .expect("transport")
            .with_quota_plan(client_plan.clone()),
    )
    .expect("transport");
    let provider: Arc<dyn Provider> = Checked::wrap(Arc::new(
        PassquareProvider::with_transport(pq, Arc::new(transport.clone())).expect("provider"),
    ));
    let mut config = GatewayConfig::default();
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    config.outbox = OutboxSection {
        poll_interval: Duration::from_millis(10),
        lease: Duration::from_secs(30),
        batch: 1000,
        ..OutboxSection::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let gw = Gateway::new(store.clone(), provider);
    let metrics = gw.metrics.clone();
    let running = start_on(listener, &config, gw).await.expect("start");
    let api = format!("{}/api", running.base_url());
    let client = reqwest::Client::new();
    let started = Instant::now();
    for n in 0..customers {
        store
            .upsert_customer(&Customer::new(phone(n)), WriteOpts::now().no_echo())
            .await
            .expect("seed");
    }
    let mut tasks = Vec::new();
    let per_task = credits.div_ceil(16);
    for t in 0..16u64 {
        let (client, api) = (client.clone(), api.clone());
        tasks.push(tokio::spawn(async move {
            for k in (t * per_task)..((t + 1) * per_task).min(credits) {
                let p = phone(k % customers);
                let body = json!({"amount": 1, "transaction_id": format!("sync-{k}")});
                let _ = client
                    .post(format!("{api}/customers/{}/credits", p.as_str()))
                    .json(&body)
                    .send()
                    .await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let written = started.elapsed();
    loop {
        let s = store.outbox_stats(chrono::Utc::now()).await.expect("stats");
        if s.depth == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let sent = metrics.vendor_requests();
    let plan_rate = 60.0 / hour.as_secs_f64();
    let stats = transport.stats();
    println!(
        "sync: {credits} credits over {customers} customers (written in {:.1}s), base plan x{scale}: \
         {sent} vendor requests (naive: {credits}), {} HTTP 429s from the emulator, {} quota waits, \
         drained in {:.1}s = {:.1} req/s vs plan {:.1} req/s ({:.0}%)",
        written.as_secs_f64(),
        emu.quota_rejections(),
        stats.quota_waits,
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64(),
        plan_rate,
        100.0 * sent as f64 / elapsed.as_secs_f64() / plan_rate
    );
    running.shutdown().await;
    store.close().await;
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: u64| {
        args.get(i)
            .and_then(|a| a.parse::<u64>().ok())
            .unwrap_or(default)
    };
    match args.first().map(String::as_str) {
        Some("hooks") => hooks(num(1, 32) as usize, num(2, 5)).await,
        Some("sync") => sync(num(1, 10_000), num(2, 1_000), num(3, 3600) as f64).await,
        _ => println!(
            "usage: load hooks [CLIENTS] [SECONDS] | load sync [CREDITS] [CUSTOMERS] [SCALE]"
        ),
    }
}
