//! Customers, cards, inbound events and input validation.

use std::sync::Arc;

use chrono::TimeDelta;
use rust_decimal_macros::dec;
use walletport_core::{CardId, CardStatus, Customer, CustomerId, CustomerKey, ErrorKind};
use walletport_store::{
    CardPatch, CardUpdated, Failure, ListCustomers, NewCard, NewOutboxItem, OutboxId, OutboxKind,
    Percentages, Store, WriteOpts,
};

use crate::support::{claim, credit, customer, err_kind, opts, pending, phone, t0};

pub(crate) async fn extra_fields_stay_bounded_across_patches(store: Arc<dyn Store>) {
    let patch = |from: usize| {
        let mut c = Customer::new(phone(7));
        c.extra = (from..from + 150)
            .map(|i| (format!("k{i}"), "v".into()))
            .collect();
        c
    };
    store.upsert_customer(&patch(0), opts()).await.unwrap();
    let err = store
        .upsert_customer(&patch(150), opts())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let stored = store
        .get_customer(&CustomerKey::Phone(phone(7)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.customer.extra.len(),
        150,
        "the refused patch changed nothing"
    );
    let mut rename = Customer::new(phone(7));
    rename.name = Some("Eva".into());
    rename.extra.insert("k0".into(), "w".into());
    let up = store.upsert_customer(&rename, opts()).await.unwrap();
    assert!(up.changed, "a patch that adds no key still applies");
}

pub(crate) async fn upsert_creates_then_patches_and_keeps_the_id(store: Arc<dyn Store>) {
    let mut c = Customer::new(phone(1));
    c.name = Some("Jana".into());
    c.extra.insert("sex".into(), "f".into());
    let created = store.upsert_customer(&c, opts()).await.unwrap();
    assert!(created.created && created.changed);
    assert_eq!(
        created.id.as_str().len(),
        36,
        "UUID-shaped id: {}",
        created.id
    );

    let mut patch = Customer::new(phone(1));
    patch.email = Some("jana@example.com".into());
    patch.extra.insert("promo".into(), "SPRING".into());
    let later = opts().now + TimeDelta::seconds(5);
    let patched = store
        .upsert_customer(&patch, WriteOpts::at(later))
        .await
        .unwrap();
    assert_eq!(patched.id, created.id);
    assert!(!patched.created && patched.changed);
    let again = store
        .upsert_customer(&patch, WriteOpts::at(later))
        .await
        .unwrap();
    assert!(!again.changed, "same data again changes nothing");

    let stored = store
        .get_customer(&CustomerKey::Phone(phone(1)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.customer.name.as_deref(),
        Some("Jana"),
        "patch keeps unset fields"
    );
    assert_eq!(stored.customer.email.as_deref(), Some("jana@example.com"));
    assert_eq!(stored.customer.extra.len(), 2, "extra fields merge by key");
    assert_eq!(stored.created_at, t0());
    assert_eq!(stored.updated_at, later);
    assert_eq!(pending(&*store).await.len(), 2, "create + one real change");

    let mut other_id = Customer::new(phone(1));
    other_id.id = Some(CustomerId::new("crm-42").unwrap());
    let err = store.upsert_customer(&other_id, opts()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);

    let mut own = Customer::new(phone(2));
    own.id = Some(CustomerId::new("crm-42").unwrap());
    let up = store.upsert_customer(&own, opts()).await.unwrap();
    assert_eq!(up.id.as_str(), "crm-42");
    let mut taken = Customer::new(phone(3));
    taken.id = Some(CustomerId::new("crm-42").unwrap());
    let err = store.upsert_customer(&taken, opts()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert!(
        store
            .get_customer(&CustomerKey::Phone(phone(3)))
            .await
            .unwrap()
            .is_none()
    );
}

pub(crate) async fn customers_are_found_by_phone_id_and_card_and_listed_in_pages(
    store: Arc<dyn Store>,
) {
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(customer(&*store, n).await);
    }
    let card = NewCard {
        provider: "passquare".into(),
        number: Some("1000017".into()),
        track: Some("T1000017".into()),
        ..Default::default()
    };
    store.attach_card(&ids[3], &card, opts()).await.unwrap();
    let by_card = store
        .get_customer(&CustomerKey::Card(CardId::new("1000017").unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_card.id, ids[3]);
    let by_id = store
        .get_customer(&CustomerKey::Id(ids[2].clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_id.customer.phone, phone(2));
    assert!(
        store
            .get_customer(&CustomerKey::Phone(phone(99)))
            .await
            .unwrap()
            .is_none()
    );

    let mut seen = Vec::new();
    let mut query = ListCustomers {
        after: None,
        limit: 2,
    };
    let mut pages = 0;
    loop {
        let page = store.list_customers(&query).await.unwrap();
        pages += 1;
        seen.extend(page.customers.into_iter().map(|c| c.id));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids, "every customer once, in creation order");
    let bad = ListCustomers {
        after: Some("x'; DROP TABLE customers".into()),
        limit: 2,
    };
    assert_eq!(
        err_kind(store.list_customers(&bad).await),
        ErrorKind::InvalidInput
    );
    let big = ListCustomers {
        after: None,
        limit: 5000,
    };
    assert_eq!(
        err_kind(store.list_customers(&big).await),
        ErrorKind::InvalidInput
    );
}

pub(crate) async fn cards_merge_conflict_and_webhook_updates_dedup(store: Arc<dyn Store>) {
    let a = customer(&*store, 1).await;
    let b = customer(&*store, 2).await;
    let card = NewCard {
        provider: "passteam".into(),
        vendor_card_id: Some(CardId::new("pt-77").unwrap()),
        ..Default::default()
    };
    let first = store
        .attach_card(&a, &card, opts().no_echo())
        .await
        .unwrap();
    assert_eq!(first.status, CardStatus::Active);
    let more = NewCard {
        number: Some("5500".into()),
        ..card.clone()
    };
    let merged = store
        .attach_card(&a, &more, opts().no_echo())
        .await
        .unwrap();
    assert_eq!(merged.number.as_deref(), Some("5500"));
    assert_eq!(
        store.list_cards(&a).await.unwrap().len(),
        1,
        "merged, not duplicated"
    );
    let err = store.attach_card(&b, &card, opts()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);

    let id = CardId::new("pt-77").unwrap();
    let install = CardPatch {
        installed_apple: Some(true),
        event_id: Some("wh-1".into()),
        ..Default::default()
    };
    let later = WriteOpts::at(t0() + TimeDelta::minutes(1)).no_echo();
    // Every update below is a passteam webhook a minute after t0; each must not fail.
    let update = async |id: &CardId, patch: &CardPatch| {
        store
            .update_card("passteam", id, patch, later)
            .await
            .unwrap()
    };
    // Whether recording the passteam event now is new (`false`: it was recorded already).
    let record_event = async |event: &str| {
        store
            .record_inbound_event("passteam", event, t0())
            .await
            .unwrap()
    };
    match update(&id, &install).await {
        CardUpdated::Applied(c) => assert!(c.installed.apple && !c.installed.google),
        other => panic!("expected Applied, got {other:?}"),
    }
    let replay = CardPatch {
        installed_apple: Some(false),
        ..install.clone()
    };
    assert_eq!(update(&id, &replay).await, CardUpdated::Duplicate);
    assert!(
        store.list_cards(&a).await.unwrap()[0].installed.apple,
        "replay changed nothing"
    );
    assert!(!record_event("wh-1").await);
    let unknown = CardId::new("pt-404").unwrap();
    let ev = CardPatch {
        event_id: Some("wh-2".into()),
        ..Default::default()
    };
    assert_eq!(update(&unknown, &ev).await, CardUpdated::NotFound);
    assert!(
        record_event("wh-2").await,
        "an event for an unknown card is not recorded"
    );
    let remove = CardPatch {
        remove: true,
        event_id: Some("wh-3".into()),
        ..Default::default()
    };
    assert!(matches!(
        update(&id, &remove).await,
        CardUpdated::Applied(_)
    ));
    assert!(store.list_cards(&a).await.unwrap().is_empty());
}

pub(crate) async fn inbound_events_are_deduplicated(store: Arc<dyn Store>) {
    assert!(
        store
            .record_inbound_event("passteam", "wh-9", t0())
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_inbound_event("passteam", "wh-9", t0())
            .await
            .unwrap()
    );
    assert!(
        store
            .record_inbound_event("skycore", "wh-9", t0())
            .await
            .unwrap()
    );
    let storm: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.record_inbound_event("passteam", "wh-10", t0()).await })
        })
        .collect();
    let mut firsts = 0;
    for t in storm {
        firsts += usize::from(t.await.unwrap().unwrap());
    }
    assert_eq!(firsts, 1);
    for (p, e) in [("Pass Team", "x"), ("passteam", ""), ("passteam", "a\nb")] {
        let err = store.record_inbound_event(p, e, t0()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
}

pub(crate) async fn malformed_input_is_rejected_and_changes_nothing(store: Arc<dyn Store>) {
    let mut bad = Customer::new(phone(1));
    bad.email = Some("not an email".into());
    let err = store.upsert_customer(&bad, opts()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let mut bad = Customer::new(phone(1));
    bad.name = Some("x\u{0}y".into());
    assert_eq!(
        err_kind(store.upsert_customer(&bad, opts()).await),
        ErrorKind::InvalidInput
    );
    assert!(
        store
            .get_customer(&CustomerKey::Phone(phone(1)))
            .await
            .unwrap()
            .is_none()
    );

    let a = customer(&*store, 2).await;
    let no_id = NewCard {
        provider: "passquare".into(),
        ..Default::default()
    };
    assert_eq!(
        err_kind(store.attach_card(&a, &no_id, opts()).await),
        ErrorKind::InvalidInput
    );
    let bad_provider = NewCard {
        provider: "Pass Quare".into(),
        number: Some("1".into()),
        ..Default::default()
    };
    assert_eq!(
        err_kind(store.attach_card(&a, &bad_provider, opts()).await),
        ErrorKind::InvalidInput
    );
    let far_future = chrono::DateTime::<chrono::Utc>::MAX_UTC;
    let err = store
        .credit(&a, &credit(dec!(1), "far"), WriteOpts::at(far_future))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        store
            .credit(&a, &credit(dec!(2), "far"), opts())
            .await
            .unwrap()
            .applied,
        "id not burnt"
    );
    let empty = Percentages::default();
    assert_eq!(
        err_kind(store.set_percentages(&a, empty, opts()).await),
        ErrorKind::InvalidInput
    );
    for bad_claim in [
        claim("", 5, t0()),
        claim("w", 0, t0()),
        claim("w", 100_000, t0()),
    ] {
        assert_eq!(
            err_kind(store.claim_batch(&bad_claim).await),
            ErrorKind::InvalidInput
        );
    }
    let zero = Failure {
        error: "x".into(),
        retry_at: None,
        max_attempts: 0,
        now: t0(),
    };
    assert_eq!(
        err_kind(store.fail("w", &[OutboxId(1)], &zero).await),
        ErrorKind::InvalidInput
    );
    let ghost = NewOutboxItem {
        customer_id: CustomerId::new("ghost").unwrap(),
        kind: OutboxKind::Customer,
        payload: serde_json::json!({}),
    };
    assert_eq!(
        err_kind(store.enqueue(&ghost, t0()).await),
        ErrorKind::NotFound
    );
    // Nothing above changed anything but the one good credit.
    let stats = store.outbox_stats(t0()).await.unwrap();
    assert_eq!((stats.depth, stats.dead), (1, 0));
    assert!(store.list_cards(&a).await.unwrap().is_empty());
    assert_eq!(store.balance(&a, t0()).await.unwrap().points, dec!(2));
    let page = store
        .list_customers(&ListCustomers::default())
        .await
        .unwrap();
    assert_eq!(page.customers.len(), 1);
}

/// Text PostgreSQL cannot store (a NUL character) and birthdays outside years 1..=9999 are
/// refused as invalid input on both backends alike, before anything is written: the same input
/// must not be a database error on one backend and stored on the other.
pub(crate) async fn unstorable_text_and_dates_are_refused_alike_and_store_nothing(
    store: Arc<dyn Store>,
) {
    const NUL: &str = "x\u{0}y";
    let date = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).expect("a date");
    let bad_customers = |n: u32| -> Vec<(&'static str, Customer)> {
        let base = Customer::new(phone(n));
        let with = |f: &dyn Fn(&mut Customer)| {
            let mut c = base.clone();
            f(&mut c);
            c
        };
        vec![
            ("name", with(&|c| c.name = Some(NUL.into()))),
            ("surname", with(&|c| c.surname = Some(NUL.into()))),
            ("middle name", with(&|c| c.middle_name = Some(NUL.into()))),
            ("e-mail", with(&|c| c.email = Some("a\u{0}b@x.cz".into()))),
            (
                "referral code",
                with(&|c| c.referral_code = Some(NUL.into())),
            ),
            (
                "extra",
                with(&|c| _ = c.extra.insert("note".into(), NUL.into())),
            ),
            (
                "extra",
                with(&|c| _ = c.extra.insert(NUL.into(), "v".into())),
            ),
            (
                "provider_ids",
                with(&|c| _ = c.provider_ids.insert("passteam".into(), NUL.into())),
            ),
            ("birthday", with(&|c| c.birthday = Some(date(0, 1, 1)))),
            ("birthday", with(&|c| c.birthday = Some(date(-1, 12, 31)))),
            ("birthday", with(&|c| c.birthday = Some(date(10_000, 1, 1)))),
        ]
    };
    // A new customer: refused, nothing stored.
    for (field, bad) in bad_customers(1) {
        let err = store.upsert_customer(&bad, opts()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{field}: {err}");
        assert!(err.message().contains(field), "{field}: {err}");
    }
    let one = CustomerKey::Phone(phone(1));
    assert!(store.get_customer(&one).await.unwrap().is_none());

    // An existing customer: the patch is refused and the stored customer stays as it was.
    let a = customer(&*store, 2).await;
    let two = CustomerKey::Phone(phone(2));
    let before = store.get_customer(&two).await.unwrap().expect("stored");
    for (field, bad) in bad_customers(2) {
        let err = store.upsert_customer(&bad, opts()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{field}: {err}");
    }
    assert_eq!(store.get_customer(&two).await.unwrap(), Some(before));

    // Cards and outbox items alike.
    let cards = [
        NewCard {
            provider: "passquare".into(),
            number: Some(NUL.into()),
            ..Default::default()
        },
        NewCard {
            provider: "passquare".into(),
            number: Some("1".into()),
            track: Some(NUL.into()),
            ..Default::default()
        },
        NewCard {
            provider: "passquare".into(),
            number: Some("1".into()),
            links: walletport_core::InstallLinks {
                page: Some(format!("https://x.cz/{NUL}")),
                ..Default::default()
            },
            ..Default::default()
        },
    ];
    for card in &cards {
        assert_eq!(
            err_kind(store.attach_card(&a, card, opts()).await),
            ErrorKind::InvalidInput
        );
    }
    assert!(store.list_cards(&a).await.unwrap().is_empty());
    let item = NewOutboxItem {
        customer_id: a.clone(),
        kind: OutboxKind::Customer,
        payload: serde_json::json!({"why": [NUL]}),
    };
    assert_eq!(
        err_kind(store.enqueue(&item, t0()).await),
        ErrorKind::InvalidInput
    );
    let item = NewOutboxItem {
        payload: serde_json::json!({ NUL: 1 }),
        ..item
    };
    assert_eq!(
        err_kind(store.enqueue(&item, t0()).await),
        ErrorKind::InvalidInput
    );
    assert!(pending(&*store).await.is_empty(), "nothing was queued");

    // The widest birthdays both store, and control characters a text may hold, round-trip.
    for (n, birthday) in [(3, date(1, 1, 1)), (4, date(9999, 12, 31))] {
        let mut c = Customer::new(phone(n));
        c.birthday = Some(birthday);
        c.extra
            .insert("note".into(), "line 1\nline 2\t\u{7f}".into());
        store.upsert_customer(&c, opts()).await.unwrap();
        let got = store
            .get_customer(&CustomerKey::Phone(phone(n)))
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(got.customer.birthday, Some(birthday));
        assert_eq!(got.customer.extra, c.extra);
    }

    // A failure's error text (a vendor's answer, say) is kept with the NUL replaced, not lost.
    let item = NewOutboxItem {
        customer_id: a.clone(),
        kind: OutboxKind::Customer,
        payload: serde_json::json!({"why": "resync"}),
    };
    store.enqueue(&item, t0()).await.unwrap();
    let claimed = store.claim_batch(&claim("w", 10, t0())).await.unwrap();
    let failure = Failure {
        error: "bad\u{0}answer".into(),
        retry_at: Some(t0()),
        max_attempts: 5,
        now: t0(),
    };
    let ids: Vec<OutboxId> = claimed.iter().map(|i| i.id).collect();
    store.fail("w", &ids, &failure).await.unwrap();
    let kept = pending(&*store).await;
    assert_eq!(kept[0].last_error.as_deref(), Some("bad\u{fffd}answer"));
}

/// Every page of a search, followed through its cursors, as phones.
async fn search_all(store: &dyn Store, text: &str, limit: u32) -> Vec<String> {
    let mut found = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .search_customers(&walletport_store::CustomerSearch {
                text: text.to_owned(),
                after,
                limit,
            })
            .await
            .unwrap();
        assert!(page.customers.len() <= limit as usize);
        found.extend(page.customers.iter().map(|c| c.customer.phone.to_string()));
        match page.next {
            Some(next) => after = Some(next),
            None => return found,
        }
    }
}

pub(crate) async fn customers_are_searched_by_phone_prefix_and_name_in_pages(
    store: Arc<dyn Store>,
) {
    let people = [
        (1, Some("Jana"), Some("Nováková")),
        (2, Some("Jan"), Some("Novák")),
        (3, Some("Petr"), Some("Janků")),
        (4, None, Some("Černý")),
        (5, Some("jana"), None),
        (12, Some("Zdeněk"), Some("Svoboda")),
    ];
    for (n, name, surname) in people {
        let mut c = Customer::new(phone(n));
        c.name = name.map(Into::into);
        c.surname = surname.map(Into::into);
        store.upsert_customer(&c, opts()).await.unwrap();
    }
    let p = |n| phone(n).to_string();

    // Name prefixes, any case, first name first or surname first; creation order.
    assert_eq!(
        search_all(&*store, "jan", 2).await,
        [p(1), p(2), p(3), p(5)]
    );
    assert_eq!(search_all(&*store, "JANA", 1).await, [p(1), p(5)]);
    assert_eq!(search_all(&*store, "  jan   novák ", 10).await, [p(2)]);
    assert_eq!(search_all(&*store, "Novák", 10).await, [p(1), p(2)]);
    assert_eq!(search_all(&*store, "nováková jana", 10).await, [p(1)]);
    assert_eq!(search_all(&*store, "Černý", 10).await, [p(4)]);
    assert!(search_all(&*store, "xyz", 10).await.is_empty());

    // Phone prefixes, with or without `+`, with separators; phone order.
    assert_eq!(search_all(&*store, "+42070000001", 10).await, [p(12)]);
    assert_eq!(
        search_all(&*store, "420 700-000 00", 2).await,
        [p(1), p(2), p(3), p(4), p(5)]
    );
    assert_eq!(
        search_all(&*store, &p(4), 10).await,
        [p(4)],
        "a whole phone finds its customer"
    );
    assert_eq!(search_all(&*store, "+4207", 4).await.len(), 6);
    assert!(search_all(&*store, "+1", 10).await.is_empty());

    // Bad input: a clear error.
    for bad in [
        "",
        "   ",
        &"x".repeat(walletport_store::MAX_SEARCH_CHARS + 1),
    ] {
        let e = store
            .search_customers(&walletport_store::CustomerSearch {
                text: bad.to_owned(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
    for (text, cursor) in [
        ("jan", "x"),
        ("jan", "-1"),
        ("+420", "420"),
        ("+420", "+4x"),
    ] {
        let e = store
            .search_customers(&walletport_store::CustomerSearch {
                text: text.to_owned(),
                after: Some(cursor.to_owned()),
                limit: 0,
            })
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{text} after {cursor}");
    }
}

pub(crate) async fn expiring_points_count_what_is_left_of_lots_burning_in_the_window(
    store: Arc<dyn Store>,
) {
    use walletport_core::Credit;
    let id = customer(&*store, 1).await;
    let days = |n: u64| std::time::Duration::from_secs(n * 86_400);
    for (amount, tx_id, lifetime) in [
        (dec!(10), "soon", Some(days(10))),
        (dec!(20.5), "later", Some(days(40))),
        (dec!(5), "never", None),
    ] {
        let c = Credit::new(amount, crate::support::tx(tx_id), lifetime).unwrap();
        store.credit(&id, &c, opts()).await.unwrap();
    }
    store
        .apply(&id, &crate::support::redeem(dec!(4), "spend"), opts())
        .await
        .unwrap();
    let at = |d: i64| t0() + TimeDelta::days(d);
    let expiring = |from: i64, until: i64| {
        let store = store.clone();
        let id = id.clone();
        async move { store.expiring_points(&id, at(from), at(until)).await }
    };
    assert_eq!(
        expiring(0, 30).await.unwrap(),
        dec!(6),
        "the soonest lot paid the redemption"
    );
    assert_eq!(
        expiring(0, 40).await.unwrap(),
        dec!(26.5),
        "the window's end is included"
    );
    assert_eq!(
        expiring(10, 60).await.unwrap(),
        dec!(20.5),
        "a lot past its time is gone"
    );
    assert_eq!(expiring(0, 0).await.unwrap(), dec!(0));
    let e = expiring(5, 1).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let unknown = CustomerId::new("nobody").unwrap();
    assert_eq!(
        store
            .expiring_points(&unknown, at(0), at(30))
            .await
            .unwrap(),
        dec!(0)
    );
}
