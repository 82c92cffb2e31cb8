//! The `walletport` binary: a provider-agnostic CLI over the configured wallet-card vendor.
//!
//! Output is JSON on stdout; an error is `{"error": {"kind", "message", ...}}` on stderr with a
//! non-zero exit code (2 for bad input or configuration, 1 otherwise).

mod args;
mod cards;
mod commands;
mod delivery;
mod gateway;
mod resync;
mod sandbox;
mod settings;
mod sync;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use walletport::{Error, ErrorKind, Phone};

use crate::args::{Cli, Command};
use crate::commands::Context;
use crate::settings::Settings;

fn main() -> ExitCode {
    init_tracing();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: print as clap does.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let message = e.render().to_string();
            return fail(&Error::invalid_input(message.trim().to_owned()));
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&Error::unexpected(format!("cannot start runtime: {e}"))),
    };
    match runtime.block_on(run(cli)) {
        Ok(value) => {
            let mut out = std::io::stdout().lock();
            let written = serde_json::to_writer_pretty(&mut out, &value)
                .map_err(std::io::Error::other)
                .and_then(|()| writeln!(out));
            match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::FAILURE,
            }
        }
        Err(e) => fail(&e),
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WALLETPORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: logs piped to a file or a collector stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn fail(error: &Error) -> ExitCode {
    let body = serde_json::json!({ "error": error.to_json() });
    let _ = writeln!(std::io::stderr().lock(), "{body}");
    match error.kind() {
        ErrorKind::InvalidInput | ErrorKind::ConfigInvalid => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

async fn run(cli: Cli) -> walletport::Result<serde_json::Value> {
    if let Command::Sandbox {
        vendor,
        listen,
        settings,
    } = &cli.command
    {
        return sandbox::run(*vendor, *listen, settings.as_deref()).await;
    }
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve { listen } => return gateway::serve(&settings, listen).await,
        Command::Sync { csv, deliver } => return sync::run(&settings, &csv, deliver).await,
        Command::Outbox(cmd) => return gateway::outbox(&settings, cmd).await,
        Command::Resync { phone, deliver } => {
            let phone = phone
                .map(|p| Phone::parse_with(&p, &settings.phone.policy()?))
                .transpose()?;
            return resync::run(&settings, phone, deliver).await;
        }
        _ => {}
    }
    if let Command::Providers { check: false } = cli.command {
        return commands::providers(None).await;
    }
    let quota = gateway::DirectQuota::open(&settings).await?;
    let result = direct(cli.command, &settings, quota.limiters()).await;
    quota.close().await;
    result
}

/// The commands that talk to the vendor directly, their requests counted in `limiters`.
async fn direct(
    command: Command,
    settings: &Settings,
    limiters: &dyn walletport::LimiterFactory,
) -> walletport::Result<serde_json::Value> {
    if let Command::Card(cards::CardCmd::Link(cmd)) = command {
        return cards::link(&settings.provider, limiters, cmd).await;
    }
    let provider = walletport::connect_with(&settings.provider, limiters)?;
    let ctx = Context {
        provider: provider.as_ref(),
        phones: settings.phone.policy()?,
    };
    match command {
        Command::Providers { .. } => commands::providers(Some(provider.as_ref())).await,
        Command::Customer(cmd) => commands::customer(&ctx, cmd).await,
        Command::Balance(cmd) => commands::balance(&ctx, cmd).await,
        Command::Push(cmd) => commands::push(&ctx, cmd).await,
        Command::Campaign(cmd) => commands::campaign(&ctx, cmd).await,
        Command::Card(cmd) => cards::card(&ctx, cmd).await,
        Command::Template(cmd) => commands::template(&ctx, cmd).await,
        Command::Sandbox { .. }
        | Command::Serve { .. }
        | Command::Sync { .. }
        | Command::Resync { .. }
        | Command::Outbox(_) => Err(walletport::Error::unexpected("handled above")),
    }
}
