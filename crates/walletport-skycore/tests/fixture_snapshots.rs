//! Every Skycore fixture (`tests/fixtures/index.json`, generated from `docs/providers/skycore.md`)
//! against the adapter, each with an insta snapshot:
//!
//! - example requests are decoded into the adapter's typed inputs, re-encoded by its pure
//!   `build_*_request` functions and must equal the fixture as JSON values, modulo what Skycore
//!   itself treats as equal (documented in the reference): `action` and the enumerated values
//!   (`link-status`, `encryption-name`, `checksum`, `checksum-applied`) are case-insensitive, a
//!   timestamp is the instant it names (we send `Z`), the create-link example's
//!   `issuance-link-name` / `checksum-algorithm` are the table's `link-name` / `checksum`, and the
//!   update-template examples omit the `pass-template-id` we send (reference, assumption 11);
//! - schema requests: every key our encoder sends for that call appears in the schema;
//! - responses parse into the snapshotted domain values, errors into the snapshotted errors.

#[path = "support/inputs.rs"]
mod inputs;

use std::collections::BTreeSet;
use std::path::Path;

use inputs::{
    Fixture, config, decode_generate, decode_link, decode_template, decode_update, example_request,
    fixtures, s,
};
use serde_json::{Map, Value, json};
use walletport_core::CardKey;
use walletport_http::{HttpRequest, HttpResponse};
use walletport_skycore::mapping::{link, parse_envelope, pass, template};
use walletport_skycore::wire::parse_timestamp;

/// Our request for an example request fixture.
fn build(f: &Fixture) -> HttpRequest {
    let c = config();
    let b = &f.body;
    let built = match f.operation.as_str() {
        "generatepass" => pass::build_generatepass_request(&decode_generate(b), &c, "card.issue"),
        "updatepassdata" => {
            pass::build_updatepassdata_request(&decode_update(b), &c, "card.update")
        }
        "getpassdata" => {
            pass::build_getpassdata_request(&s(b, "pass-id").unwrap_or_default(), &c, "card.get")
        }
        "getpasstemplate" => {
            let id = walletport_core::TemplateId::new(s(b, "pass-template-id").unwrap_or_default())
                .expect("id");
            template::build_getpasstemplate_request(&id, &c)
        }
        "createpasstemplate" => template::build_createpasstemplate_request(&decode_template(b), &c),
        "updatepasstemplate" => template::build_updatepasstemplate_request(&decode_template(b), &c),
        "createpassissuancelink" => link::build_createpassissuancelink_request(&decode_link(b), &c),
        "updatepassissuancelink" => link::build_updatepassissuancelink_request(
            &s(b, "issuance-link-id").unwrap_or_default(),
            &decode_link(b),
            &c,
        ),
        other => panic!("no encoder for {other}"),
    };
    built.unwrap_or_else(|e| panic!("{}: our encoder refused the example: {e}", f.name))
}

/// What Skycore treats as equal (see the module docs).
fn normalize(v: &Value, operation: &str) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k.as_str() {
                    "issuance-link-name" => "link-name",
                    "checksum-algorithm" => "checksum",
                    other => other,
                };
                if operation == "updatepasstemplate" && key == "pass-template-id" {
                    continue;
                }
                let value = match (key, v) {
                    (
                        "action" | "link-status" | "encryption-name" | "checksum"
                        | "checksum-applied",
                        Value::String(s),
                    ) => Value::String(s.to_ascii_lowercase().replace('_', "-")),
                    _ => normalize(v, operation),
                };
                out.insert(key.to_owned(), value);
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| normalize(i, operation)).collect())
        }
        Value::String(s) => match parse_timestamp(s) {
            Some(t) if s.contains('T') => Value::String(t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            _ => v.clone(),
        },
        other => other.clone(),
    }
}

fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(path.clone());
                key_paths(v, &path, out);
            }
        }
        Value::Array(items) => {
            for i in items {
                key_paths(i, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn must<T>(name: &str, r: walletport_core::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn response(f: &Fixture) -> HttpResponse {
    HttpResponse::json_body(200, &f.body)
}

fn parse_response(all: &[Fixture], f: &Fixture) -> Value {
    let c = config();
    let r = response(f);
    match f.operation.as_str() {
        "generatepass" => {
            let sent = decode_generate(&example_request(all, f));
            let answer = must(&f.name, pass::parse_generatepass_response(&r, "card.issue"));
            json!({"card": pass::card_of_generated(&sent, &answer, &c)})
        }
        "updatepassdata" => {
            let u = must(
                &f.name,
                pass::parse_updatepassdata_response(&r, "card.update"),
            );
            json!({"pass-id": u.pass_id, "tracking-id": u.tracking_id})
        }
        "getpassdata" => {
            let record = must(&f.name, pass::parse_getpassdata_response(&r, "card.get"));
            let balance = pass::balance_of(&record.data, &c)
                .map(|b| json!(b))
                .unwrap_or_else(|e| json!({"error": e.message()}));
            json!({
                "card": pass::card_of(&record, &c),
                "balance": balance,
                "static-template-values": record.data.extra.keys().collect::<Vec<_>>(),
            })
        }
        "getpasstemplate" => json!(must(
            &f.name,
            template::parse_getpasstemplate_response(&r, &c)
        )),
        "createpasstemplate" | "updatepasstemplate" => {
            let sent = decode_template(&example_request(all, f));
            let created = f.operation == "createpasstemplate";
            let t = must(
                &f.name,
                template::parse_template_write_response(&r, sent.id.as_ref(), created)
                    .and_then(|w| w.into_template(sent, &c, created)),
            );
            json!({"id": t.id, "name": t.name, "layout": t.layout})
        }
        "createpassissuancelink" | "updatepassissuancelink" => {
            let info = must(
                &f.name,
                link::parse_issuance_link_response(&r, "issuance_link.create"),
            );
            json!({"id": info.id, "preview_url": info.preview_url})
        }
        other => panic!("no decoder for {other}"),
    }
}

#[test]
fn every_fixture_matches_the_adapter() {
    let all = fixtures();
    assert!(all.len() >= 40, "the index lists every Skycore fixture");
    let mut settings = insta::Settings::clone_current();
    settings.set_sort_maps(true);
    settings.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for f in &all {
            let snapshot_name = f.name.replace('/', "__");
            let is_schema = f.case == "schema" || f.case.ends_with("-schema");
            match (f.kind.as_str(), is_schema) {
                ("request", true) => {
                    let example_case = match f.case.strip_suffix("-schema") {
                        Some(layout) => layout.to_owned(),
                        None => "loyalty-card".to_owned(),
                    };
                    let example = all
                        .iter()
                        .find(|r| {
                            r.operation == f.operation
                                && r.kind == "request"
                                && r.case == example_case
                        })
                        .unwrap_or_else(|| {
                            panic!("{}: no example request `{example_case}`", f.name)
                        });
                    let ours: Value = build(example).body_json().expect("our body is JSON");
                    let mut ours_keys = BTreeSet::new();
                    key_paths(&normalize(&ours, &f.operation), "", &mut ours_keys);
                    let mut schema_keys = BTreeSet::new();
                    key_paths(&normalize(&f.body, &f.operation), "", &mut schema_keys);
                    let undocumented: Vec<_> = ours_keys
                        .iter()
                        .filter(|k| !schema_keys.contains(*k))
                        // Free-form maps: their keys are data, not schema.
                        .filter(|k| {
                            !k.starts_with("reference-data.") && !k.starts_with("pass-variables.")
                        })
                        .filter(|k| {
                            !(f.operation == "updatepasstemplate"
                                && k.as_str() == "pass-template-id")
                        })
                        .collect();
                    assert!(
                        undocumented.is_empty(),
                        "{}: we send keys the schema lacks: {undocumented:?}",
                        f.name
                    );
                    insta::assert_json_snapshot!(snapshot_name, ours_keys);
                }
                ("request", false) => {
                    let req = build(f);
                    assert_eq!(req.method.as_str(), "POST");
                    assert_eq!(req.path, "https://api.skycore.invalid/API/");
                    assert!(
                        req.headers
                            .get("x-api-key")
                            .is_some_and(|v| v.is_sensitive()),
                        "{}: the key header is sensitive",
                        f.name
                    );
                    let ours: Value = req.body_json().expect("our body is JSON");
                    assert_eq!(
                        normalize(&ours, &f.operation),
                        normalize(&f.body, &f.operation),
                        "{}: our request differs from the example",
                        f.name
                    );
                    insta::assert_json_snapshot!(
                        snapshot_name,
                        json!({"idempotent": req.idempotent, "body": ours})
                    );
                }
                ("response", _) => {
                    insta::assert_json_snapshot!(snapshot_name, parse_response(&all, f))
                }
                ("error", _) => {
                    let e = parse_envelope(&response(f), "skycore.fixture")
                        .expect_err("a failure body");
                    insta::assert_json_snapshot!(snapshot_name, e.to_json());
                }
                (other, _) => panic!("{}: unknown kind {other}", f.name),
            }
        }
    });
}

#[test]
fn card_numbers_find_only_passes_carrying_them() {
    let c = config();
    let (id, barcode) =
        pass::pass_id_for_card_key(&CardKey::Number("ASDE96325".into()), &c).expect("number key");
    assert_eq!(
        (id.as_str(), barcode.as_deref()),
        ("ASDE96325", Some("ASDE96325"))
    );
}
