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
/// `ConfigInvalid` when the provider cannot upsert customers and either holds none of points,
/// bonus % and discount % or cannot set them; the vendor's own error when it rejects the
/// configuration.
pub async fn check_provider(gw: &Gateway) -> Result<StartupCheck> {
    let provider = gw.provider.info().name;
    let cap = gw.provider.capability();
    let fields = gw.provider.balance_fields();
    if !cap.customer_upsert && fields.is_empty() {
        return Err(Error::config(format!(
            "provider `{provider}` holds none of points, bonus % and discount % and cannot upsert \
             customers, so the gateway has nothing to sync: map at least one balance field \
             (for passteam: [provider.fields] balance, bonus or discount)"
        )));
    }
    if !cap.customer_upsert && !cap.balance_set {
        return Err(Error::config(format!(
            "provider `{provider}` can neither upsert customers nor set balances, so the gateway \
             has nothing to sync with; pick a provider that can (see `walletport providers`)"
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use walletport_core::{
        BalanceFields, BalancePort, Capability, CardPort, CustomerPort, Provider, ProviderInfo,
        PushCampaignPort, TemplatePort,
    };

    use super::*;

    /// A provider whose capability, balance fields and vendor check are set by the test.
    struct Fake {
        capability: Capability,
        fields: BalanceFields,
        check: fn() -> Result<ProviderCheck>,
    }
    impl Fake {
        /// A provider whose cards hold everything the gateway syncs, whose status call answers
        /// with `check`.
        fn syncing_all(check: fn() -> Result<ProviderCheck>) -> Self {
            Self {
                capability: capability(true, true),
                fields: BalanceFields::ALL,
                check,
            }
        }
    }
    impl CustomerPort for Fake {}
    impl CardPort for Fake {}
    impl BalancePort for Fake {}
    impl PushCampaignPort for Fake {}
    impl TemplatePort for Fake {}
    #[async_trait]
    impl Provider for Fake {
        fn info(&self) -> ProviderInfo {
            ProviderInfo {
                name: "fake",
                version: "test",
            }
        }
        fn capability(&self) -> Capability {
            self.capability
        }
        fn balance_fields(&self) -> BalanceFields {
            self.fields
        }
        async fn check(&self) -> Result<ProviderCheck> {
            (self.check)()
        }
        walletport_core::self_ports!();
    }

    fn passed() -> Result<ProviderCheck> {
        Ok(ProviderCheck {
            account: Some("acme".into()),
            checked: vec!["template 7 exists".into()],
            requests: 1,
        })
    }

    async fn gateway(provider: Fake) -> (Gateway, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tmp");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("gw.db").display());
        let store = walletport_store::connect(&url).await.expect("store");
        (Gateway::new(store, Arc::new(provider)), dir)
    }

    fn capability(upsert: bool, set: bool) -> Capability {
        let mut c = Capability::NONE;
        c.customer_upsert = upsert;
        c.balance_set = set;
        c
    }

    #[tokio::test]
    async fn a_provider_with_nothing_to_sync_is_refused_before_any_vendor_request() {
        let cases = [
            (capability(false, false), BalanceFields::ALL, "set balances"),
            (
                capability(false, true),
                BalanceFields::NONE,
                "map at least one",
            ),
        ];
        for (capability, fields, says) in cases {
            let (gw, _dir) = gateway(Fake {
                capability,
                fields,
                check: || panic!("no vendor request for a provider with nothing to sync"),
            })
            .await;
            let e = check_provider(&gw).await.expect_err("refused");
            assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
            assert!(e.message().contains(says), "{e}");
            assert_eq!(gw.startup_check(), StartupCheck::NotRun);
        }
        // Upsert alone is enough: the customer's data reaches the vendor.
        let (gw, _dir) = gateway(Fake {
            capability: capability(true, false),
            fields: BalanceFields::NONE,
            check: passed,
        })
        .await;
        assert!(check_provider(&gw).await.is_ok());
    }

    #[tokio::test]
    async fn a_rejected_configuration_stops_and_an_unreachable_vendor_is_recorded() {
        let (gw, _dir) = gateway(Fake::syncing_all(|| {
            Err(Error::new(
                ErrorKind::Unauthenticated,
                "the vendor refused [provider] app_key",
            ))
        }))
        .await;
        let e = check_provider(&gw).await.expect_err("stops");
        assert_eq!(e.kind(), ErrorKind::Unauthenticated);

        let (gw, _dir) = gateway(Fake::syncing_all(|| {
            Err(Error::new(
                ErrorKind::VendorUnavailable,
                "connection refused",
            ))
        }))
        .await;
        let outcome = check_provider(&gw).await.expect("starts anyway");
        assert!(matches!(outcome, StartupCheck::Unreachable { .. }));
        assert!(
            gw.startup_check()
                .to_string()
                .contains("connection refused")
        );

        let (gw, _dir) = gateway(Fake::syncing_all(passed)).await;
        check_provider(&gw).await.expect("passes");
        let shown = gw.startup_check().to_string();
        assert!(
            shown.contains("1 vendor request") && shown.contains("template 7"),
            "{shown}"
        );
    }
}
