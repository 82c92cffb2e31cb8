//! Latency and rate summaries shared by the load benchmarks.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What one measured mode (walletport or its baseline) achieved.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ModeSummary {
    /// Requests sent (successes and failures).
    pub(crate) requests: u64,
    /// Requests that failed or answered something other than what was expected.
    pub(crate) errors: u64,
    /// Wall time of the measured phases, summed over rounds.
    pub(crate) elapsed_s: f64,
    /// `requests / elapsed_s`.
    pub(crate) rate_per_s: f64,
    /// Median latency of one request.
    pub(crate) p50_ms: f64,
    /// 99th percentile latency.
    pub(crate) p99_ms: f64,
    /// The slowest request.
    pub(crate) max_ms: f64,
}

impl ModeSummary {
    /// Summarises `latencies` (one per request, any order) measured over `elapsed`.
    pub(crate) fn new(mut latencies: Vec<Duration>, errors: u64, elapsed: Duration) -> Self {
        Self::of(&mut latencies, errors, elapsed)
    }

    /// [`ModeSummary::new`] that leaves `latencies` sorted for the caller to keep.
    pub(crate) fn of(latencies: &mut [Duration], errors: u64, elapsed: Duration) -> Self {
        latencies.sort_unstable();
        let requests = latencies.len() as u64;
        let elapsed_s = elapsed.as_secs_f64();
        Self {
            requests,
            errors,
            elapsed_s,
            rate_per_s: if elapsed_s > 0.0 {
                requests as f64 / elapsed_s
            } else {
                0.0
            },
            p50_ms: millis(percentile(latencies, 0.50)),
            p99_ms: millis(percentile(latencies, 0.99)),
            max_ms: millis(latencies.last().copied().unwrap_or_default()),
        }
    }
}

/// The column titles of the per-run table of `load hooks`, which [`table_row`] fills; the
/// in-process report and the merged report of its child processes print the same table.
pub(crate) fn table_header() -> String {
    format!(
        "{:<9} {:<16} {:>7} {:>10} {:>9} {:>9} {:>7}\n",
        "backend", "op", "clients", "req/s", "p50 ms", "p99 ms", "errors"
    )
}

/// One run's row under [`table_header`].
pub(crate) fn table_row(backend: &str, op: &str, clients: u64, summary: &ModeSummary) -> String {
    format!(
        "{:<9} {:<16} {:>7} {:>10.0} {:>9.2} {:>9.2} {:>7}\n",
        backend, op, clients, summary.rate_per_s, summary.p50_ms, summary.p99_ms, summary.errors
    )
}

/// Nearest-rank percentile of sorted `values` (`q` in 0..=1); zero for no values.
pub(crate) fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&sorted, 0.50), ms(50));
        assert_eq!(percentile(&sorted, 0.99), ms(99));
        assert_eq!(percentile(&sorted, 1.0), ms(100));
        assert_eq!(percentile(&sorted, 0.0), ms(1));
        assert_eq!(percentile(&[ms(7)], 0.99), ms(7));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn summary_of_unsorted_latencies() {
        let s = ModeSummary::new(vec![ms(3), ms(1), ms(2), ms(4)], 1, Duration::from_secs(2));
        assert_eq!(s.requests, 4);
        assert_eq!(s.errors, 1);
        assert!((s.rate_per_s - 2.0).abs() < 1e-9);
        assert!((s.p50_ms - 2.0).abs() < 1e-9);
        assert!((s.p99_ms - 4.0).abs() < 1e-9);
        assert!((s.max_ms - 4.0).abs() < 1e-9);
        let empty = ModeSummary::new(Vec::new(), 0, Duration::ZERO);
        assert_eq!(empty.rate_per_s, 0.0);
    }

    #[test]
    fn a_summary_read_back_from_its_json_fills_the_same_row() {
        let s = ModeSummary::new(vec![ms(3), ms(1), ms(2), ms(4)], 1, Duration::from_secs(2));
        let back: ModeSummary =
            serde_json::from_value(serde_json::to_value(&s).expect("json")).expect("summary");
        assert_eq!(back, s);
        let row = table_row("sqlite", "addBalance", 32, &back);
        assert_eq!(
            row,
            "sqlite    addBalance            32          2      2.00      4.00       1\n"
        );
        assert_eq!(table_header().len(), row.len());
    }
}
