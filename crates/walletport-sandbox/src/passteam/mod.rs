//! The Passteam emulator: `POST /oapi/v1/<method>` with token auth, typed template variables,
//! unique variables (409 with the duplicated card ids), pagination as documented, uniqueness
//! checks, `distribute` and `sendpush` logs, deletion, sales and products, the documented
//! rate-limit message past the quota, fault injection, both body encodings, and a webhook sender
//! repeating every event on a (compressible) 1–2 h / 24 h schedule. Date variables are checked
//! in their template's `dateStyle` ([`VariableSpec::date_style`]); with
//! [`PassteamEmulatorConfig::phones_without_plus`] phones are stored as the document's `getcard`
//! example shows them (`71234567890`).

mod form;
mod handlers;
mod handlers_commerce;
pub mod state;
mod webhooks;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::{
    FaultInjector, Faults, QuotaWindow, RunningServer, SlidingQuota, lock, serve, with_faults,
};
pub use form::{Form, decode, decode_multipart, variable_name};
use state::{Account, StoredCard};
pub use state::{TemplateSpec, VariableSpec};
pub use webhooks::{Delivery, RepeatWindow};

/// Settings of the emulator (all have defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PassteamEmulatorConfig {
    /// API tokens accepted in `Authorization`.
    pub tokens: Vec<String>,
    /// Login for `getatoken`.
    pub login: String,
    /// Password for `getatoken`.
    pub password: String,
    /// The account's user name (`owner` of templates).
    pub owner: String,
    /// The templates.
    pub templates: Vec<TemplateSpec>,
    /// Quota windows; past them every request gets "You can only make N requests per hour" (per
    /// day for a day window; a window shorter than an hour names its own period and adds
    /// `Retry-After`).
    pub quota: Vec<QuotaWindow>,
    /// The HTTP status of the rate-limit answer (the envelope `code` is always 429; the document
    /// leaves the HTTP status open, so tests can try 200 as well).
    pub rate_limit_http_status: u16,
    /// Injected faults.
    pub faults: Faults,
    /// Where webhooks are posted; none when `None`.
    pub webhook_url: Option<String>,
    /// The repeats after the first delivery (default 1–2 h and 24 h).
    pub webhook_repeats: Vec<RepeatWindow>,
    /// Multiplies every repeat delay (e.g. `0.0001` turns 24 h into under 9 s).
    pub webhook_time_scale: f64,
    /// The company id of products.
    pub company_id: String,
    /// Store `phone` variables without their `+` (`"PHONE": "71234567890"`, as the document's
    /// `getcard` example shows); lookups by value then match only that form.
    pub phones_without_plus: bool,
}

impl Default for PassteamEmulatorConfig {
    fn default() -> Self {
        Self {
            tokens: vec!["sandbox-token".into()],
            login: "sandbox".into(),
            password: "sandbox".into(),
            owner: "sandbox-owner".into(),
            templates: vec![TemplateSpec::sandbox()],
            quota: vec![
                QuotaWindow {
                    limit: 30_000,
                    per: std::time::Duration::from_secs(3600),
                },
                QuotaWindow {
                    limit: 350_000,
                    per: std::time::Duration::from_secs(86_400),
                },
            ],
            rate_limit_http_status: 429,
            faults: Faults::default(),
            webhook_url: None,
            webhook_repeats: RepeatWindow::documented(),
            webhook_time_scale: 1.0,
            company_id: "sandbox-company".into(),
            phones_without_plus: false,
        }
    }
}

/// A `distribute` call the emulator "sent".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DistributeEntry {
    /// The card.
    pub card_id: String,
    /// `sms` or `email`.
    pub channel: String,
    /// The phone or e-mail it went to.
    pub to: String,
}

/// A `sendpush` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushEntry {
    /// The template.
    pub template_id: String,
    /// The text.
    pub message: String,
    /// How many cards it reached.
    pub recipients: usize,
}

/// One request as the emulator saw it (method name and decoded fields), for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// The API method (`createcard`, ...).
    pub method: String,
    /// `multipart/form-data`, `application/x-www-form-urlencoded` or empty.
    pub content_type: String,
    /// The decoded fields.
    pub fields: Vec<(String, String)>,
}

pub(crate) struct Shared {
    pub(crate) config: PassteamEmulatorConfig,
    pub(crate) account: Mutex<Account>,
    pub(crate) issued_tokens: Mutex<BTreeSet<String>>,
    pub(crate) quota: SlidingQuota,
    pub(crate) faults: Arc<FaultInjector>,
    pub(crate) distributed: Mutex<Vec<DistributeEntry>>,
    pub(crate) pushes: Mutex<Vec<PushEntry>>,
    pub(crate) requests: Mutex<Vec<LoggedRequest>>,
    pub(crate) webhooks: webhooks::Sender,
}

/// A handle on one emulated Passteam account; clones share the state.
#[derive(Clone)]
pub struct PassteamEmulator {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PassteamEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassteamEmulator").finish_non_exhaustive()
    }
}

impl PassteamEmulator {
    /// A fresh account with `config`.
    pub fn new(config: PassteamEmulatorConfig) -> Self {
        let account = Account {
            templates: config
                .templates
                .iter()
                .map(|t| (t.id.clone(), t.clone()))
                .collect(),
            phones_without_plus: config.phones_without_plus,
            ..Account::default()
        };
        Self {
            shared: Arc::new(Shared {
                quota: SlidingQuota::new(&config.quota),
                faults: Arc::new(FaultInjector::new(config.faults.clone())),
                webhooks: webhooks::Sender::new(&config),
                account: Mutex::new(account),
                issued_tokens: Mutex::new(BTreeSet::new()),
                distributed: Mutex::new(Vec::new()),
                pushes: Mutex::new(Vec::new()),
                requests: Mutex::new(Vec::new()),
                config,
            }),
        }
    }

    /// The HTTP API (with fault injection).
    pub fn router(&self) -> Router {
        with_faults(
            handlers::routes(self.shared.clone()),
            self.shared.faults.clone(),
        )
    }

    /// Serves a new emulator on `addr` (port 0 for a free one).
    pub async fn spawn(
        config: PassteamEmulatorConfig,
        addr: SocketAddr,
    ) -> std::io::Result<(RunningServer, PassteamEmulator)> {
        let emulator = Self::new(config);
        let server = serve(emulator.router(), addr).await?;
        Ok((server, emulator))
    }

    /// Every request so far (decoded), oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// How many API requests arrived (including rejected ones).
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// The `distribute` log.
    pub fn distributed(&self) -> Vec<DistributeEntry> {
        lock(&self.shared.distributed).clone()
    }

    /// The `sendpush` log.
    pub fn pushes(&self) -> Vec<PushEntry> {
        lock(&self.shared.pushes).clone()
    }

    /// Every webhook delivery attempt so far.
    pub fn webhook_deliveries(&self) -> Vec<Delivery> {
        self.shared.webhooks.deliveries()
    }

    /// Requests rejected by the quota.
    pub fn quota_rejections(&self) -> u64 {
        self.shared.quota.rejected()
    }

    /// Requests that got an injected fault.
    pub fn faults_injected(&self) -> u64 {
        self.shared.faults.injected()
    }

    /// How many cards exist.
    pub fn card_count(&self) -> usize {
        lock(&self.shared.account).cards.len()
    }

    /// A card as the API would return it, by id.
    pub fn card(&self, card_id: &str) -> Option<Value> {
        let account = lock(&self.shared.account);
        let i = account.cards.iter().position(|c| c.id == card_id)?;
        Some(account.card_json(i))
    }

    /// Simulates the holder adding the card to a wallet (`apple` or Google) and fires
    /// `installCard`; `false` when there is no such card.
    pub fn install(&self, card_id: &str, apple: bool) -> bool {
        self.set_installed(card_id, apple, true)
    }

    /// Simulates removing the card from a wallet and fires `unInstallCard`.
    pub fn uninstall(&self, card_id: &str, apple: bool) -> bool {
        self.set_installed(card_id, apple, false)
    }

    fn set_installed(&self, card_id: &str, apple: bool, on: bool) -> bool {
        let card = {
            let mut account = lock(&self.shared.account);
            let Some(i) = account.cards.iter().position(|c| c.id == card_id) else {
                return false;
            };
            let c: &mut StoredCard = &mut account.cards[i];
            if apple {
                c.installed_aw = on;
            } else {
                c.installed_gpay = on;
            }
            account.card_json(i)
        };
        self.shared
            .webhooks
            .emit(if on { "installCard" } else { "unInstallCard" }, card);
        true
    }

    /// Stores a sale (Passteam documents no way to create one), returning its id.
    pub fn insert_sale(&self, mut sale: Value) -> String {
        let mut account = lock(&self.shared.account);
        let id = format!("sale-{}", account.sales.len() + 1);
        sale["id"] = Value::String(id.clone());
        account.sales.insert(id.clone(), sale);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::one_window;

    async fn post(base: &str, method: &str, token: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .post(format!("{base}/oapi/v1/{method}"))
            .header("Authorization", token)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or_default(),
        )
    }

    /// An emulator on a free loopback port whose only quota window allows
    /// `limit` calls per `per_secs` seconds.
    async fn spawn_with_quota(limit: u32, per_secs: u64) -> (RunningServer, PassteamEmulator) {
        let config = PassteamEmulatorConfig {
            quota: one_window(limit, per_secs),
            ..Default::default()
        };
        PassteamEmulator::spawn(
            config,
            "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn unique_variables_pagination_auth_and_quota() {
        let (server, emu) = spawn_with_quota(8, 3600).await;
        let base = server.base_url();
        let t = "5e424c181dbf0d537c8b4569";
        let create = |phone: &'static str| {
            let base = base.clone();
            async move {
                post(
                    &base,
                    "createcard",
                    "sandbox-token",
                    &[("templateId", t), ("values[%PHONE%]", phone)],
                )
                .await
            }
        };
        let (s, first) = create("+79990000001").await;
        assert_eq!((s, first["error"].as_bool()), (200, Some(false)), "{first}");
        let id = first["result"]["cardId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(id.len(), 24);
        let (s, dup) = create("+79990000001").await;
        assert_eq!(s, 409);
        assert!(
            dup["message"]
                .as_str()
                .is_some_and(|m| m.ends_with(&format!("Duplicated cards: {id}"))),
            "{dup}"
        );
        let (s, missing) = post(&base, "createcard", "sandbox-token", &[("templateId", t)]).await;
        assert_eq!(
            (s, missing["message"].as_str()),
            (
                500,
                Some("Provided field (PHONE) is unique and must be set.")
            )
        );
        let (s, bad) = create("79990000002").await;
        assert_eq!(s, 400, "phone without + is rejected: {bad}");
        create("+79990000002").await;
        create("+79990000003").await;
        let (_, page) = post(
            &base,
            "getcardswithpagination",
            "sandbox-token",
            &[("templateId", t), ("page", "2"), ("perPage", "2")],
        )
        .await;
        let r = &page["result"];
        assert_eq!(
            (
                r["pageCount"].as_u64(),
                r["nextPage"].clone(),
                r["previouslyPage"].as_u64(),
                r["cardsCount"].as_u64()
            ),
            (Some(2), Value::Null, Some(1), Some(3))
        );
        assert_eq!(r["cards"].as_array().map(Vec::len), Some(1));
        let (s, _) = post(&base, "gettemplate", "wrong", &[("templateId", t)]).await;
        assert_eq!(s, 401);
        let (s, limited) = post(&base, "gettemplate", "sandbox-token", &[("templateId", t)]).await;
        assert_eq!(
            (s, limited["message"].as_str()),
            (429, Some("You can only make 8 requests per hour")),
            "{limited}"
        );
        assert_eq!(emu.quota_rejections(), 1);
    }

    #[tokio::test]
    async fn a_short_test_window_names_its_period_and_a_retry_after() {
        let (server, emu) = spawn_with_quota(1, 1).await;
        let url = format!("{}/oapi/v1/gettemplate", server.base_url());
        let send = || {
            reqwest::Client::new()
                .post(&url)
                .header("Authorization", "sandbox-token")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("templateId=5e424c181dbf0d537c8b4569")
                .send()
        };
        let first = send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.status().as_u16(), 200);
        let limited = send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(limited.status().as_u16(), 429);
        assert_eq!(
            limited
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
        let body: Value = limited.json().await.unwrap_or_default();
        assert_eq!(
            (body["message"].as_str(), body["code"].as_u64()),
            (Some("You can only make 1 requests per second"), Some(429)),
            "{body}"
        );
        assert_eq!((emu.quota_rejections(), emu.request_count()), (1, 2));
    }
}
