//! # walletport-memory
//!
//! The reference in-memory [`Provider`]: it implements every port of `walletport-core` with
//! every capability flag on, so it is the embedded default, the provider examples and the CLI
//! run against without vendor credentials, and the implementation the conformance suite
//! (`walletport-testkit`) is proven on.
//!
//! Behaviour worth knowing:
//! - Customers are keyed by phone; an upsert creates (and issues the first card) or patches
//!   (`None` fields stay as they are). Cards get sequential numbers and deterministic fake
//!   install links under `https://memory.walletport.invalid/`.
//! - Balances are a ledger: `set_balance` points sets an absolute total, credits after it add up,
//!   each credit applies exactly once per transaction id and burns exactly at
//!   `credited_at + lifetime` by the provider's [`Clock`]. Redemptions spend points exactly
//!   once per transaction id, the soonest-burning credits first and points that never burn
//!   last, and answer `InsufficientPoints` (changing nothing) when the customer holds too few.
//!   The total and the open expiring lots are kept, not summed from the history, so reading a
//!   balance costs the same for a customer with 100,000 credits as for a new one.
//! - A failed operation changes nothing: every change is made on a copy of the state that
//!   replaces the old one only on success (and, with [`MemoryConfig::path`], only after the state
//!   file was rewritten atomically).
//! - The state file is written synchronously under the state lock (small JSON, fsync): fine for
//!   CLI chaining and tests, not meant as a database. One process at a time per file.
//! - Nothing is delivered: install links, pushes and campaigns are recorded in an
//!   [`outbox`](MemoryProvider::outbox).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use walletport_core::{Checked, Customer, Phone, ProviderExt, UpsertCustomer};
//! use walletport_memory::{MemoryConfig, MemoryProvider};
//!
//! let provider = Checked::wrap(Arc::new(MemoryProvider::open(&MemoryConfig::default())?));
//! let phone = Phone::parse("+420000000001")?;
//! let record = provider
//!     .customers()
//!     .upsert_customer(UpsertCustomer::new(Customer::new(phone.clone())))
//!     .await?;
//! assert_eq!(record.cards.len(), 1);
//! assert_eq!(provider.customer_by_phone(&phone).await?.customer.phone, phone);
//! # Ok::<(), walletport_core::Error>(()) }).unwrap();
//! ```

mod balances;
mod cards;
mod config;
mod customers;
mod enrolment;
mod ledger;
mod messaging;
mod outbox;
mod persist;
mod state;
mod templates;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use walletport_core::{
    Capability, Card, CardKey, Channel, Installed, Provider, ProviderInfo, ProviderStatus, Result,
    TemplateId,
};

pub use config::{
    DEFAULT_CARD_NUMBER_START, DEFAULT_PAGE_SIZE, DEFAULT_TEMPLATE_ID, MAX_PAGE_SIZE, MemoryConfig,
};
pub use messaging::SEGMENT_FIELD;
pub use outbox::OutboxEntry;
/// Re-exported from core: the gateway and this provider read time through the same clock.
pub use walletport_core::{Clock, ManualClock, SystemClock};

use state::State;

/// The provider name (`kind = "memory"`).
pub const NAME: &str = "memory";

/// The most free-form fields a card or template carries (`Capability::max_fields`).
pub const MAX_FIELDS: u32 = 64;

/// The base of every fake install link.
pub const LINK_BASE: &str = "https://memory.walletport.invalid";

/// The in-memory provider. Cheap to share behind an `Arc`; all methods take `&self`.
///
/// It implements both [`Provider`] and every port, so on the concrete type `push()` is
/// ambiguous: call it through `&dyn Provider` (or `Provider::push(&memory)`).
pub struct MemoryProvider {
    state: Mutex<State>,
    path: Option<PathBuf>,
    clock: Arc<dyn Clock>,
    default_template: TemplateId,
    page_size: u32,
}

impl std::fmt::Debug for MemoryProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryProvider")
            .field("path", &self.path)
            .field("default_template", &self.default_template)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl MemoryProvider {
    /// Opens the provider: validates `config` and, with a `path`, loads the state file (a
    /// missing file is a fresh state; it is created by the first change).
    pub fn open(config: &MemoryConfig) -> Result<Self> {
        config.validate()?;
        let default_template = config.template_id()?;
        let mut state = match &config.path {
            Some(path) => persist::load(path)?,
            None => None,
        }
        .unwrap_or_else(|| State::new(config.card_number_start()));
        state.seed_template(&default_template);
        Ok(Self {
            state: Mutex::new(state),
            path: config.path.clone(),
            clock: Arc::new(SystemClock),
            default_template,
            page_size: config.page_size(),
        })
    }

    /// Replaces the clock (registration times, credit lifetimes); see [`ManualClock`].
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The state file, if the state is persisted.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Everything "sent" so far (install links, pushes, card notifications, campaigns), oldest
    /// first; the most recent 1000 entries are kept.
    pub fn outbox(&self) -> Vec<OutboxEntry> {
        self.lock().outbox.clone()
    }

    /// The pushes sent to single customers on `channel`, oldest first.
    pub fn pushes(&self, channel: Channel) -> Vec<OutboxEntry> {
        self.lock()
            .outbox
            .iter()
            .filter(|e| matches!(e, OutboxEntry::Push { channel: c, .. } if *c == channel))
            .cloned()
            .collect()
    }

    /// Simulates the holder installing (or removing) a card in a wallet — the event a vendor
    /// would report — so tests can exercise the installed filter.
    pub fn set_installed(&self, card: &CardKey, installed: Installed) -> Result<Card> {
        self.write(|state, _| {
            let id = state.resolve_card(card)?;
            let entry = state.card_mut(&id)?;
            entry.card.installed = installed;
            Ok(entry.card.clone())
        })
    }

    /// The complete state as JSON (the state file's content), for before/after comparisons.
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::to_value(&*self.lock()).unwrap_or_default()
    }

    /// The card design `requested`, else the configured default one.
    fn template_or_default(&self, requested: Option<&TemplateId>) -> TemplateId {
        requested.unwrap_or(&self.default_template).clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Changes are swapped in whole, so a panic elsewhere never leaves a half-made change.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a read against the state at the clock's current time.
    fn read<T>(&self, f: impl FnOnce(&State, DateTime<Utc>) -> Result<T>) -> Result<T> {
        let state = self.lock();
        f(&state, self.clock.now())
    }

    /// Runs a change on a copy of the state; the copy replaces the state (and the state file)
    /// only when `f` and the write succeed.
    fn write<T>(&self, f: impl FnOnce(&mut State, DateTime<Utc>) -> Result<T>) -> Result<T> {
        let mut state = self.lock();
        let mut next = state.clone();
        let out = f(&mut next, self.clock.now())?;
        if let Some(path) = &self.path {
            persist::save(path, &next)?;
        }
        *state = next;
        Ok(out)
    }
}

/// Every flag on, with the memory provider's limits.
fn capability() -> Capability {
    let mut capability = Capability::ALL;
    capability.max_page_size = Some(MAX_PAGE_SIZE);
    capability.max_fields = Some(MAX_FIELDS);
    capability.max_message_len = Some(walletport_core::MAX_MESSAGE_CHARS as u32);
    capability
}

#[async_trait]
impl Provider for MemoryProvider {
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            name: NAME,
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    fn capability(&self) -> Capability {
        capability()
    }

    async fn status(&self) -> Result<ProviderStatus> {
        Ok(ProviderStatus {
            account: NAME.to_owned(),
            balance: None,
        })
    }

    walletport_core::self_ports!();
}
