//! Provider configuration and the explicit registry of compiled providers.
//!
//! [`ProviderConfig`] lives here rather than in `walletport-core` so that adding an adapter
//! touches only its own crate and this facade (a cargo feature, an enum variant, a registry line),
//! never the core.

use std::sync::Arc;

use serde::Deserialize;
use walletport_core::{Capability, Checked, Error, Provider, Result};
use walletport_http::{InProcessLimiters, LimiterFactory};

/// Which provider to use and its settings, tagged by `kind`. Each variant's settings reject
/// unknown fields and keep secrets in `secrecy` types.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum ProviderConfig {
    /// The in-memory reference provider.
    Memory(walletport_memory::MemoryConfig),
    /// The Skycore adapter.
    #[cfg(feature = "skycore")]
    Skycore(walletport_skycore::SkycoreConfig),
    /// The Passquare adapter.
    #[cfg(feature = "passquare")]
    Passquare(walletport_passquare::PassquareConfig),
    /// The Passteam adapter.
    #[cfg(feature = "passteam")]
    Passteam(walletport_passteam::PassteamConfig),
    // xtask:new-adapter:variant (scaffolded adapters add their variant above this line)
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self::Memory(walletport_memory::MemoryConfig::default())
    }
}

impl ProviderConfig {
    /// The `kind` of this configuration.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            #[cfg(feature = "skycore")]
            Self::Skycore(_) => "skycore",
            #[cfg(feature = "passquare")]
            Self::Passquare(_) => "passquare",
            #[cfg(feature = "passteam")]
            Self::Passteam(_) => "passteam",
            // xtask:new-adapter:kind
        }
    }

    /// Reads a configuration from any serde value, with an error that lists the compiled kinds
    /// when `kind` is missing or not compiled in.
    pub fn from_value(value: serde_json::Value) -> Result<Self> {
        let kind = value.get("kind").and_then(serde_json::Value::as_str);
        match kind {
            None => {
                return Err(Error::config(format!(
                    "provider `kind` is missing; available kinds: {}",
                    available_kinds().join(", ")
                )));
            }
            Some(k) if !available_kinds().contains(&k) => {
                return Err(Error::config(format!(
                    "provider kind `{k}` is not compiled in; available kinds: {}",
                    available_kinds().join(", ")
                )));
            }
            Some(_) => {}
        }
        serde_json::from_value(value)
            .map_err(|e| Error::config(format!("invalid provider configuration: {e}")))
    }

    /// Reads a configuration from TOML text (the `[provider]` table's contents).
    pub fn from_toml(text: &str) -> Result<Self> {
        let value: serde_json::Value = toml_to_json(text)?;
        Self::from_value(value)
    }
}

fn toml_to_json(text: &str) -> Result<serde_json::Value> {
    let table: toml::Table = text
        .parse()
        .map_err(|e| Error::config(format!("invalid TOML: {e}")))?;
    serde_json::to_value(table).map_err(|e| Error::config(format!("invalid TOML: {e}")))
}

/// Every provider kind compiled into this build.
pub fn available_kinds() -> &'static [&'static str] {
    &[
        "memory",
        #[cfg(feature = "skycore")]
        "skycore",
        #[cfg(feature = "passquare")]
        "passquare",
        #[cfg(feature = "passteam")]
        "passteam",
        // xtask:new-adapter:available
    ]
}

/// Each compiled kind with the capability it declares in its default configuration.
pub fn kind_capabilities() -> Vec<(&'static str, Capability)> {
    let mut kinds = Vec::new();
    if let Ok(memory) = walletport_memory::MemoryProvider::open(&Default::default()) {
        kinds.push(("memory", memory.capability()));
    }
    #[cfg(feature = "skycore")]
    kinds.push((
        "skycore",
        walletport_skycore::SkycoreProvider::default_capability(),
    ));
    #[cfg(feature = "passquare")]
    kinds.push((
        "passquare",
        walletport_passquare::PassquareProvider::default_capability(),
    ));
    #[cfg(feature = "passteam")]
    kinds.push((
        "passteam",
        walletport_passteam::PassteamProvider::default_capability(),
    ));
    // xtask:new-adapter:capability
    kinds
}

/// Connects the configured provider, wrapped in the [`Checked`] layer; each vendor transport
/// keeps its quota in this process.
pub fn connect(config: &ProviderConfig) -> Result<Arc<dyn Provider>> {
    connect_with(config, &InProcessLimiters)
}

/// Like [`connect`], with the quota limiter `limiters` builds for the vendor's plan (a gateway
/// passes one that shares the plan through its database).
pub fn connect_with(
    config: &ProviderConfig,
    limiters: &dyn LimiterFactory,
) -> Result<Arc<dyn Provider>> {
    let _ = limiters; // unused when no vendor adapter is compiled in
    let provider: Arc<dyn Provider> = match config {
        ProviderConfig::Memory(c) => Arc::new(walletport_memory::MemoryProvider::open(c)?),
        #[cfg(feature = "skycore")]
        ProviderConfig::Skycore(c) => Arc::new(walletport_skycore::SkycoreProvider::with_limiters(
            c.clone(),
            limiters,
        )?),
        #[cfg(feature = "passquare")]
        ProviderConfig::Passquare(c) => Arc::new(
            walletport_passquare::PassquareProvider::with_limiters(c.clone(), limiters)?,
        ),
        #[cfg(feature = "passteam")]
        ProviderConfig::Passteam(c) => Arc::new(
            walletport_passteam::PassteamProvider::with_limiters(c.clone(), limiters)?,
        ), // xtask:new-adapter:connect
    };
    Ok(Checked::wrap(provider))
}

/// The Skycore adapter itself when `config` is a Skycore one, else `None`: its issuance links
/// are a Skycore-only API that the provider-agnostic ports (and so [`connect`]) do not carry.
#[cfg(feature = "skycore")]
pub fn skycore_adapter(
    config: &ProviderConfig,
    limiters: &dyn LimiterFactory,
) -> Result<Option<walletport_skycore::SkycoreProvider>> {
    match config {
        ProviderConfig::Skycore(c) => Ok(Some(walletport_skycore::SkycoreProvider::with_limiters(
            c.clone(),
            limiters,
        )?)),
        #[allow(unreachable_patterns)]
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_kind_lists_available() {
        let e = ProviderConfig::from_toml(r#"kind = "nope""#).unwrap_err();
        assert_eq!(e.kind(), walletport_core::ErrorKind::ConfigInvalid);
        assert!(e.message().contains("memory"), "{e}");
        let e = ProviderConfig::from_toml("x = 1").unwrap_err();
        assert!(e.message().contains("missing"), "{e}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let e = ProviderConfig::from_toml("kind = \"memory\"\nbogus = 1").unwrap_err();
        assert!(e.message().contains("bogus"), "{e}");
    }
}
