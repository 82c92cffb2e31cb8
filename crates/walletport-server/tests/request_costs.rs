//! What each gateway operation costs at each vendor, in HTTP requests, counted by the vendor's
//! emulator: a new customer, a credit, a percentage change, and a resync of many customers to a
//! vendor that has none of them yet. The numbers are asserted, so a change that makes a sync
//! dearer fails here; `-- --nocapture` prints the table (docs/benchmarks.md quotes it).

mod support;

use std::sync::Arc;

use rust_decimal::Decimal;
use support::{Db, TestDb, fast_outbox};
use walletport::{Credit, Customer, Percent, Phone, Provider, ProviderConfig, TransactionId};
use walletport_sandbox::passquare::{PassquareEmulator, PassquareEmulatorConfig};
use walletport_sandbox::passteam::{PassteamEmulator, PassteamEmulatorConfig};
use walletport_sandbox::skycore::{SkycoreEmulator, SkycoreEmulatorConfig};
use walletport_server::{Gateway, OutboxWorker};
use walletport_store::{Percentages, Store, WriteOpts};

/// Customers in the resync measurement.
const RESYNC: u32 = 1_000;

/// A vendor's emulator, its provider config, and its request counter.
struct Vendor {
    name: &'static str,
    config: ProviderConfig,
    count: Box<dyn Fn() -> usize + Send + Sync>,
    _server: walletport_sandbox::RunningServer,
}

impl Vendor {
    /// The vendor `name` whose emulator `server` runs, connected by the provider config `toml`,
    /// its requests counted by `count`.
    fn new(
        name: &'static str,
        server: walletport_sandbox::RunningServer,
        toml: &str,
        count: impl Fn() -> usize + Send + Sync + 'static,
    ) -> Self {
        Self {
            name,
            config: ProviderConfig::from_toml(toml).expect("config"),
            count: Box::new(count),
            _server: server,
        }
    }
}

async fn passquare() -> Vendor {
    let config = PassquareEmulatorConfig::unlimited();
    let key = config.app_key.clone();
    let (server, emu) = PassquareEmulator::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator");
    let toml = format!(
        "kind = \"passquare\"\nbase_url = \"{}\"\napp_key = \"{key}\"\nplan = \"100000/s\"\n",
        server.base_url()
    );
    Vendor::new("passquare", server, &toml, move || emu.request_count())
}

async fn passteam(phone_lookup: &str) -> Vendor {
    let config = PassteamEmulatorConfig {
        quota: Vec::new(),
        ..PassteamEmulatorConfig::default()
    };
    let (server, emu) = PassteamEmulator::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator");
    let toml = format!(
        "kind = \"passteam\"\nbase_url = \"{}\"\ntoken = \"sandbox-token\"\n\
         template_id = \"5e424c181dbf0d537c8b4569\"\nquota = \"100000/h\"\n\
         phone_lookup = \"{phone_lookup}\"\n\n[fields]\nphone = \"PHONE\"\nname = \"CLIENT_NAME\"\n\
         balance = \"BONUS\"\nbonus = \"PERCENT\"\ndiscount = \"DISCOUNT\"\n",
        server.base_url()
    );
    let name = if phone_lookup == "both" {
        "passteam"
    } else {
        "passteam (phone_lookup = plus)"
    };
    Vendor::new(name, server, &toml, move || emu.request_count())
}

async fn skycore() -> Vendor {
    let config = SkycoreEmulatorConfig::default();
    let key = config.api_key.clone();
    let (server, emu) = SkycoreEmulator::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator");
    let toml = format!(
        "kind = \"skycore\"\nendpoint = \"{}\"\napi_key = \"{key}\"\n\
         template_id = \"sandbox-layout-1\"\nrate_limit = \"100000/s\"\n",
        server.base_url()
    );
    Vendor::new("skycore", server, &toml, move || emu.requests().len())
}

/// Requests per operation, as measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Costs {
    new_customer: usize,
    credit: usize,
    percentages: usize,
    resync_per_customer_x1000: usize,
}

fn phone(n: u32) -> Phone {
    Phone::parse(&format!("+4207500{n:05}")).expect("phone")
}

/// Runs the worker until the outbox is empty; returns the vendor requests it took.
async fn flush(worker: &OutboxWorker, store: &dyn Store, vendor: &Vendor) -> usize {
    let before = (vendor.count)();
    let (_tx, stop) = tokio::sync::watch::channel(false);
    loop {
        let report = worker.flush_once(&stop).await.expect("flush");
        assert_eq!(report.dead, 0, "{}: nothing is dead-lettered", vendor.name);
        if report.claimed == 0 {
            let stats = store.outbox_stats(chrono::Utc::now()).await.expect("stats");
            assert_eq!(stats.dead, 0, "{}: no dead letters", vendor.name);
            if stats.depth == 0 {
                break;
            }
        }
    }
    (vendor.count)() - before
}

async fn measure(vendor: Vendor) -> Costs {
    let db = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let store = db.open().await;
    let provider: Arc<dyn Provider> = walletport::connect(&vendor.config).expect("connect");
    let gw = Gateway::new(store.clone(), provider.clone());
    let worker = OutboxWorker::new(gw, fast_outbox());
    // Warm the adapter's caches (Passteam's template) as a running gateway has them.
    let warm = store
        .upsert_customer(&Customer::new(phone(0)), WriteOpts::now())
        .await
        .expect("warm-up");
    flush(&worker, store.as_ref(), &vendor).await;

    let ann = Customer {
        name: Some("Ann".into()),
        ..Customer::new(phone(1))
    };
    let id = store
        .upsert_customer(&ann, WriteOpts::now())
        .await
        .expect("customer")
        .id;
    let new_customer = flush(&worker, store.as_ref(), &vendor).await;
    let credit = Credit::new(Decimal::TEN, TransactionId::new("cost-1").unwrap(), None).unwrap();
    store
        .credit(&id, &credit, WriteOpts::now())
        .await
        .expect("credit");
    let credit = flush(&worker, store.as_ref(), &vendor).await;
    let pct = Percentages {
        bonus: Some(Percent::new(Decimal::new(5, 0)).unwrap()),
        discount: None,
    };
    store
        .set_percentages(&id, pct, WriteOpts::now())
        .await
        .expect("percentages");
    let percentages = flush(&worker, store.as_ref(), &vendor).await;

    // A programme the vendor has never seen: customers stored without syncing, then resynced.
    for n in 0..RESYNC {
        let c = Customer {
            name: Some(format!("Moved {n}")),
            ..Customer::new(phone(1_000 + n))
        };
        store
            .upsert_customer(&c, WriteOpts::now().no_echo())
            .await
            .expect("stored");
    }
    walletport_store::resync_all(store.as_ref(), None, 500, |_| {})
        .await
        .expect("resync");
    let resync = flush(&worker, store.as_ref(), &vendor).await;
    let _ = warm;
    store.close().await;
    // The two customers synced before are in the resync too (their state, again).
    let per_1000 = resync * 1_000 / (RESYNC as usize + 2);
    Costs {
        new_customer,
        credit,
        percentages,
        resync_per_customer_x1000: per_1000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout)] // the table is the measurement docs/benchmarks.md quotes
async fn requests_per_operation_per_vendor() {
    let expected = [
        // vendor, new customer, credit, percentages, resync requests per 1,000 customers
        ("passquare", 1, 1, 1, 1_000),
        ("passteam", 1, 2, 2, 1_000),
        ("passteam (phone_lookup = plus)", 1, 2, 2, 1_000),
        ("skycore", 1, 1, 1, 1_000),
    ];
    let vendors = [
        passquare().await,
        passteam("both").await,
        passteam("plus").await,
        skycore().await,
    ];
    println!("| vendor | new customer | credit | percentages | resync, per 1,000 new customers |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let mut measured = Vec::new();
    for vendor in vendors {
        let name = vendor.name;
        let c = measure(vendor).await;
        println!(
            "| {name} | {} | {} | {} | {} |",
            c.new_customer, c.credit, c.percentages, c.resync_per_customer_x1000
        );
        measured.push((name, c));
    }
    for ((name, c), (want, new, credit, pct, resync)) in measured.iter().zip(expected) {
        assert_eq!(*name, want);
        assert_eq!(
            (c.new_customer, c.credit, c.percentages),
            (new, credit, pct),
            "{name}: {c:?}"
        );
        assert!(
            c.resync_per_customer_x1000.abs_diff(resync) <= 10,
            "{name}: resync costs {} per 1,000, expected {resync}",
            c.resync_per_customer_x1000
        );
    }
}
