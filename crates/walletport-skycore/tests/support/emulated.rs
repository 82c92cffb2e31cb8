//! The Skycore emulator on a real port and the provider set-ups its HTTP tests share, used by
//! `tests/provider_http.rs` and `tests/customer_http.rs` so that both talk to the same emulator
//! configuration.
//!
//! Included by path (`#[path = "support/emulated.rs"] mod emulated;`) from both targets.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use walletport_core::{Card, CardKey, GetCard, Provider, Result};
use walletport_http::{HttpRequest, HttpResponse, HttpTransport, Transport};
use walletport_sandbox::RunningServer;
use walletport_sandbox::skycore::{SkycoreEmulator, SkycoreEmulatorConfig};
use walletport_skycore::{Layout, PassIdStrategy, SkycoreConfig, SkycoreProvider};

/// The emulator (as `config` sets it up) on a free local port, and the adapter configuration
/// that talks to it: its key, layout 2 and a rate limit no test runs into.
pub(crate) async fn emulator(
    config: SkycoreEmulatorConfig,
) -> (RunningServer, SkycoreEmulator, SkycoreConfig) {
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
    let key = config.api_key.clone();
    let (server, emu) = SkycoreEmulator::spawn(config, addr).await.expect("bind");
    let mut config = SkycoreConfig::new(server.base_url(), key, "sandbox-layout-2");
    config.layout = Layout::Two;
    config.rate_limit = "1000/s".parse().expect("plan");
    (server, emu, config)
}

/// A provider on `config` that keys passes by the customer id rather than the phone, the
/// strategy whose phone lives only in the pass meta.
pub(crate) fn keyed_by_customer_id(mut config: SkycoreConfig) -> Result<SkycoreProvider> {
    config.pass_id = PassIdStrategy::CustomerId;
    SkycoreProvider::new(config)
}

/// The card `provider` reads under `card`: how these tests look up what they wrote.
pub(crate) async fn card_of(provider: &dyn Provider, card: CardKey) -> Result<Card> {
    provider.cards().get_card(GetCard { card }).await
}

/// Whether `card` links to the emulator's pass page (`/wallet/gc/…`), as every generated pass
/// must.
pub(crate) fn links_to_the_pass_page(card: &Card) -> bool {
    card.links
        .page
        .as_deref()
        .is_some_and(|u| u.contains("/wallet/gc/"))
}

/// A transport that sends each `generatepass` twice and loses the first answer, as a retry after
/// a timeout does: the second meets the pass the first created.
#[derive(Debug)]
struct LostGenerateAnswer {
    inner: HttpTransport,
    /// Only requests marked idempotent (those the real transport retries) are sent twice.
    idempotent_only: bool,
}

#[async_trait]
impl Transport for LostGenerateAnswer {
    async fn execute(&self, req: HttpRequest) -> Result<HttpResponse> {
        if (req.idempotent || !self.idempotent_only) && req.body_text().contains("generatepass") {
            let _lost = self.inner.execute(req.clone()).await?;
        }
        self.inner.execute(req).await
    }
}

/// A provider on `config` whose `generatepass` answers are lost once (see [`LostGenerateAnswer`];
/// `idempotent_only` as there), to test what a retried generate meets.
pub(crate) fn losing_generate_answers(
    config: SkycoreConfig,
    idempotent_only: bool,
) -> Result<SkycoreProvider> {
    let inner = HttpTransport::new(config.transport_config()?)?;
    let transport = LostGenerateAnswer {
        inner,
        idempotent_only,
    };
    SkycoreProvider::with_transport(config, Arc::new(transport))
}
