//! The SQLite store: one file in WAL mode with `synchronous=FULL`, a pool for reads and
//! ordinary writes (`BEGIN IMMEDIATE`), and one writer task that group-commits ledger
//! operations.

mod backfill;
mod customers;
mod ledger;
mod ledger_tx;
mod outbox;
mod quota;

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Connection as _, Executor as _};
use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, oneshot};
use walletport_core::{
    Balance, CardId, Customer, CustomerId, CustomerKey, Error, ErrorKind, Result,
};

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

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    store: Db,
    writer: mpsc::Sender<ledger::Msg>,
}

/// The pool and the store's write gate: SQLite lets one transaction write at a time, and its
/// own wait for the lock is polling with sleeps of up to 100 ms, which a busy writer (the
/// ledger's back-to-back group commits) wins almost every time. Every write of the store takes
/// its turn at this gate first, first come first served, so a waiting write runs next.
#[derive(Clone)]
pub(crate) struct Db {
    /// Readers and the non-ledger writers.
    pub(crate) pool: SqlitePool,
    gate: Arc<Mutex<()>>,
}

impl Db {
    /// Waits for this write's turn; the turn lasts until the guard is dropped.
    pub(crate) async fn turn(&self) -> OwnedMutexGuard<()> {
        Arc::clone(&self.gate).lock_owned().await
    }
}

/// A write transaction (`BEGIN IMMEDIATE`) holding the write turn until it ends.
pub(crate) struct WriteTx {
    // Dropped first: an unfinished transaction is rolled back, then the turn is released.
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    _turn: OwnedMutexGuard<()>,
}

impl WriteTx {
    /// Commits, then releases the turn.
    pub(crate) async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating with `?mode=rwc`) the database at `url`, migrates it (converting v0.1
    /// ledgers) and starts the ledger writer.
    pub async fn open(url: &str, options: StoreOptions) -> Result<Self> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| {
                Error::config(format!(
                    "invalid SQLite URL `{}`: {}",
                    redact(url),
                    redact(&e.to_string())
                ))
            })?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone())
            .await
            .map_err(|e| db("store.open", e))?;
        if options.migrate {
            sqlx::migrate!("migrations/sqlite")
                .run(&pool)
                .await
                .map_err(|e| {
                    Error::unexpected(format!(
                        "SQLite migration failed: {}",
                        redact(&e.to_string())
                    ))
                    .with_operation("store.migrate")
                })?;
        }
        let store = Db {
            pool,
            gate: Arc::new(Mutex::new(())),
        };
        if options.migrate {
            // v0.1 ledgers listed by migration 0002 (a no-op query once converted).
            backfill::run(&store, crate::codec::to_ns(Utc::now())?).await?;
        }
        let writer_conn = SqliteConnection::connect_with(&connect)
            .await
            .map_err(|e| db("store.open", e))?;
        let writer = ledger::spawn_writer(writer_conn, store.clone(), options.max_batch.max(1));
        Ok(Self { store, writer })
    }

    /// The connection pool, for operators' queries and tests.
    pub fn pool(&self) -> &SqlitePool {
        &self.store.pool
    }
}

/// Starts a write transaction once it is this write's turn (the turn first, so no pooled
/// connection is held while waiting).
pub(crate) async fn begin(store: &Db, op: &'static str) -> Result<WriteTx> {
    let turn = store.turn().await;
    let tx = store
        .pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| db(op, e))?;
    Ok(WriteTx { tx, _turn: turn })
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> Result<()> {
        self.store
            .pool
            .execute("SELECT 1")
            .await
            .map(|_| ())
            .map_err(|e| db("store.ping", e))
    }

    async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.writer.send(ledger::Msg::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
        self.store.pool.close().await;
    }

    async fn upsert_customer(&self, customer: &Customer, opts: WriteOpts) -> Result<Upserted> {
        logic::customers::upsert(&self.store, customer, opts).await
    }

    async fn get_customer(&self, key: &CustomerKey) -> Result<Option<StoredCustomer>> {
        logic::customers::get(&self.store, key).await
    }

    async fn list_customers(&self, query: &ListCustomers) -> Result<CustomerPage> {
        logic::customers::list(&self.store, query).await
    }

    async fn search_customers(&self, query: &crate::model::CustomerSearch) -> Result<CustomerPage> {
        logic::customers::search(&self.store, query).await
    }

    async fn expiring_points(
        &self,
        customer: &CustomerId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<rust_decimal::Decimal> {
        logic::customers::expiring_points(&self.store, customer, now, until).await
    }

    async fn set_percentages(
        &self,
        customer: &CustomerId,
        percentages: Percentages,
        opts: WriteOpts,
    ) -> Result<StoredCustomer> {
        logic::customers::set_percentages(&self.store, customer, percentages, opts).await
    }

    async fn attach_card(
        &self,
        customer: &CustomerId,
        card: &NewCard,
        opts: WriteOpts,
    ) -> Result<StoredCard> {
        logic::customers::attach_card(&self.store, customer, card, opts).await
    }

    async fn update_card(
        &self,
        provider: &str,
        vendor_card_id: &CardId,
        patch: &CardPatch,
        opts: WriteOpts,
    ) -> Result<CardUpdated> {
        logic::customers::update_card(&self.store, provider, vendor_card_id, patch, opts).await
    }

    async fn list_cards(&self, customer: &CustomerId) -> Result<Vec<StoredCard>> {
        logic::customers::list_cards(&self.store, customer).await
    }

    async fn apply(
        &self,
        customer: &CustomerId,
        op: &LedgerOp,
        opts: WriteOpts,
    ) -> Result<LedgerOutcome> {
        crate::codec::to_ns(opts.now)?;
        let (reply, answer) = oneshot::channel();
        let job = ledger::Job {
            customer: customer.clone(),
            op: op.clone(),
            opts,
            reply,
        };
        let stopped = || {
            Error::new(ErrorKind::Unexpected, "the store is closed").with_operation("ledger.apply")
        };
        self.writer
            .send(ledger::Msg::Job(job))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    async fn balance(&self, customer: &CustomerId, now: DateTime<Utc>) -> Result<Balance> {
        ledger::balance(&self.store.pool, customer, now).await
    }

    async fn ledger(&self, customer: &CustomerId, query: &LedgerQuery) -> Result<LedgerPage> {
        ledger::entries(&self.store.pool, customer, query).await
    }

    async fn expire_due(&self, now: DateTime<Utc>, max_customers: u32) -> Result<ExpiryReport> {
        ledger::expire_due(&self.store, now, max_customers).await
    }

    async fn record_inbound_event(
        &self,
        provider: &str,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        logic::customers::record_event(&self.store, provider, event_id, now).await
    }

    async fn enqueue(&self, item: &NewOutboxItem, now: DateTime<Utc>) -> Result<OutboxId> {
        logic::outbox::enqueue(&self.store, item, now).await
    }

    async fn claim_batch(&self, request: &ClaimRequest) -> Result<Vec<OutboxItem>> {
        logic::outbox::claim(&self.store, request).await
    }

    async fn complete(&self, worker: &str, ids: &[OutboxId]) -> Result<u64> {
        logic::outbox::complete(&self.store, worker, ids).await
    }

    async fn fail(&self, worker: &str, ids: &[OutboxId], failure: &Failure) -> Result<FailOutcome> {
        logic::outbox::fail(&self.store, worker, ids, failure).await
    }

    async fn list_outbox(
        &self,
        which: OutboxList,
        after: Option<OutboxId>,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxItem>> {
        logic::outbox::list(&self.store, which, after, limit, now).await
    }

    async fn retry_dead(&self, id: OutboxId, now: DateTime<Utc>) -> Result<OutboxId> {
        logic::outbox::retry_dead(&self.store, id, now).await
    }

    async fn enqueue_resync(&self, request: &ResyncRequest) -> Result<ResyncPage> {
        logic::outbox::enqueue_resync(&self.store, request).await
    }

    async fn outbox_stats(&self, now: DateTime<Utc>) -> Result<OutboxStats> {
        logic::outbox::stats(&self.store, now).await
    }

    async fn take_quota_slot(
        &self,
        key: &str,
        limits: &[crate::QuotaLimit],
        interactive: bool,
    ) -> Result<crate::QuotaSlot> {
        quota::take(&self.store, key, limits, interactive).await
    }

    async fn pause_quota(&self, key: &str, after: std::time::Duration) -> Result<()> {
        quota::pause(&self.store, key, after).await
    }

    async fn quota_state(
        &self,
        key: &str,
        limits: &[crate::QuotaLimit],
    ) -> Result<crate::QuotaState> {
        quota::state(&self.store, key, limits).await
    }

    async fn lower_quota_limit(
        &self,
        key: &str,
        per: std::time::Duration,
        limit: u32,
    ) -> Result<bool> {
        quota::lower(&self.store, key, per, limit).await
    }
}
