//! The shared conformance suite against the Passquare adapter talking real HTTP to the emulator.

use std::net::SocketAddr;
use std::sync::Arc;

use walletport_core::{Checked, Provider};
use walletport_passquare::{PassquareConfig, PassquareProvider, Plan};
use walletport_sandbox::passquare::{PassquareEmulator, PassquareEmulatorConfig};
use walletport_testkit::{SuiteOptions, run_conformance};

fn localhost() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A generous custom plan: the emulator's own limit is off in these tests.
fn config(base_url: String, app_key: &str) -> PassquareConfig {
    let mut config = PassquareConfig::new(app_key);
    config.base_url = base_url;
    config.plan = Plan::Custom(walletport_http::QuotaPlan::parse("1000/s").expect("plan"));
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passquare_passes_the_conformance_suite() {
    let emu_config = PassquareEmulatorConfig::unlimited();
    let app_key = emu_config.app_key.clone();
    let (server, emu) = PassquareEmulator::spawn(emu_config, localhost())
        .await
        .expect("emulator starts");
    let segment = emu
        .add_segment("conformance", &["+420000000001".to_owned()])
        .expect("segment");
    let mut cfg = config(server.base_url(), &app_key);
    cfg.form_link = Some("https://form.passquare.invalid/00000000".into());
    let provider: Arc<dyn Provider> =
        Checked::wrap(Arc::new(PassquareProvider::new(cfg).expect("provider")));
    // Three checks assume what Passquare's API cannot do; each is covered by `tests/emulated.rs`
    // in the form Passquare offers.
    let mut options = SuiteOptions::unique()
        .skip(
            "referrals",
            "Passquare records a referral only when the invitee registers through the inviter's \
             link (simulated by the emulator's /_admin/install); an upsert has no referral field",
        )
        .skip(
            "card_issue_and_get",
            "read_customer returns no install links (only 2.2 answers carry them)",
        )
        .skip(
            "card_update_fields",
            "custom variables are write-only at Passquare: read_customer does not return them",
        );
    options.segment = Some(segment.parse().expect("segment id"));
    let report = run_conformance(provider, &options).await;
    assert!(report.passed().count() > 10, "{report:?}");
}
