//! Every Skycore response parser: the first two bytes choose the HTTP status (100–599), the rest
//! is the body. A failure answer (non-2xx) keeps the vendor's status and is never a success.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletport_core::{Result, Template};
use walletport_http::HttpResponse;
use walletport_skycore::SkycoreConfig;
use walletport_skycore::mapping::{self, link, pass, template};

fn check(resp: &HttpResponse, name: &str, outcome: Result<()>) {
    match outcome {
        Ok(()) => assert!(
            resp.is_success(),
            "{name}: HTTP {} taken for success",
            resp.status
        ),
        // A 2xx whose pass data does not decode is `Unexpected` without the vendor's status.
        Err(e) if resp.is_success() => assert_eq!(e.provider(), Some("skycore"), "{e:?}"),
        Err(e) => assert_eq!(
            e.vendor().and_then(|v| v.status),
            Some(resp.status),
            "{name}: {e:?}"
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = 100 + u16::from_le_bytes([data[0], data[1]]) % 500;
    let r = HttpResponse::new(status, data[2..].to_vec());
    let config = SkycoreConfig::new("https://api.example.invalid/", "fuzz-api-key", "t-1");
    let sent = Template {
        id: None,
        name: "fuzz".into(),
        layout: None,
        fields: Vec::new(),
        settings: serde_json::Map::new(),
    };
    check(
        &r,
        "envelope",
        mapping::parse_envelope(&r, "fuzz").map(drop),
    );
    check(
        &r,
        "generatepass",
        pass::parse_generatepass_response(&r, "fuzz").map(drop),
    );
    check(
        &r,
        "updatepassdata",
        pass::parse_updatepassdata_response(&r, "fuzz").map(drop),
    );
    check(
        &r,
        "getpassdata",
        pass::parse_getpassdata_response(&r, "fuzz").map(drop),
    );
    check(
        &r,
        "issuance_link",
        link::parse_issuance_link_response(&r, "fuzz").map(drop),
    );
    check(
        &r,
        "template_write",
        template::parse_template_write_response(&r, &sent, &config, true).map(drop),
    );
    check(
        &r,
        "gettemplate",
        template::parse_getpasstemplate_response(&r, &config).map(drop),
    );
});
