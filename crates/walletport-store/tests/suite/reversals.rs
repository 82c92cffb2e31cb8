//! Reversals: a credit taken back exactly once; spent points leave a debt that later credits pay
//! first; what expired of the credit is not taken twice.

use std::sync::Arc;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use walletport_core::{CustomerId, ErrorKind};
use walletport_store::{EntryKind, LedgerEntry, LedgerOp, Store, WriteOpts};

use crate::support::{
    apply_all, assert_adds_up, at, balance_items, credit, customer, expiring, history, opts,
    points, redeem, reverse, set_points, t0, tx,
};

/// The (kind, amount, balance after) of each entry, oldest first.
fn steps(newest_first: &[LedgerEntry]) -> Vec<(EntryKind, Decimal, Decimal)> {
    newest_first
        .iter()
        .rev()
        .map(|e| (e.kind, e.amount, e.balance_after))
        .collect()
}

pub(crate) async fn reversal_of_what_is_not_the_customers_credit_is_refused(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    let b = customer(&*store, 2).await;
    apply_all(
        &*store,
        opts(),
        [
            (&a, LedgerOp::Credit(credit(dec!(10), "a-credit"))),
            (&b, LedgerOp::Credit(credit(dec!(10), "b-credit"))),
        ],
    )
    .await;
    for op in [redeem(dec!(1), "a-spend"), set_points(dec!(20), "a-set")] {
        store.apply(&a, &op, opts()).await.unwrap();
    }
    // A refused redemption records nothing: its id stays unknown.
    let _ = store
        .apply(&a, &redeem(dec!(1000), "a-refused"), opts())
        .await
        .unwrap_err();
    let entries = history(&*store, &a, 10).await;
    let outbox = balance_items(&*store, &a).await;
    let ghost = CustomerId::new("nobody").unwrap();
    for (who, id, kind) in [
        (&a, "never-used", ErrorKind::NotFound),
        (&a, "b-credit", ErrorKind::NotFound),
        (&a, "a-refused", ErrorKind::NotFound),
        (&ghost, "a-credit", ErrorKind::NotFound),
        (&a, "a-spend", ErrorKind::InvalidInput),
        (&a, "a-set", ErrorKind::InvalidInput),
    ] {
        let err = store.apply(who, &reverse(id), opts()).await.unwrap_err();
        assert_eq!(err.kind(), kind, "reversal of {id} for {who}: {err}");
    }
    assert_eq!(history(&*store, &a, 10).await, entries);
    assert_eq!(balance_items(&*store, &a).await, outbox);
    assert_eq!(points(&*store, &a, t0()).await, dec!(20));
    assert_eq!(points(&*store, &b, t0()).await, dec!(10));
}

pub(crate) async fn reversal_is_exactly_once(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    apply_all(
        &*store,
        opts().no_echo(),
        [
            (&a, LedgerOp::Credit(credit(dec!(40), "buy-1"))),
            (&a, LedgerOp::Credit(credit(dec!(10.5), "buy-2"))),
        ],
    )
    .await;
    let first = store.apply(&a, &reverse("buy-1"), opts()).await.unwrap();
    assert!(first.applied);
    assert_eq!(first.delta, dec!(-40));
    let again = store.apply(&a, &reverse("buy-1"), opts()).await.unwrap();
    assert!(!again.applied);
    assert_eq!(again.delta, Decimal::ZERO);
    // The credit's id still names the credit: repeating it changes nothing.
    let replay = store
        .credit(&a, &credit(dec!(40), "buy-1"), opts())
        .await
        .unwrap();
    assert!(!replay.applied);
    assert_eq!(points(&*store, &a, t0()).await, dec!(10.5));
    let entries = history(&*store, &a, 10).await;
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0].kind, EntryKind::Reversal);
    assert_eq!(entries[0].transaction_id, Some(tx("buy-1")));
    assert_eq!(assert_adds_up(&entries), dec!(10.5));
    let items = balance_items(&*store, &a).await;
    assert_eq!(items.len(), 1, "the reversal with echo, once: {items:?}");
    assert_eq!(items[0].payload["delta"], "-40");
}

/// 100 points credited, 70 spent, the credit reversed: the balance is −70. Nothing can be
/// redeemed; the next credits pay the debt before they open a lot, so what expires later is only
/// what they added beyond it.
pub(crate) async fn reversal_after_spending_leaves_a_debt_that_later_credits_pay_first(
    store: Arc<dyn Store>,
) {
    let a = customer(&*store, 1).await;
    let w = opts().no_echo();
    apply_all(
        &*store,
        w,
        [
            (&a, LedgerOp::Credit(credit(dec!(100), "sale-1"))),
            (&a, redeem(dec!(70), "spend-1")),
        ],
    )
    .await;
    let out = store.apply(&a, &reverse("sale-1"), w).await.unwrap();
    assert_eq!(out.delta, dec!(-100));
    assert_eq!(points(&*store, &a, t0()).await, dec!(-70));
    let err = store
        .apply(&a, &redeem(dec!(1), "spend-2"), w)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientPoints);
    // 50 of 70 owed: the lot holds nothing. Then 100 more: its lot holds the 80 beyond the debt.
    store
        .credit(&a, &expiring(dec!(50), "pay-1", 3600), w)
        .await
        .unwrap();
    assert_eq!(points(&*store, &a, t0()).await, dec!(-20));
    store
        .credit(&a, &expiring(dec!(100), "pay-2", 7200), w)
        .await
        .unwrap();
    assert_eq!(points(&*store, &a, t0()).await, dec!(80));
    assert_eq!(points(&*store, &a, at(3600)).await, dec!(80));
    assert_eq!(points(&*store, &a, at(7200)).await, Decimal::ZERO);
    let report = store.expire_due(at(7200), 100).await.unwrap();
    assert_eq!((report.lots, report.points), (1, dec!(80)));
    let entries = history(&*store, &a, 3).await;
    assert_eq!(
        steps(&entries),
        [
            (EntryKind::Credit, dec!(100), dec!(100)),
            (EntryKind::Redemption, dec!(-70), dec!(30)),
            (EntryKind::Reversal, dec!(-100), dec!(-70)),
            (EntryKind::Credit, dec!(50), dec!(-20)),
            (EntryKind::Credit, dec!(100), dec!(80)),
            (EntryKind::Expiry, dec!(-80), dec!(0)),
        ]
    );
    assert_eq!(entries[0].at, at(7200));
}

/// A reversal takes the credit's own lot first, then other points soonest-expiring first.
pub(crate) async fn reversal_takes_its_own_lot_then_other_points(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    let w = opts().no_echo();
    apply_all(
        &*store,
        w,
        [
            (&a, LedgerOp::Credit(expiring(dec!(50), "first", 3600))),
            (&a, LedgerOp::Credit(expiring(dec!(50), "second", 7200))),
            (&a, LedgerOp::Credit(credit(dec!(50), "third"))),
        ],
    )
    .await;
    // Spends 30 of `first`; reversing it takes its 20 left and 30 of `second`.
    store
        .apply(&a, &redeem(dec!(30), "spend"), w)
        .await
        .unwrap();
    let out = store.apply(&a, &reverse("first"), w).await.unwrap();
    assert_eq!(out.delta, dec!(-50));
    assert_eq!(points(&*store, &a, t0()).await, dec!(70));
    assert_eq!(
        points(&*store, &a, at(3600)).await,
        dec!(70),
        "`first` is empty"
    );
    assert_eq!(
        points(&*store, &a, at(7200)).await,
        dec!(50),
        "20 of `second`"
    );
    // Reversing the never-expiring credit takes its own 50 and leaves `second`'s 20.
    let out = store
        .apply(&a, &reverse("third"), WriteOpts::at(t0()).no_echo())
        .await
        .unwrap();
    assert_eq!(out.delta, dec!(-50));
    assert_eq!(points(&*store, &a, at(7199)).await, dec!(20));
    assert_eq!(points(&*store, &a, at(7200)).await, Decimal::ZERO);
}

/// Of a credit of 60 (1h), 20 were spent and 40 expired: a reversal after that takes back only
/// the 20 that did not expire — here from other points — even when no expiry task ran.
pub(crate) async fn reversal_of_a_partly_expired_credit_takes_back_only_what_did_not_expire(
    store: Arc<dyn Store>,
) {
    let a = customer(&*store, 1).await;
    let w = opts().no_echo();
    apply_all(
        &*store,
        w,
        [
            (&a, LedgerOp::Credit(expiring(dec!(60), "promo", 3600))),
            (&a, LedgerOp::Credit(credit(dec!(100), "base"))),
            (&a, redeem(dec!(20), "spend")),
        ],
    )
    .await;
    let out = store
        .apply(&a, &reverse("promo"), WriteOpts::at(at(3600)).no_echo())
        .await
        .unwrap();
    assert!(out.applied);
    assert_eq!(out.delta, dec!(-20));
    assert_eq!(points(&*store, &a, at(3600)).await, dec!(80));
    let entries = history(&*store, &a, 2).await;
    assert_eq!(
        steps(&entries),
        [
            (EntryKind::Credit, dec!(60), dec!(60)),
            (EntryKind::Credit, dec!(100), dec!(160)),
            (EntryKind::Redemption, dec!(-20), dec!(140)),
            (EntryKind::Expiry, dec!(-40), dec!(100)),
            (EntryKind::Reversal, dec!(-20), dec!(80)),
        ]
    );
    assert_eq!(
        entries[1].at,
        at(3600),
        "the expiry is dated at the instant"
    );
    assert_eq!(entries[1].transaction_id, Some(tx("promo")));
    // An expiry task that comes later finds nothing.
    let report = store.expire_due(at(9999), 100).await.unwrap();
    assert_eq!(report.lots, 0);
}
