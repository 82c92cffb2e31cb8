//! Scale-out: two outbox workers over one database (two store connections, as two gateway
//! processes would have) while credits keep arriving. No customer's updates are delivered
//! concurrently or out of order, and nothing is lost: the last state each customer's vendor
//! record received is the ledger's final balance. On SQLite and on PostgreSQL.

mod support;

use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use support::*;
use tokio::sync::watch;
use walletport_core::{Credit, Customer, CustomerId, CustomerKey, TransactionId};
use walletport_server::{Gateway, OutboxWorker};
use walletport_store::{Store, WriteOpts};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_on_sqlite() {
    two_workers(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_on_postgres() {
    two_workers(Db::Postgres).await;
}

/// A SQLite test database, a store of it holding one customer (written without an outbox
/// echo), and that customer's id; `None` when the test backend is unavailable.
async fn sqlite_with_one_customer() -> Option<(TestDb, Arc<dyn Store>, CustomerId)> {
    let (tdb, store) = TestDb::with_store(Db::Sqlite).await?;
    let up = store
        .upsert_customer(&Customer::new(phone(1)), WriteOpts::now().no_echo())
        .await
        .expect("customer");
    Some((tdb, store, up.id))
}

/// Credits `amount` points to `customer` exactly once under transaction id `tx`.
async fn credit(store: &dyn Store, customer: &CustomerId, tx: &str, amount: u32) {
    let tx = TransactionId::new(tx).expect("tx");
    let credit = Credit::new(Decimal::from(amount), tx, None).expect("credit");
    store
        .credit(customer, &credit, WriteOpts::now())
        .await
        .expect("credit");
}

async fn two_workers(db: Db) {
    let Some(tdb) = TestDb::new(db).await else {
        return;
    };
    let writer_store = tdb.open().await;
    let store_a = tdb.open().await;
    let store_b = tdb.open().await;
    let recorder = Arc::new(Recorder::with_delay(Duration::from_millis(25)));
    let customers = 20u32;
    let credits_each = 15u32;
    let mut ids = Vec::new();
    for n in 0..customers {
        let up = writer_store
            .upsert_customer(&Customer::new(phone(n)), WriteOpts::now().no_echo())
            .await
            .expect("customer");
        ids.push(up.id);
    }
    let (stop_tx, stop) = watch::channel(false);
    let mut workers = Vec::new();
    for (name, store) in [("worker-a", store_a.clone()), ("worker-b", store_b.clone())] {
        let gw = Gateway::new(store, recorder.clone());
        let config = walletport_server::OutboxSection {
            batch: 7,
            ..fast_outbox()
        };
        let worker = OutboxWorker::with_id(gw, config, name);
        workers.push(tokio::spawn(worker.run(stop.clone())));
    }
    // Credits keep arriving while both workers deliver.
    for k in 0..credits_each {
        for (n, id) in ids.iter().enumerate() {
            credit(writer_store.as_ref(), id, &format!("c-{n}-{k}"), k + 1).await;
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    drain(writer_store.as_ref(), Duration::from_secs(30)).await;
    let _ = stop_tx.send(true);
    for w in workers {
        w.await.expect("worker");
    }
    let sent = recorder.sent();
    assert!(!sent.is_empty());
    assert!(
        sent.iter().all(|s| !s.overlapped),
        "a customer was delivered by two workers at once"
    );
    let total: u32 = (1..=credits_each).sum();
    for n in 0..customers {
        let p = phone(n);
        let seq: Vec<Decimal> = sent
            .iter()
            .filter(|s| s.phone == p)
            .map(|s| s.points)
            .collect();
        assert!(
            seq.windows(2).all(|w| w[0] <= w[1]),
            "customer {n} saw its balance go backwards: {seq:?}"
        );
        assert_eq!(
            seq.last().copied(),
            Some(Decimal::from(total)),
            "customer {n}: the final state was delivered"
        );
        let stored = writer_store
            .get_customer(&CustomerKey::Phone(p))
            .await
            .expect("read")
            .expect("customer");
        let balance = writer_store
            .balance(&stored.id, chrono::Utc::now())
            .await
            .expect("balance");
        assert_eq!(balance.points, Decimal::from(total));
    }
    // Coalescing: far fewer vendor requests than changes.
    assert!(
        sent.len() < (customers * credits_each) as usize,
        "{} requests for {} changes",
        sent.len(),
        customers * credits_each
    );
    for s in [writer_store, store_a, store_b] {
        s.close().await;
    }
}

/// A delivery that outlasts its lease (here a vendor slower than the lease; in production a long
/// wait for a quota slot or a 429's retry) is dropped and handed back instead of being sent late,
/// where it could overwrite the newer state the next claimer sent. The item stays in the outbox
/// and a worker with a responsive vendor delivers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_outlasts_its_lease_is_handed_back() {
    let Some((_tdb, store, customer)) = sqlite_with_one_customer().await else {
        return;
    };
    credit(store.as_ref(), &customer, "lease-1", 5).await;
    let config = walletport_server::OutboxSection {
        lease: Duration::from_secs(1),
        ..fast_outbox()
    };
    let (_stop_tx, stop) = watch::channel(false);

    let slow = Arc::new(Recorder::with_delay(Duration::from_secs(5)));
    let worker = OutboxWorker::with_id(
        Gateway::new(store.clone(), slow.clone()),
        config.clone(),
        "slow",
    );
    let started = std::time::Instant::now();
    let report = worker.flush_once(&stop).await.expect("flush");
    assert_eq!(
        (report.claimed, report.delivered, report.released),
        (1, 0, 1),
        "{report:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the delivery ended with its lease, not with the vendor: {:?}",
        started.elapsed()
    );
    assert!(slow.sent().is_empty(), "nothing was sent late");

    let fast = Arc::new(Recorder::default());
    let worker = OutboxWorker::with_id(Gateway::new(store.clone(), fast.clone()), config, "fast");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while fast.sent().is_empty() && std::time::Instant::now() < deadline {
        worker.flush_once(&stop).await.expect("flush");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let points: Vec<Decimal> = fast.sent().iter().map(|s| s.points).collect();
    assert_eq!(
        points,
        vec![Decimal::from(5)],
        "the handed-back item is delivered"
    );
    store.close().await;
}

/// An idle worker does not wait out its poll for a change written in its own process: the
/// store's outbox signal wakes it. The poll here is an hour, so only the signal can deliver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_wakes_when_its_store_enqueues() {
    let Some((_tdb, store, customer)) = sqlite_with_one_customer().await else {
        return;
    };
    let config = walletport_server::OutboxSection {
        poll_interval: Duration::from_secs(3600),
        ..fast_outbox()
    };
    let recorder = Arc::new(Recorder::default());
    let worker = OutboxWorker::with_id(Gateway::new(store.clone(), recorder.clone()), config, "w");
    let (stop_tx, stop) = watch::channel(false);
    let running = tokio::spawn(worker.run(stop));
    for (n, amount) in [(1, 5), (2, 7)] {
        // Let the worker find the outbox empty and go to sleep first.
        tokio::time::sleep(Duration::from_millis(300)).await;
        credit(store.as_ref(), &customer, &format!("wake-{n}"), amount).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while recorder.sent().len() < n && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            recorder.sent().len(),
            n,
            "change {n} delivered without a poll"
        );
    }
    let points: Vec<Decimal> = recorder.sent().iter().map(|s| s.points).collect();
    assert_eq!(points, vec![Decimal::from(5), Decimal::from(12)]);
    stop_tx.send(true).expect("stop");
    running.await.expect("worker");
    store.close().await;
}
