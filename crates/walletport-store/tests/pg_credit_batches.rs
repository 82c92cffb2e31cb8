//! PostgreSQL only: concurrent credits take the batched fast path (several credits share one
//! transaction) for customers that need nothing else, and the engine path for a customer with a
//! debt or a lot due, and both leave the same ledger: histories that add up, one lot per credit,
//! and points equal to what the open lots hold.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use walletport_core::{Credit, CustomerId};
use walletport_store::{LedgerOp, PgStore, Store, StoreOptions, WriteOpts};

use support::{
    apply_all, assert_adds_up, at, credit, customer, expiring, history, redeem, reverse, tx,
};

/// Credits sent at once to each customer.
const CREDITS: u32 = 40;

/// How many transactions wrote the customer's credit entries (one per batch or engine call).
async fn credit_transactions(store: &PgStore, c: &CustomerId) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(DISTINCT xmin::text) FROM ledger_entries \
         WHERE customer_id = $1 AND kind = 'credit'",
    )
    .bind(c.as_str())
    .fetch_one(store.pool())
    .await
    .expect("count transactions")
}

/// `(lots, credit entries, points, remaining in open lots)` of a customer.
async fn lot_sums(store: &PgStore, c: &CustomerId) -> (i64, i64, Decimal, Decimal) {
    sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM lots WHERE customer_id = $1), \
         (SELECT COUNT(*) FROM ledger_entries WHERE customer_id = $1 AND kind = 'credit'), \
         (SELECT points FROM customers WHERE id = $1), \
         (SELECT COALESCE(SUM(remaining), 0) FROM lots WHERE customer_id = $1 AND open)",
    )
    .bind(c.as_str())
    .fetch_one(store.pool())
    .await
    .expect("lot sums")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_credits_batch_where_they_can_and_agree_with_the_engine() {
    let Some(pg) = support::pg_database().await else {
        return;
    };
    let store = Arc::new(
        PgStore::connect(pg.url(), StoreOptions::default())
            .await
            .expect("open"),
    );
    let fresh = customer(store.as_ref(), 1).await;
    let indebted = customer(store.as_ref(), 2).await;
    let due = customer(store.as_ref(), 3).await;
    let opts = WriteOpts::at(at(0));
    // A debt of 10: a credit spent, then reversed.
    apply_all(
        &*store,
        opts,
        [
            (&indebted, LedgerOp::Credit(credit(dec!(10), "d-c"))),
            (&indebted, redeem(dec!(10), "d-r")),
            (&indebted, reverse("d-c")),
        ],
    )
    .await;
    // A lot of 5 due at 1 s.
    store
        .credit(&due, &expiring(dec!(5), "e-c", 1), opts)
        .await
        .unwrap();

    let later = WriteOpts::at(at(10)).no_echo();
    let jobs = [&fresh, &indebted, &due].into_iter().flat_map(|c| {
        (0..CREDITS).map(move |i| {
            let credit = Credit::new(
                dec!(1.5),
                tx(&format!("{c}-{i}")),
                Some(Duration::from_secs(3600)),
            )
            .unwrap();
            (c.clone(), credit)
        })
    });
    let mut calls = tokio::task::JoinSet::new();
    for (c, credit) in jobs {
        let store = store.clone();
        calls.spawn(async move { store.credit(&c, &credit, later).await });
    }
    while let Some(outcome) = calls.join_next().await {
        let outcome = outcome.expect("task").expect("credit");
        assert!(outcome.applied);
        assert_eq!(outcome.delta, dec!(1.5));
    }

    let sent = Decimal::from(CREDITS) * dec!(1.5);
    let now = at(10) + TimeDelta::seconds(1);
    for (c, points) in [(&fresh, sent), (&indebted, sent - dec!(10)), (&due, sent)] {
        assert_eq!(store.balance(c, now).await.unwrap().points, points);
        let entries = history(store.as_ref(), c, 1000).await;
        assert_eq!(assert_adds_up(&entries), points);
        let (lots, credits, stored, open) = lot_sums(&store, c).await;
        assert_eq!(lots, credits, "one lot per credit");
        assert_eq!((stored, open), (points, points));
    }
    let batched = credit_transactions(&store, &fresh).await;
    assert!(
        batched < i64::from(CREDITS),
        "{CREDITS} concurrent credits took {batched} transactions"
    );
    // Repeats and conflicts are decided as the engine decides them.
    let again = Credit::new(
        dec!(1.5),
        tx(&format!("{fresh}-0")),
        Some(Duration::from_secs(3600)),
    )
    .unwrap();
    assert!(!store.credit(&fresh, &again, later).await.unwrap().applied);
    let other = Credit::new(dec!(2), tx(&format!("{fresh}-0")), None).unwrap();
    assert!(store.credit(&fresh, &other, later).await.is_err());
    let ghost = CustomerId::new("nobody").unwrap();
    let err = store
        .apply(&ghost, &LedgerOp::Credit(credit(dec!(1), "g")), later)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), walletport_core::ErrorKind::NotFound);
    store.close().await;
}
