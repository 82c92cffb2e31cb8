//! Fuzzing every Skycore response parser in the normal test suite (the proptest equivalent of
//! `fuzz/fuzz_targets/skycore_response.rs`): arbitrary bytes under any status, structure-aware
//! JSON (envelopes with the real keys — `status`, `error-code`, `pass-data`, `pass-template`, ...
//! — holding random value types), and the documented answers (`tests/fixtures/*/*.response.json`,
//! `*.error.json`) with random values swapped in at random places.
//!
//! Properties: no parser panics; every failure is a typed `walletport_core::Error` stamped with
//! the provider; a failure answer (non-2xx) keeps the vendor's status in `vendor()`; a non-2xx
//! answer is never taken for a success.

use walletport_skycore::mapping;
use walletport_testkit::fuzz;
use walletport_testkit::fuzz_responses::{KNOWN_STATUSES, KeptStatus, ResponseFuzz};

/// Keys of Skycore's envelopes, pass data and templates.
const KEYS: &[&str] = &[
    "status",
    "error-code",
    "error-message",
    "pass-data",
    "pass-id",
    "pass-install-url",
    "pass-template",
    "pass-template-id",
    "pass-template-name",
    "pass-template-type",
    "pass-type",
    "pass-issuance-link-template-id",
    "pass-name",
    "pass-status",
    "pass-issuer",
    "preview-url",
    "tracking-id",
    "account-id",
    "account-name",
    "barcode-text",
    "barcode-value",
    "card-issuer",
    "custom-field-1",
    "description",
    "expiration-timestamp",
    "expiration-timezone",
    "home-page-uri",
    "home-page-URI",
    "ibeacons",
    "info-module",
    "key",
    "latitude",
    "longitude",
    "link1",
    "link1-URI",
    "link2",
    "link2-URI",
    "logo-url",
    "loyalty-points",
    "major",
    "minor",
    "message1",
    "message2",
    "message3",
    "organization",
    "program-logo",
    "program-name",
    "proximity-uuid",
    "relevant-locations",
    "relevant-text",
    "rewards-tier",
    "secondary-loyalty-points",
    "secondary-rewards-tier",
    "strip-image",
    "strip-url",
    "text-module",
];

/// Skycore's strings on the parsers' edges: statuses in every case, error codes, pass types and
/// statuses, its timestamp form and time zones real and not.
const EDGE_STRINGS: &[&str] = &[
    "Success",
    "SUCCESS",
    "success",
    "Failure",
    "FAILURE",
    "E922",
    "E1543",
    "E100",
    "already exists",
    "loyalty-card",
    "loyalty-card-type2",
    "voided",
    "active",
    "1-2-2019 4.50pm",
    "Europe/Oslo",
    "Mars/Olympus",
];

/// Passes the vendor's specifics to the shared harness (`walletport_testkit::fuzz_responses`).
const SPEC: ResponseFuzz = ResponseFuzz {
    vocabulary: fuzz::Vocabulary {
        keys: KEYS,
        other_keys: "[a-z-]{1,12}",
        edge_strings: EDGE_STRINGS,
    },
    statuses: KNOWN_STATUSES,
    kept_status: KeptStatus::OnFailureAnswers,
    provider: Some("skycore"),
    parsers: mapping::parse_with_every_parser,
};

walletport_testkit::fuzz_responses!(SPEC);
