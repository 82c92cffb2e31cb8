//! Measuring an optimised build: `cargo xtask` compiles without optimisations, so a debug `xtask`
//! re-runs its own command line from `cargo run --release -p xtask`. The re-run, and every child
//! process it starts, carries a marker in its environment so it never re-runs itself again.

use std::process::Command;

use anyhow::{Context, bail};

/// Set in the environment of the re-run, so it never re-runs itself again.
pub(crate) const REEXEC_ENV: &str = "WALLETPORT_XTASK_LOAD_REEXEC";

/// Whether this process should hand over to a release build: it is a debug build, `--debug-build`
/// was not given, and it is not already the re-run.
pub(crate) fn wanted(debug_build: bool) -> bool {
    cfg!(debug_assertions) && !debug_build && std::env::var_os(REEXEC_ENV).is_none()
}

/// Re-runs this process's command line from `cargo run --release -p xtask`.
pub(crate) fn run(root: &std::path::Path) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!(
        "load: measuring an optimised build (`cargo run --release -p xtask`; --debug-build to skip)"
    );
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["run", "--release", "--quiet", "--package", "xtask", "--"])
        .args(std::env::args_os().skip(1))
        .env(REEXEC_ENV, "1")
        .status()
        .context("running the release build of xtask")?;
    if !status.success() {
        bail!("the release run of xtask failed ({status})");
    }
    Ok(())
}
