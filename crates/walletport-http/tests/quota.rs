//! The quota limiter on tokio's paused clock: exact grant instants, FIFO order, and the strict
//! sliding-window guarantee checked over random plans and arrival patterns.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use tokio::time::Instant;
use walletport_http::{QuotaLimiter, QuotaPlan, QuotaWindow};

fn plan(text: &str) -> QuotaPlan {
    QuotaPlan::parse(text).expect("valid plan")
}

/// Asserts that no half-open interval of length `per` holds more than `limit` of `grants`
/// (sorted): equivalently, any `limit + 1` consecutive grants span at least `per`.
fn assert_sliding_window(grants: &[Instant], window: &QuotaWindow) {
    let n = window.limit() as usize;
    for pair in grants.windows(n + 1) {
        let span = pair[n] - pair[0];
        assert!(
            span >= window.per(),
            "{} grants within {:?} violate {window}",
            n + 1,
            span
        );
    }
}

#[tokio::test(start_paused = true)]
async fn one_per_second_and_five_per_minute_grant_at_exact_instants() {
    let limiter = QuotaLimiter::new(plan("1/s, 5/min"));
    let t0 = Instant::now();
    let mut offsets = Vec::new();
    for _ in 0..12 {
        limiter.acquire().await;
        offsets.push((Instant::now() - t0).as_secs_f64());
    }
    assert_eq!(
        offsets,
        [
            0.0, 1.0, 2.0, 3.0, 4.0, 60.0, 61.0, 62.0, 63.0, 64.0, 120.0, 121.0
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn acquire_reports_the_wait() {
    let limiter = QuotaLimiter::new(plan("2/10s"));
    assert_eq!(limiter.acquire().await, Duration::ZERO);
    assert_eq!(limiter.acquire().await, Duration::ZERO);
    assert_eq!(limiter.acquire().await, Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_window_frees_slots_as_old_grants_slide_out() {
    // 3 per 10 s: grants at 0, 4, 8 → the 4th may go at 10 (when 0 leaves), the 5th at 14.
    let limiter = QuotaLimiter::new(plan("3/10s"));
    let t0 = Instant::now();
    let mut offsets = Vec::new();
    for at in [0u64, 4, 8, 9, 9] {
        tokio::time::sleep_until(t0 + Duration::from_secs(at)).await;
        limiter.acquire().await;
        offsets.push((Instant::now() - t0).as_secs());
    }
    assert_eq!(offsets, [0, 4, 8, 10, 14]);
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_first_come_first_served() {
    let limiter = Arc::new(QuotaLimiter::new(plan("1/s")));
    let order = Arc::new(Mutex::new(Vec::new()));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for id in 0..8u64 {
        let limiter = limiter.clone();
        let order = order.clone();
        tasks.push(tokio::spawn(async move {
            // Arrive 10 ms apart, in id order, all while the limiter is saturated.
            tokio::time::sleep(Duration::from_millis(10 * id)).await;
            limiter.acquire().await;
            order.lock().expect("order").push((id, Instant::now() - t0));
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let order = order.lock().expect("order").clone();
    let expected: Vec<(u64, Duration)> = (0..8).map(|i| (i, Duration::from_secs(i))).collect();
    assert_eq!(order, expected);
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_never_exceed_any_window() {
    let limiter = Arc::new(QuotaLimiter::new(plan("3/s, 10/min")));
    let grants = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let limiter = limiter.clone();
        let grants = grants.clone();
        tasks.push(tokio::spawn(async move {
            limiter.acquire().await;
            grants.lock().expect("grants").push(Instant::now());
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let mut grants = grants.lock().expect("grants").clone();
    grants.sort();
    assert_eq!(grants.len(), 40);
    for w in limiter.plan().windows() {
        assert_sliding_window(&grants, w);
    }
    // And it is not slower than necessary: each minute grants 3+3+3+1 at seconds 0, 1, 2, 3,
    // so the 40th grant goes at 3 min 3 s.
    assert_eq!(grants[39] - grants[0], Duration::from_secs(183));
}

/// Runs `arrivals` (ms offsets, nondecreasing) through a limiter on a paused runtime and returns
/// the grant instants as ms offsets.
fn simulate(plan: &QuotaPlan, arrivals: &[u64]) -> Vec<u64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let limiter = Arc::new(QuotaLimiter::new(plan.clone()));
        let t0 = Instant::now();
        let grants = Arc::new(Mutex::new(vec![0u64; arrivals.len()]));
        let mut tasks = Vec::new();
        for (i, at) in arrivals.iter().copied().enumerate() {
            let limiter = limiter.clone();
            let grants = grants.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(t0 + Duration::from_millis(at)).await;
                limiter.acquire().await;
                let ms = u64::try_from((Instant::now() - t0).as_millis()).expect("ms");
                grants.lock().expect("grants")[i] = ms;
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
        grants.lock().expect("grants").clone()
    })
}

fn window_strategy() -> impl Strategy<Value = QuotaWindow> {
    (1u32..5, 1u64..20).prop_map(|(limit, secs)| {
        QuotaWindow::new(limit, Duration::from_secs(secs)).expect("valid window")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// For random plans and arrivals: no window is ever exceeded, grants keep arrival order, and
    /// each grant happens at the earliest instant the plan allows (the exact FIFO model).
    #[test]
    fn grants_match_the_strict_sliding_window_model(
        windows in prop::collection::vec(window_strategy(), 1..4),
        gaps in prop::collection::vec(1u64..3_000, 1..40),
    ) {
        let plan = QuotaPlan::new(windows);
        let arrivals: Vec<u64> = gaps.iter().scan(0u64, |t, g| { *t += g; Some(*t) }).collect();
        let grants = simulate(&plan, &arrivals);

        // The model: g_i = max(a_i, g_{i-1}, max over windows of g_{i-N} + per).
        let mut model: Vec<u64> = Vec::with_capacity(arrivals.len());
        for (i, a) in arrivals.iter().enumerate() {
            let mut g = *a;
            if let Some(prev) = model.last() {
                g = g.max(*prev);
            }
            for w in plan.windows() {
                let n = w.limit() as usize;
                if i >= n {
                    g = g.max(model[i - n] + u64::try_from(w.per().as_millis()).expect("ms"));
                }
            }
            model.push(g);
        }
        prop_assert_eq!(&grants, &model);

        for w in plan.windows() {
            let n = w.limit() as usize;
            let per = u64::try_from(w.per().as_millis()).expect("ms");
            for pair in grants.windows(n + 1) {
                prop_assert!(pair[n] - pair[0] >= per, "window {} exceeded: {:?}", w, pair);
            }
        }
    }
}
