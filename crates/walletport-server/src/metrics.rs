//! Prometheus text metrics: requests, hook outcomes, outbox depth and age, vendor requests by
//! outcome, quota waits.
//!
//! Counters live in memory (atomics and small labelled maps); gauges of the outbox are read from
//! the store at scrape time, so every gateway sharing a PostgreSQL database reports the same
//! depth. No label ever carries customer data or secrets.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use walletport_http::TransportStats;
use walletport_store::OutboxStats;

/// Reads the transport counters of the provider, when the embedding code can reach them.
pub type TransportStatsSource = Arc<dyn Fn() -> TransportStats + Send + Sync>;

/// A counter keyed by a small, fixed set of label values.
#[derive(Debug, Default)]
struct Labelled(Mutex<BTreeMap<Vec<String>, u64>>);

impl Labelled {
    fn inc(&self, labels: &[&str]) {
        let key = labels.iter().map(|s| (*s).to_owned()).collect();
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *map.entry(key).or_default() += 1;
    }

    fn snapshot(&self) -> Vec<(Vec<String>, u64)> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    fn get(&self, labels: &[&str]) -> u64 {
        let key: Vec<String> = labels.iter().map(|s| (*s).to_owned()).collect();
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&key).copied().unwrap_or(0)
    }
}

/// The gateway's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    http: Labelled,
    hooks: Labelled,
    vendor: Labelled,
    not_held: Labelled,
    delivered_items: AtomicU64,
    dead_lettered: AtomicU64,
    coalesced_requests: AtomicU64,
    shutdown_released: AtomicU64,
}

/// How a vendor request of the outbox worker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VendorOutcome {
    /// The vendor accepted the update.
    Ok,
    /// A temporary failure; the items will be retried.
    Temporary,
    /// A permanent failure; the items went to the dead letters.
    Permanent,
}

impl VendorOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Temporary => "temporary_error",
            Self::Permanent => "permanent_error",
        }
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Counts one answered HTTP request by route template and status.
    pub fn http_request(&self, method: &str, route: &str, status: u16) {
        self.http.inc(&[method, route, &status.to_string()]);
    }

    /// Counts one inbound hook call by vendor, method and outcome (`ok`, `duplicate` or an
    /// error kind).
    pub fn hook(&self, vendor: &str, method: &str, outcome: &str) {
        self.hooks.inc(&[vendor, method, outcome]);
    }

    /// How many hook calls ended with `outcome` (for tests and the load generator).
    pub fn hook_count(&self, vendor: &str, method: &str, outcome: &str) -> u64 {
        self.hooks.get(&[vendor, method, outcome])
    }

    /// Counts one vendor request of the outbox worker carrying `items` outbox items.
    pub fn vendor_request(&self, operation: &str, outcome: VendorOutcome, items: usize) {
        self.vendor.inc(&[operation, outcome.as_str()]);
        if outcome == VendorOutcome::Ok {
            let items = u64::try_from(items).unwrap_or(u64::MAX);
            self.delivered_items.fetch_add(items, Ordering::Relaxed);
            if items > 1 {
                self.coalesced_requests.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts one delivery that left out `field` because the provider cannot hold it (the
    /// value stays in the store and the REST API).
    pub fn field_not_held(&self, field: &str) {
        self.not_held.inc(&[field]);
    }

    /// Deliveries that left out `field` so far.
    pub fn fields_not_held(&self, field: &str) -> u64 {
        self.not_held.get(&[field])
    }

    /// Counts items moved to the dead letters.
    pub fn dead_lettered(&self, items: u64) {
        self.dead_lettered.fetch_add(items, Ordering::Relaxed);
    }

    /// Counts claimed items handed back undelivered at shutdown.
    pub fn released_at_shutdown(&self, items: u64) {
        self.shutdown_released.fetch_add(items, Ordering::Relaxed);
    }

    /// Vendor requests sent by the worker so far, all outcomes.
    pub fn vendor_requests(&self) -> u64 {
        self.vendor.snapshot().iter().map(|(_, v)| v).sum()
    }

    /// Vendor requests by outcome.
    pub fn vendor_requests_with(&self, outcome: VendorOutcome) -> u64 {
        self.vendor
            .snapshot()
            .iter()
            .filter(|(k, _)| k.get(1).is_some_and(|o| o == outcome.as_str()))
            .map(|(_, v)| v)
            .sum()
    }

    /// Outbox items delivered so far.
    pub fn delivered_items(&self) -> u64 {
        self.delivered_items.load(Ordering::Relaxed)
    }

    /// Renders everything in the Prometheus text exposition format.
    pub fn render(
        &self,
        outbox: Option<&OutboxStats>,
        transport: Option<&TransportStats>,
    ) -> String {
        let mut out = String::with_capacity(4096);
        let mut family = |name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(
            "walletport_http_requests_total",
            "counter",
            "HTTP requests answered, by method, route and status.",
        );
        let mut body = String::new();
        for (k, v) in self.http.snapshot() {
            let _ = writeln!(
                body,
                "walletport_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {v}",
                escape(&k[0]),
                escape(&k[1]),
                escape(&k[2])
            );
        }
        out.push_str(&body);
        let _ = writeln!(
            out,
            "# HELP walletport_hook_calls_total Inbound vendor hook calls, by vendor, method and outcome.\n# TYPE walletport_hook_calls_total counter"
        );
        for (k, v) in self.hooks.snapshot() {
            let _ = writeln!(
                out,
                "walletport_hook_calls_total{{vendor=\"{}\",method=\"{}\",outcome=\"{}\"}} {v}",
                escape(&k[0]),
                escape(&k[1]),
                escape(&k[2])
            );
        }
        let _ = writeln!(
            out,
            "# HELP walletport_vendor_requests_total Vendor requests sent by the outbox worker, by operation and outcome.\n# TYPE walletport_vendor_requests_total counter"
        );
        for (k, v) in self.vendor.snapshot() {
            let _ = writeln!(
                out,
                "walletport_vendor_requests_total{{operation=\"{}\",outcome=\"{}\"}} {v}",
                escape(&k[0]),
                escape(&k[1])
            );
        }
        let _ = writeln!(
            out,
            "# HELP walletport_vendor_fields_not_held_total Deliveries that left out a balance field the provider cannot hold, by field.\n# TYPE walletport_vendor_fields_not_held_total counter"
        );
        for (k, v) in self.not_held.snapshot() {
            let _ = writeln!(
                out,
                "walletport_vendor_fields_not_held_total{{field=\"{}\"}} {v}",
                escape(&k[0])
            );
        }
        for (name, help, value) in [
            (
                "walletport_outbox_delivered_items_total",
                "Outbox items delivered to the vendor.",
                self.delivered_items.load(Ordering::Relaxed),
            ),
            (
                "walletport_outbox_coalesced_requests_total",
                "Vendor requests that carried more than one outbox item.",
                self.coalesced_requests.load(Ordering::Relaxed),
            ),
            (
                "walletport_outbox_dead_lettered_total",
                "Outbox items moved to the dead letters by this process.",
                self.dead_lettered.load(Ordering::Relaxed),
            ),
            (
                "walletport_outbox_released_at_shutdown_total",
                "Claimed outbox items handed back undelivered at shutdown.",
                self.shutdown_released.load(Ordering::Relaxed),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        if let Some(s) = outbox {
            let age = s.oldest_age.map_or(0.0, |a| a.as_secs_f64());
            for (name, help, value) in [
                (
                    "walletport_outbox_depth",
                    "Outbox items waiting or in flight.",
                    s.depth as f64,
                ),
                (
                    "walletport_outbox_in_flight",
                    "Outbox items under a live lease.",
                    s.in_flight as f64,
                ),
                (
                    "walletport_outbox_dead",
                    "Dead letters waiting for a manual retry.",
                    s.dead as f64,
                ),
                (
                    "walletport_outbox_customers",
                    "Distinct customers with waiting items.",
                    s.customers as f64,
                ),
                (
                    "walletport_outbox_oldest_age_seconds",
                    "Age of the oldest waiting item.",
                    age,
                ),
            ] {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
                );
            }
        }
        if let Some(t) = transport {
            for (name, help, value) in [
                (
                    "walletport_vendor_attempts_total",
                    "HTTP attempts sent to the vendor (including retries).",
                    t.attempts as f64,
                ),
                (
                    "walletport_vendor_rate_limited_total",
                    "Vendor answers recognised as rate-limit rejections.",
                    t.rate_limited as f64,
                ),
                (
                    "walletport_quota_waits_total",
                    "Vendor attempts that waited for the quota limiter.",
                    t.quota_waits as f64,
                ),
                (
                    "walletport_quota_wait_seconds_total",
                    "Time spent waiting for the quota limiter.",
                    t.quota_wait_time.as_secs_f64(),
                ),
            ] {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_labelled_counters_and_gauges() {
        let m = Metrics::default();
        m.http_request("GET", "/api/customers/{key}", 200);
        m.hook("passquare", "addBalance", "ok");
        m.hook("passquare", "addBalance", "ok");
        m.vendor_request("customer.upsert", VendorOutcome::Ok, 3);
        let stats = OutboxStats {
            depth: 4,
            ..OutboxStats::default()
        };
        let text = m.render(Some(&stats), None);
        assert!(text.contains(
            "walletport_hook_calls_total{vendor=\"passquare\",method=\"addBalance\",outcome=\"ok\"} 2"
        ));
        assert!(text.contains("walletport_outbox_depth 4"));
        assert!(text.contains("walletport_outbox_coalesced_requests_total 1"));
        assert!(text.contains("route=\"/api/customers/{key}\""));
        assert_eq!(m.vendor_requests(), 1);
        assert_eq!(m.delivered_items(), 3);
    }
}
