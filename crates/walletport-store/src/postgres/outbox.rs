//! The PostgreSQL dialect of the shared outbox logic ([`crate::logic::outbox`]). A claim locks
//! the candidate customers' rows with `FOR NO KEY UPDATE SKIP LOCKED`, then reads their items
//! under that lock: a customer is claimed by one worker at a time, and a writer enqueuing for
//! that customer waits for the claim to commit, so a claim never sees half of a customer's
//! history. Id lists are bound as arrays (`= ANY($n)`).

use sqlx::postgres::{PgConnection, PgPool};
use walletport_core::Result;

use crate::codec::parse_json;
use crate::logic::outbox::OutboxSql;
use crate::logic::{Cols as _, raw_outbox, sql};
use crate::outbox::{ClaimRow, OutboxKind, OutboxList, RawOutbox, resync_payload};

/// An item's columns, read as text and integers like SQLite's (see [`crate::logic`]).
macro_rules! item_cols {
    () => {
        "id, customer_id, kind, payload::text AS payload, created_at, \
         attempts::int8 AS attempts, next_attempt_at, claimed_by, claimed_until, last_error, \
         NULL::BIGINT AS died_at"
    };
}

impl OutboxSql for PgPool {
    const CLAIM_OVERFETCH: i64 = 4;

    async fn claim_candidates(
        conn: &mut PgConnection,
        now: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT h.customer_id FROM (SELECT customer_id, MIN(id) AS head, \
             MAX(COALESCE(claimed_until, 0)) AS lease FROM outbox GROUP BY customer_id) h \
             JOIN outbox o ON o.id = h.head WHERE h.lease <= $1 AND o.next_attempt_at <= $1 \
             ORDER BY h.head LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| crate::error::db("outbox.claim", e))
    }

    /// Locks those it can without waiting; keeps the candidates' order.
    async fn hold_customers(
        conn: &mut PgConnection,
        candidates: Vec<String>,
    ) -> Result<Vec<String>> {
        let rows = sql!(
            fetch_all(&mut *conn),
            "outbox.claim",
            "SELECT id FROM customers WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE SKIP LOCKED",
            &candidates,
        )?;
        let locked = rows
            .iter()
            .map(|r| r.text("id", "outbox.claim"))
            .collect::<Result<Vec<_>>>()?;
        Ok(candidates
            .into_iter()
            .filter(|c| locked.contains(c))
            .collect())
    }

    async fn claim_rows(conn: &mut PgConnection, customers: &[String]) -> Result<Vec<ClaimRow>> {
        const OP: &str = "outbox.claim";
        let rows = sql!(
            fetch_all(&mut *conn),
            OP,
            "SELECT id, customer_id, next_attempt_at, claimed_until FROM outbox \
             WHERE customer_id = ANY($1) ORDER BY id",
            customers,
        )?;
        rows.iter()
            .map(|r| {
                Ok(ClaimRow {
                    id: r.int("id", OP)?,
                    customer_id: r.text("customer_id", OP)?,
                    next_attempt_at: r.int("next_attempt_at", OP)?,
                    claimed_until: r.opt_int("claimed_until", OP)?,
                })
            })
            .collect()
    }

    /// One statement (`RETURNING`).
    async fn lease(
        conn: &mut PgConnection,
        worker: &str,
        until: i64,
        ids: &[i64],
    ) -> Result<Vec<RawOutbox>> {
        let rows = sql!(
            fetch_all(&mut *conn),
            "outbox.claim",
            concat!(
                "UPDATE outbox SET claimed_by = $1, claimed_until = $2 WHERE id = ANY($3) \
                 RETURNING ",
                item_cols!()
            ),
            worker,
            until,
            ids,
        )?;
        rows.iter().map(raw_outbox).collect()
    }

    async fn delete_held(&self, worker: &str, ids: &[i64]) -> Result<u64> {
        let done = sql!(
            execute(self),
            "outbox.complete",
            "DELETE FROM outbox WHERE claimed_by = $1 AND id = ANY($2)",
            worker,
            ids,
        )?;
        Ok(done.rows_affected())
    }

    /// One statement (`RETURNING`).
    async fn release_failed(
        conn: &mut PgConnection,
        worker: &str,
        ids: &[i64],
        error: &str,
        next_at: i64,
    ) -> Result<Vec<i64>> {
        let rows = sql!(
            fetch_all(&mut *conn),
            "outbox.fail",
            "UPDATE outbox SET attempts = attempts + 1, last_error = $1, claimed_by = NULL, \
             claimed_until = NULL, next_attempt_at = $2 WHERE claimed_by = $3 AND id = ANY($4) \
             RETURNING id",
            error,
            next_at,
            worker,
            ids,
        )?;
        rows.iter().map(|r| r.int("id", "outbox.fail")).collect()
    }

    /// One statement: a `DELETE ... RETURNING` feeding the insert.
    async fn bury(
        conn: &mut PgConnection,
        ids: &[i64],
        permanent: bool,
        max_attempts: u32,
        now: i64,
    ) -> Result<u64> {
        let done = sql!(
            execute(&mut *conn),
            "outbox.fail",
            "WITH moved AS (DELETE FROM outbox WHERE id = ANY($1) AND ($2 OR attempts >= $3) \
             RETURNING id, customer_id, kind, payload, created_at, attempts, last_error) \
             INSERT INTO outbox_dead (id, customer_id, kind, payload, created_at, attempts, \
             last_error, died_at) \
             SELECT id, customer_id, kind, payload, created_at, attempts, last_error, $4 FROM moved",
            ids,
            permanent,
            i32::try_from(max_attempts).unwrap_or(i32::MAX),
            now,
        )?;
        Ok(done.rows_affected())
    }

    async fn list_items(
        &self,
        which: OutboxList,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RawOutbox>> {
        let sql = match which {
            OutboxList::Pending => {
                concat!(
                    "SELECT ",
                    item_cols!(),
                    " FROM outbox WHERE id > $1 ORDER BY id LIMIT $2"
                )
            }
            OutboxList::Dead => {
                "SELECT id, customer_id, kind, payload::text AS payload, created_at, \
                 attempts::int8 AS attempts, died_at AS next_attempt_at, \
                 NULL::TEXT AS claimed_by, NULL::BIGINT AS claimed_until, last_error, died_at \
                 FROM outbox_dead WHERE id > $1 ORDER BY id LIMIT $2"
            }
        };
        let rows = sql!(fetch_all(self), "outbox.list", sql, after, limit)?;
        rows.iter().map(raw_outbox).collect()
    }

    async fn dead_customer(conn: &mut PgConnection, id: i64) -> Result<Option<String>> {
        let row = sql!(
            fetch_optional(&mut *conn),
            "outbox.retry",
            "SELECT customer_id FROM outbox_dead WHERE id = $1",
            id
        )?;
        row.map(|r| r.text("customer_id", "outbox.retry"))
            .transpose()
    }

    async fn take_dead(
        conn: &mut PgConnection,
        id: i64,
    ) -> Result<Option<(String, serde_json::Value)>> {
        const OP: &str = "outbox.retry";
        let row = sql!(
            fetch_optional(&mut *conn),
            OP,
            "DELETE FROM outbox_dead WHERE id = $1 RETURNING kind, payload::text AS payload",
            id
        )?;
        row.map(|r| Ok((r.text("kind", OP)?, parse_json(&r.text("payload", OP)?)?)))
            .transpose()
    }

    async fn stats_row(&self, now: i64) -> Result<([i64; 4], Option<i64>)> {
        const OP: &str = "outbox.stats";
        let row = sql!(
            fetch_one(self),
            OP,
            "SELECT COUNT(*) AS depth, COUNT(*) FILTER (WHERE claimed_until > $1) AS in_flight, \
             COUNT(DISTINCT customer_id) AS customers, \
             (SELECT COUNT(*) FROM outbox_dead) AS dead, MIN(created_at) AS oldest FROM outbox",
            now,
        )?;
        let counts = [
            row.int("depth", OP)?,
            row.int("in_flight", OP)?,
            row.int("customers", OP)?,
            row.int("dead", OP)?,
        ];
        Ok((counts, row.opt_int("oldest", OP)?))
    }

    /// Locks the page's customers, as for any enqueue, so a claim in progress finishes first.
    async fn resync_page(
        conn: &mut PgConnection,
        after: i64,
        only: Option<&str>,
        limit: i64,
    ) -> Result<(i64, Option<i64>)> {
        let seqs: Vec<i64> = sqlx::query_scalar(
            "SELECT seq FROM customers WHERE seq > $1 AND ($2::TEXT IS NULL OR id = $2) \
             ORDER BY seq LIMIT $3 FOR NO KEY UPDATE",
        )
        .bind(after)
        .bind(only)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| crate::error::db("outbox.resync", e))?;
        Ok((seqs.len() as i64, seqs.last().copied()))
    }

    async fn queue_resync(
        conn: &mut PgConnection,
        after: i64,
        last: i64,
        only: Option<&str>,
        now: i64,
    ) -> Result<u64> {
        let done = sql!(
            execute(&mut *conn),
            "outbox.resync",
            "INSERT INTO outbox (customer_id, kind, payload, created_at, next_attempt_at) \
             SELECT c.id, $1, $2, $3, $3 FROM customers c \
             WHERE c.seq > $4 AND c.seq <= $5 AND ($6::TEXT IS NULL OR c.id = $6) \
               AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.customer_id = c.id AND o.kind = $1) \
             ORDER BY c.seq",
            OutboxKind::Customer.as_str(),
            resync_payload(),
            now,
            after,
            last,
            only,
        )?;
        Ok(done.rows_affected())
    }
}
