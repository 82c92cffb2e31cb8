//! The vendor quota's statements on PostgreSQL (the transactions are in [`crate::logic::quota`],
//! the rules in [`crate::quota`]).
//!
//! A take is one short transaction: lock the key's row (creating it on first use) and read it
//! with the database's clock; then — a new statement, so its snapshot sees every grant committed
//! by the previous lock holders — read the deciding grants; then record the grant. Five round
//! trips (with `BEGIN` and `COMMIT`).
//!
//! The transaction commits with `synchronous_commit = off`: the grant's time is when the request
//! leaves, and a commit that waits for its WAL flush would send it late by a varying amount —
//! the vendor would see two requests closer than the window allows. Committed grants survive a
//! gateway crash either way; only a crash of the database server itself may forget the last few
//! hundred milliseconds of grants.

use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use walletport_core::Result;

use crate::error::db;
use crate::logic::quota::{LOWER, PAUSE, QuotaSql, STATE, TAKE};
use crate::logic::sql;
use crate::quota::Book;

/// The database's clock in microseconds since the Unix epoch (a macro, so that `concat!` builds
/// static SQL from it).
macro_rules! now_us {
    () => {
        "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
    };
}

/// Locks the row for a take, turning off the commit's WAL-flush wait for this transaction.
const LOCK_FOR_TAKE: &str = concat!(
    "INSERT INTO vendor_quota (quota_key) VALUES ($1)
     ON CONFLICT (quota_key) DO UPDATE SET granted = vendor_quota.granted
     RETURNING granted, paused_until_us, interactive_until_us, lowered_limits,
         set_config('synchronous_commit', 'off', true) IS NOT NULL AS async_commit, ",
    now_us!()
);

const GRANT_TIMES: &str = "SELECT seq, granted_at_us FROM vendor_quota_grants
     WHERE quota_key = $1 AND seq = ANY($2)";

const ANNOUNCE: &str = "UPDATE vendor_quota
     SET interactive_until_us = GREATEST(interactive_until_us, $2)
     WHERE quota_key = $1";

/// Inserts the grant, prunes and counts it in one statement.
const RECORD_GRANT: &str = "WITH grant_row AS (
         INSERT INTO vendor_quota_grants (quota_key, seq, granted_at_us)
         VALUES ($1, $2, $3)
     ), pruned AS (
         DELETE FROM vendor_quota_grants WHERE quota_key = $1 AND seq <= $4
     )
     UPDATE vendor_quota
     SET granted = $2,
         interactive_until_us = CASE WHEN $5 THEN 0 ELSE interactive_until_us END
     WHERE quota_key = $1";

const PAUSE_FOR: &str = concat!(
    "INSERT INTO vendor_quota (quota_key, paused_until_us) VALUES ($1, ",
    now_us!(),
    " + $2)
     ON CONFLICT (quota_key) DO UPDATE
     SET paused_until_us = GREATEST(vendor_quota.paused_until_us, EXCLUDED.paused_until_us)"
);

/// The upsert locks the key's row, so two gateways lowering at once merge, not overwrite.
const LOCK_LOWERED: &str = "INSERT INTO vendor_quota (quota_key) VALUES ($1)
     ON CONFLICT (quota_key) DO UPDATE SET granted = vendor_quota.granted
     RETURNING lowered_limits";

const STORE_LOWERED: &str = "UPDATE vendor_quota SET lowered_limits = $2 WHERE quota_key = $1";

const QUOTA_ROW: &str = concat!(
    "SELECT granted, paused_until_us, interactive_until_us, lowered_limits, ",
    now_us!(),
    " FROM vendor_quota WHERE quota_key = $1"
);

const COUNT_GRANTS: &str = "SELECT count(*) FROM vendor_quota_grants
     WHERE quota_key = $1 AND seq >= $2 AND granted_at_us > $3";

/// A key's row as the logic reads it, on the database's clock.
fn book(granted: i64, paused_until_us: i64, interactive_until_us: i64, now_us: i64) -> Book {
    Book {
        granted,
        paused_until_us,
        interactive_until_us,
        now_us,
    }
}

impl QuotaSql for PgPool {
    type Snapshot = Transaction<'static, Postgres>;

    /// One snapshot for the row, the clock and the counts.
    async fn snapshot(&self) -> Result<Self::Snapshot> {
        self.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(|e| db(STATE, e))
    }

    /// Rolls back now: the key's row stays locked until then.
    async fn abandon(tx: Self::Tx, op: &'static str) -> Result<()> {
        tx.rollback().await.map_err(|e| db(op, e))
    }

    async fn lock_for_take(conn: &mut PgConnection, key: &str) -> Result<(Book, String)> {
        type Row = (i64, i64, i64, String, bool, i64);
        let row: Row = sql!(as Row, fetch_one(&mut *conn), TAKE, LOCK_FOR_TAKE, [key])?;
        let (granted, paused, interactive, lowered, _, now_us) = row;
        Ok((book(granted, paused, interactive, now_us), lowered))
    }

    async fn grant_times(
        conn: &mut PgConnection,
        key: &str,
        seqs: &[i64],
    ) -> Result<Vec<(i64, i64)>> {
        sql!(as (i64, i64), fetch_all(&mut *conn), TAKE, GRANT_TIMES, [key, seqs])
    }

    async fn announce_interactive(conn: &mut PgConnection, key: &str, until_us: i64) -> Result<()> {
        sql!(execute(&mut *conn), TAKE, ANNOUNCE, [key, until_us])?;
        Ok(())
    }

    async fn record_grant(
        conn: &mut PgConnection,
        key: &str,
        seq: i64,
        at_us: i64,
        prune_through: i64,
        clear_interactive: bool,
    ) -> Result<()> {
        let (prune, clear) = (prune_through, clear_interactive);
        sql!(
            execute(&mut *conn),
            TAKE,
            RECORD_GRANT,
            [key, seq, at_us, prune, clear]
        )?;
        Ok(())
    }

    async fn pause_for(&self, key: &str, after_us: i64) -> Result<()> {
        sql!(execute(self), PAUSE, PAUSE_FOR, [key, after_us])?;
        Ok(())
    }

    async fn lock_lowered(conn: &mut PgConnection, key: &str) -> Result<String> {
        let (stored,) = sql!(as (String,), fetch_one(&mut *conn), LOWER, LOCK_LOWERED, [key])?;
        Ok(stored)
    }

    async fn store_lowered(conn: &mut PgConnection, key: &str, lowered: &str) -> Result<()> {
        sql!(execute(&mut *conn), LOWER, STORE_LOWERED, [key, lowered])?;
        Ok(())
    }

    async fn quota_row(conn: &mut PgConnection, key: &str) -> Result<Option<(Book, String)>> {
        type Row = (i64, i64, i64, String, i64);
        let row = sql!(as Row, fetch_optional(&mut *conn), STATE, QUOTA_ROW, [key])?;
        Ok(row.map(|(granted, paused, interactive, lowered, now_us)| {
            (book(granted, paused, interactive, now_us), lowered)
        }))
    }

    async fn count_grants(
        conn: &mut PgConnection,
        key: &str,
        from_seq: i64,
        after_us: i64,
    ) -> Result<i64> {
        let (n,) =
            sql!(as (i64,), fetch_one(&mut *conn), STATE, COUNT_GRANTS, [key, from_seq, after_us])?;
        Ok(n)
    }
}
