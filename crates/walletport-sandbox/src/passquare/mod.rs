//! The Passquare emulator: `POST /api/v2/status` and `/api/v2/crm/...` with `app_key` in the JSON
//! body, as the Passquare API (2.7.5 and the examples version) documents them.
//!
//! Stateful: customers keyed by phone, card numbers allocated from a configurable start, card and
//! Google Pay URLs, form hashes, install flags, referrals, segments and push campaigns with a log
//! of every push "sent" (including the "card modified" notice Passquare sends when a push rides
//! along with a field change). It checks `app_key`, enforces the plan's rate limits (HTTP 429 past
//! them — Passquare does not document its answer; this is an assumption) and injects faults.
//!
//! Admin endpoints under `/_admin/` (no `app_key`, not counted): `install` simulates a card install
//! and calls the merchant's CRM hook with `createCustomer` exactly as Passquare would;
//! `read_balance` / `add_balance` call the other two hooks; `hook` sets the CRM hook target;
//! `segments`, `seed`, `uninstall`; `GET /_admin/{pushes,sms,hooks,customers,campaigns}`.

mod admin;
mod api;
mod state;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use chrono::{NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::common::{
    FaultInjector, Faults, QuotaWindow, RunningServer, SlidingQuota, insert_retry_after,
    json_response, lock, serve, with_faults,
};

pub use admin::{HookLogEntry, InstallRequest};
pub use state::{
    EmuCampaign, EmuCard, EmuCustomer, Numbers, PushKind, PushLogEntry, Segment, SmsLogEntry,
};

use api::Fail;
use state::State;

/// How the emulator authenticates to the CRM hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HookAuth {
    /// `crm_key` in the JSON body (both documents' examples).
    #[default]
    Body,
    /// HTTP Basic: the configured login/password, or an empty login with `crm_key` as password.
    Basic,
}

/// Where and how the emulator calls the merchant's CRM (the "URL integration" settings).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmHookTarget {
    /// The CRM hook URL.
    pub url: String,
    /// The `crm_key`.
    #[serde(default)]
    pub crm_key: Option<String>,
    /// Body key or HTTP Basic.
    #[serde(default)]
    pub auth: HookAuth,
    /// Basic login (with `basic_password`).
    #[serde(default)]
    pub basic_user: Option<String>,
    /// Basic password.
    #[serde(default)]
    pub basic_password: Option<String>,
    /// Sent as `X-organization-id`.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Sent as `X-program-id`.
    #[serde(default)]
    pub program_id: Option<String>,
    /// Sent as `X-wallet-id`.
    #[serde(default)]
    pub wallet_id: Option<String>,
}

/// How the Passquare emulator behaves; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PassquareEmulatorConfig {
    /// The accepted `app_key`.
    pub app_key: String,
    /// The account name `status` reports.
    pub account: String,
    /// The prepaid balance `status` reports.
    pub account_balance: Decimal,
    /// The first card number allocated ("the starting number of the free range of cards").
    pub first_card_number: u64,
    /// Where card and form URLs point.
    pub public_url: String,
    /// The plan's windows (default base: 1/s and 60/h). Empty: no limit.
    pub quota: Vec<QuotaWindow>,
    /// Faults to inject into API requests (not admin ones).
    pub faults: Faults,
    /// Numbers in answers and hooks as strings (2.7.5) or JSON numbers (examples).
    pub numbers: Numbers,
    /// Web push connected from the Marketplace.
    pub webpush_enabled: bool,
    /// Telegram connected from the Marketplace.
    pub telegram_enabled: bool,
    /// Segments present at start.
    pub segments: Vec<Segment>,
    /// The merchant's CRM hook, if configured.
    pub crm_hook: Option<CrmHookTarget>,
}

impl Default for PassquareEmulatorConfig {
    fn default() -> Self {
        Self {
            app_key: "sandbox-app-key".into(),
            account: "walletport-sandbox".into(),
            account_balance: Decimal::new(98000, 2),
            first_card_number: 120,
            public_url: "https://core.passquare.invalid".into(),
            quota: vec![
                QuotaWindow {
                    limit: 1,
                    per: Duration::from_secs(1),
                },
                QuotaWindow {
                    limit: 60,
                    per: Duration::from_secs(3600),
                },
            ],
            faults: Faults::default(),
            numbers: Numbers::String,
            webpush_enabled: true,
            telegram_enabled: true,
            segments: Vec::new(),
            crm_hook: None,
        }
    }
}

impl PassquareEmulatorConfig {
    /// The defaults without any rate limit, for tests that are not about quotas.
    pub fn unlimited() -> Self {
        Self {
            quota: Vec::new(),
            ..Self::default()
        }
    }
}

/// One API request the emulator received (`app_key` removed), for tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestLogEntry {
    /// The path, e.g. `/api/v2/crm/read_customer`.
    pub path: String,
    /// The body, or `null` when it was not JSON.
    pub body: Value,
    /// The HTTP status answered.
    pub status: u16,
}

pub(crate) struct Shared {
    pub(crate) config: PassquareEmulatorConfig,
    state: Mutex<State>,
    hook: Mutex<Option<CrmHookTarget>>,
    hooks_log: Mutex<Vec<HookLogEntry>>,
    requests: Mutex<Vec<RequestLogEntry>>,
    quota: SlidingQuota,
    faults: Arc<FaultInjector>,
    pub(crate) http: reqwest::Client,
    clock: Mutex<Option<NaiveDateTime>>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
    pub(crate) fn lock_logs(&self) -> MutexGuard<'_, Vec<HookLogEntry>> {
        lock(&self.hooks_log)
    }
    pub(crate) fn hook_target(&self) -> Option<CrmHookTarget> {
        lock(&self.hook).clone()
    }
    /// Registration time: the test clock if set, else now (UTC).
    pub(crate) fn now(&self) -> NaiveDateTime {
        lock(&self.clock).unwrap_or_else(|| Utc::now().naive_utc())
    }
}

/// A running Passquare emulator's shared state; clones are cheap and see the same state.
#[derive(Clone)]
pub struct PassquareEmulator {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for PassquareEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassquareEmulator").finish_non_exhaustive()
    }
}

impl PassquareEmulator {
    /// A fresh emulator with `config`.
    pub fn new(config: PassquareEmulatorConfig) -> Self {
        let state = State::new(&config);
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                hook: Mutex::new(config.crm_hook.clone()),
                hooks_log: Mutex::new(Vec::new()),
                requests: Mutex::new(Vec::new()),
                quota: SlidingQuota::new(&config.quota),
                faults: Arc::new(FaultInjector::new(config.faults.clone())),
                http: reqwest::Client::new(),
                clock: Mutex::new(None),
                config,
            }),
        }
    }

    /// The HTTP routes: the API (with faults) and the admin endpoints.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/api/v2/{*method}", post(api_endpoint))
            .with_state(self.clone());
        let api = with_faults(api, self.shared.faults.clone());
        let admin = Router::new()
            .route("/_admin/{action}", post(admin_post).get(admin_get))
            .with_state(self.clone());
        api.merge(admin)
    }

    /// Serves a new emulator on `addr` (port 0 for a free one).
    pub async fn spawn(
        config: PassquareEmulatorConfig,
        addr: SocketAddr,
    ) -> std::io::Result<(RunningServer, PassquareEmulator)> {
        let emu = Self::new(config);
        let server = serve(emu.router(), addr).await?;
        Ok((server, emu))
    }

    /// Sets (or clears) the CRM hook target, e.g. once the merchant's server has its address.
    pub fn set_crm_hook(&self, target: Option<CrmHookTarget>) {
        *lock(&self.shared.hook) = target;
    }

    /// Fixes the registration clock (UTC) for customers created from now on; `None` = real time.
    pub fn set_clock(&self, at: Option<NaiveDateTime>) {
        *lock(&self.shared.clock) = at;
    }

    /// Adds a segment of `phones`; returns its uuid.
    pub fn add_segment(&self, name: &str, phones: &[String]) -> Result<String, String> {
        let phones = phones
            .iter()
            .map(|p| {
                walletport_core::Phone::parse(p)
                    .map(|p| p.as_str().to_owned())
                    .map_err(|e| e.message().to_owned())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut st = self.shared.lock();
        let uuid = st.new_uuid(name);
        st.segments.push(admin::segment(uuid.clone(), name, phones));
        Ok(uuid)
    }

    /// Adds `count` customers with consecutive phones from `start_phone` (E.164), each with a
    /// card; every `installed_every`-th one (1-based; 0 = none) has it installed.
    pub fn seed_customers(
        &self,
        start_phone: &str,
        count: u64,
        installed_every: u64,
    ) -> Result<(), String> {
        let start =
            walletport_core::Phone::parse(start_phone).map_err(|e| e.message().to_owned())?;
        let base: u64 = start
            .digits()
            .parse()
            .map_err(|_| "start phone too long".to_owned())?;
        let now = self.shared.now();
        let mut st = self.shared.lock();
        for n in 0..count {
            let phone = format!("+{}", base + n);
            let (i, _) = st.ensure_customer(&phone, now);
            st.ensure_card(i);
            if installed_every > 0
                && (n + 1) % installed_every == 0
                && let Some(card) = st.customers[i].card.as_mut()
            {
                card.installed = true;
            }
        }
        Ok(())
    }

    /// Every push "sent" so far.
    pub fn push_log(&self) -> Vec<PushLogEntry> {
        self.shared.lock().pushes.clone()
    }
    /// Every SMS "sent" so far.
    pub fn sms_log(&self) -> Vec<SmsLogEntry> {
        self.shared.lock().sms.clone()
    }
    /// Every CRM hook call made so far.
    pub fn hook_log(&self) -> Vec<HookLogEntry> {
        self.shared.lock_logs().clone()
    }
    /// Every API request received so far (faulted ones excluded; quota rejections included).
    pub fn request_log(&self) -> Vec<RequestLogEntry> {
        lock(&self.shared.requests).clone()
    }
    /// How many API requests reached the emulator (quota rejections included).
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }
    /// How many API requests were refused with 429 by the plan.
    pub fn quota_rejections(&self) -> u64 {
        self.shared.quota.rejected()
    }
    /// How many requests got an injected fault.
    pub fn faults_injected(&self) -> u64 {
        self.shared.faults.injected()
    }
    /// How many customers exist.
    pub fn customer_count(&self) -> usize {
        self.shared.lock().customers.len()
    }
    /// A customer by phone (any international form).
    pub fn customer(&self, phone: &str) -> Option<EmuCustomer> {
        let phone = walletport_core::Phone::parse(phone).ok()?;
        let st = self.shared.lock();
        st.index(phone.as_str()).map(|i| st.customers[i].clone())
    }
    /// Every campaign.
    pub fn campaigns(&self) -> Vec<EmuCampaign> {
        self.shared.lock().campaigns.clone()
    }
}

fn answer(result: Result<Value, Fail>) -> Response {
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(Fail(status, message)) => {
            json_response(status, &json!({"success": false, "error": message}))
        }
    }
}

async fn api_endpoint(
    AxumState(emu): AxumState<PassquareEmulator>,
    Path(method): Path<String>,
    body: Bytes,
) -> Response {
    let shared = &emu.shared;
    let parsed: Option<Map<String, Value>> = serde_json::from_slice(&body).ok();
    let result = if let Err(window) = shared.quota.admit() {
        let mut resp = answer(Err(Fail(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests".into(),
        )));
        if window.per <= Duration::from_secs(60) {
            insert_retry_after(&mut resp, &window);
        }
        log_request(shared, &method, parsed, 429);
        return resp;
    } else {
        match &parsed {
            None => Err(Fail(StatusCode::BAD_REQUEST, "Invalid JSON".into())),
            Some(b)
                if b.get("app_key").and_then(Value::as_str)
                    != Some(shared.config.app_key.as_str()) =>
            {
                Err(Fail(StatusCode::UNAUTHORIZED, "Invalid app_key".into()))
            }
            Some(b) => match method.as_str() {
                "status" => api::status(shared),
                "crm/user_create_or_update" => api::upsert(shared, b),
                "crm/read_customer" => api::read_customer(shared, b),
                "crm/read_customers" => api::read_customers(shared, b),
                "crm/push/create" => api::push_create(shared, b),
                "crm/push/send" => api::push_send(shared, b),
                _ => Err(Fail(StatusCode::NOT_FOUND, "Method not found".into())),
            },
        }
    };
    let resp = answer(result);
    log_request(shared, &method, parsed, resp.status().as_u16());
    resp
}

fn log_request(shared: &Shared, method: &str, body: Option<Map<String, Value>>, status: u16) {
    let body = body.map_or(Value::Null, |mut b| {
        b.remove("app_key");
        Value::Object(b)
    });
    lock(&shared.requests).push(RequestLogEntry {
        path: format!("/api/v2/{method}"),
        body,
        status,
    });
}

async fn admin_post(
    AxumState(emu): AxumState<PassquareEmulator>,
    Path(action): Path<String>,
    body: Bytes,
) -> Response {
    let parsed: Map<String, Value> = if body.is_empty() {
        Map::new()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                return answer(Err(Fail(
                    StatusCode::BAD_REQUEST,
                    format!("invalid JSON: {e}"),
                )));
            }
        }
    };
    answer(admin::admin(&emu, &action, &parsed).await)
}

async fn admin_get(
    AxumState(emu): AxumState<PassquareEmulator>,
    Path(what): Path<String>,
) -> Response {
    let value = match what.as_str() {
        "pushes" => json!(emu.push_log()),
        "sms" => json!(emu.sms_log()),
        "hooks" => json!(emu.hook_log()),
        "campaigns" => json!(emu.campaigns()),
        "customers" => json!(emu.shared.lock().customers),
        "requests" => json!(emu.request_log()),
        _ => {
            return answer(Err(Fail(
                StatusCode::NOT_FOUND,
                format!("unknown listing `{what}`"),
            )));
        }
    };
    answer(Ok(value))
}
