//! Every Skycore response parser: the first two bytes choose the HTTP status (100–599), the rest
//! is the body. A failure answer (non-2xx) keeps the vendor's status and is never a success; every
//! failure names the provider.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletport_skycore::mapping::parse_with_every_parser;
use walletport_testkit::fuzz_responses::{KeptStatus, fuzz_answer};

/// Every Skycore error names the provider.
const PROVIDER: Option<&str> = Some("skycore");

fuzz_target!(|data: &[u8]| {
    fuzz_answer(
        data,
        parse_with_every_parser,
        KeptStatus::OnFailureAnswers,
        PROVIDER,
    );
});
