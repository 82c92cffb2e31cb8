//! The Skycore wire format: the pass-data object, relevant locations, iBeacons, the response
//! envelope, and the scalar leniency Skycore needs (numbers as strings or numbers, two key sets).
//!
//! Requests are sent in the canonical form (strings, key set A, `Z` timestamps); every documented
//! form is accepted on input.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use walletport_core::{CardStatus, Error, Result};

use crate::answer::{Answer, AnswerSeed, Key, Lv};

/// Pass-data keys a pass carries per pass (not set on the template) that domain fields may map
/// to.
pub const FIELD_TARGETS: &[&str] = &[
    "message4",
    "message5",
    "message6",
    "message7",
    "message8",
    "message9",
    "message10",
    "custom-field-1",
    "custom-field-2",
    "custom-field-3",
    "additional-image",
    "strip-image",
];

/// True for a key of [`FIELD_TARGETS`].
pub fn is_field_target(key: &str) -> bool {
    FIELD_TARGETS.contains(&key)
}

/// A scalar as text: strings as they are, numbers and booleans printed; `None` for anything
/// else (Skycore sends `"65"` and `65` alike).
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The second key set of `getpassdata` / `getpasstemplate` → the first (canonical) one.
pub fn canonical_key(key: &str) -> &str {
    match key {
        "logo-url" => "program-logo",
        "strip-url" => "strip-image",
        "pass-issuer" => "card-issuer",
        "link1-URI" => "link1",
        "link2-URI" => "link2",
        "home-page-URI" => "home-page-uri",
        other => other,
    }
}

/// A location near which the pass shows on the lock screen (Apple shows the text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelevantLocation {
    /// `relevant-1` … `relevant-10`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Decimal degrees, as text.
    pub latitude: String,
    /// Decimal degrees, as text.
    pub longitude: String,
    /// The text shown (Apple only).
    #[serde(
        rename = "relevant-text",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub relevant_text: Option<String>,
}

/// An iBeacon near which the pass shows (Apple only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IBeacon {
    /// `ibeacon-1` … `ibeacon-10`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The beacon's proximity UUID.
    #[serde(rename = "proximity-uuid")]
    pub proximity_uuid: String,
    /// Major value, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<String>,
    /// Minor value, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<String>,
    /// The text shown.
    #[serde(
        rename = "relevant-text",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub relevant_text: Option<String>,
}

/// `pass-status`: what Skycore calls the life-cycle state of a pass.
pub fn status_to_wire(status: CardStatus) -> &'static str {
    match status {
        CardStatus::Active => "active",
        CardStatus::Voided => "voided",
        CardStatus::Expired => "expired",
        CardStatus::Redeemed => "redeemed",
    }
}

/// Reads a `pass-status`, case-insensitively.
pub fn status_from_wire(s: &str) -> Option<CardStatus> {
    s.parse().ok()
}

/// The `pass-data` object of `generatepass`, `updatepassdata` and `getpassdata`.
///
/// Every field optional: a request sends what is set, a read returns what Skycore holds.
/// [`PassData::to_wire`] and [`PassData::from_wire`] are inverse on what `to_wire` produces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PassData {
    /// `barcode-value`: the card number the barcode encodes.
    pub barcode_value: Option<String>,
    /// `loyalty-points` (text, e.g. `"150.25"`).
    pub loyalty_points: Option<String>,
    /// `secondary-loyalty-points` (text).
    pub secondary_loyalty_points: Option<String>,
    /// `account-name`: the member's name.
    pub account_name: Option<String>,
    /// `account-id`: the member's number.
    pub account_id: Option<String>,
    /// `additional-image`: a URL, Google passes only.
    pub additional_image: Option<String>,
    /// `strip-image`: a PNG URL overriding the template's.
    pub strip_image: Option<String>,
    /// `custom-field-1..3` (index 0..2), layout 2 only.
    pub custom_fields: [Option<String>; 3],
    /// `message4` … `message10`, by number.
    pub messages: BTreeMap<u8, String>,
    /// `pass-status`.
    pub status: Option<CardStatus>,
    /// `expiration-timestamp`, UTC.
    pub expiration_timestamp: Option<DateTime<Utc>>,
    /// `expiration-timezone`, an IANA name.
    pub expiration_timezone: Option<String>,
    /// `pass-update-notification`: the text pushed with the update.
    pub update_notification: Option<String>,
    /// `relevant-locations` (at most 10).
    pub relevant_locations: Vec<RelevantLocation>,
    /// `ibeacons` (at most 10).
    pub ibeacons: Vec<IBeacon>,
    /// Every other key a read returned (static template values, unparsable timestamps, …),
    /// canonical key names, values as sent.
    pub extra: BTreeMap<String, Value>,
}

impl PassData {
    /// The text fields under their wire keys, absent ones included: the one list both request
    /// encoders ([`to_wire`](Self::to_wire) and `encode::PassDataWire`) send.
    pub(crate) fn text_fields(&self) -> [(&'static str, &Option<String>); 12] {
        [
            ("barcode-value", &self.barcode_value),
            ("loyalty-points", &self.loyalty_points),
            ("secondary-loyalty-points", &self.secondary_loyalty_points),
            ("account-name", &self.account_name),
            ("account-id", &self.account_id),
            ("additional-image", &self.additional_image),
            ("strip-image", &self.strip_image),
            ("custom-field-1", &self.custom_fields[0]),
            ("custom-field-2", &self.custom_fields[1]),
            ("custom-field-3", &self.custom_fields[2]),
            ("expiration-timezone", &self.expiration_timezone),
            ("pass-update-notification", &self.update_notification),
        ]
    }

    /// The canonical JSON object: strings, `Z` timestamps, absent fields left out.
    pub fn to_wire(&self) -> Map<String, Value> {
        let mut m = Map::new();
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                m.insert(k.to_owned(), Value::String(v.clone()));
            }
        };
        for (k, v) in self.text_fields() {
            put(k, v);
        }
        for (n, v) in &self.messages {
            put(&format!("message{n}"), &Some(v.clone()));
        }
        put(
            "pass-status",
            &self.status.map(|s| status_to_wire(s).to_owned()),
        );
        put(
            "expiration-timestamp",
            &self
                .expiration_timestamp
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        );
        for (k, v) in &self.extra {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if !self.relevant_locations.is_empty() {
            m.insert(
                "relevant-locations".into(),
                serde_json::to_value(&self.relevant_locations).unwrap_or_default(),
            );
        }
        if !self.ibeacons.is_empty() {
            m.insert(
                "ibeacons".into(),
                serde_json::to_value(&self.ibeacons).unwrap_or_default(),
            );
        }
        m
    }

    /// Reads a pass-data object in either key set; numbers become text, an unparsable
    /// timestamp or status stays in [`extra`](Self::extra). Only malformed location or beacon
    /// lists fail.
    pub fn from_wire(map: &Map<String, Value>) -> Result<Self> {
        let mut data = Self::default();
        for (raw_key, value) in map {
            if let Some((k, v)) = data.absorb(raw_key, value)? {
                data.extra.insert(k, v);
            }
        }
        Ok(data)
    }

    /// [`from_wire`](Self::from_wire) of entries already sorted by key without repeats (as a
    /// map iterates them), decoded from an answer without building a map first.
    pub(crate) fn from_entries(entries: Vec<(Key<'_>, Lv<'_>)>) -> Result<Self> {
        let mut data = Self::default();
        let mut extra = Vec::new();
        for (raw_key, value) in entries {
            extra.extend(data.absorb(&raw_key.0, value)?);
        }
        // Built in one go (a repeated canonical key keeps its last value, as inserting would).
        data.extra = extra.into_iter().collect();
        Ok(data)
    }

    /// One member of a pass-data object: the single place the reading rules live. Returns the
    /// entry for [`extra`](Self::extra) when the member is not a typed field.
    fn absorb<V: WireValue>(&mut self, raw_key: &str, value: V) -> Result<Option<(String, Value)>> {
        let key = canonical_key(raw_key);
        let t = value.text();
        let slot: Option<&mut Option<String>> = match key {
            "barcode-value" => Some(&mut self.barcode_value),
            "loyalty-points" => Some(&mut self.loyalty_points),
            "secondary-loyalty-points" => Some(&mut self.secondary_loyalty_points),
            "account-name" => Some(&mut self.account_name),
            "account-id" => Some(&mut self.account_id),
            "additional-image" => Some(&mut self.additional_image),
            "strip-image" => Some(&mut self.strip_image),
            "custom-field-1" => Some(&mut self.custom_fields[0]),
            "custom-field-2" => Some(&mut self.custom_fields[1]),
            "custom-field-3" => Some(&mut self.custom_fields[2]),
            "expiration-timezone" => Some(&mut self.expiration_timezone),
            "pass-update-notification" => Some(&mut self.update_notification),
            _ => None,
        };
        if let Some(slot) = slot
            && let Some(t) = &t
        {
            *slot = Some(t.as_ref().to_owned());
            return Ok(None);
        }
        let message_no = key
            .strip_prefix("message")
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|n| (4..=10).contains(n));
        match (key, message_no, t.as_deref()) {
            (_, Some(n), Some(t)) => {
                self.messages.insert(n, t.to_owned());
            }
            ("pass-status", _, Some(s)) if status_from_wire(s).is_some() => {
                self.status = status_from_wire(s);
            }
            ("expiration-timestamp", _, Some(s)) if parse_timestamp(s).is_some() => {
                self.expiration_timestamp = parse_timestamp(s);
            }
            ("relevant-locations", _, _) if !value.is_null() => {
                drop(t);
                self.relevant_locations = list(value.into_value(), key)?;
            }
            ("ibeacons", _, _) if !value.is_null() => {
                drop(t);
                self.ibeacons = list(value.into_value(), key)?;
            }
            _ => {
                drop(t);
                return Ok(Some((key.to_owned(), value.into_value())));
            }
        }
        Ok(None)
    }
}

/// A pass-data value as the reading rules see it: text (strings, numbers, booleans), `null`,
/// or an owned JSON value; a borrowed [`Value`] and a decoded [`Lv`] alike.
trait WireValue {
    fn text(&self) -> Option<Cow<'_, str>>;
    fn is_null(&self) -> bool;
    fn into_value(self) -> Value;
}

impl WireValue for &Value {
    fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::String(s) => Some(Cow::Borrowed(s)),
            other => text(other).map(Cow::Owned),
        }
    }
    fn is_null(&self) -> bool {
        Value::is_null(self)
    }
    fn into_value(self) -> Value {
        self.clone()
    }
}

impl WireValue for Lv<'_> {
    fn text(&self) -> Option<Cow<'_, str>> {
        Lv::text(self)
    }
    fn is_null(&self) -> bool {
        matches!(self, Lv::Other(Value::Null))
    }
    fn into_value(self) -> Value {
        Lv::into_value(self)
    }
}

fn list<T: serde::de::DeserializeOwned>(value: Value, key: &str) -> Result<Vec<T>> {
    serde_json::from_value(value)
        .map_err(|e| Error::unexpected(format!("Skycore sent an unreadable `{key}`: {e}")))
}

/// An ISO 8601 timestamp with an offset (read as the UTC instant it names).
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The envelope every answer has: a case-insensitive `status`, on failure `error-code` and
/// `error-message`, and the call's own members.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `Success` / `success` or `Failure` / `FAILURE` / `failure`.
    pub status: Option<String>,
    /// `E` and digits, on failure.
    pub error_code: Option<Value>,
    /// Skycore's words, on failure.
    pub error_message: Option<String>,
    /// Every other member.
    pub rest: Map<String, Value>,
}

impl From<Answer<Map<String, Value>>> for Envelope {
    fn from(a: Answer<Map<String, Value>>) -> Self {
        Self {
            status: a.status,
            error_code: a.error_code,
            error_message: a.error_message,
            rest: a.members,
        }
    }
}

/// Decoded in one pass (no `#[serde(flatten)]` buffering); accepts and refuses exactly what the
/// derived form with a flattened `rest` did.
impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::DeserializeSeed;
        AnswerSeed(Map::new()).deserialize(d).map(Self::from)
    }
}

impl Envelope {
    /// A member of the answer as text.
    pub fn get_text(&self, key: &str) -> Option<String> {
        self.rest.get(key).and_then(text)
    }
}
