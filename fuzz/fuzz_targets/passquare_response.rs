//! Every Passquare response parser: the first two bytes choose the HTTP status (100–599), the
//! rest is the body. A failure must keep the vendor's status; a non-2xx is never a success.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletport_passquare::mapping::parse_with_every_parser;
use walletport_testkit::fuzz_responses::{KeptStatus, fuzz_answer};

fuzz_target!(|data: &[u8]| {
    fuzz_answer(data, parse_with_every_parser, KeptStatus::Always, None);
});
