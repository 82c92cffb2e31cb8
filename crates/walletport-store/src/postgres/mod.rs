//! The PostgreSQL store, shared by several gateway processes.
//!
//! Every transaction that enqueues an outbox item for a customer first locks that customer's
//! row (`FOR NO KEY UPDATE`), so outbox ids of one customer are assigned in commit order, and
//! claims lock the same rows with `SKIP LOCKED`, so two workers never hold one customer.

mod backfill;
mod credits;
mod customers;
mod ledger;
mod ledger_tx;
mod outbox;
mod quota;

use std::str::FromStr;

use chrono::Utc;
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use walletport_core::{CustomerId, Result};

use crate::error::{bad_url, db, migration_failed};
use crate::ledger::{LedgerOp, LedgerOutcome};
use crate::logic::store::Engine;
use crate::model::WriteOpts;
use crate::{Backend, StoreOptions};

/// How long a pooled connection may sit idle before it is pinged on acquire.
const PING_IDLE: std::time::Duration = std::time::Duration::from_secs(5);

/// The PostgreSQL implementation of [`Store`](crate::Store).
pub struct PgStore {
    pool: PgPool,
    /// The credit writer's queue (see [`credits`]).
    credits: tokio::sync::mpsc::Sender<credits::Msg>,
    /// Woken after writes that enqueue ([`Store::outbox_signal`](crate::Store::outbox_signal)).
    signal: std::sync::Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/db`) and migrates.
    pub async fn connect(url: &str, options: StoreOptions) -> Result<Self> {
        let connect =
            PgConnectOptions::from_str(url).map_err(|e| bad_url("PostgreSQL", url, &e))?;
        let pool = pool_options(options.max_connections.max(1), &options)
            .connect_with(connect.clone())
            .await
            .map_err(|e| db("store.open", e))?;
        if options.migrate {
            sqlx::migrate!("migrations/postgres")
                .run(&pool)
                .await
                .map_err(|e| migration_failed("PostgreSQL", &e))?;
        }
        if options.migrate {
            // v0.1 ledgers listed by migration 0002 (a no-op query once converted).
            backfill::run(&pool, crate::codec::to_ns(Utc::now())?).await?;
        }
        // The credit writer's own connection, opened on first use, plans its batch statement
        // as per-customer index probes whatever the table statistics say (see
        // [`credits::PLANNER`]).
        let batch_pool = pool_options(1, &options)
            .connect_lazy_with(connect.options(credits::PLANNER.iter().copied()));
        let credits = credits::spawn_writer(batch_pool, pool.clone(), options.max_batch);
        Ok(Self {
            pool,
            credits,
            signal: std::sync::Arc::default(),
        })
    }

    /// The connection pool, for operators' queries and tests.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The pool settings every connection of the store shares: `size` connections, pinged only
/// after [`PING_IDLE`].
fn pool_options(size: u32, options: &StoreOptions) -> PgPoolOptions {
    // sqlx pings every connection it hands out by default: one more round trip per operation,
    // as many as the statement itself. Only a connection that sat idle for a while is checked
    // (a broken one is then replaced); a busy one just failed or worked.
    PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(options.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

impl Engine for PgStore {
    type Sql = PgPool;
    const BACKEND: Backend = Backend::Postgres;

    fn sql(&self) -> &PgPool {
        &self.pool
    }

    /// A credit goes to the credit writer's next batch; anything else runs in a transaction
    /// of its own.
    async fn apply_op(&self, c: &CustomerId, op: &LedgerOp, o: WriteOpts) -> Result<LedgerOutcome> {
        let LedgerOp::Credit(credit) = op else {
            return ledger::apply(&self.pool, c, op, o).await;
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = credits::Job::new(c, credit, o, reply)?;
        self.credits
            .send(credits::Msg::Job(job))
            .await
            .map_err(|_| credits::stopped())?;
        answer.await.map_err(|_| credits::stopped())?
    }

    async fn stop_writer(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.credits.send(credits::Msg::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    fn signal(&self) -> &std::sync::Arc<tokio::sync::Notify> {
        &self.signal
    }
}

#[cfg(all(test, feature = "testing"))]
pub(crate) mod tests {
    use super::PgStore;
    use crate::StoreOptions;
    use crate::testing::TempPgDatabase;

    /// A store in a fresh database whose statistics are those of empty tables (`ANALYZE` first),
    /// filled by `fill` afterwards: how a gateway's tables look to the planner after they grew
    /// faster than autovacuum. `None` when PostgreSQL is unreachable.
    pub(crate) async fn grown_past_its_statistics(
        prefix: &str,
        fill: &[&'static str],
    ) -> Option<(TempPgDatabase, PgStore)> {
        let pg = TempPgDatabase::for_test(prefix).await?;
        let store = PgStore::connect(pg.url(), StoreOptions::default())
            .await
            .expect("open");
        for sql in std::iter::once("ANALYZE").chain(fill.iter().copied()) {
            sqlx::query(sql).execute(store.pool()).await.expect(sql);
        }
        Some((pg, store))
    }
}
