//! The quota limiter: callers wait for capacity in every window of a [`QuotaPlan`].
//!
//! # Guarantee
//!
//! For every window `limit/per` of the plan, no interval of length `per` (half-open) ever holds
//! more than `limit` grants: a strict sliding window. A GCRA / token bucket with burst `limit`
//! cannot promise that (a full bucket drained at the end of one window plus the refill lets about
//! `2 × limit` through inside one window), and vendors such as Passquare count requests in a
//! sliding hour, so anything looser collects 429s.
//!
//! # How
//!
//! Each window keeps a ring of the instants of its last `limit` grants (a `VecDeque` that never
//! holds more than `limit` entries, 16 bytes each: Passteam's 350,000/day window costs about
//! 5.6 MB; [`MAX_WINDOW_LIMIT`](crate::plan::MAX_WINDOW_LIMIT) bounds it). A request may go at `t`
//! when, in every full window, the oldest of the last `limit` grants is at least `per` before `t`.
//!
//! Waiting is fair and FIFO: waiters queue on a `tokio::sync::Mutex` (which is FIFO) and the head
//! sleeps until the earliest instant every window allows. Cancelling `acquire` (dropping the
//! future) releases the queue position and consumes nothing. All timing uses `tokio::time`, so
//! tests run on tokio's paused clock.
//!
//! The grant instant is when the request leaves this process; the vendor sees it a little later,
//! with jitter. When a vendor counts strictly, configure a slightly longer period (`"1/1100ms"`).

use std::collections::VecDeque;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::{Instant, sleep_until};

use crate::plan::{QuotaPlan, QuotaWindow};

/// Enforces every window of a [`QuotaPlan`] by making callers wait, never by failing them.
///
/// Share one limiter (in an `Arc`) between every transport that spends the same vendor quota,
/// e.g. all clients using one API key.
#[derive(Debug)]
pub struct QuotaLimiter {
    plan: QuotaPlan,
    windows: Mutex<Vec<Ring>>,
    /// Set by [`QuotaLimiter::pause_until`]: nobody is granted before it.
    paused_until: StdMutex<Option<Instant>>,
    /// The limit in force per window (index of `plan.windows()`): the plan's, or lower after
    /// [`QuotaLimiter::lower_window`]. Outside the waiters' lock so a detector can lower it.
    limits: Vec<AtomicU32>,
}

#[derive(Debug)]
struct Ring {
    window: QuotaWindow,
    grants: VecDeque<Instant>,
}

impl Ring {
    /// Forgets grants that left the window by `now`; returns when the next grant may happen
    /// under `limit` (the window's limit in force).
    fn ready_at(&mut self, now: Instant, limit: u32) -> Instant {
        let per = self.window.per();
        while self.grants.front().is_some_and(|g| *g + per <= now) {
            self.grants.pop_front();
        }
        let limit = limit.max(1) as usize;
        match self.grants.len().checked_sub(limit) {
            None => now,
            // Full: the oldest of the last `limit` grants must leave the window first.
            Some(i) => self.grants.get(i).map_or(now, |g| *g + per),
        }
    }

    /// Records a grant, keeping only the last `limit` (older ones no longer decide anything).
    fn grant(&mut self, now: Instant, limit: u32) {
        self.grants.push_back(now);
        while self.grants.len() > limit.max(1) as usize {
            self.grants.pop_front();
        }
    }
}

impl QuotaLimiter {
    /// A limiter for `plan`, with no grants yet.
    pub fn new(plan: QuotaPlan) -> Self {
        let rings = plan
            .windows()
            .iter()
            .map(|w| Ring {
                window: *w,
                grants: VecDeque::new(),
            })
            .collect();
        let limits = plan
            .windows()
            .iter()
            .map(|w| AtomicU32::new(w.limit()))
            .collect();
        Self {
            plan,
            windows: Mutex::new(rings),
            paused_until: StdMutex::new(None),
            limits,
        }
    }

    /// The plan this limiter was built with (a window lowered by [`Self::lower_window`] keeps
    /// its configured limit here; [`Self::limit_of`] tells the one in force).
    pub fn plan(&self) -> &QuotaPlan {
        &self.plan
    }

    /// Lowers every window of period `per` to `limit` grants for the rest of this limiter's
    /// life, e.g. when the vendor's answer reveals a smaller plan than configured. Never
    /// raises a limit, ignores 0; `true` when a window was lowered. Waiters re-check at once.
    pub fn lower_window(&self, per: Duration, limit: u32) -> bool {
        if limit == 0 {
            return false;
        }
        let mut lowered = false;
        for (window, current) in self.plan.windows().iter().zip(&self.limits) {
            if window.per() == per {
                lowered |= current.fetch_min(limit, Ordering::SeqCst) > limit;
            }
        }
        lowered
    }

    /// The limit in force for the window of period `per`, if the plan has one.
    pub fn limit_of(&self, per: Duration) -> Option<u32> {
        self.plan
            .windows()
            .iter()
            .zip(&self.limits)
            .filter(|(w, _)| w.per() == per)
            .map(|(_, l)| l.load(Ordering::SeqCst))
            .min()
    }

    /// Waits until every window has room, then takes one slot in each; returns how long the caller
    /// waited (zero when there was room at once).
    ///
    /// Cancel-safe: dropping the future before it completes takes no slot.
    pub async fn acquire(&self) -> Duration {
        let start = Instant::now();
        if self.plan.is_unlimited() && self.paused().is_none() {
            return Duration::ZERO;
        }
        let mut rings = self.windows.lock().await;
        loop {
            let now = Instant::now();
            let mut ready = now;
            for (ring, limit) in rings.iter_mut().zip(&self.limits) {
                ready = ready.max(ring.ready_at(now, limit.load(Ordering::SeqCst)));
            }
            if let Some(paused) = self.paused() {
                ready = ready.max(paused);
            }
            if ready <= now {
                for (ring, limit) in rings.iter_mut().zip(&self.limits) {
                    ring.grant(now, limit.load(Ordering::SeqCst));
                }
                return now - start;
            }
            // Holding the lock keeps the queue order; re-check after waking because a pause may
            // have been extended meanwhile.
            sleep_until(ready).await;
        }
    }

    /// Holds every caller until `until`, e.g. after the vendor answered "rate limited, retry after
    /// N s": no point spending more requests before then. A later instant extends the pause, an
    /// earlier one is ignored.
    pub fn pause_until(&self, until: Instant) {
        let mut paused = self.pause_guard();
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }

    /// The pause slot; a poisoned lock still holds a valid `Option<Instant>`.
    fn pause_guard(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn paused(&self) -> Option<Instant> {
        let mut guard = self.pause_guard();
        match *guard {
            Some(p) if p > Instant::now() => Some(p),
            Some(_) => {
                *guard = None;
                None
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn limiter(plan: &str) -> QuotaLimiter {
        QuotaLimiter::new(QuotaPlan::parse(plan).expect("valid plan"))
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits() {
        let l = QuotaLimiter::new(QuotaPlan::unlimited());
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert_eq!(l.acquire().await, Duration::ZERO);
        }
        assert_eq!(Instant::now(), t0);
    }

    #[tokio::test(start_paused = true)]
    async fn pause_holds_everyone_until_the_instant() {
        let l = limiter("100/s");
        let t0 = Instant::now();
        l.pause_until(t0 + Duration::from_secs(30));
        l.pause_until(t0 + Duration::from_secs(10)); // earlier: ignored
        let waited = l.acquire().await;
        assert_eq!(waited, Duration::from_secs(30));
        assert_eq!(l.acquire().await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lowered_window_holds_from_the_next_grant_on() {
        let l = limiter("10/h, 100/d");
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.acquire().await, Duration::ZERO);
        }
        assert!(
            !l.lower_window(Duration::from_secs(3600), 20),
            "never raises"
        );
        assert!(
            !l.lower_window(Duration::from_secs(3600), 0),
            "0 is ignored"
        );
        assert!(
            !l.lower_window(Duration::from_secs(60), 1),
            "no such window"
        );
        assert!(l.lower_window(Duration::from_secs(3600), 3));
        assert!(
            !l.lower_window(Duration::from_secs(3600), 3),
            "already there"
        );
        assert_eq!(l.limit_of(Duration::from_secs(3600)), Some(3));
        assert_eq!(l.limit_of(Duration::from_secs(86_400)), Some(100));
        assert_eq!(
            l.plan().windows()[0].limit(),
            10,
            "the configured plan is kept"
        );
        // Three grants already in the hour: the fourth waits until the first leaves it.
        assert_eq!(l.acquire().await, Duration::from_secs(3600));
        assert_eq!(Instant::now() - t0, Duration::from_secs(3600));
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_acquire_takes_no_slot() {
        let l = Arc::new(limiter("1/s"));
        let t0 = Instant::now();
        l.acquire().await;
        // This waiter gives up before its slot comes.
        let cancelled = tokio::time::timeout(Duration::from_millis(500), l.acquire()).await;
        assert!(cancelled.is_err());
        l.acquire().await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(1));
    }
}
