//! The outbox on PostgreSQL. A claim locks the candidate customers' rows with
//! `FOR NO KEY UPDATE SKIP LOCKED`, then reads their items under that lock: a customer is
//! claimed by one worker at a time, and a writer enqueuing for that customer waits for the claim
//! to commit, so a claim never sees half of a customer's history.

use chrono::{DateTime, Utc};
use sqlx::Row as _;
use sqlx::postgres::{PgPool, PgRow};
use walletport_core::{Error, Result};

use super::customers::enqueue_in;
use super::lock_customer;
use crate::codec::to_ns;
use crate::error::db;
use crate::outbox::{
    ClaimRequest, ClaimRow, FailOutcome, Failure, NewOutboxItem, OutboxId, OutboxItem, OutboxKind,
    OutboxList, OutboxStats, RawOutbox, ResyncCursor, ResyncPage, ResyncRequest, clip_error,
    page_limit, plan_claim, resync_limit, resync_payload, validate_worker,
};

macro_rules! item_cols {
    () => {
        "id, customer_id, kind, payload, created_at, attempts, next_attempt_at, claimed_by, \
         claimed_until, last_error, NULL::BIGINT AS died_at"
    };
}

/// Candidates fetched per claimed item: spare ones for customers other workers hold.
const OVERFETCH: i64 = 4;

fn raw(row: &PgRow) -> Result<RawOutbox> {
    let g = |e| db("outbox.decode", e);
    Ok(RawOutbox {
        id: row.try_get("id").map_err(g)?,
        customer_id: row.try_get("customer_id").map_err(g)?,
        kind: row.try_get("kind").map_err(g)?,
        payload: row.try_get("payload").map_err(g)?,
        created_at: row.try_get("created_at").map_err(g)?,
        attempts: i64::from(row.try_get::<i32, _>("attempts").map_err(g)?),
        next_attempt_at: row.try_get("next_attempt_at").map_err(g)?,
        claimed_by: row.try_get("claimed_by").map_err(g)?,
        claimed_until: row.try_get("claimed_until").map_err(g)?,
        last_error: row.try_get("last_error").map_err(g)?,
        died_at: row.try_get("died_at").map_err(g)?,
    })
}

pub(super) async fn enqueue(
    pool: &PgPool,
    item: &NewOutboxItem,
    now: DateTime<Utc>,
) -> Result<OutboxId> {
    let now = to_ns(now)?;
    let mut tx = pool.begin().await.map_err(|e| db("outbox.enqueue", e))?;
    if !lock_customer(&mut tx, item.customer_id.as_str(), "outbox.enqueue").await? {
        return Err(Error::not_found(format!(
            "no customer `{}`",
            item.customer_id
        )));
    }
    let id = enqueue_in(
        &mut tx,
        item.customer_id.as_str(),
        item.kind,
        &item.payload,
        now,
    )
    .await?;
    tx.commit().await.map_err(|e| db("outbox.enqueue", e))?;
    Ok(OutboxId(id))
}

pub(super) async fn claim(pool: &PgPool, req: &ClaimRequest) -> Result<Vec<OutboxItem>> {
    req.validate()?;
    let now = to_ns(req.now)?;
    let until = crate::codec::expiry_ns(now, Some(req.lease)).unwrap_or(i64::MAX);
    let g = |e| db("outbox.claim", e);
    let mut tx = pool.begin().await.map_err(g)?;
    let candidates: Vec<String> = sqlx::query(
        "SELECT h.customer_id FROM (SELECT customer_id, MIN(id) AS head, \
         MAX(COALESCE(claimed_until, 0)) AS lease FROM outbox GROUP BY customer_id) h \
         JOIN outbox o ON o.id = h.head WHERE h.lease <= $1 AND o.next_attempt_at <= $1 \
         ORDER BY h.head LIMIT $2",
    )
    .bind(now)
    .bind(i64::from(req.limit) * OVERFETCH)
    .fetch_all(&mut *tx)
    .await
    .map_err(g)?
    .iter()
    .map(|r| r.try_get::<String, _>(0))
    .collect::<Result<_, _>>()
    .map_err(g)?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let locked: Vec<String> = sqlx::query(
        "SELECT id FROM customers WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE SKIP LOCKED",
    )
    .bind(&candidates)
    .fetch_all(&mut *tx)
    .await
    .map_err(g)?
    .iter()
    .map(|r| r.try_get::<String, _>(0))
    .collect::<Result<_, _>>()
    .map_err(g)?;
    let candidates: Vec<String> = candidates
        .into_iter()
        .filter(|c| locked.contains(c))
        .collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    // Read after locking: a fresh snapshot that includes everything committed for them.
    let rows = sqlx::query(
        "SELECT id, customer_id, next_attempt_at, claimed_until FROM outbox \
         WHERE customer_id = ANY($1) ORDER BY id",
    )
    .bind(&candidates)
    .fetch_all(&mut *tx)
    .await
    .map_err(g)?
    .iter()
    .map(|r| {
        Ok(ClaimRow {
            id: r.try_get(0)?,
            customer_id: r.try_get(1)?,
            next_attempt_at: r.try_get(2)?,
            claimed_until: r.try_get(3)?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()
    .map_err(g)?;
    let ids = plan_claim(&candidates, &rows, now, req.limit as usize);
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let items = sqlx::query(concat!(
        "UPDATE outbox SET claimed_by = $1, claimed_until = $2 WHERE id = ANY($3) RETURNING ",
        item_cols!()
    ))
    .bind(&req.worker)
    .bind(until)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await
    .map_err(g)?;
    tx.commit().await.map_err(g)?;
    let mut items = items
        .iter()
        .map(|r| raw(r)?.into_item(now))
        .collect::<Result<Vec<_>>>()?;
    items.sort_by_key(|i| i.id);
    Ok(items)
}

pub(super) async fn complete(pool: &PgPool, worker: &str, ids: &[OutboxId]) -> Result<u64> {
    validate_worker(worker)?;
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    if ids.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query("DELETE FROM outbox WHERE claimed_by = $1 AND id = ANY($2)")
        .bind(worker)
        .bind(&ids)
        .execute(pool)
        .await
        .map_err(|e| db("outbox.complete", e))?;
    Ok(done.rows_affected())
}

pub(super) async fn fail(
    pool: &PgPool,
    worker: &str,
    ids: &[OutboxId],
    f: &Failure,
) -> Result<FailOutcome> {
    validate_worker(worker)?;
    f.validate()?;
    let now = to_ns(f.now)?;
    let retry_at = f.retry_at.map(to_ns).transpose()?;
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    if ids.is_empty() {
        return Ok(FailOutcome::default());
    }
    let g = |e| db("outbox.fail", e);
    let mut tx = pool.begin().await.map_err(g)?;
    let owned: Vec<i64> = sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $1, claimed_by = NULL, \
         claimed_until = NULL, next_attempt_at = $2 WHERE claimed_by = $3 AND id = ANY($4) \
         RETURNING id",
    )
    .bind(clip_error(&f.error))
    .bind(retry_at.unwrap_or(now))
    .bind(worker)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await
    .map_err(g)?
    .iter()
    .map(|r| r.try_get::<i64, _>(0))
    .collect::<Result<_, _>>()
    .map_err(g)?;
    let dead = sqlx::query(
        "WITH moved AS (DELETE FROM outbox WHERE id = ANY($1) AND ($2 OR attempts >= $3) \
         RETURNING id, customer_id, kind, payload, created_at, attempts, last_error) \
         INSERT INTO outbox_dead (id, customer_id, kind, payload, created_at, attempts, last_error, died_at) \
         SELECT id, customer_id, kind, payload, created_at, attempts, last_error, $4 FROM moved",
    )
    .bind(&owned)
    .bind(retry_at.is_none())
    .bind(i32::try_from(f.max_attempts).unwrap_or(i32::MAX))
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(g)?
    .rows_affected();
    tx.commit().await.map_err(g)?;
    Ok(FailOutcome {
        retrying: (owned.len() as u64).saturating_sub(dead),
        dead,
    })
}

pub(super) async fn list(
    pool: &PgPool,
    which: OutboxList,
    after: Option<OutboxId>,
    limit: u32,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxItem>> {
    let limit = page_limit(limit)?;
    let now = to_ns(now)?;
    let sql = match which {
        OutboxList::Pending => concat!(
            "SELECT ",
            item_cols!(),
            " FROM outbox WHERE id > $1 ORDER BY id LIMIT $2"
        ),
        OutboxList::Dead => {
            "SELECT id, customer_id, kind, payload, created_at, attempts, \
             died_at AS next_attempt_at, NULL::TEXT AS claimed_by, NULL::BIGINT AS claimed_until, \
             last_error, died_at FROM outbox_dead WHERE id > $1 ORDER BY id LIMIT $2"
        }
    };
    let rows = sqlx::query(sql)
        .bind(after.map_or(0, |a| a.0))
        .bind(limit)
        .fetch_all(pool)
        .await
        .map_err(|e| db("outbox.list", e))?;
    rows.iter().map(|r| raw(r)?.into_item(now)).collect()
}

pub(super) async fn retry_dead(
    pool: &PgPool,
    id: OutboxId,
    now: DateTime<Utc>,
) -> Result<OutboxId> {
    let now = to_ns(now)?;
    let g = |e| db("outbox.retry", e);
    let mut tx = pool.begin().await.map_err(g)?;
    let customer: String = sqlx::query("SELECT customer_id FROM outbox_dead WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(g)?
        .ok_or_else(|| Error::not_found(format!("no dead letter {id}")))?
        .try_get(0)
        .map_err(g)?;
    if !lock_customer(&mut tx, &customer, "outbox.retry").await? {
        return Err(Error::not_found(format!(
            "the customer of dead letter {id} is gone"
        )));
    }
    let row = sqlx::query("DELETE FROM outbox_dead WHERE id = $1 RETURNING kind, payload")
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(g)?
        .ok_or_else(|| Error::not_found(format!("no dead letter {id}")))?;
    let kind: String = row.try_get(0).map_err(g)?;
    let payload: serde_json::Value = row.try_get(1).map_err(g)?;
    let new_id = enqueue_in(&mut tx, &customer, OutboxKind::parse(&kind)?, &payload, now).await?;
    tx.commit().await.map_err(g)?;
    Ok(OutboxId(new_id))
}

pub(super) async fn stats(pool: &PgPool, now: DateTime<Utc>) -> Result<OutboxStats> {
    let now = to_ns(now)?;
    let g = |e| db("outbox.stats", e);
    let row = sqlx::query(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE claimed_until > $1), MIN(created_at), \
         COUNT(DISTINCT customer_id), (SELECT COUNT(*) FROM outbox_dead) FROM outbox",
    )
    .bind(now)
    .fetch_one(pool)
    .await
    .map_err(g)?;
    let n = |i: usize| -> Result<u64> { Ok(row.try_get::<i64, _>(i).map_err(g)?.max(0) as u64) };
    let oldest: Option<i64> = row.try_get(2).map_err(g)?;
    Ok(OutboxStats {
        depth: n(0)?,
        in_flight: n(1)?,
        customers: n(3)?,
        dead: n(4)?,
        oldest_age: oldest
            .map(|t| std::time::Duration::from_nanos(now.saturating_sub(t).max(0) as u64)),
    })
}

/// One resync page in one transaction: lock the page of customers by insertion order (so a
/// claim in progress finishes first, as for any enqueue), then queue a `customer` item for
/// each that has none waiting.
pub(super) async fn enqueue_resync(pool: &PgPool, req: &ResyncRequest) -> Result<ResyncPage> {
    const OP: &str = "outbox.resync";
    let limit = resync_limit(req.limit)?;
    let now = to_ns(req.now)?;
    let after = req.after.map_or(0, |c| c.0);
    let only = req.customer.as_ref().map(|c| c.as_str().to_owned());
    let mut tx = pool.begin().await.map_err(|e| db(OP, e))?;
    let seqs: Vec<i64> = sqlx::query_scalar(
        "SELECT seq FROM customers WHERE seq > $1 AND ($2::TEXT IS NULL OR id = $2) \
         ORDER BY seq LIMIT $3 FOR NO KEY UPDATE",
    )
    .bind(after)
    .bind(only.as_deref())
    .bind(limit)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| db(OP, e))?;
    let Some(&last) = seqs.last() else {
        return Ok(ResyncPage::default());
    };
    let queued = sqlx::query(
        "INSERT INTO outbox (customer_id, kind, payload, created_at, next_attempt_at) \
         SELECT c.id, $1, $2, $3, $3 FROM customers c \
         WHERE c.seq > $4 AND c.seq <= $5 AND ($6::TEXT IS NULL OR c.id = $6) \
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.customer_id = c.id AND o.kind = $1) \
         ORDER BY c.seq",
    )
    .bind(OutboxKind::Customer.as_str())
    .bind(resync_payload())
    .bind(now)
    .bind(after)
    .bind(last)
    .bind(only.as_deref())
    .execute(&mut *tx)
    .await
    .map_err(|e| db(OP, e))?
    .rows_affected();
    tx.commit().await.map_err(|e| db(OP, e))?;
    let scanned = seqs.len() as u64;
    Ok(ResyncPage {
        scanned,
        queued,
        next: (scanned == limit as u64 && only.is_none()).then_some(ResyncCursor(last)),
    })
}
