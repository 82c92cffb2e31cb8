//! Calls that go straight to the vendor (not through the outbox): a push is never retried, and
//! campaigns and templates live at the vendor.

use std::str::FromStr;

use axum::Json;
use axum::extract::{Path, State};
use walletport_core::{
    Campaign, CampaignId, CampaignRecord, Channel, CreateCampaign, CustomerKey, GetTemplate,
    ListTemplates, PageCursor, PushMessage, PushReceipt, SegmentId, SendCampaign, SendPush,
    TemplateId,
};

use super::views::*;
use super::{ApiJson, ApiQuery, ApiResult, ApiState, on_customer, vendor_json};
use crate::state::Gateway;

fn channel(raw: Option<&str>) -> walletport_core::Result<Channel> {
    raw.map_or(Ok(Channel::Wallet), Channel::from_str)
}

/// Push one message to one customer (sent once, never retried).
#[utoipa::path(post, path = "/api/customers/{key}/push", tag = "push",
    params(CustomerKeyParam),
    request_body = PushInput,
    responses((status = 200, body = PushView), ErrorResponses<400, 404, 501>),
    security(("bearer" = [])))]
pub(crate) async fn push(
    State(s): State<ApiState>,
    Path(key): Path<String>,
    ApiJson(input): ApiJson<PushInput>,
) -> ApiResult<Json<PushView>> {
    on_customer(&s, &key, input, push_to_customer).await
}

/// Checks a message and pushes it to the customer `key` names, once (REST and console alike).
pub(crate) async fn push_to_customer(
    gw: &Gateway,
    key: &CustomerKey,
    input: PushInput,
) -> walletport_core::Result<PushReceipt> {
    let stored = gw.customer(key).await?;
    let message = PushMessage::new(input.text, channel(input.channel.as_deref())?)?;
    gw.provider
        .push()
        .push(SendPush {
            customer: gw.vendor_key(&stored),
            message,
        })
        .await
}

/// Create a campaign for everyone or a segment (not yet sent).
#[utoipa::path(post, path = "/api/campaigns", tag = "push", request_body = CampaignInput,
    responses((status = 200, body = CampaignView), ErrorResponses<400, 501>),
    security(("bearer" = [])))]
pub(crate) async fn create_campaign(
    State(s): State<ApiState>,
    ApiJson(input): ApiJson<CampaignInput>,
) -> ApiResult<Json<CampaignView>> {
    Ok(Json(create_campaign_at_vendor(&s.gw, input).await?.into()))
}

/// Creates a campaign at the vendor from the API's input; shared by the REST API and the
/// console so both check and map it alike.
pub(crate) async fn create_campaign_at_vendor(
    gw: &Gateway,
    input: CampaignInput,
) -> walletport_core::Result<CampaignRecord> {
    let campaign = Campaign {
        message: input.message,
        channel: channel(input.channel.as_deref())?,
        name: input.name,
        segment: input.segment.map(SegmentId::new).transpose()?,
    };
    campaign.validate()?;
    gw.provider
        .push()
        .create_campaign(CreateCampaign { campaign })
        .await
}

/// Send a created campaign.
#[utoipa::path(post, path = "/api/campaigns/{id}/send", tag = "push",
    params(("id" = String, Path, description = "Campaign id")),
    responses((status = 200, body = CampaignView), ErrorResponses<404, 501>),
    security(("bearer" = [])))]
pub(crate) async fn send_campaign(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<CampaignView>> {
    Ok(Json(send_campaign_at_vendor(&s.gw, id).await?.into()))
}

/// Sends the created campaign `id` at the vendor; shared by the REST API and the console.
pub(crate) async fn send_campaign_at_vendor(
    gw: &Gateway,
    id: String,
) -> walletport_core::Result<CampaignRecord> {
    let id = CampaignId::new(id)?;
    gw.provider.push().send_campaign(SendCampaign { id }).await
}

/// List card design templates.
#[utoipa::path(get, path = "/api/templates", tag = "templates", params(TemplateQuery),
    responses((status = 200, body = TemplatePageView), ErrorResponses<501>),
    security(("bearer" = [])))]
pub(crate) async fn list_templates(
    State(s): State<ApiState>,
    ApiQuery(q): ApiQuery<TemplateQuery>,
) -> ApiResult<Json<TemplatePageView>> {
    let page =
        s.gw.provider
            .templates()
            .list_templates(ListTemplates {
                cursor: q.cursor.map(PageCursor),
                page_size: q.page_size,
            })
            .await?;
    Ok(Json(TemplatePageView {
        items: page
            .items
            .into_iter()
            .map(|t| TemplateSummaryView {
                id: t.id.to_string(),
                name: t.name,
            })
            .collect(),
        next: page.next.map(|c| c.0),
    }))
}

/// One card design template, as the vendor describes it.
#[utoipa::path(get, path = "/api/templates/{id}", tag = "templates",
    params(("id" = String, Path, description = "Template id")),
    responses((status = 200, body = Object), ErrorResponses<404, 501>),
    security(("bearer" = [])))]
pub(crate) async fn get_template(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let id = TemplateId::new(id)?;
    let template =
        s.gw.provider
            .templates()
            .get_template(GetTemplate { id })
            .await?;
    vendor_json(&template)
}
