//! # walletport-testkit
//!
//! The conformance suite every walletport provider runs, and a recording stub provider for
//! users' own tests.
//!
//! The suite (in the spirit of OpenDAL's behaviour tests and `object_store`'s `integration.rs`)
//! is a list of `pub async fn` checks over `&dyn Provider`, each selected by capability: a flag
//! on means the operation must work, a flag off means it must answer
//! [`ErrorKind::Unsupported`](walletport_core::ErrorKind::Unsupported), and
//! [`capability_flags_are_honoured`] probes both directions for every flag. Providers are always
//! exercised through [`walletport_core::Checked`], as the facade serves them.
//!
//! ```no_run
//! # async fn conformance() {
//! // In an adapter's `tests/conformance.rs`, under `#[tokio::test]`:
//! use std::sync::Arc;
//! use walletport_testkit::{SuiteOptions, run_conformance};
//!
//! let provider = Arc::new(walletport_memory::MemoryProvider::open(&Default::default()).unwrap());
//! run_conformance(provider, &SuiteOptions::unique()).await;
//! # }
//! ```
//!
//! Two modules serve the adapters' own tests rather than the suite: [`fixtures`] loads and
//! queries the fixtures generated from each vendor reference, and [`fuzz`] generates the
//! vendor-shaped JSON their proptest fuzz tests feed the parsers. Behind features, `fuzz_responses`
//! (`adapter`) is the response-parser fuzz harness, `fuzz_hooks` (`hooks`) the inbound-hook fuzz
//! harness and `bench` (`bench`) the adapter-cost bench harness, so that an adapter's fuzz tests
//! and bench name only what is its own.
//!
//! Time-dependent behaviour (credits burning after their lifetime) needs a controllable clock
//! and is therefore tested by each provider itself, not here.

/// Fails the check with a formatted message unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err($crate::report::CheckError::Failed(format!($($arg)+)));
        }
    };
}

#[cfg(feature = "bench")]
pub mod bench;
pub mod checks;
pub mod fixtures;
pub mod fuzz;
#[cfg(feature = "hooks")]
pub mod fuzz_hooks;
#[cfg(feature = "adapter")]
pub mod fuzz_responses;
mod report;
mod runner;
mod stub;
mod suite;

pub use checks::*;
pub use report::{CheckError, CheckReport, CheckResult, Context, Outcome, SuiteReport};
pub use runner::{CHECKS, CLEANUP, Check, CheckFn, run_checks, run_conformance};
pub use stub::{StubCall, StubProvider};
pub use suite::{Suite, SuiteOptions};

/// What [`fuzz_responses!`] and [`fuzz_hooks!`] name from the expanding crate's side, so an
/// adapter's test needs no path of its own to proptest, serde_json or the HTTP response type.
#[cfg(any(feature = "adapter", feature = "hooks"))]
#[doc(hidden)]
pub mod __macro_support {
    pub use proptest;
    pub use serde_json;
    #[cfg(feature = "adapter")]
    pub use walletport_http::HttpResponse;
}
