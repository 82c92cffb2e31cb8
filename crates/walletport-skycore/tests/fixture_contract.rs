//! The Skycore contract as data: every fixture generated from `docs/providers/skycore.md`
//! (by `cargo xtask fixtures`) satisfies the invariants that reference states.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDateTime};
use serde_json::Value;
use walletport_testkit::fixtures::{self, Fixture, check, values_of};

fn fixture_dir() -> PathBuf {
    fixtures::dir(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> Vec<Fixture> {
    fixtures::load(&fixture_dir())
}

fn is_colour(text: &str) -> bool {
    text.len() == 7 && text.starts_with('#') && text[1..].chars().all(|c| c.is_ascii_hexdigit())
}

fn is_error_code(text: &str) -> bool {
    text.strip_prefix('E')
        .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
}

const TEMPLATE_KEYS: [&str; 10] = [
    "pass-template-type",
    "pass-template-name",
    "appearance.program-logo",
    "appearance.program-logo-gpay",
    "appearance.card-issuer",
    "appearance.background-color",
    "universal-fields.program-name",
    "barcode-fields.barcode-type",
    "apple-wallet-fields.text-color",
    "apple-wallet-fields.description",
];

/// The keys each call requires, per kind (dotted paths go down objects).
fn required_keys(operation: &str, kind: &str) -> Vec<&'static str> {
    let keys: &[&str] = match (operation, kind) {
        ("generatepass", "request") => &["action", "pass-template-id", "pass-id", "pass-data"],
        ("updatepassdata" | "getpassdata", "request") => &["action", "pass-id", "pass-template-id"],
        ("getpasstemplate", "request") => &["action", "pass-template-id"],
        ("createpassissuancelink", "request") => &["action", "pass-template-id", "pass-variables"],
        ("updatepassissuancelink", "request") => &[
            "action",
            "link-name",
            "issuance-link-id",
            "pass-template-id",
            "pass-variables",
        ],
        ("createpasstemplate", "request") => &["action", "pass-template-subtype"],
        ("updatepasstemplate", "request") => &["action"],
        ("generatepass", "response") => &["status", "pass-id", "pass-install-url", "tracking-id"],
        ("updatepassdata", "response") => &["status", "pass-id", "tracking-id"],
        ("getpassdata", "response") => &["status", "pass-id", "pass-template-id", "pass-data"],
        ("getpasstemplate", "response") => &["status", "pass-template-id", "pass-template"],
        ("createpassissuancelink" | "updatepassissuancelink", "response") => {
            &["status", "pass-issuance-link-template-id", "preview-url"]
        }
        ("createpasstemplate" | "updatepasstemplate", "response") => &[
            "status",
            "pass-template-type",
            "pass-template-name",
            "pass-template-id",
        ],
        (_, "error") => &["status", "error-code", "error-message"],
        _ => &[],
    };
    let mut keys = keys.to_vec();
    if kind == "request" && operation.ends_with("passtemplate") && operation != "getpasstemplate" {
        keys.extend(TEMPLATE_KEYS);
    }
    keys
}

#[test]
fn index_lists_every_fixture_file_and_only_known_kinds() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 30, "{} fixtures", fixtures.len());
    fixtures::assert_index_matches_files(&fixture_dir(), &fixtures);
    let bad = fixtures::unknown_kinds(&fixtures, &["request", "response", "error"], "Skycore");
    check(bad);
}

#[test]
fn required_keys_are_present_and_actions_match() {
    let mut bad = Vec::new();
    for f in fixtures() {
        bad.extend(fixtures::missing_keys(
            &f,
            &required_keys(&f.operation, &f.kind),
        ));
        if f.kind == "request" {
            let action = f.body["action"].as_str().unwrap_or_default();
            if !action.eq_ignore_ascii_case(&f.operation) {
                bad.push(format!(
                    "{}: action `{action}` is not {}",
                    f.name, f.operation
                ));
            }
            if f.operation == "createpassissuancelink"
                && f.body
                    .get("link-name")
                    .or_else(|| f.body.get("issuance-link-name"))
                    .is_none()
            {
                bad.push(format!("{}: the link needs a name", f.name));
            }
        }
    }
    check(bad);
}

#[test]
fn statuses_tell_success_from_failure() {
    let mut bad = Vec::new();
    for f in fixtures().iter().filter(|f| f.kind != "request") {
        let status = f.body["status"].as_str().unwrap_or_default();
        let want = if f.kind == "response" {
            "success"
        } else {
            "failure"
        };
        if !status.eq_ignore_ascii_case(want) {
            bad.push(format!("{}: status `{status}` in a {}", f.name, f.kind));
        }
        if f.kind == "error" {
            if !f.body["error-code"].as_str().is_some_and(is_error_code) {
                bad.push(format!(
                    "{}: error-code {} is not E<digits>",
                    f.name, f.body["error-code"]
                ));
            }
            if f.body["error-message"].as_str().is_none_or(str::is_empty) {
                bad.push(format!("{}: empty error-message", f.name));
            }
        }
    }
    check(bad);
}

#[test]
fn time_zones_and_timestamps_have_documented_formats() {
    let mut bad = Vec::new();
    let mut zones = 0;
    for f in fixtures().iter().filter(|f| !f.is_schema()) {
        for key in [
            "expiration-timezone",
            "link-expiration-timezone",
            "expiry-timezone",
            "auto-expire-timezone",
            "current-timestamp-timezone",
        ] {
            for v in values_of(&f.body, key) {
                zones += 1;
                if v.as_str()
                    .and_then(|z| z.parse::<chrono_tz::Tz>().ok())
                    .is_none()
                {
                    bad.push(format!("{}: {key} {v} is not an IANA time zone", f.name));
                }
            }
        }
        if f.kind == "request" {
            for key in ["expiration-timestamp", "link-expiration-timestamp"] {
                for v in values_of(&f.body, key) {
                    if v.as_str()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .is_none()
                    {
                        bad.push(format!(
                            "{}: {key} {v} is not ISO 8601 with an offset",
                            f.name
                        ));
                    }
                }
            }
            for v in values_of(&f.body, "expiry-date") {
                if v.as_str()
                    .and_then(|t| NaiveDateTime::parse_from_str(t, "%m/%d/%Y %I:%M %p").ok())
                    .is_none()
                {
                    bad.push(format!(
                        "{}: expiry-date {v} is not mm/dd/yyyy h:mm AM/PM",
                        f.name
                    ));
                }
            }
        }
    }
    assert!(zones >= 9, "time zones are exercised: {zones}");
    check(bad);
}

#[test]
fn enumerations_colours_and_limits_hold() {
    let mut bad = Vec::new();
    let dynamic = [
        "account-name",
        "account-id",
        "loyalty-points",
        "secondary-loyalty-points",
        "expiration-timestamp",
        "current-timestamp",
        "custom-field-1",
        "custom-field-2",
        "custom-field-3",
    ];
    let one_of: [(&str, &[&str]); 5] = [
        ("pass-status", &["active", "redeemed", "expired", "voided"]),
        ("barcode-type", &["QRCODE", "AZTEC", "PDF417", "CODE128"]),
        (
            "link1-type",
            &["email", "geo-location", "map-link", "phone", "web-link"],
        ),
        (
            "link2-type",
            &["email", "geo-location", "map-link", "phone", "web-link"],
        ),
        (
            "pass-template-subtype",
            &["loyalty-card-type1", "loyalty-card-type2"],
        ),
    ];
    for f in fixtures().iter().filter(|f| !f.is_schema()) {
        let text = |key: &str| {
            values_of(&f.body, key)
                .into_iter()
                .map(|v| v.as_str().unwrap_or("<not a string>"))
        };
        for (key, allowed) in one_of {
            for v in text(key) {
                if !allowed.contains(&v) {
                    bad.push(format!("{}: {key} `{v}` is not one of {allowed:?}", f.name));
                }
            }
        }
        for n in 1..=4 {
            for v in text(&format!("dynamic-pass-field-{n}")) {
                if !dynamic.contains(&v) {
                    bad.push(format!("{}: dynamic-pass-field-{n} `{v}`", f.name));
                }
            }
        }
        for v in text("background-color") {
            if !is_colour(v) {
                bad.push(format!("{}: background-color `{v}` is not #RRGGBB", f.name));
            }
        }
        // Mandatory, but every vendor example sends it empty (reference, quirk 6).
        for v in text("text-color") {
            if !(v.is_empty() || is_colour(v)) {
                bad.push(format!("{}: text-color `{v}` is not #RRGGBB", f.name));
            }
        }
        for v in text("user-phone") {
            if v.is_empty() || !v.chars().all(|c| c.is_ascii_digit()) {
                bad.push(format!("{}: user-phone `{v}` is not digits", f.name));
            }
        }
        for v in values_of(&f.body, "autogenerate-barcode-value-length") {
            let n = v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()));
            if !n.is_some_and(|n| (10..=100).contains(&n)) {
                bad.push(format!(
                    "{}: autogenerate-barcode-value-length {v} is not 10-100",
                    f.name
                ));
            }
        }
        for key in ["relevant-locations", "ibeacons"] {
            for list in values_of(&f.body, key) {
                let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
                if items.is_empty() || items.len() > 10 {
                    bad.push(format!("{}: {key} must hold 1 to 10 items", f.name));
                }
                for item in items {
                    let coord = |k: &str, max: f64| {
                        item.get(k).is_none_or(|c| {
                            c.as_str()
                                .and_then(|s| s.parse::<f64>().ok())
                                .is_some_and(|x| x.abs() <= max)
                        })
                    };
                    if !coord("latitude", 90.0)
                        || !coord("longitude", 180.0)
                        || !item["relevant-text"].is_string()
                    {
                        bad.push(format!("{}: {key} item {item} is malformed", f.name));
                    }
                }
            }
        }
    }
    check(bad);
}

#[test]
fn issuance_link_variables_are_flag_pairs() {
    let mut bad = Vec::new();
    let mut seen = 0;
    for f in fixtures().iter().filter(|f| f.kind == "request") {
        for vars in values_of(&f.body, "pass-variables") {
            let Some(vars) = vars.as_object() else {
                bad.push(format!("{}: pass-variables is not an object", f.name));
                continue;
            };
            for (name, flags) in vars {
                seen += 1;
                let keys: BTreeSet<&str> = flags
                    .as_object()
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                let bools = flags
                    .as_object()
                    .is_some_and(|m| m.values().all(Value::is_boolean));
                if keys != BTreeSet::from(["is-required", "value-encryption"]) || !bools {
                    bad.push(format!(
                        "{}: pass variable `{name}` is not {{is-required, value-encryption}} bools",
                        f.name
                    ));
                }
            }
        }
    }
    assert!(
        seen > 20,
        "both schemas and both examples are checked: {seen}"
    );
    check(bad);
}

#[test]
fn both_layouts_and_every_documented_example_are_kept() {
    let names: BTreeSet<String> = fixtures().into_iter().map(|f| f.name).collect();
    for name in [
        "createpasstemplate/layout-1.request",
        "createpasstemplate/layout-2.request",
        "updatepasstemplate/layout-1.request",
        "updatepasstemplate/layout-2.request",
        "createpassissuancelink/loyalty-card.request",
        "updatepassissuancelink/loyalty-card.request",
        "getpassdata/alternate-keys.response",
        "getpassdata/invalid-pass-id.error",
    ] {
        assert!(names.contains(name), "missing fixture {name}");
    }
    let alternate = fixtures()
        .into_iter()
        .find(|f| f.name == "getpassdata/alternate-keys.response")
        .map(|f| f.body);
    let data = alternate
        .as_ref()
        .map(|b| &b["pass-data"])
        .expect("present");
    assert!(
        data.get("logo-url").is_some() && data.get("program-logo").is_none(),
        "the second key set"
    );
}
