//! The gateway's configuration: the `[server]`, `[hooks.*]`, `[outbox]` and `[ledger]` sections.
//!
//! Every section has defaults, so `walletport serve` with no configuration at all runs on
//! `127.0.0.1:8080` with SQLite `walletport.db`; secrets are `SecretString`s that never show in
//! `Debug` output, logs or errors.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use walletport_core::{Error, Result};
use walletport_passquare::PassquareHooksConfig;

/// The address the gateway listens on when nothing is configured.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// `[server]`: where to listen, which database, and the REST API's token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Listen address; a non-loopback address requires `api_token`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Database URL: `sqlite://FILE?mode=rwc` (default) or `postgres://USER@HOST/DB`.
    #[serde(default = "default_database")]
    pub database: String,
    /// Bearer token of the REST API (`Authorization: Bearer TOKEN`); `None` leaves the API open,
    /// which is only allowed on a loopback address.
    #[serde(default)]
    pub api_token: Option<SecretString>,
    /// The longest a request may take before it is answered 503.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// The largest request body accepted by the REST API (bytes); larger bodies get 413.
    #[serde(default = "default_max_body")]
    pub max_body: usize,
    /// How long a provider health check is reused by `/healthz` (vendor checks cost quota).
    #[serde(default = "default_health_cache", with = "humantime_serde")]
    pub provider_health_cache: Duration,
    /// The gateway is reached over HTTPS (a TLS-terminating proxy in front): the console's
    /// session cookie gets the `Secure` flag, so browsers never send it over plain HTTP.
    #[serde(default)]
    pub behind_tls: bool,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_database() -> String {
    walletport_store::DEFAULT_URL.to_owned()
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_body() -> usize {
    256 * 1024
}
fn default_health_cache() -> Duration {
    Duration::from_secs(300)
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            database: default_database(),
            api_token: None,
            request_timeout: default_request_timeout(),
            max_body: default_max_body(),
            provider_health_cache: default_health_cache(),
            behind_tls: false,
        }
    }
}

/// `[hooks.passteam]`: whether `POST /hooks/passteam` is served.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassteamHooksSection {
    /// Serve the webhook endpoint (Passteam sends no credentials, so it is off unless asked for).
    #[serde(default)]
    pub enabled: bool,
    /// How the webhooks read cards (the holder's phone variable, the time zone of
    /// `expirationDate`): the binary fills it from `[provider]` when the provider is Passteam, so
    /// webhooks and outbound calls agree; `None` uses the document's example mapping and Moscow.
    #[serde(skip)]
    pub provider: Option<walletport_passteam::PassteamConfig>,
}

/// `[hooks]`: the inbound vendor endpoints.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HooksSection {
    /// Passquare CRM hooks; `POST /hooks/passquare` is served when this is present.
    #[serde(default)]
    pub passquare: Option<PassquareHooksConfig>,
    /// Passteam webhooks.
    #[serde(default)]
    pub passteam: PassteamHooksSection,
}

/// `[outbox]`: how the sync worker claims, paces and retries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSection {
    /// Run the worker in this process (several gateways may share one PostgreSQL database; each
    /// may run a worker).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The most outbox items claimed at once.
    #[serde(default = "default_batch")]
    pub batch: u32,
    /// Failed deliveries after which an item goes to the dead letters.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// How long a claim holds before another worker may take the items over.
    #[serde(default = "default_lease", with = "humantime_serde")]
    pub lease: Duration,
    /// How long the worker sleeps when the outbox is empty.
    #[serde(default = "default_poll", with = "humantime_serde")]
    pub poll_interval: Duration,
    /// The first retry delay; doubled per failed attempt, with jitter.
    #[serde(default = "default_backoff_base", with = "humantime_serde")]
    pub backoff_base: Duration,
    /// The longest retry delay.
    #[serde(default = "default_backoff_max", with = "humantime_serde")]
    pub backoff_max: Duration,
    /// Customers delivered at the same time (the transport's quota limiter still sets the pace).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
}

fn yes() -> bool {
    true
}
fn default_batch() -> u32 {
    100
}
fn default_max_attempts() -> u32 {
    12
}
fn default_lease() -> Duration {
    Duration::from_secs(300)
}
fn default_poll() -> Duration {
    Duration::from_millis(500)
}
fn default_backoff_base() -> Duration {
    Duration::from_secs(2)
}
fn default_backoff_max() -> Duration {
    Duration::from_secs(3600)
}
fn default_concurrency() -> usize {
    4
}

impl Default for OutboxSection {
    fn default() -> Self {
        Self {
            enabled: true,
            batch: default_batch(),
            max_attempts: default_max_attempts(),
            lease: default_lease(),
            poll_interval: default_poll(),
            backoff_base: default_backoff_base(),
            backoff_max: default_backoff_max(),
            concurrency: default_concurrency(),
        }
    }
}

/// `[ledger]`: the expiry task.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerSection {
    /// How often the expiry task writes off the lots past their time (an `expiry` entry each)
    /// and queues the new balance for the vendor card. Balances read by the gateway are exact
    /// at any time; this bounds how long a card may show expired points.
    #[serde(default = "default_expiry_interval", with = "humantime_serde")]
    pub expiry_interval: Duration,
}

fn default_expiry_interval() -> Duration {
    Duration::from_secs(60)
}

impl Default for LedgerSection {
    fn default() -> Self {
        Self {
            expiry_interval: default_expiry_interval(),
        }
    }
}

/// Everything the gateway needs besides the store and the provider.
#[derive(Debug, Clone, Default)]
pub struct GatewayConfig {
    /// `[server]`.
    pub server: ServerSection,
    /// `[hooks]`.
    pub hooks: HooksSection,
    /// `[outbox]`.
    pub outbox: OutboxSection,
    /// `[ledger]`.
    pub ledger: LedgerSection,
}

impl GatewayConfig {
    /// Checks what serde cannot: a token on public addresses, sane limits, complete hook auth.
    pub fn validate(&self) -> Result<()> {
        let s = &self.server;
        let token_set = s
            .api_token
            .as_ref()
            .is_some_and(|t| !t.expose_secret().trim().is_empty());
        if !s.listen.ip().is_loopback() && !token_set {
            return Err(Error::config(format!(
                "refusing to listen on non-loopback address {} without `server.api_token`",
                s.listen
            )));
        }
        if s.api_token.is_some() && !token_set {
            return Err(Error::config("`server.api_token` must not be empty"));
        }
        if s.request_timeout.is_zero() {
            return Err(Error::config("`server.request_timeout` must be positive"));
        }
        if s.max_body < 1024 {
            return Err(Error::config(
                "`server.max_body` must be at least 1024 bytes",
            ));
        }
        if let Some(pq) = &self.hooks.passquare {
            pq.validate()?;
        }
        let o = &self.outbox;
        if o.batch == 0 || o.batch > walletport_store::MAX_PAGE {
            return Err(Error::config(format!(
                "`outbox.batch` must be 1..={}",
                walletport_store::MAX_PAGE
            )));
        }
        if o.max_attempts == 0 {
            return Err(Error::config("`outbox.max_attempts` must be at least 1"));
        }
        if o.lease < Duration::from_millis(100) || o.poll_interval.is_zero() {
            return Err(Error::config(
                "`outbox.lease` must be at least 100ms and `outbox.poll_interval` positive",
            ));
        }
        if o.backoff_base.is_zero() || o.backoff_max < o.backoff_base {
            return Err(Error::config(
                "`outbox.backoff_base` must be positive and not above `outbox.backoff_max`",
            ));
        }
        if o.concurrency == 0 || o.concurrency > 256 {
            return Err(Error::config("`outbox.concurrency` must be 1..=256"));
        }
        if self.ledger.expiry_interval < Duration::from_millis(10) {
            return Err(Error::config(
                "`ledger.expiry_interval` must be at least 10ms",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_loopback() {
        let c = GatewayConfig::default();
        c.validate().unwrap();
        assert_eq!(c.server.listen.to_string(), DEFAULT_LISTEN);
        assert!(c.server.database.starts_with("sqlite://walletport.db"));
    }

    #[test]
    fn public_address_needs_a_token() {
        let mut c = GatewayConfig::default();
        c.server.listen = "0.0.0.0:8080".parse().unwrap();
        let e = c.validate().unwrap_err();
        assert_eq!(e.kind(), walletport_core::ErrorKind::ConfigInvalid);
        c.server.api_token = Some(SecretString::from("  "));
        assert!(c.validate().is_err());
        c.server.api_token = Some(SecretString::from("s3cret-token"));
        c.validate().unwrap();
        assert!(!format!("{c:?}").contains("s3cret-token"));
    }

    #[test]
    fn sections_parse_with_humantime_and_reject_unknown_keys() {
        let o: OutboxSection =
            serde_json::from_value(serde_json::json!({"batch": 5, "lease": "2s"})).unwrap();
        assert_eq!((o.batch, o.lease), (5, Duration::from_secs(2)));
        assert!(serde_json::from_value::<OutboxSection>(serde_json::json!({"bogus": 1})).is_err());
        let mut c = GatewayConfig {
            outbox: o,
            ..GatewayConfig::default()
        };
        c.validate().unwrap();
        c.outbox.batch = 0;
        assert!(c.validate().is_err());
    }

    #[test]
    fn behind_tls_is_off_unless_set_and_misspellings_are_refused() {
        assert!(!ServerSection::default().behind_tls);
        let s: ServerSection =
            serde_json::from_value(serde_json::json!({"behind_tls": true})).unwrap();
        assert!(s.behind_tls);
        let bad = serde_json::json!({"behind_tsl": true});
        assert!(serde_json::from_value::<ServerSection>(bad).is_err());
    }

    #[test]
    fn ledger_section_parses_its_interval_and_rejects_unknown_keys() {
        assert_eq!(
            LedgerSection::default().expiry_interval,
            Duration::from_secs(60)
        );
        let l: LedgerSection =
            serde_json::from_value(serde_json::json!({"expiry_interval": "30s"})).unwrap();
        assert_eq!(l.expiry_interval, Duration::from_secs(30));
        for bad in [
            serde_json::json!({"expiry_intervall": "30s"}),
            serde_json::json!({"expiry_interval": "soon"}),
        ] {
            assert!(serde_json::from_value::<LedgerSection>(bad).is_err());
        }
        let mut c = GatewayConfig::default();
        c.ledger.expiry_interval = Duration::ZERO;
        assert!(c.validate().is_err());
    }
}
