//! The memory provider passes the whole conformance suite, in memory and with a state file.

use std::sync::Arc;

use walletport_memory::{MemoryConfig, MemoryProvider};
use walletport_testkit::{Outcome, SuiteOptions, run_conformance};

#[tokio::test]
async fn conformance_in_memory() {
    let provider = Arc::new(MemoryProvider::open(&MemoryConfig::default()).unwrap());
    let report = run_conformance(provider, &SuiteOptions::new("memory")).await;
    // Every flag is on, so nothing may be skipped: each check really ran.
    let skipped: Vec<_> = report.skipped().map(|c| c.name).collect();
    assert!(skipped.is_empty(), "skipped: {skipped:?}\n{report}");
    assert_eq!(
        report.outcome("credit_exactly_once"),
        Some(&Outcome::Passed)
    );
}

#[tokio::test]
async fn conformance_with_a_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = MemoryConfig::with_path(dir.path().join("state.json"));
    let provider = Arc::new(MemoryProvider::open(&config).unwrap());
    let options = SuiteOptions {
        listing_customers: 3,
        ..SuiteOptions::new("memory-file")
    };
    let report = run_conformance(provider, &options).await;
    assert_eq!(report.skipped().count(), 0, "{report}");
    // The suite cleaned up after itself, and the file agrees with a fresh open.
    let reopened = MemoryProvider::open(&config).unwrap();
    let state = reopened.snapshot();
    assert_eq!(
        state["customers"].as_object().map(|m| m.len()),
        Some(0),
        "{state:#}"
    );
}
