//! What every part of the gateway shares: the store, the provider, the clock and the metrics.

use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use walletport_core::{CustomerKey, Error, Phone, Provider, Result};
use walletport_store::{Store, StoredCustomer};

use crate::clock::Clock;
use crate::metrics::{Metrics, TransportStatsSource};
use crate::preflight::StartupCheck;

/// The gateway's shared parts; cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    /// The durable CRM-side state.
    pub store: Arc<dyn Store>,
    /// The vendor the outbox delivers to and the REST API's push/campaign/template calls use.
    pub provider: Arc<dyn Provider>,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// The counters behind `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The provider transport's counters, when reachable (quota waits in `/metrics`).
    pub transport_stats: Option<TransportStatsSource>,
    /// The Skycore adapter itself when the provider is Skycore (the same instance, so its
    /// issuance links, a Skycore-only API, share the provider's quota).
    pub skycore: Option<Arc<walletport_skycore::SkycoreProvider>>,
    /// What the start-up provider check found (reported by `/healthz`).
    startup_check: Arc<RwLock<StartupCheck>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("backend", &self.store.backend())
            .field("provider", &self.provider.info().name)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// The gateway's parts with the wall clock and fresh metrics.
    pub fn new(store: Arc<dyn Store>, provider: Arc<dyn Provider>) -> Self {
        Self {
            store,
            provider,
            clock: Arc::new(crate::clock::SystemClock),
            metrics: Arc::new(Metrics::default()),
            transport_stats: None,
            skycore: None,
            startup_check: Arc::default(),
        }
    }

    /// The same parts with another clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same parts with a source of transport counters for `/metrics`.
    #[must_use]
    pub fn with_transport_stats(mut self, source: TransportStatsSource) -> Self {
        self.transport_stats = Some(source);
        self
    }

    /// The same parts with the Skycore adapter behind `provider`, for `/api/links`.
    #[must_use]
    pub fn with_skycore(mut self, adapter: Arc<walletport_skycore::SkycoreProvider>) -> Self {
        self.skycore = Some(adapter);
        self
    }

    /// What the start-up provider check found.
    pub fn startup_check(&self) -> StartupCheck {
        self.startup_check
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_startup_check(&self, check: StartupCheck) {
        *self
            .startup_check
            .write()
            .unwrap_or_else(PoisonError::into_inner) = check;
    }

    /// The current instant by the gateway's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The stored customer behind `key`, or `NotFound`.
    pub async fn customer(&self, key: &CustomerKey) -> Result<StoredCustomer> {
        self.store
            .get_customer(key)
            .await?
            .ok_or_else(|| Error::not_found("no such customer"))
    }

    /// The stored customer with `phone`, or `NotFound`.
    pub async fn customer_by_phone(&self, phone: &Phone) -> Result<StoredCustomer> {
        self.customer(&CustomerKey::Phone(phone.clone())).await
    }
}
