//! The gateways of `cargo xtask load sync`: `--gateways N` in-process gateways on one database,
//! each as a separate `walletport serve` would be — its own store pool
//! (`walletport_store::connect` on the same URL), its own Passquare provider and transport, its
//! own REST listener and its own `OutboxWorker` — all configured with the vendor's full plan,
//! not a share of it. With one gateway this is the benchmark's single gateway.
//!
//! Each gateway's quota limiter is `--limiter shared` (`walletport_server::SharedQuota` on its
//! own pool: the plan's windows kept in the database, as `walletport serve` does) or `local` (a
//! limiter in the gateway's transport alone, as before issue 15); the default is `shared` with
//! more than one gateway and `local` with one (the benchmark's figures before issue 15).
//!
//! The writers spread the changes over the gateways' REST APIs (writer `w` talks to gateway
//! `w mod N`), or with `--uneven` all of them to gateway 0, while every worker still claims from
//! the one outbox: the case where a plan split by hand idles two thirds of itself.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;
use walletport_core::{Checked, Provider};
use walletport_http::{InProcessLimiters, LimiterFactory};
use walletport_passquare::{PassquareConfig, PassquareProvider};
use walletport_server::{
    FlushReport, Gateway, GatewayConfig, OutboxSection, OutboxWorker, RunningGateway, SharedQuota,
};
use walletport_store::Store;

use super::backend::{TempDb, phone};
use super::gateway::http_client;

/// The connections of each gateway's store pool.
const POOL: u32 = 8;

/// `--limiter`: where a gateway's vendor quota is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LimiterChoice {
    /// In the store, shared by every gateway on the database (`SharedQuota`).
    Shared,
    /// In each gateway's transport alone (`InProcessLimiters`).
    Local,
}

impl LimiterChoice {
    /// The choice, or the default for `gateways`: shared for several, local for one.
    pub(crate) fn or_default(choice: Option<Self>, gateways: u32) -> Self {
        choice.unwrap_or(if gateways > 1 {
            Self::Shared
        } else {
            Self::Local
        })
    }
}

/// One gateway: what a `walletport serve` process holds.
pub(crate) struct Member {
    /// Its own pool on the shared database.
    pub(crate) store: Arc<dyn Store>,
    /// The gateway state (store + provider).
    pub(crate) gw: Gateway,
    running: RunningGateway,
}

/// The gateways of one scenario.
pub(crate) struct Fleet {
    /// Gateway 0 first; every one has its own pool, provider and worker.
    pub(crate) members: Vec<Member>,
}

impl Fleet {
    /// Opens `n` store pools on `db` (migrations run by the first).
    pub(crate) async fn open_stores(db: &TempDb, n: u32) -> anyhow::Result<Vec<Arc<dyn Store>>> {
        let mut stores = Vec::new();
        for _ in 0..n {
            stores.push(db.open_store(POOL).await?);
        }
        Ok(stores)
    }

    /// Starts one gateway per store, each with its own Passquare provider built from `pq` (so
    /// its own transport) and its quota limiter as `limiter` says.
    pub(crate) async fn start(
        stores: Vec<Arc<dyn Store>>,
        pq: &PassquareConfig,
        limiter: LimiterChoice,
    ) -> anyhow::Result<Self> {
        let mut members = Vec::new();
        for store in stores {
            let factory: Box<dyn LimiterFactory> = match limiter {
                LimiterChoice::Shared => Box::new(SharedQuota::new(store.clone())),
                LimiterChoice::Local => Box::new(InProcessLimiters),
            };
            let provider: Arc<dyn Provider> = Checked::wrap(Arc::new(
                PassquareProvider::with_limiters(pq.clone(), factory.as_ref())
                    .map_err(|e| anyhow!("Passquare adapter: {e}"))?,
            ));
            let mut config = GatewayConfig::default();
            config.server.listen = "127.0.0.1:0".parse().context("loopback")?;
            // The benchmark drives the workers itself to count every flush.
            config.outbox.enabled = false;
            let gw = Gateway::new(store.clone(), provider);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let running = walletport_server::start_on(listener, &config, gw.clone())
                .await
                .map_err(|e| anyhow!("starting a gateway: {e}"))?;
            members.push(Member { store, gw, running });
        }
        Ok(Self { members })
    }

    /// Each gateway's REST API base (`http://…/api`).
    pub(crate) fn apis(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("{}/api", m.running.base_url()))
            .collect()
    }

    /// Starts every gateway's outbox worker (driven by [`drive_worker`]) until `stop`.
    pub(crate) fn spawn_workers(
        &self,
        outbox: &OutboxSection,
        stop: &watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<anyhow::Result<Totals>>> {
        self.members
            .iter()
            .map(|m| {
                let worker = OutboxWorker::new(m.gw.clone(), outbox.clone());
                tokio::spawn(drive_worker(worker, stop.clone()))
            })
            .collect()
    }

    /// Stops the listeners and closes the pools.
    pub(crate) async fn shutdown(self) {
        for m in self.members {
            m.running.shutdown().await;
            m.store.close().await;
        }
    }
}

/// Sums of one worker's flush reports.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub(crate) struct Totals {
    /// Non-empty flushes.
    pub(crate) flushes: u64,
    /// Distinct customers summed over flushes.
    pub(crate) customers: u64,
    /// Vendor requests the worker reports.
    pub(crate) requests: u64,
    /// Outbox items delivered.
    pub(crate) delivered: u64,
}

impl Totals {
    fn add(&mut self, r: &FlushReport) {
        if r.claimed > 0 {
            self.flushes += 1;
        }
        self.customers += r.customers as u64;
        self.requests += r.requests as u64;
        self.delivered += r.delivered as u64;
    }

    /// The sum over workers.
    pub(crate) fn sum(all: &[Totals]) -> Totals {
        all.iter().fold(Totals::default(), |a, t| Totals {
            flushes: a.flushes + t.flushes,
            customers: a.customers + t.customers,
            requests: a.requests + t.requests,
            delivered: a.delivered + t.delivered,
        })
    }
}

/// Runs `worker` (the gateway's own loop: poll, woken by its store's writes) until `stop`,
/// summing its flush reports.
async fn drive_worker(worker: OutboxWorker, stop: watch::Receiver<bool>) -> anyhow::Result<Totals> {
    let mut totals = Totals::default();
    worker
        .run_reporting(stop, |report| totals.add(report))
        .await;
    Ok(totals)
}

/// The gateway writer `w` of `gateways` sends to: `w mod gateways`, or always 0 when `uneven`.
fn target_of(w: u64, gateways: usize, uneven: bool) -> usize {
    if uneven {
        0
    } else {
        (w % gateways.max(1) as u64) as usize
    }
}

/// Writes `changes` credits of 1 over `customers` customers from 16 REST clients spread over
/// `apis` (see [`target_of`]); returns the seconds it took.
pub(crate) async fn write_changes(
    apis: &[String],
    uneven: bool,
    changes: u64,
    customers: u64,
) -> anyhow::Result<f64> {
    const WRITERS: u64 = 16;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let api = apis
            .get(target_of(w, apis.len(), uneven))
            .cloned()
            .ok_or_else(|| anyhow!("no gateway to write to"))?;
        let client = http_client();
        tasks.push(tokio::spawn(async move {
            let mut k = w;
            while k < changes {
                let p = phone(k % customers)?;
                let url = format!("{api}/customers/{}/credits", p.as_str());
                let body = json!({ "amount": "1", "transaction_id": format!("sync-{k}") });
                let resp = client.post(&url).json(&body).send().await?;
                let status = resp.status();
                let answer: serde_json::Value = resp.json().await.unwrap_or_default();
                if !status.is_success() || answer["applied"] != json!(true) {
                    bail!("credit {k}: HTTP {status}: {answer}");
                }
                k += WRITERS;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("a writer task")??;
    }
    Ok(started.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_spread_over_the_gateways_unless_uneven() {
        let even: Vec<usize> = (0..6).map(|w| target_of(w, 3, false)).collect();
        assert_eq!(even, [0, 1, 2, 0, 1, 2]);
        assert!((0..16).all(|w| target_of(w, 3, true) == 0));
        assert!((0..16).all(|w| target_of(w, 1, false) == 0));
    }
}
