//! Durable credits per second on SQLite (a temp file, WAL, `synchronous=FULL`) with 32
//! concurrent callers: group commit (the default writer) against one transaction per credit
//! (`max_batch = 1`, what a plain "one durable insert per request" integration does).
//!
//! Then a customer with 100,000 ledger entries (credits, half of them expiring in a year, so as
//! many open lots) against a new customer: balance reads, credits and redemptions must cost the
//! same (issue 13).
//!
//! Run: `cargo bench -p walletport-store --bench credit`. Before criterion's figures it prints
//! a latency probe (p50/p99 per credit at 32 callers) for both modes, and the hot-customer rates.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use rust_decimal::Decimal;
use walletport_core::{Credit, Customer, CustomerId, Phone, TransactionId};
use walletport_store::{LedgerOp, Redemption, Store, StoreOptions, WriteOpts};

const CLIENTS: u64 = 32;
const CUSTOMERS: u32 = 1000;
/// The entries of the hot customer.
const HOT_ENTRIES: u64 = 100_000;

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

fn tx_id() -> TransactionId {
    let n = NEXT_TX.fetch_add(1, Ordering::Relaxed);
    TransactionId::new(format!("bench-{n}")).expect("tx id")
}

/// `total` writes for `who` over `CLIENTS` concurrent tasks, each made by `op`; returns the
/// wall time.
async fn writes(
    store: &Arc<dyn Store>,
    who: &CustomerId,
    total: u64,
    op: fn(u64) -> LedgerOp,
    opts: WriteOpts,
) -> Duration {
    let start = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (store, who) = (store.clone(), who.clone());
            tokio::spawn(async move {
                for i in (c..total).step_by(CLIENTS as usize) {
                    let out = store.apply(&who, &op(i), opts).await;
                    assert!(out.expect("write").applied);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    start.elapsed()
}

/// One point, every other one expiring in a year.
fn credit_op(i: u64) -> LedgerOp {
    let lifetime = i
        .is_multiple_of(2)
        .then(|| Duration::from_secs(365 * 86_400));
    LedgerOp::Credit(Credit::new(Decimal::ONE, tx_id(), lifetime).expect("credit"))
}

fn redeem_op(_: u64) -> LedgerOp {
    LedgerOp::Redeem(Redemption::new(Decimal::new(1, 2), tx_id()).expect("redemption"))
}

async fn reads(store: &Arc<dyn Store>, who: &CustomerId, total: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..total {
        store
            .balance(who, chrono::Utc::now())
            .await
            .expect("balance");
    }
    start.elapsed()
}

/// The hot customer (`HOT_ENTRIES` entries) and a new one with 100 points, on one store.
async fn hot_fixture() -> (Fixture, CustomerId, CustomerId) {
    let f = fixture(256).await;
    let (hot, new) = (f.customers[0].clone(), f.customers[1].clone());
    let quiet = WriteOpts::now().no_echo();
    let wall = writes(&f.store, &hot, HOT_ENTRIES, credit_op, quiet).await;
    eprintln!("hot customer: {HOT_ENTRIES} credits in {wall:.1?}");
    let hundred =
        |_| LedgerOp::Credit(Credit::new(Decimal::ONE_HUNDRED, tx_id(), None).expect("credit"));
    writes(&f.store, &new, 1, hundred, quiet).await;
    (f, hot, new)
}

fn hot_probe(rt: &tokio::runtime::Runtime) {
    let (f, hot, new) = rt.block_on(hot_fixture());
    for (label, who) in [("new customer", &new), ("100,000 entries", &hot)] {
        let n = 5_000;
        let read = rt.block_on(reads(&f.store, who, n));
        let credit = rt.block_on(writes(&f.store, who, n, credit_op, WriteOpts::now()));
        let redeem = rt.block_on(writes(&f.store, who, n, redeem_op, WriteOpts::now()));
        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        eprintln!(
            "probe sqlite {label:>15}: balance {:>7.0}/s (1 caller), credit {:>6.0}/s, redeem {:>6.0}/s ({CLIENTS} callers)",
            rate(read),
            rate(credit),
            rate(redeem),
        );
    }
    rt.block_on(f.store.close());
}

fn hot_bench(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let (f, hot, new) = rt.block_on(hot_fixture());
    let mut group = c.benchmark_group("sqlite_hot_customer");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for (label, who) in [("new", &new), ("100k_entries", &hot)] {
        group.bench_function(BenchmarkId::new("balance", label), |b| {
            b.to_async(rt)
                .iter_custom(|iters| reads(&f.store, who, iters));
        });
        group.bench_function(BenchmarkId::new("credit_32_clients", label), |b| {
            b.to_async(rt)
                .iter_custom(|iters| writes(&f.store, who, iters, credit_op, WriteOpts::now()));
        });
    }
    group.finish();
    rt.block_on(f.store.close());
}

fn main() {
    let rt = support::runtime();
    probe(&rt);
    hot_probe(&rt);
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &rt);
    hot_bench(&mut c, &rt);
    c.final_summary();
}
