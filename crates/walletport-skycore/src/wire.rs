//! The Skycore wire format: the pass-data object, relevant locations, iBeacons, the response
//! envelope, and the scalar leniency Skycore needs (numbers as strings or numbers, two key sets).
//!
//! Requests are sent in the canonical form (strings, key set A, `Z` timestamps); every documented
//! form is accepted on input.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use walletport_core::{CardStatus, Error, Result};

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
    /// The canonical JSON object: strings, `Z` timestamps, absent fields left out.
    pub fn to_wire(&self) -> Map<String, Value> {
        let mut m = Map::new();
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                m.insert(k.to_owned(), Value::String(v.clone()));
            }
        };
        put("barcode-value", &self.barcode_value);
        put("loyalty-points", &self.loyalty_points);
        put("secondary-loyalty-points", &self.secondary_loyalty_points);
        put("account-name", &self.account_name);
        put("account-id", &self.account_id);
        put("additional-image", &self.additional_image);
        put("strip-image", &self.strip_image);
        for (i, v) in self.custom_fields.iter().enumerate() {
            put(&format!("custom-field-{}", i + 1), v);
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
        put("expiration-timezone", &self.expiration_timezone);
        put("pass-update-notification", &self.update_notification);
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
            let key = canonical_key(raw_key);
            let t = text(value);
            let slot: Option<&mut Option<String>> = match key {
                "barcode-value" => Some(&mut data.barcode_value),
                "loyalty-points" => Some(&mut data.loyalty_points),
                "secondary-loyalty-points" => Some(&mut data.secondary_loyalty_points),
                "account-name" => Some(&mut data.account_name),
                "account-id" => Some(&mut data.account_id),
                "additional-image" => Some(&mut data.additional_image),
                "strip-image" => Some(&mut data.strip_image),
                "custom-field-1" => Some(&mut data.custom_fields[0]),
                "custom-field-2" => Some(&mut data.custom_fields[1]),
                "custom-field-3" => Some(&mut data.custom_fields[2]),
                "expiration-timezone" => Some(&mut data.expiration_timezone),
                "pass-update-notification" => Some(&mut data.update_notification),
                _ => None,
            };
            if let Some(slot) = slot
                && t.is_some()
            {
                *slot = t;
                continue;
            }
            let message_no = key
                .strip_prefix("message")
                .and_then(|n| n.parse::<u8>().ok())
                .filter(|n| (4..=10).contains(n));
            match (key, message_no, &t) {
                (_, Some(n), Some(t)) => {
                    data.messages.insert(n, t.clone());
                }
                ("pass-status", _, Some(s)) if status_from_wire(s).is_some() => {
                    data.status = status_from_wire(s);
                }
                ("expiration-timestamp", _, Some(s)) if parse_timestamp(s).is_some() => {
                    data.expiration_timestamp = parse_timestamp(s);
                }
                ("relevant-locations", _, _) if !value.is_null() => {
                    data.relevant_locations = list(value, key)?;
                }
                ("ibeacons", _, _) if !value.is_null() => {
                    data.ibeacons = list(value, key)?;
                }
                _ => {
                    data.extra.insert(key.to_owned(), value.clone());
                }
            }
        }
        Ok(data)
    }
}

fn list<T: serde::de::DeserializeOwned>(value: &Value, key: &str) -> Result<Vec<T>> {
    serde_json::from_value(value.clone())
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Envelope {
    /// `Success` / `success` or `Failure` / `FAILURE` / `failure`.
    #[serde(default)]
    pub status: Option<String>,
    /// `E` and digits, on failure.
    #[serde(rename = "error-code", default)]
    pub error_code: Option<Value>,
    /// Skycore's words, on failure.
    #[serde(rename = "error-message", default)]
    pub error_message: Option<String>,
    /// Every other member.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl Envelope {
    /// A member of the answer as text.
    pub fn get_text(&self, key: &str) -> Option<String> {
        self.rest.get(key).and_then(text)
    }
}
