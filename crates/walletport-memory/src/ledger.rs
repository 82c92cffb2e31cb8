//! A customer's balance as a ledger: an absolute base set by `set_balance`, plus the credits
//! made after it, each of which may burn at an exact instant.
//!
//! The points are never stored as a running total; they are summed from the ledger when read, at
//! the clock's current time, so a credit burns exactly at `credited_at + lifetime` and the sum is
//! always exact `Decimal` arithmetic.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use walletport_core::{Balance, BalanceUpdate, Credit, Error, Percent, Result, TransactionId};

/// One credit, kept forever (also after it burned or was superseded) as the exactly-once record
/// of its transaction id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LedgerCredit {
    /// Position in the provider-wide event order.
    pub(crate) seq: u64,
    pub(crate) transaction_id: TransactionId,
    pub(crate) amount: Decimal,
    pub(crate) lifetime: Option<Duration>,
    pub(crate) credited_at: DateTime<Utc>,
    /// The first instant at which the credit no longer counts.
    pub(crate) burns_at: Option<DateTime<Utc>>,
}

impl LedgerCredit {
    /// Whether `credit` repeats this one exactly (same amount and lifetime).
    pub(crate) fn same_as(&self, credit: &Credit) -> bool {
        self.amount == credit.amount() && self.lifetime == credit.lifetime()
    }

    fn live_at(&self, now: DateTime<Utc>) -> bool {
        self.burns_at.is_none_or(|burns| now < burns)
    }
}

/// Base, percentages and credits of one customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ledger {
    /// Points as last set absolutely (zero for a new customer).
    base: Decimal,
    /// Credits with `seq` up to this one are included in `base` (superseded).
    base_seq: u64,
    bonus_percent: Percent,
    discount_percent: Percent,
    credits: Vec<LedgerCredit>,
}

impl Ledger {
    /// The balance at `now`.
    pub(crate) fn balance(&self, now: DateTime<Utc>) -> Result<Balance> {
        let mut points = self.base;
        for credit in self.counted().filter(|c| c.live_at(now)) {
            points = points
                .checked_add(credit.amount)
                .ok_or_else(|| Error::unexpected("memory: balance overflow"))?;
        }
        Ok(Balance {
            points: points.normalize(),
            bonus_percent: self.bonus_percent,
            discount_percent: self.discount_percent,
        })
    }

    /// Credits that still count towards the points (made after the last absolute set).
    fn counted(&self) -> impl Iterator<Item = &LedgerCredit> {
        self.credits.iter().filter(|c| c.seq > self.base_seq)
    }

    /// The credit made under `tx`, if any.
    pub(crate) fn find(&self, tx: &TransactionId) -> Option<&LedgerCredit> {
        self.credits.iter().find(|c| &c.transaction_id == tx)
    }

    /// Every transaction id recorded in this ledger.
    pub(crate) fn transaction_ids(&self) -> impl Iterator<Item = &TransactionId> {
        self.credits.iter().map(|c| &c.transaction_id)
    }

    /// Checks an update without applying it.
    pub(crate) fn check_update(update: &BalanceUpdate) -> Result<()> {
        if let Some(points) = update.points
            && points.is_sign_negative()
            && !points.is_zero()
        {
            return Err(Error::invalid_input(format!(
                "points must not be negative, got {points}"
            )));
        }
        Ok(())
    }

    /// Applies an (already checked) update; setting points makes them the new absolute base at
    /// event `seq`, superseding every earlier credit (those no longer burn).
    pub(crate) fn apply(&mut self, update: &BalanceUpdate, seq: u64) {
        if let Some(points) = update.points {
            self.base = points.normalize();
            self.base_seq = seq;
        }
        if let Some(bonus) = update.bonus_percent {
            self.bonus_percent = bonus;
        }
        if let Some(discount) = update.discount_percent {
            self.discount_percent = discount;
        }
    }

    /// Builds the ledger entry of a new credit at `now`, checking that the lifetime and the sum
    /// stay representable; nothing changes here.
    pub(crate) fn prepare(
        &self,
        credit: &Credit,
        seq: u64,
        now: DateTime<Utc>,
    ) -> Result<LedgerCredit> {
        let burns_at = match credit.lifetime() {
            None => None,
            Some(lifetime) => Some(
                TimeDelta::from_std(lifetime)
                    .ok()
                    .and_then(|d| now.checked_add_signed(d))
                    .ok_or_else(|| Error::invalid_input("credit lifetime is too long"))?,
            ),
        };
        let mut total = self.base;
        for amount in self
            .counted()
            .map(|c| c.amount)
            .chain(std::iter::once(credit.amount()))
        {
            total = total
                .checked_add(amount)
                .ok_or_else(|| Error::invalid_input("credit would overflow the balance"))?;
        }
        Ok(LedgerCredit {
            seq,
            transaction_id: credit.transaction_id().clone(),
            amount: credit.amount(),
            lifetime: credit.lifetime(),
            credited_at: now,
            burns_at,
        })
    }

    /// Records a prepared credit.
    pub(crate) fn push(&mut self, credit: LedgerCredit) {
        self.credits.push(credit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn tx(s: &str) -> TransactionId {
        TransactionId::new(s).unwrap()
    }

    #[test]
    fn set_supersedes_earlier_credits_and_burns() {
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let mut ledger = Ledger::default();
        let c = Credit::new(dec!(10), tx("a"), Some(Duration::from_secs(60))).unwrap();
        let entry = ledger.prepare(&c, 1, t0).unwrap();
        ledger.push(entry);
        assert_eq!(ledger.balance(t0).unwrap().points, dec!(10));
        ledger.apply(
            &BalanceUpdate {
                points: Some(dec!(3)),
                ..Default::default()
            },
            2,
        );
        // Superseded: the old credit neither counts nor burns any more.
        assert_eq!(ledger.balance(t0).unwrap().points, dec!(3));
        assert_eq!(
            ledger.balance(t0 + TimeDelta::hours(1)).unwrap().points,
            dec!(3)
        );
        assert!(ledger.find(&tx("a")).is_some());
    }

    #[test]
    fn overflow_is_rejected_before_anything_changes() {
        let ledger = Ledger {
            base: Decimal::MAX,
            ..Default::default()
        };
        let c = Credit::new(dec!(1), tx("a"), None).unwrap();
        assert!(ledger.prepare(&c, 1, DateTime::<Utc>::UNIX_EPOCH).is_err());
        let long = Credit::new(dec!(1), tx("b"), Some(Duration::MAX)).unwrap();
        assert!(
            Ledger::default()
                .prepare(&long, 1, DateTime::<Utc>::UNIX_EPOCH)
                .is_err()
        );
    }
}
