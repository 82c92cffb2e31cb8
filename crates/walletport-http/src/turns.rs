//! [`Turns`]: the waiting line in front of a limiter — one caller at a time asks for a slot,
//! first come first served, except that interactive callers go before background ones.
//!
//! The head of the line asks its limiter for a slot; when the answer is "not before `t`", it
//! sleeps until `t` and asks again, keeping its place. A background head that sleeps gives its
//! place up as soon as an interactive caller arrives, and queues again behind it: a backlog of
//! outbox deliveries never makes a till wait more than one slot.

use std::future::Future;

use tokio::sync::{Mutex, watch};
use tokio::time::{Instant, sleep_until};

use crate::limiter::Priority;

/// A first-come-first-served line with an interactive lane (see the module docs).
#[derive(Debug)]
pub struct Turns {
    /// Held by the head of the line (tokio's mutex queues its waiters in order).
    head: Mutex<()>,
    /// How many interactive callers are waiting for the head.
    interactive: watch::Sender<usize>,
}

impl Default for Turns {
    fn default() -> Self {
        Self {
            head: Mutex::new(()),
            interactive: watch::Sender::new(0),
        }
    }
}

/// Counts an interactive caller as waiting for as long as it lives (cancel-safe).
struct Waiting<'a>(&'a watch::Sender<usize>);

impl<'a> Waiting<'a> {
    fn new(count: &'a watch::Sender<usize>) -> Self {
        count.send_modify(|n| *n += 1);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Turns {
    /// Waits for the caller's turn, then calls `ask` until it grants: `ask` answers `None` when
    /// it took a slot, or `Some(t)` when the next slot comes at `t`.
    ///
    /// Cancel-safe as long as `ask` is: dropping the future gives the turn up.
    pub async fn wait<F, Fut>(&self, priority: Priority, mut ask: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<Instant>>,
    {
        loop {
            let _head = self.enter(priority).await;
            loop {
                let Some(at) = ask().await else { return };
                if priority == Priority::Interactive {
                    sleep_until(at).await;
                    continue;
                }
                let mut arrivals = self.interactive.subscribe();
                tokio::select! {
                    () = sleep_until(at) => {}
                    // Give the head up to the interactive caller and queue again.
                    _ = arrivals.wait_for(|n| *n > 0) => break,
                }
            }
        }
    }

    async fn enter(&self, priority: Priority) -> tokio::sync::MutexGuard<'_, ()> {
        if priority == Priority::Interactive {
            let _waiting = Waiting::new(&self.interactive);
            return self.head.lock().await;
        }
        let mut waiting = self.interactive.subscribe();
        loop {
            // The sender lives in `self`, so the channel never closes.
            let _ = waiting.wait_for(|n| *n == 0).await;
            let head = self.head.lock().await;
            if *self.interactive.borrow() == 0 {
                return head;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::Mutex as StdMutex;
    use std::time::Duration;

    /// A one-slot-per-second gate: records who got each slot, in order.
    struct Gate {
        next: StdMutex<Instant>,
        order: StdMutex<Vec<&'static str>>,
    }

    impl Gate {
        fn ask(&self, who: &'static str) -> Option<Instant> {
            let mut next = self.next.lock().expect("lock");
            let now = Instant::now();
            if *next > now {
                return Some(*next);
            }
            *next = now + Duration::from_secs(1);
            self.order.lock().expect("lock").push(who);
            None
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_interactive_caller_overtakes_a_background_backlog() {
        let turns = Arc::new(Turns::default());
        let gate = Arc::new(Gate {
            next: StdMutex::new(Instant::now()),
            order: StdMutex::new(Vec::new()),
        });
        let mut tasks = Vec::new();
        for name in ["bg1", "bg2", "bg3", "bg4"] {
            let (turns, gate) = (turns.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                turns
                    .wait(Priority::Background, || async { gate.ask(name) })
                    .await;
            }));
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (t, g) = (turns.clone(), gate.clone());
        let till = tokio::spawn(async move {
            let start = Instant::now();
            t.wait(Priority::Interactive, || async { g.ask("till") })
                .await;
            start.elapsed()
        });
        let waited = till.await.expect("till");
        for t in tasks {
            t.await.expect("bg");
        }
        let order = gate.order.lock().expect("lock").clone();
        assert_eq!(order[..2], ["bg1", "bg2"], "{order:?}");
        assert_eq!(order[2], "till", "the till takes the next slot: {order:?}");
        assert!(waited <= Duration::from_secs(1), "waited {waited:?}");
        assert_eq!(order.len(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn cancelling_the_head_lets_the_next_caller_in() {
        let turns = Arc::new(Turns::default());
        let gate = Arc::new(Gate {
            next: StdMutex::new(Instant::now() + Duration::from_secs(5)),
            order: StdMutex::new(Vec::new()),
        });
        let g = gate.clone();
        let cancelled = tokio::time::timeout(
            Duration::from_secs(1),
            turns.wait(Priority::Background, || async { g.ask("gone") }),
        )
        .await;
        assert!(cancelled.is_err());
        turns
            .wait(Priority::Interactive, || async { gate.ask("next") })
            .await;
        assert_eq!(*gate.order.lock().expect("lock"), ["next"]);
    }
}
