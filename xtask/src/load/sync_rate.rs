//! The request rate the emulator saw during a `load sync` backlog, from its request counter
//! sampled every 2 ms.
//!
//! Two figures against the plan's sustained limit (60 per compressed hour): `overall` from the
//! first request to the last, which includes the burst the sliding hour allows at the start
//! (a fresh plan may spend its 60 requests at once, so this can exceed 100% on short runs); and
//! `steady`, from one hour-window after the first request to the last, where the sliding window
//! allows at most the plan's rate — this is the share the target (≥ 95%) is about. The busiest
//! hour-window seen is reported as a cross-check of the emulator's own enforcement.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::oneshot;
use walletport_sandbox::passquare::PassquareEmulator;

/// The sampling period.
const EVERY: Duration = Duration::from_millis(2);

/// Samples `emu.request_count()` until stopped.
pub(crate) struct Sampler {
    t0: Instant,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Vec<(Duration, u64)>>,
}

impl Sampler {
    /// Starts sampling now.
    pub(crate) fn start(emu: PassquareEmulator) -> Self {
        let (stop, mut stopped) = oneshot::channel();
        let t0 = Instant::now();
        let task = tokio::spawn(async move {
            let mut samples = vec![(Duration::ZERO, emu.request_count() as u64)];
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = &mut stopped => break,
                }
                let count = emu.request_count() as u64;
                if samples.last().is_none_or(|(_, c)| *c != count) {
                    samples.push((t0.elapsed(), count));
                }
            }
            samples.push((t0.elapsed(), emu.request_count() as u64));
            samples
        });
        Self { t0, stop, task }
    }

    /// Time since sampling started (the samples' clock).
    pub(crate) fn elapsed(&self) -> Duration {
        self.t0.elapsed()
    }

    /// Stops and returns `(time since start, requests so far)` at every change.
    pub(crate) async fn stop(self) -> Vec<(Duration, u64)> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

/// Rates during the backlog.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct RateReport {
    /// Requests the emulator saw.
    pub(crate) requests: u64,
    /// Seconds from the first request to the last.
    pub(crate) span_s: f64,
    /// Seconds from the worker's start to the drained outbox.
    pub(crate) drained_s: f64,
    /// `requests / drained_s`: from the worker's start (the backlog's start: the first change, or
    /// in `burst` the complete backlog) to the drained outbox.
    pub(crate) backlog_rate_per_s: f64,
    /// `backlog_rate_per_s` over the plan's rate.
    pub(crate) backlog_share: f64,
    /// `requests / span_s`.
    pub(crate) overall_rate_per_s: f64,
    /// `overall_rate_per_s` over the plan's rate.
    pub(crate) overall_share: f64,
    /// The rate after the first hour-window.
    pub(crate) steady_rate_per_s: f64,
    /// `steady_rate_per_s` over the plan's rate (the target).
    pub(crate) steady_share: f64,
    /// The rate from the end of the writes (or the steady start, if later) to the last request:
    /// the worker with the gateway otherwise idle.
    pub(crate) after_writes_rate_per_s: f64,
    /// `after_writes_rate_per_s` over the plan's rate.
    pub(crate) after_writes_share: f64,
    /// The most requests seen within any one hour-window (the plan allows 60).
    pub(crate) busiest_window: u64,
}

impl RateReport {
    /// Computes the rates from `samples` (see [`Sampler::stop`]).
    pub(crate) fn from_samples(
        samples: &[(Duration, u64)],
        hour: Duration,
        plan_rate: f64,
        drained_s: f64,
        writes_done: Duration,
    ) -> Self {
        let base = samples.first().map_or(0, |s| s.1);
        let first = samples.iter().find(|s| s.1 > base).copied();
        let last = samples.iter().rev().find(|s| s.1 > base).copied();
        let (Some(first), Some(last)) = (first, last) else {
            return Self {
                drained_s,
                ..Self::default()
            };
        };
        let requests = last.1 - base;
        let span = last.0.saturating_sub(first.0).as_secs_f64();
        // `count` over `secs`, or 0 over an empty span.
        let per_s = |count: u64, secs: f64| if secs > 0.0 { count as f64 / secs } else { 0.0 };
        // The rate from `from` to the last request.
        let rate_since = |from: Duration| {
            per_s(
                last.1.saturating_sub(count_at(samples, from)),
                last.0.saturating_sub(from).as_secs_f64(),
            )
        };
        // The first sample already holds at least one request: count from just before it.
        let overall = per_s(requests, span);
        let steady_from = first.0 + hour;
        let steady = rate_since(steady_from);
        let quiet = rate_since(steady_from.max(writes_done));
        let share = |r: f64| if plan_rate > 0.0 { r / plan_rate } else { 0.0 };
        let backlog = per_s(requests, drained_s);
        Self {
            requests,
            span_s: span,
            drained_s,
            backlog_rate_per_s: backlog,
            backlog_share: share(backlog),
            overall_rate_per_s: overall,
            overall_share: share(overall),
            steady_rate_per_s: steady,
            steady_share: share(steady),
            after_writes_rate_per_s: quiet,
            after_writes_share: share(quiet),
            busiest_window: busiest(samples, hour),
        }
    }
}

/// The counter's value at `t` (the last sample at or before it).
fn count_at(samples: &[(Duration, u64)], t: Duration) -> u64 {
    samples
        .iter()
        .take_while(|s| s.0 <= t)
        .last()
        .map_or(0, |s| s.1)
}

/// The most requests within any window of length `hour` (by the samples' resolution).
fn busiest(samples: &[(Duration, u64)], hour: Duration) -> u64 {
    let mut best = 0;
    let mut j = 0;
    for i in 0..samples.len() {
        // Requests that arrived in (samples[i].0, samples[i].0 + hour].
        while j + 1 < samples.len() && samples[j + 1].0 <= samples[i].0 + hour {
            j += 1;
        }
        best = best.max(samples[j].1.saturating_sub(samples[i].1));
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn steady_rate_excludes_the_first_window() {
        // 60 at once at t=100ms, then 10 per 100 ms (100/s) until t=2100ms; hour = 1 s.
        let mut samples = vec![(ms(0), 0), (ms(100), 60)];
        for k in 1..=20u64 {
            samples.push((ms(100 + 100 * k), 60 + 10 * k));
        }
        let r = RateReport::from_samples(&samples, ms(1000), 100.0, 2.5, ms(1600));
        assert_eq!(r.requests, 260);
        assert!((r.span_s - 2.0).abs() < 1e-9);
        assert!((r.overall_rate_per_s - 130.0).abs() < 1e-9);
        assert!((r.steady_rate_per_s - 100.0).abs() < 1e-9, "{r:?}");
        assert!((r.steady_share - 1.0).abs() < 1e-9);
        assert_eq!(r.busiest_window, 150, "{r:?}");
        // From 1.6 s (after the writes) to 2.1 s: 50 requests in 0.5 s.
        assert!((r.after_writes_rate_per_s - 100.0).abs() < 1e-9, "{r:?}");
    }

    #[test]
    fn no_requests_no_rate() {
        let r = RateReport::from_samples(&[(ms(0), 0), (ms(5), 0)], ms(1000), 60.0, 1.0, ms(0));
        assert_eq!(r.requests, 0);
        assert_eq!(r.steady_share, 0.0);
    }
}
