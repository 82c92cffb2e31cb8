//! The Passquare contract as data: every fixture generated from `docs/providers/passquare.md`
//! (by `cargo xtask fixtures`) satisfies the invariants that reference states.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::Value;
use walletport_core::Phone;
use walletport_testkit::fixtures::{
    self, Fixture, check, is_dd_mm_yyyy, is_e164, is_international_digits, values_of,
};

#[path = "support/keys.rs"]
mod keys;

fn fixture_dir() -> PathBuf {
    fixtures::dir(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> Vec<Fixture> {
    fixtures::load(&fixture_dir())
}

fn is_dd_mm_yyyy_time(text: &str) -> bool {
    is_dd_mm_yyyy(text)
        || (text.len() == 19 && NaiveDateTime::parse_from_str(text, "%d.%m.%Y %H:%M:%S").is_ok())
}

fn is_iso_date(text: &str) -> bool {
    text.len() == 10 && NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A decimal as the vendor writes it in a string: `5`, `12.5`, `300.00`.
fn is_decimal_text(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && (int.chars().chain(frac.chars())).all(|c| c.is_ascii_digit())
}

/// The keys each operation and kind must carry (dotted paths go one object down).
fn required_keys(operation: &str, kind: &str) -> &'static [&'static str] {
    match (operation, kind) {
        ("status", "request") => &["app_key"],
        ("user_create_or_update", "request") => &["app_key", "phone"],
        ("read_customer", "request") => &["app_key", "phone", "invites", "installs"],
        ("read_customers", "request") => &["app_key", "start_date", "end_date"],
        ("push_create", "request") => &["app_key", "message", "type", "name", "segment_uuid"],
        ("push_send", "request") => &["app_key", "push_uuid"],
        ("createCustomer", "hook") => &[
            "crm_key",
            "method",
            "customer.name",
            "customer.phone",
            "customer.cardNumbers",
        ],
        ("readBalance", "hook") => &[
            "crm_key",
            "method",
            "customer.phone",
            "customer.cardNumbers",
        ],
        ("addBalance", "hook") => &[
            "crm_key",
            "method",
            "customer.phone",
            "customer.cardNumbers",
            "customer.sum",
            "customer.transactionId",
        ],
        ("createCustomer", "response") => &["customerId"],
        ("readBalance", "response") => &["success", "balance", "bonus", "discount"],
        ("addBalance", "response") => &["success"],
        ("status", "response") => &["app", "balance"],
        ("user_create_or_update", "response") => {
            walletport_testkit::keys![&["success"], keys::ISSUED_CARD]
        }
        ("read_customer", "response") => &[
            "customer.phone",
            "customer.cardNumbers",
            "customer.discount",
            "customer.bonus",
            "customer.balance",
        ],
        ("read_customers", "response") => &["customers"],
        ("push_create", "response") => &["result.name", "result.uuid", "result.message"],
        (_, "error") => &["error"],
        _ => &[],
    }
}

#[test]
fn index_lists_every_fixture_file_and_only_known_kinds() {
    let fixtures = fixtures();
    assert!(
        fixtures.len() >= 30,
        "both vendor versions: {} fixtures",
        fixtures.len()
    );
    fixtures::assert_index_matches_files(&fixture_dir(), &fixtures);
    let mut bad = fixtures::unknown_kinds(
        &fixtures,
        &["request", "response", "error", "hook"],
        "Passquare",
    );
    for f in fixtures.iter().filter(|f| !f.body.is_object()) {
        bad.push(format!("{}: body is not a JSON object", f.name));
    }
    check(bad);
}

#[test]
fn required_keys_are_present() {
    let mut bad = Vec::new();
    for f in fixtures() {
        bad.extend(fixtures::missing_keys(
            &f,
            required_keys(&f.operation, &f.kind),
        ));
    }
    check(bad);
}

#[test]
fn hooks_name_their_method_and_identify_the_customer() {
    let mut bad = Vec::new();
    for f in fixtures().iter().filter(|f| f.kind == "hook") {
        if f.body["method"] != f.operation.as_str() {
            bad.push(format!(
                "{}: method {} is not {}",
                f.name, f.body["method"], f.operation
            ));
        }
        let cards = f.body["customer"]["cardNumbers"].as_array();
        if !cards.is_some_and(|c| {
            !c.is_empty()
                && c.iter().all(|n| {
                    n.as_str()
                        .is_some_and(|s| s.chars().all(|c| c.is_ascii_digit()))
                })
        }) {
            bad.push(format!("{}: cardNumbers must be digit strings", f.name));
        }
    }
    check(bad);
}

#[test]
fn phones_are_e164() {
    let mut bad = Vec::new();
    for f in fixtures().iter().filter(|f| !f.is_schema()) {
        let mut phones = Vec::new();
        for key in [
            "phone",
            "referCustomerPhone",
            "invitedBy",
            "invites",
            "customers",
        ] {
            for v in values_of(&f.body, key) {
                match v {
                    Value::String(s) => phones.push(s.as_str()),
                    Value::Array(items) => {
                        phones.extend(items.iter().map(|i| i.as_str().unwrap_or("<not a string>")))
                    }
                    Value::Bool(_) if key == "invites" => {}
                    other => bad.push(format!("{}: `{key}` is {other}", f.name)),
                }
            }
        }
        // The vendor's own push examples send digits without `+` (reference, quirk 2).
        let plus_less_quirk = f.operation == "user_create_or_update" && f.case.starts_with("push");
        for phone in phones {
            let ok = if plus_less_quirk {
                is_international_digits(phone) && Phone::parse(phone).is_ok()
            } else {
                is_e164(phone)
            };
            if !ok {
                bad.push(format!("{}: `{phone}` is not E.164", f.name));
            }
        }
    }
    check(bad);
}

#[test]
fn dates_and_ids_have_documented_formats() {
    let mut bad = Vec::new();
    for f in fixtures().iter().filter(|f| !f.is_schema()) {
        for v in values_of(&f.body, "birthday") {
            let text = v.as_str().unwrap_or_default();
            let ok = if f.kind == "hook" {
                is_iso_date(text)
            } else {
                is_dd_mm_yyyy(text)
            };
            if !ok {
                bad.push(format!(
                    "{}: birthday `{text}` has the wrong format for a {}",
                    f.name, f.kind
                ));
            }
        }
        for key in ["start_date", "end_date"] {
            for v in values_of(&f.body, key) {
                if !v.as_str().is_some_and(is_dd_mm_yyyy_time) {
                    bad.push(format!(
                        "{}: {key} {v} is not dd.mm.yyyy[ HH:MM:SS]",
                        f.name
                    ));
                }
            }
        }
        for key in ["template_uuid", "segment_uuid", "push_uuid", "uuid"] {
            for v in values_of(&f.body, key) {
                if !v.as_str().is_some_and(is_uuid) {
                    bad.push(format!("{}: {key} {v} is not a UUID", f.name));
                }
            }
        }
        for v in values_of(&f.body, "lifetime") {
            if v.as_u64().is_none_or(|n| n == 0) {
                bad.push(format!(
                    "{}: lifetime {v} is not a positive integer",
                    f.name
                ));
            }
        }
        for v in values_of(&f.body, "offset") {
            if v.as_u64().is_none() {
                bad.push(format!(
                    "{}: offset {v} is not a non-negative integer",
                    f.name
                ));
            }
        }
    }
    check(bad);
}

#[test]
fn amounts_are_strings_or_numbers_as_the_case_says() {
    let mut bad = Vec::new();
    let mut seen = (0, 0);
    for f in fixtures().iter().filter(|f| !f.is_schema()) {
        let strings = f.case.contains("numbers-as-strings");
        let numbers = !strings && f.case.contains("numbers");
        for key in ["balance", "bonus", "discount", "sum"] {
            for v in values_of(&f.body, key) {
                match v {
                    Value::String(s) if is_decimal_text(s) && !numbers => seen.0 += 1,
                    Value::Number(_) if !strings => seen.1 += 1,
                    other => bad.push(format!(
                        "{}: {key} {other} breaks the `{}` case",
                        f.name, f.case
                    )),
                }
            }
        }
    }
    assert!(
        seen.0 > 0 && seen.1 > 0,
        "both forms are exercised: {seen:?}"
    );
    check(bad);
}

#[test]
fn responses_have_their_documented_types() {
    let mut bad = Vec::new();
    for f in fixtures().iter().filter(|f| !f.is_schema()) {
        match (f.operation.as_str(), f.kind.as_str()) {
            ("readBalance" | "addBalance", "response") if f.body["success"] != true => {
                bad.push(format!("{}: success must be true", f.name));
            }
            ("createCustomer", "response")
                if f.body["customerId"].as_str().is_none_or(str::is_empty) =>
            {
                bad.push(format!("{}: customerId must be a non-empty string", f.name));
            }
            (_, "error") if f.body["error"].as_str().is_none_or(str::is_empty) => {
                bad.push(format!("{}: error must be a non-empty string", f.name));
            }
            ("read_customer", "response") => {
                let c = &f.body["customer"];
                let tracks = c["cardTracks"].as_array().into_iter().flatten();
                if !tracks
                    .clone()
                    .all(|t| t["card"].is_string() && t["track"].is_string())
                {
                    bad.push(format!(
                        "{}: cardTracks items are {{card, track}} strings",
                        f.name
                    ));
                }
                let installs = c["cardInstalls"].as_array().into_iter().flatten();
                if !installs
                    .clone()
                    .all(|t| t["card"].is_string() && t["install"].is_boolean())
                {
                    bad.push(format!(
                        "{}: cardInstalls items are {{card, install: bool}}",
                        f.name
                    ));
                }
            }
            ("read_customers", "response")
                if f.body["customers"].as_array().is_none_or(|c| c.len() > 100) =>
            {
                bad.push(format!(
                    "{}: customers is an array of at most 100 phones",
                    f.name
                ));
            }
            _ => {}
        }
    }
    check(bad);
}

#[test]
fn both_vendor_versions_are_kept() {
    let names: BTreeSet<String> = fixtures().into_iter().map(|f| f.name).collect();
    for pair in [
        [
            "readBalance/numbers-as-strings.response",
            "readBalance/numbers.response",
        ],
        [
            "addBalance/lifetime-seconds.hook",
            "addBalance/lifetime-days.hook",
        ],
        [
            "user_create_or_update/schema.request",
            "user_create_or_update/schema-with-card-track.request",
        ],
        [
            "read_customer/schema.request",
            "read_customer/schema-with-card.request",
        ],
        [
            "read_customer/numbers-as-strings.response",
            "read_customer/numbers-with-template.response",
        ],
    ] {
        for name in pair {
            assert!(names.contains(name), "missing fixture {name}");
        }
    }
    let by_name = |n: &str| fixtures().into_iter().find(|f| f.name == n).map(|f| f.body);
    let with_track =
        by_name("user_create_or_update/schema-with-card-track.request").expect("present");
    let without = by_name("user_create_or_update/schema.request").expect("present");
    assert!(with_track.get("card_track").is_some() && without.get("card_track").is_none());
    let v2 = by_name("read_customer/numbers-with-template.response").expect("present");
    assert!(v2["customer"].get("template_uuid").is_some());
}
