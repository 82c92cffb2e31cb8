//! The ledger's rules, written once for both databases.
//!
//! A customer's points are kept materialised (`customers.points`) beside their **lots**: one per
//! credit (and per upward adjustment), holding what is left of it and when it expires. Every
//! entry updates the points and the lots it touches in the same transaction, so reading a balance,
//! crediting and redeeming cost the same for a customer with 100,000 entries as for a new one:
//!
//! - a read is `points` minus the lots already past their time that no write has expired yet
//!   (exact to the nanosecond without waiting for the expiry task);
//! - every write first expires the customer's lots past their time (one `expiry` entry each), so
//!   the history always adds up: each entry's `balance_after` is the previous one plus its amount;
//! - a redemption spends the soonest-expiring lots first and never-expiring points last;
//! - a reversal takes a credit back (see [`Reversal`](super::Reversal)); points that were already
//!   spent leave a negative balance, which later credits pay off before they open a lot.
//!
//! Invariant: when `points >= 0` it equals the sum of the open lots' remaining amounts; when it is
//! negative, no lot is open.
//!
//! A backend implements [`LedgerTx`] — the SQL of each step, run inside one transaction that has
//! the customer's account locked — and the functions here decide what to write.

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde_json::Value;
use walletport_core::{CustomerId, Error, ErrorKind, Redemption, Result};

use super::types::{EntryKind, LedgerOp, LedgerOutcome, Reversal, SetPoints};
use crate::codec::{expiry_ns, from_ns, to_ns};
use crate::model::WriteOpts;

/// The `burns_at` of a lot that never expires: it sorts after every real instant, so spending in
/// `(burns_at, entry_id)` order takes never-expiring points last.
pub(crate) const NEVER: i64 = i64::MAX;

/// How many lots one query reads while spending or expiring.
const LOT_PAGE: i64 = 128;

/// What is left of one credit (or upward adjustment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lot {
    /// The entry that opened it (also the lot's id).
    pub(crate) entry_id: i64,
    /// The transaction id of that entry.
    pub(crate) transaction_id: Option<String>,
    /// The amount it was opened with.
    pub(crate) amount: Decimal,
    /// What can still be spent; the lot is open while this is positive.
    pub(crate) remaining: Decimal,
    /// What of it expired.
    pub(crate) expired: Decimal,
    /// When what remains stops counting (exclusive); [`NEVER`] for points that do not expire.
    pub(crate) burns_at: i64,
    /// Whether the credit was taken back.
    pub(crate) reversed: bool,
}

/// The committed record of a transaction id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prior {
    /// Whose.
    pub(crate) customer: String,
    /// `credit`, `redemption`, `set` (or `debit` from before v0.2, stored as `redemption`).
    pub(crate) kind: String,
    /// The requested amount.
    pub(crate) amount: Decimal,
}

impl Prior {
    /// The same request again succeeds without changing anything; anything else reusing the id
    /// is a `Conflict`.
    pub(crate) fn judge(&self, customer: &CustomerId, op: &LedgerOp) -> Result<LedgerOutcome> {
        if self.customer == customer.as_str()
            && self.kind == op.kind()
            && self.amount == op.requested()
        {
            Ok(LedgerOutcome::REPEAT)
        } else {
            Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "transaction id `{}` was already used for another customer, operation or amount",
                    op.transaction_id()
                ),
            ))
        }
    }
}

/// What a write reads first about the account: its points, the record of the operation's
/// transaction id, and whether a lot is due (so the common credit skips the expiry query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    /// The stored points.
    pub(crate) points: Decimal,
    /// The committed record of the operation's transaction id, if any.
    pub(crate) prior: Option<Prior>,
    /// Whether an open lot may be due by the write's `now` (true when the backend did not check).
    pub(crate) due: bool,
}

/// An entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewEntry<'a> {
    pub(crate) customer: &'a str,
    pub(crate) transaction_id: Option<&'a str>,
    pub(crate) kind: EntryKind,
    pub(crate) amount: Decimal,
    pub(crate) balance_after: Decimal,
    pub(crate) at: i64,
    pub(crate) expires_at: Option<i64>,
}

/// A lot to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewLot<'a> {
    pub(crate) entry_id: i64,
    pub(crate) customer: &'a str,
    pub(crate) transaction_id: &'a str,
    pub(crate) amount: Decimal,
    pub(crate) remaining: Decimal,
    pub(crate) burns_at: i64,
}

/// The steps of a ledger write in one database transaction. Every method's error is a database
/// failure (the caller rolls back); the ledger's own refusals are decided in this module.
#[async_trait]
pub(crate) trait LedgerTx: Send {
    /// Locks the customer's account until the transaction ends and reads its points; `None`
    /// when there is no such customer.
    async fn lock_points(&mut self, customer: &str) -> Result<Option<Decimal>>;

    /// Locks the account like [`LedgerTx::lock_points`] and reads, with it, the record of
    /// `transaction_id` and whether a lot is due by `now`; `None` when there is no such customer.
    /// The default asks one question at a time; a backend answers all three in one query.
    async fn account(
        &mut self,
        customer: &str,
        transaction_id: &str,
        now: i64,
    ) -> Result<Option<Account>> {
        let _ = now;
        let Some(points) = self.lock_points(customer).await? else {
            return Ok(None);
        };
        let prior = self.prior(transaction_id).await?;
        Ok(Some(Account {
            points,
            prior,
            due: true,
        }))
    }

    /// Stores the customer's points.
    async fn set_points(&mut self, customer: &str, points: Decimal) -> Result<()>;

    /// The committed record of `transaction_id`, if any.
    async fn prior(&mut self, transaction_id: &str) -> Result<Option<Prior>>;

    /// Records `transaction_id` as `record` at `at`; false when another transaction recorded it
    /// first (PostgreSQL waits on the unique index until that one committed).
    async fn claim(&mut self, transaction_id: &str, record: &Prior, at: i64) -> Result<bool>;

    /// The customer's open lots in spending order `(burns_at, entry_id)`, after `after`, only
    /// those with `burns_at <= due_by` when given, at most `limit`.
    async fn open_lots(
        &mut self,
        customer: &str,
        after: Option<(i64, i64)>,
        due_by: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Lot>>;

    /// The lot the customer's credit `transaction_id` opened.
    async fn credit_lot(&mut self, customer: &str, transaction_id: &str) -> Result<Option<Lot>>;

    /// Appends an entry; returns its id.
    async fn insert_entry(&mut self, entry: &NewEntry<'_>) -> Result<i64>;

    /// Opens a lot.
    async fn insert_lot(&mut self, lot: &NewLot<'_>) -> Result<()>;

    /// Stores a lot's `remaining`, `expired` and `reversed` (open while `remaining > 0`).
    async fn update_lot(&mut self, lot: &Lot) -> Result<()>;

    /// Enqueues a `balance` outbox item for the customer.
    async fn enqueue_balance(&mut self, customer: &str, payload: &Value, at: i64) -> Result<()>;
}

/// What a write expired before its own change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Expired {
    /// Lots expired.
    pub(crate) lots: u64,
    /// Points that stopped counting.
    pub(crate) points: Decimal,
}

/// Applies `op` to `customer` at `opts.now`. The outer error is the database's (roll back); the
/// inner result is the operation's own outcome, and the transaction is committed either way: a
/// refused operation wrote nothing of its own, only the expiries that were due anyway.
pub(crate) async fn apply<T: LedgerTx + ?Sized>(
    tx: &mut T,
    customer: &CustomerId,
    op: &LedgerOp,
    opts: WriteOpts,
) -> Result<Result<LedgerOutcome>> {
    let now = match to_ns(opts.now) {
        Ok(n) => n,
        Err(e) => return Ok(Err(e)),
    };
    let c = customer.as_str();
    let id = op.transaction_id().as_str();
    let Some(account) = tx.account(c, id, now).await? else {
        // The id may still be known (e.g. for another customer): a conflict says more.
        let prior = match op {
            LedgerOp::Reverse(_) => None,
            _ => tx.prior(id).await?,
        };
        return Ok(match prior {
            Some(p) => p.judge(customer, op),
            None => Err(Error::not_found(format!("no customer `{customer}`"))),
        });
    };
    // The stored points: what the lazy expiry takes must be saved even when the op is refused.
    let mut points = account.points;
    let before = points;
    let expired = if account.due {
        expire_due(tx, c, &mut points, now).await?
    } else {
        Expired::default()
    };
    let outcome = match (op, account.prior) {
        (LedgerOp::Reverse(r), prior) => reverse(tx, customer, r, prior, &mut points, now).await?,
        (_, Some(p)) => p.judge(customer, op),
        (_, None) => change(tx, customer, op, &mut points, now).await?,
    };
    if points != before {
        tx.set_points(c, points).await?;
    }
    let applied = outcome.as_ref().is_ok_and(|o| o.applied);
    if expired.lots > 0 || (applied && opts.echo) {
        let delta = outcome.as_ref().map_or(Decimal::ZERO, |o| o.delta);
        let payload = payload(op.kind(), Some(op), delta, expired, now);
        tx.enqueue_balance(c, &payload, now).await?;
    }
    Ok(outcome)
}

/// Expires the customer's lots that are past their time at `now` (the expiry task's step for
/// one customer): one `expiry` entry per lot and, when anything expired, one outbox item so the
/// vendor card shows the new balance. Several gateways may run this at once: the account lock
/// makes the second find nothing left to expire.
pub(crate) async fn expire_customer<T: LedgerTx + ?Sized>(
    tx: &mut T,
    customer: &str,
    now: i64,
) -> Result<Expired> {
    let Some(mut points) = tx.lock_points(customer).await? else {
        return Ok(Expired::default());
    };
    let expired = expire_due(tx, customer, &mut points, now).await?;
    if expired.lots > 0 {
        tx.set_points(customer, points).await?;
        tx.enqueue_balance(
            customer,
            &payload("expiry", None, Decimal::ZERO, expired, now),
            now,
        )
        .await?;
    }
    Ok(expired)
}

/// The points of a customer at `now` from the stored `points` and the open lots already past
/// their time (which no write has expired yet).
pub(crate) fn live_points(points: Decimal, overdue: impl IntoIterator<Item = Decimal>) -> Decimal {
    overdue
        .into_iter()
        .fold(points, |p, r| p.checked_sub(r).unwrap_or(p))
        .normalize()
}

/// Expires the customer's lots due by `now` (inclusive: at `burns_at` a lot no longer counts).
async fn expire_due<T: LedgerTx + ?Sized>(
    tx: &mut T,
    customer: &str,
    points: &mut Decimal,
    now: i64,
) -> Result<Expired> {
    let mut expired = Expired::default();
    loop {
        let lots = tx.open_lots(customer, None, Some(now), LOT_PAGE).await?;
        let full = lots.len() as i64 == LOT_PAGE;
        for mut lot in lots {
            let gone = lot.remaining;
            lot.expired += gone;
            lot.remaining = Decimal::ZERO;
            tx.update_lot(&lot).await?;
            *points = points.saturating_sub(gone);
            tx.insert_entry(&NewEntry {
                customer,
                transaction_id: lot.transaction_id.as_deref(),
                kind: EntryKind::Expiry,
                amount: -gone,
                balance_after: *points,
                at: lot.burns_at,
                expires_at: None,
            })
            .await?;
            expired.lots += 1;
            expired.points += gone;
        }
        if !full {
            return Ok(expired);
        }
    }
}

/// A credit, redemption or set-points whose transaction id is new.
async fn change<T: LedgerTx + ?Sized>(
    tx: &mut T,
    customer: &CustomerId,
    op: &LedgerOp,
    points: &mut Decimal,
    now: i64,
) -> Result<Result<LedgerOutcome>> {
    let c = customer.as_str();
    let id = op.transaction_id().as_str();
    if let LedgerOp::Redeem(r) = op
        && *points < r.amount()
    {
        return Ok(Err(insufficient(r, *points)));
    }
    let representable = match op {
        LedgerOp::Credit(credit) => points.checked_add(credit.amount()).is_some(),
        LedgerOp::Set(s) => s.points().checked_sub(*points).is_some(),
        LedgerOp::Redeem(_) | LedgerOp::Reverse(_) => true,
    };
    if !representable {
        return Ok(Err(Error::invalid_input(format!(
            "the balance {points} cannot take this change without leaving the decimal range"
        ))));
    }
    let record = Prior {
        customer: c.to_owned(),
        kind: op.kind().to_owned(),
        amount: op.requested(),
    };
    if !tx.claim(id, &record, now).await? {
        // Another transaction recorded the id first and has committed by now.
        return Ok(match tx.prior(id).await? {
            Some(p) => p.judge(customer, op),
            None => Err(Error::unexpected("processed transaction vanished")),
        });
    }
    let delta = match op {
        LedgerOp::Credit(credit) => {
            let burns_at = expiry_ns(now, credit.lifetime()).unwrap_or(NEVER);
            open(
                tx,
                c,
                id,
                EntryKind::Credit,
                credit.amount(),
                burns_at,
                points,
                now,
            )
            .await?;
            credit.amount()
        }
        LedgerOp::Redeem(r) => {
            spend(tx, c, r.amount()).await?;
            *points -= r.amount();
            entry(tx, c, id, EntryKind::Redemption, -r.amount(), *points, now).await?;
            -r.amount()
        }
        LedgerOp::Set(s) => set(tx, c, s, points, now).await?,
        LedgerOp::Reverse(_) => {
            return Ok(Err(Error::unexpected("a reversal is not a change")));
        }
    };
    Ok(Ok(LedgerOutcome {
        applied: true,
        delta,
    }))
}

fn insufficient(r: &Redemption, points: Decimal) -> Error {
    Error::new(
        ErrorKind::InsufficientPoints,
        format!(
            "cannot redeem {} points: the balance is {}",
            r.amount(),
            points.normalize()
        ),
    )
}

/// Sets the points to `s.points()`: an upward difference opens a never-expiring lot (after
/// paying any debt), a downward one is spent like a redemption.
async fn set<T: LedgerTx + ?Sized>(
    tx: &mut T,
    c: &str,
    s: &SetPoints,
    points: &mut Decimal,
    now: i64,
) -> Result<Decimal> {
    let id = s.transaction_id().as_str();
    let delta = s.points() - *points;
    if delta > Decimal::ZERO {
        open(tx, c, id, EntryKind::Adjustment, delta, NEVER, points, now).await?;
    } else if delta < Decimal::ZERO {
        spend(tx, c, -delta).await?;
        *points = s.points();
        entry(tx, c, id, EntryKind::Adjustment, delta, *points, now).await?;
    }
    Ok(delta)
}

/// Adds `amount` with an entry of `kind` and opens its lot; a negative balance (a debt left by a
/// reversal) is paid off first, and only the rest stays spendable in the lot.
#[allow(clippy::too_many_arguments)]
async fn open<T: LedgerTx + ?Sized>(
    tx: &mut T,
    c: &str,
    id: &str,
    kind: EntryKind,
    amount: Decimal,
    burns_at: i64,
    points: &mut Decimal,
    now: i64,
) -> Result<()> {
    let debt = (-*points).max(Decimal::ZERO);
    *points += amount;
    let expires_at = (burns_at != NEVER).then_some(burns_at);
    let entry_id = tx
        .insert_entry(&NewEntry {
            customer: c,
            transaction_id: Some(id),
            kind,
            amount,
            balance_after: *points,
            at: now,
            expires_at,
        })
        .await?;
    tx.insert_lot(&NewLot {
        entry_id,
        customer: c,
        transaction_id: id,
        amount,
        remaining: amount - debt.min(amount),
        burns_at,
    })
    .await
}

async fn entry<T: LedgerTx + ?Sized>(
    tx: &mut T,
    c: &str,
    id: &str,
    kind: EntryKind,
    amount: Decimal,
    balance_after: Decimal,
    now: i64,
) -> Result<i64> {
    tx.insert_entry(&NewEntry {
        customer: c,
        transaction_id: Some(id),
        kind,
        amount,
        balance_after,
        at: now,
        expires_at: None,
    })
    .await
}

/// Takes `amount` from the open lots, soonest-expiring first. The caller made sure the lots hold
/// enough (they hold the points when the points are not negative).
async fn spend<T: LedgerTx + ?Sized>(tx: &mut T, c: &str, amount: Decimal) -> Result<()> {
    let mut left = amount;
    let mut after = None;
    while left > Decimal::ZERO {
        let lots = tx.open_lots(c, after, None, LOT_PAGE).await?;
        if lots.is_empty() {
            return Err(Error::unexpected(format!(
                "the lots of customer `{c}` hold {left} points less than its balance"
            )));
        }
        for mut lot in lots {
            after = Some((lot.burns_at, lot.entry_id));
            let take = lot.remaining.min(left);
            lot.remaining -= take;
            left -= take;
            tx.update_lot(&lot).await?;
            if left.is_zero() {
                break;
            }
        }
    }
    Ok(())
}

/// Takes back the credit `r.credit()` exactly once (see [`Reversal`]).
async fn reverse<T: LedgerTx + ?Sized>(
    tx: &mut T,
    customer: &CustomerId,
    r: &Reversal,
    prior: Option<Prior>,
    points: &mut Decimal,
    now: i64,
) -> Result<Result<LedgerOutcome>> {
    let c = customer.as_str();
    let id = r.credit().as_str();
    let unknown = || Error::not_found(format!("customer `{customer}` has no credit `{id}`"));
    match prior {
        Some(p) if p.customer == c && p.kind == "credit" => {}
        Some(p) if p.customer == c => {
            return Ok(Err(Error::invalid_input(format!(
                "transaction `{id}` is a {}: only credits can be reversed",
                p.kind
            ))));
        }
        _ => return Ok(Err(unknown())),
    }
    let Some(mut lot) = tx.credit_lot(c, id).await? else {
        return Ok(Err(unknown()));
    };
    if lot.reversed {
        return Ok(Ok(LedgerOutcome::REPEAT));
    }
    // What expired of the credit is gone already; the rest comes back.
    let take = lot.amount - lot.expired;
    let Some(after) = points.checked_sub(take) else {
        return Ok(Err(Error::invalid_input(format!(
            "the balance {points} cannot take this reversal without leaving the decimal range"
        ))));
    };
    let own = lot.remaining.min(take);
    lot.remaining -= own;
    lot.reversed = true;
    tx.update_lot(&lot).await?;
    let from_others = (take - own).min((*points - own).max(Decimal::ZERO));
    if from_others > Decimal::ZERO {
        spend(tx, c, from_others).await?;
    }
    *points = after;
    entry(tx, c, id, EntryKind::Reversal, -take, *points, now).await?;
    Ok(Ok(LedgerOutcome {
        applied: true,
        delta: -take,
    }))
}

/// The outbox payload of a ledger change: what happened, for logs and the dead letters (the
/// delivery always sends the customer's whole current balance). Shared with the credit batches.
pub(crate) fn payload(
    kind: &str,
    op: Option<&LedgerOp>,
    delta: Decimal,
    expired: Expired,
    now: i64,
) -> Value {
    serde_json::json!({
        "op": kind,
        "transaction_id": op.map(LedgerOp::transaction_id),
        "delta": delta.to_string(),
        "expired_lots": expired.lots,
        "expired_points": expired.points.to_string(),
        "at": from_ns(now),
    })
}
