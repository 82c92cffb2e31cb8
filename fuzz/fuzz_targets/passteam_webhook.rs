//! The Passteam webhook body (`POST /hooks/passteam`): any bytes into `parse_webhook` must give
//! an event or an `InvalidInput` error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletport_core::ErrorKind;
use walletport_passteam::{FieldMap, parse_webhook};

fuzz_target!(|data: &[u8]| {
    if let Err(e) = parse_webhook(data, &FieldMap::documented()) {
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    }
});
