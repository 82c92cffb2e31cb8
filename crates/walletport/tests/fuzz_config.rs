//! Fuzzing the provider configuration loader in the normal test suite (the proptest equivalent
//! of `fuzz/fuzz_targets/config.rs`): arbitrary text into `ProviderConfig::from_toml`, and
//! structure-aware configurations — a real `kind` with that kind's real keys (and the other
//! kinds', and nested `hooks` / `fields` / `commerce_paths` tables) holding random value types —
//! into `from_value`, `from_toml` and then `connect`.
//!
//! Properties: nothing panics; every rejection is a typed `walletport_core::Error` of kind
//! `ConfigInvalid` (or `InvalidInput` from a provider's own checks at connect time); and no
//! secret value (`app_key`, `crm_key`, `basic_password`, `token`, `password`, `api_key`) ever
//! appears in an error's text or `Debug`, or in an accepted configuration's `Debug`.

use proptest::prelude::*;
use serde_json::{Map, Value};
use walletport::ProviderConfig;
use walletport_core::ErrorKind;

/// Every string under a secret key is replaced by a value containing this marker.
const MARKER: &str = "s3cr3t-MARK";

const SECRET_KEYS: &[&str] = &[
    "app_key",
    "crm_key",
    "basic_password",
    "token",
    "password",
    "api_key",
];

const TOP_KEYS: &[&str] = &[
    // memory
    "path",
    "default_template",
    "card_number_start",
    "page_size",
    // passquare
    "app_key",
    "base_url",
    "numbers",
    "plan",
    "timeout",
    "max_attempts",
    "form_link",
    "sms_text",
    "card_lookup",
    "hooks",
    // passteam
    "token",
    "login",
    "password",
    "template_id",
    "encoding",
    "fields",
    "validate_values",
    "quota",
    "max_retries",
    "company_id",
    "commerce_paths",
    // skycore
    "endpoint",
    "api_url",
    "api_key",
    "layout",
    "pass_id",
    "template_defaults",
    "rate_limit",
];

const NESTED_KEYS: &[&str] = &[
    "crm_key",
    "basic_user",
    "basic_password",
    "lifetime_unit",
    "numbers",
    "allowed_ips",
    "phone",
    "name",
    "surname",
    "middle_name",
    "birthday",
    "email",
    "balance",
    "bonus",
    "discount",
    "card_number",
    "get_sale",
    "update_sale",
    "delete_sale",
    "create_product",
    "update_product",
    "delete_product",
    "products",
];

fn edge_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            " ",
            "http://127.0.0.1:1/",
            "https://api.example.invalid/v2",
            "not a url",
            "ftp://x",
            "base",
            "advanced",
            "expert",
            "exclusive",
            "1/s",
            "1/s, 60/h",
            "0/s",
            "60/1h, 1/1s",
            "18446744073709551616/s",
            "-1/s",
            "string",
            "number",
            "days",
            "seconds",
            "30s",
            "1h",
            "-1s",
            "0s",
            "99999999999y",
            "loyalty-card-type1",
            "2",
            "by_phone",
            "urlencoded",
            "multipart",
            "json",
            "127.0.0.1",
            "::1",
            "999.1.1.1",
            "PHONE",
            "%PHONE%",
            "/tmp",
            "memory",
            "passquare",
            "passteam",
            "skycore",
            "\u{0}",
        ])
        .prop_map(str::to_owned),
        ".{0,20}",
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(Value::from),
        1 => (0u64..100_000).prop_map(Value::from),
        1 => any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::from(0), Value::Number)),
        4 => edge_string().prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => scalar(),
        1 => prop::collection::vec(scalar(), 0..4).prop_map(Value::Array),
        2 => prop::collection::btree_map(
            prop_oneof![4 => prop::sample::select(NESTED_KEYS).prop_map(str::to_owned), 1 => "[a-z_]{1,8}"],
            scalar(),
            0..6,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect())),
    ]
}

/// Puts [`MARKER`] into every string under a secret key, at any depth.
fn mark_secrets(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if SECRET_KEYS.contains(&k.as_str()) {
                    if let Value::String(s) = child {
                        *s = format!("{MARKER}-{}", s.len());
                    }
                } else {
                    mark_secrets(child);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mark_secrets),
        _ => {}
    }
}

/// A configuration table: mostly a compiled kind, mostly real keys.
fn config_json() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        6 => prop::sample::select(walletport::available_kinds().to_vec()).prop_map(Value::from),
        1 => scalar(),
    ];
    let entries = prop::collection::btree_map(
        prop_oneof![6 => prop::sample::select(TOP_KEYS).prop_map(str::to_owned), 1 => "[a-z_]{1,10}"],
        value(),
        0..8,
    );
    (prop::option::weighted(0.9, kind), entries).prop_map(|(kind, entries)| {
        let mut m: Map<String, Value> = entries.into_iter().collect();
        if let Some(kind) = kind {
            m.insert("kind".into(), kind);
        }
        let mut v = Value::Object(m);
        mark_secrets(&mut v);
        v
    })
}

fn no_secret(what: &str, text: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        !text.contains(MARKER),
        "a secret leaked into {what}: {text}"
    );
    Ok(())
}

/// The loader's and `connect`'s contract for one outcome.
fn check(outcome: walletport_core::Result<ProviderConfig>) -> Result<(), TestCaseError> {
    match outcome {
        Err(e) => {
            prop_assert_eq!(e.kind(), ErrorKind::ConfigInvalid, "{:?}", e);
            no_secret("a loader error", &format!("{e} {e:?}"))?;
        }
        Ok(config) => {
            no_secret("a configuration's Debug", &format!("{config:?}"))?;
            // The memory provider with a `path` would open a file at a random place.
            if let ProviderConfig::Memory(m) = &config
                && m.path.is_some()
            {
                return Ok(());
            }
            if let Err(e) = walletport::connect(&config) {
                prop_assert!(
                    matches!(e.kind(), ErrorKind::ConfigInvalid | ErrorKind::InvalidInput),
                    "{:?}",
                    e
                );
                no_secret("a connect error", &format!("{e} {e:?}"))?;
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_is_rejected_as_config_invalid(text in ".{0,300}") {
        check(ProviderConfig::from_toml(&text))?;
    }

    #[test]
    fn toml_shaped_lines_never_panic(
        lines in prop::collection::vec(
            (prop::sample::select(TOP_KEYS), prop_oneof![
                edge_string().prop_map(|s| format!("{s:?}")),
                any::<i64>().prop_map(|n| n.to_string()),
                Just("[hooks]".to_owned()),
                Just("{ crm_key = \"x\" }".to_owned()),
                Just("[\"1/s\", \"60/h\"]".to_owned()),
                "[ -~]{0,12}",
            ]),
            0..8,
        )
    ) {
        let text: String = lines.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
        check(ProviderConfig::from_toml(&format!("kind = \"passquare\"\n{text}")))?;
    }

    #[test]
    fn structured_configs_load_or_fail_typed(config in config_json()) {
        check(ProviderConfig::from_value(config.clone()))?;
        // The same table through TOML text, as `walletport.toml` would carry it.
        if let Ok(text) = toml::to_string(&config) {
            check(ProviderConfig::from_toml(&text))?;
        }
    }
}

#[test]
fn the_generator_reaches_valid_configurations() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = config_json();
    let mut accepted = 0;
    for _ in 0..2_000 {
        if let Ok(tree) = strategy.new_tree(&mut runner) {
            accepted += usize::from(ProviderConfig::from_value(tree.current()).is_ok());
        }
    }
    assert!(accepted > 0, "no generated configuration was valid");
}

#[test]
fn secrets_stay_out_of_type_errors_of_their_neighbours() {
    // A valid secret beside an invalid field: the error names the field, never the secret.
    let text = format!("kind = \"passquare\"\napp_key = \"{MARKER}-1\"\nmax_attempts = \"many\"\n");
    let e = ProviderConfig::from_toml(&text).expect_err("max_attempts is a number");
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
    assert!(!format!("{e} {e:?}").contains(MARKER), "{e:?}");
}
