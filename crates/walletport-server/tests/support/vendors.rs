//! The providers every-provider tests run on: the in-memory one and each vendor's emulator,
//! configured as a merchant would write it.

use walletport::ProviderConfig;
use walletport_sandbox::RunningServer;
use walletport_sandbox::passquare::{PassquareEmulator, PassquareEmulatorConfig};
use walletport_sandbox::passteam::{PassteamEmulator, PassteamEmulatorConfig};
use walletport_sandbox::skycore::{SkycoreEmulator, SkycoreEmulatorConfig};

/// The providers a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Vendor {
    Memory,
    Passquare,
    PassteamFull,
    PassteamMinimal,
    Skycore,
    SkycoreByCustomerId,
}

/// One `#[tokio::test]` per provider, each calling `$run(Vendor::...)`; Passteam runs with the
/// full field mapping and with a minimal one (phone, name and balance only), Skycore with passes
/// keyed by phone and by customer id.
macro_rules! every_provider {
    ($run:ident) => {
        every_provider!(@tests $run,
            memory => Vendor::Memory,
            passquare => Vendor::Passquare,
            passteam_full_mapping => Vendor::PassteamFull,
            passteam_minimal_mapping => Vendor::PassteamMinimal,
            skycore => Vendor::Skycore,
            skycore_keyed_by_customer_id => Vendor::SkycoreByCustomerId,
        );
    };
    (@tests $run:ident, $($name:ident => $vendor:expr),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $run($vendor).await;
            }
        )*
    };
}

pub(crate) use every_provider;

const PASSTEAM_TEMPLATE: &str = "5e424c181dbf0d537c8b4569";

/// The vendor's emulator (kept running for the test) and the provider configuration a merchant
/// would write for it.
pub async fn vendor(which: Vendor) -> (Option<RunningServer>, ProviderConfig) {
    let local = "127.0.0.1:0".parse().expect("addr");
    let (server, toml) = match which {
        Vendor::Memory => (None, "kind = \"memory\"\n".to_owned()),
        Vendor::Passquare => {
            let config = PassquareEmulatorConfig::unlimited();
            let key = config.app_key.clone();
            let (server, _) = PassquareEmulator::spawn(config, local)
                .await
                .expect("passquare emulator");
            let toml = format!(
                "kind = \"passquare\"\nbase_url = \"{}\"\napp_key = \"{key}\"\nplan = \"1000/s\"\n",
                server.base_url()
            );
            (Some(server), toml)
        }
        Vendor::PassteamFull | Vendor::PassteamMinimal => {
            let (server, _) = PassteamEmulator::spawn(PassteamEmulatorConfig::default(), local)
                .await
                .expect("passteam emulator");
            let fields = if matches!(which, Vendor::PassteamFull) {
                "phone = \"PHONE\"\nname = \"CLIENT_NAME\"\nsurname = \"SURNAME\"\n\
                 birthday = \"BIRTHDAY\"\nemail = \"EMAIL\"\nbalance = \"BONUS\"\n\
                 bonus = \"PERCENT\"\ndiscount = \"DISCOUNT\"\ncard_number = \"NUMBERCARD\"\n"
            } else {
                "phone = \"PHONE\"\nname = \"CLIENT_NAME\"\nbalance = \"BONUS\"\n"
            };
            let toml = format!(
                "kind = \"passteam\"\nbase_url = \"{}\"\ntoken = \"sandbox-token\"\n\
                 template_id = \"{PASSTEAM_TEMPLATE}\"\n\n[fields]\n{fields}",
                server.base_url()
            );
            (Some(server), toml)
        }
        Vendor::Skycore | Vendor::SkycoreByCustomerId => {
            let config = SkycoreEmulatorConfig::default();
            let key = config.api_key.clone();
            let (server, _) = SkycoreEmulator::spawn(config, local)
                .await
                .expect("skycore emulator");
            let toml = format!(
                "kind = \"skycore\"\nendpoint = \"{}\"\napi_key = \"{key}\"\n\
                 template_id = \"sandbox-layout-1\"\nrate_limit = \"1000/s\"\npass_id = \"{}\"\n",
                server.base_url(),
                if matches!(which, Vendor::Skycore) {
                    "phone"
                } else {
                    "customer_id"
                }
            );
            (Some(server), toml)
        }
    };
    let config = ProviderConfig::from_toml(&toml).unwrap_or_else(|e| panic!("{toml}: {e}"));
    (server, config)
}
