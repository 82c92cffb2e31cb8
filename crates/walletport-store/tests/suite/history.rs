//! The append-only history: every kind of entry, adding up, paged newest first.

use std::collections::HashSet;
use std::sync::Arc;

use rust_decimal_macros::dec;
use walletport_core::{CustomerId, ErrorKind};
use walletport_store::{EntryKind, LedgerOp, LedgerQuery, Store, WriteOpts};

use crate::support::{
    apply_all, assert_adds_up, at, credit, customer, expiring, history, points, redeem, reverse,
    set_points,
};

pub(crate) async fn history_adds_up_and_pages_newest_first(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    let b = customer(&*store, 2).await;
    // 25 entries for `a` of every kind, interleaved with entries for `b`; one write per second.
    let mut t = 0;
    let mut write = |secs| {
        t += secs;
        WriteOpts::at(at(t)).no_echo()
    };
    for i in 0..5 {
        let w = write(1);
        apply_all(
            &*store,
            w,
            [
                (&a, LedgerOp::Credit(credit(dec!(10.5), &format!("h-c{i}")))),
                (
                    &a,
                    LedgerOp::Credit(expiring(dec!(2), &format!("h-e{i}"), 2)),
                ),
                (&b, LedgerOp::Credit(credit(dec!(1), &format!("h-b{i}")))),
            ],
        )
        .await;
        let w = write(1);
        store
            .apply(&a, &redeem(dec!(0.25), &format!("h-r{i}")), w)
            .await
            .unwrap();
    }
    let w = write(5);
    apply_all(
        &*store,
        w,
        [
            (&a, reverse("h-c0")),
            (&a, set_points(dec!(100), "h-s1")),
            (&a, set_points(dec!(7), "h-s2")),
        ],
    )
    .await;

    let entries = history(&*store, &a, 4).await;
    assert_eq!(entries.len(), 23, "{entries:#?}");
    let ids: HashSet<_> = entries.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), entries.len(), "every entry once");
    let kinds: HashSet<_> = entries.iter().map(|e| e.kind).collect();
    assert_eq!(kinds.len(), 5, "every kind: {kinds:?}");
    let expiries = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Expiry)
        .count();
    assert_eq!(expiries, 5, "each 2-second credit expired at a later write");
    assert_eq!(assert_adds_up(&entries), dec!(7));
    assert_eq!(points(&*store, &a, at(t)).await, dec!(7));
    // Other page sizes give the same history; 0 means the default page of 100.
    for limit in [1, 3, 23, 24, 0] {
        let limit_or_default = if limit == 0 { 100 } else { limit };
        assert_eq!(history(&*store, &a, limit_or_default).await, entries);
    }
    let all = store.ledger(&a, &LedgerQuery::default()).await.unwrap();
    assert_eq!((all.entries, all.next), (entries.clone(), None));
    let oldest = entries.last().unwrap().id;
    let past_the_end = store
        .ledger(
            &a,
            &LedgerQuery {
                before: Some(oldest),
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert!(past_the_end.entries.is_empty() && past_the_end.next.is_none());
    assert_eq!(history(&*store, &b, 2).await.len(), 5);
    let ghost = CustomerId::new("nobody").unwrap();
    let err = store
        .ledger(&ghost, &LedgerQuery::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}
