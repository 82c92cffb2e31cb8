//! Vendor faults: the Passquare emulator answers 30% of requests with an injected fault — 503s,
//! 429s with `Retry-After`, and responses slower than the transport's timeout — while the gateway
//! syncs credits through its outbox and the REST API sends pushes and campaigns.
//!
//! A recording layer in front of the emulator (outside its fault injection) sees every attempt
//! that reaches the vendor, so the test can check what only the wire shows:
//!
//! - everything the outbox holds is delivered: every customer's vendor record shows the CRM's
//!   balance, nothing is dead-lettered;
//! - retries are bounded: at most the transport's attempts per worker request, and overall about
//!   what the fault rate explains;
//! - a request that is not safe to retry (a push, creating or sending a campaign) is sent again
//!   only after a 429, which the vendor answers before doing anything; never after a 503 or a
//!   timeout, when the vendor may have acted.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use serde_json::{Value, json};
use support::*;
use walletport_core::{Checked, CustomerKey, Provider};
use walletport_http::{HttpTransport, QuotaPlan, RetryPolicy, TransportConfig};
use walletport_passquare::{PassquareConfig, PassquareProvider, Plan};
use walletport_sandbox::Faults;
use walletport_sandbox::passquare::{PassquareEmulator, PassquareEmulatorConfig};
use walletport_server::VendorOutcome;

/// Attempts per request the transport makes (its retry policy below).
const TRANSPORT_ATTEMPTS: u32 = 4;
/// The transport's per-attempt timeout; slow responses take longer.
const TIMEOUT: Duration = Duration::from_millis(250);
const SLOW: Duration = Duration::from_millis(450);
const TOKEN: &str = "faults-api-token-0b7e";

/// One request as it reached the vendor, before any fault was injected.
#[derive(Debug, Clone)]
struct Attempt {
    path: String,
    body: Value,
    /// The answer, or `None` when the caller went away first (timed out).
    status: Option<u16>,
    elapsed: Duration,
}

#[derive(Debug, Default)]
struct WireLog(Mutex<Vec<Attempt>>);

impl WireLog {
    fn all(&self) -> Vec<Attempt> {
        self.0.lock().expect("lock").clone()
    }
}

/// Records the attempt, then lets the emulator (with its fault injection) answer.
async fn record(State(log): State<Arc<WireLog>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let mut parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if let Some(o) = parsed.as_object_mut() {
        o.remove("app_key");
    }
    let index = {
        let mut all = log.0.lock().expect("lock");
        all.push(Attempt {
            path: parts.uri.path().to_owned(),
            body: parsed,
            status: None,
            elapsed: Duration::ZERO,
        });
        all.len() - 1
    };
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let mut all = log.0.lock().expect("lock");
    all[index].status = Some(resp.status().as_u16());
    all[index].elapsed = started.elapsed();
    resp
}

fn provider(base_url: &str) -> Arc<dyn Provider> {
    let quota = QuotaPlan::parse("200/s").expect("plan");
    let mut config = PassquareConfig::new(APP_KEY);
    config.base_url = base_url.to_owned();
    config.plan = Plan::Custom(quota.clone());
    let transport = TransportConfig::parse("passquare", base_url)
        .expect("transport config")
        .with_timeout(TIMEOUT)
        .with_retry(
            RetryPolicy::default()
                .with_max_attempts(TRANSPORT_ATTEMPTS)
                .with_backoff(Duration::from_millis(5), Duration::from_millis(40)),
        )
        .with_quota_plan(quota);
    let transport = HttpTransport::new(transport).expect("transport");
    let provider =
        PassquareProvider::with_transport(config, Arc::new(transport)).expect("provider");
    Checked::wrap(Arc::new(provider))
}

/// What kind of vendor call an attempt is, and the key that identifies one logical call.
fn classify(a: &Attempt) -> (&'static str, String) {
    let field = |k: &str| {
        a.body
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    match a.path.as_str() {
        "/api/v2/crm/push/create" => ("campaign_create", field("name")),
        "/api/v2/crm/push/send" => ("campaign_send", field("push_uuid")),
        "/api/v2/crm/user_create_or_update" if a.body.get("push").is_some() => {
            ("push", field("push"))
        }
        "/api/v2/crm/user_create_or_update" => ("upsert", field("phone")),
        _ => ("other", String::new()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_percent_vendor_faults_deliver_everything_with_bounded_safe_retries() {
    let (_tdb, store) = TestDb::with_store(Db::Sqlite).await.expect("sqlite");
    let faults = Faults {
        unavailable_rate: 0.10,
        throttle_rate: 0.10,
        retry_after_secs: 1,
        slow_rate: 0.10,
        slow_delay_ms: SLOW.as_millis() as u64,
        seed: 0x5eed,
    };
    let emu = PassquareEmulator::new(PassquareEmulatorConfig {
        app_key: APP_KEY.into(),
        faults,
        ..PassquareEmulatorConfig::unlimited()
    });
    let wire = Arc::new(WireLog::default());
    let router = emu
        .router()
        .layer(axum::middleware::from_fn_with_state(wire.clone(), record));
    let server = walletport_sandbox::serve(router, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("serve emulator");
    let gw = gateway(store.clone(), provider(&server.base_url()), None);
    let mut config = gateway_config(fast_outbox());
    config.server.api_token = Some(TOKEN.to_owned().into());
    let running = serve(&config, gw).await;
    let api = format!("{}/api", running.base_url());
    let http = reqwest::Client::new();
    let post = |url: String, body: Value| {
        let http = http.clone();
        async move {
            let resp = http
                .post(url)
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .expect("send");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // CRM-side changes for 25 customers, several per customer, all through the outbox.
    let customers = 20u32;
    let writes = futures::stream::iter(0..customers)
        .map(|n| {
            let post = &post;
            let api = &api;
            async move {
                let (status, body) = post(
                    format!("{api}/customers"),
                    json!({"phone": phone(n).as_str(), "name": format!("F{n}")}),
                )
                .await;
                assert_eq!(status, 200, "{body}");
                for k in 0..3 {
                    let (status, body) = post(
                        format!("{api}/customers/{}/credits", phone(n).as_str()),
                        json!({"amount": format!("{}.{k}5", n + 1), "transaction_id": format!("f-{n}-{k}")}),
                    )
                    .await;
                    assert_eq!(status, 200, "{body}");
                }
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<()>>();
    writes.await;
    drain(store.as_ref(), Duration::from_secs(30)).await;
    let outbox_attempts = wire.all().len();

    // Pushes and campaigns straight to the vendor, eight at a time.
    let pushes = 30u32;
    let push_answers: Vec<(String, u16)> = futures::stream::iter(0..pushes)
        .map(|i| {
            let text = format!("fault-push-{i}");
            let url = format!("{api}/customers/{}/push", phone(i % customers).as_str());
            let call = post(url, json!({"text": text}));
            async move { (text, call.await.0) }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut campaign_answers = Vec::new();
    for i in 0..6 {
        let name = format!("fault-campaign-{i}");
        let (status, body) = post(
            format!("{api}/campaigns"),
            json!({"message": "Sale!", "name": name}),
        )
        .await;
        let sent = match body["id"].as_str() {
            Some(id) if status == 200 => Some((
                id.to_owned(),
                post(format!("{api}/campaigns/{id}/send"), json!({}))
                    .await
                    .0,
            )),
            _ => None,
        };
        campaign_answers.push((name, status, sent));
    }

    // 1. Everything delivered: the vendor shows each customer's CRM balance; no dead letters.
    let now = chrono::Utc::now();
    for n in 0..customers {
        let c = store
            .get_customer(&CustomerKey::Phone(phone(n)))
            .await
            .expect("read")
            .expect("customer");
        let crm = store.balance(&c.id, now).await.expect("balance");
        let vendor = emu
            .customer(phone(n).as_str())
            .expect("delivered to the vendor");
        assert_eq!(vendor.balance, crm.points, "customer {n}");
    }
    let stats = store.outbox_stats(now).await.expect("stats");
    assert_eq!((stats.depth, stats.dead), (0, 0), "{stats:?}");

    // The faults really happened, of every kind.
    let attempts = wire.all();
    let count = |f: &dyn Fn(&Attempt) -> bool| attempts.iter().filter(|a| f(a)).count();
    let unavailable = count(&|a| a.status == Some(503));
    let throttled = count(&|a| a.status == Some(429));
    let slow = count(&|a| a.elapsed >= SLOW || a.status.is_none());
    assert!(
        unavailable > 0 && throttled > 0 && slow > 0,
        "503s {unavailable}, 429s {throttled}, slow {slow}"
    );
    let injected = emu.faults_injected() as usize;
    eprintln!(
        "{} vendor requests: {unavailable} 503s, {throttled} 429s, {slow} slow; {injected} faults injected",
        attempts.len()
    );
    let share = injected as f64 / attempts.len() as f64;
    assert!(
        (0.12..0.5).contains(&share),
        "about 30% of {} requests faulted: {injected}",
        attempts.len()
    );

    // 2. Retries bounded: the outbox's vendor requests are the coalesced deliveries plus the
    // failed ones; each costs at most the transport's attempts, and overall the attempts are
    // about what a 30% fault rate explains.
    let metrics = &running.gateway().metrics;
    let worker_requests = metrics.vendor_requests();
    let delivered = metrics.vendor_requests_with(VendorOutcome::Ok);
    let upserts = attempts[..outbox_attempts]
        .iter()
        .filter(|a| classify(a).0 == "upsert")
        .count() as u64;
    assert!(
        upserts <= worker_requests * u64::from(TRANSPORT_ATTEMPTS),
        "{upserts} attempts for {worker_requests} worker requests"
    );
    assert!(
        delivered >= u64::from(customers) && upserts * 2 <= delivered * 5,
        "{upserts} attempts for {delivered} deliveries to {customers} customers"
    );

    // 3. Unsafe requests: per logical call, every attempt but the last was a 429 (refused before
    // processing); so at most one attempt the vendor may have acted on.
    let mut calls: BTreeMap<(&str, String), Vec<&Attempt>> = BTreeMap::new();
    for a in &attempts {
        let (kind, key) = classify(a);
        if matches!(kind, "push" | "campaign_create" | "campaign_send") {
            calls.entry((kind, key)).or_default().push(a);
        }
    }
    eprintln!(
        "outbox: {upserts} attempts, {worker_requests} worker requests, {delivered} delivered"
    );
    let mut unsafe_failures_not_retried = 0;
    for ((kind, key), tries) in &calls {
        let (last, earlier) = tries.split_last().expect("at least one");
        assert!(
            earlier.iter().all(|a| a.status == Some(429)),
            "{kind} {key} was re-sent after an answer the vendor may have acted on: {tries:?}"
        );
        // A 503, or an answer slower than the client waited: the caller saw a failure the
        // vendor may have acted on, and it stayed at one attempt.
        if last.status.is_none_or(|s| s == 503) || last.elapsed >= TIMEOUT {
            unsafe_failures_not_retried += 1;
        }
    }
    assert!(
        unsafe_failures_not_retried > 0,
        "some unsafe request met a 503 or a timeout (and was left alone): {calls:?}"
    );
    // The API's answers agree with the vendor's log: a 200 push happened exactly once, a failed
    // one at most once.
    let push_log = emu.push_log();
    for (text, status) in &push_answers {
        let at_vendor = push_log.iter().filter(|p| &p.text == text).count();
        if *status == 200 {
            assert_eq!(at_vendor, 1, "{text}");
        } else {
            assert!(at_vendor <= 1, "{text}: {at_vendor}");
            assert!(matches!(status, 502 | 503 | 429), "{text}: {status}");
        }
    }
    assert_eq!(push_answers.len(), pushes as usize);
    let vendor_campaigns = emu.campaigns();
    for (name, status, sent) in &campaign_answers {
        let created = vendor_campaigns.iter().filter(|c| &c.name == name).count();
        assert!(created <= 1, "campaign {name} created {created} times");
        if *status == 200 {
            assert_eq!(created, 1, "{name}");
        }
        if let Some((id, 200)) = sent {
            let c = vendor_campaigns
                .iter()
                .find(|c| &c.uuid == id)
                .expect("the created campaign");
            assert!(c.sent_to.is_some(), "campaign {name} was sent");
        }
    }
    running.shutdown().await;
    store.close().await;
}
