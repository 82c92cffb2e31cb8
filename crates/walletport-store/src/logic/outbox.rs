//! The outbox: the logic of both backends, over the statements of [`OutboxSql`].
//!
//! A claim takes whole customers, oldest first ([`plan_claim`]); how a backend keeps two workers
//! off one customer differs: SQLite's claim is one write transaction (one writer at a time);
//! PostgreSQL locks the candidates' customer rows with `SKIP LOCKED` and reads their items under
//! that lock, so a writer enqueuing for one of them waits for the claim to commit.

use chrono::{DateTime, Utc};
use walletport_core::{Error, Result};

use super::Enqueue;
use super::outbox_sql::{Lease, OutboxSql, Release, Resync};
use crate::codec::{check_json, expiry_ns, parse_json, to_ns};
use crate::outbox::{
    ClaimRequest, FailOutcome, Failure, NewOutboxItem, OutboxId, OutboxItem, OutboxKind,
    OutboxList, OutboxStats, ResyncCursor, ResyncPage, ResyncRequest, clip_error, page_limit,
    plan_claim, resync_limit, validate_worker,
};

/// [`Store::enqueue`](crate::Store::enqueue): an item for an existing customer.
pub(crate) async fn enqueue<D: OutboxSql>(
    d: &D,
    item: &NewOutboxItem,
    now: DateTime<Utc>,
) -> Result<OutboxId> {
    const OP: &str = "outbox.enqueue";
    check_json("outbox payload", &item.payload)?;
    let now = to_ns(now)?;
    let customer = item.customer_id.as_str();
    let mut tx = d.begin(OP).await?;
    if !D::lock_customer(&mut tx, customer, OP).await? {
        return Err(Error::not_found(format!("no customer `{customer}`")));
    }
    let id = D::enqueue_in(
        &mut tx,
        &Enqueue::new(customer, item.kind, &item.payload, now),
    )
    .await?;
    D::commit(tx, OP).await?;
    Ok(OutboxId(id))
}

/// [`Store::claim_batch`](crate::Store::claim_batch) in one transaction.
pub(crate) async fn claim<D: OutboxSql>(d: &D, req: &ClaimRequest) -> Result<Vec<OutboxItem>> {
    const OP: &str = "outbox.claim";
    req.validate()?;
    let now = to_ns(req.now)?;
    let until = expiry_ns(now, Some(req.lease)).unwrap_or(i64::MAX);
    let mut tx = d.begin(OP).await?;
    let limit = i64::from(req.limit) * D::CLAIM_OVERFETCH;
    let candidates = D::claim_candidates(&mut tx, now, limit).await?;
    let candidates = if candidates.is_empty() {
        candidates
    } else {
        D::hold_customers(&mut tx, candidates).await?
    };
    if candidates.is_empty() {
        D::end_unwritten(tx, OP).await?;
        return Ok(Vec::new());
    }
    // Read after holding them: everything committed for these customers is in view.
    let rows = D::claim_rows(&mut tx, &candidates, i64::from(req.limit)).await?;
    let ids = plan_claim(&candidates, &rows, now, req.limit as usize);
    if ids.is_empty() {
        D::end_unwritten(tx, OP).await?;
        return Ok(Vec::new());
    }
    let lease = Lease {
        worker: &req.worker,
        until,
    };
    let items = D::lease(&mut tx, &ids, lease).await?;
    D::commit(tx, OP).await?;
    let mut items = items
        .into_iter()
        .map(|r| r.into_item(now))
        .collect::<Result<Vec<_>>>()?;
    items.sort_by_key(|i| i.id);
    Ok(items)
}

/// [`Store::complete`](crate::Store::complete): removes what `worker` still holds.
pub(crate) async fn complete<D: OutboxSql>(d: &D, worker: &str, ids: &[OutboxId]) -> Result<u64> {
    validate_worker(worker)?;
    if ids.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    d.delete_held(worker, &ids).await
}

/// [`Store::release`](crate::Store::release): hands back what `worker` still holds, due at
/// `due_at`; no attempt is counted (nothing was tried) and the last error stays.
pub(crate) async fn release<D: OutboxSql>(
    d: &D,
    worker: &str,
    ids: &[OutboxId],
    due_at: DateTime<Utc>,
) -> Result<u64> {
    validate_worker(worker)?;
    let due_at = to_ns(due_at)?;
    if ids.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    d.hand_back(worker, &ids, due_at).await
}

/// [`Store::fail`](crate::Store::fail): a retry or a dead letter per item.
pub(crate) async fn fail<D: OutboxSql>(
    d: &D,
    worker: &str,
    ids: &[OutboxId],
    f: &Failure,
) -> Result<FailOutcome> {
    const OP: &str = "outbox.fail";
    validate_worker(worker)?;
    f.validate()?;
    let now = to_ns(f.now)?;
    let retry_at = f.retry_at.map(to_ns).transpose()?;
    if ids.is_empty() {
        return Ok(FailOutcome::default());
    }
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    let error = clip_error(&f.error);
    let mut tx = d.begin(OP).await?;
    let release = Release {
        worker,
        error: &error,
        next_at: retry_at.unwrap_or(now),
    };
    let owned = D::release(&mut tx, &ids, release).await?;
    if owned.is_empty() {
        D::end_unwritten(tx, OP).await?;
        return Ok(FailOutcome::default());
    }
    // A permanent failure buries every item (each has at least the attempt just counted).
    let min_attempts = if retry_at.is_none() {
        0
    } else {
        f.max_attempts
    };
    let dead = D::bury(&mut tx, &owned, min_attempts, now).await?;
    D::commit(tx, OP).await?;
    Ok(FailOutcome {
        retrying: (owned.len() as u64).saturating_sub(dead),
        dead,
    })
}

/// [`Store::list_outbox`](crate::Store::list_outbox): by ascending id.
pub(crate) async fn list<D: OutboxSql>(
    d: &D,
    which: OutboxList,
    after: Option<OutboxId>,
    limit: u32,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxItem>> {
    let limit = page_limit(limit)?;
    let now = to_ns(now)?;
    let rows = d.items(which, after.map_or(0, |a| a.0), limit).await?;
    rows.into_iter().map(|r| r.into_item(now)).collect()
}

/// [`Store::retry_dead`](crate::Store::retry_dead): the dead letter back as a new item, under
/// its customer's lock like any enqueue.
pub(crate) async fn retry_dead<D: OutboxSql>(
    d: &D,
    id: OutboxId,
    now: DateTime<Utc>,
) -> Result<OutboxId> {
    const OP: &str = "outbox.retry";
    let now = to_ns(now)?;
    let gone = || Error::not_found(format!("no dead letter {id}"));
    let mut tx = d.begin(OP).await?;
    let customer = D::dead_customer(&mut tx, id.0).await?.ok_or_else(gone)?;
    if !D::lock_customer(&mut tx, &customer, OP).await? {
        return Err(Error::not_found(format!(
            "the customer of dead letter {id} is gone"
        )));
    }
    let (kind, payload) = D::take_dead(&mut tx, id.0).await?.ok_or_else(gone)?;
    let (kind, payload) = (OutboxKind::parse(&kind)?, parse_json(&payload)?);
    let new_id = D::enqueue_in(&mut tx, &Enqueue::new(&customer, kind, &payload, now)).await?;
    D::commit(tx, OP).await?;
    Ok(OutboxId(new_id))
}

/// [`Store::outbox_stats`](crate::Store::outbox_stats) in one query.
pub(crate) async fn stats<D: OutboxSql>(d: &D, now: DateTime<Utc>) -> Result<OutboxStats> {
    let now = to_ns(now)?;
    let ([depth, in_flight, customers, dead], oldest) = d.stats_row(now).await?;
    let count = |n: i64| n.max(0) as u64;
    Ok(OutboxStats {
        depth: count(depth),
        in_flight: count(in_flight),
        customers: count(customers),
        dead: count(dead),
        oldest_age: oldest
            .map(|t| std::time::Duration::from_nanos(now.saturating_sub(t).max(0) as u64)),
    })
}

/// [`Store::enqueue_resync`](crate::Store::enqueue_resync): one page in one transaction; read
/// (and hold) the page of customers by insertion order, then queue a `customer` item for each
/// that has none waiting.
pub(crate) async fn enqueue_resync<D: OutboxSql>(d: &D, req: &ResyncRequest) -> Result<ResyncPage> {
    const OP: &str = "outbox.resync";
    let page = Resync {
        after: req.after.map_or(0, |c| c.0),
        only: req.customer.as_ref().map(|c| c.as_str()),
        limit: resync_limit(req.limit)?,
        now: to_ns(req.now)?,
    };
    let (limit, only) = (page.limit, page.only);
    let mut tx = d.begin(OP).await?;
    let (scanned, last) = D::resync_page(&mut tx, &page).await?;
    let Some(last) = last else {
        return Ok(ResyncPage::default());
    };
    let queued = D::queue_resync(&mut tx, &page, last).await?;
    D::commit(tx, OP).await?;
    let scanned = u64::try_from(scanned).unwrap_or(0);
    Ok(ResyncPage {
        scanned,
        queued,
        next: (scanned == limit as u64 && only.is_none()).then_some(ResyncCursor(last)),
    })
}
