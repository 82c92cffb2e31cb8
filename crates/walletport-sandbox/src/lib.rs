//! # walletport-sandbox
//!
//! Stateful HTTP emulators of the wallet-card vendors, built from `docs/providers/*.md`: they keep
//! customers, cards and templates, enforce the vendor's auth and rate limits, and can inject
//! faults (errors, 429s, latency). Adapters are tested against them over real HTTP, and
//! `walletport sandbox <vendor> --listen ADDR` runs one for manual work.

pub mod common;
pub mod passquare;
pub mod passteam;
pub mod skycore;

pub use common::{Faults, QuotaWindow, RunningServer, SlidingQuota, serve};
