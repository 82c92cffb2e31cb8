//! The [`Store`] port: everything the gateway keeps durably.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use walletport_core::{Balance, CardId, Credit, Customer, CustomerId, CustomerKey, Result};

use crate::ledger::{ExpiryReport, LedgerOp, LedgerOutcome, LedgerPage, LedgerQuery};
use crate::model::{
    CardPatch, CardUpdated, CustomerPage, ListCustomers, NewCard, Percentages, StoredCard,
    StoredCustomer, Upserted, WriteOpts,
};
use crate::outbox::{
    ClaimRequest, FailOutcome, Failure, NewOutboxItem, OutboxId, OutboxItem, OutboxList,
    OutboxStats, ResyncPage, ResyncRequest,
};
use crate::quota::{QuotaLimit, QuotaSlot, QuotaState};

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// One file, one machine; the default.
    Sqlite,
    /// Shared by several gateway processes.
    Postgres,
}

/// The gateway's durable state: customers, cards, an exactly-once ledger with expiring
/// credits, inbound-event deduplication and a transactional outbox.
///
/// Every write is one database transaction; a write that the vendor must see enqueues its outbox
/// item in that same transaction (unless [`WriteOpts::echo`] is false), so a change and its sync
/// are never separated by a crash. Invalid input is rejected with
/// [`ErrorKind::InvalidInput`](walletport_core::ErrorKind::InvalidInput) before anything is
/// written. Object-safe: use it as `Arc<dyn Store>` from [`crate::connect`].
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which database this is.
    fn backend(&self) -> Backend;

    /// Checks that the database answers (for `/healthz`).
    async fn ping(&self) -> Result<()>;

    /// Closes connections and stops background tasks after in-flight writes finished.
    async fn close(&self);

    // ---- customers ------------------------------------------------------------------------

    /// Creates the customer with `customer.phone`, or patches the existing one (every `Some`
    /// field replaces the stored value; extra fields and provider ids merge by key).
    ///
    /// On create, `customer.id` (if set) becomes the CRM id, otherwise a random UUID-shaped id
    /// is made; the id never changes afterwards, and a patch naming another id is a `Conflict`.
    /// A new id already used by another customer is `AlreadyExists`.
    async fn upsert_customer(&self, customer: &Customer, opts: WriteOpts) -> Result<Upserted>;

    /// Finds a customer by phone, CRM id, or a card's vendor id or number (any provider).
    async fn get_customer(&self, key: &CustomerKey) -> Result<Option<StoredCustomer>>;

    /// Lists customers in creation order, one page at a time.
    async fn list_customers(&self, query: &ListCustomers) -> Result<CustomerPage>;

    /// Finds customers by the start of their phone (digits typed) or of their name (first name
    /// then surname, or surname then first name, in any case), one page at a time, each page
    /// one index range scan. Empty or overlong text, or a bad cursor: `InvalidInput`.
    async fn search_customers(&self, query: &crate::model::CustomerSearch) -> Result<CustomerPage>;

    /// Sets bonus and/or discount percentage; the change is synced (outbox, same transaction).
    async fn set_percentages(
        &self,
        customer: &CustomerId,
        percentages: Percentages,
        opts: WriteOpts,
    ) -> Result<StoredCustomer>;

    // ---- cards ----------------------------------------------------------------------------

    /// Attaches a card to a customer, or merges into the same card (same provider and vendor
    /// id, or same number). A card held by another customer is a `Conflict`.
    async fn attach_card(
        &self,
        customer: &CustomerId,
        card: &NewCard,
        opts: WriteOpts,
    ) -> Result<StoredCard>;

    /// Changes the state of the card `vendor_card_id` of `provider` (e.g. from a webhook),
    /// deduplicated by `patch.event_id` in the same transaction.
    async fn update_card(
        &self,
        provider: &str,
        vendor_card_id: &CardId,
        patch: &CardPatch,
        opts: WriteOpts,
    ) -> Result<CardUpdated>;

    /// The customer's cards, oldest first.
    async fn list_cards(&self, customer: &CustomerId) -> Result<Vec<StoredCard>>;

    // ---- ledger ---------------------------------------------------------------------------

    /// Credits exactly once by transaction id: a repeat with the same customer and amount
    /// answers `applied: false`; a repeat with another customer or amount is a `Conflict`.
    /// Durable when it returns. Unknown customer: `NotFound`.
    async fn credit(
        &self,
        customer: &CustomerId,
        credit: &Credit,
        opts: WriteOpts,
    ) -> Result<LedgerOutcome> {
        self.apply(customer, &LedgerOp::Credit(credit.clone()), opts)
            .await
    }

    /// Applies a credit, redemption, set-points or reversal exactly once by its transaction id
    /// (see [`Store::credit`]) and writes its ledger entry, lots and balance in one transaction.
    ///
    /// A redemption above the balance is
    /// [`ErrorKind::InsufficientPoints`](walletport_core::ErrorKind::InsufficientPoints) and
    /// changes nothing; a reversal of a credit the customer does not have is `NotFound`, and a
    /// second reversal of one credit answers `applied: false`. Lots past their time are expired
    /// first (an `expiry` entry each, and an outbox item even without echo).
    async fn apply(
        &self,
        customer: &CustomerId,
        op: &LedgerOp,
        opts: WriteOpts,
    ) -> Result<LedgerOutcome>;

    /// The balance at `now`, at a cost independent of the customer's history: the stored points
    /// less the lots past their time at `now` that the expiry task has not reached yet.
    async fn balance(&self, customer: &CustomerId, now: DateTime<Utc>) -> Result<Balance>;

    /// One page of the customer's ledger, newest first. Unknown customer: `NotFound`.
    async fn ledger(&self, customer: &CustomerId, query: &LedgerQuery) -> Result<LedgerPage>;

    /// The customer's points that stop counting after `now` and no later than `until` (what is
    /// left of their credits with a lifetime, e.g. "expiring within 30 days"); costs the lots
    /// in that window, read off the spending index. `until` before `now`: `InvalidInput`.
    async fn expiring_points(
        &self,
        customer: &CustomerId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<rust_decimal::Decimal>;

    /// Expires the lots past their time at `now` of at most `max_customers` customers, each in
    /// a transaction of its own: an `expiry` entry per lot and one outbox item per customer.
    /// Safe with several gateways on one database (no lot expires twice). Call it until it
    /// reports no customers to catch up.
    async fn expire_due(&self, now: DateTime<Utc>, max_customers: u32) -> Result<ExpiryReport>;

    // ---- inbound events -------------------------------------------------------------------

    /// Records an inbound event id (e.g. a Passteam `webhookId`); true the first time only.
    async fn record_inbound_event(
        &self,
        provider: &str,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool>;

    // ---- outbox ---------------------------------------------------------------------------

    /// Signalled (`notify_waiters`) after this store commits a write that enqueued, or may
    /// have enqueued, outbox items, so an idle outbox worker in this process starts at once
    /// instead of at its next poll. Other processes' writes (gateways sharing one database)
    /// are still found by polling. `None`: the caller polls only.
    fn outbox_signal(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }

    /// Enqueues an item on its own (changes made through the store enqueue theirs already).
    async fn enqueue(&self, item: &NewOutboxItem, now: DateTime<Utc>) -> Result<OutboxId>;

    /// Claims due items under a lease: whole customers, in the order their oldest items fell
    /// due (a retried head after what fell due before its retry; among those taken, oldest head
    /// first), never a customer that another live lease holds or whose oldest item waits for a
    /// retry.
    async fn claim_batch(&self, request: &ClaimRequest) -> Result<Vec<OutboxItem>>;

    /// Removes delivered items that `worker` still holds; returns how many.
    async fn complete(&self, worker: &str, ids: &[OutboxId]) -> Result<u64>;

    /// Records a failed delivery of items `worker` still holds: counts the attempt, schedules a
    /// retry, or moves the item to the dead letters when permanent or out of attempts.
    async fn fail(&self, worker: &str, ids: &[OutboxId], failure: &Failure) -> Result<FailOutcome>;

    /// Hands items `worker` still holds back undelivered (a shutdown, or too little lease left
    /// to deliver safely): frees the lease and makes them due at `due_at`, so any worker may
    /// claim them from then on. Nothing was tried, so unlike [`Store::fail`] it counts no
    /// attempt and keeps the last error: a hand-back never brings an item nearer the dead
    /// letters nor lengthens its backoff. Items another worker holds by now are left alone;
    /// returns how many were handed back.
    async fn release(&self, worker: &str, ids: &[OutboxId], due_at: DateTime<Utc>) -> Result<u64>;

    /// Reads waiting items or dead letters by ascending id, after `after`, at most `limit`.
    async fn list_outbox(
        &self,
        which: OutboxList,
        after: Option<OutboxId>,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxItem>>;

    /// Moves a dead letter back into the outbox as a new item (new id, zero attempts, due at
    /// `now`); returns the new id. Unknown id: `NotFound`.
    async fn retry_dead(&self, id: OutboxId, now: DateTime<Utc>) -> Result<OutboxId>;

    /// Queues the full current state of one page of customers (or of one customer): a
    /// `customer` item for each that has no `customer` item waiting yet, so running a resync
    /// twice queues no duplicate work. Used to move a programme to another vendor.
    async fn enqueue_resync(&self, request: &ResyncRequest) -> Result<ResyncPage>;

    /// Depth, in-flight count, dead letters and the oldest waiting item's age, for metrics.
    async fn outbox_stats(&self, now: DateTime<Utc>) -> Result<OutboxStats>;

    // ---- vendor quota (see [`crate::quota`]) ----------------------------------------------

    /// Takes one request slot of the vendor quota `key` when every window of `limits` has room
    /// and no pause holds the key; otherwise answers how long until one could come. Atomic
    /// across every gateway on this database: together they never grant more than a window's
    /// limit in any interval of its length. An `interactive` taker that must wait goes before
    /// every background taker of every gateway.
    async fn take_quota_slot(
        &self,
        key: &str,
        limits: &[QuotaLimit],
        interactive: bool,
    ) -> Result<QuotaSlot>;

    /// Holds every taker of `key` for `after` from now (a vendor's `Retry-After`), unless a
    /// pause that ends later holds it already.
    async fn pause_quota(&self, key: &str, after: std::time::Duration) -> Result<()>;

    /// How many grants each window of `limits` holds now, the pause left and the lowered
    /// windows, for operators.
    async fn quota_state(&self, key: &str, limits: &[QuotaLimit]) -> Result<QuotaState>;

    /// Lowers the window of period `per` of quota `key` to `limit` for every taker from now
    /// on, kept across restarts: the vendor revealed a smaller plan than configured (Passteam's
    /// "You can only make N requests per hour"). Never raises; `true` when it lowered.
    async fn lower_quota_limit(
        &self,
        key: &str,
        per: std::time::Duration,
        limit: u32,
    ) -> Result<bool>;
}
