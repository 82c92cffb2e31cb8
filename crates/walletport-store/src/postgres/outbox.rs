//! The PostgreSQL dialect of the shared outbox logic ([`crate::logic::outbox`]). A claim locks
//! the candidate customers' rows with `FOR NO KEY UPDATE SKIP LOCKED`, then reads their items
//! under that lock: a customer is claimed by one worker at a time, and a writer enqueuing for
//! that customer waits for the claim to commit, so a claim never sees half of a customer's
//! history. Id lists are bound as arrays (`= ANY($n)`); writes that SQLite needs two statements
//! for are one here (`RETURNING`, a data-modifying `WITH`).

use sqlx::postgres::PgPool;
use walletport_core::Result;

use crate::logic::outbox_sql::{CANDIDATES, Lease, OutboxSql, OutboxStatements, Release, Resync};
use crate::logic::sql;
use crate::outbox::{ClaimRow, RawOutbox};

/// An item's columns, read as text and integers like SQLite's (see [`RawOutbox`]).
macro_rules! item_cols {
    () => {
        "id, customer_id, kind, payload::text AS payload, created_at, \
         attempts::int8 AS attempts, next_attempt_at, claimed_by, claimed_until, last_error, \
         NULL::BIGINT AS died_at"
    };
}

/// The planner settings of a claim's transaction (`SET LOCAL`, as `set_config(.., true)`), the
/// credit writer's ([`super::credits::PLANNER`]): every claim statement runs as index probes
/// (the due-order walk of [`CANDIDATES`], the `= ANY` reads and writes by customer and item id)
/// whatever the statistics say. Without them a pooled connection keeps the generic plan it made
/// while the outbox was small (a prepared statement is planned again only after `ANALYZE`), so
/// after a resync queued 100,000 customers each claim scanned `outbox` sequentially, comparing
/// every row with the 200 candidate ids: 0.6 s a claim (docs/benchmarks.md, "Outbox claim
/// against a large backlog").
const CLAIM_PLANNER: &str = "SELECT set_config('enable_seqscan', 'off', true), \
    set_config('enable_bitmapscan', 'off', true), set_config('enable_hashjoin', 'off', true), \
    set_config('enable_mergejoin', 'off', true)";
const LOCK_FREE: &str =
    "SELECT id FROM customers WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE SKIP LOCKED";
/// The first `$2` rows of each customer in `$1` (`outbox_customer` range reads).
const CLAIM_ROWS: &str = "SELECT o.id, o.customer_id, o.next_attempt_at, o.claimed_until \
    FROM unnest($1::text[]) c (id) CROSS JOIN LATERAL (SELECT id, customer_id, next_attempt_at, \
    claimed_until FROM outbox WHERE customer_id = c.id ORDER BY id LIMIT $2) o ORDER BY o.id";
const LEASE: &str = concat!(
    "UPDATE outbox SET claimed_by = $1, claimed_until = $2 WHERE id = ANY($3) RETURNING ",
    item_cols!()
);
const DELETE_HELD: &str = "DELETE FROM outbox WHERE claimed_by = $1 AND id = ANY($2)";
/// Hands items back undelivered: no attempt counted, the last error kept.
const HAND_BACK: &str = "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL, \
    next_attempt_at = $1 WHERE claimed_by = $2 AND id = ANY($3)";
const RELEASE: &str = "UPDATE outbox SET attempts = attempts + 1, last_error = $1, \
    claimed_by = NULL, claimed_until = NULL, next_attempt_at = $2 \
    WHERE claimed_by = $3 AND id = ANY($4) RETURNING id";
const BURY: &str = "WITH moved AS (DELETE FROM outbox WHERE id = ANY($1) AND attempts >= $2 \
    RETURNING id, customer_id, kind, payload, created_at, attempts, last_error) \
    INSERT INTO outbox_dead (id, customer_id, kind, payload, created_at, attempts, last_error, \
    died_at) SELECT id, customer_id, kind, payload, created_at, attempts, last_error, $3 \
    FROM moved";
const PENDING: &str = concat!(
    "SELECT ",
    item_cols!(),
    " FROM outbox WHERE id > $1 ORDER BY id LIMIT $2"
);
const DEAD: &str = "SELECT id, customer_id, kind, payload::text AS payload, created_at, \
    attempts::int8 AS attempts, died_at AS next_attempt_at, NULL::TEXT AS claimed_by, \
    NULL::BIGINT AS claimed_until, last_error, died_at \
    FROM outbox_dead WHERE id > $1 ORDER BY id LIMIT $2";
const STATS: &str = "SELECT COUNT(*), COUNT(*) FILTER (WHERE claimed_until > $1), \
    COUNT(DISTINCT customer_id), (SELECT COUNT(*) FROM outbox_dead), MIN(created_at) FROM outbox";
/// Locks the page's customers, as any enqueue does, so a claim in progress finishes first.
const RESYNC_PAGE: &str = "SELECT seq FROM customers WHERE seq > $1 \
    AND ($2::TEXT IS NULL OR id = $2) ORDER BY seq LIMIT $3 FOR NO KEY UPDATE";
const QUEUE_RESYNC: &str = "INSERT INTO outbox (customer_id, kind, payload, created_at, \
    next_attempt_at) SELECT c.id, $1, $2::jsonb, $3, $3 FROM customers c \
    WHERE c.seq > $4 AND c.seq <= $5 AND ($6::TEXT IS NULL OR c.id = $6) \
    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.customer_id = c.id AND o.kind = $1) \
    ORDER BY c.seq";

impl OutboxSql for PgPool {
    const CLAIM_OVERFETCH: i64 = 4;
    const OUTBOX: OutboxStatements = OutboxStatements {
        pending: PENDING,
        dead: DEAD,
        dead_customer: "SELECT customer_id FROM outbox_dead WHERE id = $1",
        take_dead: "DELETE FROM outbox_dead WHERE id = $1 RETURNING kind, payload::text",
        stats: STATS,
        queue_resync: QUEUE_RESYNC,
    };

    /// First sets [`CLAIM_PLANNER`] for the rest of the claim's transaction.
    async fn claim_candidates(conn: &mut Self::Conn, now: i64, limit: i64) -> Result<Vec<String>> {
        sql!(execute(&mut *conn), "outbox.claim", CLAIM_PLANNER, [])?;
        let rows: Vec<(String,)> = sql!(as (String,), fetch_all(&mut *conn), "outbox.claim",
            CANDIDATES, [now, limit])?;
        Ok(rows.into_iter().map(|(c,)| c).collect())
    }

    /// Locks those it can without waiting; keeps the candidates' order.
    async fn hold_customers(conn: &mut Self::Conn, ids: Vec<String>) -> Result<Vec<String>> {
        let locked: Vec<(String,)> =
            sql!(as (String,), fetch_all(&mut *conn), "outbox.claim", LOCK_FREE, [&ids])?;
        let locked: Vec<String> = locked.into_iter().map(|(c,)| c).collect();
        Ok(ids.into_iter().filter(|c| locked.contains(c)).collect())
    }

    async fn claim_rows(
        conn: &mut Self::Conn,
        customers: &[String],
        each: i64,
    ) -> Result<Vec<ClaimRow>> {
        sql!(as ClaimRow, fetch_all(&mut *conn), "outbox.claim", CLAIM_ROWS, [customers, each])
    }

    /// One statement (`RETURNING`).
    async fn lease(conn: &mut Self::Conn, ids: &[i64], to: Lease<'_>) -> Result<Vec<RawOutbox>> {
        sql!(as RawOutbox, fetch_all(&mut *conn), "outbox.claim", LEASE, [to.worker, to.until, ids])
    }

    async fn delete_held(&self, worker: &str, ids: &[i64]) -> Result<u64> {
        let done = sql!(execute(self), "outbox.complete", DELETE_HELD, [worker, ids])?;
        Ok(done.rows_affected())
    }

    async fn hand_back(&self, worker: &str, ids: &[i64], due_at: i64) -> Result<u64> {
        let done = sql!(
            execute(self),
            "outbox.release",
            HAND_BACK,
            [due_at, worker, ids]
        )?;
        Ok(done.rows_affected())
    }

    /// One statement (`RETURNING`).
    async fn release(conn: &mut Self::Conn, ids: &[i64], r: Release<'_>) -> Result<Vec<i64>> {
        let op = "outbox.fail";
        let held: Vec<(i64,)> = sql!(as (i64,), fetch_all(&mut *conn), op, RELEASE,
            [r.error, r.next_at, r.worker, ids])?;
        Ok(held.into_iter().map(|(id,)| id).collect())
    }

    /// One statement: a `DELETE ... RETURNING` feeding the insert.
    async fn bury(conn: &mut Self::Conn, ids: &[i64], min_attempts: u32, now: i64) -> Result<u64> {
        let min = i32::try_from(min_attempts).unwrap_or(i32::MAX);
        let dead = sql!(execute(&mut *conn), "outbox.fail", BURY, [ids, min, now])?;
        Ok(dead.rows_affected())
    }

    async fn resync_page(conn: &mut Self::Conn, page: &Resync<'_>) -> Result<(i64, Option<i64>)> {
        let (after, only, limit) = (page.after, page.only, page.limit);
        let op = "outbox.resync";
        let seqs: Vec<(i64,)> =
            sql!(as (i64,), fetch_all(&mut *conn), op, RESYNC_PAGE, [after, only, limit])?;
        Ok((seqs.len() as i64, seqs.last().map(|(seq,)| *seq)))
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use sqlx::Connection as _;

    use super::{CANDIDATES, CLAIM_PLANNER};
    use crate::Store as _;
    use crate::postgres::tests::grown_past_its_statistics;

    /// With statistics from an empty outbox and 50,000 items since, the claim's walk is still
    /// the `outbox_due` index with per-customer probes: nothing scans the outbox.
    #[tokio::test]
    async fn the_claim_walks_the_due_index_whatever_the_statistics() {
        let fill = [
            "INSERT INTO customers (id, phone, created_at, updated_at) \
             SELECT 'c' || g, '+4200' || lpad(g::text, 7, '0'), 0, 0 \
             FROM generate_series(0, 49999) g",
            "INSERT INTO outbox (customer_id, kind, payload, created_at, next_attempt_at) \
             SELECT 'c' || g, 'customer', '{}', g, g FROM generate_series(0, 49999) g",
        ];
        let Some((_pg, store)) = grown_past_its_statistics("walletport_claim_plan", &fill).await
        else {
            return;
        };
        let mut conn = store.pool().acquire().await.expect("connection");
        let mut tx = conn.begin().await.expect("begin");
        sqlx::query(CLAIM_PLANNER)
            .execute(&mut *tx)
            .await
            .expect("planner");
        let plan: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN {CANDIDATES}")))
                .bind(60_000_i64)
                .bind(400_i64)
                .fetch_all(&mut *tx)
                .await
                .expect("explain");
        let plan = plan.join("\n");
        assert!(!plan.contains("Seq Scan"), "{plan}");
        assert!(
            plan.contains("Index Scan using outbox_due on outbox o")
                && plan.contains("using outbox_leased on outbox l"),
            "{plan}"
        );
        tx.rollback().await.expect("rollback");
        drop(conn);
        store.close().await;
    }
}
