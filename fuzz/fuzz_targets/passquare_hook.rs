//! The Passquare CRM hook body (`POST /hooks/passquare`): any bytes into `parse_hook` must give
//! a call or an `InvalidInput` error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletport_core::{ErrorKind, HookContext};
use walletport_passquare::PassquareHooksConfig;
use walletport_passquare::hooks::parse_hook;

fuzz_target!(|data: &[u8]| {
    let config = PassquareHooksConfig::with_crm_key("fuzz-crm-key");
    if let Err(e) = parse_hook(data, HookContext::default(), &config) {
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    }
});
