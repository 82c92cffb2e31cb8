//! The hook endpoint as an axum `Router` (feature `axum`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::map_request;
use axum::response::Response;
use axum::routing::any;
use walletport_core::CrmHooks;
use walletport_http::inbound::lingering;

use super::{HookRequest, HookResponse, MAX_BODY, handle_hook};
use crate::config::PassquareHooksConfig;

struct HookState {
    hooks: Arc<dyn CrmHooks>,
    config: PassquareHooksConfig,
}

/// The Passquare CRM hook endpoint over any [`CrmHooks`], answering at the router's root.
///
/// Mount it where the integration settings point, e.g.
/// `Router::new().nest("/hooks/passquare", hooks_router(hooks, config))`. Serve with
/// `into_make_service_with_connect_info::<SocketAddr>()` when `allowed_ips` is used (without the
/// peer address an allow-list refuses everyone). Bodies over 64 KiB get 413; other methods than
/// POST get 405; every answer is JSON. A body refused before its end is drained
/// ([`walletport_http::inbound`]), so the sender reads the refusal rather than a reset.
pub fn hooks_router(hooks: Arc<dyn CrmHooks>, config: PassquareHooksConfig) -> Router {
    let state = Arc::new(HookState { hooks, config });
    Router::new()
        .route("/", any(endpoint))
        .fallback(not_found)
        .with_state(state)
        .layer(map_request(|r: Request| async {
            lingering(r).map(Body::new)
        }))
}

fn into_response(answer: HookResponse) -> Response {
    let mut resp = Response::new(Body::from(answer.body.to_string()));
    *resp.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

async fn not_found() -> Response {
    into_response(HookResponse::error(404, "no such hook endpoint"))
}

async fn endpoint(State(state): State<Arc<HookState>>, req: Request) -> Response {
    if req.method() != Method::POST {
        return into_response(HookResponse::error(405, "hooks are POST requests"));
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY as u64) {
        return into_response(HookResponse::error(413, "body larger than 64 KiB"));
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        // The only way a body without a too-large Content-Length fails here is by exceeding the
        // limit while streaming (or the client going away, who then never sees the answer).
        Err(_) => return into_response(HookResponse::error(413, "body larger than 64 KiB")),
    };
    let answer = handle_hook(
        state.hooks.as_ref(),
        &state.config,
        HookRequest {
            body: &bytes,
            headers: &parts.headers,
            peer,
        },
    )
    .await;
    into_response(answer)
}
