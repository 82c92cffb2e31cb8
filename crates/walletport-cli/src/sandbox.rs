//! `walletport sandbox <vendor> --listen ADDR`: run a vendor emulator for manual work and demos.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use serde::de::DeserializeOwned;
use walletport::{Error, Result};
use walletport_sandbox::passquare::{PassquareEmulator, PassquareEmulatorConfig};
use walletport_sandbox::passteam::{PassteamEmulator, PassteamEmulatorConfig};
use walletport_sandbox::skycore::{SkycoreEmulator, SkycoreEmulatorConfig};

use crate::args::SandboxVendor;

/// Reads an emulator configuration from a TOML or JSON file, or takes the defaults.
fn emulator_config<T: DeserializeOwned + Default>(settings: Option<&Path>) -> Result<T> {
    let Some(path) = settings else {
        return Ok(T::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::config(format!("cannot read `{}`: {e}", path.display())))?;
    let parsed = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        toml::from_str(&text).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| Error::config(format!("emulator settings `{}`: {e}", path.display())))
}

/// A TOML table of string values.
fn table<const N: usize>(entries: [(&str, String); N]) -> toml::Table {
    entries
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into()))
        .collect()
}

/// The `[provider]` table that points walletport at the emulator: `provider` (the kind and the
/// emulator's own keys and template) plus its address under the adapter's name for it.
fn gateway_config(vendor: SandboxVendor, base_url: &str, mut provider: toml::Table) -> String {
    let address = match vendor {
        SandboxVendor::Skycore => ("endpoint", format!("{base_url}/API/")),
        SandboxVendor::Passquare | SandboxVendor::Passteam => ("base_url", base_url.to_owned()),
    };
    provider.insert(address.0.into(), address.1.into());
    let mut config = toml::Table::new();
    config.insert("provider".into(), provider.into());
    config.to_string()
}

/// Starts the emulator, prints one JSON line (where it listens, and the `[provider]` table
/// that points walletport at it), and serves until Ctrl-C.
pub(crate) async fn run(
    vendor: SandboxVendor,
    listen: SocketAddr,
    settings: Option<&Path>,
) -> Result<serde_json::Value> {
    let bind = |e: std::io::Error| Error::config(format!("cannot listen on {listen}: {e}"));
    let (server, provider) = match vendor {
        SandboxVendor::Passquare => {
            let config: PassquareEmulatorConfig = emulator_config(settings)?;
            let app_key = config.app_key.clone();
            let server = PassquareEmulator::spawn(config, listen)
                .await
                .map_err(bind)?
                .0;
            let provider = table([("kind", "passquare".into()), ("app_key", app_key)]);
            (server, provider)
        }
        SandboxVendor::Passteam => {
            let config: PassteamEmulatorConfig = emulator_config(settings)?;
            let mut provider = table([("kind", "passteam".into())]);
            if let Some(token) = config.tokens.first() {
                provider.insert("token".into(), token.clone().into());
            }
            if let Some(template) = config.templates.first() {
                provider.insert("template_id".into(), template.id.clone().into());
            }
            let server = PassteamEmulator::spawn(config, listen)
                .await
                .map_err(bind)?
                .0;
            (server, provider)
        }
        SandboxVendor::Skycore => {
            let config: SkycoreEmulatorConfig = emulator_config(settings)?;
            let mut provider = table([
                ("kind", "skycore".into()),
                ("api_key", config.api_key.clone()),
            ]);
            if let Some(template) = config.templates.first() {
                provider.insert("template_id".into(), template.id.clone().into());
                provider.insert("layout".into(), template.layout.subtype().into());
            }
            let server = SkycoreEmulator::spawn(config, listen)
                .await
                .map_err(bind)?
                .0;
            (server, provider)
        }
    };
    let started = serde_json::json!({
        "sandbox": vendor.name(),
        "listening": server.base_url(),
        "config": gateway_config(vendor, &server.base_url(), provider),
    });
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{started}");
        let _ = out.flush();
    }
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| Error::unexpected(format!("cannot wait for Ctrl-C: {e}")))?;
    drop(server);
    Ok(serde_json::json!({ "sandbox": vendor.name(), "stopped": true }))
}
