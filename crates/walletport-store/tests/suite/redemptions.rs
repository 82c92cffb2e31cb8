//! Redemptions: exactly-once, refused without enough points, soonest-expiring lots first.

use std::sync::Arc;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use walletport_core::{CustomerId, ErrorKind};
use walletport_store::{EntryKind, ExpiryReport, LedgerOp, Store, WriteOpts};

use crate::support::{
    apply_all, assert_adds_up, at, balance_items, credit, credited, customer, expiring, history,
    opts, pending_all, points, redeem, t0,
};

pub(crate) async fn redemption_is_exactly_once_and_conflicts_are_errors(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    let b = customer(&*store, 2).await;
    credited(&*store, &a, dec!(50), "r-c1").await;
    let spend = redeem(dec!(20), "r-1");
    let first = store.apply(&a, &spend, opts()).await.unwrap();
    assert!(first.applied);
    assert_eq!(first.delta, dec!(-20));
    let again = store.apply(&a, &spend, opts()).await.unwrap();
    assert!(!again.applied);
    assert_eq!(again.delta, Decimal::ZERO);
    let same_value = redeem(dec!(20.000), "r-1");
    assert!(!store.apply(&a, &same_value, opts()).await.unwrap().applied);
    for (who, op) in [
        (&a, redeem(dec!(21), "r-1")),
        (&b, redeem(dec!(20), "r-1")),
        (&a, redeem(dec!(1), "r-c1")),
    ] {
        let err = store.apply(who, &op, opts()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{op:?}: {err}");
    }
    let err = store
        .credit(&a, &credit(dec!(20), "r-1"), opts())
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Conflict,
        "a redemption's id as a credit"
    );
    let ghost = CustomerId::new("nobody").unwrap();
    let err = store
        .apply(&ghost, &redeem(dec!(1), "r-2"), opts())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(points(&*store, &a, t0()).await, dec!(30));
    assert_eq!(points(&*store, &b, t0()).await, Decimal::ZERO);
    let entries = history(&*store, &a, 10).await;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].kind, EntryKind::Redemption);
    assert_eq!(entries[0].transaction_id, Some(crate::support::tx("r-1")));
    assert_eq!(assert_adds_up(&entries), dec!(30));
}

pub(crate) async fn redemption_without_enough_points_changes_nothing(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    let b = customer(&*store, 2).await;
    credited(&*store, &a, dec!(30), "i-c1").await;
    let outbox = pending_all(&*store).await;
    let entries = history(&*store, &a, 10).await;
    let too_much = redeem(dec!(30.01), "i-1");
    for who in [&a, &b] {
        let err = store.apply(who, &too_much, opts()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InsufficientPoints, "{err}");
    }
    assert_eq!(points(&*store, &a, t0()).await, dec!(30));
    assert_eq!(history(&*store, &a, 10).await, entries);
    assert!(history(&*store, &b, 10).await.is_empty());
    assert_eq!(pending_all(&*store).await, outbox);
    // The refusal did not use up the id: with one more point the same redemption goes through,
    // and the whole balance can be spent.
    credited(&*store, &a, dec!(1), "i-c2").await;
    let out = store.apply(&a, &too_much, opts()).await.unwrap();
    assert!(out.applied);
    let rest = store
        .apply(&a, &redeem(dec!(0.99), "i-2"), opts())
        .await
        .unwrap();
    assert_eq!(rest.delta, dec!(-0.99));
    assert_eq!(points(&*store, &a, t0()).await, Decimal::ZERO);
    let err = store
        .apply(&a, &redeem(dec!(0.000001), "i-3"), opts())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientPoints);
}

/// Three lots of 10: one never expiring (oldest), one ending at +2h, one at +1h. A redemption of
/// 15 takes the +1h lot and 5 of the +2h lot, so at +1h nothing expires and at +2h 5 points do.
pub(crate) async fn redemptions_spend_soonest_expiring_lots_first_and_never_expiring_last(
    store: Arc<dyn Store>,
) {
    let a = customer(&*store, 1).await;
    apply_all(
        &*store,
        opts().no_echo(),
        [
            (&a, LedgerOp::Credit(credit(dec!(10), "never"))),
            (&a, LedgerOp::Credit(expiring(dec!(10), "late", 7200))),
            (&a, LedgerOp::Credit(expiring(dec!(10), "soon", 3600))),
            (&a, redeem(dec!(15), "spend-1")),
        ],
    )
    .await;
    assert_eq!(points(&*store, &a, at(3599)).await, dec!(15));
    assert_eq!(points(&*store, &a, at(3600)).await, dec!(15));
    assert_eq!(
        store.expire_due(at(3600), 100).await.unwrap(),
        ExpiryReport::default(),
        "the +1h lot was spent"
    );
    assert_eq!(points(&*store, &a, at(7200)).await, dec!(10));
    let report = store.expire_due(at(7200), 100).await.unwrap();
    assert_eq!((report.lots, report.points), (1, dec!(5)));
    let entries = history(&*store, &a, 10).await;
    assert_eq!(entries[0].kind, EntryKind::Expiry);
    assert_eq!(entries[0].transaction_id, Some(crate::support::tx("late")));
    assert_eq!(entries[0].amount, dec!(-5));
    // The never-expiring lot is whole: all 10 can still be spent, and not one more.
    let last = WriteOpts::at(at(7300)).no_echo();
    let err = store
        .apply(&a, &redeem(dec!(10.01), "spend-2"), last)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientPoints);
    store
        .apply(&a, &redeem(dec!(10), "spend-3"), last)
        .await
        .unwrap();
    assert_eq!(points(&*store, &a, at(1_000_000)).await, Decimal::ZERO);
    assert_eq!(
        assert_adds_up(&history(&*store, &a, 10).await),
        Decimal::ZERO
    );
}

pub(crate) async fn redemption_with_echo_enqueues_a_balance_item(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    apply_all(
        &*store,
        opts().no_echo(),
        [
            (&a, LedgerOp::Credit(credit(dec!(10), "q-c1"))),
            (&a, redeem(dec!(2), "q-1")),
        ],
    )
    .await;
    assert!(balance_items(&*store, &a).await.is_empty());
    store
        .apply(&a, &redeem(dec!(3), "q-2"), opts())
        .await
        .unwrap();
    let _ = store
        .apply(&a, &redeem(dec!(3), "q-2"), opts())
        .await
        .unwrap();
    let _ = store
        .apply(&a, &redeem(dec!(99), "q-3"), opts())
        .await
        .unwrap_err();
    let items = balance_items(&*store, &a).await;
    assert_eq!(
        items.len(),
        1,
        "one applied redemption, one item: {items:?}"
    );
    assert_eq!(items[0].payload["transaction_id"], "q-2");
    assert_eq!(items[0].payload["delta"], "-3");
}

/// 100 concurrent redemptions of 10 on a balance of 500: exactly 50 go through, 50 are refused,
/// and the balance ends at zero, never below.
pub(crate) async fn storm_of_redemptions_spends_the_balance_exactly(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    store
        .credit(&a, &credit(dec!(500), "storm-credit"), opts().no_echo())
        .await
        .unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let (store, a) = (store.clone(), a.clone());
            tokio::spawn(async move {
                store
                    .apply(&a, &redeem(dec!(10), &format!("storm-{i}")), opts())
                    .await
            })
        })
        .collect();
    let (mut applied, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(o) => {
                assert!(o.applied);
                assert_eq!(o.delta, dec!(-10));
                applied += 1;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::InsufficientPoints, "{e}");
                refused += 1;
            }
        }
    }
    assert_eq!((applied, refused), (50, 50));
    assert_eq!(points(&*store, &a, t0()).await, Decimal::ZERO);
    let entries = history(&*store, &a, 1000).await;
    let mut after: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Redemption)
        .map(|e| e.balance_after)
        .collect();
    after.sort();
    let expected: Vec<_> = (0..50).map(|i| Decimal::from(i * 10)).collect();
    assert_eq!(after, expected, "each redemption saw the one before it");
    assert_eq!(assert_adds_up(&entries), Decimal::ZERO);
    assert_eq!(balance_items(&*store, &a).await.len(), 50);
}
