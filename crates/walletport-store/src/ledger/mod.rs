//! The exactly-once ledger: materialised balances, expiring lots and an append-only history.
//!
//! [`types`] holds what callers pass and get back; [`engine`] decides what each operation writes,
//! once for both databases, over the SQL steps each backend implements.

pub(crate) mod backfill;
pub(crate) mod engine;
mod types;

pub use types::{
    EntryKind, ExpiryReport, LedgerEntry, LedgerOp, LedgerOutcome, LedgerPage, LedgerQuery,
    Reversal, SetPoints,
};
/// The redemption a [`LedgerOp::Redeem`] carries: core's type, the one the providers' ports take.
pub use walletport_core::Redemption;
