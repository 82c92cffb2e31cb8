//! The provider configuration loader: any text into `ProviderConfig::from_toml` (and, when the
//! bytes are JSON, `from_value`) must load or fail with `ConfigInvalid`, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletport::ProviderConfig;
use walletport_core::ErrorKind;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = ProviderConfig::from_toml(&text) {
        assert_eq!(e.kind(), ErrorKind::ConfigInvalid, "{e:?}");
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data)
        && let Err(e) = ProviderConfig::from_value(value)
    {
        assert_eq!(e.kind(), ErrorKind::ConfigInvalid, "{e:?}");
    }
});
