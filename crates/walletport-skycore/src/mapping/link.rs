//! Issuance links (`createPassIssuanceLink`, `updatePassIssuanceLink`): URLs that let customers
//! generate their own pass from query parameters, optionally AES-CBC-256 encrypted and
//! checksummed.
//!
//! A Skycore-specific API: the core's `CardPort` issues a card for a *known* customer, while an
//! issuance link is a template-level, self-service artefact (name, expiry, generation limit,
//! encryption key) with no customer and no card behind it. Bending `CardPort` to carry it would
//! force every other provider to answer it, and no other vendor has the concept.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use walletport_core::Result;
use walletport_http::{HttpRequest, HttpResponse};

use super::{action, op, parse_answer, post_body, unexpected};
use crate::answer::Picked;
use crate::config::{Layout, SkycoreConfig};
use crate::validate::{self, invalid};

/// `link-status`; `active` / `inactive` in an [`IssuanceLinkSpec`](crate::IssuanceLinkSpec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    /// Passes can be generated.
    Active,
    /// The link is switched off.
    Inactive,
}

/// When a link stops working: an instant and the time zone it is shown in.
///
/// Read from an [`IssuanceLinkSpec`](crate::IssuanceLinkSpec), as are the link types below; their
/// `expecting` keeps the wording of the spec's error messages (`expected struct ExpirySpec`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(expecting = "struct ExpirySpec", deny_unknown_fields)]
pub struct LinkExpiry {
    /// `link-expiration-timestamp` (sent as ISO 8601 UTC).
    pub at: DateTime<Utc>,
    /// `link-expiration-timezone`, an IANA name.
    pub time_zone: String,
}

/// AES-CBC-256 encryption of the link's values (`encryption-settings`).
#[derive(Debug, Clone, Deserialize)]
#[serde(expecting = "struct EncryptionSpec", deny_unknown_fields)]
pub struct LinkEncryption {
    /// `secret-key`: 32 alphanumeric characters.
    pub secret_key: SecretString,
    /// `iv`: 16 alphanumeric characters.
    pub iv: SecretString,
}

/// The checksum algorithm of `link-protection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Checksum {
    /// CRC32.
    Crc32,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// What part of the link the checksum covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksumScope {
    /// Only the query string.
    QueryString,
    /// The whole link.
    FullLink,
}

/// `link-protection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(expecting = "struct ProtectionSpec", deny_unknown_fields)]
pub struct LinkProtection {
    /// The algorithm.
    pub checksum: Checksum,
    /// What it covers.
    pub applied: ChecksumScope,
}

/// One pass variable of the link (`pass-id`, `loyalty-points-value`, `custom-field-1`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(expecting = "struct VariableSpec", default, deny_unknown_fields)]
pub struct PassVariable {
    /// `is-required`.
    pub required: bool,
    /// `value-encryption`: the value arrives encrypted.
    pub encrypted: bool,
}

/// An issuance link to create, or the new state of one to update.
#[derive(Debug, Clone)]
pub struct IssuanceLink {
    /// `link-name`.
    pub name: String,
    /// `pass-template-id`: the template passes are generated from.
    pub template_id: String,
    /// The template's layout, when known (custom-field variables need layout 2).
    pub template_layout: Option<Layout>,
    /// `link-expiration-timestamp` + `link-expiration-timezone`.
    pub expires: Option<LinkExpiry>,
    /// `link-generation-limit`: most passes generated; unlimited when `None`.
    pub generation_limit: Option<u64>,
    /// `link-status`.
    pub status: Option<LinkStatus>,
    /// `update-pass-data`: the link also updates existing passes.
    pub update_pass_data: Option<bool>,
    /// `encryption-settings`.
    pub encryption: Option<LinkEncryption>,
    /// `link-protection`.
    pub protection: Option<LinkProtection>,
    /// `pass-variables` (at least one).
    pub variables: BTreeMap<String, PassVariable>,
}

impl IssuanceLink {
    /// A link named `name` for `template_id` with the given variables and nothing else set.
    pub fn new(
        name: impl Into<String>,
        template_id: impl Into<String>,
        variables: BTreeMap<String, PassVariable>,
    ) -> Self {
        Self {
            name: name.into(),
            template_id: template_id.into(),
            template_layout: None,
            expires: None,
            generation_limit: None,
            status: None,
            update_pass_data: None,
            encryption: None,
            protection: None,
            variables,
        }
    }
}

/// What Skycore answers for a created or updated link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuanceLinkInfo {
    /// `pass-issuance-link-template-id`: the id to update the link by.
    pub id: String,
    /// `preview-url`: the link with `{ Parameter Value }` placeholders.
    pub preview_url: String,
}

fn alnum_exactly(field: &str, secret: &SecretString, len: usize) -> Result<()> {
    let s = secret.expose_secret();
    if s.len() == len && s.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        // The value is a secret: never echoed.
        Err(invalid(
            field,
            format!("must be exactly {len} alphanumeric characters"),
        ))
    }
}

/// The checks Skycore's document specifies for a link, in the order they report.
fn check(link: &IssuanceLink) -> Result<()> {
    if link.name.trim().is_empty() {
        return Err(invalid("link-name", "must not be empty"));
    }
    validate::pass_id("pass-template-id", &link.template_id)?;
    if link.variables.is_empty() {
        return Err(invalid(
            "pass-variables",
            "must define at least one variable",
        ));
    }
    for name in link.variables.keys() {
        let well_formed = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !well_formed {
            return Err(invalid(
                "pass-variables",
                format!("has a malformed variable name `{name}`"),
            ));
        }
        if name.starts_with("custom-field-") && link.template_layout == Some(Layout::One) {
            return Err(invalid(
                name,
                "is only available on layout 2 (loyalty-card-type2) templates",
            ));
        }
    }
    if let Some(e) = &link.expires {
        validate::time_zone("link-expiration-timezone", &e.time_zone)?;
    }
    if let Some(enc) = &link.encryption {
        alnum_exactly("secret-key", &enc.secret_key, 32)?;
        alnum_exactly("iv", &enc.iv, 16)?;
    }
    Ok(())
}

/// `encryption-settings` (keys sorted).
#[derive(Serialize)]
struct EncryptionBody<'a> {
    #[serde(rename = "encryption-name")]
    name: &'static str,
    iv: &'a str,
    #[serde(rename = "secret-key")]
    secret_key: &'a str,
}

/// `link-protection` (keys sorted).
#[derive(Serialize)]
struct ProtectionBody {
    checksum: &'static str,
    #[serde(rename = "checksum-applied")]
    applied: &'static str,
}

/// One of `pass-variables` (keys sorted).
#[derive(Serialize)]
struct VariableBody {
    #[serde(rename = "is-required")]
    required: bool,
    #[serde(rename = "value-encryption")]
    encrypted: bool,
}

/// `pass-variables`, in the map's (sorted) order.
struct Variables<'a>(&'a BTreeMap<String, PassVariable>);

impl Serialize for Variables<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| {
            let body = VariableBody {
                required: v.required,
                encrypted: v.encrypted,
            };
            (k, body)
        }))
    }
}

/// A create/update link body, keys in sorted order as the map-built body had them.
#[derive(Serialize)]
struct LinkBody<'a> {
    action: &'static str,
    #[serde(
        rename = "encryption-settings",
        skip_serializing_if = "Option::is_none"
    )]
    encryption: Option<EncryptionBody<'a>>,
    #[serde(rename = "issuance-link-id", skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(
        rename = "link-expiration-timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    expires_at: Option<String>,
    #[serde(
        rename = "link-expiration-timezone",
        skip_serializing_if = "Option::is_none"
    )]
    time_zone: Option<&'a str>,
    #[serde(
        rename = "link-generation-limit",
        skip_serializing_if = "Option::is_none"
    )]
    generation_limit: Option<u64>,
    #[serde(rename = "link-name")]
    name: &'a str,
    #[serde(rename = "link-protection", skip_serializing_if = "Option::is_none")]
    protection: Option<ProtectionBody>,
    #[serde(rename = "link-status", skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    #[serde(rename = "pass-template-id")]
    template_id: &'a str,
    #[serde(rename = "pass-variables")]
    variables: Variables<'a>,
    #[serde(rename = "update-pass-data", skip_serializing_if = "Option::is_none")]
    update_pass_data: Option<&'static str>,
}

/// The checked body of `link` (with `issuance-link-id` for an update).
fn body<'a>(
    action: &'static str,
    id: Option<&'a str>,
    link: &'a IssuanceLink,
) -> Result<LinkBody<'a>> {
    check(link)?;
    Ok(LinkBody {
        action,
        encryption: link.encryption.as_ref().map(|enc| EncryptionBody {
            name: "AES-CBC",
            iv: enc.iv.expose_secret(),
            secret_key: enc.secret_key.expose_secret(),
        }),
        id,
        expires_at: link
            .expires
            .as_ref()
            .map(|e| e.at.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        time_zone: link.expires.as_ref().map(|e| e.time_zone.as_str()),
        generation_limit: link.generation_limit,
        name: &link.name,
        protection: link.protection.map(|p| ProtectionBody {
            checksum: match p.checksum {
                Checksum::Crc32 => "CRC32",
                Checksum::Sha256 => "SHA256",
                Checksum::Sha384 => "SHA384",
                Checksum::Sha512 => "SHA512",
            },
            applied: match p.applied {
                ChecksumScope::QueryString => "query-string",
                ChecksumScope::FullLink => "full-link",
            },
        }),
        status: link.status.map(|s| match s {
            LinkStatus::Active => "ACTIVE",
            LinkStatus::Inactive => "INACTIVE",
        }),
        template_id: &link.template_id,
        variables: Variables(&link.variables),
        update_pass_data: link
            .update_pass_data
            .map(|u| if u { "true" } else { "false" }),
    })
}

/// `createPassIssuanceLink` (creates a new link each time: not idempotent).
pub fn build_createpassissuancelink_request(
    link: &IssuanceLink,
    config: &SkycoreConfig,
) -> Result<HttpRequest> {
    let body = body(action::CREATE_ISSUANCE_LINK, None, link)?;
    post_body(config, op::ISSUANCE_LINK_CREATE, &body, false)
}

/// `updatePassIssuanceLink` of link `id` (sets the whole state: idempotent).
pub fn build_updatepassissuancelink_request(
    id: &str,
    link: &IssuanceLink,
    config: &SkycoreConfig,
) -> Result<HttpRequest> {
    validate::pass_id("issuance-link-id", id)?;
    let body = body(action::UPDATE_ISSUANCE_LINK, Some(id), link)?;
    post_body(config, op::ISSUANCE_LINK_UPDATE, &body, true)
}

/// The answer to either link call.
pub fn parse_issuance_link_response(
    response: &HttpResponse,
    operation: &'static str,
) -> Result<IssuanceLinkInfo> {
    let picked = Picked::new(["pass-issuance-link-template-id", "preview-url"]);
    let env = parse_answer(response, operation, picked)?.members;
    match (
        env.text("pass-issuance-link-template-id"),
        env.text("preview-url"),
    ) {
        (Some(id), Some(preview_url)) => Ok(IssuanceLinkInfo { id, preview_url }),
        _ => Err(unexpected(
            response,
            operation,
            "Skycore answered without the link id or preview URL",
        )),
    }
}
