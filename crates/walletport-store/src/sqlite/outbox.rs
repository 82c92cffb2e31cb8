//! The SQLite dialect of the shared outbox logic ([`crate::logic::outbox`]). A claim is one
//! `BEGIN IMMEDIATE` transaction: SQLite has one writer at a time, so two claims never see the
//! same free customer. Id lists are bound as JSON arrays and read with `json_each`.

use sqlx::sqlite::SqliteConnection;
use walletport_core::Result;

use super::Db;
use crate::codec::parse_json;
use crate::logic::outbox::OutboxSql;
use crate::logic::{Cols as _, raw_outbox, sql};
use crate::outbox::{ClaimRow, OutboxKind, OutboxList, RawOutbox, resync_payload};

macro_rules! item_cols {
    () => {
        "id, customer_id, kind, payload, created_at, attempts, next_attempt_at, claimed_by, \
         claimed_until, last_error, NULL AS died_at"
    };
}

/// Values as a JSON array, for `json_each`.
fn json_list<T: Clone + Into<serde_json::Value>>(values: &[T]) -> String {
    serde_json::Value::from(values.to_vec()).to_string()
}

impl OutboxSql for Db {
    const CLAIM_OVERFETCH: i64 = 1;

    async fn claim_candidates(
        conn: &mut SqliteConnection,
        now: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        let rows = sql!(
            fetch_all(&mut *conn),
            "outbox.claim",
            "SELECT h.customer_id FROM (SELECT customer_id, MIN(id) AS head, \
             MAX(COALESCE(claimed_until, 0)) AS lease FROM outbox GROUP BY customer_id) h \
             JOIN outbox o ON o.id = h.head WHERE h.lease <= ?1 AND o.next_attempt_at <= ?1 \
             ORDER BY h.head LIMIT ?2",
            now,
            limit,
        )?;
        rows.iter()
            .map(|r| r.text("customer_id", "outbox.claim"))
            .collect()
    }

    /// The claim's write transaction already excludes every other writer.
    async fn hold_customers(
        _: &mut SqliteConnection,
        candidates: Vec<String>,
    ) -> Result<Vec<String>> {
        Ok(candidates)
    }

    async fn claim_rows(
        conn: &mut SqliteConnection,
        customers: &[String],
    ) -> Result<Vec<ClaimRow>> {
        const OP: &str = "outbox.claim";
        let rows = sql!(
            fetch_all(&mut *conn),
            OP,
            "SELECT id, customer_id, next_attempt_at, claimed_until FROM outbox \
             WHERE customer_id IN (SELECT value FROM json_each(?)) ORDER BY id",
            json_list(customers),
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

    async fn lease(
        conn: &mut SqliteConnection,
        worker: &str,
        until: i64,
        ids: &[i64],
    ) -> Result<Vec<RawOutbox>> {
        let list = json_list(ids);
        sql!(
            execute(&mut *conn),
            "outbox.claim",
            "UPDATE outbox SET claimed_by = ?, claimed_until = ? \
             WHERE id IN (SELECT value FROM json_each(?))",
            worker,
            until,
            &list,
        )?;
        let rows = sql!(
            fetch_all(&mut *conn),
            "outbox.claim",
            concat!(
                "SELECT ",
                item_cols!(),
                " FROM outbox WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id"
            ),
            &list,
        )?;
        rows.iter().map(raw_outbox).collect()
    }

    /// At the write gate.
    async fn delete_held(&self, worker: &str, ids: &[i64]) -> Result<u64> {
        let _turn = self.turn().await;
        let done = sql!(
            execute(&self.pool),
            "outbox.complete",
            "DELETE FROM outbox WHERE claimed_by = ? AND id IN (SELECT value FROM json_each(?))",
            worker,
            json_list(ids),
        )?;
        Ok(done.rows_affected())
    }

    async fn release_failed(
        conn: &mut SqliteConnection,
        worker: &str,
        ids: &[i64],
        error: &str,
        next_at: i64,
    ) -> Result<Vec<i64>> {
        const OP: &str = "outbox.fail";
        let owned = sql!(
            fetch_all(&mut *conn),
            OP,
            "SELECT id FROM outbox WHERE claimed_by = ? AND id IN (SELECT value FROM json_each(?))",
            worker,
            json_list(ids),
        )?;
        let owned = owned
            .iter()
            .map(|r| r.int("id", OP))
            .collect::<Result<Vec<_>>>()?;
        if !owned.is_empty() {
            sql!(
                execute(&mut *conn),
                OP,
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, claimed_by = NULL, \
                 claimed_until = NULL, next_attempt_at = ? \
                 WHERE id IN (SELECT value FROM json_each(?))",
                error,
                next_at,
                json_list(&owned),
            )?;
        }
        Ok(owned)
    }

    async fn bury(
        conn: &mut SqliteConnection,
        ids: &[i64],
        permanent: bool,
        max_attempts: u32,
        now: i64,
    ) -> Result<u64> {
        const OP: &str = "outbox.fail";
        let list = json_list(ids);
        let max_attempts = i64::from(max_attempts);
        let dead = sql!(
            execute(&mut *conn),
            OP,
            "INSERT INTO outbox_dead (id, customer_id, kind, payload, created_at, attempts, \
             last_error, died_at) \
             SELECT id, customer_id, kind, payload, created_at, attempts, last_error, ?1 \
             FROM outbox WHERE id IN (SELECT value FROM json_each(?2)) AND (?3 OR attempts >= ?4)",
            now,
            &list,
            permanent,
            max_attempts,
        )?;
        sql!(
            execute(&mut *conn),
            OP,
            "DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?)) \
             AND (? OR attempts >= ?)",
            &list,
            permanent,
            max_attempts,
        )?;
        Ok(dead.rows_affected())
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
                    " FROM outbox WHERE id > ? ORDER BY id LIMIT ?"
                )
            }
            OutboxList::Dead => {
                "SELECT id, customer_id, kind, payload, created_at, attempts, \
                 died_at AS next_attempt_at, NULL AS claimed_by, NULL AS claimed_until, \
                 last_error, died_at FROM outbox_dead WHERE id > ? ORDER BY id LIMIT ?"
            }
        };
        let rows = sql!(fetch_all(&self.pool), "outbox.list", sql, after, limit)?;
        rows.iter().map(raw_outbox).collect()
    }

    async fn dead_customer(conn: &mut SqliteConnection, id: i64) -> Result<Option<String>> {
        let row = sql!(
            fetch_optional(&mut *conn),
            "outbox.retry",
            "SELECT customer_id FROM outbox_dead WHERE id = ?",
            id
        )?;
        row.map(|r| r.text("customer_id", "outbox.retry"))
            .transpose()
    }

    async fn take_dead(
        conn: &mut SqliteConnection,
        id: i64,
    ) -> Result<Option<(String, serde_json::Value)>> {
        const OP: &str = "outbox.retry";
        let row = sql!(
            fetch_optional(&mut *conn),
            OP,
            "DELETE FROM outbox_dead WHERE id = ? RETURNING kind, payload",
            id
        )?;
        row.map(|r| Ok((r.text("kind", OP)?, parse_json(&r.text("payload", OP)?)?)))
            .transpose()
    }

    async fn stats_row(&self, now: i64) -> Result<([i64; 4], Option<i64>)> {
        const OP: &str = "outbox.stats";
        let row = sql!(
            fetch_one(&self.pool),
            OP,
            "SELECT COUNT(*) AS depth, \
             COALESCE(SUM(CASE WHEN claimed_until > ? THEN 1 ELSE 0 END), 0) AS in_flight, \
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

    async fn resync_page(
        conn: &mut SqliteConnection,
        after: i64,
        only: Option<&str>,
        limit: i64,
    ) -> Result<(i64, Option<i64>)> {
        const OP: &str = "outbox.resync";
        let page = sql!(
            fetch_one(&mut *conn),
            OP,
            "SELECT count(*) AS n, max(seq) AS last FROM \
             (SELECT seq FROM customers WHERE seq > ?1 AND (?2 IS NULL OR id = ?2) \
              ORDER BY seq LIMIT ?3)",
            after,
            only,
            limit,
        )?;
        Ok((page.int("n", OP)?, page.opt_int("last", OP)?))
    }

    async fn queue_resync(
        conn: &mut SqliteConnection,
        after: i64,
        last: i64,
        only: Option<&str>,
        now: i64,
    ) -> Result<u64> {
        let done = sql!(
            execute(&mut *conn),
            "outbox.resync",
            "INSERT INTO outbox (customer_id, kind, payload, created_at, next_attempt_at) \
             SELECT c.id, ?1, ?2, ?3, ?3 FROM customers c \
             WHERE c.seq > ?4 AND c.seq <= ?5 AND (?6 IS NULL OR c.id = ?6) \
               AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.customer_id = c.id AND o.kind = ?1) \
             ORDER BY c.seq",
            OutboxKind::Customer.as_str(),
            resync_payload().to_string(),
            now,
            after,
            last,
            only,
        )?;
        Ok(done.rows_affected())
    }
}
