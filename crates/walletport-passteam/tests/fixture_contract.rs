//! The Passteam contract as data: every fixture generated from `docs/providers/passteam.md`
//! (by `cargo xtask fixtures`) satisfies the invariants that reference states.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Map, Value};
use walletport_testkit::fixtures::{
    self, Fixture, check, is_dd_mm_yyyy, is_dd_mm_yyyy_hh_mm_ss, is_e164,
};

fn fixture_dir() -> PathBuf {
    fixtures::dir(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> Vec<Fixture> {
    fixtures::load(&fixture_dir())
}

/// Every object at any depth that has all of `keys`.
fn objects_with<'a>(value: &'a Value, keys: &[&str]) -> Vec<&'a Map<String, Value>> {
    fn walk<'a>(value: &'a Value, keys: &[&str], out: &mut Vec<&'a Map<String, Value>>) {
        match value {
            Value::Object(map) => {
                if keys.iter().all(|k| map.contains_key(*k)) {
                    out.push(map);
                }
                map.values().for_each(|v| walk(v, keys, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, keys, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, keys, &mut out);
    out
}

fn is_object_id(text: &str) -> bool {
    text.len() == 24 && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// `application/x-www-form-urlencoded` decoding, enough to compare a literal body with fields.
fn decode_urlencoded(raw: &str) -> Option<Vec<(String, String)>> {
    fn decode(part: &str) -> Option<String> {
        let bytes = part.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'%' => {
                    let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 3;
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).ok()
    }
    raw.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

#[test]
fn index_lists_every_fixture_file_and_only_known_kinds() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 20, "{} fixtures", fixtures.len());
    fixtures::assert_index_matches_files(&fixture_dir(), &fixtures);
    let bad = fixtures::unknown_kinds(
        &fixtures,
        &["response", "error", "webhook", "form"],
        "Passteam",
    );
    check(bad);
}

#[test]
fn envelopes_have_exactly_their_four_members() {
    let mut bad = Vec::new();
    for f in fixtures()
        .iter()
        .filter(|f| f.kind == "response" || f.kind == "error")
    {
        let keys: BTreeSet<&str> = f
            .body
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        if keys != BTreeSet::from(["code", "error", "message", "result"]) {
            bad.push(format!("{}: envelope members {keys:?}", f.name));
            continue;
        }
        let code = f.body["code"].as_u64();
        if f.kind == "response" {
            if f.body["error"] != false || code != Some(200) || f.body["message"] != "OK" {
                bad.push(format!(
                    "{}: a success has error false, code 200, message OK",
                    f.name
                ));
            }
        } else if f.body["error"] != true
            || code.is_none_or(|c| c < 400)
            || !f.body["result"].is_null()
        {
            bad.push(format!(
                "{}: a failure has error true, code >= 400, result null",
                f.name
            ));
        }
        if f.body["message"].as_str().is_none_or(str::is_empty) {
            bad.push(format!("{}: message must be a non-empty string", f.name));
        }
    }
    check(bad);
}

/// Fields of one format: their keys, the check of each value, and what the value must be.
type FieldRule = (&'static [&'static str], fn(&Value) -> bool, &'static str);

/// The card fields of a fixed format.
const CARD_FIELD_RULES: [FieldRule; 5] = [
    (
        &[
            "cardCode",
            "cardUrl",
            "appleUrl",
            "googleUrl",
            "qrcodeUrl",
            "expirationDate",
            "strip",
            "logo",
            "icon",
            "importUid",
        ],
        Value::is_string,
        "a string",
    ),
    (
        &["cardId", "templateId"],
        |v| v.as_str().is_some_and(is_object_id),
        "24 hex characters",
    ),
    (
        &["deviceRegistered", "installed"],
        Value::is_boolean,
        "a bool",
    ),
    (
        &["voided", "installedGPay", "installedAW"],
        |v| v.as_u64().is_some_and(|n| n <= 1),
        "0 or 1",
    ),
    (
        &["created", "updated"],
        |v| v.as_str().is_some_and(is_dd_mm_yyyy_hh_mm_ss),
        "dd.mm.yyyy HH:MM:SS",
    ),
];

#[test]
fn card_objects_have_every_field_in_format() {
    let mut bad = Vec::new();
    let mut cards_seen = 0;
    for f in fixtures() {
        for card in objects_with(&f.body, &["cardId", "cardUrl"]) {
            cards_seen += 1;
            let mut fail = |what: &str| bad.push(format!("{}: card {what}", f.name));
            for (keys, ok, what) in CARD_FIELD_RULES {
                for key in keys {
                    if !card.get(*key).is_some_and(ok) {
                        fail(&format!("`{key}` must be {what}"));
                    }
                }
            }
            let phone = card.get("phoneNumber").and_then(Value::as_str);
            if !phone.is_some_and(|p| p.is_empty() || is_e164(p)) {
                fail("`phoneNumber` must be empty or E.164");
            }
            let email = card.get("email").and_then(Value::as_str);
            if !email.is_some_and(|e| e.is_empty() || e.contains('@')) {
                fail("`email` must be empty or an address");
            }
            let values = card.get("values").and_then(Value::as_object);
            if !values.is_some_and(|v| {
                v.iter()
                    .all(|(k, v)| !k.trim_matches('%').is_empty() && v.is_string())
            }) {
                fail("`values` must map variable names to strings");
            }
        }
    }
    assert!(
        cards_seen >= 7,
        "every card-bearing example is checked: {cards_seen}"
    );
    check(bad);
}

#[test]
fn template_objects_have_their_fields() {
    let mut bad = Vec::new();
    let types = [
        "text",
        "phone",
        "email",
        "date",
        "date_time",
        "list",
        "flag",
        "number",
    ];
    let mut seen = 0;
    for f in fixtures() {
        for t in objects_with(&f.body, &["templateId", "fields"]) {
            seen += 1;
            if !t
                .get("templateId")
                .and_then(Value::as_str)
                .is_some_and(is_object_id)
            {
                bad.push(format!("{}: templateId must be 24 hex characters", f.name));
            }
            if !t.get("cardsCount").is_some_and(Value::is_u64)
                || !t.get("vacant").is_some_and(Value::is_boolean)
            {
                bad.push(format!("{}: cardsCount is a count, vacant a bool", f.name));
            }
            let fields = t
                .get("fields")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            for field in fields {
                let ok = field["title"].is_string()
                    && field["name"].is_string()
                    && field["type"].as_str().is_some_and(|ty| types.contains(&ty));
                if !ok {
                    bad.push(format!(
                        "{}: template field {field} needs title, name and a known type",
                        f.name
                    ));
                }
            }
            let counter = &t["devicesCounter"];
            let platforms: Option<u64> = ["0", "1", "2"].iter().map(|k| counter[*k].as_u64()).sum();
            if platforms.is_none() || platforms != counter["summ"].as_u64() {
                bad.push(format!(
                    "{}: devicesCounter.summ must be the sum of the platforms",
                    f.name
                ));
            }
        }
    }
    assert_eq!(seen, 2, "gettemplate and gettemplates");
    check(bad);
}

#[test]
fn pagination_is_consistent() {
    let fixtures = fixtures();
    let pages: Vec<_> = fixtures
        .iter()
        .filter(|f| f.operation == "getcardswithpagination" && f.kind == "response")
        .collect();
    assert!(!pages.is_empty());
    for f in pages {
        let r = &f.body["result"];
        let (Some(count), Some(pages), Some(cards)) = (
            r["cardsCount"].as_u64(),
            r["pageCount"].as_u64(),
            r["cards"].as_array(),
        ) else {
            panic!("{}: cardsCount, pageCount and cards are required", f.name);
        };
        assert!(cards.len() <= 50, "{}: at most 50 cards per page", f.name);
        assert!(
            count <= pages * 50 && count > (pages - 1) * 50,
            "{}: {count} cards do not fill {pages} pages",
            f.name
        );
        let (prev, next) = (r["previouslyPage"].as_u64(), r["nextPage"].as_u64());
        assert!(
            prev.zip(next)
                .is_some_and(|(p, n)| p + 2 == n && n <= pages),
            "{}: pages {prev:?}/{next:?}",
            f.name
        );
    }
}

#[test]
fn webhooks_carry_id_event_and_card() {
    let events = [
        "createCard",
        "updateCard",
        "deleteCard",
        "installCard",
        "unInstallCard",
    ];
    let mut bad = Vec::new();
    let hooks: Vec<Fixture> = fixtures()
        .into_iter()
        .filter(|f| f.kind == "webhook")
        .collect();
    assert!(!hooks.is_empty());
    for f in hooks {
        if !f.body["webhookId"].as_str().is_some_and(is_object_id) {
            bad.push(format!("{}: webhookId must be 24 hex characters", f.name));
        }
        if !f.body["event"]
            .as_str()
            .is_some_and(|e| events.contains(&e))
        {
            bad.push(format!("{}: unknown event {}", f.name, f.body["event"]));
        }
        if !f.body["card"]["cardId"].is_string() {
            bad.push(format!("{}: card object missing", f.name));
        }
    }
    check(bad);
}

#[test]
fn forms_are_ordered_pairs_with_valid_values() {
    let mut bad = Vec::new();
    let forms: Vec<Fixture> = fixtures()
        .into_iter()
        .filter(|f| f.kind == "form")
        .collect();
    assert!(
        forms.len() >= 5,
        "urlencoded and multipart forms of createcard and updatecard"
    );
    for f in forms {
        let content_type = f.body["content_type"].as_str().unwrap_or_default();
        if !["application/x-www-form-urlencoded", "multipart/form-data"].contains(&content_type) {
            bad.push(format!("{}: content_type `{content_type}`", f.name));
        }
        let Some(pairs) = f.body["fields"].as_array().map(|items| {
            items
                .iter()
                .filter_map(|p| match p.as_array().map(Vec::as_slice) {
                    Some([Value::String(k), Value::String(v)]) => Some((k.clone(), v.clone())),
                    _ => None,
                })
                .collect::<Vec<_>>()
        }) else {
            bad.push(format!("{}: fields must be an array", f.name));
            continue;
        };
        if pairs.len() != f.body["fields"].as_array().map_or(0, Vec::len) {
            bad.push(format!(
                "{}: every field is a [name, value] pair of strings",
                f.name
            ));
        }
        let first = match f.operation.as_str() {
            "createcard" => "templateId",
            "updatecard" => "cardId",
            other => {
                bad.push(format!("{}: no form documented for {other}", f.name));
                continue;
            }
        };
        match pairs.first() {
            Some((k, v)) if k == first && is_object_id(v) => {}
            _ => bad.push(format!(
                "{}: the first field is `{first}` with a 24-hex id",
                f.name
            )),
        }
        for (name, value) in pairs.iter().skip(1) {
            let Some(var) = name
                .strip_prefix("values[%")
                .and_then(|n| n.strip_suffix("%]"))
            else {
                bad.push(format!("{}: field `{name}` is not values[%NAME%]", f.name));
                continue;
            };
            let ok = match var {
                "PHONE" => is_e164(value),
                "BIRTHDAY" => is_dd_mm_yyyy(value),
                "EMAIL" => value.contains('@'),
                "BONUS" | "BALANCE" | "DISCOUNT" => value.parse::<u64>().is_ok(),
                _ => !value.is_empty(),
            };
            if !ok {
                bad.push(format!("{}: `{value}` is not a valid {var}", f.name));
            }
        }
        if let Some(raw) = f.body.get("raw") {
            let decoded = raw.as_str().and_then(decode_urlencoded);
            if content_type != "application/x-www-form-urlencoded"
                || decoded.as_ref() != Some(&pairs)
            {
                bad.push(format!(
                    "{}: raw does not decode to fields: {decoded:?}",
                    f.name
                ));
            }
        }
    }
    check(bad);
}

#[test]
fn duplicate_failures_name_the_cards() {
    let fixtures = fixtures();
    let dup = fixtures
        .iter()
        .find(|f| f.name == "createcard/duplicate-value.error")
        .expect("documented");
    assert_eq!(dup.body["code"], 409);
    let message = dup.body["message"].as_str().unwrap_or_default();
    let ids: Vec<&str> = message
        .rsplit_once("Duplicated cards:")
        .map(|(_, ids)| ids.split_whitespace().collect())
        .unwrap_or_default();
    assert!(
        !ids.is_empty() && ids.iter().all(|id| is_object_id(id)),
        "{message}"
    );
}
