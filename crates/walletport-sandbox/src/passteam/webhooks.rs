//! The webhook sender: every card event is posted to the configured URL at once and repeated
//! after 1–2 h and after 24 h (the answer is ignored, as Passteam does). The schedule is
//! configurable and compressible (`webhook_time_scale`), and uses tokio's clock so tests can run
//! it paused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::PassteamEmulatorConfig;
use crate::common::lock;

/// One repeat, at a uniformly random delay in `[min_secs, max_secs]` after the first delivery.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatWindow {
    /// Earliest repeat, seconds after the first delivery.
    pub min_secs: f64,
    /// Latest repeat.
    pub max_secs: f64,
}

impl RepeatWindow {
    /// The document's schedule: once after 1–2 hours, once after 24 hours.
    pub fn documented() -> Vec<Self> {
        vec![
            Self {
                min_secs: 3600.0,
                max_secs: 7200.0,
            },
            Self {
                min_secs: 86_400.0,
                max_secs: 86_400.0,
            },
        ]
    }
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The webhook's id (the same for every repeat).
    pub webhook_id: String,
    /// The event.
    pub event: String,
    /// 0 for the first delivery, then 1, 2, ...
    pub attempt: usize,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// The transport error, when it did not.
    pub error: Option<String>,
}

pub(crate) struct Sender {
    url: Option<String>,
    repeats: Vec<RepeatWindow>,
    scale: f64,
    client: reqwest::Client,
    rng: Mutex<StdRng>,
    counter: Mutex<u64>,
    log: Arc<Mutex<Vec<Delivery>>>,
}

impl Sender {
    pub(crate) fn new(config: &PassteamEmulatorConfig) -> Self {
        Self {
            url: config.webhook_url.clone(),
            repeats: config.webhook_repeats.clone(),
            scale: if config.webhook_time_scale.is_finite() && config.webhook_time_scale >= 0.0 {
                config.webhook_time_scale
            } else {
                1.0
            },
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            rng: Mutex::new(StdRng::seed_from_u64(config.faults.seed)),
            counter: Mutex::new(0),
            log: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub(crate) fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.log).clone()
    }

    /// The delays of the deliveries after the first, in order.
    fn schedule(&self) -> Vec<Duration> {
        let mut rng = lock(&self.rng);
        let mut out: Vec<Duration> = self
            .repeats
            .iter()
            .map(|w| {
                let (lo, hi) = (
                    w.min_secs.min(w.max_secs).max(0.0),
                    w.max_secs.max(w.min_secs).max(0.0),
                );
                let secs = if hi > lo {
                    rng.random_range(lo..=hi)
                } else {
                    lo
                };
                Duration::try_from_secs_f64(secs * self.scale).unwrap_or(Duration::MAX)
            })
            .collect();
        out.sort();
        out
    }

    /// Posts `{webhookId, event, card}` now and on the repeat schedule.
    pub(crate) fn emit(&self, event: &str, card: Value) {
        let Some(url) = self.url.clone() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let id = {
            let mut n = lock(&self.counter);
            *n += 1;
            format!("5e4515b1{:016x}", *n)
        };
        let body = json!({ "card": card, "event": event, "webhookId": id });
        let mut delays = vec![Duration::ZERO];
        delays.extend(self.schedule());
        let (client, log, event) = (self.client.clone(), self.log.clone(), event.to_owned());
        runtime.spawn(async move {
            let start = tokio::time::Instant::now();
            for (attempt, delay) in delays.into_iter().enumerate() {
                tokio::time::sleep_until(start + delay).await;
                let result = client.post(&url).json(&body).send().await;
                let (status, error) = match result {
                    Ok(resp) => (Some(resp.status().as_u16()), None),
                    Err(e) => (None, Some(e.to_string())),
                };
                lock(&log).push(Delivery {
                    webhook_id: id.clone(),
                    event: event.clone(),
                    attempt,
                    status,
                    error,
                });
            }
        });
    }
}
