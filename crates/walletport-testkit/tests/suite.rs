//! The suite judges correctly: a conforming provider passes, broken ones fail on the check
//! that covers their bug, and a provider that supports nothing passes by saying so.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use walletport_core::*;
use walletport_memory::{MemoryConfig, MemoryProvider};
use walletport_testkit::{
    CHECKS, CLEANUP, Outcome, StubCall, StubProvider, SuiteOptions, SuiteReport, run_checks,
    run_conformance,
};

fn memory() -> Arc<MemoryProvider> {
    Arc::new(MemoryProvider::open(&MemoryConfig::default()).unwrap())
}

/// Fails unless each of `names` failed in `report`.
fn assert_failed(report: &SuiteReport, names: &[&str]) {
    for name in names {
        assert!(
            matches!(report.outcome(name), Some(Outcome::Failed(_))),
            "{name}\n{report}"
        );
    }
}

#[tokio::test]
async fn a_provider_supporting_nothing_conforms_without_being_called() {
    let stub = Arc::new(StubProvider::new(Capability::NONE));
    let report = run_conformance(stub.clone(), &SuiteOptions::new("none")).await;
    assert_eq!(
        report.outcome("capability_flags_are_honoured"),
        Some(&Outcome::Passed)
    );
    assert_eq!(report.passed().count(), 1, "{report}");
    assert_eq!(report.skipped().count(), CHECKS.len(), "{report}");
    // The Checked layer answered every probe; nothing reached the provider.
    assert_eq!(stub.calls(), Vec::new());
}

#[tokio::test]
async fn a_stub_that_remembers_nothing_fails_the_round_trips() {
    let stub = Arc::new(StubProvider::default());
    let report = run_checks(stub, &SuiteOptions::new("stub")).await;
    assert!(!report.is_success());
    assert_failed(
        &report,
        &[
            "customer_round_trip",
            "balance_set_and_get",
            "card_issue_and_get",
        ],
    );
    let summary = report.to_string();
    assert!(summary.contains("FAIL  customer_round_trip"), "{summary}");
}

#[tokio::test]
#[should_panic(expected = "conformance of `stub`")]
async fn run_conformance_panics_with_the_summary() {
    run_conformance(
        Arc::new(StubProvider::default()),
        &SuiteOptions::new("panic"),
    )
    .await;
}

/// Claims every capability but implements nothing.
struct Hollow;

impl CustomerPort for Hollow {}
impl CardPort for Hollow {}
impl BalancePort for Hollow {}
impl PushCampaignPort for Hollow {}
impl TemplatePort for Hollow {}

#[async_trait]
impl Provider for Hollow {
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            name: "hollow",
            version: "0",
        }
    }
    fn capability(&self) -> Capability {
        Capability::ALL
    }
    walletport_core::self_ports!();
}

#[tokio::test]
async fn flags_claimed_but_not_implemented_are_reported() {
    let options = SuiteOptions {
        only: Some(vec!["capability_flags_are_honoured".into()]),
        ..SuiteOptions::new("hollow")
    };
    let report = run_checks(Arc::new(Hollow), &options).await;
    let Some(Outcome::Failed(what)) = report.outcome("capability_flags_are_honoured") else {
        panic!("{report}");
    };
    for flag in [
        "`status`",
        "`customer_get_by_card`",
        "`push_telegram`",
        "`template_get`",
    ] {
        assert!(what.contains(flag), "{flag} missing from: {what}");
    }
    // Probes of operations whose input `Checked` validates after the gate stop there; the
    // functional checks catch those.
    assert!(!what.contains("`template_update`"), "{what}");
    let report = run_checks(Arc::new(Hollow), &SuiteOptions::new("hollow")).await;
    assert_failed(
        &report,
        &[
            "template_create_and_update",
            "customer_round_trip",
            "listing_pages_cover_everything",
        ],
    );
}

/// The classic balance bugs, each planted in front of the memory provider.
enum Bug {
    /// Every credit gets applied, repeats included (each call gets a fresh transaction id).
    CreditsApplyTwice(AtomicU64),
    /// A redemption of more than the balance "succeeds" without taking anything off.
    Overdraw,
}

/// Memory with one [`Bug`] in its balance port; everything else is memory's own.
struct Buggy {
    inner: Arc<MemoryProvider>,
    bug: Bug,
}

#[async_trait]
impl BalancePort for Buggy {
    async fn get_balance(&self, input: GetBalance) -> Result<Balance> {
        self.inner.balances().get_balance(input).await
    }
    async fn set_balance(&self, input: SetBalance) -> Result<Balance> {
        self.inner.balances().set_balance(input).await
    }
    async fn credit(&self, input: CreditBalance) -> Result<CreditOutcome> {
        let Bug::CreditsApplyTwice(n) = &self.bug else {
            return self.inner.balances().credit(input).await;
        };
        let n = n.fetch_add(1, Ordering::Relaxed);
        let tx = TransactionId::new(format!("{}-{n}", input.credit.transaction_id()))?;
        let credit = Credit::new(input.credit.amount(), tx, input.credit.lifetime())?;
        self.inner
            .balances()
            .credit(CreditBalance { credit, ..input })
            .await
    }
    async fn redeem(&self, input: RedeemBalance) -> Result<RedeemOutcome> {
        let customer = input.customer.clone();
        match self.inner.balances().redeem(input).await {
            Err(e)
                if matches!(self.bug, Bug::Overdraw)
                    && e.kind() == ErrorKind::InsufficientPoints =>
            {
                Ok(RedeemOutcome {
                    balance: self
                        .inner
                        .balances()
                        .get_balance(GetBalance { customer })
                        .await?,
                    applied: true,
                })
            }
            other => other,
        }
    }
}

#[async_trait]
impl Provider for Buggy {
    fn info(&self) -> ProviderInfo {
        self.inner.info()
    }
    fn capability(&self) -> Capability {
        self.inner.capability()
    }
    async fn status(&self) -> Result<ProviderStatus> {
        self.inner.status().await
    }
    fn customers(&self) -> &dyn CustomerPort {
        self.inner.customers()
    }
    fn cards(&self) -> &dyn CardPort {
        self.inner.cards()
    }
    fn balances(&self) -> &dyn BalancePort {
        self
    }
    fn push(&self) -> &dyn PushCampaignPort {
        Provider::push(self.inner.as_ref())
    }
    fn templates(&self) -> &dyn TemplatePort {
        self.inner.templates()
    }
}

/// The whole suite on memory with `bug`.
async fn run_with(bug: Bug, name: &str) -> SuiteReport {
    let provider = Arc::new(Buggy {
        inner: memory(),
        bug,
    });
    run_checks(provider, &SuiteOptions::new(name)).await
}

#[tokio::test]
async fn a_credit_that_is_not_exactly_once_fails_exactly_those_checks() {
    let report = run_with(Bug::CreditsApplyTwice(AtomicU64::new(0)), "double").await;
    let failed: Vec<_> = report.failed().map(|c| c.name).collect();
    assert_eq!(
        failed,
        [
            "credit_exactly_once",
            "credit_conflict",
            "credit_with_lifetime",
            // The credit's id never reached the ledger, so redeeming under it is no conflict.
            "redeem_conflict"
        ],
        "{report}"
    );
}

#[tokio::test]
async fn a_redemption_that_overdraws_fails_exactly_that_check() {
    let report = run_with(Bug::Overdraw, "overdraw").await;
    let failed: Vec<_> = report.failed().map(|c| c.name).collect();
    assert_eq!(failed, ["redeem_insufficient_points"], "{report}");
}

#[tokio::test]
async fn options_skip_and_select_checks() {
    let options =
        SuiteOptions::new("select").skip("credit_conflict", "the vendor cannot detect conflicts");
    let options = SuiteOptions {
        only: Some(vec!["credit_conflict".into(), "balance_not_found".into()]),
        cleanup: false,
        ..options
    };
    let report = run_checks(memory(), &options).await;
    let names: Vec<_> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(names, ["balance_not_found", "credit_conflict"]);
    assert!(
        matches!(report.outcome("credit_conflict"), Some(Outcome::Skipped(why)) if why.contains("conflicts"))
    );
    assert!(report.outcome(CLEANUP).is_none());
}

#[tokio::test]
async fn the_stub_records_calls_and_answers_from_its_script() {
    let stub = StubProvider::new(Capability::ALL).named("crm-test");
    let phone = Phone::parse("+420000000001").unwrap();
    let mut record = CustomerRecord::new(Customer::new(phone.clone()));
    record.customer.name = Some("Scripted".into());
    stub.answer(op::CUSTOMER_GET, &record);
    stub.fail(
        op::CUSTOMER_GET,
        Error::new(ErrorKind::RateLimited, "slow down"),
    );
    stub.answer(
        op::STATUS,
        serde_json::json!({"account": "acme", "balance": "12.50"}),
    );
    stub.answer(op::BALANCE_GET, serde_json::json!({"not": "a balance"}));

    let provider = Checked::wrap(Arc::new(stub));
    let got = provider.customer_by_phone(&phone).await.unwrap();
    assert_eq!(got, record);
    let err = provider.customer_by_phone(&phone).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.provider(), Some("crm-test"));
    let err = provider.customer_by_phone(&phone).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::NotFound,
        "the script is used up: defaults again"
    );
    let status = provider.status().await.unwrap();
    assert_eq!(
        (
            status.account.as_str(),
            status.balance.map(|b| b.to_string())
        ),
        ("acme", Some("12.50".into()))
    );
    let err = provider.balance_of(&phone).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unexpected);
    let credit = Credit::new(Decimal::new(5, 0), TransactionId::new("t").unwrap(), None).unwrap();
    let outcome = provider
        .balances()
        .credit(CreditBalance {
            customer: phone.clone().into(),
            credit: credit.clone(),
        })
        .await
        .unwrap();
    assert!(outcome.applied);
}

#[tokio::test]
async fn the_stub_keeps_typed_inputs() {
    let stub = Arc::new(StubProvider::new(Capability::ALL));
    let provider = Checked::wrap(stub.clone());
    let phone = Phone::parse("+420000000002").unwrap();
    let message = PushMessage::new("hello", Channel::Telegram).unwrap();
    provider
        .push()
        .push(SendPush {
            customer: phone.clone().into(),
            message: message.clone(),
        })
        .await
        .unwrap();
    provider
        .customers()
        .list_customers(ListCustomers::default())
        .await
        .unwrap();
    let pushes = stub.calls_to(op::PUSH_SEND);
    assert_eq!(
        pushes,
        vec![StubCall::Push(SendPush {
            customer: phone.into(),
            message
        })]
    );
    assert_eq!(stub.calls().len(), 2);
    assert_eq!(stub.calls()[1].operation(), op::CUSTOMER_LIST);
    stub.clear();
    assert!(stub.calls().is_empty());

    // Flags off answer Unsupported from the stub itself too, and the call is still recorded.
    let mut capability = Capability::ALL;
    capability.push_telegram = false;
    let raw = StubProvider::new(capability);
    let message = PushMessage::new("x", Channel::Telegram).unwrap();
    let phone = Phone::parse("+420000000003").unwrap();
    let err = Provider::push(&raw)
        .push(SendPush {
            customer: phone.into(),
            message,
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(raw.calls().len(), 1);
}
