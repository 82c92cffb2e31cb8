//! Creating and changing card design templates: vendor-only objects, so straight to the vendor
//! through the gateway's provider (within its quota), never through the store.

use axum::Json;
use axum::extract::{Path, State};
use walletport_core::{CreateTemplate, Error, Template, TemplateId, UpdateTemplate};

use super::views::ErrorResponses;
use super::{ApiJson, ApiResult, ApiState, vendor_json};

/// Create a card design template at the vendor (`name`, `layout`, `fields`, `settings`).
#[utoipa::path(post, path = "/api/templates", tag = "templates",
    request_body(content = Object, description = "The template: name, layout, fields, settings"),
    responses((status = 200, body = Object, description = "The template as created"),
        ErrorResponses<400, 501>),
    security(("bearer" = [])))]
pub(crate) async fn create(
    State(s): State<ApiState>,
    ApiJson(template): ApiJson<Template>,
) -> ApiResult<Json<serde_json::Value>> {
    let created =
        s.gw.provider
            .templates()
            .create_template(CreateTemplate { template })
            .await?;
    vendor_json(&created)
}

/// Replace the design of template `id` at the vendor.
#[utoipa::path(put, path = "/api/templates/{id}", tag = "templates",
    params(("id" = String, Path, description = "Template id")),
    request_body(content = Object, description = "The template: name, layout, fields, settings"),
    responses((status = 200, body = Object, description = "The template as updated"),
        ErrorResponses<400, 404, 501>),
    security(("bearer" = [])))]
pub(crate) async fn update(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    ApiJson(mut template): ApiJson<Template>,
) -> ApiResult<Json<serde_json::Value>> {
    let id = TemplateId::new(id)?;
    if template.id.as_ref().is_some_and(|given| *given != id) {
        return Err(Error::invalid_input(format!(
            "the body's `id` differs from the path's `{id}`"
        ))
        .into());
    }
    template.id = Some(id);
    let updated =
        s.gw.provider
            .templates()
            .update_template(UpdateTemplate { template })
            .await?;
    vendor_json(&updated)
}
