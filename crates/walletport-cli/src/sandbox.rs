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

/// Starts the emulator, prints where it listens as one JSON line, and serves until Ctrl-C.
pub(crate) async fn run(
    vendor: SandboxVendor,
    listen: SocketAddr,
    settings: Option<&Path>,
) -> Result<serde_json::Value> {
    let bind = |e: std::io::Error| Error::config(format!("cannot listen on {listen}: {e}"));
    let server = match vendor {
        SandboxVendor::Passquare => {
            let config: PassquareEmulatorConfig = emulator_config(settings)?;
            PassquareEmulator::spawn(config, listen)
                .await
                .map_err(bind)?
                .0
        }
        SandboxVendor::Passteam => {
            let config: PassteamEmulatorConfig = emulator_config(settings)?;
            PassteamEmulator::spawn(config, listen)
                .await
                .map_err(bind)?
                .0
        }
        SandboxVendor::Skycore => {
            let config: SkycoreEmulatorConfig = emulator_config(settings)?;
            SkycoreEmulator::spawn(config, listen)
                .await
                .map_err(bind)?
                .0
        }
    };
    let started = serde_json::json!({
        "sandbox": vendor.name(),
        "listening": server.base_url(),
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
