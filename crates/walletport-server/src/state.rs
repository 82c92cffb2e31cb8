//! What every part of the gateway shares: the store, the provider, the clock and the metrics.

use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use walletport_core::{Card, CardKey, CustomerId, CustomerKey, Error, Phone, Provider, Result};
use walletport_http::Limiter;
use walletport_store::{NewCard, Store, StoredCustomer, WriteOpts};

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
    /// The provider transport's quota limiter, when known (its windows on the console).
    pub quota: Option<Arc<dyn Limiter>>,
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
            quota: None,
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

    /// The same parts with the provider transport's quota limiter, so the console shows how
    /// full its windows are.
    #[must_use]
    pub fn with_quota(mut self, limiter: Arc<dyn Limiter>) -> Self {
        self.quota = Some(limiter);
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

    /// How the vendor finds a stored customer: by phone where the provider looks customers up
    /// by phone, else by the store's customer id (Skycore with `pass_id = "customer_id"`).
    pub fn vendor_key(&self, stored: &StoredCustomer) -> CustomerKey {
        if self.provider.capability().customer_get_by_phone {
            CustomerKey::Phone(stored.customer.phone.clone())
        } else {
            CustomerKey::Id(stored.id.clone())
        }
    }

    /// How the vendor finds a stored customer's card: by the holder's phone where the provider
    /// looks customers up by phone, else by the card id the store recorded for this provider
    /// (the outbox records the cards the vendor answers with).
    pub async fn vendor_card_key(&self, stored: &StoredCustomer) -> Result<CardKey> {
        if self.provider.capability().customer_get_by_phone {
            return Ok(CardKey::Phone(stored.customer.phone.clone()));
        }
        let provider = self.provider.info().name;
        self.store
            .list_cards(&stored.id)
            .await?
            .into_iter()
            .filter(|c| c.provider == provider)
            .find_map(|c| c.vendor_card_id)
            .map(CardKey::Id)
            .ok_or_else(|| {
                Error::not_found(format!(
                    "the customer has no {provider} card yet (the outbox has not synced them)"
                ))
            })
    }

    /// Records the vendor's `cards` of a customer in the store (merged into cards it knows),
    /// so later calls can name a card by its vendor id.
    pub async fn record_cards(
        &self,
        customer: &CustomerId,
        cards: &[Card],
        opts: WriteOpts,
    ) -> Result<()> {
        let provider = self.provider.info().name;
        for card in cards
            .iter()
            .filter(|c| c.id.is_some() || c.number.is_some())
        {
            let new = NewCard {
                provider: provider.to_owned(),
                vendor_card_id: card.id.clone(),
                number: card.number.clone(),
                track: card.barcode.clone(),
                links: card.links.clone(),
                installed: card.installed,
                status: card.status,
            };
            self.store.attach_card(customer, &new, opts).await?;
        }
        Ok(())
    }

    /// The stored customer with `phone`, or `NotFound`.
    pub async fn customer_by_phone(&self, phone: &Phone) -> Result<StoredCustomer> {
        self.customer(&CustomerKey::Phone(phone.clone())).await
    }
}
