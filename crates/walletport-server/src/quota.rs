//! [`SharedQuota`]: the vendor quota kept in the gateway's store, so that every gateway on one
//! database shares one vendor plan, a `Retry-After` seen by one holds them all, and a restarted
//! gateway knows what was sent in the current windows.
//!
//! Each vendor request takes its slot with one short store transaction
//! ([`Store::take_quota_slot`]); the rules are in `walletport_store::quota`. In front of the
//! store, one [`Turns`] line per process lets only its head ask the database, interactive
//! requests first, so waiting costs no database load; an interactive head that must wait
//! announces itself in the store, so background heads of the other gateways let it go first too. When the store cannot be reached, the head
//! waits and asks again (backing off up to 2 s): nothing is sent that the plan might not allow.
//!
//! A window the vendor revealed lower than configured ([`Limiter::lower_window`], Passteam's
//! "You can only make N requests per hour") is lowered here at once and recorded in the store
//! ([`Store::lower_quota_limit`]) in the background; every take applies the stored limit, so every
//! gateway on the database, and a restarted one, keeps it. [`Limiter::usage`] reads it back, so
//! the console of a gateway that did not see the answer shows the lowered limit too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use walletport_core::Result;
use walletport_http::{
    Limiter, LimiterFactory, Priority, QuotaPlan, QuotaUsage, Turns, WindowLimits, WindowUsage,
};
use walletport_store::{QuotaLimit, QuotaSlot, Store};

/// The longest wait between two attempts to reach an unreachable store.
const MAX_STORE_BACKOFF: Duration = Duration::from_secs(2);

/// A [`LimiterFactory`] whose limiters keep their windows in the gateway's store (see the module
/// docs). Hand it to `walletport::connect_with` so every vendor request of the gateway — outbox
/// deliveries, REST pass-through, the start-up check — goes through it.
#[derive(Clone)]
pub struct SharedQuota {
    store: Arc<dyn Store>,
    /// Every limiter made so far, for the console and `/metrics`.
    made: Arc<Mutex<Vec<Arc<StoreLimiter>>>>,
}

impl std::fmt::Debug for SharedQuota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedQuota")
            .field("backend", &self.store.backend())
            .finish_non_exhaustive()
    }
}

impl SharedQuota {
    /// Limiters over `store`'s quota tables.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            made: Arc::default(),
        }
    }

    /// The limiters made so far (one per vendor transport).
    pub fn limiters(&self) -> Vec<Arc<dyn Limiter>> {
        self.made
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|l| Arc::clone(l) as Arc<dyn Limiter>)
            .collect()
    }

    /// Times a take of a store slot failed because the store could not be reached.
    pub fn store_failures(&self) -> u64 {
        self.made
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|l| l.store_failures.load(Ordering::Relaxed))
            .sum()
    }
}

impl LimiterFactory for SharedQuota {
    fn limiter(&self, provider: &'static str, plan: QuotaPlan) -> Arc<dyn Limiter> {
        let limiter = Arc::new(StoreLimiter {
            store: self.store.clone(),
            key: provider,
            limits: WindowLimits::new(plan),
            turns: Turns::default(),
            store_failures: AtomicU64::new(0),
        });
        self.made
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(limiter.clone());
        limiter
    }

    fn shares_pauses(&self) -> bool {
        true
    }
}

/// One provider's limiter over the store.
struct StoreLimiter {
    store: Arc<dyn Store>,
    /// The quota key: the provider's name.
    key: &'static str,
    limits: WindowLimits,
    turns: Turns,
    store_failures: AtomicU64,
}

impl std::fmt::Debug for StoreLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreLimiter")
            .field("key", &self.key)
            .field("plan", &self.limits.plan().to_string())
            .finish_non_exhaustive()
    }
}

impl StoreLimiter {
    /// The windows with their limits in force, as the store takes them.
    fn in_force(&self) -> Vec<QuotaLimit> {
        self.limits
            .in_force()
            .map(|(w, limit)| QuotaLimit {
                limit,
                per: w.per(),
            })
            .collect()
    }
}

#[async_trait]
impl Limiter for StoreLimiter {
    fn plan(&self) -> &QuotaPlan {
        self.limits.plan()
    }

    async fn acquire(&self, priority: Priority) -> Duration {
        let start = Instant::now();
        // Milliseconds between attempts while the store cannot be reached (an atomic: the
        // closure hands out futures that must not borrow it mutably).
        let backoff_ms = AtomicU64::new(50);
        self.turns
            .wait(priority, || async {
                let interactive = priority == Priority::Interactive;
                let taken = self
                    .store
                    .take_quota_slot(self.key, &self.in_force(), interactive)
                    .await;
                match taken {
                    Ok(QuotaSlot::Taken) => None,
                    Ok(QuotaSlot::WaitFor(wait)) => Some(Instant::now() + wait),
                    Err(e) => {
                        self.store_failures.fetch_add(1, Ordering::Relaxed);
                        let ms = (backoff_ms.load(Ordering::Relaxed) * 2)
                            .min(MAX_STORE_BACKOFF.as_millis() as u64);
                        backoff_ms.store(ms, Ordering::Relaxed);
                        tracing::warn!(
                            provider = self.key,
                            error = %e,
                            retry_in_ms = ms,
                            "cannot take a vendor quota slot from the store; the request waits"
                        );
                        Some(Instant::now() + Duration::from_millis(ms))
                    }
                }
            })
            .await;
        start.elapsed()
    }

    async fn pause_for(&self, after: Duration) {
        // The requests wait for the store anyway, so a pause that cannot be recorded is only
        // logged: the vendor's own 429 keeps answering until it ends.
        if let Err(e) = self.store.pause_quota(self.key, after).await {
            self.store_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(provider = self.key, error = %e, "cannot record the vendor's pause");
        }
    }

    fn lower_window(&self, per: Duration, limit: u32) -> bool {
        let lowered = self.limits.lower(per, limit);
        if lowered && let Ok(runtime) = tokio::runtime::Handle::try_current() {
            // The trait's method is synchronous; the store records it moments later (this
            // gateway's own takes already pass the lowered limit).
            let (store, key) = (self.store.clone(), self.key);
            runtime.spawn(async move {
                if let Err(e) = store.lower_quota_limit(key, per, limit).await {
                    tracing::warn!(
                        provider = key,
                        error = %e,
                        "cannot record the vendor's lower limit in the store; other gateways \
                         keep the configured one until they see the vendor's answer"
                    );
                }
            });
        }
        lowered
    }

    fn limit_of(&self, per: Duration) -> Option<u32> {
        self.limits.limit_of(per)
    }

    async fn usage(&self) -> Result<QuotaUsage> {
        let limits = self.in_force();
        let state = self.store.quota_state(self.key, &limits).await?;
        // A limit another gateway (or this one before a restart) learned from the vendor.
        for l in &state.lowered {
            self.limits.lower(l.per, l.limit);
        }
        let windows = self
            .limits
            .in_force()
            .zip(state.used)
            .map(|((window, limit), used)| WindowUsage {
                window,
                limit,
                used,
            })
            .collect();
        Ok(QuotaUsage {
            windows,
            paused_for: state.paused_for,
            shared: true,
        })
    }
}
