//! The ledger engine's statements on SQLite ([`LedgerTxSql`]), run by the shared
//! [`SqlLedgerTx`] inside a `BEGIN IMMEDIATE` transaction: SQLite has one writer at a time, so
//! that transaction already holds every account and `lock_points` is a plain read; and the
//! writer's group commit ([`BatchTx`]).
//!
//! Decimals are TEXT (normalised on write, parsed in Rust) and are never compared in SQL: the
//! `open` flag says whether a lot still holds anything.

use std::collections::HashMap;

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::Row as _;
use sqlx::sqlite::SqliteConnection;
use walletport_core::Result;

use super::Db;
use crate::codec::decimal_text as text;
use crate::error::db;
use crate::ledger::engine::{Account, LedgerTx, Lot, NewEntry, NewLot, Prior};
use crate::logic::ledger_tx::{LedgerTxSql, LedgerTxStatements, RawAccount, SqlLedgerTx};
use crate::logic::run::DecodeAs;

/// The operation name database errors of the ledger's writes carry.
const OP: &str = "ledger.apply";

/// The lot columns [`RawLot`](crate::logic::ledger_tx::RawLot) decodes.
macro_rules! lot_cols {
    () => {
        "entry_id, transaction_id, amount, remaining, expired, burns_at, reversed"
    };
}

/// `SELECT` of customer ?1's open lots in spending order, at most ?2, one static statement per
/// shape (no `? IS NULL OR ...`), so each is a range scan of the partial index `lots_spending`.
macro_rules! open_lots {
    ($($cond:literal),*) => {
        concat!(
            "SELECT ", lot_cols!(), " FROM lots WHERE customer_id = ?1 AND open = 1",
            $($cond,)* " ORDER BY burns_at, entry_id LIMIT ?2"
        )
    };
}

/// The statements of [`open_lots`], by shape (see [`LedgerTxStatements::open_lots`]).
pub(super) const OPEN_LOTS: [&str; 4] = [
    open_lots!(),
    open_lots!(" AND (burns_at, entry_id) > (?3, ?4)"),
    open_lots!(" AND burns_at <= ?3"),
    open_lots!(
        " AND (burns_at, entry_id) > (?3, ?4)",
        " AND burns_at <= ?5"
    ),
];

impl LedgerTxSql for Db {
    const LEDGER_TX: LedgerTxStatements = LedgerTxStatements {
        lock_points: "SELECT points FROM customers WHERE id = ?1",
        // One statement instead of three: the writer is CPU-bound on sqlx's per-statement cost.
        account: Some(
            "SELECT c.points, p.customer_id AS prior_customer, p.kind AS prior_kind, \
             p.amount AS prior_amount, EXISTS (SELECT 1 FROM lots l WHERE l.customer_id = c.id \
             AND l.open = 1 AND l.burns_at <= ?3) AS due \
             FROM customers c LEFT JOIN processed_transactions p ON p.transaction_id = ?2 \
             WHERE c.id = ?1",
        ),
        set_points: "UPDATE customers SET points = ?2 WHERE id = ?1",
        prior: "SELECT customer_id, kind, amount FROM processed_transactions \
                WHERE transaction_id = ?1",
        claim: "INSERT INTO processed_transactions \
                (transaction_id, customer_id, kind, amount, processed_at) \
                VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (transaction_id) DO NOTHING",
        open_lots: OPEN_LOTS,
        credit_lot: concat!(
            "SELECT ",
            lot_cols!(),
            " FROM lots WHERE transaction_id = ?2 AND customer_id = ?1"
        ),
        insert_entry: "INSERT INTO ledger_entries \
                       (customer_id, transaction_id, kind, amount, balance_after, at, expires_at) \
                       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        insert_lot: "INSERT INTO lots (entry_id, customer_id, transaction_id, amount, remaining, \
                     expired, burns_at, open, reversed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)",
        update_lot: "UPDATE lots SET remaining = ?2, expired = ?3, reversed = ?4, open = ?5 \
                     WHERE entry_id = ?1",
    };
}

/// Inserts the buffered claims (`[transaction_id, customer, kind, amount, at]` each). A plain
/// `INSERT`: the engine claims an id only after reading that nobody holds it, so a conflict here
/// is a database failure (the batch is retried job by job).
const FLUSH_CLAIMS: &str = "INSERT INTO processed_transactions \
     (transaction_id, customer_id, kind, amount, processed_at) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?)";

/// Inserts the buffered entries (`[id, customer, transaction_id, kind, amount, balance_after,
/// at, expires_at]` each), in order.
const FLUSH_ENTRIES: &str = "INSERT INTO ledger_entries \
     (id, customer_id, transaction_id, kind, amount, balance_after, at, expires_at) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
     value ->> 6, value ->> 7 FROM json_each(?)";

/// Opens the buffered lots (`[entry_id, customer, transaction_id, amount, remaining, burns_at,
/// open]` each).
const FLUSH_LOTS: &str = "INSERT INTO lots \
     (entry_id, customer_id, transaction_id, amount, remaining, expired, burns_at, open, reversed) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, '0', value ->> 5, \
     value ->> 6, 0 FROM json_each(?)";

/// Stores the buffered points (`[customer, points]` each, one per customer): a primary-key
/// lookup per element.
pub(super) const FLUSH_POINTS: &str = "UPDATE customers SET points = j.value ->> 1 \
     FROM json_each(?) AS j WHERE customers.id = j.value ->> 0";

/// The accounts of a whole group at once (`[customer, transaction_id, now]` each, answered by
/// position as `n`): [`LedgerTx::account`]'s read for every job in one statement.
pub(super) const PREFETCH: &str = "SELECT j.key AS n, c.points, p.customer_id AS prior_customer, \
     p.kind AS prior_kind, p.amount AS prior_amount, EXISTS (SELECT 1 FROM lots l \
     WHERE l.customer_id = c.id AND l.open = 1 AND l.burns_at <= j.value ->> 2) AS due \
     FROM json_each(?) AS j JOIN customers c ON c.id = j.value ->> 0 \
     LEFT JOIN processed_transactions p ON p.transaction_id = j.value ->> 1";

/// The id the next ledger entry gets: after every id ever used (`AUTOINCREMENT` never reuses one).
const NEXT_ENTRY_ID: &str = "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence \
     WHERE name = 'ledger_entries'), 0), COALESCE((SELECT MAX(id) FROM ledger_entries), 0)) + 1";

/// The ledger writer's transaction for a whole group commit: the writes of a plain credit (its
/// claim, entry, lot and the customer's points) are buffered and written at the end as one
/// multi-row statement per table ([`BatchTx::flush`]), so a credit costs one statement of its
/// own (the account read) instead of five — the writer is CPU-bound on sqlx's per-statement
/// cost — and [`BatchTx::prefetch`] reads every job's account in one statement up front. Entry
/// ids are assigned here: the writer holds SQLite's write lock for the whole batch.
///
/// Reads see the batch's own writes: [`LedgerTx::account`] overlays the points, claims and lots
/// the batch wrote (kept for the whole batch, flushed or not) on what it read, and every other
/// step (rarer: expiries, redemptions, reversals, the outbox) writes the buffer out first and then
/// runs as [`SqlLedgerTx`] does, so the engine decides exactly as with immediate writes. A
/// prefetched account stays exact under that overlay: within the batch, points change only
/// through `set_points`, ids are claimed only through `claim`, and a lot opens only through
/// `insert_lot` (an update never reopens one); a stale `due` can only be true, which costs one
/// lots query that finds nothing.
pub(super) struct BatchTx<'c> {
    /// The connection, inside `BEGIN IMMEDIATE`.
    inner: SqlLedgerTx<'c, Db>,
    /// The next entry id, once read.
    next_id: Option<i64>,
    /// Accounts read by [`BatchTx::prefetch`], by `(customer, transaction id)`, with the `now`
    /// they were read for (`None`: no such customer); each answers one `account` call.
    fetched: HashMap<(String, String), (i64, Option<Account>)>,
    /// Claims to insert, and every claim of the batch by transaction id.
    claims: Vec<Value>,
    claimed: HashMap<String, Prior>,
    /// Entries to insert, in id order.
    entries: Vec<Value>,
    /// Lots to open.
    lots: Vec<Value>,
    /// The soonest `burns_at` of each customer's lots the batch opened.
    burns: HashMap<String, i64>,
    /// Each customer's points as the batch set them, and whether they are still to store.
    points: HashMap<String, (Decimal, bool)>,
}

impl<'c> BatchTx<'c> {
    /// A batch on `conn`, which must be inside `BEGIN IMMEDIATE`.
    pub(super) fn new(conn: &'c mut SqliteConnection) -> Self {
        Self {
            inner: SqlLedgerTx::new(conn),
            next_id: None,
            fetched: HashMap::new(),
            claims: Vec::new(),
            claimed: HashMap::new(),
            entries: Vec::new(),
            lots: Vec::new(),
            burns: HashMap::new(),
            points: HashMap::new(),
        }
    }

    /// Writes what is buffered (claims, entries, lots, then points); call before committing.
    pub(super) async fn flush(&mut self) -> Result<()> {
        let rows = [
            (FLUSH_CLAIMS, std::mem::take(&mut self.claims)),
            (FLUSH_ENTRIES, std::mem::take(&mut self.entries)),
            (FLUSH_LOTS, std::mem::take(&mut self.lots)),
        ];
        for (sql, rows) in rows {
            self.write(sql, rows).await?;
        }
        let mut points = Vec::new();
        for (c, (p, dirty)) in &mut self.points {
            if std::mem::take(dirty) {
                points.push(serde_json::json!([c, text(*p)]));
            }
        }
        self.write(FLUSH_POINTS, points).await
    }

    /// Reads the accounts of `jobs` (`(customer, transaction id, now)` each) in one statement,
    /// so that [`LedgerTx::account`] answers them without a query of its own.
    pub(super) async fn prefetch(&mut self, jobs: &[(&str, &str, i64)]) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let wanted = Value::Array(
            jobs.iter()
                .map(|(c, t, now)| serde_json::json!([c, t, now]))
                .collect(),
        );
        let rows = sqlx::query(PREFETCH)
            .bind(wanted.to_string())
            .fetch_all(&mut *self.inner.conn)
            .await
            .map_err(|e| db(OP, e))?;
        let mut found = vec![None; jobs.len()];
        for r in &rows {
            let n: i64 = r.try_get("n").map_err(|e| db(OP, e))?;
            if let Some(slot) = usize::try_from(n).ok().and_then(|n| found.get_mut(n)) {
                *slot = Some(DecodeAs::<RawAccount>::decode_as(r, OP)?.into_account()?);
            }
        }
        for (&(c, t, now), account) in jobs.iter().zip(found) {
            self.fetched
                .insert((c.to_owned(), t.to_owned()), (now, account));
        }
        Ok(())
    }

    /// Runs one flush statement over `rows` as a JSON array (nothing when empty).
    async fn write(&mut self, sql: &'static str, rows: Vec<Value>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        sqlx::query(sql)
            .bind(Value::Array(rows).to_string())
            .execute(&mut *self.inner.conn)
            .await
            .map_err(|e| db(OP, e))?;
        Ok(())
    }

    /// The id for a new entry.
    async fn entry_id(&mut self) -> Result<i64> {
        let id = match self.next_id {
            Some(id) => id,
            None => sqlx::query_scalar(NEXT_ENTRY_ID)
                .fetch_one(&mut *self.inner.conn)
                .await
                .map_err(|e| db(OP, e))?,
        };
        self.next_id = Some(id + 1);
        Ok(id)
    }
}

#[async_trait]
impl LedgerTx for BatchTx<'_> {
    async fn lock_points(&mut self, customer: &str) -> Result<Option<Decimal>> {
        self.flush().await?;
        self.inner.lock_points(customer).await
    }

    async fn account(
        &mut self,
        customer: &str,
        transaction_id: &str,
        now: i64,
    ) -> Result<Option<Account>> {
        let key = (customer.to_owned(), transaction_id.to_owned());
        let read = match self.fetched.remove(&key) {
            Some((at, account)) if at == now => account,
            _ => self.inner.account(customer, transaction_id, now).await?,
        };
        let Some(mut account) = read else {
            return Ok(None);
        };
        if let Some(&(p, _)) = self.points.get(customer) {
            account.points = p;
        }
        if let Some(p) = self.claimed.get(transaction_id) {
            account.prior = Some(p.clone());
        }
        account.due |= self.burns.get(customer).is_some_and(|&b| b <= now);
        Ok(Some(account))
    }

    async fn set_points(&mut self, customer: &str, points: Decimal) -> Result<()> {
        self.points.insert(customer.to_owned(), (points, true));
        Ok(())
    }

    async fn prior(&mut self, transaction_id: &str) -> Result<Option<Prior>> {
        self.flush().await?;
        self.inner.prior(transaction_id).await
    }

    async fn claim(&mut self, transaction_id: &str, record: &Prior, at: i64) -> Result<bool> {
        if self.claimed.contains_key(transaction_id) {
            return Ok(false);
        }
        self.claims.push(serde_json::json!([
            transaction_id,
            record.customer,
            record.kind,
            text(record.amount),
            at
        ]));
        let amount = record.amount.normalize();
        let prior = Prior {
            amount,
            ..record.clone()
        };
        self.claimed.insert(transaction_id.to_owned(), prior);
        Ok(true)
    }

    async fn open_lots(
        &mut self,
        customer: &str,
        after: Option<(i64, i64)>,
        due_by: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Lot>> {
        self.flush().await?;
        self.inner.open_lots(customer, after, due_by, limit).await
    }

    async fn credit_lot(&mut self, customer: &str, transaction_id: &str) -> Result<Option<Lot>> {
        self.flush().await?;
        self.inner.credit_lot(customer, transaction_id).await
    }

    async fn insert_entry(&mut self, e: &NewEntry<'_>) -> Result<i64> {
        let id = self.entry_id().await?;
        self.entries.push(serde_json::json!([
            id,
            e.customer,
            e.transaction_id,
            e.kind.as_str(),
            text(e.amount),
            text(e.balance_after),
            e.at,
            e.expires_at
        ]));
        Ok(id)
    }

    async fn insert_lot(&mut self, l: &NewLot<'_>) -> Result<()> {
        let open = l.remaining > Decimal::ZERO;
        self.lots.push(serde_json::json!([
            l.entry_id,
            l.customer,
            l.transaction_id,
            text(l.amount),
            text(l.remaining),
            l.burns_at,
            i64::from(open)
        ]));
        if open {
            let b = self
                .burns
                .entry(l.customer.to_owned())
                .or_insert(l.burns_at);
            *b = (*b).min(l.burns_at);
        }
        Ok(())
    }

    async fn update_lot(&mut self, lot: &Lot) -> Result<()> {
        self.flush().await?;
        self.inner.update_lot(lot).await
    }

    async fn enqueue_balance(&mut self, customer: &str, payload: &Value, at: i64) -> Result<()> {
        self.flush().await?;
        self.inner.enqueue_balance(customer, payload, at).await
    }
}
