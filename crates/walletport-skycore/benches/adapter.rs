//! Adapter cost (issue 8, benchmark 1): the pure `build_*_request` / `parse_*_response` functions
//! of [`walletport_skycore::mapping`], timed on every documented exchange of
//! `tests/fixtures/index.json`.
//!
//! As in the fixture tests, each example request is decoded once (outside the timing) into the
//! adapter's typed input, and "build" times encoding that input (validation included); a schema
//! fixture is the key list of the example's request and is covered by it. "parse" times the
//! envelope check plus the mapping to the domain value the client returns; an error fixture
//! times the error path. Target: under 5 µs per operation. Every routine runs once before timing
//! and must succeed (an error fixture must fail); a fixture no benchmark uses stops the run.
//!
//! Run: `cargo bench -p walletport-skycore --bench adapter` (about 45 s); per-op medians are in
//! `target/criterion/<group>/<case>/new/estimates.json` (see `docs/benchmarks.md`).

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::Criterion;
use serde_json::{Map, Value};
use walletport_core::{Template, TemplateId};
use walletport_http::{HttpRequest, HttpResponse};
use walletport_skycore::mapping::{link, parse_envelope, pass, template};
use walletport_skycore::wire::{PassData, parse_timestamp, text};
use walletport_skycore::{
    Checksum, ChecksumScope, GeneratePass, IssuanceLink, LinkEncryption, LinkExpiry,
    LinkProtection, LinkStatus, PassVariable, SkycoreConfig, UpdatePass,
};

const TEMPLATE: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// One fixture of the index.
struct Fixture {
    name: String,
    operation: String,
    case: String,
    kind: String,
    body: Value,
}

fn fixtures() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let read = |p: &Path| -> Value {
        let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    let index = read(&dir.join("index.json"));
    let entries = index["fixtures"].as_array().cloned().unwrap_or_default();
    assert!(
        !entries.is_empty(),
        "tests/fixtures/index.json lists fixtures"
    );
    entries
        .iter()
        .map(|e| {
            let f = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            Fixture {
                body: read(&dir.join(f("file"))),
                name: f("name"),
                operation: f("operation"),
                case: f("case"),
                kind: f("kind"),
            }
        })
        .collect()
}

fn config() -> SkycoreConfig {
    SkycoreConfig::new(
        "https://api.skycore.invalid/API/",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        TEMPLATE,
    )
}

fn obj(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(text)
}

// ---- the vendor's example requests as our typed inputs (as in tests/fixture_snapshots.rs) ----

fn decode_generate(b: &Value) -> GeneratePass {
    let meta = b.get("pass-meta-data").cloned().unwrap_or_default();
    GeneratePass {
        template_id: s(b, "pass-template-id").unwrap_or_default(),
        layout: None,
        pass_id: s(b, "pass-id").unwrap_or_default(),
        reference_data: obj(&b["reference-data"])
            .iter()
            .filter_map(|(k, v)| text(v).map(|t| (k.clone(), t)))
            .collect(),
        data: PassData::from_wire(&obj(&b["pass-data"])).expect("pass-data decodes"),
        user_email: s(&meta, "user-email"),
        user_phone: s(&meta, "user-phone"),
    }
}

fn decode_update(b: &Value) -> UpdatePass {
    let g = decode_generate(b);
    UpdatePass {
        template_id: g.template_id,
        layout: None,
        pass_id: g.pass_id,
        new_pass_id: s(b, "new-pass-id"),
        priority: b.get("priority").and_then(Value::as_bool),
        data: g.data,
        user_email: g.user_email,
        user_phone: g.user_phone,
    }
}

fn decode_template(b: &Value) -> Template {
    let mut settings = obj(b);
    for k in [
        "action",
        "pass-template-id",
        "pass-template-name",
        "pass-template-type",
        "pass-template-subtype",
    ] {
        settings.remove(k);
    }
    Template {
        id: s(b, "pass-template-id")
            .or_else(|| Some(TEMPLATE.to_owned()))
            .and_then(|i| TemplateId::new(i).ok()),
        name: s(b, "pass-template-name").unwrap_or_default(),
        layout: s(b, "pass-template-subtype"),
        fields: Vec::new(),
        settings,
    }
}

fn decode_link(b: &Value) -> IssuanceLink {
    let variables = obj(&b["pass-variables"])
        .iter()
        .map(|(k, v)| {
            let flag = |f: &str| v.get(f).and_then(Value::as_bool).unwrap_or_default();
            let variable = PassVariable {
                required: flag("is-required"),
                encrypted: flag("value-encryption"),
            };
            (k.clone(), variable)
        })
        .collect::<BTreeMap<_, _>>();
    let name = s(b, "link-name")
        .or_else(|| s(b, "issuance-link-name"))
        .unwrap_or_default();
    let mut l = IssuanceLink::new(
        name,
        s(b, "pass-template-id").unwrap_or_default(),
        variables,
    );
    if let (Some(at), Some(tz)) = (
        s(b, "link-expiration-timestamp"),
        s(b, "link-expiration-timezone"),
    ) {
        l.expires = Some(LinkExpiry {
            at: parse_timestamp(&at).expect("ISO 8601"),
            time_zone: tz,
        });
    }
    l.generation_limit = b
        .get("link-generation-limit")
        .and_then(text)
        .and_then(|n| n.parse().ok());
    l.status = s(b, "link-status").map(|st| {
        if st.eq_ignore_ascii_case("active") {
            LinkStatus::Active
        } else {
            LinkStatus::Inactive
        }
    });
    l.update_pass_data = s(b, "update-pass-data").map(|u| u.eq_ignore_ascii_case("true"));
    let enc = &b["encryption-settings"];
    if let (Some(key), Some(iv)) = (s(enc, "secret-key"), s(enc, "iv")) {
        l.encryption = Some(LinkEncryption {
            secret_key: key.into(),
            iv: iv.into(),
        });
    }
    let p = &b["link-protection"];
    if let Some(algo) = s(p, "checksum").or_else(|| s(p, "checksum-algorithm")) {
        let checksum = match algo.to_ascii_uppercase().as_str() {
            "SHA256" => Checksum::Sha256,
            "SHA384" => Checksum::Sha384,
            "SHA512" => Checksum::Sha512,
            _ => Checksum::Crc32,
        };
        let applied =
            if s(p, "checksum-applied").is_some_and(|a| a.eq_ignore_ascii_case("full-link")) {
                ChecksumScope::FullLink
            } else {
                ChecksumScope::QueryString
            };
        l.protection = Some(LinkProtection { checksum, applied });
    }
    l
}

/// A routine timed by criterion; returns whether it took the expected path.
type Routine = Box<dyn FnMut() -> bool>;

/// The encoder of an example request fixture, its input decoded once.
fn build_routine(f: &Fixture) -> Box<dyn FnMut() -> walletport_core::Result<HttpRequest>> {
    let (c, b) = (config(), &f.body);
    match f.operation.as_str() {
        "generatepass" => {
            let input = decode_generate(b);
            Box::new(move || pass::build_generatepass_request(&input, &c, "card.issue"))
        }
        "updatepassdata" => {
            let input = decode_update(b);
            Box::new(move || pass::build_updatepassdata_request(&input, &c, "card.update"))
        }
        "getpassdata" => {
            let id = s(b, "pass-id").unwrap_or_default();
            Box::new(move || pass::build_getpassdata_request(&id, &c, "card.get"))
        }
        "getpasstemplate" => {
            let id = TemplateId::new(s(b, "pass-template-id").unwrap_or_default()).expect("id");
            Box::new(move || template::build_getpasstemplate_request(&id, &c))
        }
        "createpasstemplate" => {
            let input = decode_template(b);
            Box::new(move || template::build_createpasstemplate_request(&input, &c))
        }
        "updatepasstemplate" => {
            let input = decode_template(b);
            Box::new(move || template::build_updatepasstemplate_request(&input, &c))
        }
        "createpassissuancelink" => {
            let input = decode_link(b);
            Box::new(move || link::build_createpassissuancelink_request(&input, &c))
        }
        "updatepassissuancelink" => {
            let (id, input) = (s(b, "issuance-link-id").unwrap_or_default(), decode_link(b));
            Box::new(move || link::build_updatepassissuancelink_request(&id, &input, &c))
        }
        other => panic!("{}: no encoder for {other}", f.name),
    }
}

/// The example request a response answers (what the client sent), as in the fixture tests.
fn example_request(all: &[Fixture], f: &Fixture) -> Value {
    let case = if f.case.starts_with("layout-") {
        f.case.split('-').take(2).collect::<Vec<_>>().join("-")
    } else {
        "loyalty-card".to_owned()
    };
    all.iter()
        .find(|r| r.operation == f.operation && r.kind == "request" && r.case == case)
        .map(|r| r.body.clone())
        .unwrap_or_default()
}

/// The parser of a response or error fixture, mapping to what the client returns.
fn parse_routine(all: &[Fixture], f: &Fixture) -> Box<dyn FnMut() -> walletport_core::Result<()>> {
    let (c, r) = (config(), HttpResponse::json_body(200, &f.body));
    match f.operation.as_str() {
        "generatepass" => {
            let sent = decode_generate(&example_request(all, f));
            Box::new(move || {
                let answer = pass::parse_generatepass_response(&r, "card.issue")?;
                black_box(pass::card_of_generated(&sent, &answer, &c));
                Ok(())
            })
        }
        "updatepassdata" => Box::new(move || {
            black_box(pass::parse_updatepassdata_response(&r, "card.update")?);
            Ok(())
        }),
        "getpassdata" => Box::new(move || {
            // The card and its balance (a pass without balance fields answers an error here,
            // which the client reports as such; either way the mapping ran).
            let record = pass::parse_getpassdata_response(&r, "card.get")?;
            black_box(pass::card_of(&record, &c));
            let _ = black_box(pass::balance_of(&record.data));
            Ok(())
        }),
        "getpasstemplate" => Box::new(move || {
            black_box(template::parse_getpasstemplate_response(&r, &c)?);
            Ok(())
        }),
        "createpasstemplate" | "updatepasstemplate" => {
            let sent = decode_template(&example_request(all, f));
            let create = f.operation == "createpasstemplate";
            // The client moves the template it sent into the result (`into_template`), so the
            // answer's cost is the parse; the merge is a handful of moves.
            Box::new(move || {
                black_box(template::parse_template_write_response(
                    &r,
                    sent.id.as_ref(),
                    create,
                )?);
                Ok(())
            })
        }
        "createpassissuancelink" | "updatepassissuancelink" => Box::new(move || {
            black_box(link::parse_issuance_link_response(
                &r,
                "issuance_link.create",
            )?);
            Ok(())
        }),
        other => panic!("{}: no decoder for {other}", f.name),
    }
}

/// Every fixture becomes one timed routine, except schemas, which the example's build covers.
fn plan(all: &[Fixture]) -> Vec<(String, Routine)> {
    let mut routines: Vec<(String, Routine)> = Vec::new();
    let mut covered = BTreeSet::new();
    for f in all {
        let is_schema = f.case == "schema" || f.case.ends_with("-schema");
        let id = |verb: &str| format!("{}/{verb}/{}", f.operation, f.case);
        match (f.kind.as_str(), is_schema) {
            ("request", true) => {
                let example = f.case.strip_suffix("-schema").unwrap_or("loyalty-card");
                let has_example = all.iter().any(|r| {
                    r.operation == f.operation && r.kind == "request" && r.case == example
                });
                assert!(has_example, "{}: no example request `{example}`", f.name);
            }
            ("request", false) => {
                let mut build = build_routine(f);
                if let Err(e) = build() {
                    panic!("{}: our encoder refuses the example: {e}", f.name);
                }
                routines.push((id("build"), Box::new(move || black_box(build()).is_ok())));
            }
            ("response", _) => {
                let mut parse = parse_routine(all, f);
                if let Err(e) = parse() {
                    panic!("{}: the answer does not parse: {e}", f.name);
                }
                routines.push((id("parse"), Box::new(move || parse().is_ok())));
            }
            ("error", _) => {
                let r = HttpResponse::json_body(200, &f.body);
                let mut parse_op = parse_routine(all, f);
                assert!(parse_op().is_err(), "{}: the failure was accepted", f.name);
                assert!(parse_envelope(&r, "skycore.fixture").is_err(), "{}", f.name);
                routines.push((id("parse"), Box::new(move || parse_op().is_err())));
            }
            (other, _) => panic!("{}: unknown kind {other}", f.name),
        }
        covered.insert(f.name.clone());
    }
    assert_eq!(covered.len(), all.len(), "every fixture has a benchmark");
    routines
}

fn main() {
    let all = fixtures();
    let routines = plan(&all);
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .without_plots()
        .configure_from_args();
    for (id, mut routine) in routines {
        let (group, case) = id.rsplit_once('/').expect("group/case");
        c.benchmark_group(group)
            .bench_function(case, |b| b.iter(&mut routine));
    }
    c.final_summary();
}
