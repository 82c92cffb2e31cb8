//! # walletport-skycore
//!
//! The Skycore adapter of walletport (Skycore Mobile Wallet API, loyalty cards): one POST endpoint
//! taking a JSON body with an `action`, authenticated by the `X-Api-Key` header.
//!
//! | port | Skycore |
//! |---|---|
//! | `CardPort::issue_card` | `generatepass` (a retry meeting its own pass-id reads the pass back) |
//! | `CardPort::get_card` | `getpassdata` (both documented key sets) |
//! | `CardPort::update_card`, `set_card_status` | `updatepassdata` (fields, balance, `pass-status`, notification) |
//! | `BalancePort::get_balance` / `set_balance` | `loyalty-points` (points) and `secondary-loyalty-points` (bonus %) |
//! | `PushCampaignPort::push` (wallet) | `updatepassdata` with `pass-update-notification` |
//! | `CustomerPort::upsert_customer` | `updatepassdata` (one request for an existing pass); `generatepass` after E808 |
//! | `CustomerPort::get_customer` | `getpassdata`, by phone only when `pass_id = "phone"` |
//! | `Provider::check` | `getpasstemplate` of the configured template (one request) |
//! | `TemplatePort::get/create/update_template` | `getpasstemplate`, `createPassTemplate`, `updatePassTemplate` (layouts 1 and 2) |
//! | issuance links | [`SkycoreProvider::create_issuance_link`] / [`update_issuance_link`](SkycoreProvider::update_issuance_link) |
//!
//! Everything else (customer listing and deletion, credits, campaigns, template listing,
//! install-link sending, status) answers `Unsupported`: Skycore has no such call (a deletion is
//! not a void; see docs/providers/skycore.md). A pass holds points and bonus %, no discount
//! (`Provider::balance_fields`). The crate was started with `cargo xtask new-adapter skycore`.
//!
//! ```
//! use walletport_core::{Provider, ProviderExt};
//! use walletport_skycore::{SkycoreConfig, SkycoreProvider};
//!
//! let config: SkycoreConfig = serde_json::from_value(serde_json::json!({
//!     "endpoint": "https://api.skycore.invalid/API/",
//!     "api_key": "not-a-real-key",
//!     "template_id": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
//! }))?;
//! let provider = SkycoreProvider::new(config)?;
//! assert_eq!(provider.info().name, "skycore");
//! assert!(provider.capability().customer_get_by_phone, "pass ids are phones by default");
//! assert!(provider.capability().customer_upsert, "a customer is a pass");
//! assert!(!provider.balance_fields().discount_percent);
//! assert!(!provider.capability().campaign_create);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod answer;
mod book;
mod client;
pub mod config;
mod encode;
pub mod link_spec;
pub mod mapping;
pub mod validate;
pub mod wire;

pub use client::SkycoreProvider;
pub use config::{Layout, PassIdStrategy, SkycoreConfig};
pub use link_spec::IssuanceLinkSpec;
pub use mapping::link::{
    Checksum, ChecksumScope, IssuanceLink, IssuanceLinkInfo, LinkEncryption, LinkExpiry,
    LinkProtection, LinkStatus, PassVariable,
};
pub use mapping::pass::{GeneratePass, GeneratedPass, PassRecord, UpdatePass, UpdatedPass};
pub use wire::{IBeacon, PassData, RelevantLocation};

/// The provider name: the config `kind`, stamped on errors and traces.
pub const PROVIDER: &str = "skycore";
