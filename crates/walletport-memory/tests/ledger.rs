//! Balances: exactly-once under concurrency, burning exactly on time, exact sums, redemptions
//! (soonest-burning points first, never overdrawn), and a model-based test of the whole ledger.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use walletport_core::{
    BalanceUpdate, Checked, Credit, CreditBalance, CreditOutcome, Customer, ErrorKind, Phone,
    Provider, ProviderExt, RedeemBalance, RedeemOutcome, Redemption, SetBalance, TransactionId,
    UpsertCustomer, op,
};
use walletport_memory::{ManualClock, MemoryConfig, MemoryProvider};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

fn phone() -> Phone {
    Phone::parse("+420000000001").unwrap()
}

/// A provider on a manual clock at [`start`], with the customer of [`phone`].
async fn provider_with_clock() -> (Arc<dyn Provider>, Arc<ManualClock>) {
    let (memory, clock) = memory_with_clock();
    let provider = Checked::wrap(memory);
    add_customer(&*provider).await;
    (provider, clock)
}

/// An empty in-memory provider on a manual clock at [`start`], for tests that snapshot it.
fn memory_with_clock() -> (Arc<MemoryProvider>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(start()));
    let memory = MemoryProvider::open(&MemoryConfig::default())
        .unwrap()
        .with_clock(clock.clone());
    (Arc::new(memory), clock)
}

/// Adds the customer of [`phone`], whose balance every test moves.
async fn add_customer(provider: &dyn Provider) {
    provider
        .customers()
        .upsert_customer(UpsertCustomer::new(Customer::new(phone())))
        .await
        .unwrap();
}

fn credit(amount: Decimal, tx: &str, lifetime: Option<Duration>) -> CreditBalance {
    CreditBalance {
        customer: phone().into(),
        credit: Credit::new(amount, TransactionId::new(tx).unwrap(), lifetime).unwrap(),
    }
}

async fn points(provider: &dyn Provider) -> Decimal {
    provider.balance_of(&phone()).await.unwrap().points
}

/// Starts `op(provider, i)` for every `i` in `0..n` on its own task, all before awaiting any, so
/// they race; their results in `i` order.
async fn race<T, F, Fut>(
    provider: &Arc<dyn Provider>,
    n: usize,
    op: F,
) -> Vec<walletport_core::Result<T>>
where
    F: Fn(Arc<dyn Provider>, usize) -> Fut,
    Fut: Future<Output = walletport_core::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(op(provider.clone(), i)))
        .collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_transaction_id_credits_once_under_concurrency() {
    let (provider, _) = provider_with_clock().await;
    let outcomes = race(&provider, 64, |provider, _| async move {
        provider
            .balances()
            .credit(credit(dec!(2.5), "same", None))
            .await
    })
    .await;
    let mut applied = 0;
    for outcome in outcomes {
        let outcome = outcome.unwrap();
        applied += usize::from(outcome.applied);
        assert_eq!(outcome.balance.points, dec!(2.5));
    }
    assert_eq!(applied, 1);
    assert_eq!(points(provider.as_ref()).await, dec!(2.5));
}

#[tokio::test]
async fn a_credit_burns_exactly_at_its_end_of_life() {
    let (provider, clock) = provider_with_clock().await;
    let life = Duration::from_secs(3600);
    credit_ok(&*provider, dec!(10), "short", Some(life)).await;
    credit_ok(&*provider, dec!(1.5), "forever", None).await;
    assert_eq!(points(provider.as_ref()).await, dec!(11.5));

    let burns_at = start() + TimeDelta::hours(1);
    clock.set(burns_at - TimeDelta::nanoseconds(1));
    assert_eq!(points(provider.as_ref()).await, dec!(11.5), "burned early");
    clock.set(burns_at);
    assert_eq!(
        points(provider.as_ref()).await,
        dec!(1.5),
        "not burned at the instant"
    );
    clock.advance(TimeDelta::days(400));
    assert_eq!(points(provider.as_ref()).await, dec!(1.5));

    // A burned credit is still remembered: repeating it does not credit it again.
    let again = credit_ok(&*provider, dec!(10), "short", Some(life)).await;
    assert!(!again.applied);
    assert_eq!(again.balance.points, dec!(1.5));
}

#[tokio::test]
async fn setting_points_is_absolute_and_settles_earlier_credits() {
    let (provider, clock) = provider_with_clock().await;
    credit_ok(
        &*provider,
        dec!(10),
        "before",
        Some(Duration::from_secs(60)),
    )
    .await;
    let set = SetBalance {
        customer: phone().into(),
        update: BalanceUpdate {
            points: Some(dec!(100)),
            ..Default::default()
        },
    };
    assert_eq!(
        provider.balances().set_balance(set).await.unwrap().points,
        dec!(100)
    );
    credit_ok(&*provider, dec!(5), "after", Some(Duration::from_secs(120))).await;
    assert_eq!(points(provider.as_ref()).await, dec!(105));
    // The settled credit no longer burns; the later one still does.
    clock.advance(TimeDelta::seconds(60));
    assert_eq!(points(provider.as_ref()).await, dec!(105));
    clock.advance(TimeDelta::seconds(60));
    assert_eq!(points(provider.as_ref()).await, dec!(100));
}

#[tokio::test]
async fn conflicting_repeats_change_nothing() {
    let (provider, _) = provider_with_clock().await;
    credit_ok(&*provider, dec!(3), "t", None).await;
    for conflicting in [
        credit(dec!(4), "t", None),
        credit(dec!(3), "t", Some(Duration::from_secs(5))),
    ] {
        let err = provider.balances().credit(conflicting).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    }
    // 3.00 is the same amount as 3: a repeat, not a conflict.
    assert!(!credit_ok(&*provider, dec!(3.00), "t", None).await.applied);
    assert_eq!(points(provider.as_ref()).await, dec!(3));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any sequence of credits (with repeats of earlier transaction ids) sums exactly to the
    /// sum of the distinct credits.
    #[test]
    fn any_sequence_of_credits_sums_exactly(
        ops in prop::collection::vec((1i64..=10_000_000_000i64, 0u32..=4, 0usize..40), 1..40)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let (provider, _) = provider_with_clock().await;
            let mut expected = Decimal::ZERO;
            let mut seen: std::collections::BTreeMap<usize, Decimal> = Default::default();
            for (mantissa, scale, tx) in ops {
                let amount = Decimal::new(mantissa, scale);
                // Reusing a transaction id repeats its first amount (a retry).
                let amount = *seen.entry(tx).or_insert(amount);
                let outcome = credit_ok(&*provider, amount, &format!("tx-{tx}"), None).await;
                if outcome.applied {
                    expected += amount;
                }
                prop_assert_eq!(outcome.balance.points, expected);
            }
            let total: Decimal = seen.values().copied().sum();
            prop_assert_eq!(points(provider.as_ref()).await, total);
            Ok(())
        })?;
    }
}

/// Credits the customer; a refusal fails the test.
async fn credit_ok(
    provider: &dyn Provider,
    amount: Decimal,
    tx: &str,
    lifetime: Option<Duration>,
) -> CreditOutcome {
    let credit = credit(amount, tx, lifetime);
    provider.balances().credit(credit).await.unwrap()
}

/// Spends the customer's points; a refusal fails the test.
async fn redeem_ok(provider: &dyn Provider, amount: Decimal, tx: &str) -> RedeemOutcome {
    let redemption = redemption(amount, tx);
    provider.balances().redeem(redemption).await.unwrap()
}

fn redemption(amount: Decimal, tx: &str) -> RedeemBalance {
    RedeemBalance {
        customer: phone().into(),
        redemption: Redemption::new(amount, TransactionId::new(tx).unwrap()).unwrap(),
    }
}

#[tokio::test]
async fn a_redemption_spends_the_soonest_burning_points_first_and_permanent_ones_last() {
    let (provider, clock) = provider_with_clock().await;
    let hours = |h: u64| Some(Duration::from_secs(h * 3600));
    for (amount, tx, lifetime) in [
        (dec!(5), "forever", None),
        (dec!(10), "two-hours", hours(2)),
        (dec!(4), "one-hour", hours(1)),
        (dec!(8), "three-hours", hours(3)),
    ] {
        credit_ok(&*provider, amount, tx, lifetime).await;
    }
    let outcome = redeem_ok(&*provider, dec!(6), "coffee").await;
    assert!(outcome.applied);
    assert_eq!(outcome.balance.points, dec!(21));
    // The 4 burning in one hour and 2 of the 10 burning in two are gone: nothing burns at 1 h,
    // 8 at 2 h, 8 more at 3 h, and the 5 that never burn stay.
    clock.advance(TimeDelta::hours(1));
    assert_eq!(points(provider.as_ref()).await, dec!(21));
    clock.advance(TimeDelta::hours(1));
    assert_eq!(points(provider.as_ref()).await, dec!(13));
    let outcome = redeem_ok(&*provider, dec!(10), "lunch").await;
    assert_eq!(outcome.balance.points, dec!(3));
    clock.advance(TimeDelta::days(1));
    assert_eq!(
        points(provider.as_ref()).await,
        dec!(3),
        "the rest of the permanent points stays"
    );
}

#[tokio::test]
async fn a_redemption_is_exactly_once_and_conflicts_change_nothing() {
    let (provider, _) = provider_with_clock().await;
    credit_ok(&*provider, dec!(50), "c", None).await;
    let first = redeem_ok(&*provider, dec!(20), "r").await;
    assert!(first.applied);
    assert_eq!(first.balance.points, dec!(30));
    for _ in 0..2 {
        let again = redeem_ok(&*provider, dec!(20.00), "r").await;
        assert!(!again.applied);
        assert_eq!(again.balance.points, dec!(30));
    }
    for (conflict, what) in [
        (redemption(dec!(21), "r"), "same id, other amount"),
        (redemption(dec!(20), "c"), "the id of a credit"),
    ] {
        let err = provider.balances().redeem(conflict).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{what}: {err}");
        assert_eq!(err.operation(), Some(op::BALANCE_REDEEM));
    }
    let err = provider
        .balances()
        .credit(credit(dec!(20), "r", None))
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Conflict,
        "a credit under a redemption's id"
    );
    assert_eq!(points(provider.as_ref()).await, dec!(30));
}

#[tokio::test]
async fn insufficient_points_are_refused_and_change_nothing() {
    let (memory, clock) = memory_with_clock();
    let provider = Checked::wrap(memory.clone());
    add_customer(&*provider).await;
    credit_ok(&*provider, dec!(10), "soon", Some(Duration::from_secs(60))).await;
    credit_ok(&*provider, dec!(2), "forever", None).await;
    let before = memory.snapshot();
    let err = provider
        .balances()
        .redeem(redemption(dec!(12.5), "too-much"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientPoints, "{err}");
    assert_eq!(
        memory.snapshot(),
        before,
        "a refused redemption changed the state"
    );
    // Burned points cannot be spent, even before any write removed them.
    clock.advance(TimeDelta::seconds(60));
    let err = provider
        .balances()
        .redeem(redemption(dec!(3), "too-much"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientPoints, "{err}");
    assert_eq!(memory.snapshot(), before);
    // The refused id was not used up.
    let outcome = redeem_ok(&*provider, dec!(2), "too-much").await;
    assert!(outcome.applied);
    assert_eq!(outcome.balance.points, dec!(0));
    // Unknown customers and bad amounts are the usual errors.
    let ghost = RedeemBalance {
        customer: Phone::parse("+420000000999").unwrap().into(),
        ..redemption(dec!(1), "ghost")
    };
    let err = provider.balances().redeem(ghost).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// 100 concurrent redemptions of 10 on a balance of 500: exactly 50 succeed, 50 are refused,
/// and the balance ends at 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_redemptions_never_overdraw() {
    let (provider, _) = provider_with_clock().await;
    credit_ok(&*provider, dec!(500), "fill", None).await;
    let outcomes = race(&provider, 100, |provider, i| async move {
        provider
            .balances()
            .redeem(redemption(dec!(10), &format!("r{i}")))
            .await
    })
    .await;
    let (mut applied, mut refused) = (0, 0);
    for outcome in outcomes {
        match outcome {
            Ok(outcome) => {
                assert!(outcome.applied);
                assert!(outcome.balance.points >= Decimal::ZERO);
                applied += 1;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::InsufficientPoints, "{e}");
                refused += 1;
            }
        }
    }
    assert_eq!((applied, refused), (50, 50));
    assert_eq!(points(provider.as_ref()).await, dec!(0));
}

/// One step of the model-based test.
#[derive(Debug, Clone)]
enum Step {
    /// Credit `cents` under transaction `tx`, burning after `life` seconds if given.
    Credit {
        tx: u8,
        cents: i64,
        life: Option<u32>,
    },
    /// Redeem `cents` under transaction `tx`.
    Redeem { tx: u8, cents: i64 },
    /// Set the points absolutely.
    Set { cents: i64 },
    /// Move the clock forward.
    Advance { secs: u32 },
    /// Reopen the provider from its state file.
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..16, 1i64..=5_000, prop::option::of(1u32..=7_200))
            .prop_map(|(tx, cents, life)| Step::Credit { tx, cents, life }),
        4 => (0u8..16, 1i64..=6_000).prop_map(|(tx, cents)| Step::Redeem { tx, cents }),
        1 => (0i64..=10_000).prop_map(|cents| Step::Set { cents }),
        3 => (0u32..=3_600).prop_map(|secs| Step::Advance { secs }),
        1 => Just(Step::Reopen),
    ]
}

/// What a transaction id was used for in the model.
#[derive(Debug, Clone, PartialEq)]
enum Used {
    Credit(Decimal, Option<u32>),
    Redeem(Decimal),
}

/// The plain model: every credit is an entry with what is left of it, never removed; a set
/// replaces all of them by one permanent entry; the balance is the sum of the entries not
/// burned at `now`; a redemption spends live entries sorted by burn time (never last), oldest
/// first among equals.
#[derive(Debug, Default)]
struct Model {
    now: i64,
    /// (left, burns at, order)
    entries: Vec<(Decimal, Option<i64>, usize)>,
    used: std::collections::BTreeMap<u8, Used>,
}

impl Model {
    fn live(&self) -> impl Iterator<Item = &(Decimal, Option<i64>, usize)> {
        self.entries
            .iter()
            .filter(|(_, burns, _)| burns.is_none_or(|b| self.now < b))
    }

    fn balance(&self) -> Decimal {
        self.live().map(|(left, _, _)| *left).sum()
    }

    /// `Ok(applied)` or the error kind the provider must answer.
    fn credit(&mut self, tx: u8, amount: Decimal, life: Option<u32>) -> Result<bool, ErrorKind> {
        match self.used.get(&tx) {
            Some(Used::Credit(a, l)) if *a == amount && *l == life => Ok(false),
            Some(_) => Err(ErrorKind::Conflict),
            None => {
                self.used.insert(tx, Used::Credit(amount, life));
                let order = self.entries.len();
                let burns = life.map(|l| self.now + i64::from(l));
                self.entries.push((amount, burns, order));
                Ok(true)
            }
        }
    }

    fn redeem(&mut self, tx: u8, amount: Decimal) -> Result<bool, ErrorKind> {
        match self.used.get(&tx) {
            Some(Used::Redeem(a)) if *a == amount => return Ok(false),
            Some(_) => return Err(ErrorKind::Conflict),
            None => {}
        }
        if self.balance() < amount {
            return Err(ErrorKind::InsufficientPoints);
        }
        self.used.insert(tx, Used::Redeem(amount));
        let now = self.now;
        let mut live: Vec<_> = self
            .entries
            .iter_mut()
            .filter(|(_, burns, _)| burns.is_none_or(|b| now < b))
            .collect();
        live.sort_by_key(|(_, burns, order)| (burns.unwrap_or(i64::MAX), *order));
        let mut left = amount;
        for (have, _, _) in live {
            let take = left.min(*have);
            *have -= take;
            left -= take;
        }
        assert_eq!(left, Decimal::ZERO, "the model spent less than it held");
        Ok(true)
    }

    fn set(&mut self, points: Decimal) {
        let order = self.entries.len();
        self.entries = vec![(points, None, order)];
    }
}

fn kind_of<T>(result: &walletport_core::Result<T>) -> Result<(), ErrorKind> {
    result.as_ref().map(drop).map_err(|e| e.kind())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random credits (with and without lifetimes), redemptions, absolute sets, clock moves and
    /// reopenings from the state file, with transaction ids reused across all of them: the
    /// provider agrees with the plain model at every step, in its answers and in the balance.
    #[test]
    fn the_ledger_agrees_with_a_plain_model(steps in prop::collection::vec(step(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let config = MemoryConfig::with_path(dir.path().join("state.json"));
            let clock = Arc::new(ManualClock::new(start()));
            let open = || -> Arc<dyn Provider> {
                Checked::wrap(Arc::new(
                    MemoryProvider::open(&config).unwrap().with_clock(clock.clone()),
                ))
            };
            let mut provider = open();
            add_customer(&*provider).await;
            let mut model = Model::default();
            for (i, step) in steps.into_iter().enumerate() {
                match step {
                    Step::Credit { tx, cents, life } => {
                        let amount = Decimal::new(cents, 2);
                        let expected = model.credit(tx, amount, life);
                        let got = provider
                            .balances()
                            .credit(credit(
                                amount,
                                &format!("tx-{tx}"),
                                life.map(|l| Duration::from_secs(u64::from(l))),
                            ))
                            .await;
                        prop_assert_eq!(kind_of(&got), expected.map(drop), "step {}", i);
                        if let (Ok(outcome), Ok(applied)) = (got, expected) {
                            prop_assert_eq!(outcome.applied, applied, "step {}", i);
                            prop_assert_eq!(outcome.balance.points, model.balance(), "step {}", i);
                        }
                    }
                    Step::Redeem { tx, cents } => {
                        let amount = Decimal::new(cents, 2);
                        let expected = model.redeem(tx, amount);
                        let got = provider
                            .balances()
                            .redeem(redemption(amount, &format!("tx-{tx}")))
                            .await;
                        prop_assert_eq!(kind_of(&got), expected.map(drop), "step {}", i);
                        if let (Ok(outcome), Ok(applied)) = (got, expected) {
                            prop_assert_eq!(outcome.applied, applied, "step {}", i);
                            prop_assert_eq!(outcome.balance.points, model.balance(), "step {}", i);
                        }
                    }
                    Step::Set { cents } => {
                        let points = Decimal::new(cents, 2);
                        model.set(points);
                        let set = SetBalance {
                            customer: phone().into(),
                            update: BalanceUpdate {
                                points: Some(points),
                                ..Default::default()
                            },
                        };
                        let got = provider.balances().set_balance(set).await.unwrap();
                        prop_assert_eq!(got.points, model.balance(), "step {}", i);
                    }
                    Step::Advance { secs } => {
                        model.now += i64::from(secs);
                        clock.advance(TimeDelta::seconds(i64::from(secs)));
                    }
                    Step::Reopen => provider = open(),
                }
                let points = points(provider.as_ref()).await;
                prop_assert_eq!(points, model.balance(), "balance after step {}", i);
                prop_assert!(points >= Decimal::ZERO);
            }
            Ok(())
        })?;
    }
}
