//! `BalancePort`: read, absolute set, exactly-once credits with lifetimes and exactly-once
//! redemptions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use walletport_core::{
    Balance, BalancePort, CreditBalance, CreditOutcome, CustomerKey, Error, ErrorKind, GetBalance,
    RedeemBalance, RedeemOutcome, Result, SetBalance, TransactionId,
};

use crate::MemoryProvider;
use crate::ledger::Ledger;
use crate::state::State;

#[async_trait]
impl BalancePort for MemoryProvider {
    async fn get_balance(&self, input: GetBalance) -> Result<Balance> {
        self.read(|state, now| {
            let phone = state.resolve(&input.customer)?;
            state.customer(&phone)?.ledger.balance(now)
        })
    }

    /// Setting points makes them the new absolute value: credits made before are settled into
    /// it and no longer burn.
    async fn set_balance(&self, input: SetBalance) -> Result<Balance> {
        if input.update.is_empty() {
            return Err(Error::invalid_input("nothing to set"));
        }
        Ledger::check_update(&input.update)?;
        self.write(|state, now| {
            let phone = state.resolve(&input.customer)?;
            state.apply_balance(&phone, &input.update)?;
            state.customer(&phone)?.ledger.balance(now)
        })
    }

    /// Applies the credit once per transaction id. A repeat with the same customer, amount and
    /// lifetime answers `applied: false` and changes nothing; a repeat that differs (or an id
    /// used by a redemption) is a [`ErrorKind::Conflict`].
    async fn credit(&self, input: CreditBalance) -> Result<CreditOutcome> {
        let credit = input.credit;
        let tx = credit.transaction_id();
        self.write(|state, now| {
            let (balance, applied) = apply_once(
                state,
                &input.customer,
                tx,
                |ledger| ledger.credit_record(tx).is_some_and(|e| e.same_as(&credit)),
                "with a different customer, amount or lifetime, or by a redemption",
                |ledger, seq| ledger.credit(&credit, seq, now),
                now,
            )?;
            Ok(CreditOutcome { balance, applied })
        })
    }

    /// Spends the points once per transaction id, the lots that burn soonest first and the
    /// points that never burn last. A repeat with the same customer and amount answers
    /// `applied: false` and changes nothing; a repeat that differs (or an id used by a credit)
    /// is a [`ErrorKind::Conflict`]; too few points is [`ErrorKind::InsufficientPoints`] and
    /// changes nothing (the id stays unused).
    async fn redeem(&self, input: RedeemBalance) -> Result<RedeemOutcome> {
        let redemption = input.redemption;
        let tx = redemption.transaction_id();
        self.write(|state, now| {
            let (balance, applied) = apply_once(
                state,
                &input.customer,
                tx,
                |ledger| {
                    ledger
                        .redemption_record(tx)
                        .is_some_and(|e| e.same_as(&redemption))
                },
                "with a different customer or amount, or by a credit",
                |ledger, seq| ledger.redeem(&redemption, seq, now),
                now,
            )?;
            Ok(RedeemOutcome { balance, applied })
        })
    }
}

/// The exactly-once frame of credits and redemptions (transaction ids are one namespace for
/// both). A new `tx` runs `apply` on the customer's ledger with the next sequence number and is
/// recorded as theirs; a repeat of the same request (`same` finds it in the customer's ledger)
/// changes nothing; an id used otherwise is a [`ErrorKind::Conflict`] naming the `other` use.
/// Answers the balance at `now` after it, and whether `apply` ran.
fn apply_once(
    state: &mut State,
    customer: &CustomerKey,
    tx: &TransactionId,
    same: impl FnOnce(&Ledger) -> bool,
    other: &str,
    apply: impl FnOnce(&mut Ledger, u64) -> Result<()>,
    now: DateTime<Utc>,
) -> Result<(Balance, bool)> {
    let phone = state.resolve(customer)?;
    if let Some(owner) = state.transactions.get(tx) {
        if *owner == phone && same(&state.customer(owner)?.ledger) {
            return Ok((state.customer(&phone)?.ledger.balance(now)?, false));
        }
        return Err(Error::new(
            ErrorKind::Conflict,
            format!("transaction {tx} was already used {other}"),
        ));
    }
    let seq = state.seq();
    let ledger = &mut state.customer_mut(&phone)?.ledger;
    apply(ledger, seq)?;
    let balance = ledger.balance(now)?;
    state.transactions.insert(tx.clone(), phone);
    Ok((balance, true))
}
