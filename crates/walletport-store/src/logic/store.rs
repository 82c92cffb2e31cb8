//! The one [`Store`] implementation: every backend is an [`Engine`] (its dialect's statements
//! and its ledger writer), and the port's methods run the shared logic over it.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tokio::sync::Notify;
use walletport_core::{Balance, CardId, Customer, CustomerId, CustomerKey, Result};

use super::Dialect;
use super::customer_sql::CustomerSql;
use super::customers;
use super::ledger::{self, LedgerSql};
use super::outbox;
use super::outbox_sql::OutboxSql;
use super::quota::{self, QuotaSql};
use crate::ledger::{ExpiryReport, LedgerOp, LedgerOutcome, LedgerPage, LedgerQuery};
use crate::model::{
    CardPatch, CardUpdated, CustomerPage, CustomerSearch, ListCustomers, NewCard, Percentages,
    StoredCard, StoredCustomer, Upserted, WriteOpts,
};
use crate::outbox::{
    ClaimRequest, FailOutcome, Failure, NewOutboxItem, OutboxId, OutboxItem, OutboxList,
    OutboxStats, ResyncPage, ResyncRequest,
};
use crate::quota::{QuotaLimit, QuotaSlot, QuotaState};
use crate::{Backend, Store};

/// A backend: its dialect ([`Engine::Sql`]) and the writer task its ledger writes go through
/// (SQLite: group commits of every operation; PostgreSQL: batched credits).
pub(crate) trait Engine: Send + Sync + 'static {
    /// The statements the shared logic runs.
    type Sql: CustomerSql + OutboxSql + LedgerSql + QuotaSql;
    /// Which database this is.
    const BACKEND: Backend;

    /// The dialect, over the backend's pool.
    fn sql(&self) -> &Self::Sql;

    /// [`Store::apply`]: hands the operation to the backend's writer (or runs it directly).
    fn apply_op(
        &self,
        c: &CustomerId,
        op: &LedgerOp,
        o: WriteOpts,
    ) -> impl Future<Output = Result<LedgerOutcome>> + Send;

    /// Stops the writer task once it finished the queued operations.
    fn stop_writer(&self) -> impl Future<Output = ()> + Send;

    /// What [`Store::outbox_signal`] hands out.
    fn signal(&self) -> &Arc<Notify>;
}

/// Passes `result` on, waking the outbox workers waiting on `signal` when the write succeeded
/// and `enqueued` says it queued something.
fn wrote<T>(signal: &Notify, enqueued: bool, result: Result<T>) -> Result<T> {
    if enqueued && result.is_ok() {
        signal.notify_waiters();
    }
    result
}

// `Engine` is the crate's own seam, not part of the API: every `Store` outside the crate is
// implemented directly.
#[allow(private_bounds)]
#[async_trait]
impl<E: Engine> Store for E {
    fn backend(&self) -> Backend {
        E::BACKEND
    }

    async fn ping(&self) -> Result<()> {
        Dialect::ping(self.sql()).await
    }

    async fn close(&self) {
        self.stop_writer().await;
        Dialect::close(self.sql()).await;
    }

    async fn upsert_customer(&self, customer: &Customer, opts: WriteOpts) -> Result<Upserted> {
        let r = customers::upsert(self.sql(), customer, opts).await;
        wrote(self.signal(), opts.echo, r)
    }

    async fn get_customer(&self, key: &CustomerKey) -> Result<Option<StoredCustomer>> {
        customers::get(self.sql(), key).await
    }

    async fn list_customers(&self, query: &ListCustomers) -> Result<CustomerPage> {
        customers::list(self.sql(), query).await
    }

    async fn search_customers(&self, query: &CustomerSearch) -> Result<CustomerPage> {
        customers::search(self.sql(), query).await
    }

    async fn set_percentages(
        &self,
        customer: &CustomerId,
        percentages: Percentages,
        opts: WriteOpts,
    ) -> Result<StoredCustomer> {
        let r = customers::set_percentages(self.sql(), customer, percentages, opts).await;
        wrote(self.signal(), opts.echo, r)
    }

    async fn attach_card(
        &self,
        customer: &CustomerId,
        card: &NewCard,
        opts: WriteOpts,
    ) -> Result<StoredCard> {
        let r = customers::attach_card(self.sql(), customer, card, opts).await;
        wrote(self.signal(), opts.echo, r)
    }

    async fn update_card(
        &self,
        provider: &str,
        vendor_card_id: &CardId,
        patch: &CardPatch,
        opts: WriteOpts,
    ) -> Result<CardUpdated> {
        let r = customers::update_card(self.sql(), provider, vendor_card_id, patch, opts).await;
        wrote(self.signal(), opts.echo, r)
    }

    async fn list_cards(&self, customer: &CustomerId) -> Result<Vec<StoredCard>> {
        customers::list_cards(self.sql(), customer).await
    }

    async fn apply(
        &self,
        customer: &CustomerId,
        op: &LedgerOp,
        opts: WriteOpts,
    ) -> Result<LedgerOutcome> {
        let r = self.apply_op(customer, op, opts).await;
        wrote(self.signal(), opts.echo, r)
    }

    async fn balance(&self, customer: &CustomerId, now: DateTime<Utc>) -> Result<Balance> {
        ledger::balance(self.sql(), customer, now).await
    }

    async fn ledger(&self, customer: &CustomerId, query: &LedgerQuery) -> Result<LedgerPage> {
        ledger::page(self.sql(), customer, query).await
    }

    async fn expiring_points(
        &self,
        customer: &CustomerId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Decimal> {
        customers::expiring_points(self.sql(), customer, now, until).await
    }

    async fn expire_due(&self, now: DateTime<Utc>, max_customers: u32) -> Result<ExpiryReport> {
        let r = ledger::expire_due(self.sql(), now, max_customers).await;
        let expired = r.as_ref().is_ok_and(|report| report.customers > 0);
        wrote(self.signal(), expired, r)
    }

    async fn record_inbound_event(
        &self,
        provider: &str,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        customers::record_event(self.sql(), provider, event_id, now).await
    }

    async fn enqueue(&self, item: &NewOutboxItem, now: DateTime<Utc>) -> Result<OutboxId> {
        wrote(
            self.signal(),
            true,
            outbox::enqueue(self.sql(), item, now).await,
        )
    }

    async fn claim_batch(&self, request: &ClaimRequest) -> Result<Vec<OutboxItem>> {
        outbox::claim(self.sql(), request).await
    }

    async fn complete(&self, worker: &str, ids: &[OutboxId]) -> Result<u64> {
        outbox::complete(self.sql(), worker, ids).await
    }

    async fn release(&self, worker: &str, ids: &[OutboxId], due_at: DateTime<Utc>) -> Result<u64> {
        let r = outbox::release(self.sql(), worker, ids, due_at).await;
        let released = r.as_ref().is_ok_and(|n| *n > 0);
        wrote(self.signal(), released, r)
    }

    async fn fail(&self, worker: &str, ids: &[OutboxId], failure: &Failure) -> Result<FailOutcome> {
        let r = outbox::fail(self.sql(), worker, ids, failure).await;
        let due_now = failure.retry_at.is_some_and(|at| at <= failure.now);
        wrote(self.signal(), due_now, r)
    }

    async fn list_outbox(
        &self,
        which: OutboxList,
        after: Option<OutboxId>,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxItem>> {
        outbox::list(self.sql(), which, after, limit, now).await
    }

    async fn retry_dead(&self, id: OutboxId, now: DateTime<Utc>) -> Result<OutboxId> {
        wrote(
            self.signal(),
            true,
            outbox::retry_dead(self.sql(), id, now).await,
        )
    }

    async fn enqueue_resync(&self, request: &ResyncRequest) -> Result<ResyncPage> {
        let r = outbox::enqueue_resync(self.sql(), request).await;
        let queued = r.as_ref().is_ok_and(|page| page.queued > 0);
        wrote(self.signal(), queued, r)
    }

    fn outbox_signal(&self) -> Option<Arc<Notify>> {
        Some(Arc::clone(self.signal()))
    }

    async fn outbox_stats(&self, now: DateTime<Utc>) -> Result<OutboxStats> {
        outbox::stats(self.sql(), now).await
    }

    async fn take_quota_slot(
        &self,
        key: &str,
        limits: &[QuotaLimit],
        interactive: bool,
    ) -> Result<QuotaSlot> {
        quota::take(self.sql(), key, limits, interactive).await
    }

    async fn pause_quota(&self, key: &str, after: std::time::Duration) -> Result<()> {
        quota::pause(self.sql(), key, after).await
    }

    async fn quota_state(&self, key: &str, limits: &[QuotaLimit]) -> Result<QuotaState> {
        quota::state(self.sql(), key, limits).await
    }

    async fn lower_quota_limit(
        &self,
        key: &str,
        per: std::time::Duration,
        limit: u32,
    ) -> Result<bool> {
        quota::lower(self.sql(), key, per, limit).await
    }
}
