//! The vendor a chaos run delivers to: its emulator (in this process, with injected 503s), the
//! `[provider]` section that points the gateway at it, and a read-back through the adapter.

use anyhow::Context;
use rust_decimal::Decimal;
use walletport::{CustomerKey, GetBalance, Phone, Provider, ProviderConfig};
use walletport_http::QuotaPlan;
use walletport_sandbox::passquare::{PassquareEmulator, PassquareEmulatorConfig};
use walletport_sandbox::passteam::{PassteamEmulator, PassteamEmulatorConfig};
use walletport_sandbox::skycore::{SkycoreEmulator, SkycoreEmulatorConfig};
use walletport_sandbox::{Faults, QuotaWindow as EmuWindow, RunningServer};

/// Which vendor's emulator the chaos run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum VendorKind {
    /// Passquare: half of the customers are credited through its CRM hooks.
    Passquare,
    /// Passteam (full field mapping); every credit goes through the REST API.
    Passteam,
    /// Skycore; every credit goes through the REST API.
    Skycore,
}

enum Emulator {
    Passquare(PassquareEmulator),
    Passteam(PassteamEmulator),
    Skycore(SkycoreEmulator),
}

/// A running emulator and how to reach it.
pub(crate) struct Vendor {
    pub(crate) kind: VendorKind,
    _server: RunningServer,
    emulator: Emulator,
    /// The `[provider]` section of the gateway's config (without the header).
    pub(crate) provider_toml: String,
    provider: std::sync::Arc<dyn Provider>,
}

const PASSQUARE_KEY: &str = "chaos-app-key-4d2f";
const PASSTEAM_TEMPLATE: &str = "5e424c181dbf0d537c8b4569";

impl Vendor {
    /// Starts the emulator with 5% of its answers replaced by 503s. With `plan` (the emulator's
    /// plan, and the one the gateways are configured with) the emulator enforces the first with
    /// its vendor's 429 answer; without, the emulator is unlimited and the gateways keep `200/s`.
    pub(crate) async fn start(
        kind: VendorKind,
        seed: u64,
        plan: Option<(&QuotaPlan, &QuotaPlan)>,
    ) -> anyhow::Result<Self> {
        let faults = Faults {
            unavailable_rate: 0.05,
            seed,
            ..Faults::default()
        };
        let local = "127.0.0.1:0".parse()?;
        let quota: Vec<EmuWindow> = plan.map_or_else(Vec::new, |(p, _)| {
            p.windows()
                .iter()
                .map(|w| EmuWindow {
                    limit: w.limit(),
                    per: w.per(),
                })
                .collect()
        });
        let gateway_plan = plan.map_or_else(|| "200/s".to_owned(), |(_, g)| g.to_string());
        let (server, emulator, provider_toml) = match kind {
            VendorKind::Passquare => {
                let config = PassquareEmulatorConfig {
                    app_key: PASSQUARE_KEY.into(),
                    faults,
                    quota,
                    ..PassquareEmulatorConfig::unlimited()
                };
                let plan = &gateway_plan;
                let (server, emu) = PassquareEmulator::spawn(config, local)
                    .await
                    .context("starting the Passquare emulator")?;
                let toml = format!(
                    "kind = \"passquare\"\napp_key = \"{PASSQUARE_KEY}\"\nbase_url = \"{}\"\n\
                     plan = \"{plan}\"\ntimeout = \"2s\"\n",
                    server.base_url()
                );
                (server, Emulator::Passquare(emu), toml)
            }
            VendorKind::Passteam => {
                let config = PassteamEmulatorConfig {
                    quota,
                    faults,
                    ..PassteamEmulatorConfig::default()
                };
                let token = config.tokens.first().cloned().unwrap_or_default();
                // Without an enforced plan the adapter keeps its default quota, as before.
                let quota_line =
                    plan.map_or_else(String::new, |(_, g)| format!("quota = \"{g}\"\n"));
                let (server, emu) = PassteamEmulator::spawn(config, local)
                    .await
                    .context("starting the Passteam emulator")?;
                let toml = format!(
                    "kind = \"passteam\"\nbase_url = \"{}\"\ntoken = \"{token}\"\n\
                     template_id = \"{PASSTEAM_TEMPLATE}\"\n{quota_line}\n\
                     [provider.fields]\n\
                     phone = \"PHONE\"\nname = \"CLIENT_NAME\"\nbalance = \"BONUS\"\n\
                     bonus = \"PERCENT\"\ndiscount = \"DISCOUNT\"\n",
                    server.base_url()
                );
                (server, Emulator::Passteam(emu), toml)
            }
            VendorKind::Skycore => {
                let config = SkycoreEmulatorConfig {
                    faults,
                    quota,
                    ..SkycoreEmulatorConfig::default()
                };
                let key = config.api_key.clone();
                let (server, emu) = SkycoreEmulator::spawn(config, local)
                    .await
                    .context("starting the Skycore emulator")?;
                let toml = format!(
                    "kind = \"skycore\"\nendpoint = \"{}\"\napi_key = \"{key}\"\n\
                     template_id = \"sandbox-layout-1\"\nrate_limit = \"{gateway_plan}\"\n",
                    server.base_url()
                );
                (server, Emulator::Skycore(emu), toml)
            }
        };
        // The read-back goes through the adapter, as a merchant's own code would read the card.
        let section = provider_toml.replace("[provider.fields]", "[fields]");
        let config = ProviderConfig::from_toml(&section)
            .map_err(|e| anyhow::anyhow!("the chaos provider config: {e}"))?;
        let provider = walletport::connect(&config)
            .map_err(|e| anyhow::anyhow!("connecting the read-back provider: {e}"))?;
        Ok(Self {
            kind,
            _server: server,
            emulator,
            provider_toml,
            provider,
        })
    }

    /// Whether the gateway serves this vendor's CRM hooks (Passquare only).
    pub(crate) fn has_hooks(&self) -> bool {
        self.kind == VendorKind::Passquare
    }

    /// The points the vendor shows for `phone` (`None` when it has no such customer), read
    /// through the adapter; retried a few times past the injected 503s.
    pub(crate) async fn points(&self, phone: &str) -> anyhow::Result<Option<Decimal>> {
        let phone = Phone::parse(phone).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut last = None;
        for _ in 0..10 {
            let input = GetBalance {
                customer: CustomerKey::Phone(phone.clone()),
            };
            match self.provider.balances().get_balance(input).await {
                Ok(b) => return Ok(Some(b.points)),
                Err(e) if e.kind() == walletport::ErrorKind::NotFound => return Ok(None),
                Err(e) => last = Some(e),
            }
        }
        Err(anyhow::anyhow!(
            "reading {phone} back from the vendor failed: {}",
            last.map(|e| e.to_string()).unwrap_or_default()
        ))
    }

    /// Requests the emulator answered.
    pub(crate) fn request_count(&self) -> u64 {
        let n = match &self.emulator {
            Emulator::Passquare(e) => e.request_count(),
            Emulator::Passteam(e) => e.request_count(),
            Emulator::Skycore(e) => return e.request_count(),
        };
        n as u64
    }

    /// Requests the emulator answered with 429 for want of quota (0 with no plan enforced).
    pub(crate) fn quota_rejections(&self) -> u64 {
        match &self.emulator {
            Emulator::Passquare(e) => e.quota_rejections(),
            Emulator::Passteam(e) => e.quota_rejections(),
            Emulator::Skycore(e) => e.quota_rejections(),
        }
    }

    /// 503s the emulator injected.
    pub(crate) fn faults_injected(&self) -> u64 {
        match &self.emulator {
            Emulator::Passquare(e) => e.faults_injected(),
            Emulator::Passteam(e) => e.faults_injected(),
            Emulator::Skycore(e) => e.faults_injected(),
        }
    }
}
