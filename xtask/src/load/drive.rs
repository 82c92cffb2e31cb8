//! A closed-loop load driver: `clients` tasks, each sending its next request as soon as the
//! previous one answered, for a bounded time after a warm-up; latencies of the requests that
//! started inside the measured window, errors counted (the first one kept for the report).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::stats::ModeSummary;

/// What one driven phase produced.
#[derive(Debug, Clone)]
pub(crate) struct Driven {
    /// Rates and latencies of the measured window.
    pub(crate) summary: ModeSummary,
    /// The latency of each request of the measured window, sorted (to merge windows).
    pub(crate) latencies: Vec<Duration>,
    /// The measured window (until the last request that started in it answered).
    pub(crate) elapsed: Duration,
    /// Requests (warm-up included) that succeeded: what must be in the database afterwards.
    pub(crate) ok_total: u64,
    /// Requests (warm-up included) that failed: they may or may not have taken effect.
    pub(crate) failed_total: u64,
    /// The first failure, if any.
    pub(crate) first_error: Option<String>,
}

/// Runs `op(state, n)` from `clients` tasks (each with its own `state` from `make_state`) with
/// sequence numbers `n` unique across tasks, for `warmup` unmeasured then `window` measured.
pub(crate) async fn drive<S, Mk, Op, Fut>(
    clients: usize,
    warmup: Duration,
    window: Duration,
    make_state: Mk,
    op: Op,
) -> Driven
where
    S: Clone + Send + 'static,
    Mk: Fn(usize) -> S,
    Op: Fn(S, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let seq = Arc::new(AtomicU64::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + window;
    let mut tasks = Vec::with_capacity(clients);
    for i in 0..clients {
        let (state, op, seq, first_error) =
            (make_state(i), op.clone(), seq.clone(), first_error.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut errors, mut ok_total, mut failed_total) = (0u64, 0u64, 0u64);
            loop {
                let started = Instant::now();
                if started >= end {
                    break;
                }
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let result = op(state.clone(), n).await;
                let measured = started >= measure_from;
                match result {
                    Ok(()) => ok_total += 1,
                    Err(e) => {
                        failed_total += 1;
                        errors += u64::from(measured);
                        let mut slot = first_error.lock().unwrap_or_else(PoisonError::into_inner);
                        slot.get_or_insert(e);
                    }
                }
                if measured {
                    latencies.push(started.elapsed());
                }
            }
            (latencies, errors, ok_total, failed_total)
        }));
    }
    let mut all = Vec::new();
    let (mut errors, mut ok_total, mut failed_total) = (0, 0, 0);
    for task in tasks {
        match task.await {
            Ok((l, e, ot, ft)) => {
                all.extend(l);
                errors += e;
                ok_total += ot;
                failed_total += ft;
            }
            Err(e) => {
                errors += 1;
                failed_total += 1;
                let mut slot = first_error.lock().unwrap_or_else(PoisonError::into_inner);
                slot.get_or_insert(format!("client task failed: {e}"));
            }
        }
    }
    // The window ends when the last request that started inside it has answered.
    let elapsed = Instant::now().saturating_duration_since(measure_from);
    let first_error = first_error
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    Driven {
        summary: ModeSummary::of(&mut all, errors, elapsed),
        latencies: all,
        elapsed,
        ok_total,
        failed_total,
        first_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_every_request_and_keeps_the_first_error() {
        let d = drive(
            4,
            Duration::ZERO,
            Duration::from_millis(50),
            |i| i,
            |i, n| async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                if i == 0 && n % 2 == 0 {
                    Err(format!("even {n}"))
                } else {
                    Ok(())
                }
            },
        )
        .await;
        assert!(d.summary.requests > 8, "{:?}", d.summary);
        assert_eq!(d.ok_total + d.failed_total, d.summary.requests);
        assert!(d.summary.errors == 0 || d.first_error.is_some());
    }
}
