//! Balances: exact set and get, not found, exactly-once credits, conflicts, lifetimes, and
//! exactly-once redemptions that never overdraw.

use std::time::Duration;

use rust_decimal::Decimal;
use walletport_core::{
    Balance, BalanceUpdate, Credit, CreditBalance, ErrorKind, GetBalance, Percent, Phone, Provider,
    RedeemBalance, Redemption, SetBalance, TransactionId, op,
};

use super::expect_error;
use crate::report::{CheckResult, Context};
use crate::suite::Suite;

async fn balance(provider: &dyn Provider, phone: &Phone) -> walletport_core::Result<Balance> {
    provider
        .balances()
        .get_balance(GetBalance {
            customer: phone.clone().into(),
        })
        .await
}

/// Points before a credit check: zero when the provider can set it, else whatever it holds.
async fn starting_points(
    provider: &dyn Provider,
    suite: &Suite,
    phone: &Phone,
) -> Result<Decimal, crate::CheckError> {
    if suite.has("balance_set") {
        provider
            .balances()
            .set_balance(SetBalance {
                customer: phone.clone().into(),
                update: BalanceUpdate {
                    points: Some(Decimal::ZERO),
                    ..Default::default()
                },
            })
            .await
            .context("set points to zero")?;
    }
    Ok(balance(provider, phone)
        .await
        .context("get balance")?
        .points)
}

/// The balance values the provider holds ([`Provider::balance_fields`]) are stored and read back
/// exactly (150.25 stays 150.25); setting a value it does not hold is an `Unsupported` or
/// `InvalidInput` error, never silently dropped.
pub async fn balance_set_and_get(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["customer_upsert", "balance_set", "balance_get"])?;
    let phone = suite.new_customer(provider, |_| {}).await?.customer.phone;
    let full = Balance {
        points: Decimal::new(15025, 2),
        bonus_percent: Percent::new(Decimal::new(5, 0))?,
        discount_percent: Percent::new(Decimal::new(125, 1))?,
    };
    let (update, not_held) = provider.balance_fields().reduce(full.into());
    ensure!(
        !update.is_empty(),
        "the provider holds no balance value but has balance_set"
    );
    let set = provider
        .balances()
        .set_balance(SetBalance {
            customer: phone.clone().into(),
            update,
        })
        .await
        .context("set balance")?;
    let got = balance(provider, &phone).await.context("get balance")?;
    for (name, answer) in [("set", set), ("get", got)] {
        let (held, _) = provider.balance_fields().reduce(answer.into());
        ensure!(
            held == update,
            "{name} returned {answer:?}, expected the held values of {full:?}"
        );
    }
    if update.points.is_some() {
        ensure!(
            got.points.to_string() == "150.25",
            "points print as {}",
            got.points
        );
    }
    for field in not_held {
        let mut only = BalanceUpdate::default();
        match field {
            "points" => only.points = Some(full.points),
            "bonus_percent" => only.bonus_percent = Some(full.bonus_percent),
            _ => only.discount_percent = Some(full.discount_percent),
        }
        let result = provider
            .balances()
            .set_balance(SetBalance {
                customer: phone.clone().into(),
                update: only,
            })
            .await;
        match result {
            Err(e) if matches!(e.kind(), ErrorKind::Unsupported | ErrorKind::InvalidInput) => {}
            other => {
                return Err(crate::CheckError::Failed(format!(
                    "setting {field}, which the provider does not hold, answered {other:?}"
                )));
            }
        }
    }
    Ok(())
}

/// The balance of a customer that does not exist is `NotFound`.
pub async fn balance_not_found(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["balance_get"])?;
    let result = balance(provider, &suite.phone()).await;
    expect_error(
        suite,
        result,
        ErrorKind::NotFound,
        op::BALANCE_GET,
        "balance of an unknown phone",
    )
}

/// A credit applies once; the same transaction id again answers `applied: false` and changes
/// nothing.
pub async fn credit_exactly_once(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["customer_upsert", "balance_credit", "balance_get"])?;
    let phone = suite.new_customer(provider, |_| {}).await?.customer.phone;
    let start = starting_points(provider, suite, &phone).await?;
    let amount = Decimal::new(1050, 2);
    let credit = Credit::new(amount, suite.transaction("credit"), None)?;
    let input = CreditBalance {
        customer: phone.clone().into(),
        credit,
    };
    let first = provider
        .balances()
        .credit(input.clone())
        .await
        .context("first credit")?;
    ensure!(first.applied, "the first credit says applied = false");
    ensure!(
        first.balance.points == start + amount,
        "after the credit the points are {}, expected {}",
        first.balance.points,
        start + amount
    );
    for attempt in 2..=3 {
        let again = provider
            .balances()
            .credit(input.clone())
            .await
            .context("repeated credit")?;
        ensure!(
            !again.applied,
            "repeat #{attempt} of the same transaction says applied = true"
        );
        ensure!(
            again.balance.points == start + amount,
            "repeat #{attempt} changed the points to {}",
            again.balance.points
        );
    }
    let got = balance(provider, &phone).await.context("get balance")?;
    ensure!(
        got.points == start + amount,
        "the balance reads {}, expected {}",
        got.points,
        start + amount
    );
    Ok(())
}

/// Reusing a transaction id with another amount or for another customer is a `Conflict` that
/// changes no balance.
pub async fn credit_conflict(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["customer_upsert", "balance_credit", "balance_get"])?;
    let a = suite.new_customer(provider, |_| {}).await?.customer.phone;
    let b = suite.new_customer(provider, |_| {}).await?.customer.phone;
    let tx = suite.transaction("conflict");
    let ten = Decimal::new(10, 0);
    provider
        .balances()
        .credit(CreditBalance {
            customer: a.clone().into(),
            credit: Credit::new(ten, tx.clone(), None)?,
        })
        .await
        .context("first credit")?;
    let (before_a, before_b) = (
        balance(provider, &a).await.context("get a")?,
        balance(provider, &b).await.context("get b")?,
    );
    let other_amount = CreditBalance {
        customer: a.clone().into(),
        credit: Credit::new(Decimal::new(11, 0), tx.clone(), None)?,
    };
    let result = provider.balances().credit(other_amount).await;
    expect_error(
        suite,
        result,
        ErrorKind::Conflict,
        op::BALANCE_CREDIT,
        "same id, other amount",
    )?;
    let other_customer = CreditBalance {
        customer: b.clone().into(),
        credit: Credit::new(ten, tx, None)?,
    };
    let result = provider.balances().credit(other_customer).await;
    expect_error(
        suite,
        result,
        ErrorKind::Conflict,
        op::BALANCE_CREDIT,
        "same id, other customer",
    )?;
    let (after_a, after_b) = (
        balance(provider, &a).await.context("get a")?,
        balance(provider, &b).await.context("get b")?,
    );
    ensure!(
        after_a == before_a,
        "a conflicting credit changed A: {before_a:?} -> {after_a:?}"
    );
    ensure!(
        after_b == before_b,
        "a conflicting credit changed B: {before_b:?} -> {after_b:?}"
    );
    Ok(())
}

/// A credit with a lifetime counts until it burns (burning itself is time-dependent and is
/// tested by providers that expose a clock) and is exactly-once as well.
pub async fn credit_with_lifetime(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&[
        "customer_upsert",
        "balance_credit",
        "balance_credit_lifetime",
        "balance_get",
    ])?;
    let phone = suite.new_customer(provider, |_| {}).await?.customer.phone;
    let start = starting_points(provider, suite, &phone).await?;
    let amount = Decimal::new(7, 0);
    let credit = Credit::new(
        amount,
        suite.transaction("lifetime"),
        Some(Duration::from_secs(30 * 86_400)),
    )?;
    let input = CreditBalance {
        customer: phone.clone().into(),
        credit,
    };
    let first = provider
        .balances()
        .credit(input.clone())
        .await
        .context("credit with lifetime")?;
    ensure!(first.applied, "the credit says applied = false");
    let again = provider
        .balances()
        .credit(input)
        .await
        .context("repeated credit")?;
    ensure!(!again.applied, "the repeat says applied = true");
    let got = balance(provider, &phone).await.context("get balance")?;
    ensure!(
        got.points == start + amount,
        "the balance reads {}, expected {}",
        got.points,
        start + amount
    );
    Ok(())
}

/// Gives a new customer `amount` points by a credit under a fresh transaction id and returns
/// their points after it.
async fn funded_customer(
    provider: &dyn Provider,
    suite: &Suite,
    amount: Decimal,
) -> Result<(Phone, Decimal), crate::CheckError> {
    let phone = suite.new_customer(provider, |_| {}).await?.customer.phone;
    let start = starting_points(provider, suite, &phone).await?;
    let credit = Credit::new(amount, suite.transaction("fund"), None)?;
    let funded = provider
        .balances()
        .credit(CreditBalance {
            customer: phone.clone().into(),
            credit,
        })
        .await
        .context("credit points to redeem")?;
    ensure!(
        funded.balance.points == start + amount,
        "after crediting {amount} the points are {}, expected {}",
        funded.balance.points,
        start + amount
    );
    Ok((phone, funded.balance.points))
}

fn redemption(phone: &Phone, amount: Decimal, tx: TransactionId) -> RedeemBalance {
    RedeemBalance {
        customer: phone.clone().into(),
        redemption: Redemption::new(amount, tx).expect("a positive amount within the bounds"),
    }
}

/// A redemption takes its amount off once; the same transaction id again answers
/// `applied: false` and changes nothing.
///
/// Which points a redemption spends (soonest-burning first, never-burning last) shows only as
/// time passes, so providers with a controllable clock test it themselves.
pub async fn redeem_exactly_once(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&[
        "customer_upsert",
        "balance_credit",
        "balance_redeem",
        "balance_get",
    ])?;
    let (phone, start) = funded_customer(provider, suite, Decimal::new(30, 0)).await?;
    let amount = Decimal::new(1250, 2);
    let input = redemption(&phone, amount, suite.transaction("redeem"));
    let first = provider
        .balances()
        .redeem(input.clone())
        .await
        .context("first redemption")?;
    ensure!(first.applied, "the first redemption says applied = false");
    ensure!(
        first.balance.points == start - amount,
        "after the redemption the points are {}, expected {}",
        first.balance.points,
        start - amount
    );
    for attempt in 2..=3 {
        let again = provider
            .balances()
            .redeem(input.clone())
            .await
            .context("repeated redemption")?;
        ensure!(
            !again.applied,
            "repeat #{attempt} of the same redemption says applied = true"
        );
        ensure!(
            again.balance.points == start - amount,
            "repeat #{attempt} changed the points to {}",
            again.balance.points
        );
    }
    let got = balance(provider, &phone).await.context("get balance")?;
    ensure!(
        got.points == start - amount,
        "the balance reads {}, expected {}",
        got.points,
        start - amount
    );
    Ok(())
}

/// Reusing a redemption's transaction id with another amount or for another customer, or
/// redeeming under a credit's transaction id, is a `Conflict` that changes no balance.
pub async fn redeem_conflict(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&[
        "customer_upsert",
        "balance_credit",
        "balance_redeem",
        "balance_get",
    ])?;
    let ten = Decimal::new(10, 0);
    let (a, _) = funded_customer(provider, suite, Decimal::new(50, 0)).await?;
    let (b, _) = funded_customer(provider, suite, Decimal::new(50, 0)).await?;
    let tx = suite.transaction("redeem-conflict");
    provider
        .balances()
        .redeem(redemption(&a, ten, tx.clone()))
        .await
        .context("first redemption")?;
    let credit_tx = suite.transaction("credit-then-redeem");
    provider
        .balances()
        .credit(CreditBalance {
            customer: a.clone().into(),
            credit: Credit::new(ten, credit_tx.clone(), None)?,
        })
        .await
        .context("credit")?;
    let (before_a, before_b) = (
        balance(provider, &a).await.context("get a")?,
        balance(provider, &b).await.context("get b")?,
    );
    for (input, what) in [
        (
            redemption(&a, Decimal::new(11, 0), tx.clone()),
            "same id, other amount",
        ),
        (redemption(&b, ten, tx), "same id, other customer"),
        (redemption(&a, ten, credit_tx), "the id of a credit"),
    ] {
        let result = provider.balances().redeem(input).await;
        expect_error(suite, result, ErrorKind::Conflict, op::BALANCE_REDEEM, what)?;
    }
    let (after_a, after_b) = (
        balance(provider, &a).await.context("get a")?,
        balance(provider, &b).await.context("get b")?,
    );
    ensure!(
        after_a == before_a,
        "a conflicting redemption changed A: {before_a:?} -> {after_a:?}"
    );
    ensure!(
        after_b == before_b,
        "a conflicting redemption changed B: {before_b:?} -> {after_b:?}"
    );
    Ok(())
}

/// Redeeming more than the customer holds is `InsufficientPoints` and changes nothing; the
/// refused transaction id is not used up, and redeeming exactly what is held succeeds and
/// leaves zero.
pub async fn redeem_insufficient_points(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&[
        "customer_upsert",
        "balance_credit",
        "balance_redeem",
        "balance_get",
    ])?;
    let (phone, held) = funded_customer(provider, suite, Decimal::new(20, 0)).await?;
    let tx = suite.transaction("redeem-too-much");
    let result = provider
        .balances()
        .redeem(redemption(&phone, held + Decimal::new(1, 2), tx.clone()))
        .await;
    expect_error(
        suite,
        result,
        ErrorKind::InsufficientPoints,
        op::BALANCE_REDEEM,
        "a redemption of more than the customer holds",
    )?;
    let got = balance(provider, &phone).await.context("get balance")?;
    ensure!(
        got.points == held,
        "a refused redemption changed the points from {held} to {}",
        got.points
    );
    let all = provider
        .balances()
        .redeem(redemption(&phone, held, tx))
        .await
        .context("redeem everything under the refused id")?;
    ensure!(
        all.applied && all.balance.points.is_zero(),
        "redeeming all {held} points answered {all:?}, expected applied with 0 left"
    );
    let result = provider
        .balances()
        .redeem(redemption(
            &phone,
            Decimal::new(1, 0),
            suite.transaction("redeem-empty"),
        ))
        .await;
    expect_error(
        suite,
        result,
        ErrorKind::InsufficientPoints,
        op::BALANCE_REDEEM,
        "a redemption from an empty balance",
    )?;
    Ok(())
}
