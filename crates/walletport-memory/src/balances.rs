//! `BalancePort`: read, absolute set, exactly-once credits with lifetimes and exactly-once
//! redemptions.

use async_trait::async_trait;
use walletport_core::{
    Balance, BalancePort, CreditBalance, CreditOutcome, Error, ErrorKind, GetBalance, Phone,
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
        self.write(|state, now| {
            let phone = state.resolve(&input.customer)?;
            let tx = credit.transaction_id();
            let same = |ledger: &Ledger| {
                let earlier = ledger.credit_record(tx);
                earlier.is_some_and(|earlier| earlier.same_as(&credit))
            };
            let other = "with a different customer, amount or lifetime, or by a redemption";
            if repeated(state, &phone, tx, same, other)? {
                return Ok(CreditOutcome {
                    balance: state.customer(&phone)?.ledger.balance(now)?,
                    applied: false,
                });
            }
            let balance = apply_new(state, phone, tx, |ledger, seq| {
                ledger.credit(&credit, seq, now)?;
                ledger.balance(now)
            })?;
            Ok(CreditOutcome {
                balance,
                applied: true,
            })
        })
    }

    /// Spends the points once per transaction id, the lots that burn soonest first and the
    /// points that never burn last. A repeat with the same customer and amount answers
    /// `applied: false` and changes nothing; a repeat that differs (or an id used by a credit)
    /// is a [`ErrorKind::Conflict`]; too few points is [`ErrorKind::InsufficientPoints`] and
    /// changes nothing (the id stays unused).
    async fn redeem(&self, input: RedeemBalance) -> Result<RedeemOutcome> {
        let redemption = input.redemption;
        self.write(|state, now| {
            let phone = state.resolve(&input.customer)?;
            let tx = redemption.transaction_id();
            let same = |ledger: &Ledger| {
                let earlier = ledger.redemption_record(tx);
                earlier.is_some_and(|earlier| earlier.same_as(&redemption))
            };
            let other = "with a different customer or amount, or by a credit";
            if repeated(state, &phone, tx, same, other)? {
                return Ok(RedeemOutcome {
                    balance: state.customer(&phone)?.ledger.balance(now)?,
                    applied: false,
                });
            }
            let balance = apply_new(state, phone, tx, |ledger, seq| {
                ledger.redeem(&redemption, seq, now)?;
                ledger.balance(now)
            })?;
            Ok(RedeemOutcome {
                balance,
                applied: true,
            })
        })
    }
}

/// Runs `apply` on the ledger of `phone` with the next sequence number, then records `tx` as
/// theirs; what `apply` answers (the balance right after).
fn apply_new(
    state: &mut State,
    phone: Phone,
    tx: &TransactionId,
    apply: impl FnOnce(&mut Ledger, u64) -> Result<Balance>,
) -> Result<Balance> {
    let seq = state.seq();
    let balance = apply(&mut state.customer_mut(&phone)?.ledger, seq)?;
    state.transactions.insert(tx.clone(), phone);
    Ok(balance)
}

/// Whether transaction `tx` of `phone` was applied before: `true` for a repeat of the same
/// request (`same` finds it in the customer's ledger), `false` for an id never used, and a
/// [`ErrorKind::Conflict`] naming the `other` use for an id used otherwise (transaction ids are
/// one namespace for credits and redemptions).
fn repeated(
    state: &State,
    phone: &Phone,
    tx: &TransactionId,
    same: impl FnOnce(&Ledger) -> bool,
    other: &str,
) -> Result<bool> {
    let Some(owner) = state.transactions.get(tx) else {
        return Ok(false);
    };
    if owner == phone && same(&state.customer(owner)?.ledger) {
        return Ok(true);
    }
    Err(Error::new(
        ErrorKind::Conflict,
        format!("transaction {tx} was already used {other}"),
    ))
}
