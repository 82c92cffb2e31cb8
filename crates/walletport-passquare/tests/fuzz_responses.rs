//! Fuzzing every Passquare response parser in the normal test suite (the proptest equivalent of
//! `fuzz/fuzz_targets/passquare_response.rs`): arbitrary bytes under any status, structure-aware
//! JSON (objects with the real answer keys holding random value types), and the documented
//! answers (`tests/fixtures/*/*.response.json`) with random values swapped in at random places.
//!
//! Properties: no parser panics; every failure is a typed `walletport_core::Error` that keeps the
//! vendor's raw answer (`vendor().status` is the HTTP status); and a non-2xx answer is never
//! taken for a success.

use proptest::prelude::*;
use serde_json::Value;
use walletport_core::{
    Campaign, CampaignId, Channel, Customer, ErrorKind, ListCustomers, Phone, UpsertCustomer,
};
use walletport_http::HttpResponse;
use walletport_passquare::mapping;
use walletport_testkit::{fixtures, fuzz};

/// Keys of Passquare's answers (and the customer blocks inside them).
const KEYS: &[&str] = &[
    "success",
    "error",
    "message",
    "app",
    "balance",
    "sms_send",
    "card",
    "card_number",
    "card_track",
    "card_url",
    "card_gpay_url",
    "form_url",
    "user_hash",
    "customer",
    "customers",
    "result",
    "name",
    "uuid",
    "recipients",
    "phone",
    "email",
    "surname",
    "middlename",
    "birthday",
    "cardNumbers",
    "cardTracks",
    "cardInstalls",
    "track",
    "install",
    "bonus",
    "discount",
    "remoteId",
    "customerId",
    "invitedBy",
    "invites",
    "template_uuid",
    "promo",
    "extra",
];

/// Runs every parser on `resp`; checks the properties of each outcome.
fn check_all(resp: &HttpResponse) -> Result<(), TestCaseError> {
    let phone = Phone::parse("+420000000001").map_err(|e| TestCaseError::fail(e.to_string()))?;
    let upsert = UpsertCustomer::new(Customer::new(phone));
    let campaign = Campaign {
        message: "hello".into(),
        channel: Channel::Wallet,
        name: None,
        segment: None,
    };
    let id = CampaignId::new("00000000-0000-0000-0000-000000000000")
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let outcomes: Vec<(&str, Result<(), walletport_core::Error>)> = vec![
        ("check", mapping::check_response(resp)),
        ("status", mapping::parse_status_response(resp).map(drop)),
        ("upsert", mapping::parse_upsert_response(resp).map(drop)),
        (
            "upsert_customer",
            mapping::parse_upsert_customer_response(resp, &upsert).map(drop),
        ),
        (
            "read_customer",
            mapping::parse_read_customer_response(resp).map(drop),
        ),
        (
            "list",
            mapping::parse_list_response(resp, &ListCustomers::default()).map(drop),
        ),
        ("push", mapping::parse_push_response(resp).map(drop)),
        (
            "campaign_create",
            mapping::parse_campaign_create_response(resp, &campaign).map(drop),
        ),
        (
            "campaign_send",
            mapping::parse_campaign_send_response(resp, &id, Some(&campaign)).map(drop),
        ),
    ];
    for (name, outcome) in outcomes {
        match outcome {
            Ok(()) => prop_assert!(
                resp.is_success(),
                "{name}: HTTP {} taken for a success",
                resp.status
            ),
            Err(e) => {
                prop_assert!(
                    !matches!(e.kind(), ErrorKind::Unsupported | ErrorKind::ConfigInvalid),
                    "{name}: {e:?}"
                );
                let kept = e.vendor().and_then(|v| v.status);
                prop_assert_eq!(
                    kept,
                    Some(resp.status),
                    "{}: raw answer not kept: {:?}",
                    name,
                    e
                );
            }
        }
    }
    Ok(())
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        6 => Just(200u16),
        3 => prop::sample::select(vec![201u16, 204, 301, 400, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503, 504]),
        1 => 100u16..600,
    ]
}

/// Passquare's strings on the parsers' edges: flags as text, phones with and without `+`,
/// decimals in every form, both date forms and an impossible date, its error messages.
const EDGE_STRINGS: &[&str] = &[
    "true",
    "false",
    "1",
    "0",
    "yes",
    "+420000000001",
    "420000000001",
    "12,5",
    "79228162514264337593543950336",
    "25.01.1980",
    "1980-01-25",
    "31.02.2001",
    "Too many requests",
    "Invalid app_key",
    "not found",
    "00000000-0000-0000-0000-000000000000",
];

/// What the bodies are made of, for the shared generators.
const VOCABULARY: fuzz::Vocabulary = fuzz::Vocabulary {
    keys: KEYS,
    other_keys: "[a-z_]{1,10}",
    edge_strings: EDGE_STRINGS,
};

/// A documented answer with up to four nodes replaced by random JSON.
fn mutated_fixture() -> impl Strategy<Value = Value> {
    fuzz::mutated(documented(), fuzz::keyed_json(VOCABULARY))
}

/// The documented answers (`tests/fixtures/*/*.response.json`, `*.error.json`).
fn documented() -> Vec<Value> {
    fuzz::documented_answers(&fixtures::dir(env!("CARGO_MANIFEST_DIR")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(status in status(), body in prop::collection::vec(any::<u8>(), 0..400)) {
        check_all(&HttpResponse::new(status, body))?;
    }

    #[test]
    fn structured_json(status in status(), body in fuzz::keyed_json(VOCABULARY)) {
        check_all(&HttpResponse::json_body(status, &body))?;
    }

    #[test]
    fn mutated_documented_answers(status in status(), body in mutated_fixture()) {
        check_all(&HttpResponse::json_body(status, &body))?;
    }
}

#[test]
fn the_documented_answers_pass_the_same_checks() {
    for body in documented() {
        for status in [200, 400, 429, 503] {
            let resp = HttpResponse::json_body(status, &body);
            if let Err(e) = check_all(&resp) {
                panic!("{body}: {e}");
            }
        }
    }
}
