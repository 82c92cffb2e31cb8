//! Every Passquare fixture of `docs/providers/passquare.md` against the adapter: requests built for
//! the matching domain input equal the fixture (as JSON values, amounts as numbers, phones as
//! E.164), responses and hook bodies parse into the snapshotted domain values, hook answers encode
//! to the documented shapes. A test at the end fails when a fixture is not covered here.

#[path = "support/inputs.rs"]
mod inputs;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use inputs::{
    campaign, config, hooks_config, joe, list_customers, pct, phone, pushes, sms, upsert,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use walletport_core::{
    Balance, BalanceUpdate, CampaignId, CustomerId, HookContext, Phone, TemplateId,
};
use walletport_http::{HttpRequest, HttpResponse};
use walletport_passquare::hooks::{
    HookCall, encode_balance_response, encode_credit_response, encode_error,
    encode_register_response, parse_hook,
};
use walletport_passquare::mapping::{self, Lookup, UpsertExtras};
use walletport_passquare::{LifetimeUnit, NumberMode};

static COVERED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture(name: &str) -> Value {
    COVERED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(name.to_owned());
    let text = std::fs::read_to_string(dir().join(format!("{name}.json")))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn response(name: &str) -> HttpResponse {
    HttpResponse::json_body(200, &fixture(name))
}

const AMOUNTS: &[&str] = &["balance", "bonus", "discount", "sum"];

/// JSON equality with the reference's rules: amounts compare as decimals whatever their form,
/// phones as E.164.
fn same(key: &str, a: &Value, b: &Value) -> bool {
    let dec = |v: &Value| match v {
        Value::String(s) => Decimal::from_str(s).ok(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        _ => None,
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same(k, v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(key, v, w))
        }
        _ if AMOUNTS.contains(&key) => dec(a).is_some() && dec(a) == dec(b),
        (Value::String(x), Value::String(y)) if key == "phone" => {
            Phone::parse(x).ok() == Phone::parse(y).ok()
        }
        _ => a == b,
    }
}

fn assert_same(built: &Value, want: &Value) {
    assert!(same("", built, want), "built {built:#}\nwant  {want:#}");
}

fn body(req: &HttpRequest) -> Value {
    req.body_json().expect("request body is JSON")
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn status_request_and_responses() {
    let mut c = config(NumberMode::String);
    c.app_key = "private_key".to_owned().into();
    let req = mapping::build_status_request(&c).expect("build");
    assert_same(&body(&req), &fixture("status/default.request"));
    let a = mapping::parse_status_response(&response("status/numbers-as-strings.response"));
    let b = mapping::parse_status_response(&response("status/numbers.response"));
    let a = a.expect("parse");
    assert_eq!(Some(a.clone()), b.ok());
    insta::assert_json_snapshot!("status_response", a);
}

#[test]
fn upsert_requests_in_both_number_modes() {
    for (mode, case) in [
        (NumberMode::String, "numbers-as-strings"),
        (NumberMode::Number, "numbers"),
    ] {
        let c = config(mode);
        let create = upsert(joe((1980, 11, 11)), "100", "3.50", "0");
        let req = mapping::build_upsert_request(&create, &sms(), &c).expect("build");
        assert!(!req.idempotent, "an SMS is not sent twice");
        assert_same(
            &body(&req),
            &fixture(&format!("user_create_or_update/create-{case}.request")),
        );

        let curl = upsert(joe((1980, 5, 3)), "200", "5", "0");
        let req =
            mapping::build_upsert_request(&curl, &UpsertExtras::default(), &c).expect("build");
        assert!(req.idempotent, "an upsert by phone may be repeated");
        assert_same(
            &body(&req),
            &fixture(&format!("user_create_or_update/curl-{case}.request")),
        );

        let php = upsert(joe((1980, 5, 3)), "100", "4.5", "0");
        let req = mapping::build_upsert_request(&php, &UpsertExtras::default(), &c).expect("build");
        assert_same(
            &body(&req),
            &fixture(&format!("user_create_or_update/php-{case}.request")),
        );
        // Number mode really sends numbers, string mode strings.
        let sent = body(&req);
        assert_eq!(sent["bonus"].is_number(), mode == NumberMode::Number);
    }
    let update = BalanceUpdate {
        points: Some(Decimal::from(120)),
        ..BalanceUpdate::default()
    };
    let req = mapping::build_balance_set_request(&phone(), &update, &config(NumberMode::Number))
        .expect("build");
    assert_same(
        &body(&req),
        &fixture("user_create_or_update/balance-only-numbers.request"),
    );
}

#[test]
fn upsert_request_uses_exactly_the_documented_keys() {
    let mut input = upsert(joe((1980, 11, 11)), "1", "1", "1");
    input.template = Some(TemplateId::new("00000000-0000-0000-0000-000000000000").expect("id"));
    input.customer.id = Some(CustomerId::new("6326").expect("id"));
    let c = config(NumberMode::String);
    let req = mapping::build_upsert_request(&input, &sms(), &c).expect("build");
    assert_eq!(
        keys(&body(&req)),
        keys(&fixture("user_create_or_update/schema.request"))
    );
    let extras = UpsertExtras {
        card_track: Some("7862374687".into()),
        ..sms()
    };
    let req = mapping::build_upsert_request(&input, &extras, &c).expect("build");
    assert_eq!(
        keys(&body(&req)),
        keys(&fixture(
            "user_create_or_update/schema-with-card-track.request"
        ))
    );
}

#[test]
fn pushes_carry_only_phone_and_message() {
    let c = config(NumberMode::String);
    for (case, message) in pushes() {
        let req = mapping::build_push_request(&phone(), &message, &c).expect("build");
        assert!(!req.idempotent, "a push is never retried");
        let sent = body(&req);
        assert_eq!(sent.as_object().map(|m| m.len()), Some(3), "{sent}");
        assert_same(
            &sent,
            &fixture(&format!("user_create_or_update/{case}.request")),
        );
    }
}

#[test]
fn upsert_response_becomes_a_card() {
    let outcome =
        mapping::parse_upsert_response(&response("user_create_or_update/schema.response"))
            .expect("parse");
    insta::assert_json_snapshot!("upsert_response_card", outcome.card);
    assert_eq!(outcome.sms_sent, Some(true));
}

#[test]
fn read_customer_requests_and_responses() {
    let c = config(NumberMode::String);
    let by_phone = mapping::build_read_customer_request(&Lookup::Phone(phone()), true, true, &c)
        .expect("build");
    // `card` exists only in the examples version: the 2.7.5 default sends no such request.
    let refused = mapping::build_read_customer_request(&Lookup::Card("120".into()), true, true, &c)
        .expect_err("2.7.5 knows only the phone");
    assert_eq!(refused.kind(), walletport_core::ErrorKind::Unsupported);
    assert!(refused.message().contains("card_lookup"), "{refused}");
    let by_card = mapping::build_read_customer_request(
        &Lookup::Card("120".into()),
        true,
        true,
        &config(NumberMode::Number),
    )
    .expect("build");
    assert_eq!(
        keys(&body(&by_phone)),
        keys(&fixture("read_customer/schema.request"))
    );
    let union: BTreeSet<String> = keys(&body(&by_phone))
        .union(&keys(&body(&by_card)))
        .cloned()
        .collect();
    assert_eq!(
        union,
        keys(&fixture("read_customer/schema-with-card.request"))
    );
    assert!(by_phone.idempotent && by_card.idempotent);

    let strings = mapping::parse_read_customer_response(&response(
        "read_customer/numbers-as-strings.response",
    ))
    .expect("parse");
    let numbers = mapping::parse_read_customer_response(&response(
        "read_customer/numbers-with-template.response",
    ))
    .expect("parse");
    let mut without_template = numbers.clone();
    for card in &mut without_template.cards {
        card.template = None;
    }
    assert_eq!(strings, without_template, "both versions decode alike");
    insta::assert_json_snapshot!("read_customer_response", numbers);
}

#[test]
fn read_customers_request_and_response() {
    let input = list_customers();
    let req = mapping::build_list_request(&input, &config(NumberMode::String)).expect("build");
    assert_same(&body(&req), &fixture("read_customers/default.request"));
    let page = mapping::parse_list_response(&response("read_customers/default.response"), &input)
        .expect("parse");
    assert_eq!(page.next, None, "fewer than 100 is the last page");
    insta::assert_json_snapshot!("read_customers_response", page);
}

#[test]
fn campaign_requests_and_response() {
    let campaign = campaign();
    let c = config(NumberMode::String);
    let req = mapping::build_campaign_create_request(&campaign, &c).expect("build");
    assert_eq!(
        keys(&body(&req)),
        keys(&fixture("push_create/schema.request"))
    );
    assert!(!req.idempotent);
    let record = mapping::parse_campaign_create_response(
        &response("push_create/default.response"),
        &campaign,
    )
    .expect("parse");
    insta::assert_json_snapshot!("push_create_response", record);
    let id = CampaignId::new("00000000-0000-0000-0000-000000000000").expect("id");
    let req = mapping::build_campaign_send_request(&id, &c).expect("build");
    assert!(!req.idempotent);
    assert_same(&body(&req), &fixture("push_send/default.request"));
}

fn hook(name: &str, unit: LifetimeUnit) -> HookCall {
    let bytes = serde_json::to_vec(&fixture(name)).expect("bytes");
    parse_hook(&bytes, HookContext::default(), &hooks_config(unit)).expect("hook parses")
}

#[test]
fn create_customer_hooks_and_answers() {
    let a = hook(
        "createCustomer/numbers-as-strings.hook",
        LifetimeUnit::Seconds,
    );
    let b = hook("createCustomer/numbers.hook", LifetimeUnit::Seconds);
    assert_eq!(a, b, "both versions decode alike");
    let HookCall::Register(r) = a else {
        panic!("not a createCustomer: {a:?}");
    };
    insta::assert_json_snapshot!(
        "create_customer_hook",
        json!({
            "customer": r.customer,
            "card_numbers": r.card_numbers,
            "card_tracks": r.card_tracks,
            "balance": r.balance,
            "context": r.context,
        })
    );
    let id = CustomerId::new("6d2845ff-0a07-11e7-25df-d8d18565926f").expect("id");
    assert_eq!(
        encode_register_response(&id),
        fixture("createCustomer/ok.response")
    );
    assert_eq!(
        encode_error("Detailed error description..."),
        fixture("createCustomer/failure.error")
    );
}

#[test]
fn balance_hooks_and_answers() {
    let call = hook("readBalance/default.hook", LifetimeUnit::Seconds);
    let HookCall::ReadBalance(r) = call else {
        panic!("not a readBalance: {call:?}");
    };
    assert_eq!(r.phone, phone());
    assert_eq!(r.card_numbers, vec!["120".to_owned()]);
    let balance = Balance {
        points: Decimal::from(5),
        bonus_percent: pct("12.5"),
        discount_percent: pct("17.88"),
    };
    let strings = encode_balance_response(&balance, NumberMode::String);
    assert_eq!(strings, fixture("readBalance/numbers-as-strings.response"));
    let numbers = encode_balance_response(&balance, NumberMode::Number);
    assert_eq!(numbers, fixture("readBalance/numbers.response"));

    for (name, unit, days) in [
        ("addBalance/lifetime-seconds.hook", LifetimeUnit::Seconds, 1),
        ("addBalance/lifetime-days.hook", LifetimeUnit::Days, 14),
    ] {
        let call = hook(name, unit);
        let HookCall::Credit(c) = call else {
            panic!("not an addBalance: {call:?}");
        };
        assert_eq!(c.credit.amount(), Decimal::from(50));
        assert_eq!(c.credit.transaction_id().as_str(), "id/guid");
        assert_eq!(
            c.credit.lifetime(),
            Some(std::time::Duration::from_secs(days * 86_400)),
            "{name}"
        );
    }
    assert_eq!(encode_credit_response(), fixture("addBalance/ok.response"));
}

#[test]
fn zz_every_fixture_is_covered() {
    // Run the others first (tests run in parallel; this one re-runs them to be independent).
    status_request_and_responses();
    upsert_requests_in_both_number_modes();
    upsert_request_uses_exactly_the_documented_keys();
    pushes_carry_only_phone_and_message();
    upsert_response_becomes_a_card();
    read_customer_requests_and_responses();
    read_customers_request_and_response();
    campaign_requests_and_response();
    create_customer_hooks_and_answers();
    balance_hooks_and_answers();
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(dir().join("index.json")).expect("index.json"),
    )
    .expect("index is JSON");
    let all: BTreeSet<String> = index["fixtures"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let covered = COVERED.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let missing: Vec<_> = all.difference(&covered).collect();
    assert!(missing.is_empty(), "fixtures without a test: {missing:?}");
}
