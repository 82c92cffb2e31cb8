//! The bodies of Passquare's methods and hooks: what it answers (every field optional, loose
//! types) and what we send.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{LooseBool, LooseDecimal, LooseString};

/// A card number with its track, as in `cardTracks`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct WireCardTrack {
    /// The card number.
    pub card: LooseString,
    /// Its track.
    pub track: LooseString,
}

/// A card's install flag, as in `cardInstalls`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct WireCardInstall {
    /// The card number.
    pub card: LooseString,
    /// Whether it is installed.
    pub install: LooseBool,
}

/// A customer as Passquare sends it: in `read_customer` answers and in the hooks' `customer`
/// block. Every field is optional here; the mapping decides what is required.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WireCustomer {
    /// E.164, sometimes without `+`.
    pub phone: LooseString,
    /// E-mail.
    pub email: LooseString,
    /// First name.
    pub name: LooseString,
    /// Family name.
    pub surname: LooseString,
    /// Patronymic (`middlename`, all lower case in both documents).
    #[serde(rename = "middlename", alias = "middleName")]
    pub middle_name: LooseString,
    /// `dd.mm.yyyy` or `yyyy-mm-dd`.
    pub birthday: LooseString,
    /// Card numbers.
    pub card_numbers: Vec<LooseString>,
    /// Card numbers with tracks.
    pub card_tracks: Vec<WireCardTrack>,
    /// Install flags per card.
    pub card_installs: Vec<WireCardInstall>,
    /// Points.
    pub balance: LooseDecimal,
    /// Bonus %.
    pub bonus: LooseDecimal,
    /// Discount %.
    pub discount: LooseDecimal,
    /// The merchant CRM's id (`read_customer`).
    pub remote_id: LooseString,
    /// The CRM id under the name the upsert uses.
    pub customer_id: LooseString,
    /// Who invited this customer (`read_customer`).
    pub invited_by: LooseString,
    /// Whom this customer invited.
    pub invites: Option<Vec<LooseString>>,
    /// The card design (examples version).
    #[serde(rename = "template_uuid")]
    pub template_uuid: LooseString,
    /// The customer's own referral promo code (createCustomer).
    pub promo: LooseString,
    /// The inviter's phone (createCustomer).
    pub refer_customer_phone: LooseString,
    /// Registration extras (sex, promo entered), createCustomer.
    pub extra: Option<BTreeMap<String, Value>>,
    /// Credit amount (addBalance).
    pub sum: LooseDecimal,
    /// Credit id (addBalance).
    pub transaction_id: LooseString,
    /// Credit lifetime in seconds or days (addBalance; unit by configuration).
    pub lifetime: LooseDecimal,
}

/// The common error fields Passquare may put into any answer.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct WireOutcome {
    /// `false` (or `"false"`) means the request failed, even with HTTP 200.
    pub success: LooseBool,
    /// Error text (or object).
    pub error: Option<Value>,
    /// Message text.
    pub message: Option<Value>,
}

impl WireOutcome {
    /// The error text, if the answer carries one.
    pub fn error_text(&self) -> Option<String> {
        fn text(v: &Value) -> Option<String> {
            match v {
                Value::Null | Value::Bool(false) => None,
                Value::String(s) if s.trim().is_empty() => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            }
        }
        self.error.as_ref().and_then(text)
    }

    /// The message text, if any.
    pub fn message_text(&self) -> Option<String> {
        match &self.message {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(Value::Null) | None => None,
            Some(Value::String(_)) => None,
            Some(other) => Some(other.to_string()),
        }
    }
}

/// Method 2.1 answer.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct StatusResponse {
    /// The account name.
    pub app: LooseString,
    /// Prepaid credit.
    pub balance: LooseDecimal,
}

/// Method 2.2 answer.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct UpsertResponse {
    /// Customer created/updated ("message", documented as bool).
    pub success: LooseBool,
    /// SMS sent.
    pub sms_send: LooseBool,
    /// Card created.
    pub card: LooseBool,
    /// The card number.
    pub card_number: LooseString,
    /// The card track.
    pub card_track: LooseString,
    /// Apple Wallet link.
    pub card_url: LooseString,
    /// Google Pay link.
    pub card_gpay_url: LooseString,
    /// Personalised form link.
    pub form_url: LooseString,
    /// Form personalisation hash.
    pub user_hash: LooseString,
}

/// Method 2.3 answer.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct ReadCustomerResponse {
    /// The customer, absent when there is none.
    pub customer: Option<WireCustomer>,
}

/// One entry of a 2.4 answer: a phone (documented) or a customer object (tolerated).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ListedCustomer {
    /// `"+420000000011"`.
    Phone(LooseString),
    /// `{"phone": "...", ...}`.
    Customer(Box<WireCustomer>),
}

/// Method 2.4 answer.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct ReadCustomersResponse {
    /// Up to 100 customers from the requested offset.
    pub customers: Option<Vec<ListedCustomer>>,
}

/// The `result` of 2.5 (and, where present, 2.6).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct PushResult {
    /// `Push#0000`.
    pub name: LooseString,
    /// The campaign id.
    pub uuid: LooseString,
    /// The text.
    pub message: LooseString,
    /// Recipients, when the answer says (not documented; the emulator sends it).
    pub recipients: Option<u64>,
}

/// Methods 2.5 / 2.6 answer.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct PushResponse {
    /// The campaign.
    pub result: Option<PushResult>,
}

/// Method 2.2 request body: the customer block plus custom variables, or a push.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct UpsertRequest {
    /// The private key.
    pub app_key: String,
    /// The customer's phone (E.164 with `+`).
    pub phone: String,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Family name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    /// Patronymic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middlename: Option<String>,
    /// `dd.mm.yyyy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    /// Discount %, string or number by mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount: Option<Value>,
    /// Bonus %, string or number by mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bonus: Option<Value>,
    /// Points, string or number by mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<Value>,
    /// The card design for a new card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_uuid: Option<String>,
    /// The CRM's id.
    #[serde(rename = "customerId", skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// A new card track (examples version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_track: Option<String>,
    /// The issuance form, for a personalised link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The SMS text with `%link%`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms: Option<String>,
    /// Wallet push text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<String>,
    /// Web push text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_webpush: Option<String>,
    /// Telegram text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_telegram: Option<String>,
    /// Custom variables of the card design ("can also be passed in the block").
    #[serde(flatten)]
    pub variables: BTreeMap<String, String>,
}

/// Keys of [`UpsertRequest`] that custom variables may not use (they would override ours).
pub const UPSERT_KEYS: &[&str] = &[
    "app_key",
    "phone",
    "name",
    "email",
    "surname",
    "middlename",
    "birthday",
    "discount",
    "bonus",
    "balance",
    "template_uuid",
    "customerId",
    "link",
    "sms",
    "push",
    "send_webpush",
    "send_telegram",
];

/// Method 2.3 request body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadCustomerRequest {
    /// The private key.
    pub app_key: String,
    /// Phone (E.164), or absent when looking up by card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Card number (examples version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    /// Ask for referral data.
    pub invites: bool,
    /// Ask for install flags.
    pub installs: bool,
}

/// Method 2.4 request body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadCustomersRequest {
    /// The private key.
    pub app_key: String,
    /// `dd.mm.yyyy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// `dd.mm.yyyy HH:MM:SS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// Three states: absent = all, true = installed, false = not installed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed: Option<bool>,
    /// Skip this many customers (pages of 100).
    pub offset: u64,
}

/// Method 2.5 request body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PushCreateRequest {
    /// The private key.
    pub app_key: String,
    /// The text.
    pub message: String,
    /// `text`, `webpush` or `telegram`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Dashboard name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Restrict to a segment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_uuid: Option<String>,
}

/// Method 2.6 request body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PushSendRequest {
    /// The private key.
    pub app_key: String,
    /// The campaign to send.
    pub push_uuid: String,
}

/// Methods 2.1 request body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusRequest {
    /// The private key.
    pub app_key: String,
}
