//! The axum receiver of Passteam webhooks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware::map_request;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use tokio::sync::{Semaphore, oneshot};
use walletport_core::{Error, WalletEvents};
use walletport_http::inbound::lingering;

use super::{
    MAX_HANDLERS_IN_FLIGHT, MAX_WEBHOOK_BYTES, WebhookDedup, is_server_side, parse_webhook_in,
};
use crate::config::{FieldMap, PassteamConfig};
use crate::mapping::card::DEFAULT_TIMEZONE;

#[derive(Clone)]
struct Hooks {
    events: Arc<dyn WalletEvents>,
    dedup: Arc<dyn WebhookDedup>,
    fields: Arc<FieldMap>,
    timezone: chrono_tz::Tz,
    order: Arc<CardOrder>,
    /// One permit per background handler: the bound of [`MAX_HANDLERS_IN_FLIGHT`].
    in_flight: Arc<Semaphore>,
}

/// Keeps the background handlers of one card in the order its webhooks arrived: Passteam sends
/// `createCard` and then `installCard` a moment apart, and the install must not be overwritten by
/// a create whose handler happened to run later. Each card's latest handler leaves a signal that
/// the next one waits for; handlers of different cards run side by side.
#[derive(Default)]
struct CardOrder {
    /// Per card: the sequence number of its latest handler and the signal that handler sends (or
    /// drops) when it is done.
    last: Mutex<HashMap<String, (u64, oneshot::Receiver<()>)>>,
    /// The next sequence number.
    next: std::sync::atomic::AtomicU64,
}

/// A handler's place in its card's line: what to wait for before it runs, and what to signal.
struct Turn {
    card: String,
    seq: u64,
    before: Option<oneshot::Receiver<()>>,
    done: oneshot::Sender<()>,
}

impl CardOrder {
    /// Takes the next place in `card`'s line (called before the webhook is answered, so the
    /// places follow the arrival order).
    fn join(&self, card: &str) -> Turn {
        let seq = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (done, signal) = oneshot::channel();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let before = last
            .insert(card.to_owned(), (seq, signal))
            .map(|(_, previous)| previous);
        Turn {
            card: card.to_owned(),
            seq,
            before,
            done,
        }
    }

    /// Ends `turn`: wakes the next handler of the card and forgets the card when no other
    /// handler has joined since (the map holds only cards with a handler in flight).
    fn leave(&self, turn: Turn) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last
            .get(&turn.card)
            .is_some_and(|(seq, _)| *seq == turn.seq)
        {
            last.remove(&turn.card);
        }
        let _ = turn.done.send(());
    }
}

/// `POST /`: Passteam webhooks into `events`, deduplicated by `dedup`, with the documented
/// variable mapping ([`FieldMap::documented`]) for the holder's phone. Nest it where Passteam is
/// configured to post (`Router::new().nest("/hooks/passteam", webhooks_router(..))`).
pub fn webhooks_router(events: Arc<dyn WalletEvents>, dedup: Arc<dyn WebhookDedup>) -> Router {
    webhooks_router_with(events, dedup, FieldMap::documented())
}

/// [`webhooks_router`] with the merchant's own `[provider.fields]` mapping (names with or
/// without `%`; pass [`crate::PassteamConfig::field_map`]).
pub fn webhooks_router_with(
    events: Arc<dyn WalletEvents>,
    dedup: Arc<dyn WebhookDedup>,
    fields: FieldMap,
) -> Router {
    router(events, dedup, fields, DEFAULT_TIMEZONE)
}

/// [`webhooks_router`] reading cards as the provider `config` does: its `[provider.fields]`
/// and its `timezone` (an `expirationDate` in the past makes the card expired). What the
/// gateway mounts.
pub fn webhooks_router_for(
    events: Arc<dyn WalletEvents>,
    dedup: Arc<dyn WebhookDedup>,
    config: &PassteamConfig,
) -> Router {
    router(events, dedup, config.field_map(), config.tz())
}

fn router(
    events: Arc<dyn WalletEvents>,
    dedup: Arc<dyn WebhookDedup>,
    fields: FieldMap,
    timezone: chrono_tz::Tz,
) -> Router {
    Router::new()
        .route("/", post(receive))
        .with_state(Hooks {
            events,
            dedup,
            fields: Arc::new(fields.normalized()),
            timezone,
            order: Arc::default(),
            in_flight: Arc::new(Semaphore::new(MAX_HANDLERS_IN_FLIGHT)),
        })
        .layer(map_request(|r: Request| async {
            lingering(r).map(Body::new)
        }))
}

fn error(status: StatusCode, e: &Error) -> Response {
    let body = json!({ "ok": false, "error": { "kind": e.kind(), "message": e.message() } });
    (status, axum::Json(body)).into_response()
}

async fn receive(State(hooks): State<Hooks>, body: Body) -> Response {
    let bytes = match to_bytes(body, MAX_WEBHOOK_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &Error::invalid_input("webhook body over 64 KiB (or unreadable)"),
            );
        }
    };
    let event = match parse_webhook_in(&bytes, &hooks.fields, hooks.timezone) {
        Ok(e) => e,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let id = event.event_id.clone();
    match hooks.dedup.first_time(&id).await {
        // Passteam ignores the answer; the reference documents 200 with an empty body.
        Ok(false) => return StatusCode::OK.into_response(),
        Ok(true) => {}
        Err(e) if is_server_side(&e) => return error(StatusCode::SERVICE_UNAVAILABLE, &e),
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    }
    // Passteam does not wait for the answer; handle in the background and answer now, each
    // card's webhooks in the order they arrived. At most MAX_HANDLERS_IN_FLIGHT run at once:
    // past that the claim is released and the answer is 503, and Passteam's own repeat (1–2 h
    // later) brings the webhook back.
    let Ok(permit) = hooks.in_flight.clone().try_acquire_owned() else {
        if let Err(e) = hooks.dedup.release(&id).await {
            tracing::error!(webhook_id = %id, error = %e, "could not release the webhook claim");
        }
        let busy = Error::new(
            walletport_core::ErrorKind::RateLimited,
            format!("over {MAX_HANDLERS_IN_FLIGHT} webhooks in flight; send it again later"),
        );
        return error(StatusCode::SERVICE_UNAVAILABLE, &busy);
    };
    let turn = event.card_id().map(|card| hooks.order.join(card.as_str()));
    tokio::spawn(async move {
        let _permit = permit;
        let mut turn = turn;
        if let Some(before) = turn.as_mut().and_then(|t| t.before.take()) {
            // A sender dropped without a signal (its task panicked) frees the line as well.
            let _ = before.await;
        }
        let result = hooks.events.on_wallet_event(event).await;
        if let Some(turn) = turn {
            hooks.order.leave(turn);
        }
        if let Err(e) = result {
            tracing::warn!(webhook_id = %id, error = %e, "passteam webhook handler failed; released for the repeat");
            if let Err(e) = hooks.dedup.release(&id).await {
                tracing::error!(webhook_id = %id, error = %e, "could not release the webhook claim");
            }
        }
    });
    StatusCode::OK.into_response()
}
