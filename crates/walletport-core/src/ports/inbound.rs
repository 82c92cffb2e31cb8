//! Inbound ports: what a vendor calls on the merchant's side (hooks and webhooks).
//!
//! The adapters parse the vendor's wire format into these calls; the gateway (or a user's own
//! service) implements them.

use std::net::IpAddr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Balance, BalanceUpdate, Card, Credit, Customer};
use crate::error::Result;
use crate::ids::{CardId, CustomerId};
use crate::phone::Phone;

/// Where a hook came from: the vendor's account identifiers and the peer address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HookContext {
    /// Passquare `X-organization-id`.
    pub organization_id: Option<String>,
    /// Passquare `X-program-id`.
    pub program_id: Option<String>,
    /// Passquare `X-wallet-id`.
    pub wallet_id: Option<String>,
    /// The peer's IP address.
    pub remote_addr: Option<IpAddr>,
}

/// A card number with its barcode / magnetic track.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardTrack {
    /// The card number.
    pub card: String,
    /// Its track.
    pub track: String,
}

/// A customer installed a card: register them (create or update by phone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterCustomer {
    /// The customer (referral code and inviter included).
    pub customer: Customer,
    /// Card numbers assigned by the vendor.
    pub card_numbers: Vec<String>,
    /// Tracks of those cards.
    pub card_tracks: Vec<CardTrack>,
    /// Balance values the vendor sent along.
    pub balance: BalanceUpdate,
    /// Where the hook came from.
    pub context: HookContext,
}

/// The vendor asks for a balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBalance {
    /// Whose.
    pub phone: Phone,
    /// Which cards (informational).
    pub card_numbers: Vec<String>,
    /// Where the hook came from.
    pub context: HookContext,
}

/// The vendor grants points; the handler must apply it exactly once by transaction id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditHook {
    /// Whose.
    pub phone: Phone,
    /// Which cards (informational).
    pub card_numbers: Vec<String>,
    /// The credit, with its lifetime.
    pub credit: Credit,
    /// Where the hook came from.
    pub context: HookContext,
}

/// The merchant CRM as a vendor's hooks see it (Passquare methods 1.1–1.3).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait CrmHooks: Send + Sync {
    /// Register (create or update by phone) and return the CRM's stable customer id.
    async fn register_customer(&self, input: RegisterCustomer) -> Result<CustomerId>;
    /// Read a customer's balance.
    async fn read_balance(&self, input: ReadBalance) -> Result<Balance>;
    /// Credit exactly once; a repeated transaction id is a success that changes nothing.
    async fn credit_balance(&self, input: CreditHook) -> Result<()>;
}

/// What happened to a card at the vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WalletEventKind {
    /// A card was created.
    Created,
    /// A card was updated.
    Updated,
    /// A card was deleted.
    Deleted,
    /// A card was installed in a wallet.
    Installed,
    /// A card was removed from a wallet.
    Uninstalled,
}

/// One vendor event about a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletEvent {
    /// The vendor's event id: the deduplication key.
    pub event_id: String,
    /// What happened.
    pub kind: WalletEventKind,
    /// The card as the vendor sent it.
    pub card: Card,
    /// The holder's phone, if the card carries one.
    pub phone: Option<Phone>,
    /// When we received it.
    pub received_at: DateTime<Utc>,
}

impl WalletEvent {
    /// The card id, if the event has one.
    pub fn card_id(&self) -> Option<&CardId> {
        self.card.id.as_ref()
    }
}

/// The merchant side of a vendor's card webhooks (Passteam).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WalletEvents: Send + Sync {
    /// Handle one event. Deduplication by `event_id` happens before this is called.
    async fn on_wallet_event(&self, event: WalletEvent) -> Result<()>;
}
