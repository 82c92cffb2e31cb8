//! The SQLite dialect of the shared outbox logic ([`crate::logic::outbox`]). A claim is one
//! `BEGIN IMMEDIATE` transaction: SQLite has one writer at a time, so two claims never see the
//! same free customer. Id lists are bound as JSON arrays and read with `json_each`.

use walletport_core::Result;

use super::Db;
use crate::logic::outbox_sql::{Lease, OutboxSql, OutboxStatements, Release, Resync};
use crate::logic::sql;
use crate::outbox::{ClaimRow, RawOutbox};

macro_rules! item_cols {
    () => {
        "id, customer_id, kind, payload, created_at, attempts, next_attempt_at, claimed_by, \
         claimed_until, last_error, NULL AS died_at"
    };
}

/// The first `?2` rows of each customer in the JSON list `?1` (`outbox_customer` range reads).
const CLAIM_ROWS: &str = "SELECT o.id, o.customer_id, o.next_attempt_at, o.claimed_until \
    FROM json_each(?1) c JOIN outbox o ON o.id IN (SELECT p.id FROM outbox p \
    WHERE p.customer_id = c.value ORDER BY p.id LIMIT ?2) ORDER BY o.id";
const LEASE: &str = "UPDATE outbox SET claimed_by = ?, claimed_until = ? \
    WHERE id IN (SELECT value FROM json_each(?))";
const LEASED: &str = concat!(
    "SELECT ",
    item_cols!(),
    " FROM outbox WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id"
);
const DELETE_HELD: &str =
    "DELETE FROM outbox WHERE claimed_by = ? AND id IN (SELECT value FROM json_each(?))";
const HELD: &str =
    "SELECT id FROM outbox WHERE claimed_by = ? AND id IN (SELECT value FROM json_each(?))";
/// Hands items back undelivered: no attempt counted, the last error kept.
const HAND_BACK: &str = "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL, \
    next_attempt_at = ?1 WHERE claimed_by = ?2 AND id IN (SELECT value FROM json_each(?3))";
const RELEASE: &str = "UPDATE outbox SET attempts = attempts + 1, last_error = ?, \
    claimed_by = NULL, claimed_until = NULL, next_attempt_at = ? \
    WHERE id IN (SELECT value FROM json_each(?))";
const TO_DEAD: &str = "INSERT INTO outbox_dead (id, customer_id, kind, payload, created_at, \
    attempts, last_error, died_at) \
    SELECT id, customer_id, kind, payload, created_at, attempts, last_error, ?1 FROM outbox \
    WHERE id IN (SELECT value FROM json_each(?2)) AND attempts >= ?3";
const FROM_OUTBOX: &str =
    "DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?2)) AND attempts >= ?3";
const PENDING: &str = concat!(
    "SELECT ",
    item_cols!(),
    " FROM outbox WHERE id > ? ORDER BY id LIMIT ?"
);
const DEAD: &str = "SELECT id, customer_id, kind, payload, created_at, attempts, \
    died_at AS next_attempt_at, NULL AS claimed_by, NULL AS claimed_until, last_error, died_at \
    FROM outbox_dead WHERE id > ? ORDER BY id LIMIT ?";
const STATS: &str = "SELECT COUNT(*), COALESCE(SUM(CASE WHEN claimed_until > ? THEN 1 ELSE 0 \
    END), 0), COUNT(DISTINCT customer_id), (SELECT COUNT(*) FROM outbox_dead), MIN(created_at) \
    FROM outbox";
const RESYNC_PAGE: &str = "SELECT count(*), max(seq) FROM (SELECT seq FROM customers \
    WHERE seq > ?1 AND (?2 IS NULL OR id = ?2) ORDER BY seq LIMIT ?3)";
const QUEUE_RESYNC: &str = "INSERT INTO outbox (customer_id, kind, payload, created_at, \
    next_attempt_at) SELECT c.id, ?1, ?2, ?3, ?3 FROM customers c \
    WHERE c.seq > ?4 AND c.seq <= ?5 AND (?6 IS NULL OR c.id = ?6) \
    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.customer_id = c.id AND o.kind = ?1) \
    ORDER BY c.seq";

/// Values as a JSON array, for `json_each`.
fn json_list<T: Clone + Into<serde_json::Value>>(values: &[T]) -> String {
    serde_json::Value::from(values.to_vec()).to_string()
}

impl OutboxSql for Db {
    const CLAIM_OVERFETCH: i64 = 1;
    const OUTBOX: OutboxStatements = OutboxStatements {
        pending: PENDING,
        dead: DEAD,
        dead_customer: "SELECT customer_id FROM outbox_dead WHERE id = ?",
        take_dead: "DELETE FROM outbox_dead WHERE id = ? RETURNING kind, payload",
        stats: STATS,
        queue_resync: QUEUE_RESYNC,
    };

    /// The claim's write transaction already excludes every other writer.
    async fn hold_customers(_: &mut Self::Conn, ids: Vec<String>) -> Result<Vec<String>> {
        Ok(ids)
    }

    async fn claim_rows(
        conn: &mut Self::Conn,
        customers: &[String],
        each: i64,
    ) -> Result<Vec<ClaimRow>> {
        let list = json_list(customers);
        sql!(as ClaimRow, fetch_all(&mut *conn), "outbox.claim", CLAIM_ROWS, [list, each])
    }

    /// Two statements: the update, then the read.
    async fn lease(conn: &mut Self::Conn, ids: &[i64], to: Lease<'_>) -> Result<Vec<RawOutbox>> {
        let list = json_list(ids);
        sql!(
            execute(&mut *conn),
            "outbox.claim",
            LEASE,
            [to.worker, to.until, &list]
        )?;
        sql!(as RawOutbox, fetch_all(&mut *conn), "outbox.claim", LEASED, [&list])
    }

    /// At the write gate.
    async fn delete_held(&self, worker: &str, ids: &[i64]) -> Result<u64> {
        let _turn = self.turn().await;
        let list = json_list(ids);
        let done = sql!(
            execute(&self.pool),
            "outbox.complete",
            DELETE_HELD,
            [worker, list]
        )?;
        Ok(done.rows_affected())
    }

    /// At the write gate.
    async fn hand_back(&self, worker: &str, ids: &[i64], due_at: i64) -> Result<u64> {
        let _turn = self.turn().await;
        let list = json_list(ids);
        let done = sql!(
            execute(&self.pool),
            "outbox.release",
            HAND_BACK,
            [due_at, worker, list]
        )?;
        Ok(done.rows_affected())
    }

    /// Reads which items the worker holds, then updates those.
    async fn release(conn: &mut Self::Conn, ids: &[i64], r: Release<'_>) -> Result<Vec<i64>> {
        let list = json_list(ids);
        let held: Vec<(i64,)> =
            sql!(as (i64,), fetch_all(&mut *conn), "outbox.fail", HELD, [r.worker, list])?;
        let held: Vec<i64> = held.into_iter().map(|(id,)| id).collect();
        if !held.is_empty() {
            let list = json_list(&held);
            sql!(
                execute(&mut *conn),
                "outbox.fail",
                RELEASE,
                [r.error, r.next_at, list]
            )?;
        }
        Ok(held)
    }

    /// Copies, then deletes.
    async fn bury(conn: &mut Self::Conn, ids: &[i64], min_attempts: u32, now: i64) -> Result<u64> {
        let (list, min) = (json_list(ids), i64::from(min_attempts));
        let dead = sql!(
            execute(&mut *conn),
            "outbox.fail",
            TO_DEAD,
            [now, &list, min]
        )?;
        sql!(
            execute(&mut *conn),
            "outbox.fail",
            FROM_OUTBOX,
            [now, &list, min]
        )?;
        Ok(dead.rows_affected())
    }

    async fn resync_page(conn: &mut Self::Conn, page: &Resync<'_>) -> Result<(i64, Option<i64>)> {
        let (after, only, limit) = (page.after, page.only, page.limit);
        sql!(as (i64, Option<i64>), fetch_one(&mut *conn), "outbox.resync", RESYNC_PAGE,
            [after, only, limit])
    }
}

#[cfg(test)]
mod tests {
    use crate::StoreOptions;
    use crate::logic::outbox_sql::CANDIDATES;
    use crate::sqlite::SqliteStore;
    use crate::sqlite::tests::plan;

    /// The claim walks due items by `outbox_due` and probes per customer: heads waiting for a
    /// retry lie beyond the walk's end, and nothing scans the outbox.
    #[tokio::test]
    async fn the_claim_walks_the_due_index_and_scans_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("plan.db").display());
        let store = SqliteStore::open(&url, StoreOptions::default())
            .await
            .expect("open");
        let p = plan(store.pool(), CANDIDATES).await;
        assert!(
            p.contains("SEARCH o USING INDEX outbox_due (next_attempt_at<?)")
                && p.contains("outbox_customer (customer_id=? AND id<?)")
                && p.contains("SEARCH l USING INDEX outbox_leased (customer_id=?)")
                && !p.contains("SCAN o"),
            "{p}"
        );
    }
}
