//! The ledger's reads and the expiry task, once for both backends, over [`LedgerSql`]; the
//! writes are decided in [`crate::ledger::engine`].

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use walletport_core::{Balance, CustomerId, Error, Result};

use crate::codec::{from_ns, parse_decimal, parse_percent, parse_tx, to_ns};
use crate::ledger::engine::{Expired, live_points};
use crate::ledger::{EntryKind, ExpiryReport, LedgerEntry, LedgerPage, LedgerQuery};
use crate::outbox::page_limit;

/// A `ledger_entries` row as both backends read it (PostgreSQL selects its `NUMERIC` amounts as
/// text).
#[derive(sqlx::FromRow)]
pub(crate) struct RawEntry {
    id: i64,
    transaction_id: Option<String>,
    kind: String,
    amount: String,
    balance_after: String,
    at: i64,
    expires_at: Option<i64>,
}

impl RawEntry {
    /// The entry of `customer` this row holds.
    fn into_entry(self, customer: &CustomerId) -> Result<LedgerEntry> {
        Ok(LedgerEntry {
            id: self.id,
            customer_id: customer.clone(),
            transaction_id: parse_tx(self.transaction_id)?,
            kind: EntryKind::parse(&self.kind)?,
            amount: parse_decimal(&self.amount)?.normalize(),
            balance_after: parse_decimal(&self.balance_after)?.normalize(),
            at: from_ns(self.at),
            expires_at: self.expires_at.map(from_ns),
        })
    }
}

/// A page of entry rows as a backend reads them.
pub(crate) type Entries = Vec<RawEntry>;

/// What a balance is made of: the stored points, the open lots already past their time (which
/// no write has expired yet), and the percentages.
#[derive(Debug, Clone, Default)]
pub(crate) struct BalanceParts {
    /// `customers.points`.
    pub(crate) points: Decimal,
    /// What remains of the overdue lots.
    pub(crate) overdue: Vec<Decimal>,
    /// `customers.bonus_percent`.
    pub(crate) bonus: Decimal,
    /// `customers.discount_percent`.
    pub(crate) discount: Decimal,
}

/// The ledger statements of one database.
pub(crate) trait LedgerSql: Send + Sync {
    /// The customer's balance parts at `now` (ns), read consistently; `None` when there is no
    /// such customer.
    fn balance_parts(
        &self,
        customer: &CustomerId,
        now: i64,
    ) -> impl Future<Output = Result<Option<BalanceParts>>> + Send;

    /// At most `limit` of the customer's entries with an id below `before`, newest first;
    /// `None` when there is no such customer.
    fn entries(
        &self,
        customer: &CustomerId,
        before: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Option<Entries>>> + Send;

    /// At most `max` customers with open lots due by `now`, soonest due first.
    fn due_customers(&self, now: i64, max: u32)
    -> impl Future<Output = Result<Vec<String>>> + Send;

    /// Expires one customer's due lots in a write transaction of its own
    /// ([`crate::ledger::engine::expire_customer`]).
    fn expire_customer(
        &self,
        customer: &str,
        now: i64,
    ) -> impl Future<Output = Result<Expired>> + Send;
}

/// [`Store::balance`](crate::Store::balance): the stored points less the overdue lots.
pub(crate) async fn balance<D: LedgerSql>(
    d: &D,
    customer: &CustomerId,
    now: DateTime<Utc>,
) -> Result<Balance> {
    let parts = d.balance_parts(customer, to_ns(now)?).await?;
    let parts = parts.ok_or_else(|| Error::not_found(format!("no customer `{customer}`")))?;
    Ok(Balance {
        points: live_points(parts.points, parts.overdue),
        bonus_percent: parse_percent(parts.bonus)?,
        discount_percent: parse_percent(parts.discount)?,
    })
}

/// [`Store::ledger`](crate::Store::ledger): one page, newest first (`id < before`).
pub(crate) async fn page<D: LedgerSql>(
    d: &D,
    customer: &CustomerId,
    query: &LedgerQuery,
) -> Result<LedgerPage> {
    let limit = page_limit(query.limit)?;
    let before = query.before.unwrap_or(i64::MAX);
    let Some(mut rows) = d.entries(customer, before, limit + 1).await? else {
        return Err(Error::not_found(format!("no customer `{customer}`")));
    };
    let full = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let entries = rows
        .into_iter()
        .map(|r| r.into_entry(customer))
        .collect::<Result<Vec<_>>>()?;
    let next = if full {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(LedgerPage { entries, next })
}

/// [`Store::expire_due`](crate::Store::expire_due): the due lots of at most `max_customers`
/// customers, each in a transaction of its own. A second gateway picking the same customer
/// waits for its turn (or lock) and then finds nothing due.
pub(crate) async fn expire_due<D: LedgerSql>(
    d: &D,
    now: DateTime<Utc>,
    max_customers: u32,
) -> Result<ExpiryReport> {
    let now = to_ns(now)?;
    let mut report = ExpiryReport::default();
    for customer in d.due_customers(now, max_customers).await? {
        let expired = d.expire_customer(&customer, now).await?;
        if expired.lots > 0 {
            report.customers += 1;
            report.lots += expired.lots;
            report.points = report.points.saturating_add(expired.points);
        }
    }
    Ok(report)
}
