//! The exactly-once ledger with expiring credits.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use walletport_core::{Credit, CustomerId, ErrorKind};
use walletport_store::{EntryKind, ExpiryReport, LedgerOp, OutboxKind, Store, WriteOpts};

use crate::support::{
    apply_all, assert_adds_up, at, credit, credited, customer, err_kind, expiring, history, opts,
    pending, points, redeem, reverse, set_points, t0, tx,
};

pub(crate) async fn credit_is_exactly_once_and_conflicts_are_errors(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    let b = customer(&*store, 2).await;
    let c = credit(dec!(10.50), "order-1");
    let first = store.credit(&a, &c, opts()).await.unwrap();
    assert!(first.applied);
    assert_eq!(first.delta, dec!(10.5));
    let again = store.credit(&a, &c, opts()).await.unwrap();
    assert!(
        !again.applied,
        "same id, same request: success that changes nothing"
    );
    let same_value = credit(dec!(10.5000), "order-1");
    assert!(!store.credit(&a, &same_value, opts()).await.unwrap().applied);
    let other_amount = credit(dec!(11), "order-1");
    assert_eq!(
        err_kind(store.credit(&a, &other_amount, opts()).await),
        ErrorKind::Conflict
    );
    assert_eq!(
        err_kind(store.credit(&b, &c, opts()).await),
        ErrorKind::Conflict
    );
    credited(&*store, &a, dec!(4.5), "order-2").await;
    assert_eq!(points(&*store, &a, t0()).await, dec!(15));
    assert_eq!(points(&*store, &b, t0()).await, Decimal::ZERO);
    assert_eq!(history(&*store, &a, 100).await.len(), 2);
    let ghost = CustomerId::new("nobody").unwrap();
    let err = store
        .credit(&ghost, &credit(dec!(1), "order-3"), opts())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // The failed attempt did not burn the id: it works once the customer exists.
    credited(&*store, &b, dec!(1), "order-3").await;
    assert_eq!(points(&*store, &b, t0()).await, dec!(1));
}

pub(crate) async fn racing_credits_with_one_transaction_id_credit_once(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    let c = credit(dec!(25), "race-1");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (store, a, c) = (store.clone(), a.clone(), c.clone());
            tokio::spawn(async move { store.credit(&a, &c, opts()).await })
        })
        .collect();
    let mut applied = 0;
    for t in tasks {
        if t.await.unwrap().unwrap().applied {
            applied += 1;
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(history(&*store, &a, 100).await.len(), 1);
    assert_eq!(points(&*store, &a, t0()).await, dec!(25));
    let balance_items = pending(&*store)
        .await
        .into_iter()
        .filter(|i| i.kind == OutboxKind::Balance)
        .count();
    assert_eq!(balance_items, 1, "one change, one outbox item");
}

pub(crate) async fn concurrent_batches_keep_per_item_outcomes(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    let b = customer(&*store, 2).await;
    credited(&*store, &a, dec!(1), "taken").await;
    let mut tasks = Vec::new();
    for i in 0..120u32 {
        let (store, a, b) = (store.clone(), a.clone(), b.clone());
        tasks.push(tokio::spawn(async move {
            match i % 4 {
                // A conflict (id used by `a` with another amount) amid good credits.
                0 => {
                    store
                        .credit(&b, &credit(dec!(9), "taken"), opts().no_echo())
                        .await
                }
                _ => {
                    store
                        .credit(
                            &a,
                            &credit(Decimal::from(i), &format!("c-{i}")),
                            opts().no_echo(),
                        )
                        .await
                }
            }
        }));
    }
    let mut conflicts = 0;
    let mut expected = dec!(1);
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(o) => {
                assert!(o.applied);
                expected += Decimal::from(i as u32);
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
                assert_eq!(i % 4, 0);
                conflicts += 1;
            }
        }
    }
    assert_eq!(conflicts, 30);
    assert_eq!(points(&*store, &a, t0()).await, expected);
    assert_eq!(points(&*store, &b, t0()).await, Decimal::ZERO);
}

pub(crate) async fn lifetime_ends_exactly_at_the_instant_and_expiry_keeps_the_history(
    store: Arc<dyn Store>,
) {
    let a = customer(&*store, 1).await;
    let hour = Duration::from_secs(3600);
    let burning = Credit::new(dec!(30), tx("promo-1"), Some(hour)).unwrap();
    apply_all(
        &*store,
        opts(),
        [
            (&a, LedgerOp::Credit(burning.clone())),
            (&a, LedgerOp::Credit(credit(dec!(12.25), "keep-1"))),
        ],
    )
    .await;
    let expiry = t0() + TimeDelta::hours(1);
    let just_before = expiry - TimeDelta::nanoseconds(1);
    assert_eq!(points(&*store, &a, t0()).await, dec!(42.25));
    assert_eq!(points(&*store, &a, just_before).await, dec!(42.25));
    // Exact before the expiry task ran: at the instant the points no longer count.
    assert_eq!(points(&*store, &a, expiry).await, dec!(12.25));
    let entries = history(&*store, &a, 10).await;
    assert_eq!(entries.len(), 2, "reads write nothing");
    assert_eq!(entries[1].expires_at, Some(expiry));
    assert_eq!(entries[1].kind, EntryKind::Credit);
    assert_eq!(entries[0].expires_at, None);

    assert_eq!(
        store.expire_due(just_before, 100).await.unwrap(),
        ExpiryReport::default()
    );
    assert_eq!(points(&*store, &a, just_before).await, dec!(42.25));
    let report = store.expire_due(expiry, 100).await.unwrap();
    assert_eq!((report.customers, report.lots), (1, 1));
    assert_eq!(report.points, dec!(30));
    assert_eq!(points(&*store, &a, expiry).await, dec!(12.25));
    let entries = history(&*store, &a, 10).await;
    assert_eq!(
        entries.len(),
        3,
        "the credit stays, an expiry entry is added"
    );
    let gone = &entries[0];
    assert_eq!(gone.kind, EntryKind::Expiry);
    assert_eq!(gone.amount, dec!(-30));
    assert_eq!(gone.at, expiry);
    assert_eq!(gone.transaction_id, Some(tx("promo-1")));
    assert_eq!(assert_adds_up(&entries), dec!(12.25));
    let replay = store
        .credit(&a, &burning, WriteOpts::at(expiry))
        .await
        .unwrap();
    assert!(!replay.applied, "expired credits keep their transaction id");
    assert_eq!(
        store.expire_due(expiry, 100).await.unwrap(),
        ExpiryReport::default()
    );
}

pub(crate) async fn redemptions_and_set_points(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    let set = set_points(dec!(100), "import-1");
    let out = store.apply(&a, &set, opts()).await.unwrap();
    assert_eq!(out.delta, dec!(100));
    assert!(!store.apply(&a, &set, opts()).await.unwrap().applied);
    let spend = redeem(dec!(30), "pos-1");
    assert_eq!(
        store.apply(&a, &spend, opts()).await.unwrap().delta,
        dec!(-30)
    );
    let too_much = redeem(dec!(71), "pos-2");
    let err = store.apply(&a, &too_much, opts()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientPoints);
    assert_eq!(points(&*store, &a, t0()).await, dec!(70));
    let reset = set_points(dec!(5), "import-2");
    assert_eq!(
        store.apply(&a, &reset, opts()).await.unwrap().delta,
        dec!(-65)
    );
    assert_eq!(points(&*store, &a, t0()).await, dec!(5));
    // The same id as a different operation is a conflict.
    let as_redemption = redeem(dec!(5), "import-2");
    assert_eq!(
        err_kind(store.apply(&a, &as_redemption, opts()).await),
        ErrorKind::Conflict
    );
    let same = set_points(dec!(5), "import-3");
    let unchanged = store.apply(&a, &same, opts()).await.unwrap();
    assert!(unchanged.applied && unchanged.delta.is_zero());
    let entries = history(&*store, &a, 10).await;
    let kinds: Vec<_> = entries.iter().map(|e| (e.kind, e.amount)).collect();
    assert_eq!(
        kinds,
        [
            (EntryKind::Adjustment, dec!(-65)),
            (EntryKind::Redemption, dec!(-30)),
            (EntryKind::Adjustment, dec!(100)),
        ],
        "a set to the same balance writes no entry"
    );
    assert_eq!(assert_adds_up(&entries), dec!(5));
}

/// Many credits at once (one group commit on either backend): each keeps its own outcome —
/// unknown customers are `NotFound`, every applied credit has its ledger row with its expiry and
/// exactly one outbox item, and none of the failures disturbs the others.
pub(crate) async fn concurrent_credits_with_echo_keep_rows_and_outbox_items(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    let b = customer(&*store, 2).await;
    let before = pending(&*store).await.len();
    let ghost = CustomerId::new("no-such-customer").unwrap();
    let mut tasks = Vec::new();
    for i in 0..60u32 {
        let (store, a, b, ghost) = (store.clone(), a.clone(), b.clone(), ghost.clone());
        tasks.push(tokio::spawn(async move {
            let who = match i % 3 {
                0 => ghost,
                1 => a,
                _ => b,
            };
            let lifetime = i.is_multiple_of(2).then(|| Duration::from_secs(60));
            let c = Credit::new(Decimal::from(i + 1), tx(&format!("e-{i}")), lifetime).unwrap();
            store.credit(&who, &c, opts()).await
        }));
    }
    let mut applied = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(o) => {
                assert!(o.applied && i % 3 != 0);
                assert_eq!(o.delta, Decimal::from(i as u32 + 1));
                applied += 1;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
                assert_eq!(i % 3, 0);
            }
        }
    }
    assert_eq!(applied, 40);
    let mut rows = history(&*store, &a, 1000).await;
    rows.extend(history(&*store, &b, 1000).await);
    assert_eq!(rows.len(), 40);
    for r in &rows {
        let id = r.transaction_id.as_ref().unwrap().as_str();
        let n: u32 = id[2..].parse().unwrap();
        assert_eq!(r.amount, Decimal::from(n + 1));
        assert_eq!(r.expires_at.is_some(), n.is_multiple_of(2), "{id}");
    }
    assert_eq!(
        pending(&*store).await.len() - before,
        40,
        "one outbox item per credit"
    );
}

/// Credits, redemptions and a reversal at once, at an instant some lots are past their time,
/// for a customer with points and one in debt: the history still adds up, each lot expires
/// once, and credits pay the debt before they open lots.
pub(crate) async fn concurrent_mixed_operations_keep_the_history_adding_up(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    let b = customer(&*store, 2).await;
    let w = opts().no_echo();
    apply_all(
        &*store,
        w,
        [
            (&a, LedgerOp::Credit(expiring(dec!(40), "promo", 3600))),
            (&a, LedgerOp::Credit(credit(dec!(60), "sale"))),
            (&a, redeem(dec!(10), "spend")),
            (&b, LedgerOp::Credit(credit(dec!(10), "b-sale"))),
            (&b, redeem(dec!(10), "b-spend")),
            (&b, reverse("b-sale")),
        ],
    )
    .await;
    assert_eq!(points(&*store, &b, t0()).await, dec!(-10));

    let now = at(7200);
    let mut tasks = Vec::new();
    for i in 0..90u32 {
        let (store, a, b) = (store.clone(), a.clone(), b.clone());
        tasks.push(tokio::spawn(async move {
            let w = WriteOpts::at(now);
            let (who, op) = match i % 3 {
                0 => (
                    b,
                    LedgerOp::Credit(expiring(dec!(1), &format!("b-{i}"), 3600)),
                ),
                1 => (
                    a.clone(),
                    LedgerOp::Credit(expiring(Decimal::from(i), &format!("a-{i}"), 3600)),
                ),
                _ if i == 50 => (a, reverse("sale")),
                _ => (a, redeem(dec!(5), &format!("r-{i}"))),
            };
            (i, store.apply(&who, &op, w).await)
        }));
    }
    let mut delta = Decimal::ZERO;
    let mut applied = 0;
    for t in tasks {
        match t.await.unwrap() {
            (i, Ok(o)) => {
                assert!(o.applied);
                if i % 3 != 0 {
                    delta += o.delta;
                    applied += 1;
                }
            }
            (i, Err(e)) => {
                assert_eq!(e.kind(), ErrorKind::InsufficientPoints, "{i}: {e}");
                assert_eq!(i % 3, 2);
            }
        }
    }
    // a: 90 at t0, 30 of `promo` expired at +1h.
    let entries = history(&*store, &a, 50).await;
    assert_eq!(entries.len(), 3 + 1 + applied);
    assert_eq!(assert_adds_up(&entries), dec!(60) + delta);
    let expiries: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Expiry)
        .collect();
    assert_eq!(expiries.len(), 1);
    assert_eq!((expiries[0].amount, expiries[0].at), (dec!(-30), at(3600)));
    assert_eq!(points(&*store, &a, now).await, dec!(60) + delta);
    // b: 30 points, the first 10 paid the debt; the 20 left expire together.
    assert_eq!(points(&*store, &b, now).await, dec!(20));
    assert_eq!(points(&*store, &b, at(10_799)).await, dec!(20));
    assert_eq!(points(&*store, &b, at(10_800)).await, Decimal::ZERO);
    store.expire_due(at(10_800), 100).await.unwrap();
    for who in [&a, &b] {
        let entries = history(&*store, who, 50).await;
        assert_eq!(
            assert_adds_up(&entries),
            points(&*store, who, at(10_800)).await
        );
        let mut expired: Vec<_> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Expiry)
            .map(|e| e.transaction_id.clone())
            .collect();
        let n = expired.len();
        expired.sort();
        expired.dedup();
        assert_eq!(expired.len(), n, "a lot expired twice");
    }
    assert_eq!(points(&*store, &b, at(10_800)).await, Decimal::ZERO);
}
