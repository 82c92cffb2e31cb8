//! Property tests: pass-data survives the trip through Skycore's JSON, in both documented forms.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use walletport_core::{Balance, BalanceUpdate, CardStatus, Percent};
use walletport_skycore::mapping::pass::{apply_balance, balance_of};
use walletport_skycore::wire::canonical_key;
use walletport_skycore::{IBeacon, PassData, RelevantLocation};

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
    fn balances_round_trip_through_pass_data(points in -1_000_000_000i64..1_000_000_000, scale in 0u32..4, bonus in 0u32..=10_000) {
        let want = Balance {
            points: Decimal::new(points, scale).normalize(),
            bonus_percent: Percent::new(Decimal::new(i64::from(bonus), 2)).expect("0..=100"),
            discount_percent: Percent::default(),
        };
        let mut data = PassData::default();
        apply_balance(&BalanceUpdate { discount_percent: None, ..want.into() }, &mut data).expect("no discount");
        let back = PassData::from_wire(&data.to_wire()).expect("decodes");
        prop_assert_eq!(balance_of(&back).expect("numbers"), want);
    }
}
