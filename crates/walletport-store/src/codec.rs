//! Conversions and rules both backends share: timestamps, ids, validation and merging.
//!
//! Timestamps are stored as signed 64-bit nanoseconds since the Unix epoch in both backends, so
//! `credited_at + lifetime` is compared exactly (no rounding to micro- or milliseconds).

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rand::Rng as _;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use walletport_core::{
    CardId, CardStatus, Customer, CustomerId, Error, Fields, InstallLinks, Installed, Percent,
    Phone, Result, TransactionId, check_storable,
};

use crate::model::{NewCard, StoredCard, StoredCustomer};

/// Nanoseconds since the epoch; instants outside 1677..2262 are rejected.
pub(crate) fn to_ns(t: DateTime<Utc>) -> Result<i64> {
    t.timestamp_nanos_opt()
        .ok_or_else(|| Error::invalid_input(format!("instant {t} is outside 1677..2262")))
}

pub(crate) fn from_ns(ns: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(ns)
}

/// `credited_at + lifetime` in ns; a lifetime reaching past 2262 never burns (i64::MAX).
pub(crate) fn expiry_ns(credited_at: i64, lifetime: Option<std::time::Duration>) -> Option<i64> {
    lifetime.map(|l| {
        i64::try_from(l.as_nanos())
            .ok()
            .and_then(|l| credited_at.checked_add(l))
            .unwrap_or(i64::MAX)
    })
}

/// A fresh CRM id in the UUID shape Passquare's examples use (random, version 4 layout).
pub(crate) fn new_customer_id() -> Result<CustomerId> {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let id = format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    );
    CustomerId::new(id)
}

const MAX_FIELDS: usize = 200;
const MAX_FIELD_CHARS: usize = 4096;

pub(crate) fn check_fields(what: &str, fields: &Fields) -> Result<()> {
    if fields.len() > MAX_FIELDS {
        return Err(Error::invalid_input(format!(
            "{what}: at most {MAX_FIELDS} entries"
        )));
    }
    for (k, v) in fields {
        if k.is_empty() || k.chars().count() > 256 || k.chars().any(char::is_control) {
            return Err(Error::invalid_input(format!(
                "{what}: keys must be 1..=256 printable characters"
            )));
        }
        if v.chars().count() > MAX_FIELD_CHARS {
            return Err(Error::invalid_input(format!(
                "{what}: value of `{k}` is longer than {MAX_FIELD_CHARS} characters"
            )));
        }
    }
    Ok(())
}

/// Everything a customer must satisfy before it is written.
pub(crate) fn validate_customer(c: &Customer) -> Result<()> {
    c.validate()?;
    check_fields("extra", &c.extra)?;
    check_fields("provider_ids", &c.provider_ids)?;
    Ok(())
}

/// Applies a patch: every `Some` field of `patch` replaces the stored one; extra fields and
/// provider ids are merged key by key. Returns the merged customer and whether it differs.
pub(crate) fn merge_customer(existing: &Customer, patch: &Customer) -> (Customer, bool) {
    let mut m = existing.clone();
    macro_rules! take {
        ($($f:ident),*) => { $( if patch.$f.is_some() { m.$f = patch.$f.clone(); } )* };
    }
    take!(
        name,
        surname,
        middle_name,
        email,
        birthday,
        referral_code,
        invited_by
    );
    for (k, v) in &patch.extra {
        m.extra.insert(k.clone(), v.clone());
    }
    for (k, v) in &patch.provider_ids {
        m.provider_ids.insert(k.clone(), v.clone());
    }
    let changed = m != *existing;
    (m, changed)
}

/// Provider names are short lowercase identifiers (`passquare`, `passteam`, `skycore`).
pub(crate) fn validate_provider(p: &str) -> Result<()> {
    if p.is_empty()
        || p.len() > 64
        || !p
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(Error::invalid_input(format!(
            "invalid provider name `{}` (1..=64 of a-z, 0-9, _ and -)",
            p.chars().take(64).collect::<String>()
        )));
    }
    Ok(())
}

fn check_text(what: &str, v: &Option<String>) -> Result<()> {
    if let Some(v) = v
        && (v.trim().is_empty() || v.chars().count() > 256 || v.chars().any(char::is_control))
    {
        return Err(Error::invalid_input(format!(
            "{what} must be 1..=256 printable characters"
        )));
    }
    Ok(())
}

fn check_links(l: &InstallLinks) -> Result<()> {
    for v in [&l.apple, &l.google, &l.page, &l.qr] {
        if let Some(v) = v
            && (v.len() > 2048 || v.chars().any(char::is_control))
        {
            return Err(Error::invalid_input(
                "install links must be at most 2048 printable characters",
            ));
        }
    }
    Ok(())
}

pub(crate) fn validate_card(c: &NewCard) -> Result<()> {
    validate_provider(&c.provider)?;
    if c.vendor_card_id.is_none() && c.number.is_none() {
        return Err(Error::invalid_input(
            "a card needs a vendor card id or a number",
        ));
    }
    check_text("card number", &c.number)?;
    check_text("card track", &c.track)?;
    check_links(&c.links)
}

pub(crate) fn validate_patch(p: &crate::CardPatch) -> Result<()> {
    check_text("card number", &p.number)?;
    check_text("card track", &p.track)?;
    if let Some(l) = &p.links {
        check_links(l)?;
    }
    if let Some(e) = &p.event_id {
        validate_event_id(e)?;
    }
    Ok(())
}

pub(crate) fn validate_event_id(e: &str) -> Result<()> {
    if e.is_empty() || e.len() > 256 || e.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "event id must be 1..=256 printable characters",
        ));
    }
    Ok(())
}

/// Merges `Some` links of `new` over `old`.
pub(crate) fn merge_links(old: &InstallLinks, new: &InstallLinks) -> InstallLinks {
    InstallLinks {
        apple: new.apple.clone().or_else(|| old.apple.clone()),
        google: new.google.clone().or_else(|| old.google.clone()),
        page: new.page.clone().or_else(|| old.page.clone()),
        qr: new.qr.clone().or_else(|| old.qr.clone()),
    }
}

pub(crate) fn fields_to_json(f: &Fields) -> Value {
    Value::Object(
        f.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

pub(crate) fn json_to_fields(v: &Value) -> Result<Fields> {
    let Value::Object(map) = v else {
        return Err(Error::unexpected("stored fields are not a JSON object"));
    };
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            other => Ok((k.clone(), other.to_string())),
        })
        .collect()
}

/// Refuses a JSON document a database cannot store, naming it `what`: a NUL character in any
/// string or key ([`check_storable`]; PostgreSQL's `JSONB` refuses `\u0000`, SQLite keeps it).
/// Walks with a stack of its own, so a deeply nested document cannot exhaust the call stack.
pub(crate) fn check_json(what: &str, value: &Value) -> Result<()> {
    let mut todo = vec![value];
    while let Some(v) = todo.pop() {
        match v {
            Value::String(s) => check_storable(what, s)?,
            Value::Array(items) => todo.extend(items),
            Value::Object(map) => {
                for (k, v) in map {
                    check_storable(what, k)?;
                    todo.push(v);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    Ok(())
}

pub(crate) fn parse_json(text: &str) -> Result<Value> {
    serde_json::from_str(text)
        .map_err(|e| Error::unexpected(format!("stored JSON is invalid: {e}")))
}

/// The stored text of a decimal: normalised, so equal amounts are equal strings.
pub(crate) fn decimal_text(d: Decimal) -> String {
    d.normalize().to_string()
}

pub(crate) fn parse_decimal(text: &str) -> Result<Decimal> {
    Decimal::from_str(text)
        .map_err(|_| Error::unexpected(format!("stored amount `{text}` is not a decimal")))
}

pub(crate) fn parse_percent(d: Decimal) -> Result<Percent> {
    Percent::new(d).map_err(|_| Error::unexpected(format!("stored percentage {d} is out of range")))
}

pub(crate) fn status_str(s: CardStatus) -> &'static str {
    match s {
        CardStatus::Active => "active",
        CardStatus::Voided => "voided",
        CardStatus::Expired => "expired",
        CardStatus::Redeemed => "redeemed",
    }
}

/// A customers row as both backends read it: text, integers and booleans (PostgreSQL casts its
/// `JSONB`, `NUMERIC` and `DATE` columns to text in the select list), so one decoder, sqlx's
/// `FromRow`, serves both and the text is parsed here.
#[derive(sqlx::FromRow)]
pub(crate) struct RawCustomer {
    /// Creation order, the paging key.
    pub(crate) seq: i64,
    pub(crate) id: String,
    pub(crate) phone: String,
    pub(crate) name: Option<String>,
    pub(crate) surname: Option<String>,
    pub(crate) middle_name: Option<String>,
    pub(crate) email: Option<String>,
    /// `YYYY-MM-DD`.
    pub(crate) birthday: Option<String>,
    /// JSON objects.
    pub(crate) extra: String,
    pub(crate) provider_ids: String,
    pub(crate) referral_code: Option<String>,
    pub(crate) invited_by: Option<String>,
    /// Decimals.
    pub(crate) bonus_percent: String,
    pub(crate) discount_percent: String,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl RawCustomer {
    pub(crate) fn into_stored(self) -> Result<StoredCustomer> {
        let bad = |what: &str| Error::unexpected(format!("stored {what} is invalid"));
        let id = CustomerId::new(self.id).map_err(|_| bad("customer id"))?;
        let phone = Phone::parse(&self.phone).map_err(|_| bad("phone"))?;
        let invited_by = match self.invited_by {
            Some(p) => Some(Phone::parse(&p).map_err(|_| bad("inviter phone"))?),
            None => None,
        };
        let birthday = self
            .birthday
            .map(|b| NaiveDate::parse_from_str(&b, "%Y-%m-%d").map_err(|_| bad("birthday")))
            .transpose()?;
        let customer = Customer {
            phone,
            id: Some(id.clone()),
            name: self.name,
            surname: self.surname,
            middle_name: self.middle_name,
            email: self.email,
            birthday,
            extra: json_to_fields(&parse_json(&self.extra)?)?,
            referral_code: self.referral_code,
            invited_by,
            provider_ids: json_to_fields(&parse_json(&self.provider_ids)?)?,
        };
        Ok(StoredCustomer {
            id,
            customer,
            bonus_percent: parse_percent(parse_decimal(&self.bonus_percent)?)?,
            discount_percent: parse_percent(parse_decimal(&self.discount_percent)?)?,
            created_at: from_ns(self.created_at),
            updated_at: from_ns(self.updated_at),
        })
    }
}

/// A cards row as both backends read it (see [`RawCustomer`]).
#[derive(sqlx::FromRow)]
pub(crate) struct RawCard {
    /// The row id.
    pub(crate) seq: i64,
    pub(crate) customer_id: String,
    pub(crate) provider: String,
    pub(crate) vendor_card_id: Option<String>,
    pub(crate) number: Option<String>,
    pub(crate) track: Option<String>,
    /// A JSON object.
    pub(crate) links: String,
    pub(crate) installed_apple: bool,
    pub(crate) installed_google: bool,
    pub(crate) status: String,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl RawCard {
    pub(crate) fn into_stored(self) -> Result<StoredCard> {
        let bad = |what: &str| Error::unexpected(format!("stored card {what} is invalid"));
        Ok(StoredCard {
            customer_id: CustomerId::new(self.customer_id).map_err(|_| bad("customer id"))?,
            provider: self.provider,
            vendor_card_id: match self.vendor_card_id {
                Some(v) => Some(CardId::new(v).map_err(|_| bad("vendor id"))?),
                None => None,
            },
            number: self.number,
            track: self.track,
            links: serde_json::from_str(&self.links).map_err(|_| bad("links"))?,
            installed: Installed {
                apple: self.installed_apple,
                google: self.installed_google,
            },
            status: CardStatus::from_str(&self.status).map_err(|_| bad("status"))?,
            created_at: from_ns(self.created_at),
            updated_at: from_ns(self.updated_at),
        })
    }
}

pub(crate) fn parse_tx(t: Option<String>) -> Result<Option<TransactionId>> {
    t.map(|t| {
        TransactionId::new(t).map_err(|_| Error::unexpected("stored transaction id is invalid"))
    })
    .transpose()
}

pub(crate) fn parse_customer_id(s: String) -> Result<CustomerId> {
    CustomerId::new(s).map_err(|_| Error::unexpected("stored customer id is invalid"))
}

/// The outbox payload of a customer change: the customer as it now is.
pub(crate) fn customer_payload(c: &Customer, created: bool) -> Value {
    serde_json::json!({ "created": created, "customer": c })
}

/// Merges a card to attach into the card found (if any): ids, number, track and links fill in;
/// state (installed, status) of an existing card is kept. Returns the row to update (`None`:
/// insert), whether anything changed, and the card to write.
pub(crate) fn merge_card(
    found: Option<(i64, StoredCard)>,
    customer: &CustomerId,
    card: &NewCard,
    now: DateTime<Utc>,
) -> Result<(Option<i64>, bool, StoredCard)> {
    match found {
        Some((seq, old)) => {
            if old.customer_id != *customer {
                return Err(Error::new(
                    walletport_core::ErrorKind::Conflict,
                    format!(
                        "card {} of {} belongs to another customer",
                        card.vendor_card_id
                            .as_ref()
                            .map(|c| c.as_str())
                            .or(card.number.as_deref())
                            .unwrap_or("?"),
                        card.provider
                    ),
                ));
            }
            let mut next = old.clone();
            if card.vendor_card_id.is_some() {
                next.vendor_card_id = card.vendor_card_id.clone();
            }
            if card.number.is_some() {
                next.number = card.number.clone();
            }
            if card.track.is_some() {
                next.track = card.track.clone();
            }
            next.links = merge_links(&old.links, &card.links);
            let changed = next != old;
            if changed {
                next.updated_at = now;
            }
            Ok((Some(seq), changed, next))
        }
        None => Ok((
            None,
            true,
            StoredCard {
                customer_id: customer.clone(),
                provider: card.provider.clone(),
                vendor_card_id: card.vendor_card_id.clone(),
                number: card.number.clone(),
                track: card.track.clone(),
                links: card.links.clone(),
                installed: card.installed,
                status: card.status,
                created_at: now,
                updated_at: now,
            },
        )),
    }
}

/// Applies a [`CardPatch`](crate::CardPatch); `updated_at` moves only when something changed.
pub(crate) fn patch_card(old: &StoredCard, p: &crate::CardPatch, now: DateTime<Utc>) -> StoredCard {
    let mut next = old.clone();
    if p.number.is_some() {
        next.number = p.number.clone();
    }
    if p.track.is_some() {
        next.track = p.track.clone();
    }
    if let Some(l) = &p.links {
        next.links = merge_links(&old.links, l);
    }
    if let Some(a) = p.installed_apple {
        next.installed.apple = a;
    }
    if let Some(g) = p.installed_google {
        next.installed.google = g;
    }
    if let Some(s) = p.status {
        next.status = s;
    }
    if next != *old {
        next.updated_at = now;
    }
    next
}
