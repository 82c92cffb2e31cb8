//! A customer's balance as a materialised total plus the open expiring lots, and the
//! exactly-once record of every credit and redemption.
//!
//! - `points` is the running total, kept exact in `Decimal` by every change: a credit adds, a
//!   redemption subtracts, an absolute set (`set_balance`) replaces it.
//! - Each credit with a lifetime opens a **lot**: what is left of it and the instant it burns.
//!   Points that never burn are not lots: they are what the total holds beyond the lots.
//! - A read subtracts only the lots already past their time (the lots are ordered by that time,
//!   so it stops at the first live one), and a write removes those lots for good. Reading a
//!   balance therefore costs the same for a customer with 100,000 credits as for a new one; a
//!   credit still burns exactly at `credited_at + lifetime`, also before any write removed it.
//! - A redemption spends the lots that burn soonest first and the points that never burn last.
//! - The clock is expected to move forward: once a write removed a burned lot, moving the clock
//!   back does not bring it back.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use walletport_core::{
    Balance, BalanceUpdate, Credit, Error, ErrorKind, Percent, Redemption, Result, TransactionId,
    check_amount,
};

/// One credit, kept forever (also after it burned, was spent or was superseded) as the
/// exactly-once record of its transaction id.
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
}

/// One redemption, kept forever as the exactly-once record of its transaction id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LedgerRedemption {
    /// Position in the provider-wide event order.
    pub(crate) seq: u64,
    pub(crate) transaction_id: TransactionId,
    pub(crate) amount: Decimal,
    pub(crate) redeemed_at: DateTime<Utc>,
}

impl LedgerRedemption {
    /// Whether `redemption` repeats this one exactly (same amount).
    pub(crate) fn same_as(&self, redemption: &Redemption) -> bool {
        self.amount == redemption.amount()
    }
}

/// Where a lot sits in the spending (and burning) order: soonest to burn first, then oldest.
type LotKey = (DateTime<Utc>, u64);

/// Total, percentages, open lots and the transaction records of one customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "LedgerRepr", into = "LedgerRepr")]
pub(crate) struct Ledger {
    /// Points held, counting every lot still open (also one past its time that no write has
    /// removed yet). Never below the sum of the lots.
    points: Decimal,
    bonus_percent: Percent,
    discount_percent: Percent,
    /// What is left of each credit with a lifetime that is neither spent nor burned (nor
    /// superseded by an absolute set); every value is positive.
    lots: BTreeMap<LotKey, Decimal>,
    credits: BTreeMap<TransactionId, LedgerCredit>,
    redemptions: BTreeMap<TransactionId, LedgerRedemption>,
}

impl Ledger {
    /// The balance at `now`: the total less the lots past their time.
    pub(crate) fn balance(&self, now: DateTime<Utc>) -> Result<Balance> {
        let mut points = self.points;
        for remaining in self.burned(now).map(|(_, remaining)| remaining) {
            points = points
                .checked_sub(*remaining)
                .ok_or_else(|| Error::unexpected("memory: balance underflow"))?;
        }
        Ok(Balance {
            points: points.normalize(),
            bonus_percent: self.bonus_percent,
            discount_percent: self.discount_percent,
        })
    }

    /// The lots burned at `now`, soonest first (a prefix of the lot order).
    fn burned(&self, now: DateTime<Utc>) -> impl Iterator<Item = (&LotKey, &Decimal)> {
        self.lots
            .iter()
            .take_while(move |((burns_at, _), _)| *burns_at <= now)
    }

    /// Removes the lots burned at `now` from the lots and the total.
    fn prune(&mut self, now: DateTime<Utc>) -> Result<()> {
        let points = self.balance(now)?.points;
        while let Some(lot) = self.lots.first_entry()
            && lot.key().0 <= now
        {
            lot.remove();
        }
        self.points = points;
        Ok(())
    }

    /// The credit made under `tx`, if any.
    pub(crate) fn credit_record(&self, tx: &TransactionId) -> Option<&LedgerCredit> {
        self.credits.get(tx)
    }

    /// The redemption made under `tx`, if any.
    pub(crate) fn redemption_record(&self, tx: &TransactionId) -> Option<&LedgerRedemption> {
        self.redemptions.get(tx)
    }

    /// Every transaction id recorded in this ledger (credits and redemptions).
    pub(crate) fn transaction_ids(&self) -> impl Iterator<Item = &TransactionId> {
        self.credits.keys().chain(self.redemptions.keys())
    }

    /// Checks an update without applying it: points are not negative and within the bounds of
    /// one entry.
    pub(crate) fn check_update(update: &BalanceUpdate) -> Result<()> {
        if let Some(points) = update.points {
            if points.is_sign_negative() && !points.is_zero() {
                return Err(Error::invalid_input(format!(
                    "points must not be negative, got {points}"
                )));
            }
            check_amount("points", points)?;
        }
        Ok(())
    }

    /// Applies an (already checked) update; setting points makes them the new absolute total,
    /// settling every open lot into it (those points no longer burn).
    pub(crate) fn apply(&mut self, update: &BalanceUpdate) {
        if let Some(points) = update.points {
            self.points = points.normalize();
            self.lots.clear();
        }
        if let Some(bonus) = update.bonus_percent {
            self.bonus_percent = bonus;
        }
        if let Some(discount) = update.discount_percent {
            self.discount_percent = discount;
        }
    }

    /// Records a new credit (the caller checked its transaction id is unused) as event `seq`
    /// at `now`; on error nothing changes.
    pub(crate) fn credit(&mut self, credit: &Credit, seq: u64, now: DateTime<Utc>) -> Result<()> {
        let burns_at = match credit.lifetime() {
            None => None,
            Some(lifetime) => Some(
                TimeDelta::from_std(lifetime)
                    .ok()
                    .and_then(|d| now.checked_add_signed(d))
                    .ok_or_else(|| Error::invalid_input("credit lifetime is too long"))?,
            ),
        };
        let live = self.balance(now)?.points;
        let points = live
            .checked_add(credit.amount())
            .ok_or_else(|| Error::invalid_input("credit would overflow the balance"))?;
        self.prune(now)?;
        self.points = points;
        if let Some(burns_at) = burns_at {
            self.lots.insert((burns_at, seq), credit.amount());
        }
        self.credits.insert(
            credit.transaction_id().clone(),
            LedgerCredit {
                seq,
                transaction_id: credit.transaction_id().clone(),
                amount: credit.amount(),
                lifetime: credit.lifetime(),
                credited_at: now,
                burns_at,
            },
        );
        Ok(())
    }

    /// Records a new redemption (the caller checked its transaction id is unused) as event
    /// `seq` at `now`, spending the lots that burn soonest first and the points that never burn
    /// last. Too few points is [`ErrorKind::InsufficientPoints`], and nothing changes.
    pub(crate) fn redeem(
        &mut self,
        redemption: &Redemption,
        seq: u64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let amount = redemption.amount();
        let held = self.balance(now)?.points;
        if held < amount {
            return Err(Error::new(
                ErrorKind::InsufficientPoints,
                format!("the customer holds {held} points, the redemption needs {amount}"),
            ));
        }
        self.prune(now)?;
        let mut left = amount;
        while left > Decimal::ZERO {
            let Some(mut lot) = self.lots.first_entry() else {
                // The rest comes from the points that never burn.
                break;
            };
            if *lot.get() <= left {
                left -= lot.remove();
            } else {
                *lot.get_mut() -= left;
                left = Decimal::ZERO;
            }
        }
        self.points = held - amount;
        self.redemptions.insert(
            redemption.transaction_id().clone(),
            LedgerRedemption {
                seq,
                transaction_id: redemption.transaction_id().clone(),
                amount,
                redeemed_at: now,
            },
        );
        Ok(())
    }
}

/// One open lot as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lot {
    /// The credit it came from.
    seq: u64,
    burns_at: DateTime<Utc>,
    remaining: Decimal,
}

/// The stored shape of a [`Ledger`].
///
/// Format 2 stores `points`, `lots` and `redemptions`. Format 1 (walletport 0.1) stored an
/// absolute `base` set at event `base_seq` and every credit, summed on each read; it converts on
/// load: the credits after `base_seq` that have a lifetime become lots (one that burned since
/// is subtracted on the next read and removed on the next write), and the total is the base
/// plus every credit after it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    points: Option<Decimal>,
    bonus_percent: Percent,
    discount_percent: Percent,
    #[serde(default)]
    lots: Vec<Lot>,
    /// Ordered by `seq`.
    #[serde(default)]
    credits: Vec<LedgerCredit>,
    /// Ordered by `seq`.
    #[serde(default)]
    redemptions: Vec<LedgerRedemption>,
    /// Format 1 only.
    #[serde(default, skip_serializing)]
    base: Option<Decimal>,
    /// Format 1 only.
    #[serde(default, skip_serializing)]
    base_seq: Option<u64>,
}

impl From<Ledger> for LedgerRepr {
    fn from(ledger: Ledger) -> Self {
        let mut credits: Vec<_> = ledger.credits.into_values().collect();
        credits.sort_by_key(|c| c.seq);
        let mut redemptions: Vec<_> = ledger.redemptions.into_values().collect();
        redemptions.sort_by_key(|r| r.seq);
        Self {
            points: Some(ledger.points),
            bonus_percent: ledger.bonus_percent,
            discount_percent: ledger.discount_percent,
            lots: ledger
                .lots
                .into_iter()
                .map(|((burns_at, seq), remaining)| Lot {
                    seq,
                    burns_at,
                    remaining,
                })
                .collect(),
            credits,
            redemptions,
            base: None,
            base_seq: None,
        }
    }
}

impl TryFrom<LedgerRepr> for Ledger {
    type Error = String;

    fn try_from(repr: LedgerRepr) -> std::result::Result<Self, String> {
        let mut lots = BTreeMap::new();
        let points = match (repr.points, repr.base) {
            (Some(points), None) => {
                if repr.base_seq.is_some() {
                    return Err("a ledger has `points` and the format 1 `base_seq`".into());
                }
                for lot in repr.lots {
                    if lot.remaining <= Decimal::ZERO {
                        return Err(format!("lot {} is not positive", lot.seq));
                    }
                    if lots
                        .insert((lot.burns_at, lot.seq), lot.remaining)
                        .is_some()
                    {
                        return Err(format!("lot {} is listed twice", lot.seq));
                    }
                }
                points
            }
            (None, Some(base)) => {
                if !repr.lots.is_empty() || !repr.redemptions.is_empty() {
                    return Err("a format 1 ledger (`base`) has lots or redemptions".into());
                }
                let base_seq = repr.base_seq.unwrap_or(0);
                let mut points = base;
                for credit in repr.credits.iter().filter(|c| c.seq > base_seq) {
                    points = points
                        .checked_add(credit.amount)
                        .ok_or("the credits of a format 1 ledger overflow the balance")?;
                    if let Some(burns_at) = credit.burns_at {
                        lots.insert((burns_at, credit.seq), credit.amount);
                    }
                }
                points
            }
            (Some(_), Some(_)) => return Err("a ledger has both `points` and `base`".into()),
            (None, None) => return Err("a ledger has neither `points` nor `base`".into()),
        };
        let lot_sum = lots
            .values()
            .try_fold(Decimal::ZERO, |sum: Decimal, v| sum.checked_add(*v));
        if points.is_sign_negative() || lot_sum.is_none_or(|sum| sum > points) {
            return Err(format!(
                "the points {points} do not cover the open lots or are negative"
            ));
        }
        let mut credits = BTreeMap::new();
        for credit in repr.credits {
            let tx = credit.transaction_id.clone();
            if credits.insert(tx.clone(), credit).is_some() {
                return Err(format!("credit transaction {tx} is listed twice"));
            }
        }
        let mut redemptions = BTreeMap::new();
        for redemption in repr.redemptions {
            let tx = redemption.transaction_id.clone();
            if credits.contains_key(&tx) || redemptions.insert(tx.clone(), redemption).is_some() {
                return Err(format!("transaction {tx} is listed twice"));
            }
        }
        Ok(Self {
            points,
            bonus_percent: repr.bonus_percent,
            discount_percent: repr.discount_percent,
            lots,
            credits,
            redemptions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn tx(s: &str) -> TransactionId {
        TransactionId::new(s).unwrap()
    }

    fn t0() -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH
    }

    fn credit(ledger: &mut Ledger, amount: Decimal, id: &str, secs: Option<u64>, seq: u64) {
        let c = Credit::new(amount, tx(id), secs.map(Duration::from_secs)).unwrap();
        ledger.credit(&c, seq, t0()).unwrap();
    }

    fn redeem(ledger: &mut Ledger, amount: Decimal, id: &str, at: DateTime<Utc>) -> Result<()> {
        ledger.redeem(&Redemption::new(amount, tx(id)).unwrap(), 99, at)
    }

    fn points(ledger: &Ledger, at: DateTime<Utc>) -> Decimal {
        ledger.balance(at).unwrap().points
    }

    #[test]
    fn set_supersedes_earlier_credits_and_burns() {
        let mut ledger = Ledger::default();
        credit(&mut ledger, dec!(10), "a", Some(60), 1);
        assert_eq!(points(&ledger, t0()), dec!(10));
        ledger.apply(&BalanceUpdate {
            points: Some(dec!(3)),
            ..Default::default()
        });
        // Superseded: the old credit neither counts nor burns any more.
        assert_eq!(points(&ledger, t0()), dec!(3));
        assert_eq!(points(&ledger, t0() + TimeDelta::hours(1)), dec!(3));
        assert!(ledger.credit_record(&tx("a")).is_some());
    }

    #[test]
    fn overflow_is_rejected_before_anything_changes() {
        let ledger = Ledger {
            points: Decimal::MAX,
            ..Default::default()
        };
        let mut changed = ledger.clone();
        let c = Credit::new(dec!(1), tx("a"), None).unwrap();
        assert!(changed.credit(&c, 1, t0()).is_err());
        assert_eq!(changed, ledger);
        let long = Credit::new(dec!(1), tx("b"), Some(Duration::MAX)).unwrap();
        let mut empty = Ledger::default();
        assert!(empty.credit(&long, 1, t0()).is_err());
        assert_eq!(empty, Ledger::default());
    }

    #[test]
    fn redemption_spends_the_soonest_burning_lots_first_and_permanent_points_last() {
        let mut ledger = Ledger::default();
        credit(&mut ledger, dec!(5), "forever", None, 1);
        credit(&mut ledger, dec!(10), "late", Some(7200), 2);
        credit(&mut ledger, dec!(4), "soon", Some(3600), 3);
        credit(&mut ledger, dec!(6), "soon-too", Some(3600), 4);
        assert_eq!(points(&ledger, t0()), dec!(25));
        // 4 + 6 from the two soonest lots (oldest first), 2 of the late one.
        redeem(&mut ledger, dec!(12), "r1", t0()).unwrap();
        assert_eq!(ledger.lots.len(), 1);
        assert_eq!(ledger.lots.values().copied().collect::<Vec<_>>(), [dec!(8)]);
        assert_eq!(points(&ledger, t0() + TimeDelta::hours(1)), dec!(13));
        assert_eq!(points(&ledger, t0() + TimeDelta::hours(2)), dec!(5));
        // More than the lots hold: the rest comes from the permanent points.
        redeem(&mut ledger, dec!(10), "r2", t0()).unwrap();
        assert!(ledger.lots.is_empty());
        assert_eq!(points(&ledger, t0() + TimeDelta::days(9)), dec!(3));
    }

    #[test]
    fn insufficient_points_change_nothing() {
        let mut ledger = Ledger::default();
        credit(&mut ledger, dec!(5), "a", Some(60), 1);
        credit(&mut ledger, dec!(2), "b", None, 2);
        let before = ledger.clone();
        let err = redeem(&mut ledger, dec!(7.01), "r", t0()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InsufficientPoints, "{err}");
        assert_eq!(ledger, before);
        // After the lot burned, only the permanent points can be spent.
        let later = t0() + TimeDelta::seconds(60);
        let err = redeem(&mut ledger, dec!(3), "r", later).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InsufficientPoints);
        assert_eq!(ledger, before);
        redeem(&mut ledger, dec!(2), "r", later).unwrap();
        assert_eq!(points(&ledger, later), dec!(0));
        assert!(ledger.redemption_record(&tx("r")).is_some());
    }

    #[test]
    fn reads_subtract_burned_lots_and_writes_remove_them() {
        let mut ledger = Ledger::default();
        credit(&mut ledger, dec!(1), "a", Some(10), 1);
        credit(&mut ledger, dec!(2), "b", Some(20), 2);
        credit(&mut ledger, dec!(4), "c", None, 3);
        let at = |s| t0() + TimeDelta::seconds(s);
        assert_eq!(points(&ledger, at(9)), dec!(7));
        assert_eq!(points(&ledger, at(10)), dec!(6));
        assert_eq!(points(&ledger, at(20)), dec!(4));
        assert_eq!(ledger.lots.len(), 2, "a read changes nothing");
        let c = Credit::new(dec!(1), tx("d"), None).unwrap();
        ledger.credit(&c, 4, at(15)).unwrap();
        assert_eq!(ledger.lots.len(), 1, "the write removed the burned lot");
        assert_eq!(ledger.points, dec!(7));
        assert_eq!(points(&ledger, at(20)), dec!(5));
    }

    /// Reading costs the same however long the history: with 100,000 open lots and records a
    /// read touches no lot, so 20,000 reads finish far within a second (a read that summed the
    /// history would take minutes).
    #[test]
    fn reading_does_not_walk_the_history() {
        let mut ledger = Ledger::default();
        for i in 0..100_000u64 {
            let c = Credit::new(
                dec!(1),
                tx(&format!("t{i}")),
                Some(Duration::from_secs(3600)),
            )
            .unwrap();
            ledger.credit(&c, i + 1, t0()).unwrap();
        }
        assert_eq!(ledger.lots.len(), 100_000);
        let started = std::time::Instant::now();
        for _ in 0..20_000 {
            assert_eq!(points(&ledger, t0()), dec!(100000));
        }
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_secs(2), "{took:?}");
    }

    #[test]
    fn the_stored_shape_round_trips() {
        let mut ledger = Ledger::default();
        credit(&mut ledger, dec!(5), "forever", None, 1);
        credit(&mut ledger, dec!(10), "late", Some(7200), 2);
        redeem(&mut ledger, dec!(3), "r", t0()).unwrap();
        let json = serde_json::to_value(&ledger).unwrap();
        assert!(json.get("base").is_none(), "{json}");
        assert_eq!(json["lots"][0]["remaining"], "7");
        let back: Ledger = serde_json::from_value(json).unwrap();
        assert_eq!(back, ledger);
    }

    #[test]
    fn a_format_1_ledger_converts() {
        let v1 = serde_json::json!({
            "base": "100",
            "base_seq": 4,
            "bonus_percent": "5",
            "discount_percent": "0",
            "credits": [
                {"seq": 3, "transaction_id": "c1", "amount": "10",
                 "lifetime": {"secs": 3600, "nanos": 0},
                 "credited_at": "1970-01-01T00:00:00Z", "burns_at": "1970-01-01T01:00:00Z"},
                {"seq": 5, "transaction_id": "c2", "amount": "5",
                 "lifetime": {"secs": 7200, "nanos": 0},
                 "credited_at": "1970-01-01T00:00:00Z", "burns_at": "1970-01-01T02:00:00Z"},
                {"seq": 6, "transaction_id": "c3", "amount": "7.5", "lifetime": null,
                 "credited_at": "1970-01-01T00:00:00Z", "burns_at": null}
            ]
        });
        let ledger: Ledger = serde_json::from_value(v1).unwrap();
        assert_eq!(points(&ledger, t0()), dec!(112.5));
        // c1 was superseded by the set (seq 4): it does not burn; c2 does.
        assert_eq!(points(&ledger, t0() + TimeDelta::hours(1)), dec!(112.5));
        assert_eq!(points(&ledger, t0() + TimeDelta::hours(2)), dec!(107.5));
        assert!(ledger.credit_record(&tx("c1")).is_some());
        assert_eq!(ledger.transaction_ids().count(), 3);
        let bad = serde_json::json!({
            "base": "1", "points": "1", "bonus_percent": "0", "discount_percent": "0"
        });
        assert!(serde_json::from_value::<Ledger>(bad).is_err());
        let uncovered = serde_json::json!({
            "points": "1", "bonus_percent": "0", "discount_percent": "0",
            "lots": [{"seq": 1, "burns_at": "1970-01-01T01:00:00Z", "remaining": "2"}]
        });
        assert!(serde_json::from_value::<Ledger>(uncovered).is_err());
    }
}
