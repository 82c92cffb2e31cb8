//! The vendor quota's statements on SQLite (the transactions are in [`crate::logic::quota`], the
//! rules in [`crate::quota`]): for gateways on one machine and for restarts. A take is one write
//! transaction at the store's write gate; one that must wait rolls back, so only a grant costs a
//! sync. Times are this machine's clock.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Sqlite, SqliteConnection, Transaction};
use walletport_core::Result;

use super::{Db, WriteTx, begin};
use crate::error::db;
use crate::logic::quota::{LOWER, PAUSE, QuotaSql, STATE, TAKE};
use crate::logic::sql;
use crate::quota::{self, Book};

/// This machine's clock in microseconds since the Unix epoch.
fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, quota::micros)
}

const LOCK_FOR_TAKE: &str = "INSERT INTO vendor_quota (quota_key) VALUES (?1)
     ON CONFLICT (quota_key) DO UPDATE SET granted = granted
     RETURNING granted, paused_until_us, interactive_until_us, lowered_limits";

const GRANT_TIME: &str =
    "SELECT granted_at_us FROM vendor_quota_grants WHERE quota_key = ?1 AND seq = ?2";

const ANNOUNCE: &str =
    "UPDATE vendor_quota SET interactive_until_us = max(interactive_until_us, ?2)
     WHERE quota_key = ?1";

const INSERT_GRANT: &str =
    "INSERT INTO vendor_quota_grants (quota_key, seq, granted_at_us) VALUES (?1, ?2, ?3)";

const COUNT_GRANT: &str = "UPDATE vendor_quota SET granted = ?2,
     interactive_until_us = CASE WHEN ?3 THEN 0 ELSE interactive_until_us END
     WHERE quota_key = ?1";

const PRUNE: &str = "DELETE FROM vendor_quota_grants WHERE quota_key = ?1 AND seq <= ?2";

const PAUSE_UNTIL: &str = "INSERT INTO vendor_quota (quota_key, paused_until_us) VALUES (?1, ?2)
     ON CONFLICT (quota_key) DO UPDATE
     SET paused_until_us = max(paused_until_us, excluded.paused_until_us)";

const LOCK_LOWERED: &str = "INSERT INTO vendor_quota (quota_key) VALUES (?1)
     ON CONFLICT (quota_key) DO UPDATE SET granted = granted
     RETURNING lowered_limits";

const STORE_LOWERED: &str = "UPDATE vendor_quota SET lowered_limits = ?2 WHERE quota_key = ?1";

const QUOTA_ROW: &str = "SELECT granted, paused_until_us, interactive_until_us, lowered_limits FROM vendor_quota WHERE quota_key = ?1";

const COUNT_GRANTS: &str = "SELECT count(*) FROM vendor_quota_grants
     WHERE quota_key = ?1 AND seq >= ?2 AND granted_at_us > ?3";

/// A key's row (`granted, paused_until_us, interactive_until_us, lowered_limits`) as the logic
/// reads it, on this machine's clock.
fn book(row: (i64, i64, i64, String), now_us: i64) -> (Book, String) {
    let (granted, paused_until_us, interactive_until_us, lowered) = row;
    let book = Book {
        granted,
        paused_until_us,
        interactive_until_us,
        now_us,
    };
    (book, lowered)
}

impl QuotaSql for Db {
    type Snapshot = Transaction<'static, Sqlite>;

    /// A deferred transaction: one read snapshot from its first read on.
    async fn snapshot(&self) -> Result<Self::Snapshot> {
        self.pool.begin().await.map_err(|e| db(STATE, e))
    }

    /// Dropping the transaction rolls it back before the write turn is released.
    async fn abandon(tx: WriteTx, _: &'static str) -> Result<()> {
        drop(tx);
        Ok(())
    }

    async fn lock_for_take(conn: &mut SqliteConnection, key: &str) -> Result<(Book, String)> {
        type Row = (i64, i64, i64, String);
        let row: Row = sql!(as Row, fetch_one(&mut *conn), TAKE, LOCK_FOR_TAKE, [key])?;
        Ok(book(row, now_us()))
    }

    async fn grant_times(
        conn: &mut SqliteConnection,
        key: &str,
        seqs: &[i64],
    ) -> Result<Vec<(i64, i64)>> {
        let mut times = Vec::with_capacity(seqs.len());
        for &seq in seqs {
            let at = sql!(as (i64,), fetch_optional(&mut *conn), TAKE, GRANT_TIME, [key, seq])?;
            times.extend(at.map(|(at,)| (seq, at)));
        }
        Ok(times)
    }

    async fn announce_interactive(
        conn: &mut SqliteConnection,
        key: &str,
        until_us: i64,
    ) -> Result<()> {
        sql!(execute(&mut *conn), TAKE, ANNOUNCE, [key, until_us])?;
        Ok(())
    }

    async fn record_grant(
        conn: &mut SqliteConnection,
        key: &str,
        seq: i64,
        at_us: i64,
        prune_through: i64,
        clear_interactive: bool,
    ) -> Result<()> {
        sql!(execute(&mut *conn), TAKE, INSERT_GRANT, [key, seq, at_us])?;
        sql!(
            execute(&mut *conn),
            TAKE,
            COUNT_GRANT,
            [key, seq, clear_interactive]
        )?;
        if prune_through > 0 {
            sql!(execute(&mut *conn), TAKE, PRUNE, [key, prune_through])?;
        }
        Ok(())
    }

    /// At the write gate, with this machine's clock.
    async fn pause_for(&self, key: &str, after_us: i64) -> Result<()> {
        let until = now_us().saturating_add(after_us);
        let mut tx = begin(self, PAUSE).await?;
        sql!(execute(&mut *tx), PAUSE, PAUSE_UNTIL, [key, until])?;
        tx.commit().await.map_err(|e| db(PAUSE, e))
    }

    async fn lock_lowered(conn: &mut SqliteConnection, key: &str) -> Result<String> {
        let (stored,) = sql!(as (String,), fetch_one(&mut *conn), LOWER, LOCK_LOWERED, [key])?;
        Ok(stored)
    }

    async fn store_lowered(conn: &mut SqliteConnection, key: &str, lowered: &str) -> Result<()> {
        sql!(execute(&mut *conn), LOWER, STORE_LOWERED, [key, lowered])?;
        Ok(())
    }

    /// The clock is read after the row, inside the snapshot the read started.
    async fn quota_row(conn: &mut SqliteConnection, key: &str) -> Result<Option<(Book, String)>> {
        type Row = (i64, i64, i64, String);
        let row = sql!(as Row, fetch_optional(&mut *conn), STATE, QUOTA_ROW, [key])?;
        let now_us = now_us();
        Ok(row.map(|row| book(row, now_us)))
    }

    async fn count_grants(
        conn: &mut SqliteConnection,
        key: &str,
        from_seq: i64,
        after_us: i64,
    ) -> Result<i64> {
        let sql = COUNT_GRANTS;
        let (n,) = sql!(as (i64,), fetch_one(&mut *conn), STATE, sql, [key, from_seq, after_us])?;
        Ok(n)
    }
}
