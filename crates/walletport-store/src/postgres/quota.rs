//! The shared vendor quota on PostgreSQL (the rules are in [`crate::quota`]).
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

use std::time::Duration;

use sqlx::PgPool;
use walletport_core::Result;

use crate::error::db;
use crate::logic::store::QuotaSql;
use crate::quota::{self, Book, Decision, QuotaLimit, QuotaSlot, QuotaState};

/// The database's clock in microseconds since the Unix epoch (a macro, so that `concat!` builds
/// static SQL from it).
macro_rules! now_us {
    () => {
        "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
    };
}

pub(super) async fn take(
    pool: &PgPool,
    key: &str,
    limits: &[QuotaLimit],
    interactive: bool,
) -> Result<QuotaSlot> {
    quota::validate(key, limits)?;
    let op = "store.quota.take";
    let mut tx = pool.begin().await.map_err(|e| db(op, e))?;
    type Row = (i64, i64, i64, String, bool, i64);
    let (granted, paused_until_us, interactive_until_us, lowered, _, now_us): Row =
        sqlx::query_as(concat!(
            "INSERT INTO vendor_quota (quota_key) VALUES ($1)
         ON CONFLICT (quota_key) DO UPDATE SET granted = vendor_quota.granted
         RETURNING granted, paused_until_us, interactive_until_us, lowered_limits,
             set_config('synchronous_commit', 'off', true) IS NOT NULL AS async_commit, ",
            now_us!()
        ))
        .bind(key)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| db(op, e))?;
    let limits = &quota::in_force(limits, &quota::decode_lowered(&lowered));
    let book = Book {
        granted,
        paused_until_us,
        interactive_until_us,
        now_us,
    };
    let deciding = quota::deciding_grants(granted, limits);
    let times: Vec<(i64, i64)> = if deciding.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(
            "SELECT seq, granted_at_us FROM vendor_quota_grants
             WHERE quota_key = $1 AND seq = ANY($2)",
        )
        .bind(key)
        .bind(&deciding)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| db(op, e))?
    };
    match quota::decide(book, limits, &times, interactive) {
        Decision::Wait { wait, announce_us } => {
            match announce_us {
                Some(until) => {
                    sqlx::query(
                        "UPDATE vendor_quota
                         SET interactive_until_us = GREATEST(interactive_until_us, $2)
                         WHERE quota_key = $1",
                    )
                    .bind(key)
                    .bind(until)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db(op, e))?;
                    tx.commit().await.map_err(|e| db(op, e))?;
                }
                None => tx.rollback().await.map_err(|e| db(op, e))?,
            }
            Ok(QuotaSlot::WaitFor(wait))
        }
        Decision::Take {
            seq,
            at_us,
            prune_through,
            clear_interactive,
        } => {
            sqlx::query(
                "WITH grant_row AS (
                     INSERT INTO vendor_quota_grants (quota_key, seq, granted_at_us)
                     VALUES ($1, $2, $3)
                 ), pruned AS (
                     DELETE FROM vendor_quota_grants WHERE quota_key = $1 AND seq <= $4
                 )
                 UPDATE vendor_quota
                 SET granted = $2,
                     interactive_until_us = CASE WHEN $5 THEN 0 ELSE interactive_until_us END
                 WHERE quota_key = $1",
            )
            .bind(key)
            .bind(seq)
            .bind(at_us)
            .bind(prune_through)
            .bind(clear_interactive)
            .execute(&mut *tx)
            .await
            .map_err(|e| db(op, e))?;
            tx.commit().await.map_err(|e| db(op, e))?;
            Ok(QuotaSlot::Taken)
        }
    }
}

pub(super) async fn pause(pool: &PgPool, key: &str, after: Duration) -> Result<()> {
    quota::validate(key, &[])?;
    sqlx::query(concat!(
        "INSERT INTO vendor_quota (quota_key, paused_until_us) VALUES ($1, ",
        now_us!(),
        " + $2)
         ON CONFLICT (quota_key) DO UPDATE
         SET paused_until_us = GREATEST(vendor_quota.paused_until_us, EXCLUDED.paused_until_us)"
    ))
    .bind(key)
    .bind(quota::micros(after.min(Duration::from_secs(86_400 * 366))))
    .execute(pool)
    .await
    .map_err(|e| db("store.quota.pause", e))?;
    Ok(())
}

pub(super) async fn lower(pool: &PgPool, key: &str, per: Duration, limit: u32) -> Result<bool> {
    // 0 is valid input and changes nothing (see `quota::lower`).
    quota::validate(
        key,
        &[QuotaLimit {
            limit: limit.max(1),
            per,
        }],
    )?;
    let op = "store.quota.lower";
    let mut tx = pool.begin().await.map_err(|e| db(op, e))?;
    // The upsert locks the key's row, so two gateways lowering at once merge, not overwrite.
    let (stored,): (String,) = sqlx::query_as(
        "INSERT INTO vendor_quota (quota_key) VALUES ($1)
         ON CONFLICT (quota_key) DO UPDATE SET granted = vendor_quota.granted
         RETURNING lowered_limits",
    )
    .bind(key)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| db(op, e))?;
    let Some(lowered) = quota::lower(&quota::decode_lowered(&stored), per, limit) else {
        tx.rollback().await.map_err(|e| db(op, e))?;
        return Ok(false);
    };
    sqlx::query("UPDATE vendor_quota SET lowered_limits = $2 WHERE quota_key = $1")
        .bind(key)
        .bind(quota::encode_lowered(&lowered))
        .execute(&mut *tx)
        .await
        .map_err(|e| db(op, e))?;
    tx.commit().await.map_err(|e| db(op, e))?;
    Ok(true)
}

pub(super) async fn state(pool: &PgPool, key: &str, limits: &[QuotaLimit]) -> Result<QuotaState> {
    quota::validate(key, limits)?;
    let op = "store.quota.state";
    // One snapshot for the row, the clock and the counts: a grant committed in between would
    // otherwise be counted against a stale `granted`.
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await
        .map_err(|e| db(op, e))?;
    let row: Option<(i64, i64, String, i64)> = sqlx::query_as(concat!(
        "SELECT granted, paused_until_us, lowered_limits, ",
        now_us!(),
        " FROM vendor_quota WHERE quota_key = $1"
    ))
    .bind(key)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| db(op, e))?;
    let Some((granted, paused_until_us, lowered, now_us)) = row else {
        return Ok(QuotaState {
            used: vec![0; limits.len()],
            ..QuotaState::default()
        });
    };
    let mut used = Vec::with_capacity(limits.len());
    for l in limits {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM vendor_quota_grants
             WHERE quota_key = $1 AND seq >= $2 AND granted_at_us > $3",
        )
        .bind(key)
        .bind(quota::oldest_counted(granted, l.limit))
        .bind(now_us - quota::micros(l.per))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| db(op, e))?;
        used.push(u32::try_from(n).unwrap_or(u32::MAX));
    }
    Ok(QuotaState {
        used,
        paused_for: quota::pause_left(paused_until_us, now_us),
        lowered: quota::decode_lowered(&lowered),
    })
}

impl QuotaSql for PgPool {
    async fn take_quota(
        &self,
        key: &str,
        limits: &[QuotaLimit],
        interactive: bool,
    ) -> Result<QuotaSlot> {
        take(self, key, limits, interactive).await
    }

    async fn pause_quota(&self, key: &str, after: Duration) -> Result<()> {
        pause(self, key, after).await
    }

    async fn quota_state(&self, key: &str, limits: &[QuotaLimit]) -> Result<QuotaState> {
        state(self, key, limits).await
    }

    async fn lower_quota(&self, key: &str, per: Duration, limit: u32) -> Result<bool> {
        lower(self, key, per, limit).await
    }
}
