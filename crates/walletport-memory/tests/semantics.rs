//! The memory provider's own behaviour beyond the shared suite: rejected input leaves the whole
//! state untouched, cards and ids are deterministic, listing filters and cursors, deletion.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use rust_decimal_macros::dec;
use walletport_core::*;

mod common;
use common::*;
use walletport_memory::{LINK_BASE, ManualClock, MemoryConfig, MemoryProvider};

#[tokio::test]
async fn rejected_operations_leave_the_whole_state_untouched() {
    let memory = Arc::new(memory());
    let raw: &dyn Provider = memory.as_ref();
    add(raw, 1).await;
    add(raw, 2).await;
    let card = CardKey::Phone(phone(1));
    raw.balances()
        .credit(credit(1, dec!(5), "t"))
        .await
        .unwrap();
    let before = memory.snapshot();

    let too_many = (0..100)
        .map(|i| (format!("f{i}"), "v".to_owned()))
        .collect::<Fields>();
    let errors = vec![
        raw.customers()
            .upsert_customer(UpsertCustomer {
                template: Some(tid("no-such-template")),
                ..UpsertCustomer::new(Customer::new(phone(3)))
            })
            .await
            .map(drop),
        try_upsert_customer(
            raw,
            Customer {
                email: Some("bad".into()),
                ..Customer::new(phone(3))
            },
        )
        .await
        .map(drop),
        try_upsert_customer(
            raw,
            Customer {
                id: add_id(raw, 2).await,
                name: Some("stolen id".into()),
                ..Customer::new(phone(1))
            },
        )
        .await
        .map(drop),
        try_upsert_customer(
            raw,
            Customer {
                invited_by: Some(phone(1)),
                ..Customer::new(phone(1))
            },
        )
        .await
        .map(drop),
        raw.customers()
            .upsert_customer(UpsertCustomer {
                balance: BalanceUpdate {
                    points: Some(dec!(-1)),
                    ..Default::default()
                },
                ..UpsertCustomer::new(Customer {
                    name: Some("x".into()),
                    ..Customer::new(phone(1))
                })
            })
            .await
            .map(drop),
        raw.cards()
            .update_card(UpdateCard {
                card: card.clone(),
                fields: too_many,
                balance: Default::default(),
                notification: None,
            })
            .await
            .map(drop),
        raw.cards()
            .update_card(UpdateCard {
                card: card.clone(),
                fields: Fields::from([("a".into(), "b".into())]),
                balance: Default::default(),
                notification: Some("   ".into()),
            })
            .await
            .map(drop),
        raw.cards()
            .send_install_link(SendInstallLink {
                card: card.clone(),
                delivery: LinkDelivery::Email { email: None },
            })
            .await,
        raw.balances()
            .set_balance(SetBalance {
                customer: phone(1).into(),
                update: BalanceUpdate::default(),
            })
            .await
            .map(drop),
        raw.balances()
            .credit(credit(1, dec!(6), "t"))
            .await
            .map(drop),
        raw.balances()
            .credit(credit(2, dec!(5), "t"))
            .await
            .map(drop),
        raw.customers()
            .list_customers(ListCustomers {
                cursor: Some(PageCursor("x".into())),
                ..Default::default()
            })
            .await
            .map(drop),
        raw.templates()
            .create_template(CreateTemplate {
                template: Template {
                    id: None,
                    name: "dup".into(),
                    layout: None,
                    fields: vec![field("A"), field("A")],
                    settings: Default::default(),
                },
            })
            .await
            .map(drop),
        raw.push()
            .send_campaign(SendCampaign {
                id: CampaignId::new("nope").unwrap(),
            })
            .await
            .map(drop),
    ];
    use ErrorKind::{Conflict, InvalidInput, NotFound};
    let expected = [
        NotFound,
        InvalidInput,
        Conflict,
        InvalidInput,
        InvalidInput,
        InvalidInput,
        InvalidInput,
        InvalidInput,
        InvalidInput,
        Conflict,
        Conflict,
        InvalidInput,
        InvalidInput,
        NotFound,
    ];
    assert_eq!(errors.len(), expected.len());
    for (i, (result, kind)) in errors.into_iter().zip(expected).enumerate() {
        match result {
            Ok(()) => panic!("operation #{i} succeeded"),
            Err(e) => assert_eq!(e.kind(), kind, "operation #{i}: {e}"),
        }
    }
    assert_eq!(
        memory.snapshot(),
        before,
        "a rejected operation changed the state"
    );
}

async fn add_id(provider: &dyn Provider, n: u32) -> Option<CustomerId> {
    provider
        .customers()
        .get_customer(GetCustomer::new(phone(n)))
        .await
        .unwrap()
        .customer
        .id
}

#[tokio::test]
async fn cards_and_ids_are_deterministic() {
    let config = MemoryConfig {
        card_number_start: Some(500),
        ..Default::default()
    };
    let provider = MemoryProvider::open(&config).unwrap();
    let first = add(&provider, 1).await;
    let second = add(&provider, 2).await;
    let card = &first.cards[0];
    assert_eq!(card.number.as_deref(), Some("500"));
    assert_eq!(card.id.as_ref().map(CardId::as_str), Some("card-500"));
    assert_eq!(
        card.links.apple.as_deref(),
        Some(&*format!("{LINK_BASE}/apple/500.pkpass"))
    );
    assert_eq!(
        card.links.google.as_deref(),
        Some(&*format!("{LINK_BASE}/google/500"))
    );
    assert_eq!(
        card.template.as_ref().map(TemplateId::as_str),
        Some("default")
    );
    assert_eq!(second.cards[0].number.as_deref(), Some("501"));
    assert_eq!(
        first.customer.id.as_ref().map(CustomerId::as_str),
        Some("memory-1")
    );
    assert_eq!(
        first
            .customer
            .provider_ids
            .get("memory")
            .map(String::as_str),
        Some("card-500")
    );

    // A second upsert patches and keeps the same card and id.
    let again = upsert_customer(
        &provider,
        Customer {
            name: Some("Eva".into()),
            ..Customer::new(phone(1))
        },
    )
    .await;
    assert_eq!(again.cards, first.cards);
    assert_eq!(again.customer.id, first.customer.id);

    // Issuing for the same template returns the same card; another template adds one.
    let same = provider
        .cards()
        .issue_card(IssueCard::new(Customer::new(phone(1))))
        .await
        .unwrap();
    assert_eq!(same.id, card.id);
    let gold = provider
        .templates()
        .create_template(CreateTemplate {
            template: Template {
                id: None,
                name: "Gold".into(),
                layout: None,
                fields: vec![],
                settings: Default::default(),
            },
        })
        .await
        .unwrap();
    let other = provider
        .cards()
        .issue_card(IssueCard {
            template: gold.id.clone(),
            ..IssueCard::new(Customer::new(phone(1)))
        })
        .await
        .unwrap();
    assert_eq!(other.number.as_deref(), Some("502"));
    let record = provider
        .customers()
        .get_customer(GetCustomer::new(phone(1)))
        .await
        .unwrap();
    assert_eq!(record.cards.len(), 2);
}

#[tokio::test]
async fn listing_filters_and_stable_cursors() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2025, 1, 10, 9, 0, 0).unwrap(),
    ));
    let provider = memory().with_clock(clock.clone());
    for n in 1..=3 {
        add(&provider, n).await;
        clock.advance(TimeDelta::days(1));
    }
    provider
        .set_installed(
            &CardKey::Phone(phone(2)),
            Installed {
                apple: true,
                google: false,
            },
        )
        .unwrap();
    let list = |input: ListCustomers| {
        let provider = &provider;
        async move {
            let page = provider.customers().list_customers(input).await.unwrap();
            (
                page.items
                    .into_iter()
                    .map(|r| r.customer.phone)
                    .collect::<Vec<_>>(),
                page.next,
                page.total,
            )
        }
    };
    let (items, _, _) = list(ListCustomers {
        installed: Some(true),
        ..Default::default()
    })
    .await;
    assert_eq!(items, vec![phone(2)]);
    let (items, _, _) = list(ListCustomers {
        installed: Some(false),
        ..Default::default()
    })
    .await;
    assert_eq!(items, vec![phone(1), phone(3)]);
    let from = chrono::NaiveDate::from_ymd_opt(2025, 1, 11);
    let (items, _, _) = list(ListCustomers {
        registered_from: from,
        ..Default::default()
    })
    .await;
    assert_eq!(items, vec![phone(2), phone(3)]);
    let to = from.and_then(|d| d.and_hms_opt(9, 0, 0));
    let (items, _, _) = list(ListCustomers {
        registered_to: to,
        ..Default::default()
    })
    .await;
    assert_eq!(items, vec![phone(1), phone(2)]);

    // Deleting a customer between pages neither skips nor repeats anyone.
    let (items, next, total) = list(ListCustomers {
        page_size: Some(1),
        ..Default::default()
    })
    .await;
    assert_eq!((items, total), (vec![phone(1)], Some(3)));
    provider
        .customers()
        .delete_customer(DeleteCustomer {
            key: phone(1).into(),
        })
        .await
        .unwrap();
    let (items, next, _) = list(ListCustomers {
        page_size: Some(1),
        cursor: next,
        ..Default::default()
    })
    .await;
    assert_eq!(items, vec![phone(2)]);
    let (items, next, _) = list(ListCustomers {
        page_size: Some(1),
        cursor: next,
        ..Default::default()
    })
    .await;
    assert_eq!((items, next), (vec![phone(3)], None));
}

#[tokio::test]
async fn deleting_forgets_cards_and_transactions() {
    let provider = memory();
    let card = add(&provider, 1).await.cards[0].clone();
    let credit = || CreditBalance {
        customer: phone(1).into(),
        credit: Credit::new(
            dec!(5),
            TransactionId::new("t").unwrap(),
            Some(Duration::from_secs(9)),
        )
        .unwrap(),
    };
    provider.balances().credit(credit()).await.unwrap();
    provider
        .customers()
        .delete_customer(DeleteCustomer {
            key: CustomerKey::Card(card.id.clone().unwrap()),
        })
        .await
        .unwrap();
    let err = provider
        .cards()
        .get_card(GetCard {
            card: CardKey::Id(card.id.unwrap()),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    add(&provider, 1).await;
    assert!(provider.balances().credit(credit()).await.unwrap().applied);
}
