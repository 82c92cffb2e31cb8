//! `cargo xtask`: project automation that never ships in the library crates.
//!
//! `main` only parses the command line and dispatches; every task lives in its own module
//! (`fixtures` now; `capabilities` and `new-adapter` join as sibling modules).

mod capabilities;
mod chaos;
mod console_shots;
mod fixtures;
mod load;
mod new_adapter;
mod project;
mod test_cmd;

use clap::{Parser, Subcommand};

/// The `cargo xtask` command line.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "walletport project automation", version)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

/// One variant per task; each task module owns its arguments.
#[derive(Debug, Subcommand)]
enum Task {
    /// Regenerate (or with --check, verify) the adapter test fixtures from docs/providers/*.md.
    #[command(name = "fixtures")]
    Fixtures(fixtures::Args),
    /// Regenerate (or with --check, verify) docs/capabilities.md from the compiled providers.
    #[command(name = "capabilities")]
    Capabilities(capabilities::Args),
    /// Scaffold a new vendor adapter crate, emulator module and facade registration.
    #[command(name = "new-adapter")]
    NewAdapter(new_adapter::Args),
    /// Load benchmarks against local emulators, each beside its baseline (docs/benchmarks.md).
    #[command(name = "load")]
    Load(load::Args),
    /// Crash test: SIGKILL the gateway under hook and API load, restart, check the ledger and outbox.
    #[command(name = "chaos")]
    Chaos(chaos::Args),
    /// A PNG of every operator console page, taken by headless Chromium from a demo gateway.
    #[command(name = "console-screenshots")]
    ConsoleScreenshots(console_shots::Args),
    /// The test command: installs what the tests need (headless Chromium), then `cargo test --workspace`.
    #[command(name = "test")]
    Test(test_cmd::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let root = project::root();
    match cli.task {
        Task::Fixtures(args) => fixtures::run(&root, &args),
        Task::Capabilities(args) => capabilities::run(&root, &args),
        Task::NewAdapter(args) => new_adapter::run(&root, &args),
        Task::Load(args) => load::run(&root, &args),
        Task::Chaos(args) => chaos::run(&root, &args),
        Task::ConsoleScreenshots(args) => console_shots::run(&root, &args),
        Task::Test(args) => test_cmd::run(&root, &args),
    }
}
