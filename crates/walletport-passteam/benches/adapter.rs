//! Adapter cost (issue 8, benchmark 1): the pure `build_*_request` / `parse_*_response` functions
//! of [`walletport_passteam::mapping`] and the webhook parser, timed on every documented exchange
//! of `tests/fixtures/index.json` with the domain inputs the fixture tests use.
//!
//! "build" includes mapping the domain customer to template variables and encoding the form
//! body; "parse" includes the envelope check and mapping the wire card to the domain record, as
//! the client does. Target: under 20 µs per operation. Every routine runs once before timing and
//! must succeed (an error fixture must fail), and a fixture no benchmark uses stops the run.
//!
//! Run: `cargo bench -p walletport-passteam --bench adapter` (about 45 s); per-op medians are in
//! `target/criterion/<group>/<case>/new/estimates.json` (see `docs/benchmarks.md`).

#[path = "../tests/support/inputs.rs"]
mod inputs;

use inputs::{bonus, card_id, config, customer_1c, fields_1c, percent_encoded_update, template_id};
use rust_decimal::Decimal;
use walletport_http::HttpResponse;
use walletport_passteam::mapping::card::{customer_variables, record_from_wire};
use walletport_passteam::mapping::{OnDuplicate, ops, parse_envelope, push, template};
use walletport_passteam::wire::WireCard;
use walletport_passteam::{BodyEncoding, CardLookup, FieldMap, parse_webhook};
use walletport_testkit::bench::{self, BenchFixtures, Plan};

/// The card methods whose request is a documented form: createcard and updatecard.
fn forms(plan: &mut Plan, fx: &mut BenchFixtures) {
    for (case, encoding) in [
        ("urlencoded", BodyEncoding::Form),
        ("multipart", BodyEncoding::Multipart),
    ] {
        fx.covers(&format!("createcard/{case}.form"));
        let (c, customer, fields) = (config(encoding), customer_1c(), fields_1c());
        plan.ok(&format!("createcard/build/{case}"), move || {
            let vars = customer_variables(&customer, &bonus(Decimal::ZERO), &fields, None)?;
            Ok(ops::build_createcard_request(
                &template_id(),
                &vars,
                "card.issue",
                false,
                &c,
            ))
        });
        fx.covers(&format!("updatecard/{case}.form"));
        let (c, customer, fields) = (config(encoding), customer_1c(), fields_1c());
        plan.ok(&format!("updatecard/build/{case}"), move || {
            let vars = customer_variables(&customer, &bonus(Decimal::from(150)), &fields, None)?;
            Ok(ops::build_updatecard_request(
                &card_id(),
                &vars,
                &[],
                "card.update",
                &c,
            ))
        });
    }
    fx.covers("updatecard/percent-encoded.form");
    let (card, vars) = percent_encoded_update();
    let c = config(BodyEncoding::Form);
    plan.ok("updatecard/build/percent-encoded", move || {
        Ok(ops::build_updatecard_request(
            &card,
            &vars,
            &[],
            "card.update",
            &c,
        ))
    });
}

/// A card answer as the client uses it: envelope, wire card, domain record.
fn card_record(
    parse: fn(&HttpResponse) -> walletport_core::Result<WireCard>,
    resp: &HttpResponse,
) -> walletport_core::Result<walletport_core::CustomerRecord> {
    record_from_wire(&parse(resp)?, &FieldMap::documented())
}

/// The domain records of a card listing, mapped as the client maps each card.
fn card_records(
    cards: &[WireCard],
) -> walletport_core::Result<Vec<walletport_core::CustomerRecord>> {
    cards
        .iter()
        .map(|w| record_from_wire(w, &FieldMap::documented()))
        .collect()
}

/// Requests with no form fixture (built from the domain side) and every documented answer.
fn cards(plan: &mut Plan, fx: &mut BenchFixtures) {
    let c = config(BodyEncoding::Multipart);
    let lookup = CardLookup::Variable {
        template: template_id(),
        name: "PHONE".into(),
        value: "+71234567890".into(),
    };
    plan.ok("getcard/build/by-value", move || {
        Ok(ops::build_getcard_request(&lookup, "card.get", &c))
    });
    let c = config(BodyEncoding::Multipart);
    plan.ok("deletecard/build/ok", move || {
        Ok(ops::build_deletecard_request(&card_id(), "card.delete", &c))
    });
    let c = config(BodyEncoding::Multipart);
    plan.ok("getcardswithpagination/build/ok", move || {
        Ok(ops::build_page_request(
            &template_id(),
            2,
            50,
            "customer.list",
            &c,
        ))
    });
    let c = config(BodyEncoding::Multipart);
    plan.ok("checkvariablevalue/build/ok", move || {
        Ok(ops::build_checkvariable_request(
            &template_id(),
            "PHONE",
            "+71234567890",
            "card.check",
            &c,
        ))
    });

    for (name, parse) in [
        (
            "createcard/ok",
            ops::parse_createcard_response as fn(&_) -> _,
        ),
        (
            "createcard/duplicate-card-code",
            ops::parse_createcard_response,
        ),
        ("getcard/by-value", ops::parse_getcard_response),
        ("updatecard/ok", ops::parse_updatecard_response),
    ] {
        let resp = fx.response(&format!("{name}.response"));
        let (operation, case) = name.split_once('/').expect("operation/case");
        plan.ok(&format!("{operation}/parse/{case}"), move || {
            card_record(parse, &resp)
        });
    }
    for case in ["duplicate-value", "phone-required"] {
        let resp = fx.response(&format!("createcard/{case}.error"));
        plan.err(&format!("createcard/parse/{case}"), move || {
            card_record(ops::parse_createcard_response, &resp)
        });
    }
    let resp = fx.response("deletecard/ok.response");
    plan.ok("deletecard/parse/ok", move || {
        ops::parse_deletecard_response(&resp)
    });
    let resp = fx.response("getcardswithpagination/ok.response");
    plan.ok("getcardswithpagination/parse/ok", move || {
        card_records(&ops::parse_page_response(&resp)?.cards)
    });
    for case in ["ok", "unique"] {
        let resp = fx.response(&format!("checkvariablevalue/{case}.response"));
        plan.ok(&format!("checkvariablevalue/parse/{case}"), move || {
            ops::parse_checkvariable_response(&resp)
        });
    }
    let resp = fx.response("getcards/ok.response");
    plan.ok("getcards/parse/ok", move || {
        let cards: Vec<WireCard> =
            serde_json::from_value(parse_envelope(&resp, OnDuplicate::Conflict)?)
                .map_err(|e| walletport_core::Error::invalid_input(e.to_string()))?;
        card_records(&cards)
    });
    for case in ["by-card-id", "by-values"] {
        let resp = fx.response(&format!("updatecards/{case}.response"));
        plan.ok(&format!("updatecards/parse/{case}"), move || {
            parse_envelope(&resp, OnDuplicate::AlreadyExists)
        });
    }
}

/// Templates, pushes, the bare envelope and the webhook.
fn others(plan: &mut Plan, fx: &mut BenchFixtures) {
    let c = config(BodyEncoding::Multipart);
    plan.ok("gettemplate/build/ok", move || {
        Ok(template::build_gettemplate_request(&template_id(), &c))
    });
    let resp = fx.response("gettemplate/ok.response");
    plan.ok("gettemplate/parse/ok", move || {
        template::parse_gettemplate_response(&resp)
    });
    let c = config(BodyEncoding::Multipart);
    plan.ok("gettemplates/build/ok", move || {
        Ok(template::build_listtemplates_request(&c))
    });
    let resp = fx.response("gettemplates/ok.response");
    plan.ok("gettemplates/parse/ok", move || {
        template::parse_listtemplates_response(&resp)
    });
    let c = config(BodyEncoding::Multipart);
    plan.ok("sendpush/build/ok", move || {
        Ok(push::build_sendpush_request(
            &template_id(),
            "Скидка 10% до воскресенья",
            &c,
        ))
    });
    let resp = fx.response("sendpush/ok.response");
    plan.ok("sendpush/parse/ok", move || {
        push::parse_sendpush_response(&resp)
    });
    let resp = fx.response("envelope/ok.response");
    plan.ok("envelope/parse/ok", move || {
        parse_envelope(&resp, OnDuplicate::Conflict)
    });
    let resp = fx.response("envelope/rate-limited.error");
    plan.err("envelope/parse/rate-limited", move || {
        parse_envelope(&resp, OnDuplicate::Conflict)
    });
    let body = serde_json::to_vec(&fx.json("webhook/create-card.webhook")).expect("bytes");
    let fields = FieldMap::documented();
    plan.ok("webhook/parse/create-card", move || {
        parse_webhook(&body, &fields)
    });
}

fn main() {
    // The transport hands the adapter the status Passteam's envelope repeats in `code`.
    let mut fx = BenchFixtures::new(env!("CARGO_MANIFEST_DIR")).with_status(|body| {
        body["code"]
            .as_u64()
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(200)
    });
    let mut plan = Plan::default();
    forms(&mut plan, &mut fx);
    cards(&mut plan, &mut fx);
    others(&mut plan, &mut fx);
    fx.assert_all_used();

    bench::run(plan.into_routines());
}
