//! The 429s a vendor emulator answered during a chaos run, split at the kills and restarts of
//! the gateways: the proof that a restarted gateway does not burst past the plan (issue 15).

/// The 429s the emulator answered, split at the kills and restarts.
#[derive(Debug)]
pub(super) struct QuotaLog {
    /// The emulator's count when the load started.
    start: u64,
    /// The count at the last restart (or the start).
    mark: u64,
    /// The count at the latest kill (or the end).
    last: u64,
    /// 429s from the start to the first kill.
    pub(super) before_first_kill: Option<u64>,
    /// 429s from each restart to the next kill (the last one: to the end of the drain).
    pub(super) after_restarts: Vec<u64>,
}

impl QuotaLog {
    pub(super) fn new(now: u64) -> Self {
        Self {
            start: now,
            mark: now,
            last: now,
            before_first_kill: None,
            after_restarts: Vec::new(),
        }
    }

    /// A kill (or the end of the run) closes the interval since the last restart.
    pub(super) fn killed(&mut self, now: u64) {
        let since = now.saturating_sub(self.mark);
        if self.before_first_kill.is_none() {
            self.before_first_kill = Some(since);
        } else {
            self.after_restarts.push(since);
        }
        self.mark = now;
        self.last = now;
    }

    /// A restart opens the next interval (429s while a gateway was down count only in the
    /// total).
    pub(super) fn restarted(&mut self, now: u64) {
        self.mark = now;
    }

    /// Every 429 from the start of the load to the end of the drain.
    pub(super) fn total(&self) -> u64 {
        self.last.saturating_sub(self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_split_at_kills_and_restarts() {
        let mut q = QuotaLog::new(5);
        q.killed(7); // 2 before the first kill
        q.restarted(9); // 2 while the gateway was down
        q.killed(9);
        q.restarted(9);
        q.killed(12); // the end: 3 after the second restart
        assert_eq!(q.before_first_kill, Some(2));
        assert_eq!(q.after_restarts, [0, 3]);
        assert_eq!(q.total(), 7);
    }
}
