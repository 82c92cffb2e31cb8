//! `BalancePort`: read, absolute set, exactly-once credits with lifetimes and exactly-once
//! redemptions.

use async_trait::async_trait;
use walletport_core::{
    Balance, BalancePort, CreditBalance, CreditOutcome, Error, ErrorKind, GetBalance,
    RedeemBalance, RedeemOutcome, Result, SetBalance,
};

use crate::MemoryProvider;
use crate::ledger::Ledger;

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
            if let Some(owner) = state.transactions.get(tx) {
                let same = owner == &phone
                    && state
                        .customer(owner)?
                        .ledger
                        .credit_record(tx)
                        .is_some_and(|earlier| earlier.same_as(&credit));
                if !same {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!(
                            "transaction {tx} was already used with a different customer, \
                             amount or lifetime, or by a redemption"
                        ),
                    ));
                }
                return Ok(CreditOutcome {
                    balance: state.customer(&phone)?.ledger.balance(now)?,
                    applied: false,
                });
            }
            let seq = state.seq();
            let ledger = &mut state.customer_mut(&phone)?.ledger;
            ledger.credit(&credit, seq, now)?;
            let balance = ledger.balance(now)?;
            state.transactions.insert(tx.clone(), phone);
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
            if let Some(owner) = state.transactions.get(tx) {
                let same = owner == &phone
                    && state
                        .customer(owner)?
                        .ledger
                        .redemption_record(tx)
                        .is_some_and(|earlier| earlier.same_as(&redemption));
                if !same {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!(
                            "transaction {tx} was already used with a different customer or \
                             amount, or by a credit"
                        ),
                    ));
                }
                return Ok(RedeemOutcome {
                    balance: state.customer(&phone)?.ledger.balance(now)?,
                    applied: false,
                });
            }
            let seq = state.seq();
            let ledger = &mut state.customer_mut(&phone)?.ledger;
            ledger.redeem(&redemption, seq, now)?;
            let balance = ledger.balance(now)?;
            state.transactions.insert(tx.clone(), phone);
            Ok(RedeemOutcome {
                balance,
                applied: true,
            })
        })
    }
}
