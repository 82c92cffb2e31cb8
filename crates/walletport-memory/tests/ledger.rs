//! Balances: exactly-once under concurrency, burning exactly on time, exact sums.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use walletport_core::{
    BalanceUpdate, Checked, Credit, CreditBalance, Customer, ErrorKind, Phone, Provider,
    ProviderExt, SetBalance, TransactionId, UpsertCustomer,
};
use walletport_memory::{ManualClock, MemoryConfig, MemoryProvider};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

fn phone() -> Phone {
    Phone::parse("+420000000001").unwrap()
}

async fn provider_with_clock() -> (Arc<dyn Provider>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(start()));
    let memory = MemoryProvider::open(&MemoryConfig::default())
        .unwrap()
        .with_clock(clock.clone());
    let provider = Checked::wrap(Arc::new(memory));
    provider
        .customers()
        .upsert_customer(UpsertCustomer::new(Customer::new(phone())))
        .await
        .unwrap();
    (provider, clock)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_transaction_id_credits_once_under_concurrency() {
    let (provider, _) = provider_with_clock().await;
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move {
                provider
                    .balances()
                    .credit(credit(dec!(2.5), "same", None))
                    .await
            })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        let outcome = task.await.unwrap().unwrap();
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
    provider
        .balances()
        .credit(credit(dec!(10), "short", Some(life)))
        .await
        .unwrap();
    provider
        .balances()
        .credit(credit(dec!(1.5), "forever", None))
        .await
        .unwrap();
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
    let again = provider
        .balances()
        .credit(credit(dec!(10), "short", Some(life)))
        .await
        .unwrap();
    assert!(!again.applied);
    assert_eq!(again.balance.points, dec!(1.5));
}

#[tokio::test]
async fn setting_points_is_absolute_and_settles_earlier_credits() {
    let (provider, clock) = provider_with_clock().await;
    provider
        .balances()
        .credit(credit(dec!(10), "before", Some(Duration::from_secs(60))))
        .await
        .unwrap();
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
    provider
        .balances()
        .credit(credit(dec!(5), "after", Some(Duration::from_secs(120))))
        .await
        .unwrap();
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
    provider
        .balances()
        .credit(credit(dec!(3), "t", None))
        .await
        .unwrap();
    for conflicting in [
        credit(dec!(4), "t", None),
        credit(dec!(3), "t", Some(Duration::from_secs(5))),
    ] {
        let err = provider.balances().credit(conflicting).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    }
    // 3.00 is the same amount as 3: a repeat, not a conflict.
    assert!(
        !provider
            .balances()
            .credit(credit(dec!(3.00), "t", None))
            .await
            .unwrap()
            .applied
    );
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
                let outcome = provider
                    .balances()
                    .credit(credit(amount, &format!("tx-{tx}"), None))
                    .await
                    .unwrap();
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
