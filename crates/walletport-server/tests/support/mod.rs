//! Test backends (a temp SQLite file, or a PostgreSQL database of its own that is dropped
//! afterwards), a Passquare emulator wired to the gateway, and a recording provider.

#![allow(dead_code, unreachable_pub, unused_imports, unused_macros)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use walletport_core::*;
use walletport_http::{HttpTransport, QuotaPlan, RetryPolicy, TransportConfig};
use walletport_passquare::{PassquareConfig, PassquareHooksConfig, PassquareProvider, Plan};
use walletport_sandbox::passquare::{CrmHookTarget, PassquareEmulator, PassquareEmulatorConfig};
use walletport_sandbox::{Faults, QuotaWindow, RunningServer};
use walletport_server::{Gateway, GatewayConfig, OutboxSection, RunningGateway};
use walletport_store::testing::TempPgDatabase;
use walletport_store::{Store, StoreOptions};

pub mod console;
pub mod logs;
pub mod reads;
pub mod rest;
pub mod vendors;

pub use reads::*;
pub use rest::{Rest, answer, assert_refused};

pub const CRM_KEY: &str = "test-crm-key-7f3a";
pub const APP_KEY: &str = "test-app-key-19c2";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A database for one test: its URL and whatever cleans it up.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<TempPgDatabase>,
}

impl TestDb {
    /// A fresh database, or `None` (loudly) when PostgreSQL is unreachable outside CI.
    pub async fn new(db: Db) -> Option<Self> {
        match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("gw.db").display());
                Some(Self {
                    url,
                    _dir: Some(dir),
                    _pg: None,
                })
            }
            Db::Postgres => postgres().await,
        }
    }

    /// A fresh database (as [`TestDb::new`]) and a store opened on it; keep the `TestDb` while
    /// the store is in use.
    pub async fn with_store(db: Db) -> Option<(Self, Arc<dyn Store>)> {
        let tdb = Self::new(db).await?;
        let store = tdb.open().await;
        Some((tdb, store))
    }

    pub async fn open(&self) -> Arc<dyn Store> {
        let options = StoreOptions {
            max_connections: 16,
            ..StoreOptions::default()
        };
        walletport_store::connect_with(&self.url, options)
            .await
            .expect("open store")
    }
}

async fn postgres() -> Option<TestDb> {
    let pg = TempPgDatabase::for_test("walletport_gw").await?;
    Some(TestDb {
        url: pg.url().to_owned(),
        _dir: None,
        _pg: Some(pg),
    })
}

/// Time-compressed outbox settings (the scenario's): tiny backoffs and polls, short leases.
pub use walletport_server::scenario::quick_outbox as fast_outbox;
/// Waits (polling, bounded) until the outbox has no waiting items.
pub use walletport_server::scenario::wait_drained as drain;

/// A gateway configuration on `127.0.0.1:0` with Passquare hooks and Passteam webhooks on.
pub fn gateway_config(outbox: OutboxSection) -> GatewayConfig {
    let mut c = GatewayConfig::default();
    c.server.listen = "127.0.0.1:0".parse().expect("addr");
    c.server.request_timeout = Duration::from_secs(10);
    c.hooks.passquare = Some(PassquareHooksConfig::with_crm_key(CRM_KEY));
    c.hooks.passteam.enabled = true;
    c.outbox = outbox;
    c
}

/// The memory provider behind the Checked layer, as `walletport::connect` builds it.
pub fn memory_provider() -> Arc<dyn Provider> {
    Checked::wrap(Arc::new(
        walletport_memory::MemoryProvider::open(&Default::default()).expect("memory"),
    ))
}

/// Serves `gw` with `config` on a free loopback port.
pub async fn serve(config: &GatewayConfig, gw: Gateway) -> RunningGateway {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    walletport_server::start_on(listener, config, gw)
        .await
        .expect("start")
}

/// A gateway over the memory provider and a fresh store of `tdb`, with `clock` when given,
/// serving on a free loopback port with the quick outbox.
pub async fn memory_gateway(
    tdb: &TestDb,
    clock: Option<walletport_server::ManualClock>,
) -> (RunningGateway, Arc<dyn Store>) {
    let store = tdb.open().await;
    let mut gw = Gateway::new(store.clone(), memory_provider());
    if let Some(c) = clock {
        gw = gw.with_clock(Arc::new(c));
    }
    (serve(&gateway_config(fast_outbox()), gw).await, store)
}

/// A request's JSON answer in one call, for the tests that only read what came back.
pub trait JsonAnswer {
    /// Sends the request and decodes its answer.
    ///
    /// # Panics
    ///
    /// When the request cannot be sent or the answer is not the JSON of `T`.
    fn json_answer<T: serde::de::DeserializeOwned>(self) -> impl Future<Output = T> + Send;
}

impl JsonAnswer for reqwest::RequestBuilder {
    async fn json_answer<T: serde::de::DeserializeOwned>(self) -> T {
        self.send().await.expect("send").json().await.expect("json")
    }
}

/// Sends `body` (none when null) with `method` to `url`; the status and the JSON answer (null
/// when it is not JSON).
pub async fn send(
    c: &reqwest::Client,
    method: &str,
    url: String,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = c.request(method, url);
    if !body.is_null() {
        req = req.json(&body);
    }
    answer(req.send().await.expect("send")).await
}

/// A Passquare emulator: `quota` windows (scaled plan), `faults`.
pub async fn emulator(
    quota: Vec<QuotaWindow>,
    faults: Faults,
) -> (RunningServer, PassquareEmulator) {
    let config = PassquareEmulatorConfig {
        app_key: APP_KEY.into(),
        quota,
        faults,
        ..PassquareEmulatorConfig::default()
    };
    PassquareEmulator::spawn(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("spawn emulator")
}

/// Points the emulator's CRM hook at the gateway.
pub fn wire_hook(emu: &PassquareEmulator, gateway: &RunningGateway) {
    emu.set_crm_hook(Some(CrmHookTarget {
        url: format!("{}/hooks/passquare", gateway.base_url()),
        crm_key: Some(CRM_KEY.into()),
        ..CrmHookTarget::default()
    }));
}

/// A Passquare provider for the emulator at `base_url`, with `plan` and quick retries; its
/// transport's counters come along for `/metrics`.
pub fn passquare_provider(base_url: &str, plan: &str) -> (Arc<dyn Provider>, HttpTransport) {
    passquare_provider_with(base_url, plan, &walletport_http::InProcessLimiters)
}

/// Like [`passquare_provider`], with the quota limiter `limiters` builds (e.g. a
/// `SharedQuota` over the gateway's store).
pub fn passquare_provider_with(
    base_url: &str,
    plan: &str,
    limiters: &dyn walletport_http::LimiterFactory,
) -> (Arc<dyn Provider>, HttpTransport) {
    let quota = QuotaPlan::parse(plan).expect("plan");
    let mut config = PassquareConfig::new(APP_KEY);
    config.base_url = base_url.to_owned();
    config.plan = Plan::Custom(quota.clone());
    let transport = TransportConfig::parse("passquare", base_url)
        .expect("transport config")
        .with_timeout(Duration::from_secs(5))
        .with_retry(
            RetryPolicy::default()
                .with_max_attempts(4)
                .with_backoff(Duration::from_millis(2), Duration::from_millis(20)),
        )
        .with_quota_from(limiters, quota);
    let transport = HttpTransport::new(transport).expect("transport");
    let provider =
        PassquareProvider::with_transport(config, Arc::new(transport.clone())).expect("provider");
    (Checked::wrap(Arc::new(provider)), transport)
}

/// A gateway over `store` and `provider` with transport counters.
pub fn gateway(
    store: Arc<dyn Store>,
    provider: Arc<dyn Provider>,
    transport: Option<HttpTransport>,
) -> Gateway {
    let gw = Gateway::new(store, provider);
    match transport {
        Some(t) => gw.with_transport_stats(Arc::new(move || t.stats())),
        None => gw,
    }
}

pub fn phone(n: u32) -> Phone {
    Phone::parse(&format!("+4207100{n:05}")).expect("phone")
}

/// One recorded vendor call: whose, which points, and whether another call for the same
/// customer was in flight at the time.
#[derive(Debug, Clone)]
pub struct Sent {
    pub phone: Phone,
    pub points: Decimal,
    pub overlapped: bool,
}

/// A provider that records every balance it is sent (upsert or set_balance), slowly.
#[derive(Debug, Default)]
pub struct Recorder {
    pub sent: Mutex<Vec<Sent>>,
    in_flight: Mutex<HashMap<Phone, u32>>,
    pub delay: Duration,
}

impl Recorder {
    pub fn with_delay(delay: Duration) -> Self {
        Self {
            delay,
            ..Self::default()
        }
    }

    async fn record(&self, phone: &Phone, update: &BalanceUpdate) {
        let overlapped = {
            let mut f = self.in_flight.lock().expect("lock");
            let n = f.entry(phone.clone()).or_default();
            *n += 1;
            *n > 1
        };
        tokio::time::sleep(self.delay).await;
        self.sent.lock().expect("lock").push(Sent {
            phone: phone.clone(),
            points: update.points.unwrap_or_default(),
            overlapped,
        });
        let mut f = self.in_flight.lock().expect("lock");
        if let Some(n) = f.get_mut(phone) {
            *n -= 1;
        }
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().expect("lock").clone()
    }
}

#[async_trait]
impl CustomerPort for Recorder {
    async fn upsert_customer(&self, input: UpsertCustomer) -> Result<CustomerRecord> {
        self.record(&input.customer.phone, &input.balance).await;
        Ok(CustomerRecord::new(input.customer))
    }
}
#[async_trait]
impl BalancePort for Recorder {
    async fn set_balance(&self, input: SetBalance) -> Result<Balance> {
        let CustomerKey::Phone(phone) = &input.customer else {
            return Err(Error::invalid_input("phone expected"));
        };
        self.record(phone, &input.update).await;
        let mut b = Balance::default();
        input.update.apply(&mut b);
        Ok(b)
    }
}
impl CardPort for Recorder {}
impl PushCampaignPort for Recorder {}
impl TemplatePort for Recorder {}

#[async_trait]
impl Provider for Recorder {
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            name: "recorder",
            version: "test",
        }
    }
    fn capability(&self) -> Capability {
        let mut c = Capability::NONE;
        c.customer_upsert = true;
        c.balance_set = true;
        c
    }
    walletport_core::self_ports!();
}

/// Expands each named `async fn name(db: Db)` of the test file into two tests, `sqlite::name`
/// and `postgres::name`, so every gateway test runs on both store backends.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Db::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Db::Postgres).await;
                }
            )*
        }
    };
}
pub(crate) use on_both;
