//! What the load generator sent and what the gateway acknowledged, and the arithmetic that
//! decides whether the gateway kept its promises across the crashes.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

/// How a credit reached the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// Passquare `addBalance` hook (`POST /hooks/passquare`).
    Hook,
    /// REST API (`POST /api/customers/{phone}/credits`).
    Api,
}

/// One attempt to credit: which transaction, and whether a 2xx came back.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    /// Index of the customer.
    pub(crate) customer: usize,
    /// The transaction id (unique per credit; repeats reuse it with the same amount).
    pub(crate) tx: String,
    /// The amount.
    pub(crate) amount: Decimal,
    /// Hook or API.
    pub(crate) via: Via,
    /// A 2xx answer came back.
    pub(crate) acked: bool,
}

/// Every credit by transaction id, with whether any of its attempts was acknowledged.
#[derive(Debug, Clone)]
pub(crate) struct Credit {
    pub(crate) customer: usize,
    pub(crate) amount: Decimal,
    pub(crate) via: Via,
    pub(crate) acked: bool,
    pub(crate) attempts: u32,
}

/// The book of all credits sent during a run.
#[derive(Debug, Default)]
pub(crate) struct Book {
    pub(crate) credits: BTreeMap<String, Credit>,
}

impl Book {
    /// Adds attempts; an amount or customer that differs for one transaction id is a bug of the
    /// generator, reported as an error.
    pub(crate) fn add(&mut self, sent: impl IntoIterator<Item = Sent>) -> anyhow::Result<()> {
        for s in sent {
            let entry = self.credits.entry(s.tx.clone()).or_insert(Credit {
                customer: s.customer,
                amount: s.amount,
                via: s.via,
                acked: false,
                attempts: 0,
            });
            if entry.customer != s.customer || entry.amount != s.amount {
                anyhow::bail!(
                    "generator reused transaction id {} for another credit",
                    s.tx
                );
            }
            entry.acked |= s.acked;
            entry.attempts += 1;
        }
        Ok(())
    }

    /// Credits sent, acknowledged, and attempts (repeats included).
    pub(crate) fn counts(&self) -> (usize, usize, u64) {
        let acked = self.credits.values().filter(|c| c.acked).count();
        let attempts = self.credits.values().map(|c| u64::from(c.attempts)).sum();
        (self.credits.len(), acked, attempts)
    }

    /// The balance `customer` must show once every credit is present exactly once.
    pub(crate) fn total(&self, customer: usize) -> Decimal {
        self.credits
            .values()
            .filter(|c| c.customer == customer)
            .map(|c| c.amount)
            .sum()
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

    fn sent(customer: usize, tx: &str, cents: i64, acked: bool) -> Sent {
        Sent {
            customer,
            tx: tx.into(),
            amount: Decimal::new(cents, 2),
            via: Via::Api,
            acked,
        }
    }

    #[test]
    fn the_book_merges_repeats_and_sums_per_customer() {
        let mut book = Book::default();
        book.add([
            sent(0, "a", 150, false),
            sent(0, "a", 150, true),
            sent(0, "b", 25, false),
            sent(1, "c", 1000, true),
        ])
        .expect("add");
        assert_eq!(book.counts(), (3, 2, 4));
        assert_eq!(book.total(0), Decimal::new(175, 2));
        assert_eq!(book.total(1), Decimal::new(1000, 2));
        assert_eq!(book.total(2), Decimal::ZERO);
        assert!(
            book.add([sent(0, "a", 151, true)]).is_err(),
            "same id, other amount"
        );
        assert!(
            book.add([sent(1, "b", 25, true)]).is_err(),
            "same id, other customer"
        );
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
