//! The shared conformance suite against the Passteam emulator over real HTTP, in both body
//! encodings.

use std::sync::Arc;

use walletport_core::{Checked, Provider};
use walletport_passteam::{BodyEncoding, FieldMap, PassteamConfig, PassteamProvider};
use walletport_sandbox::passteam::{PassteamEmulator, PassteamEmulatorConfig};
use walletport_testkit::{SuiteOptions, run_conformance};

fn config(base_url: String, encoding: BodyEncoding) -> PassteamConfig {
    let mut c = PassteamConfig::with_token("sandbox-token");
    c.base_url = base_url;
    c.encoding = encoding;
    c.template_id = Some("5e424c181dbf0d537c8b4569".parse().expect("template id"));
    c.fields = FieldMap {
        surname: Some("SURNAME".into()),
        bonus: Some("PERCENT".into()),
        ..FieldMap::documented()
    };
    c
}

async fn run(encoding: BodyEncoding) {
    let (server, emulator) = PassteamEmulator::spawn(
        PassteamEmulatorConfig::default(),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("emulator starts");
    let provider: Arc<dyn Provider> =
        Arc::new(PassteamProvider::new(config(server.base_url(), encoding)).expect("provider"));
    let report = run_conformance(Checked::wrap(provider), &SuiteOptions::unique()).await;
    report.assert_success();
    assert!(
        report.passed().count() >= 15,
        "too few checks ran: {report:?}"
    );
    let wanted = match encoding {
        BodyEncoding::Multipart => "multipart/form-data",
        BodyEncoding::Form => "application/x-www-form-urlencoded",
    };
    assert!(
        emulator.requests().iter().all(|r| r.content_type == wanted
            || r.fields.is_empty()
            || r.method.ends_with("sale")
            || r.method.ends_with("product")),
        "every request used {wanted}"
    );
}

#[tokio::test]
async fn conformance_multipart() {
    run(BodyEncoding::Multipart).await;
}

#[tokio::test]
async fn conformance_form() {
    run(BodyEncoding::Form).await;
}
