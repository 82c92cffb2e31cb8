//! The transactional outbox: enqueue, claims, leases, dead letters.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use walletport_core::{CustomerId, ErrorKind, Percent};
use walletport_store::{
    Failure, NewOutboxItem, OutboxId, OutboxKind, OutboxList, OutboxState, Percentages, Store,
    WriteOpts,
};

use crate::support::{claim, credit, credited, customer, err_kind, opts, pending, t0};

pub(crate) async fn outbox_items_are_written_with_their_change(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    assert!(
        pending(&*store).await.is_empty(),
        "no_echo writes no outbox item"
    );
    credited(&*store, &a, dec!(5), "o-1").await;
    store
        .credit(&a, &credit(dec!(6), "o-2"), opts().no_echo())
        .await
        .unwrap();
    let pct = Percentages {
        bonus: Some(Percent::new(dec!(7.5)).unwrap()),
        discount: None,
    };
    let after = store.set_percentages(&a, pct, opts()).await.unwrap();
    assert_eq!(after.bonus_percent.value(), dec!(7.5));
    store.set_percentages(&a, pct, opts()).await.unwrap(); // unchanged: nothing to sync
    let _ = store
        .credit(&a, &credit(dec!(9), "o-1"), opts())
        .await
        .unwrap_err();
    let items = pending(&*store).await;
    let kinds: Vec<_> = items.iter().map(|i| i.kind).collect();
    assert_eq!(kinds, [OutboxKind::Balance, OutboxKind::Percentages]);
    assert_eq!(items[0].payload["transaction_id"], "o-1");
    assert_eq!(items[0].payload["delta"], "5");
    assert_eq!(items[0].customer_id, a);
    assert_eq!(items[0].state, OutboxState::Pending);
    let bal = store.balance(&a, t0()).await.unwrap();
    assert_eq!(bal.points, dec!(11));
    assert_eq!(bal.bonus_percent.value(), dec!(7.5));
    let stats = store
        .outbox_stats(t0() + TimeDelta::seconds(90))
        .await
        .unwrap();
    assert_eq!((stats.depth, stats.customers, stats.dead), (2, 1, 0));
    assert_eq!(stats.oldest_age, Some(Duration::from_secs(90)));
    let manual = NewOutboxItem {
        customer_id: a.clone(),
        kind: OutboxKind::Customer,
        payload: serde_json::json!({"why": "resync"}),
    };
    let id = store.enqueue(&manual, t0()).await.unwrap();
    assert!(id > items[1].id);
}

pub(crate) async fn claims_take_whole_customers_in_order(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    let b = customer(&*store, 2).await;
    let c = customer(&*store, 3).await;
    // a1 b1 a2 c1 b2 a3
    for (who, n) in [(&a, 1), (&b, 2), (&a, 3), (&c, 4), (&b, 5), (&a, 6)] {
        store
            .credit(who, &credit(Decimal::from(n), &format!("k-{n}")), opts())
            .await
            .unwrap();
    }
    let now = t0() + TimeDelta::seconds(1);
    let got = store.claim_batch(&claim("w1", 4, now)).await.unwrap();
    assert!(
        got.windows(2).all(|w| w[0].id < w[1].id),
        "items come in id order"
    );
    let of = |who: &CustomerId| {
        got.iter()
            .filter(|i| &i.customer_id == who)
            .map(|i| i.id)
            .collect::<Vec<_>>()
    };
    let (a_ids, b_ids) = (of(&a), of(&b));
    assert_eq!(
        (a_ids.len(), b_ids.len()),
        (3, 1),
        "all of a (oldest head), then b up to the limit"
    );
    assert!(
        got.iter()
            .all(|i| i.state == OutboxState::InFlight && i.claimed_by.as_deref() == Some("w1"))
    );
    // w1 holds a and one of b's items: b is in flight, so w2 only gets c.
    let w2 = store.claim_batch(&claim("w2", 10, now)).await.unwrap();
    assert_eq!(w2.iter().map(|i| &i.customer_id).collect::<Vec<_>>(), [&c]);
    assert!(
        store
            .claim_batch(&claim("w3", 10, now))
            .await
            .unwrap()
            .is_empty()
    );

    // a delivered; b's first item fails with a retry in a minute: b waits, in order.
    assert_eq!(
        store.complete("w2", &a_ids).await.unwrap(),
        0,
        "only the holder completes"
    );
    assert_eq!(store.complete("w1", &a_ids).await.unwrap(), 3);
    let retry_at = now + TimeDelta::minutes(1);
    let failure = Failure {
        error: "503".into(),
        retry_at: Some(retry_at),
        max_attempts: 5,
        now,
    };
    let out = store.fail("w1", &b_ids, &failure).await.unwrap();
    assert_eq!((out.retrying, out.dead), (1, 0));
    assert!(
        store
            .claim_batch(&claim("w3", 10, now))
            .await
            .unwrap()
            .is_empty(),
        "b's head waits"
    );
    // Limit 2: b's head (older than c's) fills the batch.
    let b_items = store.claim_batch(&claim("w3", 2, retry_at)).await.unwrap();
    assert_eq!(b_items.len(), 2);
    assert!(b_items.iter().all(|i| i.customer_id == b));
    assert_eq!(b_items[0].id, b_ids[0], "the failed item stays first");
    assert_eq!(b_items[0].attempts, 1);
    assert_eq!(b_items[0].last_error.as_deref(), Some("503"));
    // c's lease (30 s from `now`) runs out: another worker takes c over.
    let taken = store
        .claim_batch(&claim("w4", 10, now + TimeDelta::seconds(31)))
        .await
        .unwrap();
    assert_eq!(
        taken.iter().map(|i| &i.customer_id).collect::<Vec<_>>(),
        [&c]
    );
    assert_eq!(
        store.complete("w2", &[w2[0].id]).await.unwrap(),
        0,
        "w2's lease is gone"
    );
}

/// Claims follow the order in which heads fall due: a head whose retry comes after other
/// customers' items fell due waits behind them (more of them than any claim looks at), then is
/// claimed with its failed item first. This is what keeps a claim from reading every head that
/// backs off during a vendor outage.
pub(crate) async fn a_head_retried_later_waits_behind_what_fell_due_before_it(
    store: Arc<dyn Store>,
) {
    let a = customer(&*store, 1).await;
    credited(&*store, &a, dec!(1), "due-a").await;
    let first = store.claim_batch(&claim("w1", 1, t0())).await.unwrap();
    assert_eq!(first.len(), 1);
    let retry_at = t0() + TimeDelta::minutes(10);
    let failure = Failure {
        error: "vendor down".into(),
        retry_at: Some(retry_at),
        max_attempts: 5,
        now: t0(),
    };
    store.fail("w1", &[first[0].id], &failure).await.unwrap();
    // 20 customers whose items fall due a minute in, long before a's retry.
    let minute = WriteOpts::at(t0() + TimeDelta::minutes(1));
    let mut others = Vec::new();
    for n in 2..22 {
        let c = customer(&*store, n).await;
        store
            .credit(&c, &credit(dec!(2), &format!("due-{n}")), minute)
            .await
            .unwrap();
        others.push(c);
    }
    let later = t0() + TimeDelta::minutes(20);
    let next = store.claim_batch(&claim("w2", 1, later)).await.unwrap();
    assert_eq!(
        next.iter().map(|i| &i.customer_id).collect::<Vec<_>>(),
        [&others[0]],
        "the first of those that fell due before a's retry, not a"
    );
    let rest = store.claim_batch(&claim("w2", 100, later)).await.unwrap();
    let of_a: Vec<_> = rest.iter().filter(|i| i.customer_id == a).collect();
    assert_eq!(of_a.len(), 1, "a is claimed once its turn comes: {rest:?}");
    assert_eq!(of_a[0].id, first[0].id, "with its failed item");
    assert_eq!(of_a[0].attempts, 1);
    assert_eq!(rest.len(), 20, "everything else that was due");
}

pub(crate) async fn two_workers_never_share_a_customer(store: Arc<dyn Store>) {
    const CUSTOMERS: u32 = 12;
    const PER: u32 = 8;
    let mut ids = Vec::new();
    for n in 0..CUSTOMERS {
        ids.push(customer(&*store, n).await);
    }
    // Half the changes are waiting; the other half arrive while the workers run.
    let enqueue = |store: Arc<dyn Store>, ids: Vec<CustomerId>, ks: std::ops::Range<u32>| async move {
        for k in ks {
            for (n, id) in ids.iter().enumerate() {
                let c = credit(dec!(1), &format!("t-{n}-{k}"));
                store.credit(id, &c, opts()).await.unwrap();
            }
        }
    };
    enqueue(store.clone(), ids.clone(), 0..PER / 2).await;
    let producer = tokio::spawn(enqueue(store.clone(), ids.clone(), PER / 2..PER));
    let producing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let held: Arc<Mutex<HashSet<CustomerId>>> = Arc::default();
    let delivered: Arc<Mutex<BTreeMap<CustomerId, Vec<String>>>> = Arc::default();
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let (store, held, delivered) = (store.clone(), held.clone(), delivered.clone());
            let producing = producing.clone();
            tokio::spawn(async move {
                let name = format!("worker-{w}");
                let mut idle = 0;
                while idle < 20 {
                    let items = store.claim_batch(&claim(&name, 5, t0())).await.unwrap();
                    if items.is_empty() {
                        if !producing.load(std::sync::atomic::Ordering::SeqCst) {
                            idle += 1;
                        }
                        tokio::task::yield_now().await;
                        continue;
                    }
                    idle = 0;
                    let mine: HashSet<CustomerId> =
                        items.iter().map(|i| i.customer_id.clone()).collect();
                    {
                        let mut h = held.lock().unwrap();
                        for c in &mine {
                            assert!(h.insert(c.clone()), "customer {c} claimed by two workers");
                        }
                    }
                    {
                        let mut d = delivered.lock().unwrap();
                        for i in &items {
                            let tx = i.payload["transaction_id"].as_str().unwrap().to_owned();
                            d.entry(i.customer_id.clone()).or_default().push(tx);
                        }
                    }
                    tokio::task::yield_now().await;
                    {
                        let mut h = held.lock().unwrap();
                        for c in &mine {
                            h.remove(c);
                        }
                    }
                    let done: Vec<OutboxId> = items.iter().map(|i| i.id).collect();
                    assert_eq!(
                        store.complete(&name, &done).await.unwrap(),
                        done.len() as u64
                    );
                }
            })
        })
        .collect();
    producer.await.unwrap();
    producing.store(false, std::sync::atomic::Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    assert_eq!(store.outbox_stats(t0()).await.unwrap().depth, 0);
    let delivered = delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), CUSTOMERS as usize);
    for (n, id) in ids.iter().enumerate() {
        let want: Vec<String> = (0..PER).map(|k| format!("t-{n}-{k}")).collect();
        assert_eq!(delivered[id], want, "each item once, in order, for {id}");
    }
}

pub(crate) async fn dead_letters_after_max_attempts_and_retry(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    let b = customer(&*store, 2).await;
    credited(&*store, &a, dec!(1), "d-1").await;
    // b's item falls due after each of a's retries, so every claim of one takes a.
    store
        .credit(
            &b,
            &credit(dec!(1), "d-2"),
            WriteOpts::at(t0() + TimeDelta::minutes(1)),
        )
        .await
        .unwrap();
    let mut now = t0();
    for attempt in 1..=3u32 {
        let items = store.claim_batch(&claim("w", 1, now)).await.unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].customer_id, a);
        assert_eq!(items[0].attempts, attempt - 1);
        let f = Failure {
            error: format!("boom {attempt}"),
            retry_at: Some(now),
            max_attempts: 3,
            now,
        };
        let out = store.fail("w", &[items[0].id], &f).await.unwrap();
        assert_eq!(out.dead, u64::from(attempt == 3));
        now += TimeDelta::seconds(1);
    }
    let dead = store
        .list_outbox(OutboxList::Dead, None, 10, now)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].attempts, dead[0].state), (3, OutboxState::Dead));
    assert_eq!(dead[0].last_error.as_deref(), Some("boom 3"));
    // b was never blocked by a's dead letter; a permanent failure dead-letters at once.
    now += TimeDelta::minutes(1);
    let items = store.claim_batch(&claim("w", 10, now)).await.unwrap();
    assert_eq!(
        items.iter().map(|i| &i.customer_id).collect::<Vec<_>>(),
        [&b]
    );
    let permanent = Failure {
        error: "400 bad phone".into(),
        retry_at: None,
        max_attempts: 9,
        now,
    };
    assert_eq!(
        store
            .fail("w", &[items[0].id], &permanent)
            .await
            .unwrap()
            .dead,
        1
    );
    let stats = store.outbox_stats(now).await.unwrap();
    assert_eq!((stats.depth, stats.dead), (0, 2));

    let again = store.retry_dead(dead[0].id, now).await.unwrap();
    assert!(again > dead[0].id, "a retried item gets a new id");
    let back = store.claim_batch(&claim("w", 10, now)).await.unwrap();
    assert_eq!(
        (
            back.len(),
            back[0].attempts,
            back[0].payload["transaction_id"].as_str()
        ),
        (1, 0, Some("d-1"))
    );
    let err = store.retry_dead(dead[0].id, now).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(store.outbox_stats(now).await.unwrap().dead, 1);
}

/// A hand-back (shutdown, lease nearly over) tried nothing: it frees the lease and makes the
/// item due at once, but counts no attempt and keeps the last error, so an item handed back
/// again and again neither dead-letters early nor waits longer for its retries.
pub(crate) async fn handing_back_counts_no_attempt_and_frees_the_item_at_once(
    store: Arc<dyn Store>,
) {
    let a = customer(&*store, 1).await;
    credited(&*store, &a, dec!(1), "h-1").await;
    let mut now = t0();
    for round in 0..5 {
        let items = store.claim_batch(&claim("w", 10, now)).await.unwrap();
        assert_eq!(items.len(), 1, "round {round}: claimable again at once");
        assert_eq!(items[0].attempts, 0, "round {round}: no attempt counted");
        let id = items[0].id;
        assert_eq!(
            store.release("other", &[id], now).await.unwrap(),
            0,
            "only the holder hands back"
        );
        assert_eq!(store.release("w", &[id], now).await.unwrap(), 1);
        let stats = store.outbox_stats(now).await.unwrap();
        assert_eq!((stats.depth, stats.in_flight, stats.dead), (1, 0, 0));
        let waiting = store
            .list_outbox(OutboxList::Pending, None, 10, now)
            .await
            .unwrap();
        assert_eq!(
            (
                waiting[0].attempts,
                waiting[0].next_attempt_at,
                waiting[0].claimed_by.as_deref(),
                waiting[0].state
            ),
            (0, now, None, OutboxState::Pending)
        );
        assert_eq!(waiting[0].last_error, None);
        now += TimeDelta::milliseconds(1);
    }
    assert_eq!(store.release("w", &[], now).await.unwrap(), 0);
    assert_eq!(
        err_kind(store.release("", &[], now).await),
        ErrorKind::InvalidInput
    );

    // A real failure counts; the hand-backs after it keep its count and its error.
    let items = store.claim_batch(&claim("w", 10, now)).await.unwrap();
    let f = Failure {
        error: "boom".into(),
        retry_at: Some(now),
        max_attempts: 2,
        now,
    };
    let out = store.fail("w", &[items[0].id], &f).await.unwrap();
    assert_eq!((out.retrying, out.dead), (1, 0));
    for _ in 0..3 {
        let items = store.claim_batch(&claim("w", 10, now)).await.unwrap();
        assert_eq!(items[0].attempts, 1);
        assert_eq!(store.release("w", &[items[0].id], now).await.unwrap(), 1);
    }
    let waiting = pending(&*store).await;
    assert_eq!(
        (waiting[0].attempts, waiting[0].last_error.as_deref()),
        (1, Some("boom"))
    );
    // Still one failure short of `max_attempts`, however often it was handed back.
    let items = store.claim_batch(&claim("w", 10, now)).await.unwrap();
    assert_eq!(items.len(), 1);
    let f = Failure {
        max_attempts: 3,
        ..f
    };
    let out = store.fail("w", &[items[0].id], &f).await.unwrap();
    assert_eq!((out.retrying, out.dead), (1, 0));
}

pub(crate) async fn resync_queues_every_customer_once_in_pages(store: Arc<dyn Store>) {
    use walletport_store::{ResyncCursor, ResyncRequest};
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(customer(&*store, n).await);
    }
    // One customer already has a full-state item waiting: resync must not add another.
    store
        .upsert_customer(
            &walletport_core::Customer {
                name: Some("Ann".into()),
                ..walletport_core::Customer::new(crate::support::phone(3))
            },
            opts(),
        )
        .await
        .unwrap();
    let page = |after: Option<ResyncCursor>| ResyncRequest {
        customer: None,
        after,
        limit: 2,
        now: t0(),
    };
    let mut after = None;
    let (mut scanned, mut queued, mut pages) = (0, 0, 0);
    loop {
        let got = store.enqueue_resync(&page(after)).await.unwrap();
        scanned += got.scanned;
        queued += got.queued;
        pages += 1;
        match got.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(
        (scanned, queued),
        (5, 4),
        "customer 3 had a customer item waiting"
    );
    assert!(pages >= 3, "a limit of 2 pages through 5 customers");
    let items = pending(&*store).await;
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(|i| i.kind == OutboxKind::Customer));
    let distinct: HashSet<_> = items.iter().map(|i| i.customer_id.clone()).collect();
    assert_eq!(distinct.len(), 5);

    // Running it again queues nothing: every customer has its item waiting.
    let again = store.enqueue_resync(&page(None)).await.unwrap();
    assert_eq!((again.scanned, again.queued), (2, 0));

    // One customer, after its item was delivered.
    let claimed = store.claim_batch(&claim("w", 100, t0())).await.unwrap();
    let mine: Vec<OutboxId> = claimed
        .iter()
        .filter(|i| i.customer_id == ids[0])
        .map(|i| i.id)
        .collect();
    store.complete("w", &mine).await.unwrap();
    let one = ResyncRequest {
        customer: Some(ids[0].clone()),
        after: None,
        limit: 100,
        now: t0(),
    };
    let got = store.enqueue_resync(&one).await.unwrap();
    assert_eq!((got.scanned, got.queued, got.next), (1, 1, None));
    let repeat = store.enqueue_resync(&one).await.unwrap();
    assert_eq!(repeat.queued, 0);

    let bad = ResyncRequest { limit: 0, ..one };
    assert_eq!(
        err_kind(store.enqueue_resync(&bad).await),
        ErrorKind::InvalidInput
    );
}
