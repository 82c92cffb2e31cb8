//! Balances: exact set and get, not found, exactly-once credits, conflicts, lifetimes, and
//! exactly-once redemptions that never overdraw.

use std::time::Duration;

use futures::future::BoxFuture;
use rust_decimal::Decimal;
use walletport_core::{
    Balance, BalanceUpdate, Credit, CreditBalance, CreditOutcome, ErrorKind, GetBalance, Percent,
    Phone, Provider, RedeemBalance, RedeemOutcome, Redemption, SetBalance, TransactionId, op,
};

use super::expect_error;
use crate::report::{CheckError, CheckResult, Context};
use crate::suite::Suite;

/// What the redemption checks need: customers funded by a credit, and the balance read back.
const REDEEM_FLAGS: &[&str] = &[
    "customer_upsert",
    "balance_credit",
    "balance_redeem",
    "balance_get",
];

async fn balance(provider: &dyn Provider, phone: &Phone) -> walletport_core::Result<Balance> {
    provider
        .balances()
        .get_balance(GetBalance {
            customer: phone.clone().into(),
        })
        .await
}

/// Fails unless the customer's points read `expected`.
async fn points_read(provider: &dyn Provider, phone: &Phone, expected: Decimal) -> CheckResult {
    let got = balance(provider, phone).await.context("get balance")?;
    ensure!(
        got.points == expected,
        "the balance reads {}, expected {expected}",
        got.points
    );
    Ok(())
}

/// The balances of two customers, read around writes that must change neither.
async fn both(provider: &dyn Provider, a: &Phone, b: &Phone) -> Result<[Balance; 2], CheckError> {
    Ok([
        balance(provider, a).await.context("get a")?,
        balance(provider, b).await.context("get b")?,
    ])
}

/// Each of `calls` (a case and its call) answers `Conflict` for `operation`, and neither
/// customer's balance changes; `what` names the calls (credit, redemption) in the failure.
async fn conflicts_change_nothing<T: std::fmt::Debug>(
    provider: &dyn Provider,
    suite: &Suite,
    [a, b]: [&Phone; 2],
    (what, operation): (&str, &str),
    calls: Vec<(&str, BoxFuture<'_, walletport_core::Result<T>>)>,
) -> CheckResult {
    let before = both(provider, a, b).await?;
    for (case, call) in calls {
        expect_error(suite, call.await, ErrorKind::Conflict, operation, case)?;
    }
    let after = both(provider, a, b).await?;
    for (name, before, after) in [("A", before[0], after[0]), ("B", before[1], after[1])] {
        ensure!(
            after == before,
            "a conflicting {what} changed {name}: {before:?} -> {after:?}"
        );
    }
    Ok(())
}

/// What a credit and a redemption both answer.
trait Applied {
    /// False for a repeat of a transaction id already applied.
    fn applied(&self) -> bool;
    /// The points after it.
    fn points(&self) -> Decimal;
}

impl Applied for CreditOutcome {
    fn applied(&self) -> bool {
        self.applied
    }
    fn points(&self) -> Decimal {
        self.balance.points
    }
}

impl Applied for RedeemOutcome {
    fn applied(&self) -> bool {
        self.applied
    }
    fn points(&self) -> Decimal {
        self.balance.points
    }
}

/// `call` (a credit or a redemption, `what`) applies once and takes the points to `expected`;
/// `repeats` more calls under the same transaction id answer `applied: false` and change nothing.
async fn applies_once<'a, T: Applied>(
    provider: &dyn Provider,
    phone: &Phone,
    what: &str,
    expected: Decimal,
    repeats: u32,
    call: impl Fn() -> BoxFuture<'a, walletport_core::Result<T>>,
) -> CheckResult {
    let first = call().await.context(&format!("first {what}"))?;
    ensure!(first.applied(), "the first {what} says applied = false");
    ensure!(
        first.points() == expected,
        "after the {what} the points are {}, expected {expected}",
        first.points()
    );
    for attempt in 2..=repeats + 1 {
        let again = call().await.context(&format!("repeated {what}"))?;
        ensure!(
            !again.applied(),
            "repeat #{attempt} of the same {what} says applied = true"
        );
        ensure!(
            again.points() == expected,
            "repeat #{attempt} changed the points to {}",
            again.points()
        );
    }
    points_read(provider, phone, expected).await
}

/// Points before a credit check: zero when the provider can set it, else whatever it holds.
async fn starting_points(
    provider: &dyn Provider,
    suite: &Suite,
    phone: &Phone,
) -> Result<Decimal, CheckError> {
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
                return Err(CheckError::Failed(format!(
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
    let input = credit_of(&phone, amount, suite.transaction("credit"), None)?;
    applies_once(provider, &phone, "credit", start + amount, 2, || {
        provider.balances().credit(input.clone())
    })
    .await
}

/// Reusing a transaction id with another amount or for another customer is a `Conflict` that
/// changes no balance.
pub async fn credit_conflict(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["customer_upsert", "balance_credit", "balance_get"])?;
    let a = suite.new_customer(provider, |_| {}).await?.customer.phone;
    let b = suite.new_customer(provider, |_| {}).await?.customer.phone;
    let tx = suite.transaction("conflict");
    let ten = Decimal::new(10, 0);
    credit_now(provider, &a, ten, tx.clone(), "first credit").await?;
    let credit = |input| provider.balances().credit(input);
    let calls = vec![
        (
            "same id, other amount",
            credit(credit_of(&a, Decimal::new(11, 0), tx.clone(), None)?),
        ),
        (
            "same id, other customer",
            credit(credit_of(&b, ten, tx, None)?),
        ),
    ];
    let what = ("credit", op::BALANCE_CREDIT);
    conflicts_change_nothing(provider, suite, [&a, &b], what, calls).await
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
    let lifetime = Some(Duration::from_secs(30 * 86_400));
    let input = credit_of(&phone, amount, suite.transaction("lifetime"), lifetime)?;
    applies_once(provider, &phone, "credit", start + amount, 1, || {
        provider.balances().credit(input.clone())
    })
    .await
}

/// Gives a new customer `amount` points by a credit under a fresh transaction id and returns
/// their points after it.
async fn funded_customer(
    provider: &dyn Provider,
    suite: &Suite,
    amount: Decimal,
) -> Result<(Phone, Decimal), CheckError> {
    let phone = suite.new_customer(provider, |_| {}).await?.customer.phone;
    let start = starting_points(provider, suite, &phone).await?;
    let tx = suite.transaction("fund");
    let funded = credit_now(provider, &phone, amount, tx, "credit points to redeem").await?;
    ensure!(
        funded.balance.points == start + amount,
        "after crediting {amount} the points are {}, expected {}",
        funded.balance.points,
        start + amount
    );
    Ok((phone, funded.balance.points))
}

/// A credit of `amount` to `phone` under `tx`.
fn credit_of(
    phone: &Phone,
    amount: Decimal,
    tx: TransactionId,
    lifetime: Option<Duration>,
) -> Result<CreditBalance, CheckError> {
    Ok(CreditBalance {
        customer: phone.clone().into(),
        credit: Credit::new(amount, tx, lifetime)?,
    })
}

/// Credits `amount` (no lifetime) to `phone` under `tx`, failing the check on an error; `what`
/// names the step in the failure.
async fn credit_now(
    provider: &dyn Provider,
    phone: &Phone,
    amount: Decimal,
    tx: TransactionId,
    what: &str,
) -> Result<CreditOutcome, CheckError> {
    let input = credit_of(phone, amount, tx, None)?;
    provider.balances().credit(input).await.context(what)
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
    suite.require(REDEEM_FLAGS)?;
    let (phone, start) = funded_customer(provider, suite, Decimal::new(30, 0)).await?;
    let amount = Decimal::new(1250, 2);
    let input = redemption(&phone, amount, suite.transaction("redeem"));
    applies_once(provider, &phone, "redemption", start - amount, 2, || {
        provider.balances().redeem(input.clone())
    })
    .await
}

/// Reusing a redemption's transaction id with another amount or for another customer, or
/// redeeming under a credit's transaction id, is a `Conflict` that changes no balance.
pub async fn redeem_conflict(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(REDEEM_FLAGS)?;
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
    credit_now(provider, &a, ten, credit_tx.clone(), "credit").await?;
    let redeem = |input| provider.balances().redeem(input);
    let calls = vec![
        (
            "same id, other amount",
            redeem(redemption(&a, Decimal::new(11, 0), tx.clone())),
        ),
        ("same id, other customer", redeem(redemption(&b, ten, tx))),
        ("the id of a credit", redeem(redemption(&a, ten, credit_tx))),
    ];
    let what = ("redemption", op::BALANCE_REDEEM);
    conflicts_change_nothing(provider, suite, [&a, &b], what, calls).await
}

/// Redeeming more than the customer holds is `InsufficientPoints` and changes nothing; the
/// refused transaction id is not used up, and redeeming exactly what is held succeeds and
/// leaves zero.
pub async fn redeem_insufficient_points(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(REDEEM_FLAGS)?;
    let (phone, held) = funded_customer(provider, suite, Decimal::new(20, 0)).await?;
    let tx = suite.transaction("redeem-too-much");
    let too_much = redemption(&phone, held + Decimal::new(1, 2), tx.clone());
    let case = "a redemption of more than the customer holds";
    refused(provider, suite, too_much, case).await?;
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
    let one = redemption(
        &phone,
        Decimal::new(1, 0),
        suite.transaction("redeem-empty"),
    );
    refused(provider, suite, one, "a redemption from an empty balance").await
}

/// `input` is refused with `InsufficientPoints`; `case` names it in the failure.
async fn refused(
    provider: &dyn Provider,
    suite: &Suite,
    input: RedeemBalance,
    case: &str,
) -> CheckResult {
    let result = provider.balances().redeem(input).await;
    expect_error(
        suite,
        result,
        ErrorKind::InsufficientPoints,
        op::BALANCE_REDEEM,
        case,
    )
}
