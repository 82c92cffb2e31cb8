//! Issuance links as JSON: the shape the CLI's link files and the gateway's `/api/links` take,
//! turned into the adapter's [`IssuanceLink`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;

use crate::config::{Layout, SkycoreConfig};
use crate::mapping::link::{
    Checksum, ChecksumScope, IssuanceLink, LinkEncryption, LinkExpiry, LinkProtection, LinkStatus,
    PassVariable,
};

/// An issuance link as JSON spells it (snake_case keys; Skycore's own names are in
/// docs/providers/skycore.md): what `walletport card link create --file` reads and what the
/// gateway's `POST /api/links` takes. Unknown keys are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuanceLinkSpec {
    /// The link's name at Skycore.
    pub name: String,
    /// The template passes are generated from; the configured `template_id` when absent.
    #[serde(default)]
    pub template_id: Option<String>,
    /// The template's layout; the configured one when the template is the configured one.
    #[serde(default)]
    pub layout: Option<Layout>,
    /// When the link stops working.
    #[serde(default)]
    pub expires: Option<ExpirySpec>,
    /// The most passes the link may generate.
    #[serde(default)]
    pub generation_limit: Option<u64>,
    /// `active` or `inactive`.
    #[serde(default)]
    pub status: Option<StatusSpec>,
    /// Whether a second visit updates the visitor's pass instead of refusing.
    #[serde(default)]
    pub update_pass_data: Option<bool>,
    /// Encrypted link variables: the AES key and IV (secrets).
    #[serde(default)]
    pub encryption: Option<EncryptionSpec>,
    /// A checksum that protects the link's query string or whole URL.
    #[serde(default)]
    pub protection: Option<ProtectionSpec>,
    /// The variables a visitor's link carries, by name.
    pub variables: BTreeMap<String, VariableSpec>,
}

/// When an issuance link expires.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpirySpec {
    /// The instant.
    pub at: DateTime<Utc>,
    /// The IANA time zone Skycore shows it in.
    pub time_zone: String,
}

/// Whether an issuance link generates passes.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusSpec {
    /// It does.
    Active,
    /// It does not.
    Inactive,
}

/// The AES key and IV of encrypted link variables; never printed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionSpec {
    /// The key.
    pub secret_key: SecretString,
    /// The initialisation vector.
    pub iv: SecretString,
}

/// The checksum algorithm of a protected link.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksumSpec {
    /// CRC-32.
    Crc32,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// What a link's checksum covers.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeSpec {
    /// The query string.
    QueryString,
    /// The whole URL.
    FullLink,
}

/// A link's checksum protection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectionSpec {
    /// The algorithm.
    pub checksum: ChecksumSpec,
    /// What it covers.
    pub applied: ScopeSpec,
}

/// One variable of an issuance link.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableSpec {
    /// The visitor's link must carry it.
    #[serde(default)]
    pub required: bool,
    /// It travels encrypted (needs `encryption`).
    #[serde(default)]
    pub encrypted: bool,
}

impl IssuanceLinkSpec {
    /// The adapter's link, with the configured template when none is named; its own checks
    /// (names, time zone, key lengths) run when it is sent.
    pub fn into_link(self, config: &SkycoreConfig) -> IssuanceLink {
        let variables = self
            .variables
            .into_iter()
            .map(|(name, v)| {
                let var = PassVariable {
                    required: v.required,
                    encrypted: v.encrypted,
                };
                (name, var)
            })
            .collect();
        // No template named: the configured one, whose layout the configuration knows.
        let (template, layout) = match self.template_id {
            Some(t) => (t, self.layout),
            None => (
                config.template_id.clone(),
                self.layout.or(Some(config.layout)),
            ),
        };
        let mut link = IssuanceLink::new(self.name, template, variables);
        link.template_layout = layout;
        link.expires = self.expires.map(|e| LinkExpiry {
            at: e.at,
            time_zone: e.time_zone,
        });
        link.generation_limit = self.generation_limit;
        link.status = self.status.map(|s| match s {
            StatusSpec::Active => LinkStatus::Active,
            StatusSpec::Inactive => LinkStatus::Inactive,
        });
        link.update_pass_data = self.update_pass_data;
        link.encryption = self.encryption.map(|e| LinkEncryption {
            secret_key: e.secret_key,
            iv: e.iv,
        });
        link.protection = self.protection.map(|p| LinkProtection {
            checksum: match p.checksum {
                ChecksumSpec::Crc32 => Checksum::Crc32,
                ChecksumSpec::Sha256 => Checksum::Sha256,
                ChecksumSpec::Sha384 => Checksum::Sha384,
                ChecksumSpec::Sha512 => Checksum::Sha512,
            },
            applied: match p.applied {
                ScopeSpec::QueryString => ChecksumScope::QueryString,
                ScopeSpec::FullLink => ChecksumScope::FullLink,
            },
        });
        link
    }
}
