//! The shared vendor quota on SQLite (the rules are in [`crate::quota`]): for gateways on one
//! machine and for restarts. A take is one write transaction at the store's write gate; one that
//! must wait rolls back, so only a grant costs a sync.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use walletport_core::Result;

use super::{Db, begin};
use crate::error::db;
use crate::logic::store::QuotaSql;
use crate::quota::{self, Book, Decision, QuotaLimit, QuotaSlot, QuotaState};

/// This machine's clock in microseconds since the Unix epoch.
fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, quota::micros)
}

pub(super) async fn take(
    store: &Db,
    key: &str,
    limits: &[QuotaLimit],
    interactive: bool,
) -> Result<QuotaSlot> {
    quota::validate(key, limits)?;
    let op = "store.quota.take";
    let mut tx = begin(store, op).await?;
    let (granted, paused_until_us, interactive_until_us, lowered): (i64, i64, i64, String) =
        sqlx::query_as(
            "INSERT INTO vendor_quota (quota_key) VALUES (?1)
             ON CONFLICT (quota_key) DO UPDATE SET granted = granted
             RETURNING granted, paused_until_us, interactive_until_us, lowered_limits",
        )
        .bind(key)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| db(op, e))?;
    let limits = &quota::in_force(limits, &quota::decode_lowered(&lowered));
    let book = Book {
        granted,
        paused_until_us,
        interactive_until_us,
        now_us: now_us(),
    };
    let mut times = Vec::new();
    for seq in quota::deciding_grants(granted, limits) {
        let at: Option<(i64,)> = sqlx::query_as(
            "SELECT granted_at_us FROM vendor_quota_grants WHERE quota_key = ?1 AND seq = ?2",
        )
        .bind(key)
        .bind(seq)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| db(op, e))?;
        times.extend(at.map(|(at,)| (seq, at)));
    }
    match quota::decide(book, limits, &times, interactive) {
        Decision::Wait { wait, announce_us } => {
            if let Some(until) = announce_us {
                sqlx::query(
                    "UPDATE vendor_quota SET interactive_until_us = max(interactive_until_us, ?2)
                     WHERE quota_key = ?1",
                )
                .bind(key)
                .bind(until)
                .execute(&mut *tx)
                .await
                .map_err(|e| db(op, e))?;
                tx.commit().await.map_err(|e| db(op, e))?;
            }
            // Otherwise dropping the transaction rolls it back.
            Ok(QuotaSlot::WaitFor(wait))
        }
        Decision::Take {
            seq,
            at_us,
            prune_through,
            clear_interactive,
        } => {
            sqlx::query(
                "INSERT INTO vendor_quota_grants (quota_key, seq, granted_at_us) VALUES (?1, ?2, ?3)",
            )
            .bind(key)
            .bind(seq)
            .bind(at_us)
            .execute(&mut *tx)
            .await
            .map_err(|e| db(op, e))?;
            sqlx::query(
                "UPDATE vendor_quota SET granted = ?2,
                 interactive_until_us = CASE WHEN ?3 THEN 0 ELSE interactive_until_us END
                 WHERE quota_key = ?1",
            )
            .bind(key)
            .bind(seq)
            .bind(clear_interactive)
            .execute(&mut *tx)
            .await
            .map_err(|e| db(op, e))?;
            if prune_through > 0 {
                sqlx::query("DELETE FROM vendor_quota_grants WHERE quota_key = ?1 AND seq <= ?2")
                    .bind(key)
                    .bind(prune_through)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db(op, e))?;
            }
            tx.commit().await.map_err(|e| db(op, e))?;
            Ok(QuotaSlot::Taken)
        }
    }
}

pub(super) async fn pause(store: &Db, key: &str, after: Duration) -> Result<()> {
    quota::validate(key, &[])?;
    let op = "store.quota.pause";
    let until =
        now_us().saturating_add(quota::micros(after.min(Duration::from_secs(86_400 * 366))));
    let mut tx = begin(store, op).await?;
    sqlx::query(
        "INSERT INTO vendor_quota (quota_key, paused_until_us) VALUES (?1, ?2)
         ON CONFLICT (quota_key) DO UPDATE
         SET paused_until_us = max(paused_until_us, excluded.paused_until_us)",
    )
    .bind(key)
    .bind(until)
    .execute(&mut *tx)
    .await
    .map_err(|e| db(op, e))?;
    tx.commit().await.map_err(|e| db(op, e))
}

pub(super) async fn lower(store: &Db, key: &str, per: Duration, limit: u32) -> Result<bool> {
    // 0 is valid input and changes nothing (see `quota::lower`).
    quota::validate(
        key,
        &[QuotaLimit {
            limit: limit.max(1),
            per,
        }],
    )?;
    let op = "store.quota.lower";
    let mut tx = begin(store, op).await?;
    let (stored,): (String,) = sqlx::query_as(
        "INSERT INTO vendor_quota (quota_key) VALUES (?1)
         ON CONFLICT (quota_key) DO UPDATE SET granted = granted
         RETURNING lowered_limits",
    )
    .bind(key)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| db(op, e))?;
    let Some(lowered) = quota::lower(&quota::decode_lowered(&stored), per, limit) else {
        return Ok(false);
    };
    sqlx::query("UPDATE vendor_quota SET lowered_limits = ?2 WHERE quota_key = ?1")
        .bind(key)
        .bind(quota::encode_lowered(&lowered))
        .execute(&mut *tx)
        .await
        .map_err(|e| db(op, e))?;
    tx.commit().await.map_err(|e| db(op, e))?;
    Ok(true)
}

pub(super) async fn state(store: &Db, key: &str, limits: &[QuotaLimit]) -> Result<QuotaState> {
    quota::validate(key, limits)?;
    let op = "store.quota.state";
    // One read snapshot (it starts at the first read, before the clock is read): a grant
    // committed in between would otherwise be counted against a stale `granted`.
    let mut tx = store.pool.begin().await.map_err(|e| db(op, e))?;
    let row: Option<(i64, i64, String)> = sqlx::query_as(
        "SELECT granted, paused_until_us, lowered_limits FROM vendor_quota WHERE quota_key = ?1",
    )
    .bind(key)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| db(op, e))?;
    let now_us = now_us();
    let Some((granted, paused_until_us, lowered)) = row else {
        return Ok(QuotaState {
            used: vec![0; limits.len()],
            ..QuotaState::default()
        });
    };
    let mut used = Vec::with_capacity(limits.len());
    for l in limits {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM vendor_quota_grants
             WHERE quota_key = ?1 AND seq >= ?2 AND granted_at_us > ?3",
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

impl QuotaSql for Db {
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
