//! Property tests: pass-data survives the trip through Skycore's JSON, in both documented forms.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use walletport_core::{Balance, BalanceUpdate, CardStatus, Percent};
use walletport_skycore::mapping::pass::{
    PassRecord, apply_balance, apply_balance_as, balance_of, card_of,
};
use walletport_skycore::mapping::points;
use walletport_skycore::wire::canonical_key;
use walletport_skycore::{IBeacon, PassData, RelevantLocation, SkycoreConfig};

fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9 $.,:/!-]{0,24}"
}

fn opt() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn location() -> impl Strategy<Value = RelevantLocation> {
    (-90.0f64..90.0, -180.0f64..180.0, opt(), 1u8..=10).prop_map(|(lat, lon, t, n)| {
        RelevantLocation {
            key: Some(format!("relevant-{n}")),
            latitude: format!("{lat:.6}"),
            longitude: format!("{lon:.6}"),
            relevant_text: t,
        }
    })
}

fn beacon() -> impl Strategy<Value = IBeacon> {
    ("[0-9A-F-]{1,36}", opt(), opt(), opt()).prop_map(|(uuid, major, minor, t)| IBeacon {
        key: Some("ibeacon-1".into()),
        proximity_uuid: uuid,
        major,
        minor,
        relevant_text: t,
    })
}

prop_compose! {
    fn pass_data()(
        scalars in proptest::collection::vec(opt(), 10),
        messages in proptest::collection::btree_map(4u8..=10, text(), 0..7),
        status in proptest::option::of(prop_oneof![Just(CardStatus::Active), Just(CardStatus::Voided), Just(CardStatus::Expired), Just(CardStatus::Redeemed)]),
        expires in proptest::option::of(0i64..4_000_000_000),
        tz in proptest::option::of(prop_oneof![Just("America/New_York".to_owned()), Just("Australia/Sydney".to_owned()), Just("Europe/Prague".to_owned())]),
        locations in proptest::collection::vec(location(), 0..=10),
        beacons in proptest::collection::vec(beacon(), 0..=10),
    ) -> PassData {
        let s = |i: usize| scalars.get(i).cloned().flatten();
        PassData {
            barcode_value: s(0),
            loyalty_points: s(1),
            secondary_loyalty_points: s(2),
            account_name: s(3),
            account_id: s(4),
            additional_image: s(5),
            strip_image: s(6),
            custom_fields: [s(7), s(8), s(9)],
            messages,
            status,
            expiration_timestamp: expires.and_then(|t| Utc.timestamp_opt(t, 0).single()),
            expiration_timezone: tz,
            update_notification: None,
            relevant_locations: locations,
            ibeacons: beacons,
            extra: BTreeMap::new(),
        }
    }
}

/// A config with the given display formats (`None`: plain numbers).
fn config(points_format: Option<&str>, bonus_format: Option<&str>) -> SkycoreConfig {
    let mut config = SkycoreConfig::new("http://127.0.0.1:9/", "k", "tpl");
    config.points_format = points_format.map(str::to_owned);
    config.bonus_format = bonus_format.map(str::to_owned);
    config
}

fn bonus_format() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        Just(None),
        Just(Some("{bonus}%")),
        Just(Some("{bonus} %")),
        Just(Some("Bonus: {bonus} %")),
        Just(Some("$ {bonus} $")),
    ]
}

/// The other documented form: numeric text as JSON numbers, key set B where one exists.
fn vendor_variant(wire: &Map<String, Value>) -> Map<String, Value> {
    let alternate = |k: &str| -> String {
        match k {
            "strip-image" => "strip-url".into(),
            other => other.into(),
        }
    };
    wire.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) if s.parse::<i64>().is_ok_and(|n| n.to_string() == *s) => s
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| v.clone()),
                Value::String(s) if k == "pass-status" => Value::String(s.to_uppercase()),
                _ => v.clone(),
            };
            (alternate(k), v)
        })
        .collect()
}

proptest! {
    #[test]
    fn pass_data_round_trips_through_json(data in pass_data()) {
        let wire = data.to_wire();
        let text = serde_json::to_string(&wire).expect("serializes");
        let back: Map<String, Value> = serde_json::from_str(&text).expect("parses");
        prop_assert_eq!(PassData::from_wire(&back).expect("decodes"), data.clone());
        let variant = vendor_variant(&wire);
        prop_assert!(variant.keys().all(|k| canonical_key(k) != "strip-url"));
        prop_assert_eq!(PassData::from_wire(&variant).expect("decodes the vendor's variant"), data);
    }

    #[test]
    fn balances_round_trip_through_pass_data(points in -1_000_000_000i64..1_000_000_000, scale in 0u32..4, bonus in 0u32..=10_000, formatted in any::<bool>(), bonus_format in bonus_format()) {
        let want = Balance {
            points: Decimal::new(points, scale).normalize(),
            bonus_percent: Percent::new(Decimal::new(i64::from(bonus), 2)).expect("0..=100"),
            discount_percent: Percent::default(),
        };
        let update = BalanceUpdate { discount_percent: None, ..want.into() };
        let mut data = PassData::default();
        let config = if formatted {
            let config = config(Some("{points} pts"), bonus_format);
            apply_balance_as(&update, &config, &mut data).expect("no discount");
            config
        } else {
            apply_balance(&update, &mut data).expect("no discount");
            config(None, None)
        };
        let back = PassData::from_wire(&data.to_wire()).expect("decodes");
        prop_assert_eq!(balance_of(&back, &config).expect("numbers"), want);
        // The vendor's other form (integers as JSON numbers) reads the same.
        let variant = PassData::from_wire(&vendor_variant(&data.to_wire())).expect("decodes");
        prop_assert_eq!(balance_of(&variant, &config).expect("numbers"), want);
    }

    /// Whatever a pass made elsewhere holds in `secondary-loyalty-points`, the balance reads
    /// (never an error), and the text is either exactly a bonus the adapter writes or kept raw in
    /// the card's fields: nothing the pass shows is lost, nothing else is read as a bonus.
    #[test]
    fn any_secondary_text_reads_and_is_a_bonus_or_kept(text in prop_oneof![text(), "[0-9]{1,4}", "[0-9]{1,3}%", "[0-9]{1,2}-[0-9]{1,2}-[0-9]{4}"], bonus_format in bonus_format()) {
        let config = config(None, bonus_format);
        let record = PassRecord {
            pass_id: "420777000001".into(),
            template_id: None,
            data: PassData { secondary_loyalty_points: Some(text.clone()), ..PassData::default() },
        };
        let balance = balance_of(&record.data, &config).expect("a bonus text never fails a read");
        let card = card_of(&record, &config);
        let kept = card.fields.get("secondary-loyalty-points");
        let exact = points::rendered_number(&text, bonus_format, points::BONUS_PLACEHOLDER)
            .and_then(|n| Percent::new(n).ok());
        prop_assert_eq!(balance.bonus_percent, exact.unwrap_or_default());
        if text.trim().is_empty() {
            prop_assert_eq!(kept, None);
        } else if exact.is_none() {
            prop_assert_eq!(kept, Some(&text), "no bonus: the card keeps the text");
        } else if kept.is_none() {
            prop_assert!(bonus_format.is_none() && points::is_plain(&text), "{:?}", text);
        }
    }
}
