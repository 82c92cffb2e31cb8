//! The Skycore fixtures (`tests/fixtures/index.json`) and the decoders that turn the vendor's
//! example requests into the adapter's typed inputs, shared by `tests/fixture_snapshots.rs` and
//! `benches/adapter.rs` so that the benchmark times exactly the inputs the snapshots pin.
//!
//! Included by path (`#[path = ...] mod inputs;`) from both targets.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};
use walletport_core::{Template, TemplateId};
use walletport_skycore::wire::{PassData, parse_timestamp, text};
use walletport_skycore::{
    Checksum, ChecksumScope, GeneratePass, IssuanceLink, LinkEncryption, LinkExpiry,
    LinkProtection, LinkStatus, PassVariable, SkycoreConfig, UpdatePass,
};

/// The template id the configuration defaults to, and a template example without one gets.
pub(crate) const TEMPLATE: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// One fixture of the index: where it belongs (operation, case, kind) and its JSON body.
pub(crate) struct Fixture {
    /// The index name (`operation/case.kind`), used in messages and snapshot names.
    pub(crate) name: String,
    /// The Skycore `action` the exchange belongs to.
    pub(crate) operation: String,
    /// The example (`loyalty-card`, `layout-…`, `schema`, …).
    pub(crate) case: String,
    /// `request`, `response` or `error`.
    pub(crate) kind: String,
    /// The fixture's JSON.
    pub(crate) body: Value,
}

/// Every fixture the index lists, in index order; panics on an unreadable or empty index, since a
/// run over no fixtures would pass vacuously.
pub(crate) fn fixtures() -> Vec<Fixture> {
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

/// The adapter configuration every fixture was written for (placeholder key and template).
pub(crate) fn config() -> SkycoreConfig {
    SkycoreConfig::new(
        "https://api.skycore.invalid/API/",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        TEMPLATE,
    )
}

/// An object's entries, or none when `v` is not an object (the examples omit empty maps).
pub(crate) fn obj(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// A key's value as Skycore text (strings, numbers and booleans alike), if present.
pub(crate) fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(text)
}

/// A `generatepass` example request as the typed input our encoder takes.
pub(crate) fn decode_generate(b: &Value) -> GeneratePass {
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

/// An `updatepassdata` example request as the typed input our encoder takes.
pub(crate) fn decode_update(b: &Value) -> UpdatePass {
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

/// A create/update-template example request as the domain template our encoder takes.
pub(crate) fn decode_template(b: &Value) -> Template {
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

/// An issuance-link example request as the typed input our encoder takes.
pub(crate) fn decode_link(b: &Value) -> IssuanceLink {
    let variables = obj(&b["pass-variables"])
        .iter()
        .map(|(k, v)| {
            let flag = |f: &str| v.get(f).and_then(Value::as_bool).unwrap_or_default();
            (
                k.clone(),
                PassVariable {
                    required: flag("is-required"),
                    encrypted: flag("value-encryption"),
                },
            )
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

/// The sibling example request of a response fixture: what the client sent, hence the input
/// of the encoder whose answer the response is.
pub(crate) fn example_request(all: &[Fixture], f: &Fixture) -> Value {
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
