//! Expiry is an event (issue 13): a credit's expiry reaches the vendor card within
//! `[ledger] expiry_interval` plus one outbox delivery, on every provider; no lot expires twice,
//! also with several gateways on one database. The gateway's clock is a `ManualClock`, so nothing
//! sleeps for a lifetime.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use rust_decimal::Decimal;
use support::vendors::{Vendor, every_provider, vendor};
use support::*;
use tokio::sync::watch;
use walletport_core::{
    Credit, Customer, CustomerId, CustomerKey, GetBalance, Phone, Provider, TransactionId,
};
use walletport_server::{Clock, ExpiryTask, Gateway, LedgerSection, ManualClock, OutboxWorker};
use walletport_store::{EntryKind, LedgerQuery, Store, WriteOpts};

every_provider!(expiry_reaches_the_card);

/// Delivers the whole outbox with `worker` (the clock moves a second between rounds, so a retry
/// comes due); panics when it does not drain.
async fn flush(worker: &OutboxWorker, store: &dyn Store, clock: &ManualClock) {
    let (_stop, never) = watch::channel(false);
    for _ in 0..30 {
        worker.flush_once(&never).await.expect("flush");
        let stats = store.outbox_stats(clock.now()).await.expect("stats");
        if stats.depth == 0 {
            assert_eq!(stats.dead, 0, "{stats:?}");
            return;
        }
        clock.advance(TimeDelta::seconds(1));
    }
    panic!("the outbox did not drain");
}

/// The points the vendor shows for the customer, as the gateway addresses them.
async fn vendor_points(provider: &dyn Provider, phone: &Phone, id: &CustomerId) -> Decimal {
    let customer = if provider.capability().customer_get_by_phone {
        CustomerKey::Phone(phone.clone())
    } else {
        CustomerKey::Id(id.clone())
    };
    provider
        .balances()
        .get_balance(GetBalance { customer })
        .await
        .expect("vendor balance")
        .points
}

/// Credits `amount` under `tx` at `now`, burning after `lifetime` seconds when given.
async fn credit(
    store: &dyn Store,
    id: &CustomerId,
    (amount, tx, lifetime): (i64, &str, Option<u64>),
    now: chrono::DateTime<Utc>,
) {
    let credit = Credit::new(
        Decimal::from(amount),
        TransactionId::new(tx).expect("tx"),
        lifetime.map(Duration::from_secs),
    )
    .expect("credit");
    store
        .credit(id, &credit, WriteOpts::at(now))
        .await
        .expect("credit");
}

/// A new customer with phone `n`.
async fn customer(store: &dyn Store, n: u32, now: chrono::DateTime<Utc>) -> (Phone, CustomerId) {
    let phone = phone(n);
    let id = store
        .upsert_customer(&Customer::new(phone.clone()), WriteOpts::at(now))
        .await
        .expect("customer")
        .id;
    (phone, id)
}

async fn expiry_reaches_the_card(which: Vendor) {
    let (_tdb, store) = TestDb::with_store(Db::Sqlite).await.expect("sqlite");
    let (_emulator, config) = vendor(which).await;
    let provider = walletport::connect(&config).expect("connect");
    let clock = ManualClock::new(Utc::now());
    let gw = Gateway::new(store.clone(), provider.clone()).with_clock(Arc::new(clock.clone()));
    let worker = OutboxWorker::with_id(gw.clone(), fast_outbox(), "expiry-test");
    let task = ExpiryTask::new(gw.clone(), LedgerSection::default());
    let held = provider.balance_fields().points;

    let (phone, id) = customer(store.as_ref(), 501, gw.now()).await;
    for c in [(10, "e-1", Some(3600)), (5, "e-2", None)] {
        credit(store.as_ref(), &id, c, gw.now()).await;
    }
    // Drains the outbox to the vendor; a vendor that holds points must then show `points`.
    let flush_then_card_shows = async |points: u32, what: &str| {
        flush(&worker, store.as_ref(), &clock).await;
        if held {
            assert_eq!(
                vendor_points(provider.as_ref(), &phone, &id).await,
                Decimal::from(points),
                "{which:?}: {what}"
            );
        }
    };
    flush_then_card_shows(15, "the card shows the credits").await;

    // Past the lifetime the gateway's answer is exact at once; the card waits for the task.
    clock.advance(TimeDelta::seconds(3601));
    let balance = store.balance(&id, gw.now()).await.expect("balance");
    assert_eq!(balance.points, Decimal::from(5));
    let report = task.run_once().await.expect("expire");
    assert_eq!(
        (report.customers, report.lots, report.points),
        (1, 1, Decimal::from(10)),
        "{which:?}"
    );
    assert_eq!(gw.metrics.expired_lots(), 1);
    let again = task.run_once().await.expect("expire again");
    assert_eq!(again.lots, 0, "no lot expires twice: {again:?}");
    assert!(
        store.outbox_stats(gw.now()).await.expect("stats").depth > 0,
        "the expiry queued the new balance"
    );
    flush_then_card_shows(5, "the card shows the expiry").await;
    let page = store
        .ledger(&id, &LedgerQuery::default())
        .await
        .expect("ledger");
    let newest = &page.entries[0];
    assert_eq!(newest.kind, EntryKind::Expiry, "{page:?}");
    assert_eq!(newest.amount, Decimal::from(-10));
    assert_eq!(newest.balance_after, Decimal::from(5));
    assert_eq!(
        newest.transaction_id.as_ref().map(|t| t.as_str()),
        Some("e-1")
    );
    store.close().await;
}

/// The running gateway starts the task: with `expiry_interval = 50ms`, the card shows the expiry
/// shortly after the clock passes the lifetime, with nobody calling `run_once`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_gateway_expires_within_its_interval() {
    let (_tdb, store) = TestDb::with_store(Db::Sqlite).await.expect("sqlite");
    let provider = memory_provider();
    let clock = ManualClock::new(Utc::now());
    let gw = Gateway::new(store.clone(), provider.clone()).with_clock(Arc::new(clock.clone()));
    let mut config = gateway_config(fast_outbox());
    config.ledger.expiry_interval = Duration::from_millis(50);
    let running = serve(&config, gw).await;
    let (phone, id) = customer(store.as_ref(), 502, clock.now()).await;
    credit(store.as_ref(), &id, (8, "l-1", Some(60)), clock.now()).await;
    credit(store.as_ref(), &id, (2, "l-2", None), clock.now()).await;
    drain(store.as_ref(), Duration::from_secs(10)).await;
    assert_eq!(
        vendor_points(provider.as_ref(), &phone, &id).await,
        Decimal::from(10)
    );
    clock.advance(TimeDelta::seconds(61));
    eventually(
        Duration::from_secs(10),
        "the expiry reached the card",
        || async {
            (vendor_points(provider.as_ref(), &phone, &id).await == Decimal::from(2)).then_some(())
        },
    )
    .await;
    let metrics = reqwest::get(format!("{}/metrics", running.base_url()))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in [
        "walletport_ledger_expired_lots_total 1",
        "walletport_ledger_expired_points_total 8.0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    running.shutdown().await;
    store.close().await;
}

/// Several gateways on one database expire together: every lot exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateways_sharing_a_database_expire_each_lot_once() {
    for db in [Db::Sqlite, Db::Postgres] {
        let Some(tdb) = TestDb::new(db).await else {
            continue;
        };
        let stores = [tdb.open().await, tdb.open().await, tdb.open().await];
        let clock = ManualClock::new(Utc::now());
        let mut ids = Vec::new();
        for n in 0..40 {
            let (_, id) = customer(stores[0].as_ref(), 600 + n, clock.now()).await;
            for k in 0..3 {
                let tx = format!("s-{n}-{k}");
                credit(stores[0].as_ref(), &id, (1, &tx, Some(10)), clock.now()).await;
            }
            ids.push(id);
        }
        clock.advance(TimeDelta::seconds(11));
        let tasks: Vec<_> = stores
            .iter()
            .map(|store| {
                let provider = memory_provider();
                let gw = Gateway::new(store.clone(), provider).with_clock(Arc::new(clock.clone()));
                let task = ExpiryTask::new(gw, LedgerSection::default());
                tokio::spawn(async move { task.run_once().await.expect("expire") })
            })
            .collect();
        let mut lots = 0;
        let mut points = Decimal::ZERO;
        for task in tasks {
            let report = task.await.expect("task");
            lots += report.lots;
            points += report.points;
        }
        assert_eq!((lots, points), (120, Decimal::from(120)), "{db:?}");
        for id in &ids {
            let page = stores[0]
                .ledger(id, &LedgerQuery::default())
                .await
                .expect("ledger");
            let expiries = page
                .entries
                .iter()
                .filter(|e| e.kind == EntryKind::Expiry)
                .count();
            assert_eq!(expiries, 3, "{db:?}: {page:?}");
            let balance = stores[0].balance(id, clock.now()).await.expect("b");
            assert_eq!(balance.points, Decimal::ZERO);
        }
        for store in stores {
            store.close().await;
        }
    }
}
