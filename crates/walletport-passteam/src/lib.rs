//! # walletport-passteam
//!
//! The Passteam adapter of walletport: loyalty cards as Passteam template variables behind the
//! provider-agnostic ports.
//!
//! - Wire: `POST {base_url}/oapi/v1/<method>`, `multipart/form-data` (or
//!   `application/x-www-form-urlencoded` with `encoding = "form"`), variables as
//!   `values[%NAME%]` ([`encoding`]), `Authorization: <token>` (configured, or fetched once with
//!   `getatoken` and cached).
//! - Sans-IO: [`mapping`] holds a pure `build_*_request` / `parse_*_response` pair per method;
//!   [`PassteamProvider`] runs them over a [`walletport_http::Transport`].
//! - Variables ↔ domain via `[provider.fields]` ([`FieldMap`]); values are checked against the
//!   template's variable types before they are sent.
//! - Customer upsert follows the document's integration scenario (getcard by phone →
//!   updatecard, else createcard; a 409 on create → getcard and update).
//! - No atomic credit at Passteam: `balance_credit` is off ([`capability_for`]).
//! - Campaigns: `sendpush` to every card of the template; see [`mapping::push`] for how
//!   create/send stay honest without vendor-side campaign objects.
//! - Passteam-specific: [`PassteamProvider::distribute`], [`PassteamProvider::check_variable_value`],
//!   [`PassteamProvider::all_cards`], Sales and Products ([`PassteamProvider::commerce`]).
//! - Webhooks: [`webhooks`] (parse, dedup, axum router behind feature `axum`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use walletport_core::{Checked, Customer, Phone, ProviderExt, UpsertCustomer};
//! use walletport_passteam::{PassteamConfig, PassteamProvider};
//!
//! # async fn demo() -> walletport_core::Result<()> {
//! let mut config = PassteamConfig::with_token("API-TOKEN-FROM-THE-PROFILE");
//! config.template_id = Some("5e424c181dbf0d537c8b4569".parse()?);
//! let provider = Checked::wrap(Arc::new(PassteamProvider::new(config)?));
//!
//! let phone = Phone::parse("+79990000001")?;
//! let customer = Customer { name: Some("Иван".into()), ..Customer::new(phone.clone()) };
//! provider.customers().upsert_customer(UpsertCustomer::new(customer)).await?;
//! let balance = provider.balance_of(&phone).await?;
//! # let _ = balance;
//! # Ok(())
//! # }
//! ```

mod client;
pub mod commerce;
pub mod config;
pub mod encoding;
pub mod guesses;
pub mod mapping;
pub mod webhooks;
pub mod wire;

pub use client::{
    Commerce, NAME, PassteamProvider, VERSION, capability_for, transport_config,
    transport_config_with,
};
pub use config::{BodyEncoding, CommercePaths, FieldMap, ParamNames, PassteamConfig, PhoneLookup};
pub use mapping::errors::{PassteamRateLimit, duplicated_card_ids, parse_duplicated_ids};
pub use mapping::ops::{CardLookup, Uniqueness};
pub use mapping::push::DistributeChannel;
pub use webhooks::{MemoryDedup, WebhookDedup, parse_webhook, parse_webhook_in};
#[cfg(feature = "axum")]
pub use webhooks::{webhooks_router, webhooks_router_for, webhooks_router_with};
