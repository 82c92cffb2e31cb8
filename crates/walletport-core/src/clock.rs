//! Where walletport reads the time: registration dates, credit lifetimes and expiries depend on
//! it, so the memory provider and the gateway take a [`Clock`], and tests swap in a
//! [`ManualClock`] and move time by hand instead of sleeping.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};

/// A source of the current instant.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock; the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Any `Fn() -> DateTime<Utc>` is a clock, for a test that computes its instants.
impl<F> Clock for F
where
    F: Fn() -> DateTime<Utc> + Send + Sync,
{
    fn now(&self) -> DateTime<Utc> {
        self()
    }
}

/// A clock that stands still until moved, for exact tests of time-dependent behaviour
/// (expiring credits, crash scenarios). Clones share one instant: a test keeps a clone and
/// moves the clock the code under test reads.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock to `instant` (backwards too, if a test wants that).
    pub fn set(&self, instant: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = instant;
    }

    /// Moves the clock forward by `by`; saturates instead of overflowing.
    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now
            .checked_add_signed(by)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_see_it() {
        let t0 = Utc::now();
        let c = ManualClock::new(t0);
        let seen = c.clone();
        assert_eq!(seen.now(), t0);
        c.advance(TimeDelta::seconds(5));
        assert_eq!(seen.now(), t0 + TimeDelta::seconds(5));
        c.set(t0);
        assert_eq!(seen.now(), t0);
        c.advance(TimeDelta::MAX);
        assert_eq!(seen.now(), DateTime::<Utc>::MAX_UTC, "saturates");
    }

    #[test]
    fn a_closure_is_a_clock() {
        let t0 = Utc::now();
        let clock: &dyn Clock = &move || t0;
        assert_eq!(clock.now(), t0);
    }
}
