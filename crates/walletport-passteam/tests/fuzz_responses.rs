//! Fuzzing every Passteam response parser in the normal test suite (the proptest equivalent of
//! `fuzz/fuzz_targets/passteam_response.rs`): arbitrary bytes under any status, structure-aware
//! JSON (envelopes and results with the real keys holding random value types), and the
//! documented answers (`tests/fixtures/*/*.response.json`, `*.error.json`) with random values
//! swapped in at random places.
//!
//! Properties: no parser panics; every failure is a typed `walletport_core::Error`; a failure
//! answer (any non-2xx) keeps the vendor's status in `vendor()`; and a non-2xx answer is never
//! taken for a success (1xx/3xx included: that was a finding, fixed, pinned by
//! `a_non_2xx_answer_is_never_taken_for_a_success`).

use walletport_http::HttpResponse;
use walletport_passteam::mapping::{self, OnDuplicate};
use walletport_testkit::fuzz;
use walletport_testkit::fuzz_responses::{KeptStatus, ResponseFuzz};

#[path = "support/keys.rs"]
mod keys;

/// Keys of Passteam's envelopes and results.
const KEYS: &[&str] = walletport_testkit::keys![
    &["result", "message", "code", "error", "card", "cards"],
    keys::CARD,
    keys::CARD_META,
    &[
        "pageCount",
        "nextPage",
        "previouslyPage",
        "cardsCount",
        "title",
        "userTitle",
        "type",
        "fields",
        "name",
        "params",
        "unique",
        "required",
        "owner",
        "n",
        "ok",
        "errmsg",
        "messages",
        "token",
        "accessToken",
        "apiKey",
        "cardsIds",
        "cardIds",
        "templates",
        "templateIds",
        "%PHONE%",
        "%BONUS%",
    ]
];

/// Passteam's strings on the parsers' edges: flags and codes as text, dates with times, its
/// rate-limit, duplicate and not-found messages, object ids.
const EDGE_STRINGS: &[&str] = &[
    "true",
    "false",
    "1",
    "0",
    "OK",
    "409",
    "+420000000001",
    "12,5",
    "13.02.2020 12:22:57",
    "You can only make 1000 requests per hour",
    "Duplicated value in cards: 5e451571cea6c6141807b792",
    "Not found",
    "5e424c181dbf0d537c8b4569",
];

/// Passes the vendor's specifics to the shared harness (`walletport_testkit::fuzz_responses`).
const SPEC: ResponseFuzz = ResponseFuzz {
    vocabulary: fuzz::Vocabulary {
        keys: KEYS,
        other_keys: "[a-z_]{1,10}",
        edge_strings: EDGE_STRINGS,
    },
    statuses: &[
        201, 204, 400, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503, 504,
    ],
    kept_status: KeptStatus::OnFailureAnswers,
    provider: None,
    parsers: mapping::parse_with_every_parser,
};

walletport_testkit::fuzz_responses!(SPEC);

/// Found by fuzzing (issue 8), fixed: an unflagged answer with a 1xx or 3xx status (a redirect
/// the client did not follow, a 304) was read as a success; every non-2xx is a failure now.
#[test]
fn a_non_2xx_answer_is_never_taken_for_a_success() {
    for status in [101, 204, 302, 304, 307] {
        let resp = HttpResponse::json_body(
            status,
            &serde_json::json!({"code": 200, "error": false, "message": "OK", "result": true}),
        );
        let outcome = mapping::parse_envelope(&resp, OnDuplicate::Conflict);
        assert_eq!(
            outcome.is_err(),
            status != 204,
            "HTTP {status}: {outcome:?}"
        );
    }
}
