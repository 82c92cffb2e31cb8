//! Issuance links as JSON: the shape the CLI's link files and the gateway's `/api/links` take,
//! turned into the adapter's [`IssuanceLink`].

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::{Layout, SkycoreConfig};
use crate::mapping::link::{
    IssuanceLink, LinkEncryption, LinkExpiry, LinkProtection, LinkStatus, PassVariable,
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
    pub expires: Option<LinkExpiry>,
    /// The most passes the link may generate.
    #[serde(default)]
    pub generation_limit: Option<u64>,
    /// `active` or `inactive`.
    #[serde(default)]
    pub status: Option<LinkStatus>,
    /// Whether a second visit updates the visitor's pass instead of refusing.
    #[serde(default)]
    pub update_pass_data: Option<bool>,
    /// Encrypted link variables: the AES key and IV (secrets).
    #[serde(default)]
    pub encryption: Option<LinkEncryption>,
    /// A checksum that protects the link's query string or whole URL.
    #[serde(default)]
    pub protection: Option<LinkProtection>,
    /// The variables a visitor's link carries, by name.
    pub variables: BTreeMap<String, PassVariable>,
}

impl IssuanceLinkSpec {
    /// The adapter's link, with the configured template when none is named; its own checks
    /// (names, time zone, key lengths) run when it is sent.
    pub fn into_link(self, config: &SkycoreConfig) -> IssuanceLink {
        // No template named: the configured one, whose layout the configuration knows.
        let (template, layout) = match self.template_id {
            Some(t) => (t, self.layout),
            None => (
                config.template_id.clone(),
                self.layout.or(Some(config.layout)),
            ),
        };
        let mut link = IssuanceLink::new(self.name, template, self.variables);
        link.template_layout = layout;
        link.expires = self.expires;
        link.generation_limit = self.generation_limit;
        link.status = self.status;
        link.update_pass_data = self.update_pass_data;
        link.encryption = self.encryption;
        link.protection = self.protection;
        link
    }
}
