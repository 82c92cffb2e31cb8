//! The sans-IO heart: pure `build_*_request` and `parse_*_response` functions per Passteam method.
//!
//! Every request is `POST /oapi/v1/<method>` with a form body ([`crate::encoding`]) and, when the
//! config carries a token, `Authorization: <token>` (a fetched token is added by the client with
//! [`authorize`]). Every answer goes through [`parse_envelope`], which turns `error: true`, error
//! codes and the documented messages into [`walletport_core::Error`]s ([`errors`]).

pub mod card;
pub mod dates;
pub mod errors;
pub mod ops;
pub mod push;
pub mod template;

use secrecy::ExposeSecret;
use serde_json::Value;
use walletport_core::Result;
use walletport_http::{HttpRequest, HttpResponse};

use crate::config::PassteamConfig;
use crate::encoding::FormBody;
use crate::wire::Envelope;
pub use errors::{OnDuplicate, PassteamRateLimit, duplicated_card_ids};

/// The path of API method `method`: `/oapi/v1/<method>`.
pub fn method_path(method: &str) -> String {
    format!("/oapi/v1/{method}")
}

/// `POST /oapi/v1/<method>` with `body` in the configured encoding and the configured token.
pub fn post(
    config: &PassteamConfig,
    operation: &'static str,
    method: &str,
    body: &FormBody,
    idempotent: bool,
) -> HttpRequest {
    let (content_type, bytes) = body.encode(config.encoding);
    let req = HttpRequest::post(operation, method_path(method))
        .header("Content-Type", &content_type)
        .body(bytes)
        .idempotent(idempotent);
    match &config.token {
        Some(token) => authorize(req, token.expose_secret()),
        None => req,
    }
}

/// Sets `Authorization: <token>` (no scheme, as Passteam wants), replacing any earlier value.
pub fn authorize(mut req: HttpRequest, token: &str) -> HttpRequest {
    req.headers.remove(http::header::AUTHORIZATION);
    req.header("Authorization", token)
}

/// Checks the envelope and returns its `result`; errors per [`errors::envelope_error`].
pub fn parse_envelope(resp: &HttpResponse, on_duplicate: OnDuplicate) -> Result<Value> {
    let envelope: Option<Envelope> = serde_json::from_slice(&resp.body).ok();
    if let Some(error) = errors::envelope_error(resp, envelope.as_ref(), on_duplicate) {
        return Err(error);
    }
    match envelope {
        Some(e) => Ok(e.result),
        None => Err(resp.error(
            walletport_core::ErrorKind::Unexpected,
            "Passteam's answer is not the documented JSON envelope",
        )),
    }
}

/// Deserializes a `result` into `T`, as `Unexpected` (keeping the body) when it does not fit.
pub fn result_as<T: serde::de::DeserializeOwned>(resp: &HttpResponse, result: Value) -> Result<T> {
    serde_json::from_value(result).map_err(|e| {
        resp.error(
            walletport_core::ErrorKind::Unexpected,
            format!("Passteam's result is not the documented shape: {e}"),
        )
    })
}

/// Every response parser of the adapter on `resp`, each outcome named and its value dropped.
///
/// Why here: the fuzz target (`fuzz/fuzz_targets/passteam_response.rs`) and the proptest fuzz
/// test (`tests/fuzz_responses.rs`) check the same list, so a parser added here is fuzzed by
/// both.
pub fn parse_with_every_parser(resp: &HttpResponse) -> Vec<(&'static str, Result<()>)> {
    vec![
        (
            "envelope/exists",
            parse_envelope(resp, OnDuplicate::AlreadyExists).map(drop),
        ),
        (
            "envelope/conflict",
            parse_envelope(resp, OnDuplicate::Conflict).map(drop),
        ),
        ("getcard", ops::parse_getcard_response(resp).map(drop)),
        ("createcard", ops::parse_createcard_response(resp).map(drop)),
        ("updatecard", ops::parse_updatecard_response(resp).map(drop)),
        ("deletecard", ops::parse_deletecard_response(resp)),
        ("page", ops::parse_page_response(resp).map(drop)),
        (
            "checkvariable",
            ops::parse_checkvariable_response(resp).map(drop),
        ),
        ("sendpush", push::parse_sendpush_response(resp)),
        ("distribute", push::parse_distribute_response(resp)),
        (
            "getatoken",
            template::parse_getatoken_response(resp).map(drop),
        ),
        (
            "gettemplate",
            template::parse_gettemplate_response(resp).map(drop),
        ),
        (
            "listtemplates",
            template::parse_listtemplates_response(resp).map(drop),
        ),
    ]
}
