//! The registry of checks and the runner that executes them in order, catching panics, and
//! cleans up what the run created.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use futures::future::BoxFuture;
use walletport_core::{Checked, DeleteCustomer, ErrorKind, Provider};

use crate::checks::*;
use crate::report::{CheckError, CheckReport, CheckResult, Outcome, SuiteReport};
use crate::suite::{Suite, SuiteOptions};

/// The signature of every check.
pub type CheckFn = for<'a> fn(&'a dyn Provider, &'a Suite) -> BoxFuture<'a, CheckResult>;

/// One registered check.
#[derive(Clone, Copy)]
pub struct Check {
    /// The check's name (its function's name), used in reports and in `skip` / `only`.
    pub name: &'static str,
    /// The check itself.
    pub run: CheckFn,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

macro_rules! checks {
    ($($name:ident),* $(,)?) => {
        &[$(Check { name: stringify!($name), run: |p, s| Box::pin($name(p, s)) }),*]
    };
}

/// Every check, in run order.
pub const CHECKS: &[Check] = checks![
    capability_flags_are_honoured,
    status_reports_account,
    customer_round_trip,
    customer_patch_keeps_unset_fields,
    customer_not_found,
    customer_lookup_by_card_and_id,
    customer_delete,
    invalid_input_changes_nothing,
    referrals,
    listing_pages_cover_everything,
    listing_filters_by_date,
    listing_filters_by_installed,
    balance_set_and_get,
    balance_not_found,
    credit_exactly_once,
    credit_conflict,
    credit_with_lifetime,
    redeem_exactly_once,
    redeem_conflict,
    redeem_insufficient_points,
    card_issue_and_get,
    card_not_found,
    card_update_fields,
    card_status_change,
    card_send_install_link,
    push_single,
    campaign_create_send,
    campaign_not_found,
    templates_list_and_get,
    template_create_and_update,
];

/// The name of the pseudo-check that deletes what the run created.
pub const CLEANUP: &str = "cleanup";

/// Runs every check against `provider` (wrapped in [`Checked`], as the facade does) and
/// returns the report; panics with the readable report when a check failed, so a test is
/// one line:
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use walletport_core::Capability;
/// use walletport_testkit::{StubProvider, SuiteOptions, run_conformance};
///
/// // A provider that supports nothing conforms by answering `Unsupported` everywhere.
/// let stub = Arc::new(StubProvider::new(Capability::NONE));
/// run_conformance(stub, &SuiteOptions::unique()).await;
/// # });
/// ```
pub async fn run_conformance(provider: Arc<dyn Provider>, options: &SuiteOptions) -> SuiteReport {
    let report = run_checks(provider, options).await;
    report.assert_success();
    report
}

/// Runs every check and returns the report without judging it (for tests of the suite itself
/// and for tools that print capability matrices).
pub async fn run_checks(provider: Arc<dyn Provider>, options: &SuiteOptions) -> SuiteReport {
    let provider = Checked::wrap(provider);
    let provider: &dyn Provider = provider.as_ref();
    let suite = Suite::new(provider, options.clone());
    let mut checks = Vec::with_capacity(CHECKS.len() + 1);
    for check in CHECKS {
        if options
            .only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|n| n == check.name))
        {
            continue;
        }
        let started = Instant::now();
        let outcome = match options.skip.get(check.name) {
            Some(reason) => Outcome::Skipped(format!("skipped by options: {reason}")),
            None => run_one(check, provider, &suite).await,
        };
        checks.push(CheckReport {
            name: check.name,
            outcome,
            elapsed: started.elapsed(),
        });
    }
    if options.cleanup {
        let started = Instant::now();
        let outcome = cleanup(provider, &suite).await;
        checks.push(CheckReport {
            name: CLEANUP,
            outcome,
            elapsed: started.elapsed(),
        });
    }
    SuiteReport {
        provider: provider.info().name.to_owned(),
        checks,
    }
}

async fn run_one(check: &Check, provider: &dyn Provider, suite: &Suite) -> Outcome {
    match AssertUnwindSafe((check.run)(provider, suite))
        .catch_unwind()
        .await
    {
        Ok(Ok(())) => Outcome::Passed,
        Ok(Err(CheckError::Skipped(why))) => Outcome::Skipped(why),
        Ok(Err(CheckError::Failed(what))) => Outcome::Failed(what),
        Err(panic) => Outcome::Failed(format!("panicked: {}", panic_message(panic.as_ref()))),
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a non-string panic".to_owned())
}

/// Deletes every customer the run created; a customer already gone is fine.
async fn cleanup(provider: &dyn Provider, suite: &Suite) -> Outcome {
    if !suite.has("customer_delete") {
        return Outcome::Skipped("capability off: customer_delete".to_owned());
    }
    let mut problems = Vec::new();
    for phone in suite.created_phones() {
        let input = DeleteCustomer {
            key: phone.clone().into(),
        };
        match provider.customers().delete_customer(input).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => problems.push(format!("delete {phone}: {e}")),
        }
    }
    if problems.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed(problems.join("; "))
    }
}
