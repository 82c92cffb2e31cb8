//! # walletport-passquare
//!
//! The Passquare adapter of walletport. Passquare's API 2.7.5 and its "examples" version are both
//! live and disagree (numbers as strings or JSON numbers, credit lifetimes in seconds or days,
//! lookups by card number): every documented form is accepted, and configuration chooses what is
//! sent (`numbers`, `lifetime_unit`, `card_lookup`). The wire reference is
//! `docs/providers/passquare.md`.
//!
//! - [`config`]: [`PassquareConfig`] (`app_key`, `base_url`, `plan`, `numbers`, ...) and
//!   [`PassquareHooksConfig`].
//! - [`wire`]: serde structs of Passquare's JSON.
//! - [`mapping`]: the sans-IO heart, one pure `build_*_request` / `parse_*_response` pair per method.
//! - [`client`]: [`PassquareProvider`], the ports over a `walletport_http::Transport`.
//! - [`hooks`]: the inbound CRM hooks (createCustomer, readBalance, addBalance) over any
//!   `walletport_core::CrmHooks`, and with feature `axum` an axum `Router` for them.
//!
//! What Passquare offers: status, customer upsert / read (by phone or card) / list (by
//! registration date and install state, 100 per page), card issue / read / field update, SMS
//! install links, balance read / set, personal pushes on three channels, campaigns. What it does
//! not: templates, customer deletion, card status changes, outbound credits (Passquare grants
//! credits *to* the merchant through the `addBalance` hook) — those answer `Unsupported`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use walletport_core::{Checked, Customer, Phone, Provider, ProviderExt, UpsertCustomer};
//! use walletport_passquare::{PassquareConfig, PassquareProvider, Plan};
//!
//! # async fn demo() -> walletport_core::Result<()> {
//! let mut config = PassquareConfig::new("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
//! config.plan = Plan::Advanced; // 1 request/s, 600/h
//! let provider: Arc<dyn Provider> = Checked::wrap(Arc::new(PassquareProvider::new(config)?));
//!
//! let phone = Phone::parse("+420000000001")?;
//! let joe = Customer { name: Some("Joe".into()), ..Customer::new(phone.clone()) };
//! let record = provider.customers().upsert_customer(UpsertCustomer::new(joe)).await?;
//! println!("Apple Wallet link: {:?}", record.cards.first().and_then(|c| c.links.apple.clone()));
//! println!("balance: {}", provider.balance_of(&phone).await?.points);
//! # Ok(())
//! # }
//! ```

pub mod client;
pub mod config;
pub mod hooks;
pub mod mapping;
pub mod wire;

pub use client::PassquareProvider;
pub use config::{LifetimeUnit, NumberMode, PassquareConfig, PassquareHooksConfig, Plan};
#[cfg(feature = "axum")]
pub use hooks::hooks_router;
