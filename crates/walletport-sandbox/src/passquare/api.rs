//! The merchant-facing API: methods 2.1–2.6, as Passquare documents them.
//!
//! Assumptions where the document is silent (also in `docs/providers/passquare.md`): errors are
//! `{"success": false, "error": "..."}` with HTTP 400 (bad input), 401 (wrong `app_key`), 404
//! (unknown customer, campaign or segment) or 429 (over the plan); a push to an unknown phone is
//! 404; a campaign can be sent once.

use std::str::FromStr;

use axum::http::StatusCode;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use walletport_core::{Percent, Phone, validate_email};

use super::Shared;
use super::state::{
    EmuCampaign, Numbers, PushKind, PushLogEntry, SmsLogEntry, card_links, customer_json,
};

/// An error answer: status and message.
pub(crate) struct Fail(pub(crate) StatusCode, pub(crate) String);

pub(crate) type Answer = Result<Value, Fail>;

fn bad(msg: impl Into<String>) -> Fail {
    Fail(StatusCode::BAD_REQUEST, msg.into())
}

fn not_found(msg: impl Into<String>) -> Fail {
    Fail(StatusCode::NOT_FOUND, msg.into())
}

/// The text of a string-or-number field; `None` when absent, null or empty.
pub(crate) fn text(body: &Map<String, Value>, key: &str) -> Option<String> {
    match body.get(key)? {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A decimal field sent as a string or a number.
pub(crate) fn decimal(body: &Map<String, Value>, key: &str) -> Result<Option<Decimal>, Fail> {
    let Some(t) = text(body, key) else {
        return Ok(None);
    };
    Decimal::from_str(&t)
        .or_else(|_| Decimal::from_scientific(&t))
        .map(|d| Some(d.normalize()))
        .map_err(|_| bad(format!("{key} must be a number")))
}

fn percent(body: &Map<String, Value>, key: &str) -> Result<Option<Decimal>, Fail> {
    match decimal(body, key)? {
        None => Ok(None),
        Some(d) => Percent::new(d)
            .map(|p| Some(p.value()))
            .map_err(|_| bad(format!("{key} must be between 0 and 100"))),
    }
}

/// A phone in any international form → `+digits`.
pub(crate) fn phone(body: &Map<String, Value>) -> Result<String, Fail> {
    let raw = text(body, "phone").ok_or_else(|| bad("phone is required"))?;
    Phone::parse(&raw)
        .map(|p| p.as_str().to_owned())
        .map_err(|_| bad("phone must be in international format (E.164)"))
}

fn flag(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, Fail> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" || s == "1" => Ok(Some(true)),
        Some(Value::String(s)) if s == "false" || s == "0" => Ok(Some(false)),
        Some(Value::Number(n)) => Ok(Some(n.as_u64() != Some(0))),
        _ => Err(bad(format!("{key} must be a boolean"))),
    }
}

/// Keys of 2.2 that are not customer data.
const CONTROL_KEYS: &[&str] = &[
    "app_key",
    "phone",
    "push",
    "send_webpush",
    "send_telegram",
    "link",
    "sms",
];

/// 2.1 `status`.
pub(crate) fn status(shared: &Shared) -> Answer {
    let c = &shared.config;
    Ok(json!({"app": c.account, "balance": c.numbers.encode(c.account_balance)}))
}

/// 2.2 `user_create_or_update`: upsert, card, SMS, personal pushes.
pub(crate) fn upsert(shared: &Shared, body: &Map<String, Value>) -> Answer {
    let phone = phone(body)?;
    let pushes: Vec<(&str, String)> = [
        ("push", "wallet"),
        ("send_webpush", "webpush"),
        ("send_telegram", "telegram"),
    ]
    .into_iter()
    .filter_map(|(key, channel)| text(body, key).map(|t| (channel, t)))
    .collect();
    for (channel, _) in &pushes {
        let enabled = match *channel {
            "webpush" => shared.config.webpush_enabled,
            "telegram" => shared.config.telegram_enabled,
            _ => true,
        };
        if !enabled {
            return Err(bad(format!("{channel} is not connected (Marketplace)")));
        }
    }
    // Validate every field before changing anything.
    let discount = percent(body, "discount")?;
    let bonus = percent(body, "bonus")?;
    let balance = decimal(body, "balance")?;
    let birthday = text(body, "birthday")
        .map(|b| {
            NaiveDate::parse_from_str(&b, "%d.%m.%Y")
                .map_err(|_| bad("birthday must be dd.mm.yyyy"))
        })
        .transpose()?;
    let email = text(body, "email");
    if let Some(e) = &email {
        validate_email(e).map_err(|_| bad("email is invalid"))?;
    }
    let data_keys: Vec<&String> = body
        .keys()
        .filter(|k| !CONTROL_KEYS.contains(&k.as_str()))
        .collect();
    let now = shared.now();
    let mut st = shared.lock();
    if !pushes.is_empty() && st.index(&phone).is_none() {
        return Err(not_found("Customer not found"));
    }
    let (i, _) = st.ensure_customer(&phone, now);
    let card_created = st.ensure_card(i);
    let c = &mut st.customers[i];
    let before = serde_json::to_value(&*c).unwrap_or_default();
    let set = |slot: &mut Option<String>, key: &str| {
        if let Some(v) = text(body, key) {
            *slot = Some(v);
        }
    };
    set(&mut c.name, "name");
    set(&mut c.surname, "surname");
    set(&mut c.middlename, "middlename");
    set(&mut c.template_uuid, "template_uuid");
    set(&mut c.remote_id, "customerId");
    if email.is_some() {
        c.email = email;
    }
    if birthday.is_some() {
        c.birthday = birthday;
    }
    for (slot, value) in [
        (&mut c.discount, discount),
        (&mut c.bonus, bonus),
        (&mut c.balance, balance),
    ] {
        if let Some(v) = value {
            *slot = v;
        }
    }
    for key in &data_keys {
        const KNOWN: &[&str] = &[
            "name",
            "surname",
            "middlename",
            "email",
            "birthday",
            "discount",
            "bonus",
            "balance",
            "template_uuid",
            "customerId",
            "card_track",
        ];
        if !KNOWN.contains(&key.as_str())
            && let Some(v) = body.get(key.as_str())
        {
            c.variables.insert((*key).clone(), v.clone());
        }
    }
    if let (Some(track), Some(card)) = (text(body, "card_track"), c.card.as_mut()) {
        card.track = track;
    }
    let changed = serde_json::to_value(&*c).unwrap_or_default() != before;
    let installed = c.card.as_ref().is_some_and(|k| k.installed);
    let Some(card) = c.card.clone() else {
        return Err(Fail(StatusCode::INTERNAL_SERVER_ERROR, "no card".into()));
    };
    let link = text(body, "link");
    let mut answer = card_links(&shared.config.public_url, &card, link.as_deref());
    let form_url = answer["form_url"].as_str().unwrap_or_default().to_owned();
    let mut sms_sent = false;
    if let Some(sms) = text(body, "sms") {
        st.sms.push(SmsLogEntry {
            phone: phone.clone(),
            text: sms.replace("%link%", &form_url),
        });
        sms_sent = true;
    }
    for (channel, message) in &pushes {
        // The document: a push sent while changing notification-bound data becomes a system
        // notice that the card was modified.
        let (text, kind) = if changed {
            (
                "Your card has been modified".to_owned(),
                PushKind::CardModified,
            )
        } else {
            (message.clone(), PushKind::Personal)
        };
        st.pushes.push(PushLogEntry {
            phone: phone.clone(),
            channel: (*channel).to_owned(),
            text,
            kind,
        });
    }
    if pushes.is_empty() && changed && installed {
        st.pushes.push(PushLogEntry {
            phone: phone.clone(),
            channel: "wallet".into(),
            text: "Your card has been updated".into(),
            kind: PushKind::CardUpdated,
        });
    }
    answer["success"] = json!(true);
    answer["sms_send"] = json!(sms_sent);
    answer["card"] = json!(card_created);
    Ok(answer)
}

/// 2.3 `read_customer` by phone, or by card in the examples version only: 2.7.5 documents no
/// `card` parameter, so in that mode a request with only `card` is missing its phone.
pub(crate) fn read_customer(shared: &Shared, body: &Map<String, Value>) -> Answer {
    let invites = flag(body, "invites")?.unwrap_or(false);
    let installs = flag(body, "installs")?.unwrap_or(false);
    let by_card = shared.config.numbers == Numbers::Number;
    let st = shared.lock();
    let i = match (text(body, "phone"), text(body, "card")) {
        (Some(_), _) => st.index(&phone(body)?),
        (None, Some(card)) if by_card => st.index_by_card(&card),
        (None, _) if by_card => return Err(bad("phone or card is required")),
        (None, _) => return Err(bad("phone is required")),
    };
    let c = i
        .map(|i| &st.customers[i])
        .ok_or_else(|| not_found("Customer not found"))?;
    Ok(json!({"customer": customer_json(c, shared.config.numbers, invites, installs)}))
}

fn date_arg(
    body: &Map<String, Value>,
    key: &str,
    end: bool,
) -> Result<Option<NaiveDateTime>, Fail> {
    let Some(t) = text(body, key) else {
        return Ok(None);
    };
    if let Ok(dt) = NaiveDateTime::parse_from_str(&t, "%d.%m.%Y %H:%M:%S") {
        return Ok(Some(dt));
    }
    let day = NaiveDate::parse_from_str(&t, "%d.%m.%Y")
        .map_err(|_| bad(format!("{key} must be dd.mm.yyyy or dd.mm.yyyy HH:MM:SS")))?;
    let time = if end {
        NaiveTime::from_hms_opt(23, 59, 59)
    } else {
        NaiveTime::from_hms_opt(0, 0, 0)
    };
    Ok(time.map(|t| day.and_time(t)))
}

/// 2.4 `read_customers`: by registration date, installed filter, 100 per offset.
pub(crate) fn read_customers(shared: &Shared, body: &Map<String, Value>) -> Answer {
    let start = date_arg(body, "start_date", false)?;
    let end = date_arg(body, "end_date", true)?;
    let installed = flag(body, "installed")?;
    let offset = match body.get("offset") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| bad("offset must be a non-negative integer"))?,
    };
    let st = shared.lock();
    let phones: Vec<&str> = st
        .customers
        .iter()
        .filter(|c| start.is_none_or(|s| c.registered_at >= s))
        .filter(|c| end.is_none_or(|e| c.registered_at <= e))
        .filter(|c| {
            installed.is_none_or(|want| c.card.as_ref().is_some_and(|k| k.installed) == want)
        })
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(100)
        .map(|c| c.phone.as_str())
        .collect();
    Ok(json!({"customers": phones}))
}

/// 2.5 `push/create`.
pub(crate) fn push_create(shared: &Shared, body: &Map<String, Value>) -> Answer {
    let message = text(body, "message").ok_or_else(|| bad("message is required"))?;
    let kind = text(body, "type").unwrap_or_else(|| "text".into());
    match kind.as_str() {
        "text" => {}
        "webpush" if shared.config.webpush_enabled => {}
        "telegram" if shared.config.telegram_enabled => {}
        "webpush" | "telegram" => {
            return Err(bad(format!("{kind} is not connected (Marketplace)")));
        }
        _ => return Err(bad("type must be text, webpush or telegram")),
    }
    let segment_uuid = text(body, "segment_uuid");
    let mut st = shared.lock();
    if let Some(s) = &segment_uuid
        && !st.segments.iter().any(|seg| &seg.uuid == s)
    {
        return Err(not_found("Segment not found"));
    }
    let name = text(body, "name").unwrap_or_else(|| format!("Push#{:04}", st.campaigns.len() + 1));
    let uuid = st.new_uuid(&message);
    st.campaigns.push(EmuCampaign {
        uuid: uuid.clone(),
        name: name.clone(),
        message: message.clone(),
        kind,
        segment_uuid,
        sent_to: None,
    });
    Ok(json!({"result": {"name": name, "uuid": uuid, "message": message}}))
}

/// 2.6 `push/send`: every installed card in the segment (or everyone) gets the message.
pub(crate) fn push_send(shared: &Shared, body: &Map<String, Value>) -> Answer {
    let uuid = text(body, "push_uuid").ok_or_else(|| bad("push_uuid is required"))?;
    let mut st = shared.lock();
    let idx = st
        .campaigns
        .iter()
        .position(|c| c.uuid == uuid)
        .ok_or_else(|| not_found("Push not found"))?;
    if st.campaigns[idx].sent_to.is_some() {
        return Err(bad("Push has already been sent"));
    }
    let campaign = st.campaigns[idx].clone();
    let members: Option<Vec<String>> = campaign.segment_uuid.as_ref().map(|s| {
        st.segments
            .iter()
            .find(|seg| &seg.uuid == s)
            .map(|seg| seg.phones.clone())
            .unwrap_or_default()
    });
    let channel = match campaign.kind.as_str() {
        "text" => "wallet",
        other => other,
    }
    .to_owned();
    let recipients: Vec<String> = st
        .customers
        .iter()
        .filter(|c| c.card.as_ref().is_some_and(|k| k.installed))
        .filter(|c| members.as_ref().is_none_or(|m| m.contains(&c.phone)))
        .map(|c| c.phone.clone())
        .collect();
    for phone in &recipients {
        st.pushes.push(PushLogEntry {
            phone: phone.clone(),
            channel: channel.clone(),
            text: campaign.message.clone(),
            kind: PushKind::Campaign { uuid: uuid.clone() },
        });
    }
    let n = recipients.len() as u64;
    st.campaigns[idx].sent_to = Some(n);
    Ok(json!({
        "success": true,
        "result": {"name": campaign.name, "uuid": uuid, "message": campaign.message, "recipients": n}
    }))
}
