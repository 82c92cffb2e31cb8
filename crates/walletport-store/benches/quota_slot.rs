//! What one vendor request's quota slot costs in the store (issue 15): `take_quota_slot` on a
//! plan with room (`1,000,000/s, 1,000,000/h`, so every take grants and records), one caller at
//! a time and from 4 at once (the takes of one provider are serial by design: they lock one row),
//! on SQLite (a temp file, WAL, `synchronous=FULL`) and on PostgreSQL (`WALLETPORT_BENCH_PG`, default
//! `postgres://postgres@127.0.0.1:5432`; a fresh database, dropped afterwards; skipped when
//! unreachable). A vendor round trip is tens of milliseconds; the slot must stay far below it.
//!
//! Run: `cargo bench -p walletport-store --bench quota_slot`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use criterion::Criterion;
use walletport_store::{QuotaLimit, QuotaSlot, Store};

const LIMITS: [QuotaLimit; 2] = [
    QuotaLimit {
        limit: 1_000_000,
        per: Duration::from_secs(1),
    },
    QuotaLimit {
        limit: 1_000_000,
        per: Duration::from_secs(3600),
    },
];

async fn take(store: &dyn Store) {
    let slot = store
        .take_quota_slot("bench", &LIMITS, false)
        .await
        .expect("take a slot");
    assert_eq!(slot, QuotaSlot::Taken, "the bench plan always has room");
}

fn bench_store(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, store: Arc<dyn Store>) {
    let mut group = c.benchmark_group(format!("quota_slot/{name}"));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("one caller", |b| {
        b.to_async(rt).iter(|| take(store.as_ref()));
    });
    group.bench_function("4 callers, per take", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let store = store.clone();
            async move {
                let start = std::time::Instant::now();
                let tasks: Vec<_> = (0..4)
                    .map(|_| {
                        let store = store.clone();
                        tokio::spawn(async move {
                            for _ in 0..iters.div_ceil(4) {
                                take(store.as_ref()).await;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("taker");
                }
                start.elapsed()
            }
        });
    });
    group.finish();
}

fn main() {
    support::on_both_backends("quota", bench_store);
}
