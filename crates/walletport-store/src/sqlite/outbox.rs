//! The outbox on SQLite. Claims run in one `BEGIN IMMEDIATE` transaction: SQLite has one writer
//! at a time, so two claims never see the same free customer.

use chrono::{DateTime, Utc};
use sqlx::Row as _;
use sqlx::sqlite::{SqlitePool, SqliteRow};
use walletport_core::{Error, Result};

use super::customers::enqueue_in;
use super::{Db, begin};
use crate::codec::{parse_json, to_ns};
use crate::error::db;
use crate::outbox::{
    ClaimRequest, ClaimRow, FailOutcome, Failure, NewOutboxItem, OutboxId, OutboxItem, OutboxList,
    OutboxStats, RawOutbox, ResyncCursor, ResyncPage, ResyncRequest, clip_error, page_limit,
    plan_claim, resync_limit, resync_payload, validate_worker,
};

macro_rules! item_cols {
    () => {
        "id, customer_id, kind, payload, created_at, attempts, next_attempt_at, claimed_by, \
         claimed_until, last_error, NULL AS died_at"
    };
}

/// Decodes an outbox or dead-letter row selected with `item_cols!`.
fn raw(row: &SqliteRow) -> Result<RawOutbox> {
    let g = |e| db("outbox.decode", e);
    let payload: String = row.try_get("payload").map_err(g)?;
    Ok(RawOutbox {
        id: row.try_get("id").map_err(g)?,
        customer_id: row.try_get("customer_id").map_err(g)?,
        kind: row.try_get("kind").map_err(g)?,
        payload: parse_json(&payload)?,
        created_at: row.try_get("created_at").map_err(g)?,
        attempts: row.try_get("attempts").map_err(g)?,
        next_attempt_at: row.try_get("next_attempt_at").map_err(g)?,
        claimed_by: row.try_get("claimed_by").map_err(g)?,
        claimed_until: row.try_get("claimed_until").map_err(g)?,
        last_error: row.try_get("last_error").map_err(g)?,
        died_at: row.try_get("died_at").map_err(g)?,
    })
}

/// Ids as a JSON array, for `json_each`.
fn id_list(ids: &[i64]) -> String {
    serde_json::Value::from(ids.to_vec()).to_string()
}

/// [`Store::enqueue`](crate::Store::enqueue): an item for an existing customer.
pub(super) async fn enqueue(
    store: &Db,
    item: &NewOutboxItem,
    now: DateTime<Utc>,
) -> Result<OutboxId> {
    let now = to_ns(now)?;
    let mut tx = begin(store, "outbox.enqueue").await?;
    let exists = sqlx::query("SELECT 1 FROM customers WHERE id = ?")
        .bind(item.customer_id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| db("outbox.enqueue", e))?;
    if exists.is_none() {
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

/// [`Store::claim_batch`](crate::Store::claim_batch) in one write transaction.
pub(super) async fn claim(store: &Db, req: &ClaimRequest) -> Result<Vec<OutboxItem>> {
    req.validate()?;
    let now = to_ns(req.now)?;
    let until = crate::codec::expiry_ns(now, Some(req.lease)).unwrap_or(i64::MAX);
    let limit = i64::from(req.limit);
    let mut tx = begin(store, "outbox.claim").await?;
    let candidates: Vec<String> = sqlx::query(
        "SELECT h.customer_id FROM (SELECT customer_id, MIN(id) AS head, \
         MAX(COALESCE(claimed_until, 0)) AS lease FROM outbox GROUP BY customer_id) h \
         JOIN outbox o ON o.id = h.head WHERE h.lease <= ?1 AND o.next_attempt_at <= ?1 \
         ORDER BY h.head LIMIT ?2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| db("outbox.claim", e))?
    .iter()
    .map(|r| r.try_get::<String, _>(0))
    .collect::<Result<_, _>>()
    .map_err(|e| db("outbox.claim", e))?;
    if candidates.is_empty() {
        // Ends the transaction now (a dropped one rolls back later, after the write turn).
        tx.commit().await.map_err(|e| db("outbox.claim", e))?;
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT id, customer_id, next_attempt_at, claimed_until FROM outbox \
         WHERE customer_id IN (SELECT value FROM json_each(?)) ORDER BY id",
    )
    .bind(serde_json::Value::from(candidates.clone()).to_string())
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| db("outbox.claim", e))?
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
    .map_err(|e| db("outbox.claim", e))?;
    let ids = plan_claim(&candidates, &rows, now, req.limit as usize);
    if ids.is_empty() {
        tx.commit().await.map_err(|e| db("outbox.claim", e))?;
        return Ok(Vec::new());
    }
    let list = id_list(&ids);
    sqlx::query(
        "UPDATE outbox SET claimed_by = ?, claimed_until = ? \
         WHERE id IN (SELECT value FROM json_each(?))",
    )
    .bind(&req.worker)
    .bind(until)
    .bind(&list)
    .execute(&mut *tx)
    .await
    .map_err(|e| db("outbox.claim", e))?;
    let items = sqlx::query(concat!(
        "SELECT ",
        item_cols!(),
        " FROM outbox WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id"
    ))
    .bind(&list)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| db("outbox.claim", e))?;
    tx.commit().await.map_err(|e| db("outbox.claim", e))?;
    items.iter().map(|r| raw(r)?.into_item(now)).collect()
}

/// [`Store::complete`](crate::Store::complete): removes what `worker` still holds.
pub(super) async fn complete(store: &Db, worker: &str, ids: &[OutboxId]) -> Result<u64> {
    validate_worker(worker)?;
    if ids.is_empty() {
        return Ok(0);
    }
    let list = id_list(&ids.iter().map(|i| i.0).collect::<Vec<_>>());
    let _turn = store.turn().await;
    let done = sqlx::query(
        "DELETE FROM outbox WHERE claimed_by = ? AND id IN (SELECT value FROM json_each(?))",
    )
    .bind(worker)
    .bind(list)
    .execute(&store.pool)
    .await
    .map_err(|e| db("outbox.complete", e))?;
    Ok(done.rows_affected())
}

/// [`Store::fail`](crate::Store::fail): a retry or a dead letter per item.
pub(super) async fn fail(
    store: &Db,
    worker: &str,
    ids: &[OutboxId],
    f: &Failure,
) -> Result<FailOutcome> {
    validate_worker(worker)?;
    f.validate()?;
    let now = to_ns(f.now)?;
    let retry_at = f.retry_at.map(to_ns).transpose()?;
    if ids.is_empty() {
        return Ok(FailOutcome::default());
    }
    let list = id_list(&ids.iter().map(|i| i.0).collect::<Vec<_>>());
    let error = clip_error(&f.error);
    let mut tx = begin(store, "outbox.fail").await?;
    let owned: Vec<i64> = sqlx::query(
        "SELECT id FROM outbox WHERE claimed_by = ? AND id IN (SELECT value FROM json_each(?))",
    )
    .bind(worker)
    .bind(&list)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| db("outbox.fail", e))?
    .iter()
    .map(|r| r.try_get(0))
    .collect::<Result<_, _>>()
    .map_err(|e| db("outbox.fail", e))?;
    if owned.is_empty() {
        return Ok(FailOutcome::default());
    }
    let total = owned.len() as u64;
    let owned = id_list(&owned);
    sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, claimed_by = NULL, \
         claimed_until = NULL, next_attempt_at = ? WHERE id IN (SELECT value FROM json_each(?))",
    )
    .bind(&error)
    .bind(retry_at.unwrap_or(now))
    .bind(&owned)
    .execute(&mut *tx)
    .await
    .map_err(|e| db("outbox.fail", e))?;
    let permanent = retry_at.is_none();
    let dead = sqlx::query(
        "INSERT INTO outbox_dead (id, customer_id, kind, payload, created_at, attempts, last_error, died_at) \
         SELECT id, customer_id, kind, payload, created_at, attempts, last_error, ? FROM outbox \
         WHERE id IN (SELECT value FROM json_each(?)) AND (? OR attempts >= ?)",
    )
    .bind(now)
    .bind(&owned)
    .bind(permanent)
    .bind(i64::from(f.max_attempts))
    .execute(&mut *tx)
    .await
    .map_err(|e| db("outbox.fail", e))?
    .rows_affected();
    sqlx::query(
        "DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?)) AND (? OR attempts >= ?)",
    )
    .bind(&owned)
    .bind(permanent)
    .bind(i64::from(f.max_attempts))
    .execute(&mut *tx)
    .await
    .map_err(|e| db("outbox.fail", e))?;
    tx.commit().await.map_err(|e| db("outbox.fail", e))?;
    Ok(FailOutcome {
        retrying: total.saturating_sub(dead),
        dead,
    })
}

/// [`Store::list_outbox`](crate::Store::list_outbox): by ascending id.
pub(super) async fn list(
    pool: &SqlitePool,
    which: OutboxList,
    after: Option<OutboxId>,
    limit: u32,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxItem>> {
    let limit = page_limit(limit)?;
    let now = to_ns(now)?;
    let sql = match which {
        OutboxList::Pending => {
            concat!(
                "SELECT ",
                item_cols!(),
                " FROM outbox WHERE id > ? ORDER BY id LIMIT ?"
            )
        }
        OutboxList::Dead => {
            "SELECT id, customer_id, kind, payload, created_at, attempts, died_at AS next_attempt_at, \
             NULL AS claimed_by, NULL AS claimed_until, last_error, died_at \
             FROM outbox_dead WHERE id > ? ORDER BY id LIMIT ?"
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

/// [`Store::retry_dead`](crate::Store::retry_dead): the dead letter back as a new item.
pub(super) async fn retry_dead(store: &Db, id: OutboxId, now: DateTime<Utc>) -> Result<OutboxId> {
    let now = to_ns(now)?;
    let mut tx = begin(store, "outbox.retry").await?;
    let row = sqlx::query("SELECT customer_id, kind, payload FROM outbox_dead WHERE id = ?")
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| db("outbox.retry", e))?
        .ok_or_else(|| Error::not_found(format!("no dead letter {id}")))?;
    let g = |e| db("outbox.retry", e);
    let customer: String = row.try_get(0).map_err(g)?;
    let kind: String = row.try_get(1).map_err(g)?;
    let payload: String = row.try_get(2).map_err(g)?;
    let kind = crate::outbox::OutboxKind::parse(&kind)?;
    let new_id = enqueue_in(&mut tx, &customer, kind, &parse_json(&payload)?, now).await?;
    sqlx::query("DELETE FROM outbox_dead WHERE id = ?")
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(g)?;
    tx.commit().await.map_err(g)?;
    Ok(OutboxId(new_id))
}

/// [`Store::outbox_stats`](crate::Store::outbox_stats) in one query.
pub(super) async fn stats(pool: &SqlitePool, now: DateTime<Utc>) -> Result<OutboxStats> {
    let now = to_ns(now)?;
    let g = |e| db("outbox.stats", e);
    let row = sqlx::query(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN claimed_until > ? THEN 1 ELSE 0 END), 0), \
         MIN(created_at), COUNT(DISTINCT customer_id), (SELECT COUNT(*) FROM outbox_dead) FROM outbox",
    )
    .bind(now)
    .fetch_one(pool)
    .await
    .map_err(g)?;
    let oldest: Option<i64> = row.try_get(2).map_err(g)?;
    Ok(OutboxStats {
        depth: row.try_get::<i64, _>(0).map_err(g)?.max(0) as u64,
        in_flight: row.try_get::<i64, _>(1).map_err(g)?.max(0) as u64,
        customers: row.try_get::<i64, _>(3).map_err(g)?.max(0) as u64,
        dead: row.try_get::<i64, _>(4).map_err(g)?.max(0) as u64,
        oldest_age: oldest
            .map(|t| std::time::Duration::from_nanos(now.saturating_sub(t).max(0) as u64)),
    })
}

/// One resync page in one write transaction: read the page of customers by insertion order,
/// then queue a `customer` item for each that has none waiting.
pub(super) async fn enqueue_resync(store: &Db, req: &ResyncRequest) -> Result<ResyncPage> {
    const OP: &str = "outbox.resync";
    let limit = resync_limit(req.limit)?;
    let now = to_ns(req.now)?;
    let after = req.after.map_or(0, |c| c.0);
    let only = req.customer.as_ref().map(|c| c.as_str().to_owned());
    let mut tx = begin(store, OP).await?;
    let page = sqlx::query(
        "SELECT count(*) AS n, max(seq) AS last FROM \
         (SELECT seq FROM customers WHERE seq > ?1 AND (?2 IS NULL OR id = ?2) \
          ORDER BY seq LIMIT ?3)",
    )
    .bind(after)
    .bind(only.as_deref())
    .bind(limit)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| db(OP, e))?;
    let scanned: i64 = page.try_get("n").map_err(|e| db(OP, e))?;
    let last: Option<i64> = page.try_get("last").map_err(|e| db(OP, e))?;
    let Some(last) = last else {
        return Ok(ResyncPage::default());
    };
    let queued = sqlx::query(
        "INSERT INTO outbox (customer_id, kind, payload, created_at, next_attempt_at) \
         SELECT c.id, ?1, ?2, ?3, ?3 FROM customers c \
         WHERE c.seq > ?4 AND c.seq <= ?5 AND (?6 IS NULL OR c.id = ?6) \
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.customer_id = c.id AND o.kind = ?1) \
         ORDER BY c.seq",
    )
    .bind(crate::outbox::OutboxKind::Customer.as_str())
    .bind(resync_payload().to_string())
    .bind(now)
    .bind(after)
    .bind(last)
    .bind(only.as_deref())
    .execute(&mut *tx)
    .await
    .map_err(|e| db(OP, e))?
    .rows_affected();
    tx.commit().await.map_err(|e| db(OP, e))?;
    let scanned = u64::try_from(scanned).unwrap_or(0);
    Ok(ResyncPage {
        scanned,
        queued,
        next: (scanned == limit as u64 && only.is_none()).then_some(ResyncCursor(last)),
    })
}
