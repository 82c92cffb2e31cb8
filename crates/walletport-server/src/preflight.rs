//! The start-up check of the provider's configuration against the vendor.
//!
//! `walletport serve` runs it once before it listens. A configuration the vendor rejects (bad
//! key, missing template, unknown variable) stops the start with a message naming the key to
//! fix; a vendor that cannot be reached does not, because the hooks must keep answering: the
//! gateway logs a warning and `/healthz` reports the check.

use std::fmt;

use serde::Serialize;
use walletport_core::{Error, ErrorKind, ProviderCheck, Result};

use crate::state::Gateway;

/// What the start-up check found, as `/healthz` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StartupCheck {
    /// Not run (library use without [`check_provider`], or `serve` before it).
    #[default]
    NotRun,
    /// The vendor accepted the configuration.
    Passed(ProviderCheck),
    /// The vendor could not be reached; the gateway started anyway.
    Unreachable {
        /// The error, without secrets.
        error: String,
    },
}

impl fmt::Display for StartupCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotRun => f.write_str("not run"),
            Self::Passed(check) if check.requests == 0 => {
                f.write_str("passed (nothing to check at the vendor)")
            }
            Self::Passed(check) => write!(
                f,
                "passed ({} vendor request(s): {})",
                check.requests,
                check.checked.join("; ")
            ),
            Self::Unreachable { error } => write!(f, "vendor unreachable at start: {error}"),
        }
    }
}

/// Whether an error of the vendor check means the configuration is wrong (stop) rather than the
/// vendor being unreachable for now (start anyway).
fn is_configuration_error(error: &Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ConfigInvalid
            | ErrorKind::Unauthenticated
            | ErrorKind::PermissionDenied
            | ErrorKind::NotFound
            | ErrorKind::InvalidInput
    )
}

/// Checks that the gateway has something to sync with, then the configuration against the
/// vendor ([`walletport_core::Provider::check`]), records the outcome for `/healthz` and
/// returns it.
///
/// # Errors
/// `ConfigInvalid` when the provider holds none of points, bonus % and discount % and cannot
/// upsert customers; the vendor's own error when it rejects the configuration.
pub async fn check_provider(gw: &Gateway) -> Result<StartupCheck> {
    let provider = gw.provider.info().name;
    if gw.provider.balance_fields().is_empty() && !gw.provider.capability().customer_upsert {
        return Err(Error::config(format!(
            "provider `{provider}` holds none of points, bonus % and discount % and cannot upsert \
             customers, so the gateway has nothing to sync: map at least one balance field \
             (for passteam: [provider.fields] balance, bonus or discount)"
        )));
    }
    let outcome = match gw.provider.check().await {
        Ok(check) => StartupCheck::Passed(check),
        Err(e) if is_configuration_error(&e) => return Err(e),
        Err(e) => {
            tracing::warn!(provider, error = %e, "provider check failed; starting anyway, hooks keep answering");
            StartupCheck::Unreachable {
                error: e.to_string(),
            }
        }
    };
    gw.set_startup_check(outcome.clone());
    Ok(outcome)
}
