//! The outbox worker: claims a batch, coalesces each customer's waiting changes into ONE vendor
//! request with the latest state, completes or fails the items, and paces itself by the
//! provider transport's quota limiter (the transport makes callers wait instead of collecting
//! 429s, so the worker never causes one under the configured plan).
//!
//! Order per customer: the store hands out a customer's items together, oldest first, to one
//! worker at a time, and never while an earlier item of the customer waits for a retry; each
//! delivery reads the customer's state at send time, so what the vendor sees only moves forward.
//! Leases: a customer is only delivered while at least half the lease is left, a delivery that
//! has not ended a tenth of the lease before it runs out is dropped and handed back (a later
//! request must never overwrite what the next claimer sent), and the claim size
//! adapts to the measured delivery rate, so a slow vendor plan never lets a lease run out
//! mid-delivery (another worker would take the items over).

mod deliver;

pub(crate) use deliver::vendor_view;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use futures::StreamExt;
use rand::Rng;
use tokio::sync::watch;
use walletport_core::{CustomerId, Error, Result, Retry};
use walletport_http::Priority;
use walletport_store::{ClaimRequest, Failure, OutboxId, OutboxItem, OutboxKind};

use crate::config::OutboxSection;
use crate::metrics::VendorOutcome;
use crate::state::Gateway;

/// What one [`OutboxWorker::flush_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Items claimed.
    pub claimed: usize,
    /// Distinct customers among them.
    pub customers: usize,
    /// Vendor requests sent (one per delivered or failed customer).
    pub requests: usize,
    /// Items delivered.
    pub delivered: usize,
    /// Items scheduled for another attempt.
    pub retrying: u64,
    /// Items moved to the dead letters.
    pub dead: u64,
    /// Items handed back undelivered (shutdown, or too little lease left).
    pub released: usize,
}

/// Measured pace of deliveries, to size claims so they finish well within the lease.
#[derive(Debug, Default)]
struct Pace {
    /// Seconds per delivered customer (smoothed), `None` before the first measurement.
    secs_per_customer: Option<f64>,
    /// Items per customer in the last batch (smoothed).
    items_per_customer: Option<f64>,
}

/// Delivers outbox items to the provider; one per process (or several, on PostgreSQL).
#[derive(Debug)]
pub struct OutboxWorker {
    gw: Gateway,
    config: OutboxSection,
    id: String,
    pace: Mutex<Pace>,
}

enum GroupResult {
    /// Items done, and whether a vendor request was needed for them.
    Delivered(usize, bool),
    Failed(Error, Vec<OutboxId>, u32),
    Released(Vec<OutboxId>),
}

impl OutboxWorker {
    /// A worker with a random id (unique among live workers sharing a database).
    pub fn new(gw: Gateway, config: OutboxSection) -> Self {
        let suffix: u32 = rand::rng().random();
        let id = format!("gw-{}-{suffix:08x}", std::process::id());
        Self::with_id(gw, config, id)
    }

    /// A worker with an explicit id.
    pub fn with_id(gw: Gateway, config: OutboxSection, id: impl Into<String>) -> Self {
        Self {
            gw,
            config,
            id: id.into(),
            pace: Mutex::new(Pace::default()),
        }
    }

    /// The worker id written into claims.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn claim_limit(&self) -> u32 {
        let pace = self.pace.lock().unwrap_or_else(PoisonError::into_inner);
        let batch = self.config.batch.max(1);
        let Some(secs) = pace.secs_per_customer.filter(|s| *s > 0.0) else {
            return batch;
        };
        let budget = self.config.lease.as_secs_f64() / 2.0;
        let customers = (budget / secs).floor().max(1.0);
        let items = customers * pace.items_per_customer.unwrap_or(1.0).max(1.0);
        (items.ceil().min(f64::from(batch)) as u32).max(1)
    }

    fn record_pace(&self, customers: usize, items: usize, elapsed: Duration) {
        if customers == 0 {
            return;
        }
        let n = customers as f64;
        let secs = elapsed.as_secs_f64() / n;
        let per = items as f64 / n;
        let mut pace = self.pace.lock().unwrap_or_else(PoisonError::into_inner);
        let smooth = |old: Option<f64>, new: f64| Some(old.map_or(new, |o| 0.5 * o + 0.5 * new));
        pace.secs_per_customer = smooth(pace.secs_per_customer, secs);
        pace.items_per_customer = smooth(pace.items_per_customer, per);
    }

    fn backoff(&self, attempts: u32, error: &Error) -> Duration {
        let base = self.config.backoff_base;
        let exp = base.saturating_mul(1u32 << attempts.min(20));
        let capped = exp.min(self.config.backoff_max);
        let jitter: f64 = rand::rng().random_range(0.5..=1.0);
        let wait = capped.mul_f64(jitter);
        match error.retry() {
            Retry::Temporary { after: Some(after) } => wait.max(after),
            _ => wait,
        }
    }

    /// Claims one batch and delivers it; stops starting new deliveries once `stop` is set.
    pub async fn flush_once(&self, stop: &watch::Receiver<bool>) -> Result<FlushReport> {
        let gw = &self.gw;
        let now = gw.now();
        let request = ClaimRequest {
            worker: self.id.clone(),
            limit: self.claim_limit(),
            lease: self.config.lease,
            now,
        };
        let items = gw.store.claim_batch(&request).await?;
        let mut report = FlushReport {
            claimed: items.len(),
            ..FlushReport::default()
        };
        if items.is_empty() {
            return Ok(report);
        }
        let groups = group_by_customer(items);
        report.customers = groups.len();
        let started = Instant::now();
        // Nobody waits on a delivery: a till's request takes the next vendor slot first.
        let deliveries = futures::stream::iter(groups)
            .map(|(customer, items)| self.deliver_group(customer, items, stop))
            .buffer_unordered(self.config.concurrency.max(1))
            .collect::<Vec<GroupResult>>();
        let results = Priority::Background.scope(deliveries).await;
        let mut delivered_customers = 0;
        for result in results {
            match result {
                GroupResult::Delivered(n, requested) => {
                    report.requests += usize::from(requested);
                    report.delivered += n;
                    delivered_customers += 1;
                }
                GroupResult::Failed(error, ids, attempts) => {
                    report.requests += 1;
                    let outcome = self.fail(&ids, &error, attempts).await?;
                    report.retrying += outcome.retrying;
                    report.dead += outcome.dead;
                }
                GroupResult::Released(ids) => {
                    report.released += ids.len();
                    self.release(&ids).await?;
                }
            }
        }
        self.record_pace(delivered_customers, report.delivered, started.elapsed());
        Ok(report)
    }

    async fn deliver_group(
        &self,
        customer: CustomerId,
        items: Vec<OutboxItem>,
        stop: &watch::Receiver<bool>,
    ) -> GroupResult {
        let ids: Vec<OutboxId> = items.iter().map(|i| i.id).collect();
        let lease_left = items
            .iter()
            .filter_map(|i| i.claimed_until)
            .min()
            .map(|until| until - self.gw.now());
        let half = TimeDelta::from_std(self.config.lease / 2).unwrap_or(TimeDelta::MAX);
        if *stop.borrow() || lease_left.is_some_and(|left| left < half) {
            return GroupResult::Released(ids);
        }
        let mut kinds: Vec<OutboxKind> = items.iter().map(|i| i.kind).collect();
        kinds.dedup();
        let attempts = items.iter().map(|i| i.attempts).max().unwrap_or(0);
        // The delivery must end within the lease: past it another worker (of this gateway or
        // another) may claim the customer and send a newer state, which a late request of this
        // one — held up by the quota or a 429's retry — must not overwrite. A tenth of the lease
        // is kept for a request already on its way.
        let budget = lease_left
            .map(|left| left - TimeDelta::from_std(self.config.lease / 10).unwrap_or_default())
            .and_then(|b| b.to_std().ok())
            .unwrap_or(self.config.lease);
        let Ok(delivered) =
            tokio::time::timeout(budget, deliver::deliver(&self.gw, &customer, &kinds)).await
        else {
            tracing::warn!(worker = %self.id, customer = %customer, budget_ms = budget.as_millis() as u64,
                "outbox delivery outlasted its lease; handed back for a fresh claim");
            return GroupResult::Released(ids);
        };
        match delivered {
            Ok(operation) => match self.gw.store.complete(&self.id, &ids).await {
                Ok(done) => {
                    let done = usize::try_from(done).unwrap_or(usize::MAX);
                    if let Some(operation) = operation {
                        self.gw
                            .metrics
                            .vendor_request(operation, VendorOutcome::Ok, done);
                    }
                    GroupResult::Delivered(done, operation.is_some())
                }
                // Delivered but not recorded: the items are delivered again later (the same
                // state, so nothing changes at the vendor), never lost.
                Err(e) => GroupResult::Failed(e, ids, attempts),
            },
            Err(e) => {
                let outcome = if is_permanent(&e) {
                    VendorOutcome::Permanent
                } else {
                    VendorOutcome::Temporary
                };
                let operation = e.operation().unwrap_or("sync");
                self.gw
                    .metrics
                    .vendor_request(operation, outcome, ids.len());
                tracing::warn!(worker = %self.id, customer = %customer, error = %e, "outbox delivery failed");
                GroupResult::Failed(e, ids, attempts)
            }
        }
    }

    async fn fail(
        &self,
        ids: &[OutboxId],
        error: &Error,
        attempts: u32,
    ) -> Result<walletport_store::FailOutcome> {
        let now = self.gw.now();
        let retry_at = if is_permanent(error) {
            None
        } else {
            let wait = self.backoff(attempts, error);
            Some(now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX))
        };
        let failure = Failure {
            error: error.to_string(),
            retry_at,
            max_attempts: self.config.max_attempts,
            now,
        };
        let outcome = self.gw.store.fail(&self.id, ids, &failure).await?;
        self.gw.metrics.dead_lettered(outcome.dead);
        Ok(outcome)
    }

    /// Hands claimed items back undelivered, due at once. Nothing was sent, so the store counts
    /// no attempt and keeps the last error: handing back never moves an item nearer the dead
    /// letters nor lengthens its backoff.
    async fn release(&self, ids: &[OutboxId]) -> Result<()> {
        self.gw.store.release(&self.id, ids, self.gw.now()).await?;
        self.gw.metrics.released_at_shutdown(ids.len() as u64);
        Ok(())
    }

    /// Runs until `stop` turns true: flushes while there is work and, when the outbox is
    /// empty, sleeps `poll_interval` or until this process's store enqueues something
    /// ([`Store::outbox_signal`](walletport_store::Store::outbox_signal)).
    pub async fn run(self, stop: watch::Receiver<bool>) {
        self.run_reporting(stop, |_| {}).await;
    }

    /// [`OutboxWorker::run`], handing `each` the report of every flush (benchmarks count
    /// requests and deliveries per worker with it).
    pub async fn run_reporting(
        self,
        mut stop: watch::Receiver<bool>,
        mut each: impl FnMut(&FlushReport) + Send,
    ) {
        let enqueued = self.gw.store.outbox_signal().unwrap_or_default();
        loop {
            if *stop.borrow() {
                break;
            }
            // Listening from before the claim, so a write committed during the flush wakes
            // the wait below.
            let mut woken = std::pin::pin!(enqueued.notified());
            woken.as_mut().enable();
            let idle = match self.flush_once(&stop).await {
                Ok(report) => {
                    each(&report);
                    report.claimed == 0
                }
                Err(e) => {
                    tracing::warn!(worker = %self.id, error = %e, "outbox claim failed");
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = tokio::time::sleep(self.config.poll_interval) => {}
                    _ = woken => {}
                    _ = stop.changed() => {}
                }
            }
        }
        tracing::info!(worker = %self.id, "outbox worker stopped");
    }
}

/// Permanent errors go to the dead letters at once; temporary and persistent ones (the transport
/// gave up retrying for now) are retried with backoff.
fn is_permanent(error: &Error) -> bool {
    matches!(error.retry(), Retry::Permanent)
}

/// Groups items by customer in order of each customer's oldest item, keeping item order.
fn group_by_customer(items: Vec<OutboxItem>) -> Vec<(CustomerId, Vec<OutboxItem>)> {
    let mut index: HashMap<CustomerId, usize> = HashMap::new();
    let mut groups: Vec<(CustomerId, Vec<OutboxItem>)> = Vec::new();
    for item in items {
        match index.get(&item.customer_id) {
            Some(&i) => groups[i].1.push(item),
            None => {
                index.insert(item.customer_id.clone(), groups.len());
                groups.push((item.customer_id.clone(), vec![item]));
            }
        }
    }
    for (_, items) in &mut groups {
        items.sort_by_key(|i| i.id);
    }
    groups
}
