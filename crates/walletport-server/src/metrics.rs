//! Prometheus metrics: requests, hook outcomes, outbox depth and age, vendor requests by
//! outcome, quota waits, expired credits.
//!
//! The counters are `prometheus-client` metrics in a registry of this gateway's own (no global
//! recorder, so several gateways in one process stay apart); the library does the exposition
//! format and the label escaping. Gauges of the outbox are read from the store at scrape time,
//! so every gateway sharing a PostgreSQL database reports the same depth. No label ever carries
//! customer data or secrets.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabelSet, prometheus_text};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use walletport_http::TransportStats;
use walletport_store::OutboxStats;

/// Reads the transport counters of the provider, when the embedding code can reach them.
pub type TransportStatsSource = Arc<dyn Fn() -> TransportStats + Send + Sync>;

/// The `Content-Type` of what [`Metrics::render`] returns (Prometheus text, version 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HookLabels {
    vendor: String,
    method: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VendorLabels {
    operation: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FieldLabels {
    field: String,
}

/// The gateway's counters.
///
/// Counter names are registered without `_total`: the encoder appends it, so the exposed names
/// are the documented `walletport_*_total` ones.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http: Family<HttpLabels, Counter>,
    hooks: Family<HookLabels, Counter>,
    vendor: Family<VendorLabels, Counter>,
    not_held: Family<FieldLabels, Counter>,
    /// Vendor requests by outcome over all operations (the operation set is open, so the
    /// family alone cannot answer [`Metrics::vendor_requests_with`]); not exposed.
    vendor_by_outcome: [Counter; 3],
    delivered_items: Counter,
    coalesced_requests: Counter,
    dead_lettered: Counter,
    shutdown_released: Counter,
    expired_lots: Counter,
    /// Points are decimals; the counter holds them as a float (exposition only, never money).
    expired_points: Counter<f64, AtomicU64>,
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

impl Default for Metrics {
    fn default() -> Self {
        let m = Self {
            registry: Registry::default(),
            http: Family::default(),
            hooks: Family::default(),
            vendor: Family::default(),
            not_held: Family::default(),
            vendor_by_outcome: Default::default(),
            delivered_items: Counter::default(),
            coalesced_requests: Counter::default(),
            dead_lettered: Counter::default(),
            shutdown_released: Counter::default(),
            expired_lots: Counter::default(),
            expired_points: Counter::default(),
        };
        m.registered()
    }
}

impl Metrics {
    /// Puts every exposed counter into the registry (the registry holds clones sharing the
    /// same atomics). Help texts carry no final stop: the library appends one.
    fn registered(mut self) -> Self {
        let r = &mut self.registry;
        r.register(
            "walletport_http_requests",
            "HTTP requests answered, by method, route and status",
            self.http.clone(),
        );
        r.register(
            "walletport_hook_calls",
            "Inbound vendor hook calls, by vendor, method and outcome",
            self.hooks.clone(),
        );
        r.register(
            "walletport_vendor_requests",
            "Vendor requests sent by the outbox worker, by operation and outcome",
            self.vendor.clone(),
        );
        r.register(
            "walletport_vendor_fields_not_held",
            "Deliveries that left out a balance field the provider cannot hold, by field",
            self.not_held.clone(),
        );
        for (name, help, counter) in [
            (
                "walletport_outbox_delivered_items",
                "Outbox items delivered to the vendor",
                &self.delivered_items,
            ),
            (
                "walletport_outbox_coalesced_requests",
                "Vendor requests that carried more than one outbox item",
                &self.coalesced_requests,
            ),
            (
                "walletport_outbox_dead_lettered",
                "Outbox items moved to the dead letters by this process",
                &self.dead_lettered,
            ),
            (
                "walletport_outbox_released_at_shutdown",
                "Claimed outbox items handed back undelivered at shutdown",
                &self.shutdown_released,
            ),
            (
                "walletport_ledger_expired_lots",
                "Credit lots this process expired (one expiry ledger entry each)",
                &self.expired_lots,
            ),
        ] {
            r.register(name, help, counter.clone());
        }
        r.register(
            "walletport_ledger_expired_points",
            "Points this process expired",
            self.expired_points.clone(),
        );
        self
    }

    /// Counts one answered HTTP request by route template and status.
    pub fn http_request(&self, method: &str, route: &str, status: u16) {
        let labels = HttpLabels {
            method: method.to_owned(),
            route: route.to_owned(),
            status,
        };
        self.http.get_or_create(&labels).inc();
    }

    /// Counts one inbound hook call by vendor, method and outcome (`ok`, `duplicate` or an
    /// error kind).
    pub fn hook(&self, vendor: &str, method: &str, outcome: &str) {
        self.hooks
            .get_or_create(&hook_labels(vendor, method, outcome))
            .inc();
    }

    /// How many hook calls ended with `outcome` (for tests and the load generator).
    pub fn hook_count(&self, vendor: &str, method: &str, outcome: &str) -> u64 {
        self.hooks
            .get(&hook_labels(vendor, method, outcome))
            .map_or(0, |c| c.get())
    }

    /// Counts one vendor request of the outbox worker carrying `items` outbox items.
    pub fn vendor_request(&self, operation: &str, outcome: VendorOutcome, items: usize) {
        let labels = VendorLabels {
            operation: operation.to_owned(),
            outcome: outcome.as_str(),
        };
        self.vendor.get_or_create(&labels).inc();
        self.vendor_by_outcome[outcome as usize].inc();
        if outcome == VendorOutcome::Ok {
            let items = u64::try_from(items).unwrap_or(u64::MAX);
            self.delivered_items.inc_by(items);
            if items > 1 {
                self.coalesced_requests.inc();
            }
        }
    }

    /// Counts one delivery that left out `field` because the provider cannot hold it (the
    /// value stays in the store and the REST API).
    pub fn field_not_held(&self, field: &str) {
        self.not_held.get_or_create(&field_labels(field)).inc();
    }

    /// Deliveries that left out `field` so far.
    pub fn fields_not_held(&self, field: &str) -> u64 {
        self.not_held
            .get(&field_labels(field))
            .map_or(0, |c| c.get())
    }

    /// Counts items moved to the dead letters.
    pub fn dead_lettered(&self, items: u64) {
        self.dead_lettered.inc_by(items);
    }

    /// Counts claimed items handed back undelivered at shutdown.
    pub fn released_at_shutdown(&self, items: u64) {
        self.shutdown_released.inc_by(items);
    }

    /// Counts lots the expiry task expired and the points they held.
    pub fn expired(&self, lots: u64, points: Decimal) {
        self.expired_lots.inc_by(lots);
        self.expired_points
            .inc_by(points.to_f64().unwrap_or(0.0).max(0.0));
    }

    /// Lots this process expired so far.
    pub fn expired_lots(&self) -> u64 {
        self.expired_lots.get()
    }

    /// Vendor requests sent by the worker so far, all outcomes.
    pub fn vendor_requests(&self) -> u64 {
        self.vendor_by_outcome.iter().map(Counter::get).sum()
    }

    /// Vendor requests by outcome.
    pub fn vendor_requests_with(&self, outcome: VendorOutcome) -> u64 {
        self.vendor_by_outcome[outcome as usize].get()
    }

    /// Outbox items delivered so far.
    pub fn delivered_items(&self) -> u64 {
        self.delivered_items.get()
    }

    /// Renders everything in the Prometheus text exposition format ([`CONTENT_TYPE`]): this
    /// gateway's counters, then the outbox gauges and transport counters read for this scrape.
    pub fn render(
        &self,
        outbox: Option<&OutboxStats>,
        transport: Option<&TransportStats>,
    ) -> String {
        let mut scrape = Registry::default();
        if let Some(s) = outbox {
            register_outbox(&mut scrape, s);
        }
        if let Some(t) = transport {
            register_transport(&mut scrape, t);
        }
        let mut out = String::with_capacity(4096);
        let encoded = prometheus_text::encode(&mut out, &self.registry)
            .and_then(|()| prometheus_text::encode(&mut out, &scrape));
        if let Err(e) = encoded {
            // Only the writer can fail, and writing to a String does not: never reached.
            tracing::error!(error = %e, "encoding /metrics failed");
        }
        out
    }
}

fn hook_labels(vendor: &str, method: &str, outcome: &str) -> HookLabels {
    HookLabels {
        vendor: vendor.to_owned(),
        method: method.to_owned(),
        outcome: outcome.to_owned(),
    }
}

fn field_labels(field: &str) -> FieldLabels {
    FieldLabels {
        field: field.to_owned(),
    }
}

/// The outbox gauges of one scrape, as read from the store.
fn register_outbox(r: &mut Registry, s: &OutboxStats) {
    let age = s.oldest_age.map_or(0.0, |a| a.as_secs_f64());
    for (name, help, value) in [
        (
            "walletport_outbox_depth",
            "Outbox items waiting or in flight",
            s.depth,
        ),
        (
            "walletport_outbox_in_flight",
            "Outbox items under a live lease",
            s.in_flight,
        ),
        (
            "walletport_outbox_dead",
            "Dead letters waiting for a manual retry",
            s.dead,
        ),
        (
            "walletport_outbox_customers",
            "Distinct customers with waiting items",
            s.customers,
        ),
    ] {
        r.register(name, help, ConstGauge::new(value));
    }
    r.register(
        "walletport_outbox_oldest_age_seconds",
        "Age of the oldest waiting item",
        ConstGauge::new(age),
    );
}

/// The provider transport's counters of one scrape (names without `_total`, as above).
fn register_transport(r: &mut Registry, t: &TransportStats) {
    for (name, help, value) in [
        (
            "walletport_vendor_attempts",
            "HTTP attempts sent to the vendor (including retries)",
            t.attempts,
        ),
        (
            "walletport_vendor_rate_limited",
            "Vendor answers recognised as rate-limit rejections",
            t.rate_limited,
        ),
        (
            "walletport_quota_waits",
            "Vendor attempts that waited for the quota limiter",
            t.quota_waits,
        ),
    ] {
        r.register(name, help, ConstCounter::new(value));
    }
    r.register(
        "walletport_quota_wait_seconds",
        "Time spent waiting for the quota limiter",
        ConstCounter::new(t.quota_wait_time.as_secs_f64()),
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Asserts that every one of `lines` is a whole line of the rendered `text`.
    fn assert_lines(text: &str, lines: &[&str]) {
        for line in lines {
            assert!(
                text.lines().any(|l| l == *line),
                "{line} missing in\n{text}"
            );
        }
    }

    #[test]
    fn renders_labelled_counters_and_gauges() {
        let m = Metrics::default();
        m.http_request("GET", "/api/customers/{key}", 200);
        m.hook("passquare", "addBalance", "ok");
        m.hook("passquare", "addBalance", "ok");
        m.vendor_request("customer.upsert", VendorOutcome::Ok, 3);
        m.vendor_request("customer.upsert", VendorOutcome::Temporary, 1);
        m.field_not_held("discount_percent");
        m.expired(2, Decimal::new(155, 1));
        let stats = OutboxStats {
            depth: 4,
            oldest_age: Some(Duration::from_millis(1500)),
            ..OutboxStats::default()
        };
        let text = m.render(Some(&stats), None);
        assert_lines(
            &text,
            &[
                "# HELP walletport_hook_calls_total Inbound vendor hook calls, by vendor, method and outcome.",
                "# TYPE walletport_hook_calls_total counter",
                "walletport_hook_calls_total{vendor=\"passquare\",method=\"addBalance\",outcome=\"ok\"} 2",
                "walletport_http_requests_total{method=\"GET\",route=\"/api/customers/{key}\",status=\"200\"} 1",
                "walletport_vendor_requests_total{operation=\"customer.upsert\",outcome=\"temporary_error\"} 1",
                "walletport_vendor_fields_not_held_total{field=\"discount_percent\"} 1",
                "walletport_outbox_coalesced_requests_total 1",
                "walletport_outbox_delivered_items_total 3",
                "walletport_ledger_expired_lots_total 2",
                "walletport_ledger_expired_points_total 15.5",
                "# TYPE walletport_outbox_depth gauge",
                "walletport_outbox_depth 4",
                "walletport_outbox_oldest_age_seconds 1.5",
            ],
        );
        assert!(!text.contains("# EOF"), "{text}");
        assert!(!text.contains("walletport_vendor_attempts"), "{text}");
        assert_eq!(m.vendor_requests(), 2);
        assert_eq!(m.vendor_requests_with(VendorOutcome::Ok), 1);
        assert_eq!(m.vendor_requests_with(VendorOutcome::Permanent), 0);
        assert_eq!(m.delivered_items(), 3);
        assert_eq!(m.hook_count("passquare", "addBalance", "ok"), 2);
        assert_eq!(m.hook_count("passquare", "addBalance", "duplicate"), 0);
        assert_eq!(m.fields_not_held("discount_percent"), 1);
        assert_eq!(m.expired_lots(), 2);
    }

    #[test]
    fn renders_transport_counters_with_their_total_names() {
        let m = Metrics::default();
        let mut t = TransportStats::default();
        t.attempts = 7;
        t.rate_limited = 2;
        t.quota_waits = 3;
        t.quota_wait_time = Duration::from_millis(250);
        let text = m.render(None, Some(&t));
        assert_lines(
            &text,
            &[
                "# TYPE walletport_vendor_attempts_total counter",
                "walletport_vendor_attempts_total 7",
                "walletport_vendor_rate_limited_total 2",
                "walletport_quota_waits_total 3",
                "walletport_quota_wait_seconds_total 0.25",
            ],
        );
        assert!(!text.contains("walletport_outbox_depth"), "{text}");
    }

    #[test]
    fn escapes_label_values() {
        let m = Metrics::default();
        m.hook("passteam", "say \"hi\"\\\n", "ok");
        let text = m.render(None, None);
        assert!(
            text.contains(r#"method="say \"hi\"\\\n""#),
            "label not escaped:\n{text}"
        );
    }
}
