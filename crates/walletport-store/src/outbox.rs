//! Outbox types and the claim plan both backends share.
//!
//! Every change the vendor must see is written to the outbox in the same transaction as the
//! change. Workers [claim](crate::Store::claim_batch) items under a lease, deliver them and
//! [complete](crate::Store::complete) or [fail](crate::Store::fail) them. A customer's items are
//! always claimed together, by one worker at a time; customers are taken in the order their
//! oldest items fell due (items fall due when written, a failed one at its retry), so a claim
//! never reads the heads that wait for a retry. A customer whose oldest item waits for a retry
//! blocks its later items so order per customer is never broken.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use walletport_core::{CustomerId, Error, Result};

/// The id of an outbox item (ascending in enqueue order; never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OutboxId(pub i64);

impl fmt::Display for OutboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for OutboxId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        s.trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Self)
            .ok_or_else(|| Error::invalid_input(format!("invalid outbox id `{s}`")))
    }
}

/// What changed, so the worker knows which vendor call brings the vendor up to date.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxKind {
    /// Customer data (names, e-mail, birthday, extra fields) was created or changed.
    Customer,
    /// Points changed (credit, debit, set).
    Balance,
    /// Bonus or discount percentage changed.
    Percentages,
    /// A card was attached, changed or removed on the CRM side.
    Card,
}

impl OutboxKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Balance => "balance",
            Self::Percentages => "percentages",
            Self::Card => "card",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        match s {
            "customer" => Ok(Self::Customer),
            "balance" => Ok(Self::Balance),
            "percentages" => Ok(Self::Percentages),
            "card" => Ok(Self::Card),
            other => Err(Error::unexpected(format!(
                "unknown outbox kind `{other}` in the store"
            ))),
        }
    }
}

/// Where an item is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for delivery (possibly until `next_attempt_at`).
    Pending,
    /// Claimed by a worker whose lease has not run out.
    InFlight,
    /// Given up on; waits in the dead letters for a manual retry.
    Dead,
}

/// An item to enqueue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOutboxItem {
    /// Whose change.
    pub customer_id: CustomerId,
    /// What changed.
    pub kind: OutboxKind,
    /// The change itself (for the record; workers usually send the customer's latest state).
    pub payload: serde_json::Value,
}

/// An outbox item or dead letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    /// The id.
    pub id: OutboxId,
    /// Whose change.
    pub customer_id: CustomerId,
    /// What changed.
    pub kind: OutboxKind,
    /// The change.
    pub payload: serde_json::Value,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// Failed deliveries so far.
    pub attempts: u32,
    /// Not to be claimed before this instant (pending items).
    pub next_attempt_at: DateTime<Utc>,
    /// The worker holding the lease, if claimed.
    pub claimed_by: Option<String>,
    /// When the lease runs out.
    pub claimed_until: Option<DateTime<Utc>>,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// When it was dead-lettered.
    pub died_at: Option<DateTime<Utc>>,
    /// Pending, in flight or dead (as of the `now` of the read).
    pub state: OutboxState,
}

/// Which outbox list to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxList {
    /// Items waiting for delivery or in flight.
    Pending,
    /// Dead letters.
    Dead,
}

/// A worker's request for work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    /// Who claims; 1..=128 printable characters, unique per live worker.
    pub worker: String,
    /// The most items to claim (1..=[`crate::MAX_PAGE`]).
    pub limit: u32,
    /// How long the claim holds; after that, another worker may take the items over.
    pub lease: Duration,
    /// The instant of the claim.
    pub now: DateTime<Utc>,
}

/// Why a delivery failed and what to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error to keep with the item (truncated to 2,000 characters; never put secrets here).
    pub error: String,
    /// When to try again; `None` means permanent: dead-letter right away.
    pub retry_at: Option<DateTime<Utc>>,
    /// Dead-letter once this many attempts have failed (at least 1).
    pub max_attempts: u32,
    /// The instant of the failure.
    pub now: DateTime<Utc>,
}

/// What [`Store::fail`](crate::Store::fail) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FailOutcome {
    /// Items scheduled for another attempt.
    pub retrying: u64,
    /// Items moved to the dead letters.
    pub dead: u64,
}

/// Gauges for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OutboxStats {
    /// Items waiting or in flight.
    pub depth: u64,
    /// Of those, items under a live lease.
    pub in_flight: u64,
    /// Dead letters.
    pub dead: u64,
    /// Age of the oldest waiting item.
    pub oldest_age: Option<Duration>,
    /// Distinct customers with waiting items (what one flush costs in vendor requests).
    pub customers: u64,
}

/// The longest error text kept with an outbox item.
pub const MAX_ERROR_CHARS: usize = 2000;

/// The error text to keep: at most [`MAX_ERROR_CHARS`], with any NUL character (which
/// PostgreSQL cannot store, and a vendor's answer may carry) replaced by U+FFFD. Refusing the
/// text instead would leave the failure unrecorded and the items held until their lease ends.
pub(crate) fn clip_error(error: &str) -> String {
    error
        .chars()
        .take(MAX_ERROR_CHARS)
        .map(|c| {
            if c == '\0' {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

impl ClaimRequest {
    pub(crate) fn validate(&self) -> Result<()> {
        validate_worker(&self.worker)?;
        if self.limit == 0 || self.limit > crate::MAX_PAGE {
            return Err(Error::invalid_input(format!(
                "claim limit must be 1..={}, got {}",
                crate::MAX_PAGE,
                self.limit
            )));
        }
        if self.lease.is_zero() {
            return Err(Error::invalid_input("claim lease must be positive"));
        }
        Ok(())
    }
}

impl Failure {
    pub(crate) fn validate(&self) -> Result<()> {
        if self.max_attempts == 0 {
            return Err(Error::invalid_input("max_attempts must be at least 1"));
        }
        Ok(())
    }
}

pub(crate) fn validate_worker(worker: &str) -> Result<()> {
    if worker.is_empty() || worker.chars().count() > 128 || worker.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "worker id must be 1..=128 printable characters",
        ));
    }
    Ok(())
}

/// One outbox row as the claim plan needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ClaimRow {
    pub(crate) id: i64,
    pub(crate) customer_id: String,
    pub(crate) next_attempt_at: i64,
    pub(crate) claimed_until: Option<i64>,
}

/// Picks the ids to claim: for each candidate customer in order, all its items (oldest first),
/// unless one of them is under a live lease or the oldest is not due yet; at most `limit` ids.
///
/// `rows` must hold the oldest `limit` outbox rows (or all) of each candidate customer, read
/// inside the claiming transaction (and, on PostgreSQL, after locking the customers). That is
/// enough: the candidate query has already passed over customers with any live lease, so what
/// this check must catch is a claim that committed since (PostgreSQL, before the customers were
/// locked), and a claim leases a customer's items from the oldest on; and no more than `limit`
/// items are taken.
pub(crate) fn plan_claim(
    candidates: &[String],
    rows: &[ClaimRow],
    now: i64,
    limit: usize,
) -> Vec<i64> {
    let mut by_customer: HashMap<&str, Vec<&ClaimRow>> = HashMap::new();
    for row in rows {
        by_customer.entry(&row.customer_id).or_default().push(row);
    }
    let mut ids = Vec::new();
    for customer in candidates {
        if ids.len() >= limit {
            break;
        }
        let Some(items) = by_customer.get_mut(customer.as_str()) else {
            continue;
        };
        items.sort_by_key(|r| r.id);
        let leased = items
            .iter()
            .any(|r| r.claimed_until.is_some_and(|u| u > now));
        let head_due = items.first().is_some_and(|r| r.next_attempt_at <= now);
        if leased || !head_due {
            continue;
        }
        let room = limit - ids.len();
        ids.extend(items.iter().take(room).map(|r| r.id));
    }
    ids
}

/// An outbox or dead-letter row as both backends read it: text and integers (PostgreSQL casts
/// its `JSONB` payload to text and its `INTEGER` attempts to `BIGINT`).
#[derive(sqlx::FromRow)]
pub(crate) struct RawOutbox {
    pub(crate) id: i64,
    pub(crate) customer_id: String,
    pub(crate) kind: String,
    /// JSON.
    pub(crate) payload: String,
    pub(crate) created_at: i64,
    pub(crate) attempts: i64,
    pub(crate) next_attempt_at: i64,
    pub(crate) claimed_by: Option<String>,
    pub(crate) claimed_until: Option<i64>,
    pub(crate) last_error: Option<String>,
    pub(crate) died_at: Option<i64>,
}

impl RawOutbox {
    pub(crate) fn into_item(self, now: i64) -> Result<OutboxItem> {
        use crate::codec::from_ns;
        let state = if self.died_at.is_some() {
            OutboxState::Dead
        } else if self.claimed_until.is_some_and(|u| u > now) {
            OutboxState::InFlight
        } else {
            OutboxState::Pending
        };
        Ok(OutboxItem {
            id: OutboxId(self.id),
            customer_id: crate::codec::parse_customer_id(self.customer_id)?,
            kind: OutboxKind::parse(&self.kind)?,
            payload: crate::codec::parse_json(&self.payload)?,
            created_at: from_ns(self.created_at),
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            next_attempt_at: from_ns(self.next_attempt_at),
            claimed_by: self.claimed_by,
            claimed_until: self.claimed_until.map(from_ns),
            last_error: self.last_error,
            died_at: self.died_at.map(from_ns),
            state,
        })
    }
}

/// One page of `walletport resync`: which customers to queue a full-state delivery for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResyncRequest {
    /// Only this customer, or every customer.
    pub customer: Option<CustomerId>,
    /// The cursor of the previous page (`None` for the first).
    pub after: Option<ResyncCursor>,
    /// Customers scanned per page, 1..=[`MAX_RESYNC_PAGE`].
    pub limit: u32,
    /// When the queued items are due.
    pub now: DateTime<Utc>,
}

/// Where a resync scan continues: the store's insertion order of customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResyncCursor(pub i64);

/// The largest resync page (customers scanned in one transaction).
pub const MAX_RESYNC_PAGE: u32 = 10_000;

/// What one resync page did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ResyncPage {
    /// Customers looked at.
    pub scanned: u64,
    /// Full-state items queued (customers without a waiting `customer` item).
    pub queued: u64,
    /// The cursor of the next page; `None` after the last.
    pub next: Option<ResyncCursor>,
}

/// Runs a whole resync, page after page of `page` customers (1..=[`MAX_RESYNC_PAGE`]), each
/// page due at the time it is queued, and calls `progress` after each page. Returns the sums:
/// `scanned` and `queued` over all pages, `next` always `None`. One page is one transaction,
/// so an error leaves the pages before it queued; running it again queues no duplicates.
pub async fn resync_all(
    store: &dyn crate::Store,
    customer: Option<CustomerId>,
    page: u32,
    mut progress: impl FnMut(&ResyncPage) + Send,
) -> walletport_core::Result<ResyncPage> {
    let mut total = ResyncPage::default();
    let mut after = None;
    loop {
        let done = store
            .enqueue_resync(&ResyncRequest {
                customer: customer.clone(),
                after,
                limit: page,
                now: Utc::now(),
            })
            .await?;
        total.scanned += done.scanned;
        total.queued += done.queued;
        progress(&done);
        match done.next {
            Some(next) => after = Some(next),
            None => return Ok(total),
        }
    }
}

/// The payload of a resync item, so the record says why it was queued.
pub(crate) fn resync_payload() -> serde_json::Value {
    serde_json::json!({ "resync": true })
}

pub(crate) fn resync_limit(limit: u32) -> Result<i64> {
    if (1..=MAX_RESYNC_PAGE).contains(&limit) {
        Ok(i64::from(limit))
    } else {
        Err(Error::invalid_input(format!(
            "resync page size {limit} is not within 1..={MAX_RESYNC_PAGE}"
        )))
    }
}

pub(crate) fn page_limit(limit: u32) -> Result<i64> {
    match limit {
        0 => Ok(100),
        n if n <= crate::MAX_PAGE => Ok(i64::from(n)),
        n => Err(Error::invalid_input(format!(
            "page size {n} is over {}",
            crate::MAX_PAGE
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, customer: &str, next: i64, lease: Option<i64>) -> ClaimRow {
        ClaimRow {
            id,
            customer_id: customer.into(),
            next_attempt_at: next,
            claimed_until: lease,
        }
    }

    #[test]
    fn plan_takes_whole_customers_in_head_order_and_respects_leases_and_backoff() {
        let rows = vec![
            row(1, "a", 0, None),
            row(2, "b", 0, Some(50)), // leased until 50
            row(3, "a", 0, None),
            row(4, "c", 20, None), // head not due before 20
            row(5, "c", 0, None),
            row(6, "d", 0, Some(5)), // lease ran out
        ];
        let cands: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        assert_eq!(plan_claim(&cands, &rows, 10, 100), vec![1, 3, 6]);
        assert_eq!(plan_claim(&cands, &rows, 30, 100), vec![1, 3, 4, 5, 6]);
        assert_eq!(plan_claim(&cands, &rows, 60, 3), vec![1, 3, 2]);
        assert_eq!(plan_claim(&cands, &rows, 60, 1), vec![1]);
    }

    #[test]
    fn kept_errors_are_clipped_and_hold_no_nul() {
        assert_eq!(clip_error("bad\0answer"), "bad\u{fffd}answer");
        let long = "é".repeat(MAX_ERROR_CHARS + 5);
        assert_eq!(clip_error(&long).chars().count(), MAX_ERROR_CHARS);
    }
}
