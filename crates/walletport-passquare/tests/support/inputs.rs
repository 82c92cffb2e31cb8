//! The domain inputs that the Passquare fixtures (`tests/fixtures/`) document, shared by
//! `tests/fixtures_snapshots.rs` and `benches/adapter.rs` so that the benchmark times exactly the
//! inputs whose requests the tests compare with the fixtures.
//!
//! Included by path (`#[path = ...] mod inputs;`) from both targets.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use walletport_core::{
    BalanceUpdate, Campaign, Channel, Customer, ListCustomers, Percent, Phone, PushMessage,
    SegmentId, UpsertCustomer,
};
use walletport_passquare::mapping::{SmsInvite, UpsertExtras};
use walletport_passquare::{LifetimeUnit, NumberMode, PassquareConfig, PassquareHooksConfig};

/// The client configuration the fixtures were written for, sending amounts as `mode` says.
pub(crate) fn config(mode: NumberMode) -> PassquareConfig {
    let mut c = PassquareConfig::new("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
    c.numbers = mode;
    c
}

/// The customer phone of every example.
pub(crate) fn phone() -> Phone {
    Phone::parse("+420000000001").expect("phone")
}

/// A percentage from its decimal text (the examples' bonus and discount).
pub(crate) fn pct(s: &str) -> Percent {
    Percent::new(Decimal::from_str(s).expect("decimal")).expect("percent")
}

/// The examples' customer, Joe Master, born on `birthday` (the examples disagree on it).
pub(crate) fn joe(birthday: (i32, u32, u32)) -> Customer {
    Customer {
        name: Some("Joe".into()),
        surname: Some("Master".into()),
        middle_name: Some("Remaster".into()),
        email: Some("joe@passquare.com".into()),
        birthday: NaiveDate::from_ymd_opt(birthday.0, birthday.1, birthday.2),
        ..Customer::new(phone())
    }
}

/// An upsert of `customer` setting balance, bonus and discount from their decimal texts.
pub(crate) fn upsert(
    customer: Customer,
    balance: &str,
    bonus: &str,
    discount: &str,
) -> UpsertCustomer {
    UpsertCustomer {
        balance: BalanceUpdate {
            points: Some(Decimal::from_str(balance).expect("decimal")),
            bonus_percent: Some(pct(bonus)),
            discount_percent: Some(pct(discount)),
        },
        ..UpsertCustomer::new(customer)
    }
}

/// The SMS invitation the create example sends.
pub(crate) fn sms() -> UpsertExtras {
    UpsertExtras {
        sms: Some(SmsInvite {
            link: "https://form.passquare.com/00000000-0000-0000-0000-000000000000".into(),
            text: "Your card: %link%".into(),
        }),
        card_track: None,
    }
}

/// The hook configuration of the examples, reading credit lifetimes in `unit`.
pub(crate) fn hooks_config(unit: LifetimeUnit) -> PassquareHooksConfig {
    PassquareHooksConfig {
        lifetime_unit: unit,
        ..PassquareHooksConfig::with_crm_key("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
    }
}

/// The six personal-push examples: each fixture case (`push`, `webpush-pickup`, …) with the
/// message whose request must equal it.
pub(crate) fn pushes() -> Vec<(String, PushMessage)> {
    let mut out = Vec::new();
    for (channel, key) in [
        (Channel::Wallet, "push"),
        (Channel::Webpush, "webpush"),
        (Channel::Telegram, "telegram"),
    ] {
        for (suffix, text) in [
            ("", "Your order is already in stock!"),
            ("-pickup", "Your order is ready for pickup!"),
        ] {
            let message = PushMessage::new(text, channel).expect("message");
            out.push((format!("{key}{suffix}"), message));
        }
    }
    out
}

/// The customer-list query of the `read_customers` example (registered in 2020, installed).
pub(crate) fn list_customers() -> ListCustomers {
    ListCustomers {
        registered_from: NaiveDate::from_ymd_opt(2020, 1, 1),
        registered_to: NaiveDate::from_ymd_opt(2020, 12, 31)
            .and_then(|d| d.and_hms_opt(23, 59, 59)),
        installed: Some(true),
        ..ListCustomers::default()
    }
}

/// The campaign of the `push_create` example.
pub(crate) fn campaign() -> Campaign {
    Campaign {
        message: "Test push!".into(),
        channel: Channel::Wallet,
        name: Some("Spring".into()),
        segment: Some(SegmentId::new("00000000-0000-0000-0000-000000000000").expect("id")),
    }
}
