//! # walletport-store
//!
//! The gateway's durable CRM-side state behind one [`Store`] port, on SQLite (one file, the
//! default) or PostgreSQL (shared by several gateway processes): customers keyed by phone with a
//! stable CRM id, cards per provider, an exactly-once ledger with expiring credits, durable
//! deduplication of inbound events, and a transactional outbox with leases and dead letters.
//!
//! ```no_run
//! # async fn demo() -> walletport_core::Result<()> {
//! use walletport_core::{Credit, Customer, Phone, TransactionId, Decimal};
//! use walletport_store::{connect, WriteOpts};
//!
//! let store = connect("sqlite://walletport.db?mode=rwc").await?;
//! let phone = Phone::parse("+420000000001")?;
//! let up = store.upsert_customer(&Customer::new(phone), WriteOpts::now()).await?;
//! let credit = Credit::new(Decimal::new(50, 0), TransactionId::new("order-17")?, None)?;
//! let first = store.credit(&up.id, &credit, WriteOpts::now()).await?;
//! let again = store.credit(&up.id, &credit, WriteOpts::now()).await?;
//! assert!(first.applied && !again.applied);
//! # Ok(()) }
//! ```
//!
//! ## Durability and throughput
//! A write returns after its transaction committed. SQLite runs in WAL mode with
//! `synchronous=FULL`; ledger operations go through one writer task that commits whatever
//! arrived while the previous commit was syncing in one transaction (group commit), answering
//! each caller with its own outcome; every other write waits for its turn at a fair gate, so the
//! outbox worker's claims get in between those commits. On PostgreSQL, credits go through one
//! writer task the same way: whatever arrived while its previous statement committed is applied
//! as one statement over arrays (one round trip, one WAL flush for the batch).

mod codec;
mod error;
mod ledger;
mod logic;
mod model;
mod outbox;
mod postgres;
pub mod quota;
mod sqlite;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use walletport_core::{Error, Result};

pub use ledger::{
    EntryKind, ExpiryReport, LedgerEntry, LedgerOp, LedgerOutcome, LedgerPage, LedgerQuery,
    Redemption, Reversal, SetPoints,
};
pub use model::{
    CardPatch, CardUpdated, CustomerPage, CustomerSearch, ListCustomers, MAX_PAGE,
    MAX_SEARCH_CHARS, NewCard, Percentages, StoredCard, StoredCustomer, Upserted, WriteOpts,
};
pub use outbox::{
    ClaimRequest, FailOutcome, Failure, MAX_ERROR_CHARS, MAX_RESYNC_PAGE, NewOutboxItem, OutboxId,
    OutboxItem, OutboxKind, OutboxList, OutboxState, OutboxStats, ResyncCursor, ResyncPage,
    ResyncRequest, resync_all,
};
pub use postgres::PgStore;
pub use quota::{QuotaLimit, QuotaSlot, QuotaState};
pub use sqlite::SqliteStore;
#[cfg(feature = "mock")]
pub use store::MockStore;
pub use store::{Backend, Store};

/// The database the gateway uses when nothing is configured.
pub const DEFAULT_URL: &str = "sqlite://walletport.db?mode=rwc";

/// Tuning knobs; the defaults suit a small gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Connections in the pool (readers and non-ledger writers). PostgreSQL opens one more, for
    /// the credit writer's batch statements.
    pub max_connections: u32,
    /// How long a connection waits for a locked SQLite database before failing.
    pub busy_timeout: Duration,
    /// How long to wait for a free pooled connection.
    pub acquire_timeout: Duration,
    /// The most ledger operations the SQLite writer commits in one transaction, and the most
    /// credits the PostgreSQL writer sends in one statement.
    pub max_batch: usize,
    /// Run the embedded migrations on connect.
    pub migrate: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            busy_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(30),
            max_batch: 256,
            migrate: true,
        }
    }
}

/// Opens the store at `url` with default options: `sqlite:` or `postgres:`/`postgresql:`.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    connect_with(url, StoreOptions::default()).await
}

/// Opens the store at `url`, picking the backend by scheme, and runs the migrations.
///
/// Errors never contain the password of the URL.
pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Arc<dyn Store>> {
    let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("sqlite") => Ok(Arc::new(SqliteStore::open(url, options).await?)),
        Some("postgres" | "postgresql") => Ok(Arc::new(PgStore::connect(url, options).await?)),
        _ => Err(Error::config(format!(
            "unsupported database URL `{}`: use sqlite://FILE or postgres://USER@HOST/DB",
            error::redact(url)
        ))),
    }
}
