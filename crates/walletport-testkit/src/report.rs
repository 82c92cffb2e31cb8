//! What a conformance run found: per check passed, skipped (with the reason) or failed (with
//! what went wrong), printable as a readable summary.

use std::fmt;
use std::time::Duration;

/// Why a check did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckError {
    /// The check does not apply to this provider (a capability is off, an option is missing).
    Skipped(String),
    /// The provider broke the contract.
    Failed(String),
}

impl From<walletport_core::Error> for CheckError {
    fn from(e: walletport_core::Error) -> Self {
        Self::Failed(format!("unexpected error: {e}"))
    }
}

/// The result of one check.
pub type CheckResult = Result<(), CheckError>;

/// Adds the call that failed to an unexpected provider error.
pub trait Context<T> {
    /// Turns an error into a [`CheckError::Failed`] naming `what` was being done.
    fn context(self, what: &str) -> Result<T, CheckError>;
}

impl<T> Context<T> for walletport_core::Result<T> {
    fn context(self, what: &str) -> Result<T, CheckError> {
        self.map_err(|e| CheckError::Failed(format!("{what}: unexpected error: {e}")))
    }
}

/// How one check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider behaved as the contract says.
    Passed,
    /// The check did not run, and why.
    Skipped(String),
    /// The provider broke the contract, and how.
    Failed(String),
}

/// One check's name, outcome and duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The check's name (the name of its function).
    pub name: &'static str,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it took.
    pub elapsed: Duration,
}

/// Everything a conformance run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteReport {
    /// The provider under test (`ProviderInfo::name`).
    pub provider: String,
    /// Every check in run order.
    pub checks: Vec<CheckReport>,
}

impl SuiteReport {
    /// The checks that passed.
    pub fn passed(&self) -> impl Iterator<Item = &CheckReport> {
        self.checks
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Passed))
    }

    /// The checks that were skipped.
    pub fn skipped(&self) -> impl Iterator<Item = &CheckReport> {
        self.checks
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Skipped(_)))
    }

    /// The checks that failed.
    pub fn failed(&self) -> impl Iterator<Item = &CheckReport> {
        self.checks
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Failed(_)))
    }

    /// True when no check failed.
    pub fn is_success(&self) -> bool {
        self.failed().next().is_none()
    }

    /// The outcome of the check called `name`, if it was in the run.
    pub fn outcome(&self, name: &str) -> Option<&Outcome> {
        self.checks
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.outcome)
    }

    /// Panics with the summary when a check failed.
    #[track_caller]
    pub fn assert_success(&self) {
        assert!(self.is_success(), "{self}");
    }
}

impl fmt::Display for SuiteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "conformance of `{}`: {} passed, {} skipped, {} failed",
            self.provider,
            self.passed().count(),
            self.skipped().count(),
            self.failed().count()
        )?;
        for check in &self.checks {
            match &check.outcome {
                Outcome::Passed => writeln!(f, "  ok    {} ({:?})", check.name, check.elapsed)?,
                Outcome::Skipped(why) => writeln!(f, "  skip  {}: {why}", check.name)?,
                Outcome::Failed(what) => writeln!(f, "  FAIL  {}: {what}", check.name)?,
            }
        }
        Ok(())
    }
}
