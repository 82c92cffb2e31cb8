//! Fuzzing the Passquare CRM hook body in the normal test suite (the proptest equivalent of
//! `fuzz/fuzz_targets/passquare_hook.rs`): arbitrary bytes, and structure-aware JSON — objects
//! with the real keys (`crm_key`, `method`, `customer.{phone, sum, transactionId, cardTracks,
//! ...}`) holding random value types — into the parser, the handler and the axum router over
//! real HTTP.
//!
//! Properties: nothing panics; a rejected body is a typed `walletport_core::Error` of kind
//! `InvalidInput` from the parser and a 4xx JSON `{"error": ...}` from the handler and router;
//! and a rejected call changes nothing (the `CrmHooks` behind it is never called).

use std::sync::{Arc, LazyLock};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Map, Value, json};
use walletport_core::{ErrorKind, HookContext};
use walletport_http::HeaderMap;
use walletport_passquare::PassquareHooksConfig;
use walletport_passquare::hooks::{HookRequest, handle_hook, hooks_router, parse_hook};
use walletport_testkit::fuzz;
use walletport_testkit::fuzz_hooks::{Counting, Served, envelope, runtime};

#[path = "support/keys.rs"]
mod keys;

const CRM_KEY: &str = "fuzz-crm-key-5b1e";

fn config() -> PassquareHooksConfig {
    PassquareHooksConfig::with_crm_key(CRM_KEY)
}

/// The keys of a hook's `customer` block (and of its nested card objects).
const CUSTOMER_KEYS: &[&str] = walletport_testkit::keys![
    &[
        "phone",
        "email",
        "name",
        "surname",
        "middlename",
        "middleName",
        "birthday",
        "cardNumbers",
        "cardTracks",
        "cardInstalls",
        "card",
        "track",
        "install",
        "balance",
    ],
    keys::LOYALTY,
    &[
        "referCustomerPhone",
        "extra",
        "sum",
        "transactionId",
        "lifetime",
    ]
];

/// Strings that sit on the parsers' edges: phones with and without `+`, decimals in every
/// documented form and some that overflow, both date forms and impossible dates.
const EDGE_STRINGS: &[&str] = &[
    "+420000000001",
    "420000000001",
    "+1",
    "+999999999999999999",
    "0",
    "-1",
    "12.5",
    "12,5",
    "1e3",
    "-1e-30",
    "inf",
    "79228162514264337593543950335",
    "79228162514264337593543950336",
    "25.01.1980",
    "1980-01-25",
    "31.02.2001",
    "99.99.9999",
    "createCustomer",
    "readBalance",
    "addBalance",
    CRM_KEY,
    "\u{202e}",
];

/// What the bodies are made of, for the shared generators.
const VOCABULARY: fuzz::Vocabulary = fuzz::Vocabulary {
    keys: CUSTOMER_KEYS,
    other_keys: "[a-zA-Z_]{1,10}",
    edge_strings: EDGE_STRINGS,
};

/// The shared scalars plus `u64`s (sums and lifetimes past `i64::MAX`), each of the six
/// equally likely.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        5 => fuzz::scalar(EDGE_STRINGS),
        1 => any::<u64>().prop_map(Value::from),
    ]
}

/// Any JSON whose objects mostly use the real keys; flatter than answers, as a hook's
/// `customer` block is.
fn keyed_json() -> impl Strategy<Value = Value> {
    let nesting = fuzz::Nesting {
        branch: 6,
        real_key_weight: 4,
        ..fuzz::Nesting::HOOKS
    };
    fuzz::keyed_json_with(VOCABULARY, scalar(), nesting)
}

/// The fields the three methods need, mostly with plausible values, each sometimes absent.
fn core_fields() -> impl Strategy<Value = Vec<(String, Value)>> {
    let phone = prop_oneof![
        3 => prop::sample::select(vec!["+420000000001", "420000000001", "+420 720 000 001"])
            .prop_map(Value::from),
        1 => scalar(),
    ];
    let sum = prop_oneof![
        2 => (0i64..1_000_000).prop_map(Value::from),
        2 => prop::sample::select(vec!["12.5", "12,5", "1e3", "-5", "0", "0.0000000001"])
            .prop_map(Value::from),
        1 => scalar(),
    ];
    let tx = prop_oneof![3 => "[a-z0-9-]{1,20}".prop_map(Value::from), 1 => scalar()];
    let lifetime = prop_oneof![any::<u32>().prop_map(Value::from), scalar()];
    (
        prop::option::weighted(0.8, phone),
        prop::option::weighted(0.7, sum),
        prop::option::weighted(0.7, tx),
        prop::option::weighted(0.3, lifetime),
    )
        .prop_map(|(phone, sum, tx, lifetime)| {
            [
                ("phone", phone),
                ("sum", sum),
                ("transactionId", tx),
                ("lifetime", lifetime),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect()
        })
}

/// A hook-shaped body: usually the right key and a real method, a `customer` of real keys.
fn hook_json() -> impl Strategy<Value = Value> {
    let crm_key = prop_oneof![
        6 => Just(json!(CRM_KEY)),
        1 => scalar(),
    ];
    let method = prop_oneof![
        6 => prop::sample::select(vec!["createCustomer", "readBalance", "addBalance"]).prop_map(Value::from),
        1 => scalar(),
    ];
    let customer = prop_oneof![
        6 => (
            prop::collection::btree_map(
                prop::sample::select(CUSTOMER_KEYS).prop_map(str::to_owned),
                keyed_json(),
                0..10,
            ),
            core_fields(),
        )
            .prop_map(|(random, core)| {
                let mut obj: Map<String, Value> = random.into_iter().collect();
                obj.extend(core);
                Value::Object(obj)
            }),
        1 => keyed_json(),
    ];
    envelope(
        ["crm_key", "method", "customer"],
        (crm_key, method, customer),
    )
}

/// The sans-IO handler's answer to `body` (no headers, no peer), and how many calls reached the
/// CRM side.
fn handle(body: &[u8]) -> (walletport_passquare::hooks::HookResponse, usize) {
    let hooks = Counting::default();
    let headers = HeaderMap::new();
    let request = HookRequest {
        body,
        headers: &headers,
        peer: None,
    };
    let answer = runtime().block_on(handle_hook(&hooks, &config(), request));
    (answer, hooks.calls())
}

/// Parser, then handler: the contract between them and "rejected changes nothing".
fn check_body(bytes: &[u8]) -> std::result::Result<(), TestCaseError> {
    let parsed = parse_hook(bytes, HookContext::default(), &config());
    if let Err(e) = &parsed {
        prop_assert_eq!(e.kind(), ErrorKind::InvalidInput, "{:?}", e);
        prop_assert!(!e.message().is_empty());
    }
    let (answer, calls) = handle(bytes);
    match answer.status {
        200 => {
            prop_assert!(parsed.is_ok(), "200 for a body the parser rejects");
            prop_assert_eq!(calls, 1);
        }
        400 | 401 | 413 => {
            prop_assert_eq!(calls, 0, "a rejected hook reached the CRM");
            prop_assert!(answer.body["error"].is_string(), "{}", answer.body);
        }
        other => prop_assert!(false, "unexpected status {other}: {}", answer.body),
    }
    if parsed.is_err() {
        prop_assert!(answer.status >= 400);
    }
    Ok(())
}

/// One router on a real port for all cases, with the CRM side it calls.
static SERVED: LazyLock<(Served, Arc<Counting>)> = LazyLock::new(|| {
    let hooks = Arc::new(Counting::default());
    (Served::start(hooks_router(hooks.clone(), config())), hooks)
});

/// Over HTTP: what the handler answers — a 4xx JSON error, or 200 for a valid authenticated
/// call — never a 5xx or a dropped connection.
fn check_http(bytes: Vec<u8>) -> std::result::Result<(), TestCaseError> {
    let (served, hooks) = &*SERVED;
    // What the sans-IO handler answers to the same bytes (its contract is `check_body`'s).
    let expected = handle(&bytes).0.status;
    let before = hooks.calls();
    let (status, body) = served.post(bytes);
    let calls = hooks.calls() - before;
    prop_assert!(
        matches!(status, 200 | 400 | 401 | 413),
        "status {status}: {body}"
    );
    prop_assert_eq!(
        status,
        expected,
        "the router and the handler disagree: {}",
        body
    );
    if status != 200 {
        prop_assert!(body["error"].is_string(), "{}", body);
        prop_assert_eq!(calls, 0);
    }
    Ok(())
}

walletport_testkit::fuzz_hooks! {
    check_body: check_body,
    bodies: {
        structured_hook_json_is_handled_or_rejected_cleanly: hook_json(),
        any_json_is_handled_or_rejected_cleanly: keyed_json(),
    },
    check_http: check_http,
    over_http: [hook_json()],
}

#[test]
fn the_generators_reach_the_handlers() {
    // Without valid calls among the cases the properties above would only ever see rejections.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = hook_json();
    let mut accepted = 0;
    for _ in 0..2_000 {
        let Ok(tree) = strategy.new_tree(&mut runner) else {
            continue;
        };
        let bytes = serde_json::to_vec(&tree.current()).unwrap_or_default();
        accepted += usize::from(parse_hook(&bytes, HookContext::default(), &config()).is_ok());
    }
    assert!(accepted > 0, "no generated hook body was valid");
}

#[test]
fn oversized_bodies_get_413_and_change_nothing() {
    let mut body = serde_json::to_vec(&json!({
        "crm_key": CRM_KEY, "method": "readBalance", "customer": {"phone": "+420000000001"}
    }))
    .unwrap_or_default();
    body.resize(walletport_passquare::hooks::MAX_BODY + 1, b' ');
    let (answer, calls) = handle(&body);
    assert_eq!(answer.status, 413);
    assert_eq!(calls, 0);
}
