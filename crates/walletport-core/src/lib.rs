//! # walletport-core
//!
//! The provider-agnostic heart of walletport: strict domain types ([`Phone`], [`Customer`],
//! [`Card`], [`Balance`], [`Credit`], ...), the ports every wallet-card vendor adapter implements
//! ([`CustomerPort`], [`CardPort`], [`BalancePort`], [`PushCampaignPort`], [`TemplatePort`], tied by
//! [`Provider`]), the inbound ports the merchant implements ([`CrmHooks`], [`WalletEvents`]), the one
//! [`Error`] type and the [`Capability`] flags.
//!
//! No HTTP and no database here: adapters, the store and the server depend on this crate, never
//! the other way round.

pub mod capability;
pub mod checked;
pub mod clock;
pub mod domain;
pub mod error;
pub mod ext;
pub mod ids;
pub mod phone;
pub mod ports;
pub mod text;

pub use capability::Capability;
pub use checked::Checked;
pub use clock::{Clock, ManualClock, SystemClock};
pub use domain::*;
pub use error::{Error, ErrorKind, Result, Retry, VendorError};
pub use ext::ProviderExt;
pub use ids::{CampaignId, CardId, CustomerId, SegmentId, TemplateId, TransactionId};
pub use phone::{Phone, PhonePolicy};
pub use ports::*;
pub use text::check_storable;

/// Re-exported so users name the same `Decimal` the domain uses.
pub use rust_decimal::Decimal;
