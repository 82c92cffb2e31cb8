//! The emulator's data: customers with cards, referrals, segments, campaigns and the logs.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::PassquareEmulatorConfig;

/// How the emulator writes numbers in its answers and hooks (the two document versions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Numbers {
    /// `"12.5"` (2.7.5).
    #[default]
    String,
    /// `12.5` (examples version).
    Number,
}

impl Numbers {
    /// `value` as a string or a JSON number.
    pub fn encode(self, value: Decimal) -> Value {
        match self {
            Self::String => Value::String(value.to_string()),
            Self::Number => {
                let v = value.normalize();
                if v.fract().is_zero()
                    && let Some(i) = v.to_i64()
                {
                    return Value::from(i);
                }
                v.to_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or_else(|| Value::String(v.to_string()), Value::Number)
            }
        }
    }
}

/// One card of a customer (Passquare keeps one per customer in this emulator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmuCard {
    /// Allocated from `first_card_number` upwards.
    pub number: String,
    /// The barcode track.
    pub track: String,
    /// Installed in a wallet (set by `POST /_admin/install`).
    pub installed: bool,
    /// Form personalisation hash.
    pub user_hash: String,
}

/// A customer as the emulator keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmuCustomer {
    /// Registration order.
    pub seq: u64,
    /// E.164 with `+`.
    pub phone: String,
    /// Name fields.
    pub name: Option<String>,
    /// Family name.
    pub surname: Option<String>,
    /// Patronymic.
    pub middlename: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Birthday.
    pub birthday: Option<chrono::NaiveDate>,
    /// Points.
    pub balance: Decimal,
    /// Bonus %.
    pub bonus: Decimal,
    /// Discount %.
    pub discount: Decimal,
    /// Card design.
    pub template_uuid: Option<String>,
    /// The merchant CRM's id (`customerId` sent, or the hook's answer).
    pub remote_id: Option<String>,
    /// Custom variables.
    pub variables: BTreeMap<String, Value>,
    /// Registration extras (sex, promo entered).
    pub extra: BTreeMap<String, String>,
    /// The card.
    pub card: Option<EmuCard>,
    /// When the customer registered (UTC).
    pub registered_at: NaiveDateTime,
    /// The customer's own referral promo code.
    pub promo: String,
    /// The inviter's phone.
    pub invited_by: Option<String>,
    /// Phones this customer invited.
    pub invites: Vec<String>,
}

/// Why a push was logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PushKind {
    /// A personal push (2.2 `push` / `send_webpush` / `send_telegram`).
    Personal,
    /// A push sent together with a field change: Passquare replaces it by a system notice that
    /// the card was modified (the document's warning).
    CardModified,
    /// A field change on an installed card, which Passquare pushes to the card.
    CardUpdated,
    /// One recipient of a campaign (2.6).
    Campaign {
        /// The campaign.
        uuid: String,
    },
}

/// One push the emulator "sent".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushLogEntry {
    /// Recipient.
    pub phone: String,
    /// `wallet`, `webpush` or `telegram`.
    pub channel: String,
    /// The text the customer sees.
    pub text: String,
    /// Why.
    #[serde(flatten)]
    pub kind: PushKind,
}

/// One SMS the emulator "sent".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsLogEntry {
    /// Recipient.
    pub phone: String,
    /// The text with the personalised link in place of `%link%`.
    pub text: String,
}

/// A segment of customers for campaigns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Its id (`segment_uuid`).
    pub uuid: String,
    /// Its name.
    pub name: String,
    /// Member phones (E.164).
    pub phones: Vec<String>,
}

/// A push campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmuCampaign {
    /// Its id.
    pub uuid: String,
    /// `Push#NNNN` or the given name.
    pub name: String,
    /// The text.
    pub message: String,
    /// `text`, `webpush` or `telegram`.
    pub kind: String,
    /// Restricted to a segment.
    pub segment_uuid: Option<String>,
    /// How many recipients it reached when sent.
    pub sent_to: Option<u64>,
}

/// Everything the emulator holds.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) customers: Vec<EmuCustomer>,
    pub(crate) by_phone: HashMap<String, usize>,
    pub(crate) next_card: u64,
    pub(crate) segments: Vec<Segment>,
    pub(crate) campaigns: Vec<EmuCampaign>,
    pub(crate) pushes: Vec<PushLogEntry>,
    pub(crate) sms: Vec<SmsLogEntry>,
    pub(crate) uuid_counter: u64,
}

/// FNV-1a, for stable hashes and promo codes without a crypto dependency.
fn fnv(data: &str, seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in data.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl State {
    pub(crate) fn new(config: &PassquareEmulatorConfig) -> Self {
        Self {
            next_card: config.first_card_number,
            segments: config.segments.clone(),
            ..Self::default()
        }
    }

    pub(crate) fn index(&self, phone: &str) -> Option<usize> {
        self.by_phone.get(phone).copied()
    }

    pub(crate) fn index_by_card(&self, card: &str) -> Option<usize> {
        self.customers
            .iter()
            .position(|c| c.card.as_ref().is_some_and(|k| k.number == card))
    }

    /// A v4-shaped id, unique within this emulator.
    pub(crate) fn new_uuid(&mut self, salt: &str) -> String {
        self.uuid_counter += 1;
        let a = fnv(salt, self.uuid_counter);
        let b = fnv(&a.to_string(), self.uuid_counter.rotate_left(17));
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (a >> 32) as u32,
            (a >> 16) as u16,
            a as u16 & 0x0fff,
            (b >> 48) as u16 & 0x0fff,
            b & 0xffff_ffff_ffff
        )
    }

    /// Creates the customer if missing; returns its index and whether it was created.
    pub(crate) fn ensure_customer(&mut self, phone: &str, now: NaiveDateTime) -> (usize, bool) {
        if let Some(i) = self.index(phone) {
            return (i, false);
        }
        let seq = self.customers.len() as u64 + 1;
        let promo = format!("{:06X}", fnv(phone, 7) & 0xff_ffff);
        self.customers.push(EmuCustomer {
            seq,
            phone: phone.to_owned(),
            name: None,
            surname: None,
            middlename: None,
            email: None,
            birthday: None,
            balance: Decimal::ZERO,
            bonus: Decimal::ZERO,
            discount: Decimal::ZERO,
            template_uuid: None,
            remote_id: None,
            variables: BTreeMap::new(),
            extra: BTreeMap::new(),
            card: None,
            registered_at: now,
            promo,
            invited_by: None,
            invites: Vec::new(),
        });
        let i = self.customers.len() - 1;
        self.by_phone.insert(phone.to_owned(), i);
        (i, true)
    }

    /// Gives the customer a card if it has none; true when one was created.
    pub(crate) fn ensure_card(&mut self, i: usize) -> bool {
        if self.customers[i].card.is_some() {
            return false;
        }
        let number = self.next_card;
        self.next_card += 1;
        let c = &mut self.customers[i];
        let hash = format!(
            "{:016x}{:016x}",
            fnv(&c.phone, number),
            fnv(&c.phone, !number)
        );
        c.card = Some(EmuCard {
            number: number.to_string(),
            track: format!("{:010}", fnv(&number.to_string(), 3) % 10_000_000_000),
            installed: false,
            user_hash: hash,
        });
        true
    }

    /// Records that `phone` was invited by `inviter` (both ways).
    pub(crate) fn refer(&mut self, i: usize, inviter: &str) {
        if self.customers[i].phone == inviter {
            return;
        }
        self.customers[i].invited_by = Some(inviter.to_owned());
        let phone = self.customers[i].phone.clone();
        if let Some(j) = self.index(inviter)
            && !self.customers[j].invites.contains(&phone)
        {
            self.customers[j].invites.push(phone);
        }
    }
}

/// The card links of a customer, as 2.2 answers them.
pub(crate) fn card_links(public_url: &str, card: &EmuCard, link: Option<&str>) -> Value {
    let form = match link {
        Some(l) => format!("{}/?hash={}", l.trim_end_matches('/'), card.user_hash),
        None => format!("{public_url}/form/?hash={}", card.user_hash),
    };
    json!({
        "card_number": card.number,
        "card_track": card.track,
        "card_url": format!("{public_url}/card/{}.pkpass", card.user_hash),
        "card_gpay_url": format!("https://pay.google.com/gp/v/save/{}", card.user_hash),
        "form_url": form,
        "user_hash": card.user_hash,
    })
}

/// A customer as 2.3 answers it.
pub(crate) fn customer_json(
    c: &EmuCustomer,
    numbers: Numbers,
    invites: bool,
    installs: bool,
) -> Value {
    let mut v = json!({
        "phone": c.phone,
        "email": c.email,
        "name": c.name,
        "surname": c.surname,
        "middlename": c.middlename,
        "birthday": c.birthday.map(|b| b.format("%d.%m.%Y").to_string()),
        "cardNumbers": c.card.iter().map(|k| k.number.clone()).collect::<Vec<_>>(),
        "cardTracks": c.card.iter().map(|k| json!({"card": k.number, "track": k.track})).collect::<Vec<_>>(),
        "discount": numbers.encode(c.discount),
        "bonus": numbers.encode(c.bonus),
        "balance": numbers.encode(c.balance),
        "remoteId": c.remote_id,
        "template_uuid": c.template_uuid,
    });
    if installs {
        v["cardInstalls"] = c
            .card
            .iter()
            .map(|k| json!({"card": k.number, "install": k.installed}))
            .collect();
    }
    if invites {
        v["invitedBy"] = json!(c.invited_by);
        v["invites"] = json!(c.invites);
    }
    v
}
