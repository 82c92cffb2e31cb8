//! `sendpush` (a message to every card of a template), campaign ids, and `distribute` (a card's
//! install link by SMS or e-mail).
//!
//! Passteam has no campaign objects: `sendpush` sends at once. So a "created" campaign is not
//! stored anywhere — [`campaign_id`] encodes the template and the message in the id itself
//! (`pt1.<template>.<base64url(message)>`), nothing is sent to Passteam on create, and sending
//! decodes the id and calls `sendpush` once. That keeps create/send honest and stateless (the
//! CLI can create in one process and send in another) at the price of a message limit: the id
//! must fit [`walletport_core::ids::MAX_ID_LEN`] bytes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use walletport_core::ports::op;
use walletport_core::{CampaignId, CardId, Error, Result, TemplateId};
use walletport_http::{HttpRequest, HttpResponse};

use super::{OnDuplicate, parse_envelope, post};
use crate::config::PassteamConfig;
use crate::encoding::FormBody;
use crate::wire::bool_of;

const CAMPAIGN_PREFIX: &str = "pt1";

/// `sendpush`: `message` to every card of `template`. Never idempotent: a push is never resent.
pub fn build_sendpush_request(
    template: &TemplateId,
    message: &str,
    config: &PassteamConfig,
) -> HttpRequest {
    let names = &config.param_names;
    let body = FormBody::new()
        .field(names.sendpush_template.as_str(), template.as_str())
        .field(names.sendpush_message.as_str(), message);
    post(config, op::CAMPAIGN_SEND, "sendpush", &body, false)
}

/// `sendpush`'s `true`; anything falsy is `Unexpected`.
pub fn parse_sendpush_response(resp: &HttpResponse) -> Result<()> {
    accepted(resp, "sendpush")
}

fn accepted(resp: &HttpResponse, method: &str) -> Result<()> {
    let result = parse_envelope(resp, OnDuplicate::Conflict)?;
    let ok = match &result {
        Value::Null => true,
        Value::Object(m) => m
            .get("result")
            .or_else(|| m.get("success"))
            .or_else(|| m.get("sent"))
            .and_then(bool_of)
            .unwrap_or(true),
        other => bool_of(other).unwrap_or(true),
    };
    if ok {
        Ok(())
    } else {
        Err(resp.error(
            walletport_core::ErrorKind::Unexpected,
            format!("{method} was not accepted"),
        ))
    }
}

/// The id of a campaign sending `message` to every card of `template`.
///
/// `InvalidInput` when the message is too long to travel in an id (about 170 bytes of UTF-8
/// minus the template id length; ~85 Cyrillic characters).
pub fn campaign_id(template: &TemplateId, message: &str) -> Result<CampaignId> {
    let encoded = URL_SAFE_NO_PAD.encode(message.as_bytes());
    let id = format!("{CAMPAIGN_PREFIX}.{template}.{encoded}");
    if id.len() > walletport_core::ids::MAX_ID_LEN {
        let room = (walletport_core::ids::MAX_ID_LEN
            .saturating_sub(CAMPAIGN_PREFIX.len() + template.as_str().len() + 2))
            * 3
            / 4;
        return Err(Error::invalid_input(format!(
            "a Passteam campaign message can be at most {room} bytes of UTF-8 (it travels in the \
             campaign id; Passteam keeps no campaigns), got {}",
            message.len()
        )));
    }
    CampaignId::new(id)
}

/// The template and message a campaign id carries; `NotFound` for an id not made by
/// [`campaign_id`] (no such campaign can exist).
pub fn parse_campaign_id(id: &CampaignId) -> Result<(TemplateId, String)> {
    let bad = || {
        Error::not_found(format!(
            "no campaign `{id}`: not an id made by this adapter"
        ))
    };
    let mut parts = id.as_str().splitn(3, '.');
    let (Some(CAMPAIGN_PREFIX), Some(template), Some(encoded)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| bad())?;
    let message = String::from_utf8(bytes).map_err(|_| bad())?;
    if message.trim().is_empty() {
        return Err(bad());
    }
    Ok((TemplateId::new(template).map_err(|_| bad())?, message))
}

/// How `distribute` delivers the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DistributeChannel {
    /// SMS to the card's phone (text from the SMS template in the Passteam cabinet).
    Sms,
    /// E-mail to the card's address (from the e-mail template in the cabinet).
    Email,
}

impl DistributeChannel {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }
}

/// `distribute`: the install link of `card` by SMS or e-mail. Not idempotent (sends a message).
pub fn build_distribute_request(
    card: &CardId,
    channel: DistributeChannel,
    config: &PassteamConfig,
) -> HttpRequest {
    let names = &config.param_names;
    let body = FormBody::new()
        .field(names.distribute_card.as_str(), card.as_str())
        .field(names.distribute_channel.as_str(), channel.as_str());
    post(
        config,
        op::CARD_SEND_INSTALL_LINK,
        "distribute",
        &body,
        false,
    )
}

/// `distribute`'s acknowledgement.
pub fn parse_distribute_response(resp: &HttpResponse) -> Result<()> {
    accepted(resp, "distribute")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn campaign_ids_round_trip_and_reject_foreign_ids() {
        let t = TemplateId::new("5e424c181dbf0d537c8b4569").unwrap_or_else(|e| panic!("{e}"));
        for msg in ["Sale!", "Скидка 20% до воскресенья", "a.b.c"] {
            let id = campaign_id(&t, msg).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                parse_campaign_id(&id).ok(),
                Some((t.clone(), msg.to_owned()))
            );
        }
        assert!(campaign_id(&t, &"я".repeat(200)).is_err_and(|e| e.message().contains("at most")));
        for bad in ["x", "pt1.t", "pt1.t.!!!", "zz.t.YQ"] {
            let id = CampaignId::new(bad).unwrap_or_else(|e| panic!("{e}"));
            assert!(parse_campaign_id(&id).is_err(), "{bad}");
        }
    }
}
