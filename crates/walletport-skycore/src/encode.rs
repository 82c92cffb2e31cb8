//! Request bodies serialised straight from the typed inputs, borrowing every string.
//!
//! Why: building a `serde_json::Map` first cloned every key and value of a 1–4 KB body into
//! `BTreeMap` nodes only to serialise and drop them (`docs/benchmarks.md`, section 1). The bytes
//! are unchanged: without serde_json's `preserve_order` a map serialises its keys sorted, so every
//! object here emits its keys in sorted order too (the derived structs declare their fields
//! sorted; the dynamic ones sort their entries).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use serde_json::Value;

use crate::wire::{IBeacon, PassData, RelevantLocation, status_to_wire};

/// One value of the pass-data object.
enum Item<'a> {
    Str(&'a str),
    Owned(String),
    Json(&'a Value),
    Locations(&'a [RelevantLocation]),
    Beacons(&'a [IBeacon]),
}

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Item::Str(v) => s.serialize_str(v),
            Item::Owned(v) => s.serialize_str(v),
            Item::Json(v) => v.serialize(s),
            Item::Locations(v) => v.serialize(s),
            Item::Beacons(v) => s.collect_seq(v.iter().map(BeaconWire)),
        }
    }
}

/// An iBeacon with its keys in sorted order (`key`, `major`, `minor`, `proximity-uuid`,
/// `relevant-text`), as the map-built body had them.
struct BeaconWire<'a>(&'a IBeacon);

impl Serialize for BeaconWire<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.0;
        let mut st = s.serialize_struct("IBeacon", 5)?;
        let opt = |st: &mut S::SerializeStruct, k: &'static str, v: &Option<String>| match v {
            Some(v) => st.serialize_field(k, v),
            None => st.skip_field(k),
        };
        opt(&mut st, "key", &b.key)?;
        opt(&mut st, "major", &b.major)?;
        opt(&mut st, "minor", &b.minor)?;
        st.serialize_field("proximity-uuid", &b.proximity_uuid)?;
        opt(&mut st, "relevant-text", &b.relevant_text)?;
        st.end()
    }
}

/// The pass-data object exactly as [`PassData::to_wire`] builds it, without building it.
pub(crate) struct PassDataWire<'a>(pub(crate) &'a PassData);

impl<'a> PassDataWire<'a> {
    fn entries(&self) -> Vec<(Cow<'a, str>, Item<'a>)> {
        let d = self.0;
        let mut out: Vec<(Cow<'a, str>, Item<'a>)> = Vec::with_capacity(24 + d.extra.len());
        for (k, v) in d.text_fields() {
            if let Some(v) = v {
                out.push((Cow::Borrowed(k), Item::Str(v)));
            }
        }
        for (n, v) in &d.messages {
            out.push((Cow::Owned(format!("message{n}")), Item::Str(v)));
        }
        if let Some(s) = d.status {
            out.push((Cow::Borrowed("pass-status"), Item::Str(status_to_wire(s))));
        }
        if let Some(t) = d.expiration_timestamp {
            let t = t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            out.push((Cow::Borrowed("expiration-timestamp"), Item::Owned(t)));
        }
        let typed = out.len();
        let locations = !d.relevant_locations.is_empty();
        let beacons = !d.ibeacons.is_empty();
        for (k, v) in &d.extra {
            // Typed fields win over `extra` (`or_insert`); the lists are inserted after it.
            let taken = out[..typed].iter().any(|(t, _)| t == k)
                || (locations && k == "relevant-locations")
                || (beacons && k == "ibeacons");
            if !taken {
                out.push((Cow::Borrowed(k.as_str()), Item::Json(v)));
            }
        }
        if locations {
            out.push((
                Cow::Borrowed("relevant-locations"),
                Item::Locations(&d.relevant_locations),
            ));
        }
        if beacons {
            out.push((Cow::Borrowed("ibeacons"), Item::Beacons(&d.ibeacons)));
        }
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

impl Serialize for PassDataWire<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entries = self.entries();
        let mut m = s.serialize_map(Some(entries.len()))?;
        for (k, v) in &entries {
            m.serialize_entry(k.as_ref(), v)?;
        }
        m.end()
    }
}

/// `pass-meta-data`.
#[derive(Serialize)]
pub(crate) struct Meta<'a> {
    #[serde(rename = "user-email", skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(rename = "user-phone", skip_serializing_if = "Option::is_none")]
    phone: Option<&'a str>,
}

impl<'a> Meta<'a> {
    /// The object, or `None` when it would be empty (then it is not sent).
    pub(crate) fn of(email: &'a Option<String>, phone: &'a Option<String>) -> Option<Self> {
        (email.is_some() || phone.is_some()).then_some(Self {
            email: email.as_deref(),
            phone: phone.as_deref(),
        })
    }
}

/// The `generatepass` and `updatepassdata` bodies (keys sorted); a member a call does not send
/// is `None` or empty and left out.
#[derive(Serialize)]
pub(crate) struct PassBody<'a> {
    pub(crate) action: &'static str,
    #[serde(rename = "new-pass-id", skip_serializing_if = "Option::is_none")]
    pub(crate) new_pass_id: Option<&'a str>,
    #[serde(rename = "pass-data")]
    pub(crate) data: PassDataWire<'a>,
    #[serde(rename = "pass-id")]
    pub(crate) pass_id: &'a str,
    #[serde(rename = "pass-meta-data", skip_serializing_if = "Option::is_none")]
    pub(crate) meta: Option<Meta<'a>>,
    #[serde(rename = "pass-template-id")]
    pub(crate) template_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) priority: Option<bool>,
    #[serde(rename = "reference-data", skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) reference_data: &'a BTreeMap<String, String>,
}

/// A body of ids only: `getpassdata`, `getpasstemplate` (keys sorted).
#[derive(Serialize)]
pub(crate) struct IdsBody<'a> {
    pub(crate) action: &'static str,
    #[serde(rename = "pass-id", skip_serializing_if = "Option::is_none")]
    pub(crate) pass_id: Option<&'a str>,
    #[serde(rename = "pass-template-id")]
    pub(crate) template_id: &'a str,
}

/// A top-level member of a template body: a fixed string, a value borrowed from the template
/// or the configuration, or a section merged from several of them.
pub(crate) enum Node<'a> {
    /// `action`, `pass-template-type`, `pass-template-subtype`, `pass-template-name`,
    /// `pass-template-id`.
    Str(&'a str),
    /// A value as the template or the configuration holds it.
    Json(&'a Value),
    /// An object merged key by key (later sources win), e.g. defaults under settings.
    Section(BTreeMap<&'a str, &'a Value>),
}

impl Serialize for Node<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Str(v) => s.serialize_str(v),
            Node::Json(v) => v.serialize(s),
            Node::Section(m) => s.collect_map(m.iter()),
        }
    }
}

/// A template create/update body borrowing from the template and the configuration; keys sort
/// as `String`s do, so it serialises as the map-built body did.
#[derive(Default)]
pub(crate) struct TemplateBody<'a> {
    /// The members.
    pub(crate) top: BTreeMap<&'a str, Node<'a>>,
}

impl<'a> TemplateBody<'a> {
    /// Merges `patch` in as `merge_sections` did: keys in `skip` ignored, an object onto an
    /// object extends it, anything else replaces.
    pub(crate) fn merge(
        &mut self,
        patch: impl IntoIterator<Item = (&'a str, &'a Value)>,
        skip: &[&str],
    ) {
        for (k, v) in patch {
            if skip.contains(&k) {
                continue;
            }
            match (self.top.get_mut(k), v) {
                (
                    Some(node @ (Node::Json(Value::Object(_)) | Node::Section(_))),
                    Value::Object(p),
                ) => {
                    if let Node::Json(Value::Object(base)) = node {
                        *node = Node::Section(base.iter().map(|(k, v)| (k.as_str(), v)).collect());
                    }
                    if let Node::Section(base) = node {
                        base.extend(p.iter().map(|(k, v)| (k.as_str(), v)));
                    }
                }
                _ => {
                    self.top.insert(k, Node::Json(v));
                }
            }
        }
    }
}

impl Serialize for TemplateBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.top.iter())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;
    use walletport_core::CardStatus;

    use super::*;

    /// The direct encoding equals `to_wire` byte for byte, overlapping `extra` keys included.
    #[test]
    fn pass_data_wire_is_to_wire() {
        let mut data = PassData {
            barcode_value: Some("B\"1".into()),
            strip_image: Some("s".into()),
            custom_fields: [None, Some("c2".into()), None],
            status: Some(CardStatus::Voided),
            expiration_timestamp: Utc.timestamp_opt(1_600_000_000, 0).single(),
            relevant_locations: vec![RelevantLocation {
                key: Some("relevant-1".into()),
                latitude: "1".into(),
                longitude: "2".into(),
                relevant_text: None,
            }],
            ibeacons: vec![IBeacon {
                key: None,
                proximity_uuid: "u".into(),
                major: Some("1".into()),
                minor: None,
                relevant_text: Some("t".into()),
            }],
            ..PassData::default()
        };
        data.messages.insert(4, "m4".into());
        data.messages.insert(10, "m10".into());
        data.messages.insert(12, "m12".into());
        for (k, v) in [
            ("strip-image", json!("extra loses")),
            ("relevant-locations", json!("list wins")),
            ("ibeacons", json!(null)),
            ("zz", json!({"b": 1, "a": [true]})),
            ("message5", json!(5)),
            ("aa", json!("first")),
        ] {
            data.extra.insert(k.into(), v);
        }
        let direct = serde_json::to_string(&PassDataWire(&data)).expect("serialises");
        let built = serde_json::to_string(&data.to_wire()).expect("serialises");
        assert_eq!(direct, built);
        data.relevant_locations.clear();
        data.ibeacons.clear();
        let direct = serde_json::to_string(&PassDataWire(&data)).expect("serialises");
        let built = serde_json::to_string(&data.to_wire()).expect("serialises");
        assert_eq!(direct, built);
    }
}
