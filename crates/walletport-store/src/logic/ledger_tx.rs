//! The ledger engine's steps ([`LedgerTx`]) as statements, written once: a backend supplies the
//! SQL text ([`LedgerTxStatements`]); [`SqlLedgerTx`] binds and decodes it on the caller's
//! connection inside a transaction (an operation's, the expiry task's or the backfill's).
//!
//! Amounts cross as normalised decimal text: SQLite stores that text, PostgreSQL casts it to
//! `NUMERIC` in the statement and reads it back as text. Nothing compares amounts in SQL: the
//! `open` flag says whether a lot still holds anything.

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde_json::Value;
use walletport_core::Result;

use super::Enqueue;
use super::run::{Param, Runner, all, optional, params};
use crate::codec::{decimal_text, parse_decimal};
use crate::ledger::engine::{Account, LedgerTx, Lot, NewEntry, NewLot, Prior};
use crate::outbox::OutboxKind;

/// The operation name database errors of the ledger's writes carry.
const OP: &str = "ledger.apply";

/// One backend's SQL text for the ledger's steps; parameters are numbered as the comments say.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LedgerTxStatements {
    /// The points of customer (1), locking the account where the backend has row locks.
    pub(crate) lock_points: &'static str,
    /// The account of customer (1) with the record of transaction id (2) and whether a lot is
    /// due by (3), in one statement ([`RawAccount`]'s columns); `None`: asked step by step.
    pub(crate) account: Option<&'static str>,
    /// Sets the points of customer (1) to (2).
    pub(crate) set_points: &'static str,
    /// The customer, kind and amount recorded for transaction id (1).
    pub(crate) prior: &'static str,
    /// Records transaction id (1) for customer (2), kind (3), amount (4), at (5); a recorded
    /// id inserts nothing.
    pub(crate) claim: &'static str,
    /// Customer (1)'s open lots in spending order, at most (2), one statement per shape so each
    /// bound is an index condition on `lots_spending` (a `$n IS NULL OR ..` filter would make a
    /// customer with 100,000 never-expiring lots scan them all to find no due one). Indexed by
    /// `after.is_some() | due_by.is_some() << 1`; after `(burns_at, entry_id)` (3, 4), then
    /// due by the next number ((3) without `after`, (5) with it).
    pub(crate) open_lots: [&'static str; 4],
    /// The lot of customer (1)'s credit with transaction id (2).
    pub(crate) credit_lot: &'static str,
    /// Appends customer (1), transaction id (2), kind (3), amount (4), balance after (5),
    /// at (6), expires at (7); returns the id.
    pub(crate) insert_entry: &'static str,
    /// Opens entry (1)'s lot for customer (2), transaction id (3), amount (4), remaining (5),
    /// expired (6), burning at (7), open (8).
    pub(crate) insert_lot: &'static str,
    /// Sets lot (1)'s remaining (2), expired (3), reversed (4) and open (5).
    pub(crate) update_lot: &'static str,
}

/// The ledger statements of one database.
pub(crate) trait LedgerTxSql: Runner {
    /// The backend's SQL text.
    const LEDGER_TX: LedgerTxStatements;
}

/// A lots row: the columns of [`Lot`], amounts as text.
#[derive(sqlx::FromRow)]
pub(crate) struct RawLot {
    entry_id: i64,
    transaction_id: Option<String>,
    amount: String,
    remaining: String,
    expired: String,
    burns_at: i64,
    reversed: bool,
}

impl RawLot {
    fn into_lot(self) -> Result<Lot> {
        Ok(Lot {
            entry_id: self.entry_id,
            transaction_id: self.transaction_id,
            amount: parse_decimal(&self.amount)?,
            remaining: parse_decimal(&self.remaining)?,
            expired: parse_decimal(&self.expired)?,
            burns_at: self.burns_at,
            reversed: self.reversed,
        })
    }
}

/// An account read in one statement ([`LedgerTxStatements::account`], SQLite's batch prefetch).
#[derive(sqlx::FromRow)]
pub(crate) struct RawAccount {
    points: String,
    prior_customer: Option<String>,
    prior_kind: Option<String>,
    prior_amount: Option<String>,
    due: bool,
}

impl RawAccount {
    /// The account, with the prior record when the transaction id has one.
    pub(crate) fn into_account(self) -> Result<Account> {
        let prior = match (self.prior_customer, self.prior_kind, self.prior_amount) {
            (Some(customer), Some(kind), Some(amount)) => Some(Prior {
                customer,
                kind,
                amount: parse_decimal(&amount)?,
            }),
            _ => None,
        };
        Ok(Account {
            points: parse_decimal(&self.points)?,
            prior,
            due: self.due,
        })
    }
}

/// A lot row to insert: a new credit's, or one converted from v0.1 (which may have expired
/// already and may lack a transaction id).
pub(crate) struct LotRow<'a> {
    pub(crate) entry_id: i64,
    pub(crate) customer: &'a str,
    pub(crate) transaction_id: Option<&'a str>,
    pub(crate) amount: Decimal,
    pub(crate) remaining: Decimal,
    pub(crate) expired: Decimal,
    pub(crate) burns_at: i64,
}

/// The ledger's steps on a connection inside the caller's transaction.
pub(crate) struct SqlLedgerTx<'c, D: LedgerTxSql> {
    /// A connection inside a transaction.
    pub(crate) conn: &'c mut D::Conn,
}

impl<'c, D: LedgerTxSql> SqlLedgerTx<'c, D> {
    /// The steps on `conn`, which must be inside a transaction.
    pub(crate) fn new(conn: &'c mut D::Conn) -> Self {
        Self { conn }
    }

    /// Runs a write of the ledger.
    async fn write(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<u64> {
        D::execute(self.conn, OP, sql, params).await
    }

    /// Inserts a lot, open while `remaining` is positive (shared with the v0.1 backfill).
    pub(crate) async fn insert_lot_row(&mut self, l: &LotRow<'_>) -> Result<()> {
        let params = params![
            l.entry_id,
            l.customer,
            l.transaction_id,
            decimal_text(l.amount),
            decimal_text(l.remaining),
            decimal_text(l.expired),
            l.burns_at,
            l.remaining > Decimal::ZERO,
        ];
        self.write(D::LEDGER_TX.insert_lot, params).await.map(drop)
    }
}

#[async_trait]
impl<D: LedgerTxSql> LedgerTx for SqlLedgerTx<'_, D> {
    async fn lock_points(&mut self, customer: &str) -> Result<Option<Decimal>> {
        let sql = D::LEDGER_TX.lock_points;
        let row: Option<(String,)> =
            optional::<D, _>(self.conn, OP, sql, params![customer]).await?;
        row.map(|(points,)| parse_decimal(&points)).transpose()
    }

    async fn account(
        &mut self,
        customer: &str,
        transaction_id: &str,
        now: i64,
    ) -> Result<Option<Account>> {
        let Some(sql) = D::LEDGER_TX.account else {
            let Some(points) = self.lock_points(customer).await? else {
                return Ok(None);
            };
            let prior = self.prior(transaction_id).await?;
            return Ok(Some(Account {
                points,
                prior,
                due: true,
            }));
        };
        let params = params![customer, transaction_id, now];
        let row: Option<RawAccount> = optional::<D, _>(self.conn, OP, sql, params).await?;
        row.map(RawAccount::into_account).transpose()
    }

    async fn set_points(&mut self, customer: &str, points: Decimal) -> Result<()> {
        let params = params![customer, decimal_text(points)];
        self.write(D::LEDGER_TX.set_points, params).await.map(drop)
    }

    async fn prior(&mut self, transaction_id: &str) -> Result<Option<Prior>> {
        let sql = D::LEDGER_TX.prior;
        let row: Option<(String, String, String)> =
            optional::<D, _>(self.conn, OP, sql, params![transaction_id]).await?;
        row.map(|(customer, kind, amount)| {
            Ok(Prior {
                customer,
                kind,
                amount: parse_decimal(&amount)?,
            })
        })
        .transpose()
    }

    async fn claim(&mut self, transaction_id: &str, record: &Prior, at: i64) -> Result<bool> {
        let amount = decimal_text(record.amount);
        let params = params![transaction_id, &record.customer, &record.kind, amount, at];
        Ok(self.write(D::LEDGER_TX.claim, params).await? == 1)
    }

    async fn open_lots(
        &mut self,
        customer: &str,
        after: Option<(i64, i64)>,
        due_by: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Lot>> {
        let sql = D::LEDGER_TX.open_lots
            [usize::from(after.is_some()) | usize::from(due_by.is_some()) << 1];
        let mut params = params![customer, limit].to_vec();
        if let Some((burns_at, entry_id)) = after {
            params.extend([burns_at.into(), entry_id.into()]);
        }
        params.extend(due_by.map(Param::from));
        let rows: Vec<RawLot> = all::<D, _>(self.conn, OP, sql, &params).await?;
        rows.into_iter().map(RawLot::into_lot).collect()
    }

    async fn credit_lot(&mut self, customer: &str, transaction_id: &str) -> Result<Option<Lot>> {
        let sql = D::LEDGER_TX.credit_lot;
        let row: Option<RawLot> =
            optional::<D, _>(self.conn, OP, sql, params![customer, transaction_id]).await?;
        row.map(RawLot::into_lot).transpose()
    }

    async fn insert_entry(&mut self, e: &NewEntry<'_>) -> Result<i64> {
        let params = params![
            e.customer,
            e.transaction_id,
            e.kind.as_str(),
            decimal_text(e.amount),
            decimal_text(e.balance_after),
            e.at,
            e.expires_at,
        ];
        let sql = D::LEDGER_TX.insert_entry;
        let row: Option<(i64,)> = optional::<D, _>(self.conn, OP, sql, params).await?;
        row.map(|(id,)| id)
            .ok_or_else(|| walletport_core::Error::unexpected("the entry insert returned no id"))
    }

    async fn insert_lot(&mut self, l: &NewLot<'_>) -> Result<()> {
        self.insert_lot_row(&LotRow {
            entry_id: l.entry_id,
            customer: l.customer,
            transaction_id: Some(l.transaction_id),
            amount: l.amount,
            remaining: l.remaining,
            expired: Decimal::ZERO,
            burns_at: l.burns_at,
        })
        .await
    }

    async fn update_lot(&mut self, l: &Lot) -> Result<()> {
        let params = params![
            l.entry_id,
            decimal_text(l.remaining),
            decimal_text(l.expired),
            l.reversed,
            l.remaining > Decimal::ZERO,
        ];
        self.write(D::LEDGER_TX.update_lot, params).await.map(drop)
    }

    async fn enqueue_balance(&mut self, customer: &str, payload: &Value, at: i64) -> Result<()> {
        let item = Enqueue::new(customer, OutboxKind::Balance, payload, at);
        D::enqueue_in(self.conn, &item).await.map(drop)
    }
}
