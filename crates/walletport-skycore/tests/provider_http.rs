//! The Skycore provider against the emulator over real HTTP: what the conformance suite cannot
//! see (Skycore-specific shapes, retries, pushes, layouts, issuance links).

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use walletport_core::{
    Balance, BalanceUpdate, CardKey, CardStatus, Channel, CreateTemplate, Customer, CustomerId,
    CustomerKey, ErrorKind, Fields, GetBalance, GetTemplate, IssueCard, Percent, Phone, Provider,
    ProviderExt, PushMessage, Result, SendPush, SetBalance, SetCardStatus, Template, TemplateField,
    TemplateId, UpdateCard, UpdateTemplate,
};
use walletport_sandbox::RunningServer;
use walletport_sandbox::skycore::{Layout as EmuLayout, SkycoreEmulator, SkycoreEmulatorConfig};
use walletport_skycore::{
    Checksum, ChecksumScope, IssuanceLink, Layout, LinkEncryption, LinkExpiry, LinkProtection,
    LinkStatus, PassVariable, SkycoreConfig, SkycoreProvider,
};

#[path = "support/emulated.rs"]
mod emulated;
use emulated::{card_of, keyed_by_customer_id, links_to_the_pass_page, losing_generate_answers};

/// The shared emulator set-up, with the custom field `tier` these tests map.
async fn emulator(
    config: SkycoreEmulatorConfig,
) -> (RunningServer, SkycoreEmulator, SkycoreConfig) {
    let (server, emu, mut config) = emulated::emulator(config).await;
    config.fields.insert("tier".into(), "custom-field-1".into());
    (server, emu, config)
}

fn phone(n: u32) -> Phone {
    Phone::parse(&format!("+42077700{n:04}")).expect("phone")
}

fn customer(n: u32) -> Customer {
    Customer {
        name: Some("Jana".into()),
        surname: Some("Nováková".into()),
        email: Some("jana@example.com".into()),
        id: CustomerId::new(format!("C{n}")).ok(),
        ..Customer::new(phone(n))
    }
}

#[tokio::test]
async fn issue_maps_the_customer_and_reads_back_by_id_number_and_phone() -> Result<()> {
    let (_server, emu, config) = emulator(SkycoreEmulatorConfig::default()).await;
    let provider = SkycoreProvider::new(config)?;
    let mut input = IssueCard::new(customer(1));
    input.fields = Fields::from([
        ("tier".into(), "Gold".into()),
        ("message4".into(), "Hi".into()),
    ]);
    input.balance = BalanceUpdate {
        points: Some(Decimal::new(15025, 2)),
        ..Default::default()
    };
    let card = provider.cards().issue_card(input).await?;
    assert_eq!(card.id.as_ref().map(|i| i.as_str()), Some("420777000001"));
    assert_eq!(
        card.number.as_deref(),
        Some("420777000001"),
        "the barcode defaults to the pass-id"
    );
    assert!(links_to_the_pass_page(&card));
    assert_eq!(card.fields.get("tier").map(String::as_str), Some("Gold"));
    let sent = emu.pass_data("420777000001").expect("stored");
    assert_eq!(sent["account-name"], "Jana Nováková");
    assert_eq!(sent["account-id"], "C1");
    assert_eq!(sent["loyalty-points"], "150.25");
    assert_eq!(sent["custom-field-1"], "Gold");
    let (meta, _) = emu.pass_meta("420777000001").expect("meta");
    assert_eq!(
        meta,
        serde_json::json!({"user-email": "jana@example.com", "user-phone": "420777000001"})
    );

    for key in [
        CardKey::Id(card.id.clone().expect("id")),
        CardKey::Number("420777000001".into()),
        CardKey::Phone(phone(1)),
    ] {
        let got = card_of(&provider, key.clone()).await?;
        assert_eq!(
            (got.id.clone(), got.number.clone()),
            (card.id.clone(), card.number.clone()),
            "{key:?}"
        );
        assert_eq!(got.status, CardStatus::Active);
        assert_eq!(got.fields.get("tier").map(String::as_str), Some("Gold"));
        assert_eq!(got.fields.get("message4").map(String::as_str), Some("Hi"));
    }
    let record = provider.customer_by_phone(&phone(1)).await?;
    assert_eq!(record.customer.name.as_deref(), Some("Jana Nováková"));
    assert_eq!(record.customer.id.as_ref().map(|i| i.as_str()), Some("C1"));
    assert_eq!(
        record.balance.map(|b| b.points.to_string()).as_deref(),
        Some("150.25")
    );
    Ok(())
}

#[tokio::test]
async fn a_retried_generatepass_reads_the_created_pass_back() -> Result<()> {
    let (_server, emu, config) = emulator(SkycoreEmulatorConfig::default()).await;
    let provider = losing_generate_answers(config, true)?;
    let card = provider
        .cards()
        .issue_card(IssueCard::new(customer(2)))
        .await?;
    assert_eq!(card.id.as_ref().map(|i| i.as_str()), Some("420777000002"));
    let actions: Vec<String> = emu.requests().into_iter().map(|r| r.action).collect();
    assert_eq!(actions, ["generatepass", "generatepass", "getpassdata"]);
    assert_eq!(emu.pass_ids(), ["420777000002"]);
    Ok(())
}

#[tokio::test]
async fn updates_status_balance_and_single_card_push() -> Result<()> {
    let (_server, emu, config) = emulator(SkycoreEmulatorConfig::default()).await;
    let provider = SkycoreProvider::new(config)?;
    provider
        .cards()
        .issue_card(IssueCard::new(customer(3)))
        .await?;
    let key = CardKey::Phone(phone(3));
    let updated = provider
        .cards()
        .update_card(UpdateCard {
            card: key.clone(),
            fields: Fields::from([("tier".into(), "Silver".into())]),
            balance: BalanceUpdate::default(),
            notification: Some("You are Silver now".into()),
        })
        .await?;
    assert_eq!(
        updated.fields.get("tier").map(String::as_str),
        Some("Silver")
    );
    for status in [CardStatus::Redeemed, CardStatus::Voided, CardStatus::Active] {
        let card = provider
            .cards()
            .set_card_status(SetCardStatus {
                card: key.clone(),
                status,
            })
            .await?;
        assert_eq!(card.status, status);
    }
    let want = Balance {
        points: Decimal::new(4200, 2),
        bonus_percent: Percent::new(Decimal::new(75, 1))?,
        discount_percent: Percent::default(),
    };
    let set = provider
        .balances()
        .set_balance(SetBalance {
            customer: phone(3).into(),
            update: BalanceUpdate {
                discount_percent: None,
                ..want.into()
            },
        })
        .await?;
    assert_eq!(set, want);
    assert_eq!(provider.balance_of(&phone(3)).await?, want);
    let discount = BalanceUpdate {
        discount_percent: Some(Percent::new(Decimal::ONE)?),
        ..Default::default()
    };
    let err = provider
        .balances()
        .set_balance(SetBalance {
            customer: phone(3).into(),
            update: discount,
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);

    let receipt = provider
        .push()
        .push(SendPush {
            customer: phone(3).into(),
            message: PushMessage::new("Double points today", Channel::Wallet)?,
        })
        .await?;
    assert!(receipt.accepted);
    let pushed: Vec<String> = emu.notifications().into_iter().map(|n| n.message).collect();
    assert_eq!(pushed, ["You are Silver now", "Double points today"]);
    Ok(())
}

#[tokio::test]
async fn invalid_input_sends_nothing_and_vendor_errors_keep_their_codes() -> Result<()> {
    let (_server, emu, mut config) = emulator(SkycoreEmulatorConfig::default()).await;
    config.template_id = "sandbox-layout-1".into();
    config.layout = Layout::One;
    config.fields.clear();
    let provider = SkycoreProvider::new(config.clone())?;
    let mut input = IssueCard::new(customer(4));
    input.fields = Fields::from([("custom-field-2".into(), "x".into())]);
    let err = provider.cards().issue_card(input).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.message().contains("custom-field-2"), "{err}");
    let mut input = IssueCard::new(customer(4));
    input.fields = Fields::from([("nickname".into(), "x".into())]);
    assert!(
        provider
            .cards()
            .issue_card(input)
            .await
            .unwrap_err()
            .message()
            .contains("nickname")
    );
    assert!(emu.requests().is_empty(), "nothing reached Skycore");

    let err = card_of(&provider, CardKey::Phone(phone(99)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.vendor().and_then(|v| v.code.as_deref()), Some("E808"));
    let err = provider
        .templates()
        .get_template(GetTemplate {
            id: TemplateId::new("nope")?,
        })
        .await
        .unwrap_err();
    assert_eq!(err.vendor().and_then(|v| v.code.as_deref()), Some("E802"));

    let wrong_key = SkycoreProvider::new(SkycoreConfig::new(
        config.endpoint.clone(),
        "WRONG",
        "sandbox-layout-1",
    ))?;
    let err = card_of(&wrong_key, CardKey::Phone(phone(1)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    Ok(())
}

#[tokio::test]
async fn customer_id_strategy_keys_passes_by_customer_id() -> Result<()> {
    let (_server, emu, config) = emulator(SkycoreEmulatorConfig::default()).await;
    let provider = keyed_by_customer_id(config)?;
    assert!(!provider.capability().customer_get_by_phone);
    let card = provider
        .cards()
        .issue_card(IssueCard::new(customer(5)))
        .await?;
    assert_eq!(card.id.as_ref().map(|i| i.as_str()), Some("C5"));
    assert_eq!(emu.pass_ids(), ["C5"]);
    let balance = provider
        .balances()
        .get_balance(GetBalance {
            customer: CustomerKey::Id(CustomerId::new("C5")?),
        })
        .await?;
    assert!(balance.points.is_zero());
    let err = provider.balance_of(&phone(5)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let err = provider
        .cards()
        .issue_card(IssueCard::new(Customer::new(phone(6))))
        .await
        .unwrap_err();
    assert!(err.message().contains("customer.id"), "{err}");
    Ok(())
}

#[tokio::test]
async fn layout_2_templates_and_issuance_links() -> Result<()> {
    let (_server, emu, mut config) = emulator(SkycoreEmulatorConfig {
        alternate_keys: true,
        ..Default::default()
    })
    .await;
    config.template_defaults = serde_json::json!({
        "appearance": {"program-logo": "https://x.invalid/l.png", "program-logo-gpay": "https://x.invalid/g.png",
                       "card-issuer": "Shop", "background-color": "#112233"},
        "apple-wallet-fields": {"text-color": "", "description": "d"},
        "barcode-fields": {"barcode-type": "QRCODE"}
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    let provider = SkycoreProvider::new(config)?;
    let mut settings = serde_json::Map::new();
    settings.insert(
        "universal-fields".into(),
        serde_json::json!({"program-name": "Club", "dynamic-pass-field-1": "custom-field-1", "dynamic-pass-field-2": "loyalty-points"}),
    );
    let template = Template {
        id: None,
        name: "Club card".into(),
        layout: Some("loyalty-card-type2".into()),
        fields: vec![TemplateField {
            name: "tier".into(),
            title: Some("Tier".into()),
            kind: Default::default(),
            required: false,
            unique: false,
        }],
        settings,
    };
    let created = provider
        .templates()
        .create_template(CreateTemplate { template })
        .await?;
    let id = created.id.clone().expect("id");
    assert!(
        emu.templates()
            .contains(&(id.as_str().to_owned(), EmuLayout::Two))
    );
    let got = provider
        .templates()
        .get_template(GetTemplate { id: id.clone() })
        .await?;
    assert_eq!(got.name, "Club card");
    assert_eq!(got.layout.as_deref(), Some("loyalty-card-type2"));
    assert!(
        got.fields
            .iter()
            .any(|f| f.name == "tier" && f.title.as_deref() == Some("Tier")),
        "{got:?}"
    );
    assert_eq!(
        got.settings["appearance"]["card-issuer"], "Shop",
        "key set B folded back"
    );
    let renamed = Template {
        name: "Club card 2".into(),
        ..got
    };
    provider
        .templates()
        .update_template(UpdateTemplate { template: renamed })
        .await?;
    assert_eq!(
        provider
            .templates()
            .get_template(GetTemplate { id: id.clone() })
            .await?
            .name,
        "Club card 2"
    );
    let bad = Template {
        id: Some(id.clone()),
        name: "x".into(),
        layout: None,
        fields: vec![],
        settings: serde_json::json!({"appearance": {"background-color": "blue"}})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    };
    let err = provider
        .templates()
        .update_template(UpdateTemplate { template: bad })
        .await
        .unwrap_err();
    assert!(err.message().contains("background-color"), "{err}");

    let variables = BTreeMap::from([
        (
            "pass-id".to_owned(),
            PassVariable {
                required: true,
                encrypted: false,
            },
        ),
        (
            "loyalty-points-value".to_owned(),
            PassVariable {
                required: true,
                encrypted: true,
            },
        ),
    ]);
    let mut link = IssuanceLink::new("Spring signup", id.as_str(), variables);
    link.status = Some(LinkStatus::Active);
    link.expires = Some(LinkExpiry {
        at: Utc
            .with_ymd_and_hms(2030, 10, 23, 10, 0, 0)
            .single()
            .expect("date"),
        time_zone: "America/New_York".into(),
    });
    link.encryption = Some(LinkEncryption {
        secret_key: "dNJWdAIchrX7OQflNEk1quq3CvjngmXj".to_owned().into(),
        iv: "wbJWPb9KLbxo6xpk".to_owned().into(),
    });
    link.protection = Some(LinkProtection {
        checksum: Checksum::Sha256,
        applied: ChecksumScope::FullLink,
    });
    let info = provider.create_issuance_link(&link).await?;
    assert!(
        info.preview_url
            .contains("loyalty-points-value=Encrypted({ Parameter Value })"),
        "{info:?}"
    );
    link.status = Some(LinkStatus::Inactive);
    link.generation_limit = Some(500);
    let updated = provider.update_issuance_link(&info.id, &link).await?;
    assert_eq!(updated.id, info.id);
    let (stored, _) = emu.issuance_link(&info.id).expect("stored");
    assert_eq!(stored["link-status"], "INACTIVE");
    assert_eq!(stored["link-generation-limit"], 500);
    link.encryption = Some(LinkEncryption {
        secret_key: "short".to_owned().into(),
        iv: "wbJWPb9KLbxo6xpk".to_owned().into(),
    });
    let err = provider
        .update_issuance_link(&info.id, &link)
        .await
        .unwrap_err();
    assert!(
        err.message().contains("secret-key") && !err.to_string().contains("short"),
        "{err}"
    );
    let err = provider
        .update_issuance_link(
            "no-such-link",
            &IssuanceLink::new(
                "x",
                id.as_str(),
                BTreeMap::from([("pass-id".to_owned(), PassVariable::default())]),
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(err.vendor().and_then(|v| v.code.as_deref()), Some("E1544"));
    Ok(())
}
