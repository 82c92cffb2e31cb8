//! Personal pushes (2.2 with `push` / `send_webpush` / `send_telegram`) and campaigns (2.5, 2.6).

use chrono::Utc;
use walletport_core::ports::op;
use walletport_core::{
    Campaign, CampaignId, CampaignRecord, Channel, ErrorKind, Phone, PushMessage, PushReceipt,
    Result,
};
use walletport_http::{HttpRequest, HttpResponse};

use super::errors::{check_response, unexpected};
use super::{app_key, path};
use crate::config::PassquareConfig;
use crate::wire::{
    PushCreateRequest, PushResponse, PushSendRequest, UpsertRequest, UpsertResponse,
};

/// Builds a personal push: 2.2 with **only** `app_key`, `phone` and the message field.
///
/// The document warns that changing a notification-bound variable in the same request turns the
/// push into a "card modified" notice, so nothing else ever rides along. Never idempotent: a
/// retried push is a second push.
pub fn build_push_request(
    phone: &Phone,
    message: &PushMessage,
    config: &PassquareConfig,
) -> Result<HttpRequest> {
    let text = Some(message.text().to_owned());
    let mut body = UpsertRequest {
        app_key: app_key(config),
        phone: phone.as_str().to_owned(),
        ..UpsertRequest::default()
    };
    match message.channel() {
        Channel::Wallet => body.push = text,
        Channel::Webpush => body.send_webpush = text,
        Channel::Telegram => body.send_telegram = text,
    }
    Ok(HttpRequest::post_json(op::PUSH_SEND, path::UPSERT, &body)?.idempotent(false))
}

/// Parses the answer to a personal push.
pub fn parse_push_response(resp: &HttpResponse) -> Result<PushReceipt> {
    check_response(resp)?;
    let wire: UpsertResponse = resp.json()?;
    Ok(PushReceipt {
        accepted: wire.success.0.unwrap_or(true),
        detail: serde_json::from_slice::<serde_json::Value>(&resp.body)
            .ok()
            .and_then(|v| v.get("success").and_then(|s| s.as_str()).map(str::to_owned)),
    })
}

/// The campaign `type` of a channel.
pub fn campaign_type(channel: Channel) -> &'static str {
    match channel {
        Channel::Wallet => "text",
        Channel::Webpush => "webpush",
        Channel::Telegram => "telegram",
    }
}

/// Builds 2.5 `push/create` (not idempotent: a retry would create a second campaign).
pub fn build_campaign_create_request(
    campaign: &Campaign,
    config: &PassquareConfig,
) -> Result<HttpRequest> {
    campaign.validate()?;
    let body = PushCreateRequest {
        app_key: app_key(config),
        message: campaign.message.clone(),
        kind: campaign_type(campaign.channel),
        name: campaign.name.clone(),
        segment_uuid: campaign.segment.as_ref().map(|s| s.as_str().to_owned()),
    };
    Ok(HttpRequest::post_json(op::CAMPAIGN_CREATE, path::PUSH_CREATE, &body)?.idempotent(false))
}

/// Parses 2.5: `result.uuid` is the campaign id, `result.name` its dashboard name.
pub fn parse_campaign_create_response(
    resp: &HttpResponse,
    campaign: &Campaign,
) -> Result<CampaignRecord> {
    check_response(resp)?;
    let wire: PushResponse = resp.json()?;
    let result = wire
        .result
        .ok_or_else(|| resp.error(ErrorKind::Unexpected, "push/create answer without `result`"))?;
    let uuid = result
        .uuid
        .0
        .ok_or_else(|| resp.error(ErrorKind::Unexpected, "push/create answer without `uuid`"))?;
    let id = CampaignId::new(uuid).map_err(|e| unexpected(resp, &e))?;
    Ok(CampaignRecord {
        id,
        campaign: Campaign {
            message: result.message.0.unwrap_or_else(|| campaign.message.clone()),
            channel: campaign.channel,
            name: result.name.0.or_else(|| campaign.name.clone()),
            segment: campaign.segment.clone(),
        },
        sent_at: None,
        recipients: result.recipients,
    })
}

/// Builds 2.6 `push/send` (not idempotent: a retry could send the campaign twice).
pub fn build_campaign_send_request(
    id: &CampaignId,
    config: &PassquareConfig,
) -> Result<HttpRequest> {
    let body = PushSendRequest {
        app_key: app_key(config),
        push_uuid: id.as_str().to_owned(),
    };
    Ok(HttpRequest::post_json(op::CAMPAIGN_SEND, path::PUSH_SEND, &body)?.idempotent(false))
}

/// Parses 2.6. The document shows no answer; a `result` like 2.5's is used when present, else
/// `known` (what this client created) fills in the campaign.
pub fn parse_campaign_send_response(
    resp: &HttpResponse,
    id: &CampaignId,
    known: Option<&Campaign>,
) -> Result<CampaignRecord> {
    check_response(resp)?;
    let wire: PushResponse = if resp.body.iter().all(u8::is_ascii_whitespace) {
        PushResponse::default()
    } else {
        resp.json()?
    };
    let result = wire.result.unwrap_or_default();
    let base = known.cloned().unwrap_or(Campaign {
        message: String::new(),
        channel: Channel::default(),
        name: None,
        segment: None,
    });
    Ok(CampaignRecord {
        id: id.clone(),
        campaign: Campaign {
            message: result.message.0.unwrap_or(base.message),
            name: result.name.0.or(base.name),
            ..base
        },
        sent_at: Some(Utc::now()),
        recipients: result.recipients,
    })
}
