//! The response-parser fuzz harness every adapter's `tests/fuzz_responses.rs` runs (the proptest
//! equivalent of `fuzz/fuzz_targets/<vendor>_response.rs`), behind the `adapter` feature.
//!
//! Each adapter used to spell the same four tests out: arbitrary bytes under any status,
//! structure-aware JSON ([`fuzz::keyed_json`]), the documented answers with random values swapped
//! in ([`fuzz::mutated`]), and the documented answers as they are, each run through every parser
//! of the adapter with the same properties checked. The properties and the tests live here once;
//! an adapter names what is its own in a [`ResponseFuzz`] (its vocabulary, the statuses it
//! meets, its parsers) and expands [`fuzz_responses!`](crate::fuzz_responses):
//!
//! ```ignore
//! const SPEC: ResponseFuzz = ResponseFuzz { vocabulary: VOCABULARY, parsers: check_parsers, .. };
//! walletport_testkit::fuzz_responses!(SPEC);
//! ```
//!
//! Properties: no parser panics; every failure is a typed [`walletport_core::Error`] that is
//! neither `Unsupported` nor `ConfigInvalid` (and names the provider where the adapter stamps
//! it); the failure keeps the vendor's raw status in `vendor()` (for every failure, or for
//! non-2xx answers only, as [`KeptStatus`] says); and a non-2xx answer is never taken for a
//! success.

use proptest::prelude::*;
use serde_json::Value;
use walletport_core::ErrorKind;
use walletport_http::HttpResponse;

use crate::{fixtures, fuzz};

/// The non-200 statuses wallet vendors answer with (redirects, client errors, rate limits,
/// outages): the usual [`ResponseFuzz::statuses`], unless a vendor's list differs.
pub const KNOWN_STATUSES: &[u16] = &[
    201, 204, 301, 400, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503, 504,
];

/// Each parser's name and its outcome on one answer (the value dropped: only success or the
/// error matters to the properties).
pub type Outcomes = Vec<(&'static str, walletport_core::Result<()>)>;

/// Which failures must keep the answer's HTTP status in `Error::vendor()`: adapters differ on a
/// 2xx answer whose body does not decode, and the harness must check each as strictly as it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeptStatus {
    /// Every failure keeps the status, a 2xx one included.
    Always,
    /// Failures of non-2xx answers keep it; a 2xx failure may carry none (e.g. a decode error).
    OnFailureAnswers,
}

/// What an adapter's response fuzzing needs to know about its vendor; the rest is the harness.
#[derive(Debug, Clone, Copy)]
pub struct ResponseFuzz {
    /// The keys and edge strings the generated bodies are made of.
    pub vocabulary: fuzz::Vocabulary,
    /// The non-200 statuses the vendor is known to answer with, drawn often (200 is drawn most,
    /// and any status from 100 to 599 sometimes).
    pub statuses: &'static [u16],
    /// Which failures must keep the vendor's status.
    pub kept_status: KeptStatus,
    /// The provider name every error must carry, where the adapter stamps it.
    pub provider: Option<&'static str>,
    /// Runs every parser of the adapter on one answer.
    pub parsers: fn(&HttpResponse) -> Outcomes,
}

impl ResponseFuzz {
    /// Runs every parser on `resp` and checks the properties of each outcome.
    ///
    /// # Errors
    ///
    /// A [`TestCaseError`] naming the parser and the property it broke.
    pub fn check_all(&self, resp: &HttpResponse) -> Result<(), TestCaseError> {
        check_outcomes(resp, (self.parsers)(resp), self.kept_status, self.provider)
            .map_err(TestCaseError::fail)
    }

    /// Statuses weighted towards real answers: 200 most, then the vendor's known ones, then any.
    pub fn status(&self) -> impl Strategy<Value = u16> + use<> {
        prop_oneof![
            6 => Just(200u16),
            3 => prop::sample::select(self.statuses.to_vec()),
            1 => 100u16..600,
        ]
    }

    /// Any JSON shaped like the vendor's answers ([`fuzz::keyed_json`]).
    pub fn structured(&self) -> impl Strategy<Value = Value> + use<> {
        fuzz::keyed_json(self.vocabulary)
    }

    /// The documented answers of the adapter at `manifest_dir` (`tests/fixtures/*/*.response.json`
    /// and `*.error.json`): the seeds of [`Self::mutated`] and the cases of
    /// [`Self::check_documented`].
    pub fn documented(manifest_dir: &str) -> Vec<Value> {
        fuzz::documented_answers(&fixtures::dir(manifest_dir))
    }

    /// A documented answer with up to four nodes replaced by random JSON.
    pub fn mutated(&self, manifest_dir: &str) -> impl Strategy<Value = Value> + use<> {
        fuzz::mutated(Self::documented(manifest_dir), self.structured())
    }

    /// The documented answers as they are, under a success, a client-error, a rate-limit and a
    /// server-error status, pass the same checks.
    ///
    /// # Panics
    ///
    /// With the answer and the broken property, on the first one that fails.
    pub fn check_documented(&self, manifest_dir: &str) {
        for body in Self::documented(manifest_dir) {
            for status in [200, 400, 429, 503] {
                let resp = HttpResponse::json_body(status, &body);
                if let Err(e) = self.check_all(&resp) {
                    panic!("{body}: {e}");
                }
            }
        }
    }
}

/// The properties (see the module) of every parser's outcome on `resp`: `kept_status` says
/// which failures must keep the status, `provider` the name every error must carry.
///
/// # Errors
///
/// The first broken property, naming the parser.
pub fn check_outcomes(
    resp: &HttpResponse,
    outcomes: Outcomes,
    kept_status: KeptStatus,
    provider: Option<&str>,
) -> Result<(), String> {
    for (name, outcome) in outcomes {
        let Err(e) = outcome else {
            if resp.is_success() {
                continue;
            }
            return Err(format!("{name}: HTTP {} taken for a success", resp.status));
        };
        if matches!(e.kind(), ErrorKind::Unsupported | ErrorKind::ConfigInvalid) {
            return Err(format!("{name}: {e:?}"));
        }
        if let Some(provider) = provider
            && e.provider() != Some(provider)
        {
            return Err(format!("{name}: not stamped `{provider}`: {e:?}"));
        }
        let must_keep = kept_status == KeptStatus::Always || !resp.is_success();
        if must_keep && e.vendor().and_then(|v| v.status) != Some(resp.status) {
            return Err(format!("{name}: raw answer not kept: {e:?}"));
        }
    }
    Ok(())
}

/// One cargo-fuzz input checked as an answer: the first two bytes choose the HTTP status
/// (100–599), the rest is the body, and [`check_outcomes`] judges every parser's outcome. The
/// same properties as the proptest harness, so `fuzz/fuzz_targets/<vendor>_response.rs` is one
/// call.
///
/// # Panics
///
/// With the broken property, which is how libFuzzer learns of a finding.
pub fn fuzz_answer(
    data: &[u8],
    parsers: fn(&HttpResponse) -> Outcomes,
    kept_status: KeptStatus,
    provider: Option<&str>,
) {
    let [a, b, body @ ..] = data else {
        return;
    };
    let resp = HttpResponse::new(100 + u16::from_le_bytes([*a, *b]) % 500, body.to_vec());
    if let Err(e) = check_outcomes(&resp, parsers(&resp), kept_status, provider) {
        panic!("{e}");
    }
}

/// Expands to an adapter's four response-fuzz tests (`arbitrary_bytes`, `structured_json`,
/// `mutated_documented_answers`, 384 cases each, and `the_documented_answers_pass_the_same_checks`)
/// over a [`ResponseFuzz`](crate::fuzz_responses::ResponseFuzz) constant, so the adapter's file
/// holds only what is its own. Proptest's regression files stay next to the adapter's test.
///
/// `fuzz_responses!(SPEC, without_fixtures)` expands only the first two, for a new adapter
/// (`cargo xtask new-adapter`) that has no `tests/fixtures/` yet: the fixture tests would
/// otherwise fail on an empty seed list rather than pass on nothing.
#[macro_export]
macro_rules! fuzz_responses {
    ($spec:expr, without_fixtures) => {
        $crate::__macro_support::proptest::proptest! {
            #![proptest_config($crate::fuzz::cases(384))]

            #[test]
            fn arbitrary_bytes(
                status in $spec.status(),
                body in $crate::fuzz::bytes(400),
            ) {
                $spec.check_all(&$crate::__macro_support::HttpResponse::new(status, body))?;
            }

            #[test]
            fn structured_json(status in $spec.status(), body in $spec.structured()) {
                $spec.check_all(&$crate::__macro_support::HttpResponse::json_body(status, &body))?;
            }
        }
    };
    ($spec:expr) => {
        $crate::fuzz_responses!($spec, without_fixtures);

        $crate::__macro_support::proptest::proptest! {
            #![proptest_config($crate::fuzz::cases(384))]

            #[test]
            fn mutated_documented_answers(
                status in $spec.status(),
                body in $spec.mutated(env!("CARGO_MANIFEST_DIR")),
            ) {
                $spec.check_all(&$crate::__macro_support::HttpResponse::json_body(status, &body))?;
            }
        }

        #[test]
        fn the_documented_answers_pass_the_same_checks() {
            $spec.check_documented(env!("CARGO_MANIFEST_DIR"));
        }
    };
}
