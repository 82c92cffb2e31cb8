//! `cargo xtask test`: the project's test command (README, `.ci/run`) — everything the tests need
//! that cargo cannot fetch is installed first, then `cargo test --workspace` runs.
//!
//! Today that is Debian's `chromium` and `chromium-driver` for the console's real-browser test
//! (`crates/walletport-server/tests/console_browser.rs`), installed with `apt-get` when missing
//! (as root, or through `sudo -n`). `WALLETPORT_SKIP_BROWSER=1` skips both the install and that
//! test, for machines where a browser cannot be had.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// The Debian packages the browser test drives.
const BROWSER_PACKAGES: [&str; 2] = ["chromium", "chromium-driver"];

/// Arguments of `cargo xtask test`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Passed on to `cargo test --workspace` (e.g. `-- --nocapture`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub(crate) cargo_args: Vec<String>,
}

/// Installs what the tests need, then runs them; fails when any test fails.
pub(crate) fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    if std::env::var("WALLETPORT_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("xtask test: WALLETPORT_SKIP_BROWSER=1, the browser test is skipped");
    } else {
        ensure_browser()?;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["test", "--workspace"])
        .args(&args.cargo_args)
        .current_dir(root)
        .status()
        .context("running cargo test")?;
    if !status.success() {
        bail!("cargo test --workspace failed ({status})");
    }
    Ok(())
}

/// Installs `chromium` and `chromium-driver` unless both commands are on `PATH`.
fn ensure_browser() -> anyhow::Result<()> {
    if on_path("chromium") && on_path("chromedriver") {
        return Ok(());
    }
    eprintln!(
        "xtask test: installing {} with apt-get",
        BROWSER_PACKAGES.join(" ")
    );
    let install = |update: bool| -> anyhow::Result<bool> {
        if update && !apt(&["update"])? {
            return Ok(false);
        }
        let mut args = vec!["install", "-y", "--no-install-recommends"];
        args.extend(BROWSER_PACKAGES);
        apt(&args)
    };
    if !install(false)? && !install(true)? {
        bail!(
            "could not install {} (apt-get failed); install them, or set WALLETPORT_SKIP_BROWSER=1 to skip the console's browser test",
            BROWSER_PACKAGES.join(" ")
        );
    }
    if !(on_path("chromium") && on_path("chromedriver")) {
        bail!("apt-get installed the browser, yet `chromium` or `chromedriver` is not on PATH");
    }
    Ok(())
}

/// Runs `apt-get ARGS` non-interactively, through `sudo -n` unless this is root.
fn apt(args: &[&str]) -> anyhow::Result<bool> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let mut cmd = if root {
        Command::new("apt-get")
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", "apt-get"]);
        c
    };
    let status = cmd
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    Ok(status.is_ok_and(|s| s.success()))
}

/// Whether `command` is found on `PATH`.
fn on_path(command: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(command).is_file()))
}
