//! The adapter fitted to the merchant's configuration, over HTTP against the emulator: balance
//! values held per `[provider.fields]`, the start-up check, phones stored with or without `+`,
//! and date variables in the template's `dateStyle`.

use chrono::NaiveDate;
use rust_decimal_macros::dec;
use walletport_core::*;
use walletport_passteam::{FieldMap, PassteamConfig, PassteamProvider, PhoneLookup};
use walletport_sandbox::passteam::{
    PassteamEmulator, PassteamEmulatorConfig, TemplateSpec, VariableSpec,
};

const TEMPLATE: &str = "5e424c181dbf0d537c8b4569";

async fn emulator(
    config: PassteamEmulatorConfig,
) -> (walletport_sandbox::RunningServer, PassteamEmulator) {
    PassteamEmulator::spawn(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("emulator starts")
}

fn config(base_url: String, fields: FieldMap) -> PassteamConfig {
    let mut c = PassteamConfig::with_token("sandbox-token");
    c.base_url = base_url;
    c.template_id = Some(TEMPLATE.parse().expect("template id"));
    c.fields = fields;
    c
}

fn minimal() -> FieldMap {
    FieldMap {
        name: Some("CLIENT_NAME".into()),
        balance: Some("BONUS".into()),
        ..FieldMap::phone_only("PHONE")
    }
}

fn phone(n: u32) -> Phone {
    Phone::parse(&format!("+7999{n:07}")).expect("phone")
}

fn points(p: rust_decimal::Decimal) -> BalanceUpdate {
    BalanceUpdate {
        points: Some(p),
        ..BalanceUpdate::default()
    }
}

#[tokio::test]
async fn a_points_only_map_holds_points_and_refuses_percentages_by_key() {
    let (server, _emu) = emulator(PassteamEmulatorConfig::default()).await;
    let p = PassteamProvider::new(config(server.base_url(), minimal())).expect("provider");
    assert_eq!(
        Provider::balance_fields(&p),
        BalanceFields {
            points: true,
            ..BalanceFields::NONE
        }
    );
    let customer = Customer {
        name: Some("Ann".into()),
        ..Customer::new(phone(1))
    };
    let mut input = UpsertCustomer::new(customer.clone());
    input.balance = points(dec!(120));
    p.upsert_customer(input).await.expect("points-only upsert");
    let key = CustomerKey::Phone(phone(1));
    let read = p
        .get_balance(GetBalance {
            customer: key.clone(),
        })
        .await
        .expect("balance");
    assert_eq!(read.points, dec!(120));
    let set = p
        .set_balance(SetBalance {
            customer: key.clone(),
            update: points(dec!(50)),
        })
        .await
        .expect("points-only set");
    assert_eq!(set.points, dec!(50));

    let mut with_bonus = UpsertCustomer::new(customer);
    with_bonus.balance = BalanceUpdate {
        bonus_percent: Some(Percent::default()),
        ..points(dec!(1))
    };
    let e = p
        .upsert_customer(with_bonus)
        .await
        .expect_err("bonus not held");
    assert!(
        e.kind() == ErrorKind::InvalidInput && e.message().contains("[provider.fields] bonus"),
        "{e}"
    );
    let e = p
        .set_balance(SetBalance {
            customer: key,
            update: BalanceUpdate {
                discount_percent: Percent::new(dec!(5)).ok(),
                ..BalanceUpdate::default()
            },
        })
        .await
        .expect_err("discount not held");
    assert!(e.message().contains("[provider.fields] discount"), "{e}");
}

#[tokio::test]
async fn the_check_reads_the_template_once_and_names_the_key_to_fix() {
    let (server, emu) = emulator(PassteamEmulatorConfig::default()).await;
    let base = server.base_url();
    let p = PassteamProvider::new(config(base.clone(), FieldMap::documented())).expect("p");
    let report = Provider::check(&p).await.expect("a good config passes");
    assert_eq!(report.requests, 1);
    assert_eq!(emu.request_count(), 1);
    assert_eq!(report.account.as_deref(), Some("sandbox-owner"));
    assert!(
        report
            .checked
            .iter()
            .any(|c| c.contains("balance = `BONUS`"))
    );
    emu.clear_requests();
    p.upsert_customer(UpsertCustomer::new(Customer::new(phone(2))))
        .await
        .expect("upsert");
    assert!(
        emu.requests().iter().all(|r| r.method != "gettemplate"),
        "the check filled the template cache"
    );

    let fails = |fields: FieldMap, edit: fn(&mut PassteamConfig)| {
        let mut c = config(base.clone(), fields);
        c.max_retries = 0;
        edit(&mut c);
        async move {
            let p = PassteamProvider::new(c).expect("provider");
            Provider::check(&p).await.expect_err("a bad config fails")
        }
    };
    let e = fails(
        FieldMap {
            bonus: Some("NOPE".into()),
            ..minimal()
        },
        |_| {},
    )
    .await;
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
    assert!(
        e.message().contains("[provider.fields] bonus") && e.message().contains("NOPE"),
        "{e}"
    );
    let e = fails(
        FieldMap {
            balance: Some("EMAIL".into()),
            ..FieldMap::phone_only("PHONE")
        },
        |_| {},
    )
    .await;
    assert!(
        e.kind() == ErrorKind::ConfigInvalid
            && e.message().contains("[provider.fields] balance")
            && e.message().contains("email"),
        "{e}"
    );
    let e = fails(minimal(), |c| {
        c.template_id = Some("5e424c181dbf0d537c8b4560".parse().expect("id"));
    })
    .await;
    assert!(
        e.kind() == ErrorKind::NotFound && e.message().contains("[provider] template_id"),
        "{e}"
    );
    let e = fails(minimal(), |c| c.token = Some("wrong".to_owned().into())).await;
    assert!(
        e.kind() == ErrorKind::Unauthenticated && e.message().contains("[provider] token"),
        "{e}"
    );
    let e = fails(minimal(), |c| c.template_id = None).await;
    assert!(e.message().contains("[provider] template_id"), "{e}");
    let e = fails(minimal(), |c| {
        c.base_url = "http://127.0.0.1:9".into();
        c.timeout = std::time::Duration::from_secs(2);
    })
    .await;
    assert_eq!(e.kind(), ErrorKind::VendorUnavailable, "{e}");

    let mut by_login = config(base, minimal());
    by_login.token = None;
    by_login.login = Some("sandbox".into());
    by_login.password = Some("sandbox".to_owned().into());
    let p = PassteamProvider::new(by_login).expect("provider");
    assert_eq!(
        Provider::check(&p).await.expect("ok").requests,
        2,
        "getatoken + gettemplate"
    );
}

#[tokio::test]
async fn phones_stored_without_plus_are_found_and_the_409_names_the_card() {
    let (server, emu) = emulator(PassteamEmulatorConfig {
        phones_without_plus: true,
        ..PassteamEmulatorConfig::default()
    })
    .await;
    let p = PassteamProvider::new(config(server.base_url(), minimal())).expect("provider");
    let ann = |name: &str| Customer {
        name: Some(name.into()),
        ..Customer::new(phone(3))
    };
    let created = p
        .upsert_customer(UpsertCustomer::new(ann("Ann")))
        .await
        .expect("create");
    let id = created.customer.provider_ids["passteam"].clone();
    assert_eq!(
        emu.card(&id).expect("card")["values"]["%PHONE%"],
        "79990000003",
        "the emulator keeps the digits only"
    );
    let renamed = p
        .upsert_customer(UpsertCustomer::new(ann("Anna")))
        .await
        .expect("update found by digits");
    assert_eq!(renamed.customer.name.as_deref(), Some("Anna"));
    assert_eq!(renamed.customer.phone, phone(3));
    assert_eq!(emu.card_count(), 1);
    let got = p
        .get_customer(GetCustomer::new(CustomerKey::Phone(phone(3))))
        .await
        .expect("lookup by phone");
    assert_eq!(got.customer.name.as_deref(), Some("Anna"));

    // An adapter told the account keeps the `+` misses the card, creates, gets the 409, and
    // updates the card it names.
    let mut plus_only = config(server.base_url(), minimal());
    plus_only.phone_lookup = PhoneLookup::Plus;
    let p = PassteamProvider::new(plus_only).expect("provider");
    emu.clear_requests();
    let r = p
        .upsert_customer(UpsertCustomer::new(ann("Annie")))
        .await
        .expect("409 → update by the named id");
    assert_eq!(r.customer.name.as_deref(), Some("Annie"));
    assert_eq!(emu.card_count(), 1);
    let methods: Vec<String> = emu.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(
        methods,
        [
            "gettemplate",
            "getcard",
            "createcard",
            "getcard",
            "updatecard"
        ]
    );
    assert!(
        emu.requests()[3]
            .fields
            .iter()
            .any(|(k, v)| k == "cardId" && *v == id)
    );
}

fn dated_template(style: &str) -> TemplateSpec {
    let v = |name: &str, kind: &str| VariableSpec {
        name: name.into(),
        kind: kind.into(),
        unique: kind == "phone",
        list: Vec::new(),
        title: None,
        date_style: None,
    };
    TemplateSpec {
        id: TEMPLATE.into(),
        title: "dated".into(),
        variables: vec![
            v("PHONE", "phone"),
            VariableSpec {
                date_style: Some(style.into()),
                ..v("BIRTHDAY", "date")
            },
        ],
    }
}

#[tokio::test]
async fn birthdays_follow_the_templates_date_style() {
    let fields = FieldMap {
        birthday: Some("BIRTHDAY".into()),
        ..FieldMap::phone_only("PHONE")
    };
    let day = NaiveDate::from_ymd_opt(1980, 1, 2).expect("date");
    let born_that_day = |n| {
        UpsertCustomer::new(Customer {
            birthday: Some(day),
            ..Customer::new(phone(n))
        })
    };
    for (style, stored) in [("MM/dd/yyyy", "01/02/1980"), ("yyyy-MM-dd", "1980-01-02")] {
        let (server, emu) = emulator(PassteamEmulatorConfig {
            templates: vec![dated_template(style)],
            ..PassteamEmulatorConfig::default()
        })
        .await;
        let p = PassteamProvider::new(config(server.base_url(), fields.clone())).expect("p");
        let r = p
            .upsert_customer(born_that_day(4))
            .await
            .unwrap_or_else(|e| panic!("{style}: {e}"));
        let id = &r.customer.provider_ids["passteam"];
        assert_eq!(emu.card(id).expect("card")["values"]["%BIRTHDAY%"], stored);
        let fresh = PassteamProvider::new(config(server.base_url(), fields.clone())).expect("p");
        let read = fresh
            .get_customer(GetCustomer::new(CustomerKey::Phone(phone(4))))
            .await
            .expect("read");
        assert_eq!(read.customer.birthday, Some(day), "{style}");
    }

    let (server, _emu) = emulator(PassteamEmulatorConfig {
        templates: vec![dated_template("PKDateStyleShort")],
        ..PassteamEmulatorConfig::default()
    })
    .await;
    let p = PassteamProvider::new(config(server.base_url(), fields)).expect("p");
    let e = Provider::check(&p).await.expect_err("unknown style");
    assert!(
        e.kind() == ErrorKind::ConfigInvalid
            && e.message().contains("[provider.fields] birthday")
            && e.message().contains("BIRTHDAY"),
        "{e}"
    );
    let e = p
        .upsert_customer(born_that_day(5))
        .await
        .expect_err("unknown style");
    assert!(
        e.kind() == ErrorKind::ConfigInvalid && e.message().contains("`BIRTHDAY`"),
        "{e}"
    );
}

/// `likely_new` (a new customer, a resync to Passteam): with the phone variable unique in the
/// template, the card is created straight away (1 request); a card that existed after all
/// answers 409 and the card it names is updated, never duplicated.
#[tokio::test]
async fn a_likely_new_customer_is_created_first_when_the_phone_is_unique() {
    let (server, emu) = emulator(PassteamEmulatorConfig::default()).await;
    let p = PassteamProvider::new(config(server.base_url(), minimal())).expect("provider");
    // Warm the template cache, as a running gateway has it.
    p.check().await.expect("check");
    let ann = |name: &str, points_: rust_decimal::Decimal| UpsertCustomer {
        balance: points(points_),
        likely_new: true,
        ..UpsertCustomer::new(Customer {
            name: Some(name.into()),
            ..Customer::new(phone(8))
        })
    };
    emu.clear_requests();
    p.upsert_customer(ann("Ann", dec!(5)))
        .await
        .expect("create");
    let methods: Vec<String> = emu.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["createcard"], "one request for a new card");
    emu.clear_requests();
    let r = p
        .upsert_customer(ann("Anna", dec!(9)))
        .await
        .expect("409 → update");
    assert_eq!(r.customer.name.as_deref(), Some("Anna"));
    assert_eq!(emu.card_count(), 1, "never a second card");
    let methods: Vec<String> = emu.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["createcard", "getcard", "updatecard"]);
    let balance = p
        .get_balance(GetBalance {
            customer: CustomerKey::Phone(phone(8)),
        })
        .await
        .expect("balance");
    assert_eq!(balance.points, dec!(9));
}
