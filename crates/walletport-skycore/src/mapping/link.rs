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
use serde_json::{Map, Value, json};
use walletport_core::{ErrorKind, Result};
use walletport_http::{HttpRequest, HttpResponse};

use super::{action, op, parse_envelope, post};
use crate::config::{Layout, SkycoreConfig};
use crate::validate::{self, invalid};

/// `link-status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    /// Passes can be generated.
    Active,
    /// The link is switched off.
    Inactive,
}

/// When a link stops working: an instant and the time zone it is shown in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkExpiry {
    /// `link-expiration-timestamp` (sent as ISO 8601 UTC).
    pub at: DateTime<Utc>,
    /// `link-expiration-timezone`, an IANA name.
    pub time_zone: String,
}

/// AES-CBC-256 encryption of the link's values (`encryption-settings`).
#[derive(Debug, Clone)]
pub struct LinkEncryption {
    /// `secret-key`: 32 alphanumeric characters.
    pub secret_key: SecretString,
    /// `iv`: 16 alphanumeric characters.
    pub iv: SecretString,
}

/// The checksum algorithm of `link-protection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumScope {
    /// Only the query string.
    QueryString,
    /// The whole link.
    FullLink,
}

/// `link-protection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkProtection {
    /// The algorithm.
    pub checksum: Checksum,
    /// What it covers.
    pub applied: ChecksumScope,
}

/// One pass variable of the link (`pass-id`, `loyalty-points-value`, `custom-field-1`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

fn body(link: &IssuanceLink) -> Result<Map<String, Value>> {
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
    let mut b = Map::new();
    b.insert("link-name".into(), link.name.clone().into());
    b.insert("pass-template-id".into(), link.template_id.clone().into());
    if let Some(e) = &link.expires {
        validate::time_zone("link-expiration-timezone", &e.time_zone)?;
        b.insert(
            "link-expiration-timestamp".into(),
            e.at.format("%Y-%m-%dT%H:%M:%SZ").to_string().into(),
        );
        b.insert(
            "link-expiration-timezone".into(),
            e.time_zone.clone().into(),
        );
    }
    if let Some(n) = link.generation_limit {
        b.insert("link-generation-limit".into(), n.into());
    }
    if let Some(s) = link.status {
        let s = match s {
            LinkStatus::Active => "ACTIVE",
            LinkStatus::Inactive => "INACTIVE",
        };
        b.insert("link-status".into(), s.into());
    }
    if let Some(u) = link.update_pass_data {
        b.insert("update-pass-data".into(), u.to_string().into());
    }
    if let Some(enc) = &link.encryption {
        alnum_exactly("secret-key", &enc.secret_key, 32)?;
        alnum_exactly("iv", &enc.iv, 16)?;
        b.insert(
            "encryption-settings".into(),
            json!({
                "encryption-name": "AES-CBC",
                "secret-key": enc.secret_key.expose_secret(),
                "iv": enc.iv.expose_secret(),
            }),
        );
    }
    if let Some(p) = link.protection {
        let checksum = match p.checksum {
            Checksum::Crc32 => "CRC32",
            Checksum::Sha256 => "SHA256",
            Checksum::Sha384 => "SHA384",
            Checksum::Sha512 => "SHA512",
        };
        let applied = match p.applied {
            ChecksumScope::QueryString => "query-string",
            ChecksumScope::FullLink => "full-link",
        };
        b.insert(
            "link-protection".into(),
            json!({"checksum": checksum, "checksum-applied": applied}),
        );
    }
    let vars: Map<String, Value> = link
        .variables
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                json!({"is-required": v.required, "value-encryption": v.encrypted}),
            )
        })
        .collect();
    b.insert("pass-variables".into(), Value::Object(vars));
    Ok(b)
}

/// `createPassIssuanceLink` (creates a new link each time: not idempotent).
pub fn build_createpassissuancelink_request(
    link: &IssuanceLink,
    config: &SkycoreConfig,
) -> Result<HttpRequest> {
    post(
        config,
        op::ISSUANCE_LINK_CREATE,
        action::CREATE_ISSUANCE_LINK,
        body(link)?,
        false,
    )
}

/// `updatePassIssuanceLink` of link `id` (sets the whole state: idempotent).
pub fn build_updatepassissuancelink_request(
    id: &str,
    link: &IssuanceLink,
    config: &SkycoreConfig,
) -> Result<HttpRequest> {
    validate::pass_id("issuance-link-id", id)?;
    let mut b = Map::new();
    b.insert("issuance-link-id".into(), id.into());
    b.extend(body(link)?);
    post(
        config,
        op::ISSUANCE_LINK_UPDATE,
        action::UPDATE_ISSUANCE_LINK,
        b,
        true,
    )
}

/// The answer to either link call.
pub fn parse_issuance_link_response(
    response: &HttpResponse,
    operation: &'static str,
) -> Result<IssuanceLinkInfo> {
    let env = parse_envelope(response, operation)?;
    match (
        env.get_text("pass-issuance-link-template-id"),
        env.get_text("preview-url"),
    ) {
        (Some(id), Some(preview_url)) => Ok(IssuanceLinkInfo { id, preview_url }),
        _ => Err(response
            .error(
                ErrorKind::Unexpected,
                "Skycore answered without the link id or preview URL",
            )
            .with_provider(crate::PROVIDER)
            .with_operation(operation)),
    }
}
