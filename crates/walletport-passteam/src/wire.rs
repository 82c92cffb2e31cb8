//! Passteam's JSON, as serde structs that accept every documented form.
//!
//! The document is loose: flags come as `0`/`1` or `true`/`false`, counters as numbers or
//! strings, variable keys as `%POINTS%` or `PHONE`, an empty `values` as `[]` (PHP's empty array).
//! Everything here is lenient on input and the mapping layer decides what is an error.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::config::normalize_variable;

/// The envelope of every answer: `{result, message, code, error}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Envelope {
    /// The payload; `null` on errors.
    pub result: Value,
    /// `OK` or the error text.
    #[serde(deserialize_with = "lenient_string")]
    pub message: Option<String>,
    /// HTTP-like status code repeated in the body.
    #[serde(deserialize_with = "lenient_u64")]
    pub code: Option<u64>,
    /// True on failure, even when the HTTP status is 200.
    #[serde(deserialize_with = "lenient_bool")]
    pub error: Option<bool>,
}

/// A card (client) as `getcard`, `createcard`, listings and webhooks return it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WireCard {
    /// 24 hex characters.
    #[serde(deserialize_with = "lenient_string")]
    pub card_id: Option<String>,
    /// Passteam's card code (barcode value).
    #[serde(deserialize_with = "lenient_string")]
    pub card_code: Option<String>,
    /// The install page.
    #[serde(deserialize_with = "lenient_string")]
    pub card_url: Option<String>,
    /// Apple Wallet link.
    #[serde(deserialize_with = "lenient_string")]
    pub apple_url: Option<String>,
    /// Google Wallet link.
    #[serde(deserialize_with = "lenient_string")]
    pub google_url: Option<String>,
    /// QR code image.
    #[serde(deserialize_with = "lenient_string")]
    pub qrcode_url: Option<String>,
    /// Template variables, keys normalized without `%`.
    #[serde(deserialize_with = "variables")]
    pub values: BTreeMap<String, String>,
    /// A device registered the pass.
    #[serde(deserialize_with = "lenient_bool")]
    pub device_registered: Option<bool>,
    /// Expiration, `""` when none.
    #[serde(deserialize_with = "lenient_string")]
    pub expiration_date: Option<String>,
    /// `0`/`1`.
    #[serde(deserialize_with = "lenient_bool")]
    pub voided: Option<bool>,
    /// The system phone field.
    #[serde(deserialize_with = "lenient_string")]
    pub phone_number: Option<String>,
    /// The system e-mail field.
    #[serde(deserialize_with = "lenient_string")]
    pub email: Option<String>,
    /// The template.
    #[serde(deserialize_with = "lenient_string")]
    pub template_id: Option<String>,
    /// Import id.
    #[serde(deserialize_with = "lenient_string")]
    pub import_uid: Option<String>,
    /// Installed in Google Wallet (`0`/`1`).
    #[serde(rename = "installedGPay", deserialize_with = "lenient_bool")]
    pub installed_gpay: Option<bool>,
    /// Installed in Apple Wallet (`0`/`1`).
    #[serde(rename = "installedAW", deserialize_with = "lenient_bool")]
    pub installed_aw: Option<bool>,
    /// Installed anywhere.
    #[serde(deserialize_with = "lenient_bool")]
    pub installed: Option<bool>,
    /// `13.02.2020 12:22:57`.
    #[serde(deserialize_with = "lenient_string")]
    pub created: Option<String>,
    /// `13.02.2020 12:22:57`.
    #[serde(deserialize_with = "lenient_string")]
    pub updated: Option<String>,
}

/// `updatecard`'s result: `{messages, updated, card}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WireUpdated {
    /// Notes from the vendor.
    pub messages: Value,
    /// Whether anything changed.
    #[serde(deserialize_with = "lenient_bool")]
    pub updated: Option<bool>,
    /// The card after the update.
    pub card: Option<WireCard>,
}

/// `getcardswithpagination`'s result.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WirePage {
    /// Pages in total.
    #[serde(deserialize_with = "lenient_u64")]
    pub page_count: Option<u64>,
    /// The next page number, absent / null / 0 on the last page.
    #[serde(deserialize_with = "lenient_u64")]
    pub next_page: Option<u64>,
    /// The previous page number (the document spells it `previouslyPage`).
    #[serde(deserialize_with = "lenient_u64")]
    pub previously_page: Option<u64>,
    /// Cards in the template.
    #[serde(deserialize_with = "lenient_u64")]
    pub cards_count: Option<u64>,
    /// The page's cards.
    pub cards: Vec<WireCard>,
}

/// A template variable as `gettemplate` lists it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct WireField {
    /// The label.
    #[serde(deserialize_with = "lenient_string")]
    pub title: Option<String>,
    /// The variable name (with or without `%`).
    #[serde(deserialize_with = "lenient_string")]
    pub name: Option<String>,
    /// `text`, `phone`, `email`, `date`, `date_time`, `list`, `flag`, `number`.
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    /// `dateStyle`, `forList`.
    pub params: Value,
    /// Values must be unique across the template's cards.
    #[serde(deserialize_with = "lenient_bool")]
    pub unique: Option<bool>,
    /// A value is required.
    #[serde(deserialize_with = "lenient_bool")]
    pub required: Option<bool>,
}

/// `gettemplate`'s result (and one element of `getlisttemplates` when it returns objects).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireTemplate {
    /// The id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub template_id: Option<String>,
    /// The design title.
    #[serde(default, deserialize_with = "lenient_string")]
    pub title: Option<String>,
    /// The user's name for it.
    #[serde(default, deserialize_with = "lenient_string")]
    pub user_title: Option<String>,
    /// The template type.
    #[serde(default, rename = "type", deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    /// The variables.
    #[serde(default)]
    pub fields: Vec<WireField>,
    /// The account owning it.
    #[serde(default, deserialize_with = "lenient_string")]
    pub owner: Option<String>,
    /// Everything else (counters, company, passTypeId, ...).
    #[serde(flatten)]
    pub rest: serde_json::Map<String, Value>,
}

/// `deletecard`'s result: `{n, ok, err, errmsg}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WireDeleted {
    /// Cards deleted.
    #[serde(deserialize_with = "lenient_u64")]
    pub n: Option<u64>,
    /// 1 on success.
    #[serde(deserialize_with = "lenient_u64")]
    pub ok: Option<u64>,
    /// Error text, if any.
    #[serde(deserialize_with = "lenient_string")]
    pub errmsg: Option<String>,
}

/// A webhook body: `{webhookId, event, card}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireWebhook {
    /// The deduplication key.
    #[serde(deserialize_with = "required_string")]
    pub webhook_id: String,
    /// `createCard`, `updateCard`, `deleteCard`, `installCard`, `unInstallCard`.
    #[serde(deserialize_with = "required_string")]
    pub event: String,
    /// The card, in `getcard`'s format.
    pub card: WireCard,
}

/// A value as text: strings as they are, numbers and flags printed, `null` → `None`.
pub fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// A field of any JSON type as [`value_text`].
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Value::deserialize(d).map(into_text)
}

fn required_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match lenient_string(d)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(serde::de::Error::custom("must be a non-empty string")),
    }
}

/// `true`/`false`, `1`/`0`, `"1"`/`"0"`, `"true"`/`"false"`; anything else → `None`.
pub fn bool_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|x| x != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" => Some(true),
            "0" | "false" | "no" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A field of any JSON type as [`bool_of`].
pub(crate) fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Value::deserialize(d).map(|v| bool_of(&v))
}

/// A counter: a non-negative integer or a string holding one; anything else → `None`.
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Value::deserialize(d).map(|v| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

fn variables<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Object(map) => map
            .into_iter()
            .filter_map(|(k, v)| into_text(v).map(|v| (normalize_variable(&k), v)))
            .collect(),
        _ => BTreeMap::new(),
    })
}

/// [`value_text`] of an owned value, moving a string instead of copying it.
fn into_text(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        other => value_text(&other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_accepts_every_documented_form() {
        let a: WireCard = serde_json::from_str(
            r#"{"cardId":"5e451571cea6c6141807b792","values":{"%POINTS%":"1000","PHONE":71234567890},
                "voided":0,"installedGPay":"1","installedAW":false,"installed":true,"deviceRegistered":false}"#,
        )
        .unwrap_or_default();
        assert_eq!(a.values.get("POINTS").map(String::as_str), Some("1000"));
        assert_eq!(
            a.values.get("PHONE").map(String::as_str),
            Some("71234567890")
        );
        assert_eq!(
            (a.voided, a.installed_gpay, a.installed_aw),
            (Some(false), Some(true), Some(false))
        );
        let b: WireCard = serde_json::from_str(r#"{"values":[],"voided":"1"}"#).unwrap_or_default();
        assert!(b.values.is_empty());
        assert_eq!(b.voided, Some(true));
    }

    #[test]
    fn envelope_codes_as_strings_or_numbers() {
        let e: Envelope =
            serde_json::from_str(r#"{"result":null,"message":"x","code":"409","error":"true"}"#)
                .unwrap_or_default();
        assert_eq!((e.code, e.error), (Some(409), Some(true)));
    }
}
