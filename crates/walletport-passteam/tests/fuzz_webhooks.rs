//! Fuzzing the Passteam webhook body in the normal test suite (the proptest equivalent of
//! `fuzz/fuzz_targets/passteam_webhook.rs`): arbitrary bytes, structure-aware JSON (objects with
//! the real keys — `webhookId`, `event`, `card.{cardId, values, installedAW, ...}` — holding
//! random value types) and the documented webhook with random values swapped in, into the
//! parser, the inline handler and the axum router over real HTTP.
//!
//! Properties: nothing panics; a rejected body is a typed `walletport_core::Error` of kind
//! `InvalidInput` (parser and handler) or a 4xx JSON error (router), and never reaches the
//! `WalletEvents` behind it; an accepted webhook is handled once, its repeat not at all.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};
use walletport_core::ErrorKind;
use walletport_passteam::webhooks::{Delivery, handle_webhook};
use walletport_passteam::{FieldMap, MemoryDedup, parse_webhook, webhooks_router};
use walletport_testkit::fuzz;
use walletport_testkit::fuzz_hooks::{Counting, Served, envelope, runtime};

#[path = "support/keys.rs"]
mod keys;

const KEYS: &[&str] = walletport_testkit::keys![
    &["webhookId", "event", "card"],
    keys::CARD,
    &["strip", "logo", "icon"],
    keys::CARD_META,
    &[
        "%PHONE%",
        "%BONUS%",
        "%NUMBERCARD%",
        "%EMAIL%",
        "%BIRTHDAY%",
        "%DISCOUNT%",
        "%CLIENT_NAME%",
        "%POINTS%",
    ]
];

/// Webhook strings on the parser's edges: every event name (and a misspelt one), object ids,
/// phones with and without `+`, flags as text, a real and an impossible timestamp.
const EDGE_STRINGS: &[&str] = &[
    "createCard",
    "updateCard",
    "deleteCard",
    "installCard",
    "unInstallCard",
    "uninstallCard",
    "5e4515b1cea6c61fba2a4212",
    "+420000000001",
    "420000000001",
    "1",
    "0",
    "true",
    "false",
    "13.02.2020 12:22:57",
    "31.02.2020 25:61:61",
    "\u{7}",
];

/// What the bodies are made of, for the shared generators.
const VOCABULARY: fuzz::Vocabulary = fuzz::Vocabulary {
    keys: KEYS,
    other_keys: "[a-zA-Z%_]{1,10}",
    edge_strings: EDGE_STRINGS,
};

fn scalar() -> impl Strategy<Value = Value> {
    fuzz::scalar(EDGE_STRINGS)
}

/// Webhook bodies nest less than answers: a card inside the envelope.
fn keyed_json() -> impl Strategy<Value = Value> {
    fuzz::keyed_json_with(VOCABULARY, scalar(), fuzz::Nesting::HOOKS)
}

/// A webhook-shaped body: a unique-ish id, mostly a real event, a card of real keys.
fn webhook_json() -> impl Strategy<Value = Value> {
    let id = prop_oneof![4 => "[0-9a-f]{24}".prop_map(Value::from), 1 => scalar()];
    let event = prop_oneof![
        4 => prop::sample::select(vec!["createCard", "updateCard", "deleteCard", "installCard", "unInstallCard"])
            .prop_map(Value::from),
        1 => scalar(),
    ];
    let card = prop_oneof![
        4 => prop::collection::btree_map(prop::sample::select(KEYS).prop_map(str::to_owned), keyed_json(), 0..10)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        1 => keyed_json(),
    ];
    envelope(["webhookId", "event", "card"], (id, event, card))
}

fn documented() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/webhook/create-card.webhook.json");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The documented webhook with 1–4 of its fields (at any depth) replaced by random JSON.
fn mutated_documented() -> impl Strategy<Value = Value> {
    let base = documented();
    assert!(base.is_object(), "the webhook fixture is readable");
    prop::collection::vec((any::<prop::sample::Index>(), keyed_json()), 1..5).prop_map(
        move |edits| {
            let mut v = base.clone();
            for (at, new) in edits {
                let mut paths = Vec::new();
                collect_paths(&v, &mut Vec::new(), &mut paths);
                let path = at.get(&paths).clone();
                let mut node = Some(&mut v);
                for key in &path {
                    node = node.and_then(|n| n.get_mut(key.as_str()));
                }
                if let Some(node) = node {
                    *node = new.clone();
                }
            }
            v
        },
    )
}

/// Paths (object keys) of every node below the root.
fn collect_paths(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Value::Object(m) = v {
        for (k, child) in m {
            prefix.push(k.clone());
            out.push(prefix.clone());
            collect_paths(child, prefix, out);
            prefix.pop();
        }
    }
}

/// Parser and inline handler: typed errors, rejected = untouched, accepted once, repeat skipped.
fn check_body(bytes: &[u8]) -> std::result::Result<(), TestCaseError> {
    let fields = FieldMap::documented();
    let parsed = parse_webhook(bytes, &fields);
    if let Err(e) = &parsed {
        prop_assert_eq!(e.kind(), ErrorKind::InvalidInput, "{:?}", e);
    }
    let events = Counting::default();
    let dedup = MemoryDedup::default();
    let first = runtime().block_on(handle_webhook(bytes, &fields, &events, &dedup));
    match (&parsed, &first) {
        (Ok(_), Ok(Delivery::Accepted)) => {
            prop_assert_eq!(events.calls(), 1);
            let again = runtime().block_on(handle_webhook(bytes, &fields, &events, &dedup));
            prop_assert!(matches!(again, Ok(Delivery::Duplicate)), "{:?}", again);
            prop_assert_eq!(events.calls(), 1, "a repeat was handled");
        }
        (Err(_), Err(e)) => {
            prop_assert_eq!(e.kind(), ErrorKind::InvalidInput);
            prop_assert_eq!(events.calls(), 0);
        }
        (p, f) => prop_assert!(false, "parser {:?} but handler {:?}", p.is_ok(), f),
    }
    Ok(())
}

/// One router on a real port for all cases, with the merchant's side it calls.
struct Receiver {
    served: Served,
    events: Arc<Counting>,
    /// Ids of the webhooks accepted so far (each is handled once, in the background).
    seen: Mutex<HashSet<String>>,
}

static RECEIVER: LazyLock<Receiver> = LazyLock::new(|| {
    let events = Arc::new(Counting::default());
    let app = webhooks_router(events.clone(), Arc::new(MemoryDedup::default()));
    Receiver {
        served: Served::start(app),
        events,
        seen: Mutex::default(),
    }
});

/// Over HTTP: 200 exactly for parseable webhooks, otherwise a 4xx JSON error; never a 5xx.
fn check_http(bytes: Vec<u8>) -> std::result::Result<(), TestCaseError> {
    let receiver = &*RECEIVER;
    let parsed = parse_webhook(&bytes, &FieldMap::documented()).ok();
    let valid = parsed.is_some();
    // Let the background handlers of earlier accepted webhooks finish first.
    let settled = |expected: usize| {
        runtime().block_on(async {
            for _ in 0..500 {
                if receiver.events.calls() >= expected {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        receiver.events.calls()
    };
    let before = receiver
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .len();
    prop_assert_eq!(settled(before), before, "a webhook was handled twice");
    let (status, body) = receiver.served.post(bytes);
    prop_assert!(matches!(status, 200 | 400 | 413), "status {status}: {body}");
    prop_assert_eq!(
        status == 200,
        valid,
        "status {} for valid={}",
        status,
        valid
    );
    if let Some(event) = parsed {
        // A new id is handled once; a repeat of an earlier case's id is answered 200 and skipped.
        let new = receiver
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(event.event_id);
        let expected = before + usize::from(new);
        prop_assert_eq!(settled(expected), expected);
    } else {
        prop_assert_eq!(&body["error"]["kind"], &json!("invalid_input"), "{}", body);
        // Rejected: nothing reaches the handler (give a wrongly spawned one a moment to show).
        runtime().block_on(async { tokio::time::sleep(Duration::from_millis(2)).await });
        prop_assert_eq!(receiver.events.calls(), before);
    }
    Ok(())
}

walletport_testkit::fuzz_hooks! {
    check_body: check_body,
    bodies: {
        structured_webhooks_are_handled_or_rejected_cleanly: webhook_json(),
        mutated_documented_webhooks_are_handled_or_rejected_cleanly: mutated_documented(),
    },
    check_http: check_http,
    over_http: [webhook_json(), mutated_documented()],
}

#[test]
fn the_documented_webhook_is_accepted_once() {
    let bytes = serde_json::to_vec(&documented()).unwrap_or_default();
    assert!(parse_webhook(&bytes, &FieldMap::documented()).is_ok());
    if let Err(e) = check_body(&bytes) {
        panic!("{e}");
    }
}
