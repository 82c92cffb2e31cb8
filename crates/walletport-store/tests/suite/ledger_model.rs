//! Model-based: random sequences of credits, redemptions, set-points, reversals, repeats, clock
//! moves and expiry passes, run against the store and against `model::Model`; after every step
//! the outcome, each customer's balance now and its whole history (read in pages) must agree.
//!
//! One database per test (per backend) and fresh customers per case; each case runs 30 days after
//! the previous one and first expires what earlier cases left, so expiry reports are exact.
//! `STORE_MODEL_CASES` sets the number of cases (default 24).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rust_decimal::Decimal;
use walletport_core::{Credit, CustomerId};
use walletport_store::{LedgerOp, Redemption, Reversal, SetPoints, Store, WriteOpts};

use super::model::{Entry, Model, Outcome};
use crate::support::{balance_items, customer, history, t0, tx};

/// Who a step is for: customer 0 or 1 of the case, or one that does not exist.
const GHOST: usize = 2;

#[derive(Debug, Clone, Copy)]
enum Repeat {
    /// The same request again.
    Same,
    /// The same id for the other customer.
    OtherCustomer,
    /// The same id with one more point.
    OtherAmount,
    /// The same id and amount as another operation.
    OtherOp,
}

#[derive(Debug, Clone)]
enum Step {
    Credit {
        who: usize,
        amount: Decimal,
        lifetime: Option<Duration>,
        echo: bool,
    },
    Redeem {
        who: usize,
        amount: Decimal,
        echo: bool,
    },
    Set {
        who: usize,
        points: Decimal,
    },
    /// Of an id used earlier (any operation, any customer), or of one never used.
    Reverse {
        who: usize,
        of: Option<Index>,
    },
    /// An earlier operation again, as is or changed.
    Repeat {
        of: Index,
        how: Repeat,
    },
    Advance(Duration),
    /// To an instant a lot stops counting, or a nanosecond either side of it.
    ToExpiry {
        of: Index,
        offset_ns: i64,
    },
    /// The expiry task, `max` customers a call, until it finds nothing.
    ExpireDue {
        max: u32,
    },
}

fn who() -> impl Strategy<Value = usize> {
    prop_oneof![10 => 0..2usize, 1 => Just(GHOST)]
}

/// Small amounts with up to 2 decimals, and now and then one with 18.
fn amount() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        9 => (1i64..=4000, 0u32..=2).prop_map(|(n, s)| Decimal::new(n, s)),
        1 => (1i64..=5_000_000_000_000_000_000).prop_map(|n| Decimal::new(n, 18)),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let lifetime = prop_oneof![
        1 => Just(None),
        2 => (1u64..=10_800, prop_oneof![3 => Just(0u32), 1 => 1u32..1_000_000_000])
            .prop_map(|(s, ns)| Some(Duration::new(s, ns))),
    ];
    let redemption = prop_oneof![4 => amount(), 1 => (100i64..=5000).prop_map(Decimal::from)];
    let repeat = prop_oneof![
        Just(Repeat::Same),
        Just(Repeat::OtherCustomer),
        Just(Repeat::OtherAmount),
        Just(Repeat::OtherOp),
    ];
    prop_oneof![
        6 => (who(), amount(), lifetime, any::<bool>())
            .prop_map(|(who, amount, lifetime, echo)| Step::Credit { who, amount, lifetime, echo }),
        4 => (who(), redemption, any::<bool>())
            .prop_map(|(who, amount, echo)| Step::Redeem { who, amount, echo }),
        1 => (who(), (0i64..=20_000, 0u32..=2))
            .prop_map(|(who, (n, s))| Step::Set { who, points: Decimal::new(n, s) }),
        2 => (who(), proptest::option::weighted(0.8, any::<Index>()))
            .prop_map(|(who, of)| Step::Reverse { who, of }),
        2 => (any::<Index>(), repeat).prop_map(|(of, how)| Step::Repeat { of, how }),
        2 => (0u64..=5400, prop_oneof![3 => Just(0u32), 1 => 1u32..1_000_000_000])
            .prop_map(|(s, ns)| Step::Advance(Duration::new(s, ns))),
        2 => (any::<Index>(), -1i64..=1).prop_map(|(of, offset_ns)| Step::ToExpiry { of, offset_ns }),
        1 => prop_oneof![Just(1u32), Just(100)].prop_map(|max| Step::ExpireDue { max }),
    ]
}

/// The state of one case beside the model.
struct Case<'a> {
    store: &'a dyn Store,
    model: Model,
    customers: [CustomerId; 3],
    now: DateTime<Utc>,
    /// Every operation sent: (customer index, op) — repeats pick from these.
    sent: Vec<(usize, LedgerOp)>,
    /// Every transaction id used, in order.
    ids: Vec<String>,
    prefix: String,
    page: u32,
}

static CASE: AtomicU32 = AtomicU32::new(0);

fn fail(what: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(what.to_string())
}

impl Case<'_> {
    fn new_id(&mut self, step: usize) -> String {
        let id = format!("{}-{step}", self.prefix);
        self.ids.push(id.clone());
        id
    }

    /// Sends `op` for customer `who` to the store and the model and compares the outcomes.
    async fn apply(&mut self, who: usize, op: LedgerOp, echo: bool) -> Result<(), TestCaseError> {
        let opts = WriteOpts {
            now: self.now,
            echo,
        };
        let customer = &self.customers[who];
        let got: Outcome = match self.store.apply(customer, &op, opts).await {
            Ok(o) => Ok((o.applied, o.delta)),
            Err(e) => Err(e.kind()),
        };
        let want = self.model.apply(customer, &op, self.now, echo);
        prop_assert_eq!(got, want, "{:?} for customer {}", op, who);
        self.sent.push((who, op));
        Ok(())
    }

    async fn run(&mut self, i: usize, step: &Step) -> Result<(), TestCaseError> {
        match step {
            Step::Credit {
                who,
                amount,
                lifetime,
                echo,
            } => {
                let credit = Credit::new(*amount, tx(&self.new_id(i)), *lifetime).map_err(fail)?;
                self.apply(*who, LedgerOp::Credit(credit), *echo).await?;
            }
            Step::Redeem { who, amount, echo } => {
                let r = Redemption::new(*amount, tx(&self.new_id(i))).map_err(fail)?;
                self.apply(*who, LedgerOp::Redeem(r), *echo).await?;
            }
            Step::Set { who, points } => {
                let s = SetPoints::new(*points, tx(&self.new_id(i))).map_err(fail)?;
                self.apply(*who, LedgerOp::Set(s), true).await?;
            }
            Step::Reverse { who, of } => {
                let id = match of {
                    Some(of) if !self.ids.is_empty() => of.get(&self.ids).clone(),
                    _ => format!("{}-unknown-{i}", self.prefix),
                };
                self.apply(*who, LedgerOp::Reverse(Reversal::of(tx(&id))), true)
                    .await?;
            }
            Step::Repeat { of, how } => {
                if self.sent.is_empty() {
                    return Ok(());
                }
                let (who, op) = of.get(&self.sent).clone();
                let (who, op) = changed(who, op, *how).map_err(fail)?;
                self.apply(who, op, true).await?;
            }
            Step::Advance(d) => self.now += TimeDelta::from_std(*d).map_err(fail)?,
            Step::ToExpiry { of, offset_ns } => {
                let instants = self.model.future_expiries(self.now);
                if !instants.is_empty() {
                    let target = *of.get(&instants) + TimeDelta::nanoseconds(*offset_ns);
                    self.now = self.now.max(target);
                }
            }
            Step::ExpireDue { max } => {
                let mut got = (0, 0, Decimal::ZERO);
                loop {
                    let r = self.store.expire_due(self.now, *max).await.map_err(fail)?;
                    if r.customers == 0 {
                        break;
                    }
                    got = (got.0 + r.customers, got.1 + r.lots, got.2 + r.points);
                }
                prop_assert_eq!(
                    got,
                    self.model.expire_due(self.now),
                    "expire_due at {}",
                    self.now
                );
            }
        }
        Ok(())
    }

    /// Each customer's balance now and whole history equal the model's.
    async fn compare(&self) -> Result<(), TestCaseError> {
        for (n, c) in self.customers[..GHOST].iter().enumerate() {
            let points = self.store.balance(c, self.now).await.map_err(fail)?.points;
            prop_assert_eq!(
                points,
                self.model.balance(c, self.now),
                "balance of customer {} at {}",
                n,
                self.now
            );
            let mut got: Vec<Entry> = history(self.store, c, self.page)
                .await
                .iter()
                .map(Entry::from)
                .collect();
            got.reverse();
            prop_assert_eq!(
                &got,
                &self.model.account(c).entries,
                "history of customer {}",
                n
            );
        }
        Ok(())
    }
}

/// `op` again for `who`, changed as `how` says.
fn changed(who: usize, op: LedgerOp, how: Repeat) -> walletport_core::Result<(usize, LedgerOp)> {
    let id = op.transaction_id().clone();
    let (kind, amount) = match &op {
        LedgerOp::Credit(c) => ("credit", c.amount()),
        LedgerOp::Redeem(r) => ("redeem", r.amount()),
        LedgerOp::Set(s) => ("set", s.points().max(Decimal::ONE)),
        LedgerOp::Reverse(_) => ("reverse", Decimal::ONE),
    };
    Ok(match how {
        Repeat::Same => (who, op),
        Repeat::OtherCustomer => ((who + 1) % GHOST, op),
        Repeat::OtherAmount => (who, make(kind, amount + Decimal::ONE, id)?),
        Repeat::OtherOp => {
            let other = if kind == "credit" { "redeem" } else { "credit" };
            (who, make(other, amount, id)?)
        }
    })
}

fn make(
    kind: &str,
    amount: Decimal,
    id: walletport_core::TransactionId,
) -> walletport_core::Result<LedgerOp> {
    Ok(match kind {
        "credit" => LedgerOp::Credit(Credit::new(amount, id, None)?),
        "redeem" => LedgerOp::Redeem(Redemption::new(amount, id)?),
        "set" => LedgerOp::Set(SetPoints::new(amount, id)?),
        _ => LedgerOp::Reverse(Reversal::of(id)),
    })
}

async fn run_case(store: &dyn Store, steps: &[Step], page: u32) -> Result<(), TestCaseError> {
    let n = CASE.fetch_add(1, Ordering::Relaxed);
    let now = t0() + TimeDelta::days(30 * i64::from(n + 1));
    // What earlier cases left expires before this case starts; its reports only see its own.
    while store.expire_due(now, 1000).await.map_err(fail)?.customers > 0 {}
    let mut model = Model::default();
    let mut customers = Vec::new();
    for k in 0..GHOST as u32 {
        let id = customer(store, 10_000 + 2 * n + k).await;
        model.add_customer(id.clone());
        customers.push(id);
    }
    customers.push(CustomerId::new(format!("ghost-{n}")).map_err(fail)?);
    let mut case = Case {
        store,
        model,
        customers: customers.try_into().map_err(|_| fail("three customers"))?,
        now,
        sent: Vec::new(),
        ids: Vec::new(),
        prefix: format!("m{n}"),
        page,
    };
    for (i, step) in steps.iter().enumerate() {
        case.run(i, step).await?;
        case.compare().await?;
    }
    for (n, c) in case.customers[..GHOST].iter().enumerate() {
        let items = balance_items(store, c).await.len();
        prop_assert_eq!(
            items,
            case.model.account(c).outbox,
            "balance outbox items of customer {}",
            n
        );
    }
    Ok(())
}

pub(crate) async fn ledger_matches_a_model(store: Arc<dyn Store>) {
    let cases = std::env::var("STORE_MODEL_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 400,
        ..Config::default()
    });
    let strategy = (proptest::collection::vec(step(), 1..=40), 1u32..=9);
    let handle = tokio::runtime::Handle::current();
    // The runner is synchronous: each case blocks this worker thread on its own async body.
    let result = tokio::task::block_in_place(|| {
        runner.run(&strategy, |(steps, page)| {
            handle.block_on(run_case(&*store, &steps, page))
        })
    });
    if let Err(e) = result {
        panic!("the store and the model disagree: {e}");
    }
}
