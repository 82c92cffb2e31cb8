//! The outbox statements: the SQL text each backend supplies ([`OutboxStatements`]) for what
//! both run alike, the steps where they differ (a claim's locking, id lists as arrays or JSON),
//! and the one way the shared logic binds and decodes the rest ([`OutboxSql`]'s provided
//! methods).

use walletport_core::{Error, Result};

use super::run::{Runner, all, optional, params, read_all, read_optional};
use crate::outbox::{ClaimRow, OutboxKind, OutboxList, RawOutbox, resync_payload};

/// The next `$2` customers due at `$1`: whose oldest item is due and that no live lease holds,
/// taken in the order their heads fell due, and returned oldest head first. One text for both
/// dialects (sqlx binds SQLite's `$n` by number too).
///
/// Walks `outbox_due (next_attempt_at, id)` from the earliest due item and keeps an item that
/// holds no live lease, is its customer's head (no older item, an `outbox_customer` probe) and
/// whose customer no live lease holds (a probe of `outbox_leased`, which holds only leased items),
/// up to the limit; those are then ordered by
/// id. Items waiting for a retry are past the end of the walk, so a claim reads the leased and
/// blocked items ahead of the first free heads, never the backlog: not the whole outbox as the
/// first `GROUP BY customer_id` did, nor every head backing off in a vendor outage as the walk
/// in id order did (docs/benchmarks.md, "Outbox claim against a large backlog"). Fresh items
/// fall due when written, so in due order they are in id order; a head retried later waits
/// behind what fell due before its retry.
pub(crate) const CANDIDATES: &str = "SELECT w.customer_id FROM (SELECT o.id, o.customer_id \
    FROM outbox o WHERE o.next_attempt_at <= $1 AND COALESCE(o.claimed_until, 0) <= $1 \
    AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.customer_id = o.customer_id AND p.id < o.id) \
    AND NOT EXISTS (SELECT 1 FROM outbox l WHERE l.customer_id = o.customer_id \
    AND l.claimed_until IS NOT NULL AND l.claimed_until > $1) \
    ORDER BY o.next_attempt_at, o.id LIMIT $2) w ORDER BY w.id";

/// One backend's SQL text for the outbox statements both backends run alike.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutboxStatements {
    /// Waiting items ([`RawOutbox`]) with an id above (1), at most (2), by id.
    pub(crate) pending: &'static str,
    /// Dead letters as [`RawOutbox`] with an id above (1), at most (2), by id.
    pub(crate) dead: &'static str,
    /// The customer of dead letter (1).
    pub(crate) dead_customer: &'static str,
    /// Deletes dead letter (1), returning its kind and payload as text.
    pub(crate) take_dead: &'static str,
    /// Items, in-flight items (lease after (1)), distinct customers, dead letters and the oldest
    /// item's `created_at`, in one row.
    pub(crate) stats: &'static str,
    /// Queues kind (1) with payload (2) at (3) for each customer with `seq` in `((4), (5)]`
    /// (only customer (6), if not null) that has no item of that kind waiting.
    pub(crate) queue_resync: &'static str,
}

/// A lease to give: to `worker`, until `until` (ns).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lease<'a> {
    /// The claiming worker.
    pub(crate) worker: &'a str,
    /// When the lease ends.
    pub(crate) until: i64,
}

/// A failed delivery to record: `worker`'s attempt failed with `error`; due again at `next_at`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Release<'a> {
    /// The worker that held the items.
    pub(crate) worker: &'a str,
    /// The error text (already clipped).
    pub(crate) error: &'a str,
    /// When the items are due again (ns).
    pub(crate) next_at: i64,
}

/// One resync page: the customers after `seq` `after` (only `only`, if given), at most `limit`,
/// queued at `now`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resync<'a> {
    /// The `seq` the page starts after.
    pub(crate) after: i64,
    /// One customer's CRM id, or every customer.
    pub(crate) only: Option<&'a str>,
    /// Customers per page.
    pub(crate) limit: i64,
    /// Enqueued and due at (ns).
    pub(crate) now: i64,
}

/// The outbox statements of one database.
pub(crate) trait OutboxSql: Runner {
    /// The backend's SQL text for the statements both run alike.
    const OUTBOX: OutboxStatements;

    /// Candidates a claim reads per item it may take: more than one where other workers may
    /// hold some of them (PostgreSQL skips locked customers).
    const CLAIM_OVERFETCH: i64;

    /// The next `limit` customers due at `now` ([`CANDIDATES`]), oldest head first.
    fn claim_candidates(
        conn: &mut Self::Conn,
        now: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<String>>> + Send {
        async move {
            let (sql, params) = (CANDIDATES, params![now, limit]);
            let rows: Vec<(String,)> = all::<Self, _>(conn, "outbox.claim", sql, params).await?;
            Ok(rows.into_iter().map(|(c,)| c).collect())
        }
    }

    /// Of the customers `ids`, those this transaction now holds, in the same order (PostgreSQL:
    /// the rows it could lock without waiting; SQLite: all).
    fn hold_customers(
        conn: &mut Self::Conn,
        ids: Vec<String>,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;

    /// The oldest `each` outbox rows of each of these customers, as the claim plan needs them:
    /// a claim takes at most `each` items, so a customer with 100,000 waiting costs it `each`
    /// rows, not 100,000.
    fn claim_rows(
        conn: &mut Self::Conn,
        customers: &[String],
        each: i64,
    ) -> impl Future<Output = Result<Vec<ClaimRow>>> + Send;

    /// Leases the items `ids`; returns them (in any order).
    fn lease(
        conn: &mut Self::Conn,
        ids: &[i64],
        to: Lease<'_>,
    ) -> impl Future<Output = Result<Vec<RawOutbox>>> + Send;

    /// Deletes the items `ids` that `worker` holds; returns how many.
    fn delete_held(&self, worker: &str, ids: &[i64]) -> impl Future<Output = Result<u64>> + Send;

    /// Of the items `ids`, those `worker` holds: releases the lease and makes them due at
    /// `due_at` (ns), counting no attempt and keeping the last error; returns how many.
    fn hand_back(
        &self,
        worker: &str,
        ids: &[i64],
        due_at: i64,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Of the items `ids`, those the failure's worker holds: counts an attempt, records the
    /// error, releases the lease and makes them due again; returns their ids.
    fn release(
        conn: &mut Self::Conn,
        ids: &[i64],
        r: Release<'_>,
    ) -> impl Future<Output = Result<Vec<i64>>> + Send;

    /// Moves those of the items `ids` with at least `min_attempts` attempts to the dead letters
    /// (at `now`); returns how many moved.
    fn bury(
        conn: &mut Self::Conn,
        ids: &[i64],
        min_attempts: u32,
        now: i64,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Waiting items or dead letters with an id above `after`, at most `limit`, by id.
    fn items(
        &self,
        list: OutboxList,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RawOutbox>>> + Send {
        let sql = match list {
            OutboxList::Pending => Self::OUTBOX.pending,
            OutboxList::Dead => Self::OUTBOX.dead,
        };
        async move { read_all(self, "outbox.list", sql, params![after, limit]).await }
    }

    /// The customer of dead letter `id`.
    fn dead_customer(
        conn: &mut Self::Conn,
        id: i64,
    ) -> impl Future<Output = Result<Option<String>>> + Send {
        async move {
            let sql = Self::OUTBOX.dead_customer;
            let row: Option<(String,)> =
                optional::<Self, _>(conn, "outbox.retry", sql, params![id]).await?;
            Ok(row.map(|(c,)| c))
        }
    }

    /// Deletes dead letter `id`; returns its kind and payload (JSON text).
    fn take_dead(
        conn: &mut Self::Conn,
        id: i64,
    ) -> impl Future<Output = Result<Option<(String, String)>>> + Send {
        async move {
            let sql = Self::OUTBOX.take_dead;
            optional::<Self, _>(conn, "outbox.retry", sql, params![id]).await
        }
    }

    /// Items, in-flight items (lease after `now`), distinct customers, dead letters and the
    /// oldest item's `created_at`, in one query.
    fn stats_row(&self, now: i64) -> impl Future<Output = Result<([i64; 4], Option<i64>)>> + Send {
        async move {
            const OP: &str = "outbox.stats";
            let row: Option<(i64, i64, i64, i64, Option<i64>)> =
                read_optional(self, OP, Self::OUTBOX.stats, params![now]).await?;
            let (depth, in_flight, customers, dead, oldest) =
                row.ok_or_else(|| Error::unexpected("the outbox statistics returned no row"))?;
            Ok(([depth, in_flight, customers, dead], oldest))
        }
    }

    /// How many customers the page holds and the last one's `seq`; PostgreSQL locks them, as
    /// any enqueue does.
    fn resync_page(
        conn: &mut Self::Conn,
        page: &Resync<'_>,
    ) -> impl Future<Output = Result<(i64, Option<i64>)>> + Send;

    /// Queues a resync `customer` item for each customer of the page up to `seq` `last` that
    /// has no `customer` item waiting; returns how many.
    fn queue_resync(
        conn: &mut Self::Conn,
        page: &Resync<'_>,
        last: i64,
    ) -> impl Future<Output = Result<u64>> + Send {
        async move {
            let (kind, payload) = (OutboxKind::Customer.as_str(), resync_payload().to_string());
            let params = params![kind, payload, page.now, page.after, last, page.only];
            Self::execute(conn, "outbox.resync", Self::OUTBOX.queue_resync, params).await
        }
    }
}
