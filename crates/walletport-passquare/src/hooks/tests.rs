use std::sync::Mutex;

use async_trait::async_trait;
use proptest::prelude::*;
use walletport_core::{Balance, CustomerId, Result};
use walletport_http::{HeaderMap, HeaderValue};

use super::*;

/// A `CrmHooks` that records calls and answers fixed values.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<HookCall>>,
    fail_with: Option<Error>,
}

#[async_trait]
impl CrmHooks for Recorder {
    async fn register_customer(&self, input: RegisterCustomer) -> Result<CustomerId> {
        self.calls.lock().unwrap().push(HookCall::Register(input));
        match &self.fail_with {
            Some(e) => Err(e.clone()),
            None => CustomerId::new("crm-1"),
        }
    }
    async fn read_balance(&self, input: ReadBalance) -> Result<Balance> {
        self.calls
            .lock()
            .unwrap()
            .push(HookCall::ReadBalance(input));
        Ok(Balance::default())
    }
    async fn credit_balance(&self, input: CreditHook) -> Result<()> {
        self.calls.lock().unwrap().push(HookCall::Credit(input));
        Ok(())
    }
}

fn config() -> PassquareHooksConfig {
    PassquareHooksConfig::with_crm_key("secret-key")
}

async fn call(hooks: &Recorder, headers: &HeaderMap, body: &str) -> HookResponse {
    handle_hook(
        hooks,
        &config(),
        HookRequest {
            body: body.as_bytes(),
            headers,
            peer: None,
        },
    )
    .await
}

#[tokio::test]
async fn dispatches_with_body_key_and_exposes_account_headers() {
    let hooks = Recorder::default();
    let mut headers = HeaderMap::new();
    headers.insert("x-organization-id", HeaderValue::from_static("org-7"));
    headers.insert("x-program-id", HeaderValue::from_static("prog-1"));
    headers.insert("x-wallet-id", HeaderValue::from_static("wallet-3"));
    let body = r#"{"crm_key": "secret-key", "method": "createCustomer",
        "customer": {"phone": "420000000001", "cardNumbers": [120], "balance": 300.00}}"#;
    let resp = call(&hooks, &headers, body).await;
    assert_eq!(resp.status, 200, "{:?}", resp.body);
    assert_eq!(resp.body, json!({"customerId": "crm-1"}));
    let calls = hooks.calls.lock().unwrap();
    let HookCall::Register(r) = &calls[0] else {
        panic!("{calls:?}");
    };
    assert_eq!(r.customer.phone.as_str(), "+420000000001");
    assert_eq!(r.card_numbers, vec!["120".to_owned()]);
    assert_eq!(r.context.organization_id.as_deref(), Some("org-7"));
    assert_eq!(r.context.program_id.as_deref(), Some("prog-1"));
    assert_eq!(r.context.wallet_id.as_deref(), Some("wallet-3"));
}

#[tokio::test]
async fn bad_credentials_are_401_and_reach_no_handler() {
    let hooks = Recorder::default();
    let none = HeaderMap::new();
    for (body, why) in [
        (
            r#"{"method": "readBalance", "customer": {"phone": "+420000000001"}}"#,
            "missing",
        ),
        (
            r#"{"crm_key": "wrong", "method": "readBalance", "customer": {"phone": "+420000000001"}}"#,
            "wrong",
        ),
        (r#"{"crm_key": "secret-key"#, "not a JSON object"),
        // The key is compared exactly: no trimming, no other JSON type.
        (
            r#"{"crm_key": " secret-key ", "method": "readBalance", "customer": {"phone": "+420000000001"}}"#,
            "wrong",
        ),
        (
            r#"{"crm_key": "secret-key\n", "method": "readBalance", "customer": {"phone": "+420000000001"}}"#,
            "wrong",
        ),
        (
            r#"{"crm_key": ["secret-key"], "method": "readBalance", "customer": {"phone": "+420000000001"}}"#,
            "wrong",
        ),
        ("", "not a JSON object"),
    ] {
        let resp = call(&hooks, &none, body).await;
        assert_eq!(resp.status, 401, "{body}");
        let error = resp.body["error"].as_str().unwrap_or_default();
        assert!(error.contains(why), "{body}: {error}");
        assert!(!error.contains("secret-key"), "{error}");
    }
    // Wrong Basic credentials (":wrong"): the answer says which part failed.
    let mut wrong = HeaderMap::new();
    wrong.insert("authorization", HeaderValue::from_static("Basic Ondyb25n"));
    for (body, why) in [
        (
            r#"{"method": "readBalance", "customer": {"phone": "+420000000001"}}"#,
            "Authorization header is wrong",
        ),
        (
            r#"{"crm_key": "x", "method": "readBalance", "customer": {"phone": "+420000000001"}}"#,
            "neither",
        ),
    ] {
        let resp = call(&hooks, &wrong, body).await;
        assert_eq!(resp.status, 401, "{body}");
        let error = resp.body["error"].as_str().unwrap_or_default();
        assert!(error.contains(why), "{body}: {error}");
    }
    assert!(hooks.calls.lock().unwrap().is_empty());
    // Basic with an empty login and the key as password: ":secret-key".
    let mut basic = HeaderMap::new();
    basic.insert(
        "authorization",
        HeaderValue::from_static("Basic OnNlY3JldC1rZXk="),
    );
    let resp = call(
        &hooks,
        &basic,
        r#"{"method": "readBalance", "customer": {"phone": "+420000000001", "cardNumbers": ["120"]}}"#,
    )
    .await;
    assert_eq!(resp.status, 200, "{:?}", resp.body);
    assert_eq!(resp.body["success"], true);
    assert_eq!(resp.body["balance"], "0");
    assert_eq!(hooks.calls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_input_is_400_with_a_json_error() {
    let hooks = Recorder::default();
    let none = HeaderMap::new();
    for body in [
        r#"{"crm_key": "secret-key", "method": "deleteEverything", "customer": {}}"#,
        r#"{"crm_key": "secret-key", "customer": {"phone": "+420000000001"}}"#,
        r#"{"crm_key": "secret-key", "method": "readBalance"}"#,
        r#"{"crm_key": "secret-key", "method": "readBalance", "customer": {"phone": "nope"}}"#,
        r#"{"crm_key": "secret-key", "method": "addBalance", "customer": {"phone": "+420000000001", "sum": "-5", "transactionId": "t"}}"#,
        r#"{"crm_key": "secret-key", "method": "addBalance", "customer": {"phone": "+420000000001", "sum": "5"}}"#,
        r#"{"crm_key": "secret-key", "method": "addBalance", "customer": {"phone": "+420000000001", "sum": "5", "transactionId": "t", "lifetime": -1}}"#,
        r#"{"crm_key": "secret-key", "method": "createCustomer", "customer": {"phone": "+420000000001", "discount": "101"}}"#,
        r#"{"crm_key": "secret-key", "method": "createCustomer", "customer": {"phone": "+420000000001", "birthday": "25/01/1980"}}"#,
        r#"{"crm_key": "secret-key", "method": 7, "customer": {}}"#,
    ] {
        let resp = call(&hooks, &none, body).await;
        assert_eq!(resp.status, 400, "{body} -> {:?}", resp.body);
        assert!(
            resp.body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
    }
    assert!(
        hooks.calls.lock().unwrap().is_empty(),
        "nothing reached the CRM"
    );
}

#[tokio::test]
async fn handler_errors_map_to_statuses() {
    let hooks = Recorder {
        fail_with: Some(Error::new(ErrorKind::VendorUnavailable, "db down")),
        ..Recorder::default()
    };
    let resp = call(
        &hooks,
        &HeaderMap::new(),
        r#"{"crm_key": "secret-key", "method": "createCustomer", "customer": {"phone": "+420000000001"}}"#,
    )
    .await;
    assert_eq!(resp.status, 503);
    assert_eq!(resp.body, json!({"error": "db down"}));
}

#[test]
fn store_failures_are_503_and_refusals_400() {
    let unavailable = Error::unexpected("database unavailable: pool timed out")
        .with_retry(walletport_core::Retry::Temporary { after: None });
    assert_eq!(status_for(&unavailable), 503);
    assert_eq!(
        status_for(&Error::unexpected("database: disk I/O error")),
        503
    );
    assert_eq!(status_for(&Error::config("no store")), 503);
    let busy = Error::new(ErrorKind::Conflict, "database is locked")
        .with_retry(walletport_core::Retry::Temporary { after: None });
    assert_eq!(
        status_for(&busy),
        503,
        "a temporary failure is worth a retry"
    );
    assert_eq!(status_for(&Error::not_found("no such customer")), 400);
    assert_eq!(
        status_for(&Error::invalid_input("phone and card differ")),
        400
    );
    assert_eq!(
        status_for(&Error::new(ErrorKind::Conflict, "transaction id reused")),
        400
    );
}

#[test]
fn lifetime_follows_the_configured_unit_and_zero_means_none() {
    let body = |l: &str| {
        format!(
            r#"{{"method": "addBalance", "customer": {{"phone": "+420000000001", "sum": 1, "transactionId": 9, "lifetime": {l}}}}}"#
        )
    };
    let lifetime = |l: &str, unit| {
        let cfg = PassquareHooksConfig {
            lifetime_unit: unit,
            ..config()
        };
        match parse_hook(body(l).as_bytes(), HookContext::default(), &cfg) {
            Ok(HookCall::Credit(c)) => Ok(c.credit.lifetime()),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.kind()),
        }
    };
    use crate::config::LifetimeUnit::{Days, Seconds};
    use std::time::Duration;
    assert_eq!(
        lifetime("86400", Seconds),
        Ok(Some(Duration::from_secs(86_400)))
    );
    assert_eq!(
        lifetime("\"14\"", Days),
        Ok(Some(Duration::from_secs(14 * 86_400)))
    );
    assert_eq!(lifetime("0", Days), Ok(None));
    assert_eq!(lifetime("1.5", Days), Err(ErrorKind::InvalidInput));
    assert_eq!(lifetime("1e30", Days), Err(ErrorKind::InvalidInput));
}

#[test]
fn balance_answers_in_both_number_modes() {
    let b = Balance {
        points: rust_decimal::Decimal::new(5025, 2),
        ..Balance::default()
    };
    assert_eq!(
        encode_balance_response(&b, NumberMode::String)["balance"],
        "50.25"
    );
    assert_eq!(
        encode_balance_response(&b, NumberMode::Number)["balance"],
        json!(50.25)
    );
    let huge = Balance {
        points: rust_decimal::Decimal::from_str_exact("1234567890.1234567891").unwrap(),
        ..Balance::default()
    };
    assert_eq!(
        encode_balance_response(&huge, NumberMode::Number)["balance"],
        "1234567890.1234567891",
        "never rounded: falls back to a string"
    );
}

/// Texts the hooks give a meaning to, so that generated bodies get past the first checks.
const KNOWN_TEXTS: &[&str] = &[
    "+420000000001",
    "createCustomer",
    "readBalance",
    "addBalance",
    "secret-key",
    "12.5",
    "1980-01-25",
];

/// The keys the hooks read.
const KNOWN_KEYS: &[&str] = &[
    "crm_key",
    "method",
    "customer",
    "phone",
    "cardNumbers",
    "cardTracks",
    "sum",
    "lifetime",
    "transactionId",
    "extra",
    "balance",
    "birthday",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::from),
        prop::sample::select(KNOWN_TEXTS).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        // Weighted 12 : 1, so each known key is as likely as a random one.
        let known = prop::sample::select(KNOWN_KEYS);
        let keys = prop_oneof![12 => known.prop_map(str::to_owned), 1 => "[a-zA-Z]{1,8}"];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_hook(&bytes, HookContext::default(), &config());
    }

    #[test]
    fn arbitrary_json_never_panics_and_errors_are_invalid_input(value in json_value()) {
        let bytes = serde_json::to_vec(&value).unwrap_or_default();
        if let Err(e) = parse_hook(&bytes, HookContext::default(), &config()) {
            prop_assert!(matches!(e.kind(), ErrorKind::InvalidInput), "{e:?}");
        }
    }

    #[test]
    fn arbitrary_hook_shaped_json_never_panics(
        method in prop_oneof![Just("createCustomer"), Just("readBalance"), Just("addBalance")],
        customer in json_value(),
    ) {
        let body = json!({"crm_key": "secret-key", "method": method, "customer": customer});
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let _ = parse_hook(&bytes, HookContext::default(), &config());
    }
}
