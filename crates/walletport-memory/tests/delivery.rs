//! The memory provider's deliveries (outbox), campaigns, templates and status.

use walletport_core::*;
use walletport_memory::{MemoryConfig, MemoryProvider, OutboxEntry, SEGMENT_FIELD};

mod common;
use common::*;

#[tokio::test]
async fn deliveries_are_recorded_in_the_outbox() {
    let provider = memory();
    let record = upsert_customer(
        &provider,
        Customer {
            email: Some("eva@example.com".into()),
            ..Customer::new(phone(1))
        },
    )
    .await;
    let card = CardKey::Number(record.cards[0].number.clone().unwrap());
    let link = record.cards[0].links.page.clone().unwrap();
    let send = |delivery| {
        provider.cards().send_install_link(SendInstallLink {
            card: card.clone(),
            delivery,
        })
    };
    send(LinkDelivery::Sms {
        phone: None,
        text: Some("Get it: %link%".into()),
    })
    .await
    .unwrap();
    send(LinkDelivery::Email { email: None }).await.unwrap();
    for channel in [Channel::Wallet, Channel::Telegram] {
        let message = PushMessage::new(format!("hi on {channel:?}"), channel).unwrap();
        Provider::push(&provider)
            .push(SendPush {
                customer: phone(1).into(),
                message,
            })
            .await
            .unwrap();
    }
    let outbox = provider.outbox();
    assert!(
        matches!(&outbox[0], OutboxEntry::InstallLink { via, to, text: Some(text), .. }
        if via == "sms" && to == phone(1).as_str() && *text == format!("Get it: {link}"))
    );
    assert!(
        matches!(&outbox[1], OutboxEntry::InstallLink { via, to, .. } if via == "email" && to == "eva@example.com")
    );
    assert_eq!(provider.pushes(Channel::Telegram).len(), 1);
    assert_eq!(provider.pushes(Channel::Wallet).len(), 1);
    assert!(provider.pushes(Channel::Webpush).is_empty());

    provider
        .cards()
        .set_card_status(SetCardStatus {
            card: card.clone(),
            status: CardStatus::Voided,
        })
        .await
        .unwrap();
    let err = send(LinkDelivery::Sms {
        phone: None,
        text: None,
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
}

#[tokio::test]
async fn campaigns_send_once_to_their_segment() {
    let provider = memory();
    add(&provider, 1).await;
    for n in [2, 3] {
        let extra = Fields::from([(SEGMENT_FIELD.to_owned(), "vip".to_owned())]);
        upsert_customer(
            &provider,
            Customer {
                extra,
                ..Customer::new(phone(n))
            },
        )
        .await;
    }
    let create = |segment: Option<&str>| {
        let campaign = Campaign {
            message: "Sale".into(),
            channel: Channel::Wallet,
            name: None,
            segment: segment.map(|s| SegmentId::new(s).unwrap()),
        };
        Provider::push(&provider).create_campaign(CreateCampaign { campaign })
    };
    let everyone = create(None).await.unwrap();
    let vip = create(Some("vip")).await.unwrap();
    assert_ne!(everyone.id, vip.id);
    let sent = Provider::push(&provider)
        .send_campaign(SendCampaign {
            id: everyone.id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(sent.recipients, Some(3));
    assert!(sent.sent_at.is_some());
    let sent = Provider::push(&provider)
        .send_campaign(SendCampaign { id: vip.id })
        .await
        .unwrap();
    assert_eq!(sent.recipients, Some(2));
    let err = Provider::push(&provider)
        .send_campaign(SendCampaign { id: everyone.id })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
}

#[tokio::test]
async fn templates_are_seeded_created_updated_and_paged() {
    let config = MemoryConfig {
        default_template: Some(tid("base")),
        ..Default::default()
    };
    let provider = MemoryProvider::open(&config).unwrap();
    let base = provider
        .templates()
        .get_template(GetTemplate { id: tid("base") })
        .await
        .unwrap();
    assert!(base.fields.iter().any(|f| f.name == "PHONE"));
    let mut ids = vec![tid("base")];
    for name in ["A", "B", "C"] {
        let t = provider
            .templates()
            .create_template(CreateTemplate {
                template: Template {
                    id: Some(tid("ignored")),
                    name: name.into(),
                    layout: None,
                    fields: vec![field("X")],
                    settings: Default::default(),
                },
            })
            .await
            .unwrap();
        ids.push(t.id.unwrap());
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = provider
            .templates()
            .list_templates(ListTemplates {
                cursor: cursor.clone(),
                page_size: Some(3),
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().map(|t| t.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);
    let updated = Template {
        name: "Renamed".into(),
        ..base
    };
    provider
        .templates()
        .update_template(UpdateTemplate {
            template: updated.clone(),
        })
        .await
        .unwrap();
    let got = provider
        .templates()
        .get_template(GetTemplate { id: tid("base") })
        .await
        .unwrap();
    assert_eq!(got, updated);
    let ghost = Template {
        id: Some(tid("ghost")),
        ..updated
    };
    let err = provider
        .templates()
        .update_template(UpdateTemplate { template: ghost })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn status_and_capability() {
    let provider = memory();
    assert_eq!(provider.status().await.unwrap().account, "memory");
    let capability = provider.capability();
    assert!(capability.flags().iter().all(|(_, on)| *on));
    assert_eq!(
        capability.max_page_size,
        Some(walletport_memory::MAX_PAGE_SIZE)
    );
    assert_eq!(provider.info().name, "memory");
}
