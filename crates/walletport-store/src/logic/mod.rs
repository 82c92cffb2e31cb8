//! The store logic both backends share, written once over a [`Dialect`].
//!
//! Validation, codecs, merging, the outbox and claim rules, pagination and event dedup live
//! here (and in [`crate::codec`], [`crate::model`] and [`crate::outbox`]); a backend module
//! only says how: its SQL text, how a write transaction starts and ends, and whether rows must be
//! locked. See docs/architecture.md ("One store logic, two dialects") for why this is a small
//! trait of statements rather than sqlx's generic `Database` traits or a query builder.

pub(crate) mod backfill;
pub(crate) mod customer_sql;
pub(crate) mod customers;
pub(crate) mod ledger;
pub(crate) mod ledger_tx;
pub(crate) mod outbox;
pub(crate) mod outbox_sql;
pub(crate) mod quota;
pub(crate) mod run;
pub(crate) mod store;

use std::ops::DerefMut;

use serde_json::Value;
use walletport_core::Result;

use crate::outbox::OutboxKind;
pub(crate) use run::Runner;

/// Runs one statement and names its failure: `sql!(fetch_all(&mut *conn), OP, SQL, [a, b])` is
/// `sqlx::query(SQL).bind(a).bind(b).fetch_all(&mut *conn).await` with the error mapped by
/// [`crate::error::db`]; `sql!(as T, ...)` decodes rows into `T` (sqlx's `FromRow`, which both
/// backends' rows satisfy for the shared row types). Keeps each dialect's statements to their
/// SQL text and values.
macro_rules! sql {
    (@run $q:expr, $how:ident($exec:expr), $op:expr, [$($arg:expr),* $(,)?]) => {
        $q$(.bind($arg))*.$how($exec).await.map_err(|e| $crate::error::db($op, e))
    };
    (as $row:ty, $how:ident($exec:expr), $op:expr, $sql:expr, [$($arg:expr),* $(,)?]) => {
        $crate::logic::sql!(@run sqlx::query_as::<_, $row>($sql), $how($exec), $op, [$($arg),*])
    };
    ($how:ident($exec:expr), $op:expr, $sql:expr, [$($arg:expr),* $(,)?]) => {
        $crate::logic::sql!(@run sqlx::query($sql), $how($exec), $op, [$($arg),*])
    };
}
pub(crate) use sql;

/// How one database runs the shared logic's transactions: the part every statement group needs.
///
/// Implemented by the SQLite store's pool-and-gate (`Db`) and by the PostgreSQL pool. The
/// statements themselves are in [`customers::CustomerSql`] and [`outbox::OutboxSql`].
pub(crate) trait Dialect: Send + Sync {
    /// A connection statements run on (inside a transaction or not).
    type Conn: Send;
    /// An open write transaction; dropping it rolls back.
    type Tx: DerefMut<Target = Self::Conn> + Send;
    /// Whether concurrent writers exist, so that a write must lock the customer's row and
    /// re-read under the lock (PostgreSQL); SQLite writes one transaction at a time.
    const ROW_LOCKS: bool;

    /// Checks that the database answers (`SELECT 1` on a pooled connection).
    fn ping(&self) -> impl Future<Output = Result<()>> + Send;

    /// Closes the pool once its connections are returned.
    fn close(&self) -> impl Future<Output = ()> + Send;

    /// Starts a write transaction (SQLite: at the write gate, `BEGIN IMMEDIATE`).
    fn begin(&self, op: &'static str) -> impl Future<Output = Result<Self::Tx>> + Send;

    /// Commits (SQLite: then releases the write turn).
    fn commit(tx: Self::Tx, op: &'static str) -> impl Future<Output = Result<()>> + Send;

    /// Ends a transaction that wrote nothing, the way that costs the backend least: SQLite
    /// commits at once (a dropped one would roll back only after the write turn was handed on);
    /// PostgreSQL drops it (the rollback rides on the connection's next use, no round trip now).
    fn end_unwritten(tx: Self::Tx, op: &'static str) -> impl Future<Output = Result<()>> + Send;

    /// Checks that customer (1) exists and, where the backend has row locks, locks its row (see
    /// [`Runner::lock_customer`]).
    const LOCK_CUSTOMER: &'static str;

    /// Inserts an outbox item: customer (1), kind (2), payload (3, JSON text), due at and
    /// created at (4); returns its id.
    const ENQUEUE: &'static str;
}

/// Ends a write: inserts the change's outbox item (`None` when the write is not echoed) and
/// commits, so a change and its sync are never separated by a crash.
pub(crate) async fn commit_echoed<D: Runner>(
    mut tx: D::Tx,
    op: &'static str,
    echo: Option<Enqueue<'_>>,
) -> Result<()> {
    if let Some(item) = echo {
        D::enqueue_in(&mut tx, &item).await?;
    }
    D::commit(tx, op).await
}

/// An outbox item to insert inside a transaction that holds its customer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Enqueue<'a> {
    /// The customer's CRM id.
    pub(crate) customer: &'a str,
    /// What changed.
    pub(crate) kind: OutboxKind,
    /// What the worker sends.
    pub(crate) payload: &'a serde_json::Value,
    /// Enqueued and due at (ns).
    pub(crate) now: i64,
}

impl<'a> Enqueue<'a> {
    /// The item for `customer`, due at once.
    pub(crate) fn new(customer: &'a str, kind: OutboxKind, payload: &'a Value, now: i64) -> Self {
        Self {
            customer,
            kind,
            payload,
            now,
        }
    }
}
