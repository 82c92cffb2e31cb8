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

#[path = "../tests/support/inputs.rs"]
mod inputs;

use std::collections::BTreeSet;
use std::hint::black_box;

use inputs::{
    Fixture, config, decode_generate, decode_link, decode_template, decode_update, example_request,
    fixtures, s,
};
use walletport_core::TemplateId;
use walletport_http::{HttpRequest, HttpResponse};
use walletport_skycore::mapping::{link, parse_envelope, pass, template};
use walletport_testkit::bench::{self, Routine};

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
            let _ = black_box(pass::balance_of(&record.data, &c));
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
fn plan(all: &[Fixture]) -> Vec<Routine> {
    let mut routines: Vec<Routine> = Vec::new();
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
    bench::run(routines);
}
