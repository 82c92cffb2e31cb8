//! Durable credits per second on SQLite (a temp file, WAL, `synchronous=FULL`) with 32
//! concurrent callers: group commit (the default writer) against one transaction per credit
//! (`max_batch = 1`, what a plain "one durable insert per request" integration does).
//!
//! Run: `cargo bench -p walletport-store --bench credit`. Before criterion's figures it prints
//! a latency probe (p50/p99 per credit at 32 callers) for both modes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use rust_decimal::Decimal;
use walletport_core::{Credit, Customer, CustomerId, Phone, TransactionId};
use walletport_store::{Store, StoreOptions, WriteOpts};

const CLIENTS: u64 = 32;
const CUSTOMERS: u32 = 1000;

static NEXT_TX: AtomicU64 = AtomicU64::new(0);

struct Fixture {
    store: Arc<dyn Store>,
    customers: Arc<Vec<CustomerId>>,
    _dir: tempfile::TempDir,
}

async fn fixture(max_batch: usize) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let options = StoreOptions {
        max_batch,
        ..StoreOptions::default()
    };
    let store = walletport_store::connect_with(&url, options)
        .await
        .expect("open store");
    let mut customers = Vec::new();
    for n in 0..CUSTOMERS {
        let phone = Phone::parse(&format!("+42070{n:07}")).expect("phone");
        let up = store
            .upsert_customer(&Customer::new(phone), WriteOpts::now().no_echo())
            .await
            .expect("customer");
        customers.push(up.id);
    }
    Fixture {
        store,
        customers: Arc::new(customers),
        _dir: dir,
    }
}

/// Runs `total` credits over `CLIENTS` concurrent tasks; returns the wall time and each
/// credit's latency.
async fn run(f: &Fixture, total: u64) -> (Duration, Vec<Duration>) {
    let start = Instant::now();
    let per = total.div_ceil(CLIENTS);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let store = f.store.clone();
            let customers = f.customers.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per as usize);
                for _ in 0..per {
                    let n = NEXT_TX.fetch_add(1, Ordering::Relaxed);
                    let who = &customers[(n % customers.len() as u64) as usize];
                    let tx = TransactionId::new(format!("bench-{n}")).expect("tx id");
                    let credit = Credit::new(Decimal::new(150, 2), tx, None).expect("credit");
                    let t = Instant::now();
                    let out = store.credit(who, &credit, WriteOpts::now()).await;
                    lat.push(t.elapsed());
                    assert!(out.expect("credit").applied);
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::with_capacity(total as usize);
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    (start.elapsed(), all)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn probe(rt: &tokio::runtime::Runtime) {
    for (label, batch) in [("group commit", 256usize), ("txn per credit", 1)] {
        let f = rt.block_on(fixture(batch));
        let total = if batch == 1 { 1_000 } else { 10_000 };
        let (wall, mut lat) = rt.block_on(run(&f, total));
        lat.sort();
        eprintln!(
            "probe sqlite {label:>15}: {total} durable credits, {CLIENTS} clients: {:>7.0} credits/s, p50 {:?}, p99 {:?}",
            lat.len() as f64 / wall.as_secs_f64(),
            pct(&lat, 0.50),
            pct(&lat, 0.99),
        );
        rt.block_on(f.store.close());
    }
}

fn bench(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let mut group = c.benchmark_group("sqlite_durable_credit_32_clients");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    for (label, batch) in [("group_commit", 256usize), ("txn_per_credit", 1)] {
        let f = rt.block_on(fixture(batch));
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.to_async(rt).iter_custom(|iters| {
                let f = &f;
                async move {
                    // `run` rounds up to a multiple of the clients: scale back to `iters`.
                    let (wall, lat) = run(f, iters).await;
                    wall.mul_f64(iters as f64 / lat.len().max(1) as f64)
                }
            });
        });
        rt.block_on(f.store.close());
    }
    group.finish();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    probe(&rt);
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &rt);
    c.final_summary();
}
