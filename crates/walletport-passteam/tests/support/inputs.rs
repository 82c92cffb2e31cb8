//! The domain inputs that the Passteam form fixtures (`tests/fixtures/`) document, shared by
//! `tests/fixture_snapshots.rs` and `benches/adapter.rs` so that the benchmark times exactly the
//! inputs whose requests the tests compare with the fixtures.
//!
//! Included by path (`#[path = ...] mod inputs;`) from both targets.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use walletport_core::{BalanceUpdate, CardId, Customer, Phone, TemplateId};
use walletport_passteam::mapping::card::Variables;
use walletport_passteam::{BodyEncoding, FieldMap, PassteamConfig};

/// The client configuration the fixtures were written for, encoding bodies as `encoding` says.
pub(crate) fn config(encoding: BodyEncoding) -> PassteamConfig {
    let mut c = PassteamConfig::with_token("t0ken");
    c.encoding = encoding;
    c.template_id = Some(template_id());
    c
}

/// The template of the createcard examples.
pub(crate) fn template_id() -> TemplateId {
    TemplateId::new("5e424c181dbf0d537c8b4569").expect("template id")
}

/// The card of the updatecard examples.
pub(crate) fn card_id() -> CardId {
    CardId::new("5e451571cea6c6141807b792").expect("card id")
}

/// The 1C listings' customer (name, birthday, phone, e-mail).
pub(crate) fn customer_1c() -> Customer {
    Customer {
        name: Some("Иван Петров".into()),
        birthday: NaiveDate::from_ymd_opt(1980, 1, 25),
        email: Some("client@example.com".into()),
        ..Customer::new(Phone::parse("+71234567890").expect("phone"))
    }
}

/// The field map of the 1C listings: no discount and no card-number variable.
pub(crate) fn fields_1c() -> FieldMap {
    FieldMap {
        discount: None,
        card_number: None,
        ..FieldMap::documented()
    }
}

/// A balance update setting only the bonus points.
pub(crate) fn bonus(points: Decimal) -> BalanceUpdate {
    BalanceUpdate {
        points: Some(points),
        ..BalanceUpdate::default()
    }
}

/// The card and the variables of the percent-encoded updatecard example.
pub(crate) fn percent_encoded_update() -> (CardId, Variables) {
    let mut vars = Variables::new();
    for (n, x) in [
        ("BALANCE", "7500"),
        ("_CODE", "3006880536055"),
        ("NUMBERCARD", "3006880536055"),
        ("DISCOUNT", "5"),
    ] {
        vars.set(n, x).expect("variable");
    }
    let card = CardId::new("5bea7e305abcfd6b708b4573").expect("card id");
    (card, vars)
}
