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
//! Waiting is fair: waiters queue in [`Turns`] (first come first served, interactive callers
//! before background ones) and the head sleeps until the earliest instant every window allows.
//! Cancelling `acquire` (dropping the future) releases the queue position and consumes nothing. All timing uses `tokio::time`, so
//! tests run on tokio's paused clock.
//!
//! The grant instant is when the request leaves this process; the vendor sees it a little later,
//! with jitter. When a vendor counts strictly, configure a slightly longer period (`"1/1100ms"`).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::limiter::{Limiter, Priority, QuotaUsage, WindowLimits, WindowUsage};
use crate::plan::{QuotaPlan, QuotaWindow};
use crate::turns::Turns;

/// Enforces every window of a [`QuotaPlan`] in this process by making callers wait, never by
/// failing them: the [`Limiter`] for library users without a store.
///
/// Share one limiter (in an `Arc`) between every transport that spends the same vendor quota,
/// e.g. all clients using one API key.
#[derive(Debug)]
pub struct QuotaLimiter {
    limits: WindowLimits,
    /// The line of waiters; its head alone looks at the windows.
    turns: Turns,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    rings: Vec<Ring>,
    /// Set by [`QuotaLimiter::pause_until`]: nobody is granted before it.
    paused_until: Option<Instant>,
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
        Self {
            limits: WindowLimits::new(plan),
            turns: Turns::default(),
            state: Mutex::new(State {
                rings,
                paused_until: None,
            }),
        }
    }

    /// The plan this limiter was built with (a window lowered by [`Self::lower_window`] keeps
    /// its configured limit here; [`Self::limit_of`] tells the one in force).
    pub fn plan(&self) -> &QuotaPlan {
        self.limits.plan()
    }

    /// Lowers every window of period `per` to `limit` grants for the rest of this limiter's
    /// life, e.g. when the vendor's answer reveals a smaller plan than configured. Never
    /// raises a limit, ignores 0; `true` when a window was lowered. Waiters re-check at once.
    pub fn lower_window(&self, per: Duration, limit: u32) -> bool {
        self.limits.lower(per, limit)
    }

    /// The limit in force for the window of period `per`, if the plan has one.
    pub fn limit_of(&self, per: Duration) -> Option<u32> {
        self.limits.limit_of(per)
    }

    /// Waits (as the current task's [`Priority`]) until every window has room, then takes one
    /// slot in each; returns how long the caller waited (zero when there was room at once).
    ///
    /// Cancel-safe: dropping the future before it completes takes no slot.
    pub async fn acquire(&self) -> Duration {
        self.acquire_as(Priority::current()).await
    }

    async fn acquire_as(&self, priority: Priority) -> Duration {
        let start = Instant::now();
        if self.plan().is_unlimited() && self.state().paused_until.is_none() {
            return Duration::ZERO;
        }
        self.turns
            .wait(priority, || async { self.try_grant(Instant::now()) })
            .await;
        Instant::now() - start
    }

    /// Takes a slot in every window at `now` if they all have room; else when to ask again.
    fn try_grant(&self, now: Instant) -> Option<Instant> {
        let mut state = self.state();
        let mut ready = now;
        if let Some(paused) = state.paused_until {
            if paused > now {
                ready = paused;
            } else {
                state.paused_until = None;
            }
        }
        for (ring, (_, limit)) in state.rings.iter_mut().zip(self.limits.in_force()) {
            ready = ready.max(ring.ready_at(now, limit));
        }
        if ready > now {
            return Some(ready);
        }
        for (ring, (_, limit)) in state.rings.iter_mut().zip(self.limits.in_force()) {
            ring.grant(now, limit);
        }
        None
    }

    /// Holds every caller until `until`, e.g. after the vendor answered "rate limited, retry after
    /// N s": no point spending more requests before then. A later instant extends the pause, an
    /// earlier one is ignored.
    pub fn pause_until(&self, until: Instant) {
        let mut state = self.state();
        if state.paused_until.is_none_or(|p| p < until) {
            state.paused_until = Some(until);
        }
    }

    /// The windows and pause; a poisoned lock still holds valid grant instants.
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Limiter for QuotaLimiter {
    fn plan(&self) -> &QuotaPlan {
        self.limits.plan()
    }

    async fn acquire(&self, priority: Priority) -> Duration {
        self.acquire_as(priority).await
    }

    async fn pause_for(&self, after: Duration) {
        self.pause_until(Instant::now() + after);
    }

    fn lower_window(&self, per: Duration, limit: u32) -> bool {
        self.limits.lower(per, limit)
    }

    fn limit_of(&self, per: Duration) -> Option<u32> {
        self.limits.limit_of(per)
    }

    async fn usage(&self) -> walletport_core::Result<QuotaUsage> {
        let now = Instant::now();
        let state = self.state();
        let windows = state
            .rings
            .iter()
            .zip(self.limits.in_force())
            .map(|(ring, (window, limit))| WindowUsage {
                window,
                limit,
                used: ring
                    .grants
                    .iter()
                    .filter(|g| **g + window.per() > now)
                    .count() as u32,
            })
            .collect();
        Ok(QuotaUsage {
            windows,
            paused_for: state.paused_until.filter(|p| *p > now).map(|p| p - now),
            shared: false,
        })
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
