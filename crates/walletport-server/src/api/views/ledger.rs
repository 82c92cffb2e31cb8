//! The ledger's JSON shapes: credits, redemptions, reversals, balance settings and the history.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use walletport_store::{LedgerEntry, LedgerPage};

use super::BalanceView;

/// A credit, exactly once by transaction id.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditInput {
    /// A positive amount.
    #[schema(value_type = String, example = "50")]
    pub amount: Decimal,
    /// The exactly-once key: repeating it credits nothing more. The prefix `pq:` is reserved
    /// for Passquare's own credits (from `addBalance` hooks) and refused here.
    pub transaction_id: String,
    /// When the credited points burn, e.g. `30d`, `12h`.
    #[serde(default)]
    #[schema(example = "30d")]
    pub lifetime: Option<String>,
}

/// A redemption (points spent at a till), exactly once by transaction id.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedemptionInput {
    /// A positive amount, at most the balance (else 409 `insufficient_points`).
    #[schema(value_type = String, example = "100")]
    pub amount: Decimal,
    /// The exactly-once key: repeating it takes nothing more; the same key with another amount
    /// is a conflict. The prefix `pq:` is reserved for Passquare and refused here.
    pub transaction_id: String,
}

/// An absolute balance to set (a manual adjustment), exactly once by transaction id.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BalanceInput {
    /// The new balance, not negative.
    #[schema(value_type = String, example = "250")]
    pub points: Decimal,
    /// The exactly-once key: repeating it changes nothing more. The prefix `pq:` is reserved
    /// for Passquare and refused here.
    pub transaction_id: String,
}

/// What a credit, redemption, reversal or balance setting did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LedgerResult {
    /// False when the transaction id was seen before (nothing changed).
    pub applied: bool,
    /// The change of the points this call made (negative for a redemption or reversal).
    #[schema(value_type = String)]
    pub delta: Decimal,
    /// The balance after the call.
    pub balance: BalanceView,
}

/// Paging of a customer's ledger, newest first.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LedgerQueryParams {
    /// The `next` value of the previous page: only entries older than it.
    pub before: Option<i64>,
    /// Page size (1–1000, default 100).
    pub limit: Option<u32>,
}

/// One entry of a customer's append-only ledger.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LedgerEntryView {
    /// The entry id (ascending in the order entries were written).
    pub id: i64,
    /// The transaction that wrote it; for an expiry or a reversal, the credit's.
    pub transaction_id: Option<String>,
    /// `credit`, `redemption`, `expiry`, `reversal` or `adjustment`.
    pub kind: String,
    /// Signed: credits positive; redemptions, expiries and reversals negative.
    #[schema(value_type = String, example = "-100")]
    pub amount: Decimal,
    /// The balance right after this entry.
    #[schema(value_type = String, example = "150")]
    pub balance_after: Decimal,
    /// When it happened (for an expiry: when the points stopped counting).
    pub at: DateTime<Utc>,
    /// For a credit with a lifetime: when what is left of it expires.
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<&LedgerEntry> for LedgerEntryView {
    fn from(e: &LedgerEntry) -> Self {
        Self {
            id: e.id,
            transaction_id: e.transaction_id.as_ref().map(ToString::to_string),
            kind: e.kind.as_str().to_owned(),
            amount: e.amount,
            balance_after: e.balance_after,
            at: e.at,
            expires_at: e.expires_at,
        }
    }
}

/// One page of a customer's ledger.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LedgerPageView {
    /// The entries, newest first.
    pub entries: Vec<LedgerEntryView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next: Option<i64>,
}

impl From<&LedgerPage> for LedgerPageView {
    fn from(p: &LedgerPage) -> Self {
        Self {
            entries: p.entries.iter().map(LedgerEntryView::from).collect(),
            next: p.next,
        }
    }
}
