//! How the shared logic runs one statement on either backend: the values are backend-neutral
//! [`Param`]s, the rows come back as the backend's row type and are decoded with sqlx's
//! `FromRow`, which the shared row types derive for both.
//!
//! Only text, integers and booleans cross this line. A value a column stores natively on
//! PostgreSQL (`NUMERIC`, `JSONB`, `DATE`) is bound as its text and cast in the PostgreSQL
//! statement (`$1::numeric`), and read back as text (`amount::text`); SQLite stores that text.
//! So one piece of code binds and decodes for both, and the dialects differ only in SQL text.

use std::ops::DerefMut;

use sqlx::query::Query;
use sqlx::{Database, Encode, FromRow, Type};
use walletport_core::Result;

use super::{Dialect, Enqueue};
use crate::error::db;

/// One statement parameter, as both backends bind it.
#[derive(Debug, Clone)]
pub(crate) enum Param<'a> {
    /// Text, or SQL `NULL`.
    Text(Option<&'a str>),
    /// Text made for this statement (a decimal's or a JSON document's), or `NULL`.
    Owned(Option<String>),
    /// A 64-bit integer (instants in ns, sequence numbers, limits), or `NULL`.
    Int(Option<i64>),
    /// A boolean (SQLite stores 0 or 1).
    Bool(bool),
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(t: &'a str) -> Self {
        Self::Text(Some(t))
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(t: &'a String) -> Self {
        Self::Text(Some(t))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(t: Option<&'a str>) -> Self {
        Self::Text(t)
    }
}

impl<'a> From<&'a Option<String>> for Param<'a> {
    fn from(t: &'a Option<String>) -> Self {
        Self::Text(t.as_deref())
    }
}

impl From<String> for Param<'_> {
    fn from(t: String) -> Self {
        Self::Owned(Some(t))
    }
}

impl From<Option<String>> for Param<'_> {
    fn from(t: Option<String>) -> Self {
        Self::Owned(t)
    }
}

impl From<i64> for Param<'_> {
    fn from(n: i64) -> Self {
        Self::Int(Some(n))
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(n: Option<i64>) -> Self {
        Self::Int(n)
    }
}

impl From<bool> for Param<'_> {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

/// A statement's parameters in order: `params![customer, now]` is a `&[Param]`.
macro_rules! params {
    ($($p:expr),* $(,)?) => {
        &[$($crate::logic::run::Param::from($p)),*]
    };
}
pub(crate) use params;

/// Binds `params` in order, for any database that encodes text, integers and booleans (both
/// do); each backend's [`Runner`] calls it with its own `Database`.
pub(crate) fn bind<'q, DB>(
    query: Query<'q, DB, DB::Arguments>,
    params: &[Param<'_>],
) -> Query<'q, DB, DB::Arguments>
where
    DB: Database,
    for<'t> Option<&'t str>: Encode<'t, DB> + Type<DB>,
    for<'t> Option<i64>: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
{
    params.iter().fold(query, |q, p| match p {
        Param::Text(t) => q.bind(*t),
        Param::Owned(t) => q.bind(t.as_deref()),
        Param::Int(n) => q.bind(*n),
        Param::Bool(b) => q.bind(*b),
    })
}

/// A backend row the shared logic decodes into `T` (any `FromRow` type, by the blanket impl).
pub(crate) trait DecodeAs<T> {
    /// The row as `T`; a column that does not decode is a database error of `op`.
    fn decode_as(&self, op: &'static str) -> Result<T>;
}

impl<R: sqlx::Row, T: for<'r> FromRow<'r, R>> DecodeAs<T> for R {
    fn decode_as(&self, op: &'static str) -> Result<T> {
        T::from_row(self).map_err(|e| db(op, e))
    }
}

/// Runs statements for the shared logic: three ways to execute, and a pooled connection for
/// reads outside a transaction. The rest of a backend module is SQL text.
pub(crate) trait Runner: Dialect + Sized {
    /// The backend's row, decodable into every shared row type the logic reads.
    type Row: sqlx::Row
        + DecodeAs<crate::codec::RawCustomer>
        + DecodeAs<crate::codec::RawCard>
        + DecodeAs<super::ledger_tx::RawLot>
        + DecodeAs<super::ledger_tx::RawAccount>
        + DecodeAs<crate::outbox::RawOutbox>
        + DecodeAs<crate::outbox::ClaimRow>
        + DecodeAs<(String,)>
        + DecodeAs<(String, String)>
        + DecodeAs<(String, String, String)>
        + DecodeAs<(i64, i64, i64, i64, Option<i64>)>
        + DecodeAs<(i64,)>;
    /// A pooled connection (returned to the pool when dropped).
    type Pooled: DerefMut<Target = Self::Conn> + Send;

    /// A connection from the pool, for reads (SQLite: not at the write gate).
    fn acquire(&self, op: &'static str) -> impl Future<Output = Result<Self::Pooled>> + Send;

    /// Every row the statement returns.
    fn fetch_all(
        conn: &mut Self::Conn,
        op: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<Vec<Self::Row>>> + Send;

    /// The first row the statement returns, if any.
    fn fetch_optional(
        conn: &mut Self::Conn,
        op: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<Option<Self::Row>>> + Send;

    /// Runs the statement; returns how many rows it changed.
    fn execute(
        conn: &mut Self::Conn,
        op: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Makes sure the customer exists and, where the backend has row locks, locks its row until
    /// the transaction ends, so that the customer's outbox ids follow commit order; false when
    /// there is no such customer.
    fn lock_customer(
        conn: &mut Self::Conn,
        id: &str,
        op: &'static str,
    ) -> impl Future<Output = Result<bool>> + Send {
        async move {
            let row = Self::fetch_optional(conn, op, Self::LOCK_CUSTOMER, params![id]).await?;
            Ok(row.is_some())
        }
    }

    /// Inserts an outbox item inside the caller's transaction, which holds its customer (the
    /// logic's writes, the ledger's and the backfill's); returns its id.
    fn enqueue_in(
        conn: &mut Self::Conn,
        item: &Enqueue<'_>,
    ) -> impl Future<Output = Result<i64>> + Send {
        async move {
            let (kind, payload) = (item.kind.as_str(), item.payload.to_string());
            let params = params![item.customer, kind, payload, item.now];
            let row =
                optional::<Self, (i64,)>(conn, "outbox.enqueue", Self::ENQUEUE, params).await?;
            row.map(|(id,)| id).ok_or_else(|| {
                walletport_core::Error::unexpected("the outbox insert returned no id")
            })
        }
    }
}

/// The rows of `sql`, decoded.
pub(crate) async fn all<D: Runner, T>(
    conn: &mut D::Conn,
    op: &'static str,
    sql: &'static str,
    params: &[Param<'_>],
) -> Result<Vec<T>>
where
    D::Row: DecodeAs<T>,
{
    let rows = D::fetch_all(conn, op, sql, params).await?;
    rows.iter().map(|r| r.decode_as(op)).collect()
}

/// The first row of `sql`, decoded.
pub(crate) async fn optional<D: Runner, T>(
    conn: &mut D::Conn,
    op: &'static str,
    sql: &'static str,
    params: &[Param<'_>],
) -> Result<Option<T>>
where
    D::Row: DecodeAs<T>,
{
    let row = D::fetch_optional(conn, op, sql, params).await?;
    row.map(|r| r.decode_as(op)).transpose()
}

/// [`all`] on a pooled connection, outside any transaction.
pub(crate) async fn read_all<D: Runner, T>(
    d: &D,
    op: &'static str,
    sql: &'static str,
    params: &[Param<'_>],
) -> Result<Vec<T>>
where
    D::Row: DecodeAs<T>,
{
    let mut conn = d.acquire(op).await?;
    all::<D, T>(&mut conn, op, sql, params).await
}

/// [`optional`] on a pooled connection, outside any transaction.
pub(crate) async fn read_optional<D: Runner, T>(
    d: &D,
    op: &'static str,
    sql: &'static str,
    params: &[Param<'_>],
) -> Result<Option<T>>
where
    D::Row: DecodeAs<T>,
{
    let mut conn = d.acquire(op).await?;
    optional::<D, T>(&mut conn, op, sql, params).await
}

/// Implements [`Runner`] for a backend whose connection type is `$conn` and whose pool is
/// reached by `$pool` from `&self`: the same four bodies on both, over their own `Database`.
macro_rules! runner {
    ($store:ty, $db:ty, $row:ty, |$s:ident| $pool:expr) => {
        impl $crate::logic::run::Runner for $store {
            type Row = $row;
            type Pooled = sqlx::pool::PoolConnection<$db>;

            async fn acquire(&self, op: &'static str) -> walletport_core::Result<Self::Pooled> {
                let $s = self;
                $pool.acquire().await.map_err(|e| $crate::error::db(op, e))
            }

            async fn fetch_all(
                conn: &mut Self::Conn,
                op: &'static str,
                sql: &'static str,
                params: &[$crate::logic::run::Param<'_>],
            ) -> walletport_core::Result<Vec<$row>> {
                let q = $crate::logic::run::bind(sqlx::query(sql), params);
                q.fetch_all(conn)
                    .await
                    .map_err(|e| $crate::error::db(op, e))
            }

            async fn fetch_optional(
                conn: &mut Self::Conn,
                op: &'static str,
                sql: &'static str,
                params: &[$crate::logic::run::Param<'_>],
            ) -> walletport_core::Result<Option<$row>> {
                let q = $crate::logic::run::bind(sqlx::query(sql), params);
                q.fetch_optional(conn)
                    .await
                    .map_err(|e| $crate::error::db(op, e))
            }

            async fn execute(
                conn: &mut Self::Conn,
                op: &'static str,
                sql: &'static str,
                params: &[$crate::logic::run::Param<'_>],
            ) -> walletport_core::Result<u64> {
                let q = $crate::logic::run::bind(sqlx::query(sql), params);
                let done = q
                    .execute(conn)
                    .await
                    .map_err(|e| $crate::error::db(op, e))?;
                Ok(done.rows_affected())
            }
        }
    };
}
pub(crate) use runner;
