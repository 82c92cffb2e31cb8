//! Passteam → merchant webhooks: `{webhookId, event, card}` into [`WalletEvents`].
//!
//! Passteam posts every card event as JSON, repeats it after 1–2 hours and after 24 hours, and
//! ignores the answer. So a receiver must deduplicate by `webhookId` ([`WebhookDedup`]; an
//! in-memory [`MemoryDedup`] here, the gateway brings a durable one) and can answer at once. The
//! axum [`webhooks_router`] (feature `axum`) does exactly that: 64 KiB body limit (413), 400 with
//! a JSON error for a body that is not a webhook, 200 right after the claim, the handler running
//! in the background — and when the handler fails, the claim is released so Passteam's repeat
//! is processed.
//!
//! [`WalletEvents`]: walletport_core::WalletEvents

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio::time::Instant;
use walletport_core::{Error, Result, WalletEvent, WalletEventKind};

use crate::config::FieldMap;
use crate::mapping::card::{Reading, card_from_wire, card_phone};
use crate::wire::WireWebhook;

/// The largest webhook body accepted.
pub const MAX_WEBHOOK_BYTES: usize = 64 * 1024;

/// The most webhooks the receiver handles at once in the background (it answers before it
/// handles, since Passteam does not wait). One more is answered 503 with its claim released:
/// Passteam sends every webhook again 1–2 h and 24 h later, so a flood is spread, not lost.
pub const MAX_HANDLERS_IN_FLIGHT: usize = 1024;

/// Passteam's event names → the core kinds.
pub fn event_kind(event: &str) -> Option<WalletEventKind> {
    Some(match event {
        "createCard" => WalletEventKind::Created,
        "updateCard" => WalletEventKind::Updated,
        "deleteCard" => WalletEventKind::Deleted,
        "installCard" => WalletEventKind::Installed,
        "unInstallCard" | "uninstallCard" => WalletEventKind::Uninstalled,
        _ => return None,
    })
}

/// Parses a webhook body; the card carries every variable in `fields`, the phone comes from the
/// mapped phone variable or `phoneNumber`. `InvalidInput` for anything that is not a webhook.
pub fn parse_webhook(body: &[u8], fields: &FieldMap) -> Result<WalletEvent> {
    parse_webhook_in(body, fields, crate::mapping::card::DEFAULT_TIMEZONE)
}

/// [`parse_webhook`] with the card's timestamps read in `timezone` (`[provider] timezone`).
pub fn parse_webhook_in(
    body: &[u8],
    fields: &FieldMap,
    timezone: chrono_tz::Tz,
) -> Result<WalletEvent> {
    let hook: WireWebhook = serde_json::from_slice(body)
        .map_err(|e| Error::invalid_input(format!("not a Passteam webhook: {e}")))?;
    if hook.webhook_id.len() > walletport_core::ids::MAX_ID_LEN
        || hook.webhook_id.chars().any(char::is_control)
    {
        return Err(Error::invalid_input(
            "webhookId is too long or has control characters",
        ));
    }
    let kind = event_kind(&hook.event)
        .ok_or_else(|| Error::invalid_input(format!("unknown webhook event `{}`", hook.event)))?;
    Ok(WalletEvent {
        event_id: hook.webhook_id,
        kind,
        phone: card_phone(&hook.card, fields),
        card: card_from_wire(
            &hook.card,
            Reading {
                map: fields,
                timezone,
                schema: None,
            },
            false,
        ),
        received_at: Utc::now(),
    })
}

/// Remembers which webhook ids were handled, so Passteam's repeats are handled once.
#[async_trait]
pub trait WebhookDedup: Send + Sync {
    /// Claims `id`: `true` the first time (handle it), `false` for a repeat (skip it).
    async fn first_time(&self, id: &str) -> Result<bool>;
    /// Gives a claim back after the handler failed, so the vendor's next repeat is handled.
    async fn release(&self, id: &str) -> Result<()>;
}

/// In-memory [`WebhookDedup`] with bounded memory: ids are kept for `ttl` (default 72 h, longer
/// than Passteam's last repeat at 24 h) and at most `capacity` of them (oldest dropped first).
#[derive(Debug)]
pub struct MemoryDedup {
    ttl: Duration,
    capacity: usize,
    state: Mutex<DedupState>,
}

#[derive(Debug, Default)]
struct DedupState {
    seen: HashMap<String, Instant>,
    order: VecDeque<(Instant, String)>,
}

impl Default for MemoryDedup {
    fn default() -> Self {
        Self::new(Duration::from_secs(72 * 3600), 100_000)
    }
}

impl MemoryDedup {
    /// Keeps ids for `ttl`, at most `capacity` (at least 1).
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            state: Mutex::new(DedupState::default()),
        }
    }

    /// How many ids are remembered now.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .seen
            .len()
    }

    /// True when no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl WebhookDedup for MemoryDedup {
    async fn first_time(&self, id: &str) -> Result<bool> {
        let now = Instant::now();
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some((at, old)) = s.order.front().cloned() {
            let expired = now.duration_since(at) >= self.ttl;
            if !expired && s.order.len() < self.capacity {
                break;
            }
            s.order.pop_front();
            // Only forget the id if this queue entry is its current claim.
            if s.seen.get(&old) == Some(&at) {
                s.seen.remove(&old);
            }
        }
        if s.seen.contains_key(id) {
            return Ok(false);
        }
        s.seen.insert(id.to_owned(), now);
        s.order.push_back((now, id.to_owned()));
        Ok(true)
    }

    async fn release(&self, id: &str) -> Result<()> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.seen.remove(id);
        Ok(())
    }
}

/// What happened to one webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// New: handed to the handler.
    Accepted,
    /// A repeat of a handled webhook: skipped.
    Duplicate,
}

/// Parses, deduplicates and handles one webhook inline (for callers without axum); the claim is
/// released when the handler fails.
pub async fn handle_webhook(
    body: &[u8],
    fields: &FieldMap,
    events: &dyn walletport_core::WalletEvents,
    dedup: &dyn WebhookDedup,
) -> Result<Delivery> {
    if body.len() > MAX_WEBHOOK_BYTES {
        return Err(Error::invalid_input("webhook body over 64 KiB"));
    }
    let event = parse_webhook(body, fields)?;
    let id = event.event_id.clone();
    if !dedup.first_time(&id).await? {
        return Ok(Delivery::Duplicate);
    }
    if let Err(e) = events.on_wallet_event(event).await {
        let _ = dedup.release(&id).await;
        return Err(e);
    }
    Ok(Delivery::Accepted)
}

#[cfg(feature = "axum")]
mod router;
#[cfg(feature = "axum")]
pub use router::{webhooks_router, webhooks_router_for, webhooks_router_with};

/// Whether an error of the dedup store should be answered as a server failure.
#[cfg(feature = "axum")]
pub(crate) fn is_server_side(e: &Error) -> bool {
    !matches!(e.kind(), walletport_core::ErrorKind::InvalidInput)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC_EXAMPLE: &str = r#"{"card":{"cardId":"5e451571cea6c6141807b792","cardCode":"000000018",
        "cardUrl":"testUrl","appleUrl":"testUrl","googleUrl":"testUrl","qrcodeUrl":"testUrl",
        "values":{"%POINTS%":"1000"},"deviceRegistered":false,"expirationDate":"","voided":0,
        "phoneNumber":"","email":"","strip":"","logo":"","icon":"","templateId":"5e424c181dbf0d537c8b4569",
        "importUid":"","installedGPay":0,"installedAW":0,"installed":false,
        "created":"13.02.2020 12:22:57","updated":"13.02.2020 12:22:57"},
        "event":"createCard","webhookId":"5e4515b1cea6c61fba2a4212"}"#;

    #[test]
    fn parses_the_documents_example() {
        let e = parse_webhook(DOC_EXAMPLE.as_bytes(), &FieldMap::documented())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.event_id, "5e4515b1cea6c61fba2a4212");
        assert_eq!(e.kind, WalletEventKind::Created);
        assert_eq!(e.phone, None);
        assert_eq!(
            e.card.fields.get("POINTS").map(String::as_str),
            Some("1000")
        );
        for bad in [
            "",
            "{}",
            "[1]",
            r#"{"webhookId":"x","event":"eatCard","card":{}}"#,
            r#"{"webhookId":"","event":"createCard","card":{}}"#,
        ] {
            assert!(
                parse_webhook(bad.as_bytes(), &FieldMap::documented()).is_err(),
                "{bad}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn dedup_remembers_for_the_ttl_within_capacity() {
        let d = MemoryDedup::new(Duration::from_secs(48 * 3600), 3);
        assert!(d.first_time("a").await.unwrap_or(false));
        assert!(!d.first_time("a").await.unwrap_or(true), "repeat after 0 h");
        tokio::time::advance(Duration::from_secs(2 * 3600)).await;
        assert!(
            !d.first_time("a").await.unwrap_or(true),
            "repeat after 1–2 h"
        );
        tokio::time::advance(Duration::from_secs(24 * 3600)).await;
        assert!(
            !d.first_time("a").await.unwrap_or(true),
            "repeat after 24 h"
        );
        tokio::time::advance(Duration::from_secs(23 * 3600)).await;
        assert!(
            d.first_time("a").await.unwrap_or(false),
            "forgotten after the ttl"
        );
        for id in ["b", "c", "d", "e"] {
            assert!(d.first_time(id).await.unwrap_or(false));
        }
        assert!(d.len() <= 3, "bounded: {}", d.len());
        d.release("e").await.unwrap_or(());
        assert!(
            d.first_time("e").await.unwrap_or(false),
            "released claims are new again"
        );
    }
}
