//! What one outbox claim costs against a large backlog: `claim_batch` of 50 followed by handing
//! the 50 items back (`fail` with `retry_at = now`, so the outbox is the same before every
//! iteration), with N = 1,000, 10,000 and 100,000 items waiting (one per customer, as a resync
//! queues them), on SQLite (a temp file, WAL, `synchronous=FULL`) and on PostgreSQL
//! (`WALLETPORT_BENCH_PG`, default `postgres://postgres@127.0.0.1:5432`; a fresh database,
//! dropped afterwards; skipped when unreachable).
//!
//! Three shapes per N: every customer free (the claim takes the 50 oldest); the oldest 500
//! customers leased by another worker (ten batches in flight elsewhere: the claim must skip them
//! to reach free ones); and the oldest 10% leased (an extreme number in flight, to show what
//! skipping costs per leased item).
//!
//! Then, at the largest N, a vendor outage: the oldest 10% of heads waiting for a retry, then
//! all of them (the claim finds nothing); then one customer with N items waiting (each claim
//! takes 50 of them). Also `outbox_stats` at each N: what a `/metrics` scrape reads.
//!
//! Why: the outbox worker claims on every flush, and on SQLite the claim runs inside the
//! `BEGIN IMMEDIATE` write transaction, so whatever it costs every other writer waits for.
//! A claim must not cost more because a resync queued 100,000 customers behind it. Filling the
//! outbox is not measured.
//!
//! Run: `cargo bench -p walletport-store --bench outbox_claim`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use criterion::{BenchmarkId, Criterion};
use rust_decimal::Decimal;
use walletport_core::{Credit, Customer, Phone, TransactionId};
use walletport_store::{
    ClaimRequest, Failure, MAX_PAGE, MAX_RESYNC_PAGE, OutboxId, Store, WriteOpts,
};

/// Items waiting (one per customer) in each round; the outbox grows from one to the next.
const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// Items one claim takes.
const BATCH: u32 = 50;
/// Concurrent writers while filling (not measured).
const FILLERS: usize = 8;

/// Creates customers `from..to` (without an outbox item), then queues a resync item for every
/// customer without one, oldest first.
async fn grow(store: &Arc<dyn Store>, from: usize, to: usize) {
    let tasks: Vec<_> = (0..FILLERS)
        .map(|lane| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in (from + lane..to).step_by(FILLERS) {
                    let phone = Phone::parse(&format!("+42070{n:07}")).expect("phone");
                    store
                        .upsert_customer(&Customer::new(phone), WriteOpts::now().no_echo())
                        .await
                        .expect("customer");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("filler");
    }
    walletport_store::resync_all(store.as_ref(), None, MAX_RESYNC_PAGE, |_| {})
        .await
        .expect("resync");
}

fn claim(worker: &str, limit: u32, lease: Duration) -> ClaimRequest {
    ClaimRequest {
        worker: worker.to_owned(),
        limit,
        lease,
        now: Utc::now(),
    }
}

/// Hands items back as due now, without ever burying them.
async fn hand_back(store: &dyn Store, worker: &str, ids: &[OutboxId]) {
    let now = Utc::now();
    let failure = Failure {
        error: "bench".to_owned(),
        retry_at: Some(now),
        max_attempts: u32::MAX,
        now,
    };
    let out = store.fail(worker, ids, &failure).await.expect("hand back");
    assert_eq!(out.retrying, ids.len() as u64, "every item goes back");
}

/// One measured iteration: claim 50, hand them back.
async fn claim_and_hand_back(store: &dyn Store) {
    let items = store
        .claim_batch(&claim("bench", BATCH, Duration::from_secs(60)))
        .await
        .expect("claim");
    assert_eq!(items.len(), BATCH as usize, "the backlog has room");
    let ids: Vec<OutboxId> = items.iter().map(|i| i.id).collect();
    hand_back(store, "bench", &ids).await;
}

/// Leases the oldest `count` customers to another worker for an hour; returns their items.
async fn lease_oldest(store: &dyn Store, count: usize) -> Vec<OutboxId> {
    let mut held = Vec::with_capacity(count);
    while held.len() < count {
        let limit = (count - held.len()).min(MAX_PAGE as usize) as u32;
        let items = store
            .claim_batch(&claim("other", limit, Duration::from_secs(3600)))
            .await
            .expect("lease");
        assert!(!items.is_empty(), "enough customers to lease");
        held.extend(items.iter().map(|i| i.id));
    }
    held
}

fn bench_store(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, store: Arc<dyn Store>) {
    let mut group = c.benchmark_group(format!("outbox_claim/{name}"));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    let mut filled = 0;
    for n in SIZES {
        let start = std::time::Instant::now();
        rt.block_on(grow(&store, filled, n));
        filled = n;
        eprintln!(
            "{name}: {n} items waiting (filled in {:?})",
            start.elapsed()
        );
        group.bench_with_input(BenchmarkId::new("all free", n), &n, |b, _| {
            b.to_async(rt).iter(|| claim_and_hand_back(store.as_ref()));
        });
        // What a /metrics scrape, the console's outbox page and `walletport outbox list` read.
        group.bench_with_input(BenchmarkId::new("outbox_stats", n), &n, |b, _| {
            b.to_async(rt).iter(|| async {
                let stats = store.outbox_stats(Utc::now()).await.expect("stats");
                assert_eq!(stats.depth, n as u64, "every item counted");
            });
        });
        for (label, leased) in [("oldest 500 leased", 500), ("oldest 10% leased", n / 10)] {
            let held = rt.block_on(lease_oldest(store.as_ref(), leased));
            group.bench_with_input(BenchmarkId::new(label, n), &n, |b, _| {
                b.to_async(rt).iter(|| claim_and_hand_back(store.as_ref()));
            });
            for chunk in held.chunks(MAX_PAGE as usize) {
                rt.block_on(hand_back(store.as_ref(), "other", chunk));
            }
        }
    }
    // A vendor outage at the largest N: heads wait for their retry, oldest first. These stay
    // waiting (an hour), so they come last.
    let n = filled;
    let waiting = rt.block_on(lease_oldest(store.as_ref(), n / 10));
    rt.block_on(retry_later(store.as_ref(), &waiting));
    group.bench_with_input(
        BenchmarkId::new("oldest 10% waiting for retry", n),
        &n,
        |b, _| {
            b.to_async(rt).iter(|| claim_and_hand_back(store.as_ref()));
        },
    );
    let rest = rt.block_on(lease_oldest(store.as_ref(), n - n / 10));
    rt.block_on(retry_later(store.as_ref(), &rest));
    group.bench_with_input(BenchmarkId::new("all waiting for retry", n), &n, |b, _| {
        b.to_async(rt).iter(|| async {
            let items = store
                .claim_batch(&claim("bench", BATCH, Duration::from_secs(60)))
                .await
                .expect("claim");
            assert!(items.is_empty(), "nothing is due");
        });
    });
    // One customer with N waiting items (a house account credited through a long outage),
    // everyone else still waiting for a retry.
    let start = std::time::Instant::now();
    rt.block_on(credit_one_customer(&store, n));
    eprintln!(
        "{name}: one customer with {n} items waiting (filled in {:?})",
        start.elapsed()
    );
    group.bench_with_input(
        BenchmarkId::new("one customer with N waiting", n),
        &n,
        |b, _| {
            b.to_async(rt).iter(|| claim_and_hand_back(store.as_ref()));
        },
    );
    group.finish();
}

/// Credits one new customer `n` times (each credit queues a balance item).
async fn credit_one_customer(store: &Arc<dyn Store>, n: usize) {
    let phone = Phone::parse("+420799000000").expect("phone");
    let who = store
        .upsert_customer(&Customer::new(phone), WriteOpts::now().no_echo())
        .await
        .expect("customer")
        .id;
    let tasks: Vec<_> = (0..FILLERS)
        .map(|lane| {
            let (store, who) = (store.clone(), who.clone());
            tokio::spawn(async move {
                for k in (lane..n).step_by(FILLERS) {
                    let tx = TransactionId::new(format!("hot-{k}")).expect("transaction id");
                    let credit = Credit::new(Decimal::ONE, tx, None).expect("credit");
                    store
                        .credit(&who, &credit, WriteOpts::now())
                        .await
                        .expect("credit");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("filler");
    }
}

/// Fails items as a vendor outage does: retried in an hour.
async fn retry_later(store: &dyn Store, ids: &[OutboxId]) {
    let now = Utc::now();
    let failure = Failure {
        error: "bench: vendor down".to_owned(),
        retry_at: Some(now + chrono::TimeDelta::hours(1)),
        max_attempts: u32::MAX,
        now,
    };
    for chunk in ids.chunks(MAX_PAGE as usize) {
        store.fail("other", chunk, &failure).await.expect("fail");
    }
}

fn main() {
    support::on_both_backends("outbox", bench_store);
}
