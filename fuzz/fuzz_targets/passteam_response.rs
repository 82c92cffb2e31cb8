//! Every Passteam response parser: the first two bytes choose the HTTP status (100–599), the
//! rest is the body. A failure answer (non-2xx) keeps the vendor's status and is never a success.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletport_passteam::mapping::parse_with_every_parser;
use walletport_testkit::fuzz_responses::{KeptStatus, fuzz_answer};

fuzz_target!(|data: &[u8]| {
    fuzz_answer(
        data,
        parse_with_every_parser,
        KeptStatus::OnFailureAnswers,
        None,
    );
});
