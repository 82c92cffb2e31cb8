//! The ledger's public values: the operations a caller asks for, what they did, and the
//! append-only history they leave.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use walletport_core::{Credit, CustomerId, Error, Redemption, Result, TransactionId};

/// Setting the points to an absolute value, exactly-once by transaction id (an operator's
/// correction or an import); written as an `adjustment` entry of the difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPoints {
    points: Decimal,
    transaction_id: TransactionId,
}

impl SetPoints {
    /// A non-negative, bounded target balance.
    pub fn new(points: Decimal, transaction_id: TransactionId) -> Result<Self> {
        Ok(Self {
            points: Self::check(points)?,
            transaction_id,
        })
    }

    /// The rule of [`SetPoints::new`] on its own (normalised `points`, or why not), so that a
    /// caller can refuse a value before it writes anything else.
    pub fn check(points: Decimal) -> Result<Decimal> {
        if points.is_sign_negative() && !points.is_zero() {
            return Err(Error::invalid_input(format!(
                "points must not be negative, got {points}"
            )));
        }
        Ok(walletport_core::check_amount("points", points)?.normalize())
    }

    /// The target balance.
    pub fn points(&self) -> Decimal {
        self.points
    }

    /// The exactly-once key.
    pub fn transaction_id(&self) -> &TransactionId {
        &self.transaction_id
    }
}

/// Taking back a credit whose purchase was refunded, exactly once per credit.
///
/// The whole credit comes back, less whatever of it expired: first what is left of the credit's
/// own lot, then other points (soonest-expiring first); what was already spent and is not covered
/// by other points leaves the balance negative — a debt that later credits pay off first, as a
/// card ledger treats a refund after the money was spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reversal {
    credit: TransactionId,
}

impl Reversal {
    /// The reversal of the credit made under `credit`.
    pub fn of(credit: TransactionId) -> Self {
        Self { credit }
    }

    /// The transaction id of the credit taken back (also the reversal's exactly-once key).
    pub fn credit(&self) -> &TransactionId {
        &self.credit
    }
}

/// One exactly-once change of a customer's points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum LedgerOp {
    /// Add points, optionally expiring after the credit's lifetime.
    Credit(Credit),
    /// Take points, soonest-expiring first; refused when the balance is smaller.
    Redeem(Redemption),
    /// Set the balance; written as an adjustment entry of the difference.
    Set(SetPoints),
    /// Take a credit back.
    Reverse(Reversal),
}

impl LedgerOp {
    /// The exactly-once key (for a reversal: the credit's transaction id).
    pub fn transaction_id(&self) -> &TransactionId {
        match self {
            Self::Credit(c) => c.transaction_id(),
            Self::Redeem(r) => r.transaction_id(),
            Self::Set(s) => s.transaction_id(),
            Self::Reverse(r) => r.credit(),
        }
    }

    /// The kind recorded with the transaction id (`credit`, `redemption`, `set`, `reversal`).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Credit(_) => "credit",
            Self::Redeem(_) => "redemption",
            Self::Set(_) => "set",
            Self::Reverse(_) => "reversal",
        }
    }

    /// The requested amount as recorded for conflict detection.
    pub(crate) fn requested(&self) -> Decimal {
        match self {
            Self::Credit(c) => c.amount(),
            Self::Redeem(r) => r.amount(),
            Self::Set(s) => s.points(),
            Self::Reverse(_) => Decimal::ZERO,
        }
    }
}

/// The result of an exactly-once ledger operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerOutcome {
    /// False when the transaction id was processed before with the same request: nothing
    /// changed and the call still succeeded.
    pub applied: bool,
    /// The change of the balance this call made (zero when not applied).
    pub delta: Decimal,
}

impl LedgerOutcome {
    /// A repeat: nothing changed.
    pub(crate) const REPEAT: Self = Self {
        applied: false,
        delta: Decimal::ZERO,
    };
}

/// The kind of a ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Points added (may expire).
    Credit,
    /// Points spent.
    Redemption,
    /// What was left of a credit when its lifetime ended.
    Expiry,
    /// A credit taken back.
    Reversal,
    /// The difference written by a [`SetPoints`].
    Adjustment,
}

impl EntryKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credit => "credit",
            Self::Redemption => "redemption",
            Self::Expiry => "expiry",
            Self::Reversal => "reversal",
            Self::Adjustment => "adjustment",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        match s {
            "credit" => Ok(Self::Credit),
            "redemption" => Ok(Self::Redemption),
            "expiry" => Ok(Self::Expiry),
            "reversal" => Ok(Self::Reversal),
            "adjustment" => Ok(Self::Adjustment),
            other => Err(Error::unexpected(format!(
                "unknown ledger entry kind `{other}` in the store"
            ))),
        }
    }
}

/// One entry of a customer's append-only ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The entry id (ascending in the order entries were written).
    pub id: i64,
    /// Whose.
    pub customer_id: CustomerId,
    /// The transaction that wrote it; for an expiry or a reversal, the credit's.
    pub transaction_id: Option<TransactionId>,
    /// What happened.
    pub kind: EntryKind,
    /// Signed: credits positive; redemptions, expiries and reversals negative.
    pub amount: Decimal,
    /// The balance right after this entry (negative only after a reversal of spent points).
    pub balance_after: Decimal,
    /// When it happened (for an expiry: the instant the points stopped counting).
    pub at: DateTime<Utc>,
    /// For a credit with a lifetime: when what is left of it expires (exclusive).
    pub expires_at: Option<DateTime<Utc>>,
}

/// Which page of a customer's ledger to read: newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LedgerQuery {
    /// Only entries older than this id (the `next` of the previous page).
    pub before: Option<i64>,
    /// The most entries (1..=[`crate::MAX_PAGE`]; 0 means 100).
    pub limit: u32,
}

/// One page of a customer's ledger, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerPage {
    /// The entries.
    pub entries: Vec<LedgerEntry>,
    /// The cursor of the next (older) page; `None` on the last page.
    pub next: Option<i64>,
}

/// What one expiry pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExpiryReport {
    /// Customers whose balance changed (one outbox item each).
    pub customers: u64,
    /// Lots expired (one `expiry` entry each).
    pub lots: u64,
    /// Points that stopped counting.
    pub points: Decimal,
}
