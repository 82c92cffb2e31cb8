//! Layered configuration: built-in defaults, then the TOML file, then `WALLETPORT_*` variables.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::Deserialize;
use walletport::{Error, PhonePolicy, ProviderConfig, Result};

/// The config file read when `--config` is not given, if it exists.
pub(crate) const DEFAULT_CONFIG_FILE: &str = "walletport.toml";

/// How phones typed on the command line are read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PhoneSettings {
    /// ISO region for national numbers, e.g. "US".
    pub(crate) default_region: Option<String>,
    /// Require numbers valid by libphonenumber metadata.
    #[serde(default)]
    pub(crate) strict: bool,
}

impl PhoneSettings {
    pub(crate) fn policy(&self) -> Result<PhonePolicy> {
        let mut policy = PhonePolicy::default();
        if let Some(region) = &self.default_region {
            policy = policy.with_region(region)?;
        }
        if self.strict {
            policy = policy.strict();
        }
        Ok(policy)
    }
}

/// The whole configuration file.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) provider: ProviderConfig,
    pub(crate) phone: PhoneSettings,
    /// `[server]`, `[hooks.*]`, `[outbox]`, `[ledger]`: the gateway (`serve`, `sync`, `outbox`).
    pub(crate) gateway: walletport_server::GatewayConfig,
    /// `server.database` was set (file or `WALLETPORT_SERVER__DATABASE`), not defaulted: direct
    /// vendor commands then take their quota slots from that store, shared with the gateways.
    pub(crate) store_configured: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    #[serde(default = "default_provider")]
    provider: serde_json::Value,
    #[serde(default)]
    phone: PhoneSettings,
    #[serde(default)]
    server: walletport_server::ServerSection,
    #[serde(default)]
    hooks: walletport_server::HooksSection,
    #[serde(default)]
    outbox: walletport_server::OutboxSection,
    #[serde(default)]
    ledger: walletport_server::LedgerSection,
}

fn default_provider() -> serde_json::Value {
    serde_json::json!({ "kind": "memory" })
}

impl Settings {
    /// Loads the layers; an explicit `--config` file must exist.
    pub(crate) fn load(explicit: Option<&Path>) -> Result<Self> {
        let mut figment = Figment::from(Serialized::default("provider", default_provider()));
        match explicit {
            Some(path) => {
                if !path.is_file() {
                    return Err(Error::config(format!(
                        "config file `{}` does not exist",
                        path.display()
                    )));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None => {
                let default = PathBuf::from(DEFAULT_CONFIG_FILE);
                if default.is_file() {
                    figment = figment.merge(Toml::file_exact(default));
                }
            }
        }
        // Only `WALLETPORT_<SECTION>__<KEY>` variables are configuration; `WALLETPORT_CONFIG`,
        // `WALLETPORT_LOG` and the like are not, and must not trip `deny_unknown_fields`.
        figment = figment.merge(
            Env::prefixed("WALLETPORT_")
                .filter(|key| key.as_str().contains("__"))
                .split("__"),
        );
        let store_configured = figment.find_value("server.database").is_ok();
        let raw: RawSettings = figment
            .extract()
            .map_err(|e| Error::config(format!("configuration: {e}")))?;
        Ok(Self {
            provider: ProviderConfig::from_value(raw.provider)?,
            phone: raw.phone,
            gateway: walletport_server::GatewayConfig {
                server: raw.server,
                hooks: raw.hooks,
                outbox: raw.outbox,
                ledger: raw.ledger,
            },
            store_configured,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str) -> Result<Settings> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("walletport.toml");
        std::fs::write(&path, toml).expect("write config");
        Settings::load(Some(&path))
    }

    #[test]
    fn ledger_section_is_read_and_checked() {
        let s = load("[ledger]\nexpiry_interval = \"30s\"\n").expect("valid");
        assert_eq!(
            s.gateway.ledger.expiry_interval,
            std::time::Duration::from_secs(30)
        );
        let s = load("").expect("defaults");
        assert_eq!(
            s.gateway.ledger.expiry_interval,
            std::time::Duration::from_secs(60)
        );
        let e = load("[ledger]\nexpiry_interval = \"30s\"\nsweep = true\n").unwrap_err();
        assert_eq!(e.kind(), walletport::ErrorKind::ConfigInvalid, "{e}");
        assert!(e.message().contains("sweep"), "{e}");
    }

    #[test]
    fn a_store_is_configured_only_when_the_database_is_named() {
        let s = load("").expect("defaults");
        assert!(
            !s.store_configured,
            "the default database is not a configured store"
        );
        let s = load("[server]\ndatabase = \"sqlite://x.db\"\n").expect("valid");
        assert!(s.store_configured);
    }
}
