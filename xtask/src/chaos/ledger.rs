//! What the load generator sent and what the gateway acknowledged, and the arithmetic that
//! decides whether the gateway kept its promises across the crashes.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

/// How an operation reached the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// Passquare `addBalance` hook (`POST /hooks/passquare`); credits only.
    Hook,
    /// REST API (`POST /api/customers/{phone}/credits` or `.../redemptions`).
    Api,
}

/// What an operation does to the balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Adds `amount`.
    Credit,
    /// Takes `amount`, or is refused (409 `insufficient_points`) when the balance is smaller.
    Redemption,
}

/// What one attempt was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 2xx: the operation is in the ledger exactly once (applied now or before).
    Acked,
    /// 409 `insufficient_points` (redemptions): nothing changed, and nothing applied before
    /// (a repeat of an applied id answers 2xx `applied: false`).
    Insufficient,
    /// 5xx or no answer (the crash): may or may not have been applied.
    Failed,
    /// Any other answer to a valid call (a violation of its own): treated as may-have-applied.
    Refused,
}

/// One attempt: which transaction, and what came back.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    /// Index of the customer.
    pub(crate) customer: usize,
    /// The transaction id (unique per operation; repeats reuse it with the same amount).
    pub(crate) tx: String,
    /// The amount (positive for both kinds).
    pub(crate) amount: Decimal,
    /// Hook or API.
    pub(crate) via: Via,
    /// Credit or redemption.
    pub(crate) kind: Kind,
    /// A REST credit whose points expire (after [`CREDIT_LIFETIME`], long after the run).
    pub(crate) expiring: bool,
    /// The answer.
    pub(crate) outcome: Outcome,
}

/// The lifetime of the expiring REST credits: the points sit in lots that redemptions spend
/// first, but none expires during a run.
pub(crate) const CREDIT_LIFETIME: &str = "30d";

/// Every operation by transaction id, with what its attempts tell about it.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub(crate) customer: usize,
    pub(crate) amount: Decimal,
    pub(crate) via: Via,
    pub(crate) kind: Kind,
    pub(crate) expiring: bool,
    /// Some attempt was answered 2xx.
    pub(crate) acked: bool,
    pub(crate) attempts: u32,
    /// Attempts without a definite answer since the last `insufficient_points` (which settles
    /// everything before it as not applied): while not acknowledged, more than zero means "maybe".
    pub(crate) unsure: u32,
    /// Attempts answered `insufficient_points`.
    pub(crate) insufficient: u32,
    /// Whether it is in the ledger, once a probe after the load has told.
    pub(crate) resolved: Option<bool>,
}

impl Op {
    /// Whether it is in the ledger: `Some` when known, `None` when it may or may not be.
    pub(crate) fn applied(&self) -> Option<bool> {
        if let Some(known) = self.resolved {
            Some(known)
        } else if self.acked {
            Some(true)
        } else if self.unsure == 0 {
            Some(false)
        } else {
            None
        }
    }
}

/// Counts for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Distinct operations of the kind.
    pub(crate) distinct: usize,
    /// Of these, acknowledged.
    pub(crate) acked: usize,
    /// Attempts, repeats included.
    pub(crate) attempts: u64,
    /// Distinct operations that had at least one `insufficient_points` answer.
    pub(crate) insufficient: usize,
}

/// The book of all operations sent during a run.
#[derive(Debug, Default)]
pub(crate) struct Book {
    pub(crate) ops: BTreeMap<String, Op>,
}

impl Book {
    /// Adds attempts, in the order they were made per transaction id; an amount, customer or
    /// kind that differs for one transaction id is a bug of the generator, reported as an error.
    pub(crate) fn add(&mut self, sent: impl IntoIterator<Item = Sent>) -> anyhow::Result<()> {
        for s in sent {
            let entry = self.ops.entry(s.tx.clone()).or_insert(Op {
                customer: s.customer,
                amount: s.amount,
                via: s.via,
                kind: s.kind,
                expiring: s.expiring,
                acked: false,
                attempts: 0,
                unsure: 0,
                insufficient: 0,
                resolved: None,
            });
            if (entry.customer, entry.amount, entry.kind, entry.expiring)
                != (s.customer, s.amount, s.kind, s.expiring)
            {
                anyhow::bail!(
                    "generator reused transaction id {} for another operation",
                    s.tx
                );
            }
            entry.attempts += 1;
            match s.outcome {
                Outcome::Acked => entry.acked = true,
                Outcome::Insufficient => {
                    entry.insufficient += 1;
                    entry.unsure = 0;
                }
                Outcome::Failed | Outcome::Refused => entry.unsure += 1,
            }
        }
        Ok(())
    }

    /// Counts of one kind.
    pub(crate) fn counts(&self, kind: Kind) -> Counts {
        let mut c = Counts::default();
        for op in self.ops.values().filter(|o| o.kind == kind) {
            c.distinct += 1;
            c.acked += usize::from(op.acked);
            c.attempts += u64::from(op.attempts);
            c.insufficient += usize::from(op.insufficient > 0);
        }
        c
    }

    /// The operations of one kind and route, with their ids.
    pub(crate) fn select(&self, kind: Kind, via: Via) -> Vec<(String, Op)> {
        self.ops
            .iter()
            .filter(|(_, o)| o.kind == kind && o.via == via)
            .map(|(tx, o)| (tx.clone(), o.clone()))
            .collect()
    }

    /// Records what a probe found out about `tx`.
    pub(crate) fn resolve(&mut self, tx: &str, applied: bool) {
        if let Some(op) = self.ops.get_mut(tx) {
            op.resolved = Some(applied);
        }
    }

    /// After the credit probes: every credit is in the ledger (a probe applies a lost one).
    pub(crate) fn settle_credits(&mut self) {
        for op in self.ops.values_mut().filter(|o| o.kind == Kind::Credit) {
            op.resolved = Some(true);
        }
    }

    /// The least and the most `customer`'s balance can be: acknowledged credits less
    /// acknowledged redemptions, widened by every operation that may or may not have applied.
    /// Once every operation is resolved, both are the one balance the customer must show.
    pub(crate) fn window(&self, customer: usize) -> (Decimal, Decimal) {
        let (mut low, mut high) = (Decimal::ZERO, Decimal::ZERO);
        for op in self.ops.values().filter(|o| o.customer == customer) {
            let (sure, maybe) = match op.applied() {
                Some(true) => (op.amount, op.amount),
                Some(false) => (Decimal::ZERO, Decimal::ZERO),
                None => (Decimal::ZERO, op.amount),
            };
            match op.kind {
                Kind::Credit => {
                    low += sure;
                    high += maybe;
                }
                Kind::Redemption => {
                    low -= maybe;
                    high -= sure;
                }
            }
        }
        (low, high)
    }

    /// Operations whose state is still unknown.
    pub(crate) fn unresolved(&self) -> usize {
        self.ops.values().filter(|o| o.applied().is_none()).count()
    }
}

/// What probing an unacknowledged credit found before the probe itself applied it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// It was in the ledger already (the probe changed nothing).
    WasPresent,
    /// It was not (the probe applied it now).
    WasMissing,
}

/// Judges a hook probe from the balance before and after re-sending the credit: the change is
/// either nothing (present) or exactly the amount (missing, applied now); anything else means a
/// credit counted twice or lost elsewhere.
pub(crate) fn judge_hook_probe(before: Decimal, after: Decimal, amount: Decimal) -> Option<Probe> {
    let delta = after - before;
    if delta.is_zero() {
        Some(Probe::WasPresent)
    } else if delta == amount {
        Some(Probe::WasMissing)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(customer: usize, tx: &str, cents: i64, outcome: Outcome) -> Sent {
        Sent {
            customer,
            tx: tx.into(),
            amount: Decimal::new(cents, 2),
            via: Via::Api,
            kind: Kind::Credit,
            expiring: false,
            outcome,
        }
    }

    fn redeem(customer: usize, tx: &str, cents: i64, outcome: Outcome) -> Sent {
        Sent {
            kind: Kind::Redemption,
            ..sent(customer, tx, cents, outcome)
        }
    }

    #[test]
    fn the_book_merges_repeats_and_sums_per_customer() {
        let mut book = Book::default();
        book.add([
            sent(0, "a", 150, Outcome::Failed),
            sent(0, "a", 150, Outcome::Acked),
            sent(0, "b", 25, Outcome::Failed),
            sent(1, "c", 1000, Outcome::Acked),
        ])
        .expect("add");
        let c = book.counts(Kind::Credit);
        assert_eq!((c.distinct, c.acked, c.attempts), (3, 2, 4));
        let d = |c: i64| Decimal::new(c, 2);
        assert_eq!(book.window(0), (d(150), d(175)));
        assert_eq!(book.window(1), (d(1000), d(1000)));
        assert_eq!(book.window(2), (Decimal::ZERO, Decimal::ZERO));
        assert_eq!(book.unresolved(), 1);
        book.settle_credits();
        assert_eq!(book.window(0), (d(175), d(175)));
        assert_eq!(book.unresolved(), 0);
        assert!(
            book.add([sent(0, "a", 151, Outcome::Acked)]).is_err(),
            "same id, other amount"
        );
        assert!(
            book.add([sent(1, "b", 25, Outcome::Acked)]).is_err(),
            "same id, other customer"
        );
        assert!(
            book.add([redeem(0, "b", 25, Outcome::Acked)]).is_err(),
            "same id, other kind"
        );
    }

    #[test]
    fn redemptions_narrow_the_window_by_what_their_answers_tell() {
        let d = |c: i64| Decimal::new(c, 2);
        let mut book = Book::default();
        book.add([
            sent(0, "c", 5000, Outcome::Acked),
            // Acknowledged: taken for sure.
            redeem(0, "r1", 1000, Outcome::Failed),
            redeem(0, "r1", 1000, Outcome::Acked),
            // Cut by a crash: maybe.
            redeem(0, "r2", 300, Outcome::Failed),
            // Refused for want of points, also after a crash before it: not taken.
            redeem(0, "r3", 700, Outcome::Failed),
            redeem(0, "r3", 700, Outcome::Insufficient),
            // Refused, then cut by a crash: maybe.
            redeem(0, "r4", 200, Outcome::Insufficient),
            redeem(0, "r4", 200, Outcome::Failed),
        ])
        .expect("add");
        let applied: Vec<_> = ["r1", "r2", "r3", "r4"]
            .iter()
            .map(|tx| book.ops[*tx].applied())
            .collect();
        assert_eq!(applied, [Some(true), None, Some(false), None]);
        assert_eq!(book.window(0), (d(3500), d(4000)));
        let r = book.counts(Kind::Redemption);
        assert_eq!(
            (r.distinct, r.acked, r.attempts, r.insufficient),
            (4, 1, 7, 2)
        );
        book.resolve("r2", true);
        book.resolve("r4", false);
        assert_eq!(book.window(0), (d(3700), d(3700)));
        assert_eq!(book.unresolved(), 0);
    }

    #[test]
    fn hook_probes_tell_present_missing_and_broken_apart() {
        let d = |c: i64| Decimal::new(c, 2);
        assert_eq!(
            judge_hook_probe(d(100), d(100), d(5)),
            Some(Probe::WasPresent)
        );
        assert_eq!(
            judge_hook_probe(d(100), d(105), d(5)),
            Some(Probe::WasMissing)
        );
        assert_eq!(judge_hook_probe(d(100), d(110), d(5)), None);
        assert_eq!(judge_hook_probe(d(100), d(95), d(5)), None);
    }
}
