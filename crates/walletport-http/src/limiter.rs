//! The [`Limiter`] port: what a transport waits on before each vendor request.
//!
//! Two implementations keep one contract (a strict sliding window per window of the plan, callers
//! wait instead of failing, a named pause holds everyone):
//!
//! - [`QuotaLimiter`](crate::QuotaLimiter), in this process — for library users without a store;
//! - a store-backed one (`walletport_server::SharedQuota`), for gateways that share one vendor
//!   plan through one database and must remember it across restarts.
//!
//! Adapters build their transport from a [`LimiterFactory`], so the caller decides which one every
//! vendor request goes through without the adapter knowing.
//!
//! Who waits first is a [`Priority`]: a request made for a person at a till (interactive, the
//! default) takes the next slot before any background outbox delivery. The caller sets it for a
//! whole task with [`Priority::scope`]; the transport reads it with [`Priority::current`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::plan::{QuotaPlan, QuotaWindow};
use crate::quota::QuotaLimiter;

tokio::task_local! {
    static PRIORITY: Priority;
}

/// Who is waiting for a vendor request slot: interactive callers go before background ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    /// Someone is waiting for the answer (a REST call, a CLI command): served first.
    #[default]
    Interactive,
    /// Nobody waits on it now (outbox deliveries): served when no interactive caller waits.
    Background,
}

impl Priority {
    /// The priority of the current task: the innermost [`Priority::scope`], else interactive.
    pub fn current() -> Self {
        PRIORITY.try_with(|p| *p).unwrap_or_default()
    }

    /// Runs `work` with this priority for every vendor request it makes.
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        PRIORITY.scope(self, work).await
    }
}

/// How full one window of a limiter's plan is right now, for operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowUsage {
    /// The configured window.
    pub window: QuotaWindow,
    /// The limit in force (lower than the configured one after [`Limiter::lower_window`]).
    pub limit: u32,
    /// Requests granted within the last `window.per()`.
    pub used: u32,
}

/// What a limiter can tell about its windows and pause.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaUsage {
    /// One entry per window of the plan.
    pub windows: Vec<WindowUsage>,
    /// How long every caller is still held after a vendor's `Retry-After`.
    pub paused_for: Option<Duration>,
    /// True when the windows are shared with other processes (a store-backed limiter).
    pub shared: bool,
}

/// Enforces a vendor's [`QuotaPlan`] before each request by making callers wait, never by
/// failing them.
///
/// Contract for implementations: no interval of any window's length holds more grants than its
/// limit; `acquire` is cancel-safe (a dropped future takes no slot); interactive callers are
/// served before background ones; a pause holds every caller until it ends.
#[async_trait]
pub trait Limiter: Send + Sync + fmt::Debug {
    /// The configured plan.
    fn plan(&self) -> &QuotaPlan;

    /// Waits until every window has room, then takes one slot in each; returns how long the
    /// caller waited.
    async fn acquire(&self, priority: Priority) -> Duration;

    /// Holds every caller for `after` from now (the vendor answered "rate limited, retry after");
    /// a pause that ends later than the current one extends it, an earlier one changes nothing.
    async fn pause_for(&self, after: Duration);

    /// Lowers every window of period `per` to `limit` (the vendor revealed a smaller plan than
    /// configured); never raises, ignores 0; `true` when a window was lowered.
    fn lower_window(&self, per: Duration, limit: u32) -> bool;

    /// The limit in force for the window of period `per`, if the plan has one.
    fn limit_of(&self, per: Duration) -> Option<u32>;

    /// How full the windows are now (an error when they live elsewhere and cannot be read).
    async fn usage(&self) -> walletport_core::Result<QuotaUsage>;
}

/// Builds the limiter of a provider's transport: adapters ask it for one per plan, so the caller
/// picks where the windows live.
pub trait LimiterFactory: Send + Sync + fmt::Debug {
    /// The limiter for `provider`'s requests under `plan`.
    fn limiter(&self, provider: &'static str, plan: QuotaPlan) -> Arc<dyn Limiter>;

    /// True when its limiters share a vendor's `Retry-After` beyond one transport, so that even
    /// the unlimited plan needs one (the in-process factory: false).
    fn shares_pauses(&self) -> bool {
        false
    }
}

/// The default [`LimiterFactory`]: a new [`QuotaLimiter`] in this process per transport.
#[derive(Debug, Clone, Copy, Default)]
pub struct InProcessLimiters;

impl LimiterFactory for InProcessLimiters {
    fn limiter(&self, _provider: &'static str, plan: QuotaPlan) -> Arc<dyn Limiter> {
        Arc::new(QuotaLimiter::new(plan))
    }
}

/// The limit in force for each window of a plan: the configured one, or lower once the vendor
/// revealed a smaller plan. Shared by every [`Limiter`] implementation.
#[derive(Debug)]
pub struct WindowLimits {
    plan: QuotaPlan,
    limits: Vec<AtomicU32>,
}

impl WindowLimits {
    /// The plan's own limits.
    pub fn new(plan: QuotaPlan) -> Self {
        let limits = plan
            .windows()
            .iter()
            .map(|w| AtomicU32::new(w.limit()))
            .collect();
        Self { plan, limits }
    }

    /// The configured plan.
    pub fn plan(&self) -> &QuotaPlan {
        &self.plan
    }

    /// Each window of the plan with its limit in force (at least 1).
    pub fn in_force(&self) -> impl Iterator<Item = (QuotaWindow, u32)> + '_ {
        self.plan
            .windows()
            .iter()
            .zip(&self.limits)
            .map(|(w, l)| (*w, l.load(Ordering::SeqCst).max(1)))
    }

    /// See [`Limiter::lower_window`].
    pub fn lower(&self, per: Duration, limit: u32) -> bool {
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

    /// See [`Limiter::limit_of`].
    pub fn limit_of(&self, per: Duration) -> Option<u32> {
        self.in_force()
            .filter(|(w, _)| w.per() == per)
            .map(|(_, l)| l)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn priority_is_interactive_unless_scoped() {
        assert_eq!(Priority::current(), Priority::Interactive);
        let inner = Priority::Background
            .scope(async { Priority::current() })
            .await;
        assert_eq!(inner, Priority::Background);
        assert_eq!(Priority::current(), Priority::Interactive);
    }

    #[test]
    fn limits_are_lowered_never_raised() {
        let l = WindowLimits::new(QuotaPlan::parse("10/h, 100/d").expect("plan"));
        assert!(!l.lower(Duration::from_secs(3600), 20));
        assert!(!l.lower(Duration::from_secs(3600), 0));
        assert!(l.lower(Duration::from_secs(3600), 3));
        assert_eq!(l.limit_of(Duration::from_secs(3600)), Some(3));
        assert_eq!(l.limit_of(Duration::from_secs(60)), None);
        assert_eq!(l.plan().windows()[0].limit(), 10);
    }
}
