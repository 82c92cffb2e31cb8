//! The outbox as operators see it: waiting items, dead letters, and retrying a dead letter.

use axum::Json;
use axum::extract::{Path, State};
use walletport_core::Error;
use walletport_store::{OutboxId, OutboxList};

use super::views::*;
use super::{ApiQuery, ApiResult, ApiState};

/// Waiting items (`list=pending`, default) or dead letters (`list=dead`).
#[utoipa::path(get, path = "/api/outbox", tag = "outbox", params(OutboxQuery),
    responses((status = 200, body = OutboxPageView), ErrorResponses<400>),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(s): State<ApiState>,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> ApiResult<Json<OutboxPageView>> {
    let which = match q.list.as_deref().unwrap_or("pending") {
        "pending" => OutboxList::Pending,
        "dead" => OutboxList::Dead,
        other => {
            return Err(Error::invalid_input(format!(
                "unknown outbox list `{other}` (pending, dead)"
            ))
            .into());
        }
    };
    let limit = q.limit.filter(|l| *l > 0).unwrap_or(100);
    let after = q.after.map(OutboxId);
    let items =
        s.gw.store
            .list_outbox(which, after, limit, s.gw.now())
            .await?;
    let full = u32::try_from(items.len()).is_ok_and(|n| n == limit);
    let next = if full {
        items.last().map(|i| i.id.0)
    } else {
        None
    };
    Ok(Json(OutboxPageView {
        items: items.iter().map(OutboxItemView::from).collect(),
        next,
    }))
}

/// Move a dead letter back into the outbox (new id, zero attempts, due now).
#[utoipa::path(post, path = "/api/outbox/{id}/retry", tag = "outbox",
    params(("id" = i64, Path, description = "Dead letter id")),
    responses((status = 200, body = RetryResult), ErrorResponses<404>),
    security(("bearer" = [])))]
pub(crate) async fn retry(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<RetryResult>> {
    let id: OutboxId = id.parse()?;
    let new = s.gw.store.retry_dead(id, s.gw.now()).await?;
    Ok(Json(RetryResult { id: new.0 }))
}
