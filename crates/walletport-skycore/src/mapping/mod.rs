//! The sans-IO heart of the adapter: for each Skycore action a pure `build_*_request` and
//! `parse_*_response`, and the mapping of Skycore's answers to [`walletport_core::Error`].
//!
//! - [`pass`]: `generatepass`, `updatepassdata`, `getpassdata` and the domain ↔ pass mapping.
//! - [`template`]: `getpasstemplate`, `createPassTemplate`, `updatePassTemplate`.
//! - [`link`]: `createPassIssuanceLink`, `updatePassIssuanceLink`.

pub mod link;
pub mod pass;
pub mod points;
pub mod read;
pub mod template;
pub mod upsert;

use secrecy::ExposeSecret;
use serde_json::Map;
use walletport_core::{Error, ErrorKind, Result, Retry, VendorError};
use walletport_http::{HttpRequest, HttpResponse};

use crate::PROVIDER;
use crate::answer::{self, Answer, Members};
use crate::config::SkycoreConfig;
use crate::wire::{Envelope, text};

/// The `action` names, spelled as the vendor document spells them (Skycore compares them
/// case-insensitively).
pub mod action {
    /// Issue a pass.
    pub const GENERATE_PASS: &str = "generatepass";
    /// Update a pass.
    pub const UPDATE_PASS_DATA: &str = "updatepassdata";
    /// Read a pass.
    pub const GET_PASS_DATA: &str = "getpassdata";
    /// Read a template.
    pub const GET_PASS_TEMPLATE: &str = "getpasstemplate";
    /// Create a template.
    pub const CREATE_PASS_TEMPLATE: &str = "createPassTemplate";
    /// Update a template.
    pub const UPDATE_PASS_TEMPLATE: &str = "updatePassTemplate";
    /// Create an issuance link.
    pub const CREATE_ISSUANCE_LINK: &str = "createPassIssuanceLink";
    /// Update an issuance link.
    pub const UPDATE_ISSUANCE_LINK: &str = "updatePassIssuanceLink";
}

/// Operation names of the Skycore-specific calls (issuance links), for errors and traces.
pub mod op {
    /// `createPassIssuanceLink`.
    pub const ISSUANCE_LINK_CREATE: &str = "issuance_link.create";
    /// `updatePassIssuanceLink`.
    pub const ISSUANCE_LINK_UPDATE: &str = "issuance_link.update";
    /// The start-up check (`getpasstemplate` of the configured template).
    pub const CHECK: &str = "provider.check";
}

/// The documented error codes and what they mean independent of Skycore.
pub fn kind_of_code(code: &str) -> Option<(ErrorKind, Retry)> {
    let permanent = Retry::Permanent;
    match code.trim().to_ascii_uppercase().as_str() {
        // Invalid template id / invalid pass-id.
        "E802" | "E808" => Some((ErrorKind::NotFound, permanent)),
        // Internal errors: "the pass was not generated / updated". Temporary here: a resent
        // generatepass meets its own pass and reads it back, a resent update without a push sets
        // the same values. The client makes them permanent for a request that is not idempotent
        // (an update carrying a push or a rename), which is never sent twice.
        "E809" | "E830" => Some((
            ErrorKind::VendorUnavailable,
            Retry::Temporary { after: None },
        )),
        // Invalid field value / invalid pass variables.
        "E922" | "E1543" => Some((ErrorKind::InvalidInput, permanent)),
        _ => None,
    }
}

/// The error of a Skycore failure answer: the documented codes mapped, a duplicate pass-id
/// recognised by its message, anything else `Unexpected`; code and message always kept raw.
pub fn failure(
    status: u16,
    code: Option<String>,
    message: Option<String>,
    operation: &'static str,
) -> Error {
    let said = message.clone().unwrap_or_default();
    let (kind, retry) = match code.as_deref().and_then(kind_of_code) {
        Some(mapped) => mapped,
        None if said.to_ascii_lowercase().contains("already exist") => {
            (ErrorKind::AlreadyExists, Retry::Permanent)
        }
        None => (ErrorKind::Unexpected, Retry::Permanent),
    };
    let what = match &code {
        Some(c) => format!("Skycore refused the request ({c})"),
        None => "Skycore refused the request".to_owned(),
    };
    Error::new(kind, what)
        .with_retry(retry)
        .with_provider(PROVIDER)
        .with_operation(operation)
        .with_vendor(VendorError {
            status: Some(status),
            code,
            message,
        })
}

/// Reads an answer: transport-level statuses first (401/403, 429, 5xx), then the envelope's
/// case-insensitive `status`. A success returns the envelope; a failure (also inside HTTP 200)
/// is an error.
pub fn parse_envelope(response: &HttpResponse, operation: &'static str) -> Result<Envelope> {
    parse_answer(response, operation, Map::new()).map(Envelope::from)
}

/// [`parse_envelope`] keeping only `members` of the answer (decoded in one pass, borrowing from
/// the body): what every `parse_*_response` uses.
pub(crate) fn parse_answer<'de, M: Members<'de>>(
    response: &'de HttpResponse,
    operation: &'static str,
    members: M,
) -> Result<Answer<M>> {
    let status = response.status;
    let envelope = answer::decode(&response.body, members);
    let kind = match status {
        401 | 403 => Some(ErrorKind::Unauthenticated),
        429 => Some(ErrorKind::RateLimited),
        500..=599 => Some(ErrorKind::VendorUnavailable),
        _ => None,
    };
    if let Some(kind) = kind {
        let mut vendor = response.vendor_error();
        if let Some(env) = &envelope {
            vendor.code = env.error_code.as_ref().and_then(text);
            vendor.message = env.error_message.clone().or(vendor.message);
        }
        let message = format!("Skycore answered HTTP {status}");
        return Err(Error::new(kind, message)
            .with_vendor(vendor)
            .with_provider(PROVIDER)
            .with_operation(operation));
    }
    let Some(envelope) = envelope else {
        return Err(unexpected(
            response,
            operation,
            format!("Skycore answered HTTP {status} with a body that is not a JSON object"),
        ));
    };
    let word = envelope.status.as_deref().unwrap_or_default();
    if word.eq_ignore_ascii_case("success") && response.is_success() {
        return Ok(envelope);
    }
    if word.eq_ignore_ascii_case("failure") || !response.is_success() {
        let code = envelope.error_code.as_ref().and_then(text);
        return Err(failure(
            status,
            code,
            envelope.error_message.clone(),
            operation,
        ));
    }
    Err(unexpected(
        response,
        operation,
        format!("Skycore answered an unknown status `{word}`"),
    ))
}

/// An answer Skycore should not have sent (a member the call needs is missing, an unknown
/// status): [`ErrorKind::Unexpected`] with the response's vendor details, for `operation`.
pub(crate) fn unexpected(
    response: &HttpResponse,
    operation: &'static str,
    message: impl Into<String>,
) -> Error {
    response
        .error(ErrorKind::Unexpected, message)
        .with_provider(PROVIDER)
        .with_operation(operation)
}

/// A POST of a typed `body` (which carries `action` and serialises its keys in the order the
/// map-built bodies had: sorted), straight to bytes without an intermediate JSON map.
pub(crate) fn post_body(
    config: &SkycoreConfig,
    operation: &'static str,
    body: &impl serde::Serialize,
    idempotent: bool,
) -> Result<HttpRequest> {
    Ok(
        HttpRequest::post_json(operation, config.endpoint.clone(), body)?
            .sensitive_header("X-Api-Key", config.api_key.expose_secret())
            .idempotent(idempotent),
    )
}

/// Every response parser of the adapter on `resp`, each outcome named and its value dropped.
///
/// Why here: the fuzz target (`fuzz/fuzz_targets/skycore_response.rs`) and the proptest fuzz
/// test (`tests/fuzz_responses.rs`) check the same list, so a parser added here is fuzzed by
/// both.
pub fn parse_with_every_parser(resp: &HttpResponse) -> Vec<(&'static str, Result<()>)> {
    let config = SkycoreConfig::new("https://api.example.invalid/", "fuzz-api-key", "t-1");
    let sent = walletport_core::Template {
        id: None,
        name: "fuzz".into(),
        layout: None,
        fields: Vec::new(),
        settings: Map::new(),
    };
    let write = |create| {
        template::parse_template_write_response(resp, sent.id.as_ref(), create)
            .and_then(|w| w.into_template(sent.clone(), &config, create))
            .map(drop)
    };
    let op = "fuzz";
    vec![
        ("envelope", parse_envelope(resp, op).map(drop)),
        (
            "generatepass",
            pass::parse_generatepass_response(resp, op).map(drop),
        ),
        (
            "updatepassdata",
            pass::parse_updatepassdata_response(resp, op).map(drop),
        ),
        (
            "getpassdata",
            pass::parse_getpassdata_response(resp, op).map(drop),
        ),
        (
            "issuance_link",
            link::parse_issuance_link_response(resp, op).map(drop),
        ),
        ("template_create", write(true)),
        ("template_update", write(false)),
        (
            "gettemplate",
            template::parse_getpasstemplate_response(resp, &config).map(drop),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> HttpResponse {
        HttpResponse::new(status, body.to_owned())
    }

    #[test]
    fn status_is_case_insensitive_and_codes_map_to_kinds() {
        assert!(
            parse_envelope(
                &answer(200, r#"{"status":"success","pass-id":"p"}"#),
                "card.get"
            )
            .is_ok()
        );
        let cases = [
            ("FAILURE", "E808", ErrorKind::NotFound, false),
            ("Failure", "E802", ErrorKind::NotFound, false),
            ("failure", "E809", ErrorKind::VendorUnavailable, true),
            ("Failure", "E830", ErrorKind::VendorUnavailable, true),
            ("Failure", "E922", ErrorKind::InvalidInput, false),
            ("Failure", "E1543", ErrorKind::InvalidInput, false),
            ("Failure", "E4711", ErrorKind::Unexpected, false),
        ];
        for (word, code, kind, temporary) in cases {
            let body = format!(
                r#"{{"status":"{word}","error-code":"{code}","error-message":"said {code}"}}"#
            );
            let e = parse_envelope(&answer(200, &body), "card.get").expect_err(code);
            assert_eq!(e.kind(), kind, "{code}");
            assert_eq!(e.is_temporary(), temporary, "{code}");
            let v = e.vendor().cloned().unwrap_or_default();
            assert_eq!(v.code.as_deref(), Some(code));
            assert_eq!(v.message, Some(format!("said {code}")));
            assert_eq!(v.status, Some(200));
            assert_eq!(e.provider(), Some("skycore"));
        }
    }

    #[test]
    fn transport_statuses_and_garbage() {
        let e = parse_envelope(
            &answer(
                401,
                r#"{"status":"Failure","error-code":"E401","error-message":"bad key"}"#,
            ),
            "x",
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthenticated);
        assert_eq!(
            e.vendor().and_then(|v| v.code.clone()).as_deref(),
            Some("E401")
        );
        assert_eq!(
            parse_envelope(&answer(503, "down"), "x")
                .unwrap_err()
                .kind(),
            ErrorKind::VendorUnavailable
        );
        assert_eq!(
            parse_envelope(&answer(429, ""), "x").unwrap_err().kind(),
            ErrorKind::RateLimited
        );
        assert_eq!(
            parse_envelope(&answer(200, "<html>"), "x")
                .unwrap_err()
                .kind(),
            ErrorKind::Unexpected
        );
        assert_eq!(
            parse_envelope(&answer(200, r#"{"status":"maybe"}"#), "x")
                .unwrap_err()
                .kind(),
            ErrorKind::Unexpected
        );
        let dup = r#"{"status":"Failure","error-code":"E807","error-message":"The pass-id value already exists."}"#;
        assert_eq!(
            parse_envelope(&answer(200, dup), "x").unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        let numeric = r#"{"status":"Failure","error-code":808,"error-message":"x"}"#;
        assert_eq!(
            parse_envelope(&answer(200, numeric), "x")
                .unwrap_err()
                .vendor()
                .and_then(|v| v.code.clone())
                .as_deref(),
            Some("808")
        );
    }
}
