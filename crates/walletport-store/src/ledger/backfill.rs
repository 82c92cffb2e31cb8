//! Converting a customer's v0.1 ledger rows into the v0.2 ledger, exactly, in Rust (SQLite has no
//! exact decimal arithmetic in SQL, so both backends share this).
//!
//! Migration `0002_ledger` copies the v0.1 rows into `ledger_entries` (a `debit` becomes a
//! `redemption`, `balance_after` still unset) and lists the customers to convert in
//! `ledger_backfill`; on open, the store converts each of them in one transaction with
//! [`convert`]:
//!
//! - `balance_after` of each row is the running sum of the amounts, in id order;
//! - every credit (and upward adjustment) gets its lot. v0.1 kept no record of what was spent
//!   from which credit, so its redemptions and downward adjustments are allocated to the lots
//!   still live at the migration, soonest-expiring first, as v0.2 would have spent them;
//! - a credit already past its time at the migration gets an `expiry` entry (v0.1 only stopped
//!   counting it; the rows its sweeper deleted are gone for good);
//! - a customer whose conversion wrote expiry entries gets a `balance` outbox item, so a vendor
//!   card still showing the burnt points is corrected ([`Conversion::outbox_payload`]);
//! - the stored points equal the v0.1 live balance exactly. Where v0.1 let a balance go
//!   negative (a credit expiring after it was spent), the points stay negative: a debt, as after
//!   a reversal.

use rust_decimal::Decimal;

use super::engine::{Lot, NEVER};
use super::types::EntryKind;

/// One v0.1 row as copied into `ledger_entries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OldRow {
    pub(crate) id: i64,
    pub(crate) transaction_id: Option<String>,
    pub(crate) kind: EntryKind,
    pub(crate) amount: Decimal,
    pub(crate) at: i64,
    pub(crate) expires_at: Option<i64>,
}

/// An `expiry` entry to append for a credit that burnt before the migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConvertedExpiry {
    pub(crate) transaction_id: Option<String>,
    pub(crate) amount: Decimal,
    pub(crate) balance_after: Decimal,
    pub(crate) at: i64,
}

/// What to write for one customer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Conversion {
    /// `(entry id, balance_after)` for every v0.1 row.
    pub(crate) balances_after: Vec<(i64, Decimal)>,
    /// One per credit and upward adjustment (none of them reversed: v0.1 had no reversals).
    pub(crate) lots: Vec<Lot>,
    /// Appended after the v0.1 rows, in the order they burnt.
    pub(crate) expiries: Vec<ConvertedExpiry>,
    /// The customer's points: the v0.1 balance at the migration.
    pub(crate) points: Decimal,
}

impl Conversion {
    /// The payload of the `balance` outbox item to enqueue when the conversion expired points
    /// the vendor card may still show; `None` when it expired nothing.
    pub(crate) fn outbox_payload(&self, now: i64) -> Option<serde_json::Value> {
        let lots = u64::try_from(self.expiries.len()).unwrap_or(u64::MAX);
        (lots > 0).then(|| {
            let points = self
                .expiries
                .iter()
                .fold(Decimal::ZERO, |p, e| p.saturating_sub(e.amount));
            super::engine::payload(
                "expiry",
                None,
                Decimal::ZERO,
                super::engine::Expired { lots, points },
                now,
            )
        })
    }
}

/// Converts one customer's v0.1 `rows` at the migration instant `now` (see the module docs).
pub(crate) fn convert(mut rows: Vec<OldRow>, now: i64) -> Conversion {
    rows.sort_by_key(|r| r.id);
    let mut out = Conversion::default();
    let mut running = Decimal::ZERO;
    let mut spent = Decimal::ZERO;
    for r in &rows {
        running = running.saturating_add(r.amount);
        out.balances_after.push((r.id, running));
        if r.amount.is_sign_negative() {
            spent = spent.saturating_sub(r.amount);
        } else if !r.amount.is_zero() {
            let burns_at = r.expires_at.unwrap_or(NEVER);
            let live = burns_at > now;
            out.lots.push(Lot {
                entry_id: r.id,
                transaction_id: r.transaction_id.clone(),
                amount: r.amount,
                remaining: if live { r.amount } else { Decimal::ZERO },
                expired: if live { Decimal::ZERO } else { r.amount },
                burns_at,
                reversed: false,
            });
        }
    }
    // What was spent comes out of the live lots, soonest-expiring first.
    let mut order: Vec<usize> = (0..out.lots.len()).collect();
    order.sort_by_key(|&i| (out.lots[i].burns_at, out.lots[i].entry_id));
    for &i in &order {
        let take = out.lots[i].remaining.min(spent);
        out.lots[i].remaining -= take;
        spent -= take;
    }
    for &i in order.iter().filter(|&&i| !out.lots[i].expired.is_zero()) {
        let lot = &out.lots[i];
        running = running.saturating_sub(lot.expired);
        out.expiries.push(ConvertedExpiry {
            transaction_id: lot.transaction_id.clone(),
            amount: -lot.expired,
            balance_after: running,
            at: lot.burns_at,
        });
    }
    out.points = running;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn row(id: i64, kind: EntryKind, amount: Decimal, expires_at: Option<i64>) -> OldRow {
        OldRow {
            id,
            transaction_id: Some(format!("t{id}")),
            kind,
            amount,
            at: id,
            expires_at,
        }
    }

    #[test]
    fn spent_points_come_out_of_the_soonest_expiring_live_lot() {
        let rows = vec![
            row(1, EntryKind::Credit, dec!(10), None),
            row(2, EntryKind::Credit, dec!(5), Some(1_000)),
            row(3, EntryKind::Credit, dec!(7), Some(50)),
            row(4, EntryKind::Redemption, dec!(-8), None),
        ];
        let c = convert(rows, 100);
        // Live at 100: 10 (never) and 5 (burns at 1000); 7 burnt at 50.
        assert_eq!(c.points, dec!(7));
        let remaining: Vec<_> = c.lots.iter().map(|l| l.remaining).collect();
        assert_eq!(remaining, vec![dec!(7), dec!(0), dec!(0)]);
        assert_eq!(c.lots[2].expired, dec!(7));
        assert_eq!(c.expiries.len(), 1);
        assert_eq!(c.expiries[0].balance_after, dec!(7));
        assert_eq!(c.expiries[0].at, 50);
        assert_eq!(c.balances_after.last(), Some(&(4, dec!(14))));
    }

    #[test]
    fn a_v01_negative_balance_stays_a_debt_with_no_open_lot() {
        let rows = vec![
            row(1, EntryKind::Credit, dec!(10), Some(50)),
            row(2, EntryKind::Redemption, dec!(-10), None),
        ];
        let c = convert(rows, 100);
        assert_eq!(c.points, dec!(-10));
        assert!(c.lots.iter().all(|l| l.remaining.is_zero()));
    }
}
