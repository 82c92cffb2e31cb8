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

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection as _, Executor as _};
use walletport_core::{Balance, CardId, Customer, CustomerId, CustomerKey, Error, Result};

use crate::error::{db, redact};
use crate::ledger::{ExpiryReport, LedgerOp, LedgerOutcome, LedgerPage, LedgerQuery};
use crate::logic;
use crate::model::{
    CardPatch, CardUpdated, CustomerPage, ListCustomers, NewCard, Percentages, StoredCard,
    StoredCustomer, Upserted, WriteOpts,
};
use crate::outbox::{
    ClaimRequest, FailOutcome, Failure, NewOutboxItem, OutboxId, OutboxItem, OutboxList,
    OutboxStats, ResyncPage, ResyncRequest,
};
use crate::{Backend, Store, StoreOptions};

/// How long a pooled connection may sit idle before it is pinged on acquire.
const PING_IDLE: std::time::Duration = std::time::Duration::from_secs(5);

/// The PostgreSQL implementation of [`Store`].
pub struct PgStore {
    pool: PgPool,
    /// The credit writer's queue (see [`credits`]).
    credits: tokio::sync::mpsc::Sender<credits::Msg>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/db`) and migrates.
    pub async fn connect(url: &str, options: StoreOptions) -> Result<Self> {
        let connect = PgConnectOptions::from_str(url).map_err(|e| {
            Error::config(format!(
                "invalid PostgreSQL URL `{}`: {}",
                redact(url),
                redact(&e.to_string())
            ))
        })?;
        // sqlx pings every connection it hands out by default: one more round trip per
        // operation, as many as the statement itself. Only a connection that sat idle for a
        // while is checked (a broken one is then replaced); a busy one just failed or worked.
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
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
            .connect_with(connect)
            .await
            .map_err(|e| db("store.open", e))?;
        if options.migrate {
            sqlx::migrate!("migrations/postgres")
                .run(&pool)
                .await
                .map_err(|e| {
                    Error::unexpected(format!(
                        "PostgreSQL migration failed: {}",
                        redact(&e.to_string())
                    ))
                    .with_operation("store.migrate")
                })?;
        }
        if options.migrate {
            // v0.1 ledgers listed by migration 0002 (a no-op query once converted).
            backfill::run(&pool, crate::codec::to_ns(Utc::now())?).await?;
        }
        let credits = credits::spawn_writer(pool.clone(), options.max_batch);
        Ok(Self { pool, credits })
    }

    /// The connection pool, for operators' queries and tests.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> Result<()> {
        self.pool
            .execute("SELECT 1")
            .await
            .map(|_| ())
            .map_err(|e| db("store.ping", e))
    }

    async fn close(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.credits.send(credits::Msg::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
        self.pool.close().await;
    }

    async fn upsert_customer(&self, customer: &Customer, opts: WriteOpts) -> Result<Upserted> {
        logic::customers::upsert(&self.pool, customer, opts).await
    }

    async fn get_customer(&self, key: &CustomerKey) -> Result<Option<StoredCustomer>> {
        logic::customers::get(&self.pool, key).await
    }

    async fn list_customers(&self, query: &ListCustomers) -> Result<CustomerPage> {
        logic::customers::list(&self.pool, query).await
    }

    async fn search_customers(&self, query: &crate::model::CustomerSearch) -> Result<CustomerPage> {
        logic::customers::search(&self.pool, query).await
    }

    async fn expiring_points(
        &self,
        customer: &CustomerId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<rust_decimal::Decimal> {
        logic::customers::expiring_points(&self.pool, customer, now, until).await
    }

    async fn set_percentages(
        &self,
        customer: &CustomerId,
        percentages: Percentages,
        opts: WriteOpts,
    ) -> Result<StoredCustomer> {
        logic::customers::set_percentages(&self.pool, customer, percentages, opts).await
    }

    async fn attach_card(
        &self,
        customer: &CustomerId,
        card: &NewCard,
        opts: WriteOpts,
    ) -> Result<StoredCard> {
        logic::customers::attach_card(&self.pool, customer, card, opts).await
    }

    async fn update_card(
        &self,
        provider: &str,
        vendor_card_id: &CardId,
        patch: &CardPatch,
        opts: WriteOpts,
    ) -> Result<CardUpdated> {
        logic::customers::update_card(&self.pool, provider, vendor_card_id, patch, opts).await
    }

    async fn list_cards(&self, customer: &CustomerId) -> Result<Vec<StoredCard>> {
        logic::customers::list_cards(&self.pool, customer).await
    }

    async fn apply(
        &self,
        customer: &CustomerId,
        op: &LedgerOp,
        opts: WriteOpts,
    ) -> Result<LedgerOutcome> {
        let LedgerOp::Credit(credit) = op else {
            return ledger::apply(&self.pool, customer, op, opts).await;
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = credits::Job::new(customer, credit, opts, reply)?;
        self.credits
            .send(credits::Msg::Job(job))
            .await
            .map_err(|_| credits::stopped())?;
        answer.await.map_err(|_| credits::stopped())?
    }

    async fn balance(&self, customer: &CustomerId, now: DateTime<Utc>) -> Result<Balance> {
        ledger::balance(&self.pool, customer, now).await
    }

    async fn ledger(&self, customer: &CustomerId, query: &LedgerQuery) -> Result<LedgerPage> {
        ledger::page(&self.pool, customer, query).await
    }

    async fn expire_due(&self, now: DateTime<Utc>, max_customers: u32) -> Result<ExpiryReport> {
        ledger::expire_due(&self.pool, now, max_customers).await
    }

    async fn record_inbound_event(
        &self,
        provider: &str,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        logic::customers::record_event(&self.pool, provider, event_id, now).await
    }

    async fn enqueue(&self, item: &NewOutboxItem, now: DateTime<Utc>) -> Result<OutboxId> {
        logic::outbox::enqueue(&self.pool, item, now).await
    }

    async fn claim_batch(&self, request: &ClaimRequest) -> Result<Vec<OutboxItem>> {
        logic::outbox::claim(&self.pool, request).await
    }

    async fn complete(&self, worker: &str, ids: &[OutboxId]) -> Result<u64> {
        logic::outbox::complete(&self.pool, worker, ids).await
    }

    async fn fail(&self, worker: &str, ids: &[OutboxId], failure: &Failure) -> Result<FailOutcome> {
        logic::outbox::fail(&self.pool, worker, ids, failure).await
    }

    async fn list_outbox(
        &self,
        which: OutboxList,
        after: Option<OutboxId>,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxItem>> {
        logic::outbox::list(&self.pool, which, after, limit, now).await
    }

    async fn retry_dead(&self, id: OutboxId, now: DateTime<Utc>) -> Result<OutboxId> {
        logic::outbox::retry_dead(&self.pool, id, now).await
    }

    async fn enqueue_resync(&self, request: &ResyncRequest) -> Result<ResyncPage> {
        logic::outbox::enqueue_resync(&self.pool, request).await
    }

    async fn outbox_stats(&self, now: DateTime<Utc>) -> Result<OutboxStats> {
        logic::outbox::stats(&self.pool, now).await
    }

    async fn take_quota_slot(
        &self,
        key: &str,
        limits: &[crate::QuotaLimit],
        interactive: bool,
    ) -> Result<crate::QuotaSlot> {
        quota::take(&self.pool, key, limits, interactive).await
    }

    async fn pause_quota(&self, key: &str, after: std::time::Duration) -> Result<()> {
        quota::pause(&self.pool, key, after).await
    }

    async fn quota_state(
        &self,
        key: &str,
        limits: &[crate::QuotaLimit],
    ) -> Result<crate::QuotaState> {
        quota::state(&self.pool, key, limits).await
    }

    async fn lower_quota_limit(
        &self,
        key: &str,
        per: std::time::Duration,
        limit: u32,
    ) -> Result<bool> {
        quota::lower(&self.pool, key, per, limit).await
    }
}
