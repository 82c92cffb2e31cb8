//! Every Passteam fixture (generated from `docs/providers/passteam.md`) against the adapter:
//! request forms built from the matching domain input equal the fixture's fields (and its `raw`
//! body when given), in both encodings; responses, errors and webhooks parse into the domain
//! values recorded as insta snapshots.

#[path = "support/inputs.rs"]
mod inputs;

use std::path::{Path, PathBuf};

use inputs::{bonus, card_id, config, customer_1c, fields_1c, percent_encoded_update, template_id};
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use walletport_http::{HttpRequest, HttpResponse};
use walletport_passteam::mapping::card::{
    Variables, card_from_wire, customer_variables, record_from_wire,
};
use walletport_passteam::mapping::{OnDuplicate, ops, parse_envelope, push, template};
use walletport_passteam::wire::{WireCard, WireTemplate};
use walletport_passteam::{BodyEncoding, FieldMap, duplicated_card_ids, parse_webhook};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The 1C listings' customer's variables with a bonus balance.
fn customer_1c_variables(bonus_points: rust_decimal::Decimal) -> Variables {
    customer_variables(&customer_1c(), &bonus(bonus_points), &fields_1c(), None)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The fields of a built request body, decoded by an implementation independent of ours.
fn decoded_fields(req: &HttpRequest) -> (String, Vec<(String, String)>) {
    let content_type = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mime = content_type.split(';').next().unwrap_or("").to_owned();
    let fields = if mime == "multipart/form-data" {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        rt.block_on(walletport_sandbox::passteam::decode_multipart(
            &content_type,
            req.body.clone(),
        ))
        .unwrap_or_else(|e| panic!("{e}"))
    } else {
        url::form_urlencoded::parse(&req.body)
            .into_owned()
            .collect()
    };
    (mime, fields)
}

fn form_request(name: &str, fixture: &Value) -> HttpRequest {
    let encoding = match fixture["content_type"].as_str() {
        Some("multipart/form-data") => BodyEncoding::Multipart,
        _ => BodyEncoding::Form,
    };
    let c = config(encoding);
    let card = card_id();
    match name {
        "createcard/urlencoded.form" | "createcard/multipart.form" => {
            ops::build_createcard_request(
                &template_id(),
                &customer_1c_variables(dec!(0)),
                "card.issue",
                false,
                &c,
            )
        }
        "updatecard/urlencoded.form" | "updatecard/multipart.form" => {
            ops::build_updatecard_request(
                &card,
                &customer_1c_variables(dec!(150)),
                &[],
                "card.update",
                &c,
            )
        }
        "updatecard/percent-encoded.form" => {
            let (card, v) = percent_encoded_update();
            ops::build_updatecard_request(&card, &v, &[], "card.update", &c)
        }
        other => panic!("no domain input for form fixture {other}"),
    }
}

fn card_json(w: &WireCard) -> Value {
    json!({
        "card": card_from_wire(w, &FieldMap::documented(), false),
        "record": record_from_wire(w, &FieldMap::documented()).ok(),
    })
}

fn error_json(e: &walletport_core::Error) -> Value {
    json!({ "error": e.to_json(), "duplicated_card_ids": duplicated_card_ids(e) })
}

fn response_value(operation: &str, name: &str, resp: &HttpResponse) -> Value {
    let err = |e: walletport_core::Error| error_json(&e);
    match operation {
        "createcard" => ops::parse_createcard_response(resp).map_or_else(err, |w| card_json(&w)),
        "getcard" => ops::parse_getcard_response(resp).map_or_else(err, |w| card_json(&w)),
        "updatecard" => ops::parse_updatecard_response(resp).map_or_else(err, |w| card_json(&w)),
        "deletecard" => {
            ops::parse_deletecard_response(resp).map_or_else(err, |()| json!("deleted"))
        }
        "sendpush" => push::parse_sendpush_response(resp).map_or_else(err, |()| json!("sent")),
        "checkvariablevalue" => ops::parse_checkvariable_response(resp).map_or_else(
            err,
            |u| json!({ "unique": u.unique, "card_ids": u.card_ids }),
        ),
        "getcardswithpagination" => ops::parse_page_response(resp).map_or_else(err, |p| {
            json!({
                "records": p.cards.iter().map(card_json).collect::<Vec<_>>(),
                "total": p.cards_count, "page_count": p.page_count,
                "next_after_page_2": ops::next_page(&p, 2),
            })
        }),
        "gettemplate" => template::parse_gettemplate_response(resp).map_or_else(err, |t| json!(t)),
        "gettemplates" => parse_envelope(resp, OnDuplicate::Conflict).map_or_else(err, |v| {
            let ts: Vec<WireTemplate> =
                serde_json::from_value(v).unwrap_or_else(|e| panic!("{name}: {e}"));
            json!(
                ts.into_iter()
                    .map(|t| template::template_from_wire(t).map_err(|e| e.to_string()))
                    .collect::<Vec<_>>()
            )
        }),
        "getcards" => parse_envelope(resp, OnDuplicate::Conflict).map_or_else(err, |v| {
            let cards: Vec<WireCard> =
                serde_json::from_value(v).unwrap_or_else(|e| panic!("{name}: {e}"));
            json!(cards.iter().map(card_json).collect::<Vec<_>>())
        }),
        // The plain envelope and the deprecated updatecards: the result as the adapter sees it.
        _ => parse_envelope(resp, OnDuplicate::AlreadyExists)
            .map_or_else(err, |v| json!({ "result": v })),
    }
}

#[test]
fn every_fixture_matches_the_adapter() {
    let index = read(&dir().join("index.json"));
    let entries = index["fixtures"].as_array().cloned().unwrap_or_default();
    assert!(entries.len() >= 20, "index has {} fixtures", entries.len());
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/fixtures");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for entry in entries {
            let name = entry["name"].as_str().unwrap_or_default().to_owned();
            let operation = entry["operation"].as_str().unwrap_or_default().to_owned();
            let kind = entry["kind"].as_str().unwrap_or_default().to_owned();
            let fixture = read(&dir().join(entry["file"].as_str().unwrap_or_default()));
            let snapshot = name.replace('/', "__");
            let value = match kind.as_str() {
                "form" => {
                    let req = form_request(&name, &fixture);
                    let (mime, fields) = decoded_fields(&req);
                    assert_eq!(Some(mime.as_str()), fixture["content_type"].as_str(), "{name}");
                    let want: Vec<(String, String)> = serde_json::from_value(fixture["fields"].clone())
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(fields, want, "{name}: fields");
                    if let Some(raw) = fixture["raw"].as_str() {
                        assert_eq!(req.body_text(), raw, "{name}: raw body");
                    }
                    // The other encoding carries the same fields.
                    let other = match mime.as_str() {
                        "multipart/form-data" => BodyEncoding::Form,
                        _ => BodyEncoding::Multipart,
                    };
                    let mut flipped = fixture.clone();
                    flipped["content_type"] = json!(match other {
                        BodyEncoding::Form => "application/x-www-form-urlencoded",
                        BodyEncoding::Multipart => "multipart/form-data",
                    });
                    assert_eq!(decoded_fields(&form_request(&name, &flipped)).1, want, "{name}: other encoding");
                    json!({
                        "path": req.path, "idempotent": req.idempotent,
                        "content_type": req.headers.get("content-type").and_then(|v| v.to_str().ok()),
                        "authorization_sensitive": req.headers.get("authorization").is_some_and(|v| v.is_sensitive()),
                        "body": req.body_text(),
                    })
                }
                "webhook" => {
                    let body = serde_json::to_vec(&fixture).unwrap_or_default();
                    let e = parse_webhook(&body, &FieldMap::documented()).unwrap_or_else(|e| panic!("{name}: {e}"));
                    json!({ "event_id": e.event_id, "kind": e.kind, "phone": e.phone, "card": e.card })
                }
                "response" | "error" => {
                    let status = fixture["code"].as_u64().and_then(|c| u16::try_from(c).ok()).unwrap_or(200);
                    let resp = HttpResponse::json_body(status, &fixture);
                    let value = response_value(&operation, &name, &resp);
                    assert_eq!(kind == "error", value.get("error").is_some(), "{name}: {value}");
                    value
                }
                other => panic!("unknown fixture kind {other}"),
            };
            insta::assert_json_snapshot!(snapshot, value);
        }
    });
}
