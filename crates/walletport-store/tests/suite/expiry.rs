//! Expiry as an event: `expire_due` writes an entry per lot at its instant and tells the vendor,
//! once per customer, also with several gateways on one database.

use std::sync::Arc;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use walletport_core::CustomerId;
use walletport_store::{EntryKind, ExpiryReport, Store, WriteOpts};

use crate::support::{
    TestDb, assert_adds_up, at, balance_items, credit, customer, expiring, history, opts, points,
    redeem,
};

/// Calls `expire_due(now, max)` until it reports no customers; returns the sum of the reports.
async fn expire_all(store: &dyn Store, now_secs: i64, max: u32) -> ExpiryReport {
    let mut sum = ExpiryReport::default();
    loop {
        let r = store.expire_due(at(now_secs), max).await.unwrap();
        if r.customers == 0 {
            assert_eq!((r.lots, r.points), (0, Decimal::ZERO), "{r:?}");
            return sum;
        }
        assert!(r.customers <= u64::from(max), "{r:?}");
        sum.customers += r.customers;
        sum.lots += r.lots;
        sum.points += r.points;
    }
}

fn add(a: ExpiryReport, b: ExpiryReport) -> ExpiryReport {
    ExpiryReport {
        customers: a.customers + b.customers,
        lots: a.lots + b.lots,
        points: a.points + b.points,
    }
}

pub(crate) async fn expire_due_writes_an_entry_per_lot_at_its_instant_and_one_item_per_customer(
    store: Arc<dyn Store>,
) {
    let a = customer(&*store, 1).await;
    let b = customer(&*store, 2).await;
    let c = customer(&*store, 3).await;
    let w = opts().no_echo();
    for (who, amount, id, secs) in [
        (&a, dec!(10), "x-a1", 3600),
        (&a, dec!(7.5), "x-a2", 5400),
        (&b, dec!(4), "x-b1", 1800),
        (&c, dec!(8), "x-c1", 18000),
    ] {
        store
            .credit(who, &expiring(amount, id, secs), w)
            .await
            .unwrap();
    }
    store.credit(&a, &credit(dec!(3), "x-a3"), w).await.unwrap();
    // Reads are exact before any expiry ran, and write nothing.
    assert_eq!(points(&*store, &a, at(3599)).await, dec!(20.5));
    assert_eq!(points(&*store, &a, at(3600)).await, dec!(10.5));
    assert_eq!(points(&*store, &a, at(5400)).await, dec!(3));
    assert_eq!(points(&*store, &b, at(1800)).await, Decimal::ZERO);
    assert_eq!(history(&*store, &a, 10).await.len(), 3);

    // One customer per call: three calls do it all, the fourth finds nothing.
    let report = expire_all(&*store, 7200, 1).await;
    assert_eq!(
        report,
        ExpiryReport {
            customers: 2,
            lots: 3,
            points: dec!(21.5)
        }
    );
    assert_eq!(
        store.expire_due(at(7200), 100).await.unwrap(),
        ExpiryReport::default()
    );
    let entries = history(&*store, &a, 10).await;
    let expiries: Vec<_> = entries
        .iter()
        .rev()
        .filter(|e| e.kind == EntryKind::Expiry)
        .map(|e| (e.transaction_id.clone().unwrap(), e.amount, e.at))
        .collect();
    assert_eq!(
        expiries,
        [
            (crate::support::tx("x-a1"), dec!(-10), at(3600)),
            (crate::support::tx("x-a2"), dec!(-7.5), at(5400)),
        ]
    );
    assert_eq!(assert_adds_up(&entries), dec!(3));
    assert_eq!(points(&*store, &a, at(7200)).await, dec!(3));
    for (who, items) in [(&a, 1), (&b, 1), (&c, 0)] {
        assert_eq!(balance_items(&*store, who).await.len(), items, "{who}");
    }
    // A write that expires lots on the way tells the vendor even without echo.
    store
        .credit(
            &c,
            &credit(dec!(1), "x-c2"),
            WriteOpts::at(at(18000)).no_echo(),
        )
        .await
        .unwrap();
    assert_eq!(balance_items(&*store, &c).await.len(), 1);
    assert_eq!(points(&*store, &c, at(18000)).await, dec!(1));
    assert_eq!(
        store.expire_due(at(99_999), 100).await.unwrap(),
        ExpiryReport::default()
    );
}

const CUSTOMERS: u32 = 30;

/// Each customer: 5 points expiring at +1h, 2.5 at +2h and 1 that never expires.
async fn lots_for(store: &dyn Store, first: u32, tag: &str) -> Vec<CustomerId> {
    let mut ids = Vec::new();
    for n in first..first + CUSTOMERS {
        let id = customer(store, n).await;
        let w = opts().no_echo();
        for (amount, secs) in [
            (dec!(5), Some(3600)),
            (dec!(2.5), Some(7200)),
            (dec!(1), None),
        ] {
            let tx = format!("{tag}-{n}-{amount}");
            let c = match secs {
                Some(s) => expiring(amount, &tx, s),
                None => credit(amount, &tx),
            };
            store.credit(&id, &c, w).await.unwrap();
        }
        ids.push(id);
    }
    ids
}

/// Each customer has exactly its two expiry entries and `left` points.
async fn assert_expired_once(store: &dyn Store, customers: &[CustomerId], left: Decimal) {
    for id in customers {
        let entries = history(store, id, 100).await;
        let gone: Vec<_> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Expiry)
            .map(|e| e.amount)
            .collect();
        assert_eq!(gone, [dec!(-2.5), dec!(-5)], "{id}: {entries:#?}");
        assert_eq!(points(store, id, at(7200)).await, left);
        assert_eq!(assert_adds_up(&entries), left);
    }
}

/// Two stores on one database (two gateways) expire at once: no lot expires twice. Then the
/// expiry task of one races with redemptions through the other, which expire lots on their way.
pub(crate) async fn two_gateways_expiring_at_once_never_expire_a_lot_twice(db: &TestDb) {
    let first = db.store.clone();
    let second = db.second_store().await;
    let customers = lots_for(&*first, 100, "g").await;
    let tasks: Vec<_> = [&first, &second, &first, &second]
        .into_iter()
        .map(|s| {
            let s = s.clone();
            tokio::spawn(async move { expire_all(&*s, 7200, 4).await })
        })
        .collect();
    let mut sum = ExpiryReport::default();
    for t in tasks {
        sum = add(sum, t.await.unwrap());
    }
    sum = add(sum, expire_all(&*first, 7200, 100).await);
    assert_eq!(
        sum,
        ExpiryReport {
            customers: u64::from(CUSTOMERS),
            lots: 2 * u64::from(CUSTOMERS),
            points: dec!(7.5) * Decimal::from(CUSTOMERS),
        }
    );
    assert_expired_once(&*first, &customers, dec!(1)).await;
    for id in &customers {
        assert_eq!(balance_items(&*second, id).await.len(), 1, "{id}");
    }

    let customers = lots_for(&*first, 200, "h").await;
    let task = {
        let s = first.clone();
        tokio::spawn(async move { expire_all(&*s, 7200, 3).await })
    };
    let w = WriteOpts::at(at(7200)).no_echo();
    for id in &customers {
        let op = redeem(dec!(0.5), &format!("h-{id}"));
        assert!(second.apply(id, &op, w).await.unwrap().applied);
    }
    let by_task = task.await.unwrap();
    assert!(by_task.lots <= 2 * u64::from(CUSTOMERS), "{by_task:?}");
    assert_eq!(
        expire_all(&*second, 7200, 100).await,
        ExpiryReport::default()
    );
    assert_expired_once(&*second, &customers, dec!(0.5)).await;
    second.close().await;
}
