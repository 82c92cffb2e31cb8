//! The Skycore provider against the emulator over real HTTP, for what issues 11 and 12 asked:
//! customers as passes, the start-up check, retry safety of pushes, points as text, the
//! template recorded per pass and `reference-data` from the issue input.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rust_decimal::Decimal;
use walletport_core::{
    Balance, BalanceFields, BalanceUpdate, CardId, CardKey, Channel, Customer, CustomerId,
    CustomerKey, ErrorKind, Fields, GetBalance, IssueCard, Percent, Phone, Provider, ProviderExt,
    PushMessage, Result, SendPush, SetBalance, TemplateId, UpdateCard, UpsertCustomer,
};
use walletport_http::{HttpRequest, HttpResponse, HttpTransport, Transport};
use walletport_sandbox::common::Faults;
use walletport_sandbox::skycore::{SkycoreEmulator, SkycoreEmulatorConfig};
use walletport_skycore::{SkycoreConfig, SkycoreProvider};

#[path = "support/emulated.rs"]
mod emulated;
use emulated::{
    card_of, emulator, keyed_by_customer_id, links_to_the_pass_page, losing_generate_answers,
};

fn phone(n: u32) -> Phone {
    Phone::parse(&format!("+42077711{n:04}")).expect("phone")
}

fn digits(n: u32) -> String {
    phone(n).digits().to_owned()
}

fn balance(points: i64, bonus: i64) -> Balance {
    Balance {
        points: Decimal::new(points, 0),
        bonus_percent: Percent::new(Decimal::new(bonus, 0)).expect("percent"),
        discount_percent: Percent::default(),
    }
}

/// A balance set that changes only the points of `customer`.
fn set_points(customer: impl Into<CustomerKey>, points: Decimal) -> SetBalance {
    SetBalance {
        customer: customer.into(),
        update: BalanceUpdate {
            points: Some(points),
            ..BalanceUpdate::default()
        },
    }
}

fn upsert(n: u32, points: i64, bonus: i64) -> UpsertCustomer {
    UpsertCustomer {
        balance: BalanceUpdate {
            discount_percent: None,
            ..balance(points, bonus).into()
        },
        ..UpsertCustomer::new(Customer {
            name: Some("Jana".into()),
            email: Some("jana@example.com".into()),
            id: CustomerId::new(format!("C{n}")).ok(),
            ..Customer::new(phone(n))
        })
    }
}

fn actions(emu: &SkycoreEmulator) -> Vec<String> {
    emu.requests().into_iter().map(|r| r.action).collect()
}

/// Records whether each request went out marked idempotent (the transport retries only those).
#[derive(Debug)]
struct Recording {
    inner: HttpTransport,
    marks: Mutex<Vec<(String, bool)>>,
}

impl Recording {
    fn marks(&self) -> Vec<(String, bool)> {
        self.marks.lock().expect("lock").clone()
    }
}

#[async_trait]
impl Transport for Recording {
    async fn execute(&self, req: HttpRequest) -> Result<HttpResponse> {
        let body: serde_json::Value = req.body_json()?;
        let action = body["action"].as_str().unwrap_or_default().to_owned();
        self.marks
            .lock()
            .expect("lock")
            .push((action, req.idempotent));
        self.inner.execute(req).await
    }
}

#[tokio::test]
async fn an_upsert_generates_a_new_pass_and_updates_an_existing_one_in_one_request() -> Result<()> {
    let (_server, emu, config) = emulator(SkycoreEmulatorConfig::default()).await;
    let provider = SkycoreProvider::new(config)?;
    assert!(provider.capability().customer_upsert);
    assert_eq!(
        provider.balance_fields(),
        BalanceFields {
            discount_percent: false,
            ..BalanceFields::ALL
        }
    );
    let created = provider
        .customers()
        .upsert_customer(upsert(1, 10, 5))
        .await?;
    assert_eq!(actions(&emu), ["updatepassdata", "generatepass"]);
    let card = &created.cards[0];
    assert_eq!(
        card.id.as_ref().map(|i| i.as_str()),
        Some(digits(1).as_str())
    );
    assert!(links_to_the_pass_page(card));
    let stored = emu.pass_data(&digits(1)).expect("generated");
    assert_eq!(stored["account-name"], "Jana");
    assert_eq!(stored["loyalty-points"], "10");
    assert_eq!(stored["secondary-loyalty-points"], "5");
    assert_eq!(stored["barcode-value"], digits(1).as_str());
    let (meta, _) = emu.pass_meta(&digits(1)).expect("meta");
    assert_eq!(meta["user-phone"], digits(1).as_str());
    assert_eq!(meta["user-email"], "jana@example.com");

    let before = emu.requests().len();
    let updated = provider
        .customers()
        .upsert_customer(upsert(1, 42, 7))
        .await?;
    assert_eq!(actions(&emu)[before..], ["updatepassdata"], "one request");
    assert_eq!(updated.balance, Some(balance(42, 7)));

    let got = provider.customer_by_phone(&phone(1)).await?;
    assert_eq!(got.balance, Some(balance(42, 7)));
    let read = provider.balance_of(&phone(1)).await?;
    assert_eq!(read, balance(42, 7));

    let mut with_discount = upsert(1, 1, 1);
    with_discount.balance.discount_percent = Some(Percent::new(Decimal::ONE)?);
    let err = provider
        .customers()
        .upsert_customer(with_discount)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    Ok(())
}

#[tokio::test]
async fn an_upsert_keyed_by_customer_id_keeps_the_phone_as_meta() -> Result<()> {
    let (_server, emu, config) = emulator(SkycoreEmulatorConfig::default()).await;
    let provider = keyed_by_customer_id(config)?;
    provider
        .customers()
        .upsert_customer(upsert(2, 3, 4))
        .await?;
    provider
        .customers()
        .upsert_customer(upsert(2, 8, 4))
        .await?;
    assert_eq!(emu.pass_ids(), ["C2"]);
    let (meta, _) = emu.pass_meta("C2").expect("meta");
    assert_eq!(meta["user-phone"], digits(2).as_str());
    let card = card_of(&provider, CardKey::Id(CardId::new("C2")?)).await?;
    assert_eq!(card.number.as_deref(), Some("C2"));
    let read = provider
        .balances()
        .get_balance(GetBalance {
            customer: CustomerKey::Id(CustomerId::new("C2")?),
        })
        .await?;
    assert_eq!(read, balance(8, 4));
    Ok(())
}

#[tokio::test]
async fn an_upsert_whose_generate_meets_its_own_pass_updates_it() -> Result<()> {
    let (_server, emu, config) = emulator(SkycoreEmulatorConfig::default()).await;
    let provider = losing_generate_answers(config, false)?;
    provider
        .customers()
        .upsert_customer(upsert(3, 9, 1))
        .await?;
    assert_eq!(
        actions(&emu),
        [
            "updatepassdata",
            "generatepass",
            "generatepass",
            "updatepassdata"
        ]
    );
    assert_eq!(emu.pass_ids(), [digits(3)]);
    Ok(())
}

#[tokio::test]
async fn the_check_reads_the_configured_template_once_and_names_the_key_to_fix() -> Result<()> {
    let (server, emu, config) = emulator(SkycoreEmulatorConfig::default()).await;
    let check = SkycoreProvider::new(config.clone())?.check().await?;
    assert_eq!(check.requests, 1);
    assert_eq!(actions(&emu), ["getpasstemplate"]);

    let mut missing = config.clone();
    missing.template_id = "nosuchtemplate".into();
    let err = SkycoreProvider::new(missing)?.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert!(err.message().contains("[provider] template_id"), "{err}");

    let bad_key = SkycoreConfig {
        api_key: "wrong-key".to_owned().into(),
        ..config.clone()
    };
    let err = SkycoreProvider::new(bad_key)?.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(err.message().contains("[provider] api_key"), "{err}");

    drop(server);
    let mut gone = config;
    gone.max_attempts = 1;
    let err = SkycoreProvider::new(gone)?.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::VendorUnavailable, "{err}");
    Ok(())
}

#[tokio::test]
async fn a_push_is_never_sent_twice_and_a_plain_update_may_be() -> Result<()> {
    let (_server, emu, config) = emulator(SkycoreEmulatorConfig::default()).await;
    let recording = Arc::new(Recording {
        inner: HttpTransport::new(config.transport_config()?)?,
        marks: Mutex::default(),
    });
    let provider = SkycoreProvider::with_transport(config, recording.clone())?;
    provider
        .customers()
        .upsert_customer(upsert(4, 1, 1))
        .await?;

    emu.fail_after_processing("updatepassdata", 1);
    let err = provider
        .push()
        .push(SendPush {
            customer: phone(4).into(),
            message: PushMessage::new("Double points", Channel::Wallet)?,
        })
        .await
        .unwrap_err();
    assert_eq!(err.vendor().and_then(|v| v.code.as_deref()), Some("E809"));
    assert!(
        !err.is_temporary(),
        "an ambiguous push failure must not be retried: {err:?}"
    );
    assert_eq!(emu.notifications().len(), 1);

    emu.fail_after_processing("updatepassdata", 1);
    let err = provider
        .balances()
        .set_balance(set_points(phone(4), Decimal::TEN))
        .await
        .unwrap_err();
    assert!(err.is_temporary(), "setting values again is safe: {err:?}");

    let marks = recording.marks();
    let push = marks
        .iter()
        .filter(|(a, i)| a == "updatepassdata" && !i)
        .count();
    assert_eq!(push, 1, "only the push goes out not idempotent: {marks:?}");
    assert!(
        marks
            .iter()
            .filter(|(a, _)| a != "updatepassdata")
            .all(|(_, i)| *i)
    );
    Ok(())
}

#[tokio::test]
async fn the_transport_retries_a_503_of_a_plain_update_but_not_of_a_push() -> Result<()> {
    let faults = Faults {
        unavailable_rate: 1.0,
        ..Faults::default()
    };
    let (_server, emu, mut config) = emulator(SkycoreEmulatorConfig {
        faults,
        ..SkycoreEmulatorConfig::default()
    })
    .await;
    config.max_attempts = 3;
    let provider = SkycoreProvider::new(config)?;
    let err = provider
        .cards()
        .update_card(UpdateCard {
            card: CardKey::Id(CardId::new("123")?),
            fields: Fields::new(),
            balance: BalanceUpdate::default(),
            notification: Some("Hello".into()),
        })
        .await
        .unwrap_err();
    assert_eq!(emu.faults_injected(), 1, "a push is sent once");
    assert!(!err.is_temporary(), "{err:?}");
    provider
        .balances()
        .set_balance(set_points(
            CustomerKey::Card(CardId::new("123")?),
            Decimal::ONE,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        emu.faults_injected(),
        4,
        "a plain update is tried max_attempts times"
    );
    Ok(())
}

#[tokio::test]
async fn points_with_special_characters_are_read_and_a_display_format_is_written() -> Result<()> {
    let (_server, emu, mut config) = emulator(SkycoreEmulatorConfig::default()).await;
    let pass = digits(5);
    emu.seed_pass(
        "sandbox-layout-2",
        &pass,
        serde_json::json!({"loyalty-points": "$3$", "secondary-loyalty-points": "$ 4 $"}),
    )
    .expect("seeded");
    config.points_format = Some("{points} pts".into());
    let provider = SkycoreProvider::new(config)?;
    // Points take the first number; `$ 4 $` is not a bonus the adapter writes, so 0 %.
    let read = provider.balance_of(&phone(5)).await?;
    assert_eq!(read, balance(3, 0));
    let card = card_of(&provider, CardKey::Phone(phone(5))).await?;
    assert_eq!(
        card.fields.get("loyalty-points").map(String::as_str),
        Some("$3$")
    );
    assert_eq!(
        card.fields
            .get("secondary-loyalty-points")
            .map(String::as_str),
        Some("$ 4 $")
    );
    let set = provider
        .balances()
        .set_balance(set_points(phone(5), Decimal::new(42, 0)))
        .await?;
    assert_eq!(set, balance(42, 0));
    assert_eq!(
        emu.pass_data(&pass).expect("stored")["loyalty-points"],
        "42 pts"
    );
    // Both values set: answered from what was written, one request.
    let before = emu.requests().len();
    let set = provider
        .balances()
        .set_balance(SetBalance {
            customer: phone(5).into(),
            update: BalanceUpdate {
                discount_percent: None,
                ..balance(50, 6).into()
            },
        })
        .await?;
    assert_eq!(set, balance(50, 6));
    assert_eq!(actions(&emu)[before..], ["updatepassdata"]);
    let read = provider.balance_of(&phone(5)).await?;
    assert_eq!(read, balance(50, 6));
    Ok(())
}

/// Passes made outside walletport use `secondary-loyalty-points` for other things (the vendor's
/// examples: `699`, a date labelled "Valid Until"): they read as a 0 % bonus, never fail a read,
/// and the card keeps the text; a bonus written with `bonus_format` reads back.
#[tokio::test]
async fn a_secondary_points_text_that_is_no_bonus_reads_as_zero_and_is_kept() -> Result<()> {
    let (_server, emu, mut config) = emulator(SkycoreEmulatorConfig::default()).await;
    for (n, text) in [(7, "699"), (8, "10-22-2020"), (9, "15")] {
        emu.seed_pass(
            "sandbox-layout-2",
            &digits(n),
            serde_json::json!({"loyalty-points": "8965", "secondary-loyalty-points": text}),
        )
        .expect("seeded");
    }
    let plain = SkycoreProvider::new(config.clone())?;
    for (n, text) in [(7, "699"), (8, "10-22-2020")] {
        assert_eq!(
            plain.balance_of(&phone(n)).await?,
            balance(8965, 0),
            "{text}"
        );
        let card = card_of(&plain, CardKey::Phone(phone(n))).await?;
        assert_eq!(
            card.fields
                .get("secondary-loyalty-points")
                .map(String::as_str),
            Some(text)
        );
    }
    assert_eq!(plain.balance_of(&phone(9)).await?, balance(8965, 15));
    let card = card_of(&plain, CardKey::Phone(phone(9))).await?;
    assert_eq!(card.fields.get("secondary-loyalty-points"), None);

    config.bonus_format = Some("{bonus}%".into());
    let formatted = SkycoreProvider::new(config)?;
    // A plain `15` is not what this config writes: no bonus, and the card keeps it.
    assert_eq!(formatted.balance_of(&phone(9)).await?, balance(8965, 0));
    let set = formatted
        .balances()
        .set_balance(SetBalance {
            customer: phone(7).into(),
            update: BalanceUpdate {
                bonus_percent: Some(Percent::new(Decimal::new(15, 0))?),
                ..BalanceUpdate::default()
            },
        })
        .await?;
    assert_eq!(set, balance(8965, 15));
    assert_eq!(
        emu.pass_data(&digits(7)).expect("stored")["secondary-loyalty-points"],
        "15%"
    );
    assert_eq!(formatted.balance_of(&phone(7)).await?, balance(8965, 15));
    Ok(())
}

#[tokio::test]
async fn a_pass_of_another_template_is_read_and_updated_in_its_own_template() -> Result<()> {
    let (_server, emu, config) = emulator(SkycoreEmulatorConfig::default()).await;
    let provider = SkycoreProvider::new(config.clone())?;
    let mut input = IssueCard::new(Customer::new(phone(6)));
    input.template = Some(TemplateId::new("sandbox-layout-1")?);
    input.fields = Fields::from([
        ("reference-data.transaction-id".into(), "96".into()),
        ("message4".into(), "Hi".into()),
    ]);
    let card = provider.cards().issue_card(input).await?;
    let (_, reference) = emu.pass_meta(&digits(6)).expect("stored");
    assert_eq!(reference["transaction-id"], "96");
    assert_eq!(card.fields.get("message4").map(String::as_str), Some("Hi"));
    let id = card.id.expect("an id");
    assert_eq!(id.as_str(), format!("{}@sandbox-layout-1", digits(6)));
    // A new process (no record of the pass) finds it by the card id, which names its template.
    let restarted = SkycoreProvider::new(config)?;
    let again = card_of(&restarted, CardKey::Id(id.clone())).await?;
    assert_eq!(again.id.as_ref(), Some(&id));
    let got = card_of(&provider, CardKey::Id(id.clone())).await?;
    assert_eq!(
        got.template.as_ref().map(|t| t.as_str()),
        Some("sandbox-layout-1")
    );
    provider
        .balances()
        .set_balance(set_points(phone(6), Decimal::TWO))
        .await?;
    let sent: Vec<String> = emu
        .requests()
        .into_iter()
        .filter(|r| r.action != "generatepass")
        .map(|r| {
            r.body["pass-template-id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(sent.iter().all(|t| t == "sandbox-layout-1"), "{sent:?}");
    Ok(())
}

/// `likely_new` (a new customer, a resync to Skycore): generate first, 1 request for a new pass;
/// a pass that existed after all is updated (2 requests), with the data the upsert carries.
#[tokio::test]
async fn a_likely_new_customer_is_generated_first() -> Result<()> {
    let (_server, emu, config) = emulator(SkycoreEmulatorConfig::default()).await;
    let provider = SkycoreProvider::new(config)?;
    let new = UpsertCustomer {
        likely_new: true,
        ..upsert(7, 10, 5)
    };
    let created = provider.customers().upsert_customer(new.clone()).await?;
    assert_eq!(
        actions(&emu),
        ["generatepass"],
        "one request for a new pass"
    );
    assert!(created.cards[0].links.page.is_some(), "the install page");
    let before = emu.requests().len();
    let again = UpsertCustomer {
        likely_new: true,
        ..upsert(7, 42, 7)
    };
    provider.customers().upsert_customer(again).await?;
    assert_eq!(
        actions(&emu)[before..],
        ["generatepass", "updatepassdata"],
        "a pass that existed after all is updated"
    );
    let stored = emu.pass_data(&digits(7)).expect("pass");
    assert_eq!(stored["loyalty-points"], "42");
    assert_eq!(stored["secondary-loyalty-points"], "7");
    Ok(())
}
