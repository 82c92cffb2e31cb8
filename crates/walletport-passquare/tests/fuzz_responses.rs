//! Fuzzing every Passquare response parser in the normal test suite (the proptest equivalent of
//! `fuzz/fuzz_targets/passquare_response.rs`): arbitrary bytes under any status, structure-aware
//! JSON (objects with the real answer keys holding random value types), and the documented
//! answers (`tests/fixtures/*/*.response.json`) with random values swapped in at random places.
//!
//! Properties: no parser panics; every failure is a typed `walletport_core::Error` that keeps the
//! vendor's raw answer (`vendor().status` is the HTTP status); and a non-2xx answer is never
//! taken for a success.

use walletport_passquare::mapping;
use walletport_testkit::fuzz;
use walletport_testkit::fuzz_responses::{KNOWN_STATUSES, KeptStatus, ResponseFuzz};

#[path = "support/keys.rs"]
mod keys;

/// Keys of Passquare's answers (and the customer blocks inside them).
const KEYS: &[&str] = walletport_testkit::keys![
    &["success", "error", "message", "app", "balance"],
    keys::ISSUED_CARD,
    &[
        "customer",
        "customers",
        "result",
        "name",
        "uuid",
        "recipients",
        "phone",
        "email",
        "surname",
        "middlename",
        "birthday",
        "cardNumbers",
        "cardTracks",
        "cardInstalls",
        "track",
        "install",
    ],
    keys::LOYALTY,
    &["extra"]
];

/// Passquare's strings on the parsers' edges: flags as text, phones with and without `+`,
/// decimals in every form, both date forms and an impossible date, its error messages.
const EDGE_STRINGS: &[&str] = &[
    "true",
    "false",
    "1",
    "0",
    "yes",
    "+420000000001",
    "420000000001",
    "12,5",
    "79228162514264337593543950336",
    "25.01.1980",
    "1980-01-25",
    "31.02.2001",
    "Too many requests",
    "Invalid app_key",
    "not found",
    "00000000-0000-0000-0000-000000000000",
];

/// Passes the vendor's specifics to the shared harness (`walletport_testkit::fuzz_responses`).
const SPEC: ResponseFuzz = ResponseFuzz {
    vocabulary: fuzz::Vocabulary {
        keys: KEYS,
        other_keys: "[a-z_]{1,10}",
        edge_strings: EDGE_STRINGS,
    },
    statuses: KNOWN_STATUSES,
    kept_status: KeptStatus::Always,
    provider: None,
    parsers: mapping::parse_with_every_parser,
};

walletport_testkit::fuzz_responses!(SPEC);
