//! A plain in-memory ledger: the rules of issue 13 written as directly as possible, sharing no
//! code with the store, for `ledger_model` to compare the store against.
//!
//! - A credit (or an upward set) opens a lot; a negative balance (a debt left by a reversal) is
//!   paid first and only the rest is spendable in the lot.
//! - Spending takes the soonest-expiring lots first (oldest first among equals), never-expiring
//!   last.
//! - Before a write, every lot of the customer past its time expires (an `expiry` entry dated at
//!   the lot's instant); a read does not count such lots.
//! - A reversal takes back the credit less what of it expired: its own lot first, then other
//!   points soonest-expiring first; what cannot be covered leaves the balance negative.
//! - Exactly once: a transaction id remembers its customer, operation and amount.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use walletport_core::{CustomerId, ErrorKind};
use walletport_store::{EntryKind, LedgerEntry, LedgerOp};

/// One history entry as the model sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) tx: Option<String>,
    pub(crate) kind: EntryKind,
    pub(crate) amount: Decimal,
    pub(crate) balance_after: Decimal,
    pub(crate) at: DateTime<Utc>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
}

impl From<&LedgerEntry> for Entry {
    fn from(e: &LedgerEntry) -> Self {
        Self {
            tx: e.transaction_id.as_ref().map(|t| t.as_str().to_owned()),
            kind: e.kind,
            amount: e.amount,
            balance_after: e.balance_after,
            at: e.at,
            expires_at: e.expires_at,
        }
    }
}

#[derive(Debug, Clone)]
struct Lot {
    tx: String,
    amount: Decimal,
    remaining: Decimal,
    expired: Decimal,
    /// `None`: never expires.
    burns_at: Option<DateTime<Utc>>,
    reversed: bool,
}

impl Lot {
    /// Spending order: soonest first, never-expiring last; `Vec` order (oldest first) breaks ties.
    fn order(&self) -> (bool, Option<DateTime<Utc>>) {
        (self.burns_at.is_none(), self.burns_at)
    }

    fn due(&self, now: DateTime<Utc>) -> bool {
        self.remaining > Decimal::ZERO && self.burns_at.is_some_and(|b| b <= now)
    }
}

/// One customer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Account {
    points: Decimal,
    lots: Vec<Lot>,
    /// Oldest first.
    pub(crate) entries: Vec<Entry>,
    /// Balance outbox items enqueued.
    pub(crate) outbox: usize,
}

impl Account {
    fn entry(&mut self, tx: &str, kind: EntryKind, amount: Decimal, now: DateTime<Utc>) {
        self.points += amount;
        self.entries.push(Entry {
            tx: Some(tx.to_owned()),
            kind,
            amount,
            balance_after: self.points,
            at: now,
            expires_at: None,
        });
    }

    /// Expires the lots past their time; returns how many and how many points.
    fn expire(&mut self, now: DateTime<Utc>) -> (u64, Decimal) {
        let mut due: Vec<usize> = (0..self.lots.len())
            .filter(|&i| self.lots[i].due(now))
            .collect();
        due.sort_by_key(|&i| (self.lots[i].order(), i));
        let mut gone = Decimal::ZERO;
        for &i in &due {
            let lot = &mut self.lots[i];
            let amount = lot.remaining;
            lot.expired += amount;
            lot.remaining = Decimal::ZERO;
            let (tx, at) = (lot.tx.clone(), lot.burns_at.expect("due lots expire"));
            self.entry(&tx, EntryKind::Expiry, -amount, at);
            gone += amount;
        }
        (due.len() as u64, gone)
    }

    /// Takes up to `amount` from the open lots in spending order.
    fn spend(&mut self, amount: Decimal) {
        let mut order: Vec<usize> = (0..self.lots.len()).collect();
        order.sort_by_key(|&i| (self.lots[i].order(), i));
        let mut left = amount;
        for i in order {
            let take = self.lots[i].remaining.min(left);
            self.lots[i].remaining -= take;
            left -= take;
        }
    }

    /// Adds `amount` with an entry and opens its lot with what is left after paying any debt.
    fn open(
        &mut self,
        tx: &str,
        kind: EntryKind,
        amount: Decimal,
        now: DateTime<Utc>,
        burns_at: Option<DateTime<Utc>>,
    ) {
        let debt = (-self.points).max(Decimal::ZERO);
        self.entry(tx, kind, amount, now);
        self.entries.last_mut().expect("just written").expires_at = burns_at;
        self.lots.push(Lot {
            tx: tx.to_owned(),
            amount,
            remaining: (amount - debt).max(Decimal::ZERO),
            expired: Decimal::ZERO,
            burns_at,
            reversed: false,
        });
    }

    /// The balance at `now`: lots past their time do not count, expired or not.
    fn balance(&self, now: DateTime<Utc>) -> Decimal {
        let overdue: Decimal = self
            .lots
            .iter()
            .filter(|l| l.due(now))
            .map(|l| l.remaining)
            .sum();
        self.points - overdue
    }
}

/// What a call answers: `(applied, delta)` or the error's kind.
pub(crate) type Outcome = Result<(bool, Decimal), ErrorKind>;

/// All customers, and what each transaction id was used for.
#[derive(Debug, Default)]
pub(crate) struct Model {
    accounts: HashMap<CustomerId, Account>,
    /// id → (customer, operation, requested amount).
    processed: HashMap<String, (CustomerId, &'static str, Decimal)>,
}

fn op_key(op: &LedgerOp) -> (&'static str, Decimal) {
    match op {
        LedgerOp::Credit(c) => ("credit", c.amount()),
        LedgerOp::Redeem(r) => ("redemption", r.amount()),
        LedgerOp::Set(s) => ("set", s.points()),
        LedgerOp::Reverse(_) => ("reversal", Decimal::ZERO),
    }
}

impl Model {
    pub(crate) fn add_customer(&mut self, id: CustomerId) {
        self.accounts.insert(id, Account::default());
    }

    pub(crate) fn account(&self, id: &CustomerId) -> &Account {
        &self.accounts[id]
    }

    pub(crate) fn balance(&self, id: &CustomerId, now: DateTime<Utc>) -> Decimal {
        self.accounts[id].balance(now)
    }

    /// Every instant a lot will stop counting after `now`, soonest first.
    pub(crate) fn future_expiries(&self, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut all: Vec<_> = self
            .accounts
            .values()
            .flat_map(|a| a.lots.iter().filter_map(|l| l.burns_at))
            .filter(|&b| b > now)
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The expiry task: `(customers, lots, points)`.
    pub(crate) fn expire_due(&mut self, now: DateTime<Utc>) -> (u64, u64, Decimal) {
        let mut report = (0, 0, Decimal::ZERO);
        for account in self.accounts.values_mut() {
            let (lots, points) = account.expire(now);
            if lots > 0 {
                account.outbox += 1;
                report = (report.0 + 1, report.1 + lots, report.2 + points);
            }
        }
        report
    }

    pub(crate) fn apply(
        &mut self,
        who: &CustomerId,
        op: &LedgerOp,
        now: DateTime<Utc>,
        echo: bool,
    ) -> Outcome {
        let id = op.transaction_id().as_str();
        let prior = self.processed.get(id).cloned();
        let Some(account) = self.accounts.get_mut(who) else {
            return match (op, prior) {
                (LedgerOp::Reverse(_), _) | (_, None) => Err(ErrorKind::NotFound),
                (_, Some(_)) => Err(ErrorKind::Conflict),
            };
        };
        let (expired, _) = account.expire(now);
        let outcome = match (op, prior) {
            (LedgerOp::Reverse(_), prior) => reverse(account, who, id, prior, now),
            (_, Some(p)) => {
                let (kind, amount) = op_key(op);
                if &p.0 == who && p.1 == kind && p.2 == amount {
                    Ok((false, Decimal::ZERO))
                } else {
                    Err(ErrorKind::Conflict)
                }
            }
            (LedgerOp::Redeem(r), None) if account.points < r.amount() => {
                Err(ErrorKind::InsufficientPoints)
            }
            (_, None) => {
                let (kind, amount) = op_key(op);
                self.processed
                    .insert(id.to_owned(), (who.clone(), kind, amount));
                Ok((true, change(account, op, now)))
            }
        };
        if expired > 0 || (echo && matches!(outcome, Ok((true, _)))) {
            account.outbox += 1;
        }
        outcome
    }
}

/// A credit, redemption or set with a new id; returns the change of the balance.
fn change(account: &mut Account, op: &LedgerOp, now: DateTime<Utc>) -> Decimal {
    let id = op.transaction_id().as_str();
    match op {
        LedgerOp::Credit(c) => {
            let burns_at = c
                .lifetime()
                .map(|l| now + TimeDelta::from_std(l).expect("small lifetime"));
            account.open(id, EntryKind::Credit, c.amount(), now, burns_at);
            c.amount()
        }
        LedgerOp::Redeem(r) => {
            account.spend(r.amount());
            account.entry(id, EntryKind::Redemption, -r.amount(), now);
            -r.amount()
        }
        LedgerOp::Set(s) => {
            let delta = s.points() - account.points;
            if delta > Decimal::ZERO {
                account.open(id, EntryKind::Adjustment, delta, now, None);
            } else if delta < Decimal::ZERO {
                account.spend(-delta);
                account.entry(id, EntryKind::Adjustment, delta, now);
            }
            delta
        }
        LedgerOp::Reverse(_) => unreachable!("reversals are not changes"),
    }
}

fn reverse(
    account: &mut Account,
    who: &CustomerId,
    id: &str,
    prior: Option<(CustomerId, &'static str, Decimal)>,
    now: DateTime<Utc>,
) -> Outcome {
    match prior {
        Some((c, "credit", _)) if &c == who => {}
        Some((c, _, _)) if &c == who => return Err(ErrorKind::InvalidInput),
        _ => return Err(ErrorKind::NotFound),
    }
    let i = account
        .lots
        .iter()
        .position(|l| l.tx == id)
        .expect("every credit has its lot");
    if account.lots[i].reversed {
        return Ok((false, Decimal::ZERO));
    }
    let lot = &mut account.lots[i];
    lot.reversed = true;
    let take = lot.amount - lot.expired;
    let own = lot.remaining.min(take);
    lot.remaining -= own;
    account.spend(take - own);
    account.entry(id, EntryKind::Reversal, -take, now);
    Ok((true, -take))
}
