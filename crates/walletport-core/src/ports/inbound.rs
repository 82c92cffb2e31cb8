//! Inbound ports: what a vendor calls on the merchant's side (hooks and webhooks).
//!
//! The adapters parse the vendor's wire format into these calls; the gateway (or a user's own
//! service) implements them.

use std::net::IpAddr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Balance, BalanceUpdate, Card, Credit, Customer};
use crate::error::{Error, Result};
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

impl RegisterCustomer {
    /// How many card numbers (and tracks) one registration may carry: as many as a balance read
    /// looks up, so that every card registered can also be read back.
    pub const MAX_CARDS: usize = ReadBalance::MAX_CARDS;
}

/// The vendor asks for a balance, naming the customer by phone **and** card numbers.
///
/// Passquare's document says to identify the customer by both; [`ReadBalance::holder`] is that
/// rule, so every [`CrmHooks`] implementation answers the same customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBalance {
    /// The holder's phone.
    pub phone: Phone,
    /// The holder's card numbers: checked against the phone, and the fallback when the CRM does
    /// not know the phone.
    pub card_numbers: Vec<String>,
    /// Where the hook came from.
    pub context: HookContext,
}

impl ReadBalance {
    /// How many of `card_numbers` a handler looks up (a customer has few cards; the body may
    /// list more, and each lookup costs a store query).
    pub const MAX_CARDS: usize = 16;

    /// The customer a call names, given whom the CRM finds by the phone (`by_phone`) and by each
    /// card number it knows (`by_cards`; unknown numbers left out).
    ///
    /// The phone's customer when no known card belongs to someone else; the cards' customer when
    /// the phone is unknown (the holder may have changed numbers). `InvalidInput` when the phone
    /// and a card, or two cards, name different customers (answering either would show one
    /// customer another's balance); `NotFound` when neither is known.
    pub fn holder<K: PartialEq>(by_phone: Option<K>, by_cards: Vec<K>) -> Result<K> {
        let mut cards = by_cards.into_iter();
        let by_card = cards.next();
        if let Some(first) = &by_card
            && cards.any(|other| &other != first)
        {
            return Err(Error::invalid_input(
                "the card numbers belong to different customers",
            ));
        }
        match (by_phone, by_card) {
            (Some(p), Some(c)) if p != c => Err(Error::invalid_input(
                "the phone and the card number belong to different customers",
            )),
            (Some(p), _) => Ok(p),
            (None, Some(c)) => Ok(c),
            (None, None) => Err(Error::not_found(
                "no customer with this phone or card number",
            )),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn read_balance_names_one_holder_by_phone_and_cards() {
        let kind = |r: Result<u8>| r.map_err(|e| e.kind());
        assert_eq!(kind(ReadBalance::holder(Some(1), vec![])), Ok(1));
        assert_eq!(kind(ReadBalance::holder(Some(1), vec![1, 1])), Ok(1));
        assert_eq!(kind(ReadBalance::holder(None, vec![2])), Ok(2), "fallback");
        assert_eq!(
            kind(ReadBalance::holder(Some(1), vec![2])),
            Err(ErrorKind::InvalidInput)
        );
        assert_eq!(
            kind(ReadBalance::holder(None, vec![2, 3])),
            Err(ErrorKind::InvalidInput)
        );
        assert_eq!(
            kind(ReadBalance::holder(Some(1), vec![1, 3])),
            Err(ErrorKind::InvalidInput)
        );
        assert_eq!(
            kind(ReadBalance::holder::<u8>(None, vec![])),
            Err(ErrorKind::NotFound)
        );
    }
}
