//! Fuzzing every Skycore response parser in the normal test suite (the proptest equivalent of
//! `fuzz/fuzz_targets/skycore_response.rs`): arbitrary bytes under any status, structure-aware
//! JSON (envelopes with the real keys — `status`, `error-code`, `pass-data`, `pass-template`, ...
//! — holding random value types), and the documented answers (`tests/fixtures/*/*.response.json`,
//! `*.error.json`) with random values swapped in at random places.
//!
//! Properties: no parser panics; every failure is a typed `walletport_core::Error` stamped with
//! the provider; a failure answer (non-2xx) keeps the vendor's status in `vendor()`; a non-2xx
//! answer is never taken for a success.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Map, Value};
use walletport_core::{ErrorKind, Template};
use walletport_http::HttpResponse;
use walletport_skycore::SkycoreConfig;
use walletport_skycore::mapping::{self, link, pass, template};

/// Keys of Skycore's envelopes, pass data and templates.
const KEYS: &[&str] = &[
    "status",
    "error-code",
    "error-message",
    "pass-data",
    "pass-id",
    "pass-install-url",
    "pass-template",
    "pass-template-id",
    "pass-template-name",
    "pass-template-type",
    "pass-type",
    "pass-issuance-link-template-id",
    "pass-name",
    "pass-status",
    "pass-issuer",
    "preview-url",
    "tracking-id",
    "account-id",
    "account-name",
    "barcode-text",
    "barcode-value",
    "card-issuer",
    "custom-field-1",
    "description",
    "expiration-timestamp",
    "expiration-timezone",
    "home-page-uri",
    "home-page-URI",
    "ibeacons",
    "info-module",
    "key",
    "latitude",
    "longitude",
    "link1",
    "link1-URI",
    "link2",
    "link2-URI",
    "logo-url",
    "loyalty-points",
    "major",
    "minor",
    "message1",
    "message2",
    "message3",
    "organization",
    "program-logo",
    "program-name",
    "proximity-uuid",
    "relevant-locations",
    "relevant-text",
    "rewards-tier",
    "secondary-loyalty-points",
    "secondary-rewards-tier",
    "strip-image",
    "strip-url",
    "text-module",
];

/// Runs every parser on `resp`; checks the properties of each outcome.
fn check_all(resp: &HttpResponse) -> Result<(), TestCaseError> {
    let config = SkycoreConfig::new("https://api.example.invalid/", "fuzz-api-key", "t-1");
    let sent = Template {
        id: None,
        name: "fuzz".into(),
        layout: None,
        fields: Vec::new(),
        settings: Map::new(),
    };
    let op = "fuzz";
    let outcomes: Vec<(&str, Result<(), walletport_core::Error>)> = vec![
        ("envelope", mapping::parse_envelope(resp, op).map(drop)),
        (
            "generatepass",
            pass::parse_generatepass_response(resp, op).map(drop),
        ),
        (
            "updatepassdata",
            pass::parse_updatepassdata_response(resp, op).map(drop),
        ),
        (
            "getpassdata",
            pass::parse_getpassdata_response(resp, op).map(drop),
        ),
        (
            "issuance_link",
            link::parse_issuance_link_response(resp, op).map(drop),
        ),
        (
            "template_create",
            template::parse_template_write_response(resp, &sent, &config, true).map(drop),
        ),
        (
            "template_update",
            template::parse_template_write_response(resp, &sent, &config, false).map(drop),
        ),
        (
            "gettemplate",
            template::parse_getpasstemplate_response(resp, &config).map(drop),
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
                prop_assert_eq!(e.provider(), Some("skycore"), "{}: {:?}", name, e);
                // A failure answer keeps the vendor's status. (A 2xx whose pass data does not
                // decode, e.g. `"ibeacons": false`, is `Unexpected` without it: noted in
                // docs/benchmarks.md, Fuzzing.)
                if !resp.is_success() {
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

fn edge_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            " ",
            "Success",
            "SUCCESS",
            "success",
            "Failure",
            "FAILURE",
            "E922",
            "E1543",
            "E100",
            "already exists",
            "loyalty-card",
            "loyalty-card-type2",
            "voided",
            "active",
            "1-2-2019 4.50pm",
            "Europe/Oslo",
            "Mars/Olympus",
            "1e308",
            "NaN",
            "\u{0}",
        ])
        .prop_map(str::to_owned),
        ".{0,24}",
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        edge_string().prop_map(Value::String),
    ]
}

/// Any JSON whose object keys are mostly the real ones.
fn keyed_json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 8, |inner| {
        let key = prop_oneof![
            5 => prop::sample::select(KEYS).prop_map(str::to_owned),
            1 => "[a-z-]{1,12}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// The documented answers, for mutation.
fn fixtures() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for op in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(op.path()).into_iter().flatten().flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            if name.ends_with(".response.json") || name.ends_with(".error.json") {
                let text = std::fs::read_to_string(file.path()).unwrap_or_default();
                if let Ok(v) = serde_json::from_str(&text) {
                    out.push(v);
                }
            }
        }
    }
    out
}

/// Every node's path in `v` (object keys and array indexes), pre-order.
fn paths(v: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(prefix.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                prefix.push(Value::from(k.as_str()));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                prefix.push(Value::from(i));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn node_mut<'a>(v: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |node, seg| match seg {
        Value::String(k) => node.get_mut(k.as_str()),
        Value::Number(i) => node.get_mut(usize::try_from(i.as_u64()?).ok()?),
        _ => None,
    })
}

/// A fixture with up to four nodes replaced by random JSON.
fn mutated_fixture() -> impl Strategy<Value = Value> {
    let all = fixtures();
    assert!(!all.is_empty(), "the fixtures are readable");
    (
        prop::sample::select(all),
        prop::collection::vec((any::<prop::sample::Index>(), keyed_json()), 1..5),
    )
        .prop_map(|(mut v, edits)| {
            for (at, new) in edits {
                let mut all_paths = Vec::new();
                paths(&v, &mut Vec::new(), &mut all_paths);
                let path = at.get(&all_paths).clone();
                if let Some(node) = node_mut(&mut v, &path) {
                    *node = new;
                }
            }
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(status in status(), body in prop::collection::vec(any::<u8>(), 0..400)) {
        check_all(&HttpResponse::new(status, body))?;
    }

    #[test]
    fn structured_json(status in status(), body in keyed_json()) {
        check_all(&HttpResponse::json_body(status, &body))?;
    }

    #[test]
    fn mutated_documented_answers(status in status(), body in mutated_fixture()) {
        check_all(&HttpResponse::json_body(status, &body))?;
    }
}

#[test]
fn the_documented_answers_pass_the_same_checks() {
    for body in fixtures() {
        for status in [200, 400, 429, 503] {
            let resp = HttpResponse::json_body(status, &body);
            if let Err(e) = check_all(&resp) {
                panic!("{body}: {e}");
            }
        }
    }
}
