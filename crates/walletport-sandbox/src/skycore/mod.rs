//! The Skycore emulator: one POST endpoint taking a JSON body with an `action`, as the Skycore
//! loyalty-card API does.
//!
//! Stateful: pass templates of both layouts with generated ids, passes with install URLs and
//! tracking ids, pass-id uniqueness, `new-pass-id` renames, status changes, a log of the update
//! notifications Skycore would push, issuance links with preview URLs. It answers the documented
//! validations with Skycore's error codes inside HTTP 200 (`"status": "Failure"`, or `"FAILURE"`
//! for the two read actions, as the document shows both), checks the `X-Api-Key` header, and
//! injects faults ([`Faults`]), including the document's internal errors after processing
//! ([`SkycoreEmulator::fail_after_processing`]). `getpassdata` and `updatepassdata` require the
//! pass's own `pass-template-id` (mandatory in the document; another template answers E808).
//! Actions are case-insensitive, as on Skycore.
//!
//! With [`SkycoreEmulatorConfig::quota`] it enforces a plan like the other emulators: Skycore
//! documents no rate limit, so the answer past the plan is an assumption, the one the adapter
//! expects (`docs/providers/skycore.md`, "Rate limits"): HTTP 429 with a Skycore failure body
//! (`E429`, not a documented code) and `Retry-After` for windows of a minute or less.

mod actions;
mod checks;
mod state;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::common::{
    FaultInjector, Faults, QuotaWindow, RunningServer, SlidingQuota, insert_retry_after,
    json_response, lock, serve, with_faults,
};

pub use state::{Layout, SkycoreNotification, SkycoreRequest};

use actions::Env;
use state::{State, TemplateRecord, seed_template_body};

/// A template present when the emulator starts, so passes can be generated right away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTemplate {
    /// Its pass-template-id.
    pub id: String,
    /// Its layout.
    #[serde(default)]
    pub layout: Layout,
    /// Its pass-template-name.
    #[serde(default = "default_seed_name")]
    pub name: String,
}

fn default_seed_name() -> String {
    "Sandbox loyalty card".into()
}

/// A template body (name, layout, every required setting) the emulator accepts, named `name`:
/// what a test or a demo sends to create a template without restating Skycore's required fields.
pub fn sample_template(name: &str) -> Value {
    json!({
        "name": name,
        "layout": "loyalty-card-type2",
        "settings": {
            "appearance": {"program-logo": "https://x.invalid/l.png",
                "program-logo-gpay": "https://x.invalid/g.png", "card-issuer": "Shop",
                "background-color": "#112233"},
            "apple-wallet-fields": {"text-color": "", "description": "d"},
            "barcode-fields": {"barcode-type": "QRCODE"},
            "universal-fields": {"program-name": "Club"}
        }
    })
}

/// How the Skycore emulator behaves; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SkycoreEmulatorConfig {
    /// The `X-Api-Key` value accepted (case-sensitive, like Skycore's).
    pub api_key: String,
    /// Where the install and preview URLs the emulator hands out point.
    pub public_url: String,
    /// Templates present at start (default: `sandbox-layout-1` and `sandbox-layout-2`).
    pub templates: Vec<SeedTemplate>,
    /// Answer `getpassdata` with the document's second key set (`logo-url`, `pass-issuer`,
    /// `strip-url`, `link1-URI`, `home-page-URI`) instead of the first.
    pub alternate_keys: bool,
    /// Seed of the generated ids, so runs are reproducible.
    pub seed: u64,
    /// Faults to inject.
    pub faults: Faults,
    /// The plan's windows, enforced with 429s (see the module docs). Empty (the default): no
    /// limit, as Skycore documents none.
    pub quota: Vec<QuotaWindow>,
}

impl Default for SkycoreEmulatorConfig {
    fn default() -> Self {
        Self {
            api_key: "sandbox-api-key".into(),
            public_url: "https://wallet.skycore.invalid".into(),
            templates: vec![
                SeedTemplate {
                    id: "sandbox-layout-1".into(),
                    layout: Layout::One,
                    name: "Sandbox layout 1".into(),
                },
                SeedTemplate {
                    id: "sandbox-layout-2".into(),
                    layout: Layout::Two,
                    name: "Sandbox layout 2".into(),
                },
            ],
            alternate_keys: false,
            seed: 1,
            faults: Faults::default(),
            quota: Vec::new(),
        }
    }
}

struct Shared {
    api_key: String,
    env: Env,
    state: Mutex<State>,
    faults: Arc<FaultInjector>,
    quota: SlidingQuota,
    /// API requests past the key check, the ones refused by the plan included.
    received: AtomicU64,
}

/// A running emulator's handle: cheap to clone, all clones share one state.
#[derive(Clone)]
pub struct SkycoreEmulator {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SkycoreEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkycoreEmulator").finish_non_exhaustive()
    }
}

impl SkycoreEmulator {
    /// A new emulator with the seeded templates.
    pub fn new(config: SkycoreEmulatorConfig) -> Self {
        let mut state = State::new(config.seed);
        for seed in &config.templates {
            state.templates.insert(
                seed.id.clone(),
                TemplateRecord {
                    layout: seed.layout,
                    body: seed_template_body(&seed.name, seed.layout),
                },
            );
        }
        Self {
            shared: Arc::new(Shared {
                api_key: config.api_key,
                env: Env {
                    public_url: config.public_url,
                    alternate_keys: config.alternate_keys,
                },
                state: Mutex::new(state),
                faults: Arc::new(FaultInjector::new(config.faults)),
                quota: SlidingQuota::new(&config.quota),
                received: AtomicU64::new(0),
            }),
        }
    }

    /// The axum router: `POST /` (and any other path, since Skycore documents none).
    pub fn router(&self) -> Router {
        let router = Router::new()
            .route("/", post(handle))
            .route("/{*path}", post(handle))
            .with_state(self.clone());
        with_faults(router, self.shared.faults.clone())
    }

    /// Starts an emulator on `addr` (port 0 for a free one).
    pub async fn spawn(
        config: SkycoreEmulatorConfig,
        addr: SocketAddr,
    ) -> std::io::Result<(RunningServer, SkycoreEmulator)> {
        let emulator = Self::new(config);
        let server = serve(emulator.router(), addr).await?;
        Ok((server, emulator))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.shared.state)
    }

    /// Every request accepted past the API-key check, in order.
    pub fn requests(&self) -> Vec<SkycoreRequest> {
        self.state().requests.clone()
    }

    /// Every pass update notification pushed, in order.
    pub fn notifications(&self) -> Vec<SkycoreNotification> {
        self.state().notifications.clone()
    }

    /// The ids of all passes.
    pub fn pass_ids(&self) -> Vec<String> {
        self.state().passes.keys().cloned().collect()
    }

    /// The stored pass-data of one pass (template values not merged in).
    pub fn pass_data(&self, pass_id: &str) -> Option<Value> {
        self.state()
            .passes
            .get(pass_id)
            .map(|p| Value::Object(p.pass_data.clone()))
    }

    /// The stored pass-meta-data and reference-data of one pass.
    pub fn pass_meta(&self, pass_id: &str) -> Option<(Value, Value)> {
        self.state()
            .passes
            .get(pass_id)
            .map(|p| (Value::Object(p.meta_data.clone()), p.reference_data.clone()))
    }

    /// The install URL handed out for a pass.
    pub fn install_url(&self, pass_id: &str) -> Option<String> {
        self.state()
            .passes
            .get(pass_id)
            .map(|p| p.install_url.clone())
    }

    /// The ids of all templates with their layouts.
    pub fn templates(&self) -> Vec<(String, Layout)> {
        self.state()
            .templates
            .iter()
            .map(|(id, t)| (id.clone(), t.layout))
            .collect()
    }

    /// The stored body of an issuance link and its preview URL.
    pub fn issuance_link(&self, id: &str) -> Option<(Value, String)> {
        self.state()
            .links
            .get(id)
            .map(|l| (Value::Object(l.body.clone()), l.preview_url.clone()))
    }

    /// Generates a pass as a `generatepass` call would (same validations, logged like one), for
    /// tests that need a pass made outside the code under test. Returns the install URL, or
    /// Skycore's error code and message.
    pub fn seed_pass(
        &self,
        template_id: &str,
        pass_id: &str,
        pass_data: Value,
    ) -> Result<String, (String, String)> {
        let body = json!({"action": "generatepass", "pass-template-id": template_id,
            "pass-id": pass_id, "pass-data": pass_data});
        let (_, reply) = self.answer(body.to_string().as_bytes());
        match reply.get("pass-install-url").and_then(Value::as_str) {
            Some(url) => Ok(url.to_owned()),
            None => Err((
                reply["error-code"].as_str().unwrap_or_default().to_owned(),
                reply["error-message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )),
        }
    }

    /// Makes the next `times` requests of `action` (`generatepass` or `updatepassdata`) fail
    /// *after* they were processed, with the document's internal error (`E830` "The pass was not
    /// generated.", `E809` "The pass was not updated."): the ambiguous failure a client cannot
    /// tell from one that changed nothing, e.g. an update whose notification was already pushed.
    /// Other actions are ignored.
    pub fn fail_after_processing(&self, action: &str, times: u32) {
        let action = action.to_ascii_lowercase();
        if internal_error(&action).is_some() {
            self.state().fail_after.insert(action, times);
        }
    }

    /// How many requests got an injected fault.
    pub fn faults_injected(&self) -> u64 {
        self.shared.faults.injected()
    }

    /// How many API requests arrived past the key check, those refused by the plan included
    /// ([`Self::requests`] holds only the ones processed).
    pub fn request_count(&self) -> u64 {
        self.shared.received.load(Ordering::Relaxed)
    }

    /// How many API requests were refused with 429 by the plan.
    pub fn quota_rejections(&self) -> u64 {
        self.shared.quota.rejected()
    }

    /// Runs one request body through the emulator as if it arrived over HTTP with a valid key.
    fn answer(&self, body: &[u8]) -> (StatusCode, Value) {
        let malformed = |message: &str| {
            let failure = failure("Failure", checks::E_FIELD, message, &Map::new());
            (StatusCode::BAD_REQUEST, failure)
        };
        let Ok(parsed) = serde_json::from_slice::<Value>(body) else {
            return malformed("The request body is not valid JSON.");
        };
        let Value::Object(raw) = parsed else {
            return malformed("The request body must be a JSON object.");
        };
        // The document's own examples carry stray spaces in keys ("new-pass-id "); be forgiving.
        let body: Map<String, Value> = raw
            .iter()
            .map(|(k, v)| (k.trim().to_owned(), v.clone()))
            .collect();
        let action_sent = body
            .get("action")
            .and_then(checks::text)
            .unwrap_or_default();
        let action = action_sent.to_ascii_lowercase();
        let mut state = self.state();
        state.requests.push(SkycoreRequest {
            action: action_sent,
            body: Value::Object(raw),
        });
        let mut outcome = actions::dispatch(&mut state, &self.shared.env, &action, &body);
        if outcome.is_ok()
            && let Some(left) = state.fail_after.get_mut(&action).filter(|n| **n > 0)
            && let Some((code, message)) = internal_error(&action)
        {
            *left -= 1;
            outcome = Err(checks::Reject::new(code, message));
        }
        drop(state);
        let reply = match outcome {
            Ok(mut fields) => {
                let mut out = Map::new();
                out.insert("status".into(), json!("Success"));
                out.append(&mut fields);
                Value::Object(out)
            }
            Err(reject) => {
                let word = if matches!(action.as_str(), "getpassdata" | "getpasstemplate") {
                    "FAILURE"
                } else {
                    "Failure"
                };
                failure(word, reject.code, &reject.message, &body)
            }
        };
        (StatusCode::OK, reply)
    }
}

/// The internal-error code and message the document shows for `action`.
fn internal_error(action: &str) -> Option<(&'static str, &'static str)> {
    match action {
        "generatepass" => Some(("E830", "Internal Error. The pass was not generated.")),
        "updatepassdata" => Some(("E809", "Internal Error. The pass was not updated.")),
        _ => None,
    }
}

fn failure(word: &str, code: &str, message: &str, body: &Map<String, Value>) -> Value {
    let mut out = json!({"status": word, "error-code": code, "error-message": message});
    for echo in ["pass-id", "pass-template-id"] {
        if let Some(v) = body.get(echo) {
            out[echo] = v.clone();
        }
    }
    out
}

async fn handle(
    AxumState(emulator): AxumState<SkycoreEmulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key_ok = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|k| k == emulator.shared.api_key);
    if !key_ok {
        return json_response(
            StatusCode::UNAUTHORIZED,
            &failure(
                "Failure",
                checks::E_AUTH,
                "The x-api-key value is invalid.",
                &Map::new(),
            ),
        );
    }
    emulator.shared.received.fetch_add(1, Ordering::Relaxed);
    if let Err(window) = emulator.shared.quota.admit() {
        return rate_limited(window);
    }
    let (status, reply) = emulator.answer(&body);
    json_response(status, &reply)
}

/// The answer past the plan (an assumption, see the module docs): 429, a Skycore failure body,
/// and `Retry-After` when the exceeded window is a minute or shorter.
fn rate_limited(window: QuotaWindow) -> Response {
    let message = format!(
        "Too many requests: the plan allows {} per {}s.",
        window.limit,
        window.per.as_secs_f64()
    );
    let mut resp = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &failure("Failure", "E429", &message, &Map::new()),
    );
    if window.per <= Duration::from_secs(60) {
        insert_retry_after(&mut resp, &window);
    }
    resp
}

#[cfg(test)]
mod tests;
