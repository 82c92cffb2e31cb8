//! # walletport
//!
//! One provider-agnostic API for Apple Wallet / Google Wallet loyalty cards over several
//! wallet-card vendors, switchable by configuration. This facade re-exports
//! [`walletport_core`] and connects a [`ProviderConfig`] to a ready [`Provider`]:
//!
//! ```
//! use walletport::{connect, ProviderConfig, ProviderExt, Phone};
//! use walletport::{Customer, UpsertCustomer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> walletport::Result<()> {
//! let config: ProviderConfig = walletport::ProviderConfig::from_toml(r#"kind = "memory""#)?;
//! let provider = connect(&config)?;
//! let phone = Phone::parse("+420000000001")?;
//! provider
//!     .customers()
//!     .upsert_customer(UpsertCustomer::new(Customer::new(phone.clone())))
//!     .await?;
//! let balance = provider.balance_of(&phone).await?;
//! assert!(balance.points.is_zero());
//! # Ok(()) }
//! ```
//!
//! Every provider is wrapped in [`Checked`]: operations its [`Capability`] lacks answer
//! [`ErrorKind::Unsupported`] before any vendor request, and errors name provider and operation.

mod config;

#[cfg(feature = "skycore")]
pub use config::skycore_adapter;
pub use config::{ProviderConfig, available_kinds, connect, connect_with, kind_capabilities};
pub use walletport_core::*;

/// Where a vendor transport keeps its quota windows ([`connect_with`]): in this process by
/// default, or wherever a [`LimiterFactory`] puts them (the gateway: its database).
pub use walletport_http::{
    InProcessLimiters, Limiter, LimiterFactory, Priority, QuotaPlan, QuotaUsage, WindowUsage,
};

/// The in-memory reference provider (always compiled).
pub use walletport_memory as memory;

/// The Skycore adapter, for its vendor-specific API (issuance links) beyond the common ports.
#[cfg(feature = "skycore")]
pub use walletport_skycore as skycore;

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
