//! Skycore issuance links: URLs where customers generate their own pass. Only Skycore has them,
//! so they are not a port of the provider-agnostic API: the gateway reaches the Skycore adapter
//! itself ([`crate::Gateway::with_skycore`]), the same instance as its provider, so the links
//! share the plan's quota. Any other provider answers `unsupported`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use walletport_core::Error;
use walletport_skycore::mapping::op;
use walletport_skycore::{IssuanceLinkInfo, IssuanceLinkSpec, SkycoreProvider};

use super::views::ErrorResponses;
use super::{ApiJson, ApiResult, ApiState};

/// The Skycore adapter, or `Unsupported` naming the configured provider.
fn skycore(s: &ApiState, operation: &'static str) -> Result<Arc<SkycoreProvider>, Error> {
    s.gw.skycore.clone().ok_or_else(|| {
        Error::unsupported(operation)
            .with_provider(s.gw.provider.info().name)
            .with_operation(operation)
    })
}

fn info_json(info: &IssuanceLinkInfo) -> Json<Value> {
    Json(json!({ "id": info.id, "preview_url": info.preview_url }))
}

/// Create an issuance link at Skycore.
#[utoipa::path(post, path = "/api/links", tag = "cards",
    request_body(content = Object, description = "The link: name, variables, and optionally \
        template_id, layout, expires, generation_limit, status, update_pass_data, encryption, \
        protection (the same JSON as `walletport card link create --file`)"),
    responses((status = 200, body = Object, description = "`{\"id\", \"preview_url\"}`"),
        ErrorResponses<400, 501>),
    security(("bearer" = [])))]
pub(crate) async fn create(
    State(s): State<ApiState>,
    ApiJson(spec): ApiJson<IssuanceLinkSpec>,
) -> ApiResult<Json<Value>> {
    let skycore = skycore(&s, op::ISSUANCE_LINK_CREATE)?;
    let link = spec.into_link(skycore.config());
    Ok(info_json(&skycore.create_issuance_link(&link).await?))
}

/// Change issuance link `id` to the state in the body.
#[utoipa::path(put, path = "/api/links/{id}", tag = "cards",
    params(("id" = String, Path, description = "The link's id (`id` of the create answer)")),
    request_body(content = Object, description = "The link, as for `POST /api/links`"),
    responses((status = 200, body = Object, description = "`{\"id\", \"preview_url\"}`"),
        ErrorResponses<400, 404, 501>),
    security(("bearer" = [])))]
pub(crate) async fn update(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    ApiJson(spec): ApiJson<IssuanceLinkSpec>,
) -> ApiResult<Json<Value>> {
    let skycore = skycore(&s, op::ISSUANCE_LINK_UPDATE)?;
    let link = spec.into_link(skycore.config());
    Ok(info_json(
        &skycore.update_issuance_link(id.trim(), &link).await?,
    ))
}
