//! The webhook receiver: over HTTP, against the emulator's sender and its repeats, and with
//! arbitrary input.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use proptest::prelude::*;
use walletport_core::{
    Customer, CustomerPort, Error, Phone, Result, UpsertCustomer, WalletEvent, WalletEventKind,
    WalletEvents,
};
use walletport_passteam::{
    FieldMap, MemoryDedup, PassteamConfig, PassteamProvider, parse_webhook, webhooks_router,
    webhooks_router_with,
};
use walletport_sandbox::passteam::{PassteamEmulator, PassteamEmulatorConfig, RepeatWindow};

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<WalletEvent>>,
    fail_next: Mutex<bool>,
}

#[async_trait]
impl WalletEvents for Recorder {
    async fn on_wallet_event(&self, event: WalletEvent) -> Result<()> {
        let mut fail = self
            .fail_next
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *fail {
            *fail = false;
            return Err(Error::unexpected("handler down"));
        }
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event);
        Ok(())
    }
}

impl Recorder {
    fn count(&self) -> usize {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
    async fn wait_for(&self, n: usize) {
        for _ in 0..400 {
            if self.count() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn receiver(recorder: Arc<Recorder>) -> String {
    serve(webhooks_router(recorder, Arc::new(MemoryDedup::default()))).await
}

async fn serve(hooks: axum::Router) -> String {
    let router = axum::Router::new().nest("/hooks/passteam", hooks);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}/hooks/passteam")
}

const EXAMPLE: &str = include_str!("fixtures/webhook/create-card.webhook.json");

/// A merchant whose phone variable is `TEL`: the configured map, as `PassteamConfig::field_map`
/// gives it (or written with `%`), finds the holder; the documented map would not.
#[tokio::test]
async fn the_configured_field_map_finds_the_holder() {
    let config: PassteamConfig =
        serde_json::from_str(r#"{"token":"t","fields":{"phone":"%TEL%"}}"#)
            .unwrap_or_else(|e| panic!("{e}"));
    let body = serde_json::json!({
        "webhookId": "w-tel-1", "event": "installCard",
        "card": { "cardId": "5e451571cea6c6141807b792", "phoneNumber": "",
                  "values": { "%TEL%": "+79990000077" } }
    })
    .to_string();
    for map in [config.field_map(), config.fields.clone()] {
        let recorder = Arc::new(Recorder::default());
        let hooks = webhooks_router_with(recorder.clone(), Arc::new(MemoryDedup::default()), map);
        let url = serve(hooks).await;
        let status = reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .map(|r| r.status().as_u16())
            .ok();
        assert_eq!(status, Some(200));
        recorder.wait_for(1).await;
        let events = recorder
            .events
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default();
        let phone = events.first().and_then(|e| e.phone.clone());
        assert_eq!(phone.as_ref().map(Phone::as_str), Some("+79990000077"));
    }
    let documented = parse_webhook(body.as_bytes(), &FieldMap::documented());
    assert!(
        documented.is_ok_and(|e| e.phone.is_none()),
        "the example map misses TEL"
    );
}

#[tokio::test]
async fn answers_fast_dedups_and_rejects_bad_bodies() {
    let recorder = Arc::new(Recorder::default());
    let url = receiver(recorder.clone()).await;
    let client = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    *recorder
        .fail_next
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = true;
    let r = post(EXAMPLE.into()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.map(|b| b.len()).ok(),
        Some(0),
        "200 with an empty body"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(recorder.count(), 0, "the handler failed");
    // The repeat after a failure is handled (the claim was released) ...
    assert_eq!(
        post(EXAMPLE.into()).await.map(|r| r.status().as_u16()).ok(),
        Some(200)
    );
    recorder.wait_for(1).await;
    // ... and later repeats are not.
    for _ in 0..2 {
        assert_eq!(
            post(EXAMPLE.into()).await.map(|r| r.status().as_u16()).ok(),
            Some(200)
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(recorder.count(), 1);

    let r = post(b"{\"webhookId\": 1".to_vec())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    assert_eq!(body["error"]["kind"], "invalid_input", "{body}");

    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(70 * 1024));
    let r = post(big.into()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn the_emulator_repeats_each_webhook_and_the_receiver_handles_it_once() {
    let recorder = Arc::new(Recorder::default());
    let url = receiver(recorder.clone()).await;
    let emu_config = PassteamEmulatorConfig {
        webhook_url: Some(url),
        webhook_repeats: RepeatWindow::documented(),
        webhook_time_scale: 0.000_005, // 24 h → 0.43 s
        ..Default::default()
    };
    let (server, emu) = PassteamEmulator::spawn(
        emu_config,
        "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let mut c = PassteamConfig::with_token("sandbox-token");
    c.base_url = server.base_url();
    c.template_id = Some(
        "5e424c181dbf0d537c8b4569"
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let p = PassteamProvider::new(c).unwrap_or_else(|e| panic!("{e}"));
    let phone = Phone::parse("+79990001122").unwrap_or_else(|e| panic!("{e}"));
    let r = p
        .upsert_customer(UpsertCustomer::new(Customer::new(phone.clone())))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let card_id = r.cards[0].id.clone().unwrap_or_else(|| panic!("id"));
    assert!(emu.install(card_id.as_str(), true));
    for _ in 0..300 {
        if emu.webhook_deliveries().len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let deliveries = emu.webhook_deliveries();
    assert_eq!(
        deliveries.len(),
        6,
        "2 events × (first + 2 repeats): {deliveries:?}"
    );
    assert!(deliveries.iter().all(|d| d.status == Some(200)));
    recorder.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let events = recorder
        .events
        .lock()
        .map(|e| e.clone())
        .unwrap_or_default();
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [WalletEventKind::Created, WalletEventKind::Installed]
    );
    assert!(
        events
            .iter()
            .all(|e| e.phone.as_ref() == Some(&phone) && e.card.id.as_ref() == Some(&card_id))
    );
    assert!(events[1].card.installed.apple);
}

proptest! {
    #[test]
    fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_webhook(&body, &FieldMap::documented());
    }

    #[test]
    fn arbitrary_json_shapes_never_panic(id in any::<String>(), event in "[a-zA-Z]{0,14}", values in prop::collection::btree_map(any::<String>(), any::<String>(), 0..4), voided in any::<i64>()) {
        let body = serde_json::json!({ "webhookId": id, "event": event, "card": { "values": values, "voided": voided, "cardId": id, "expirationDate": id } });
        let _ = parse_webhook(body.to_string().as_bytes(), &FieldMap::documented());
    }
}

/// `expirationDate` has no zone: the webhooks read it in `[provider] timezone` (issue 12, item
/// 9), so a card that expired an hour ago in Vladivostok is expired, while the same text read in
/// the Moscow default lies hours ahead.
#[test]
fn expiration_in_webhooks_is_read_in_the_configured_zone() {
    let config: PassteamConfig =
        serde_json::from_str(r#"{"token":"t","timezone":"Asia/Vladivostok"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
    let an_hour_ago_there = (chrono::Utc::now() + chrono::TimeDelta::hours(10 - 1))
        .format("%d.%m.%Y %H:%M:%S")
        .to_string();
    let body = serde_json::json!({
        "webhookId": "w-exp-1", "event": "updateCard",
        "card": { "cardId": "5e451571cea6c6141807b792", "phoneNumber": "+79990000077",
                  "values": {}, "expirationDate": an_hour_ago_there, "voided": 0 }
    })
    .to_string();
    let there =
        walletport_passteam::parse_webhook_in(body.as_bytes(), &config.field_map(), config.tz())
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(there.card.status, walletport_core::CardStatus::Expired);
    let moscow =
        parse_webhook(body.as_bytes(), &config.field_map()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(moscow.card.status, walletport_core::CardStatus::Active);
}

/// Records the order events finish in; a `createCard` takes 300 ms, as a busy store may.
#[derive(Default)]
struct SlowCreates {
    done: Mutex<Vec<(String, WalletEventKind)>>,
}

#[async_trait]
impl WalletEvents for SlowCreates {
    async fn on_wallet_event(&self, event: WalletEvent) -> Result<()> {
        if event.kind == WalletEventKind::Created {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let card = event.card_id().map(|c| c.as_str().to_owned());
        self.done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((card.unwrap_or_default(), event.kind));
        Ok(())
    }
}

/// The documented example as webhook `id` of kind `event` for card `card`.
fn webhook(id: &str, event: &str, card: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    v["webhookId"] = id.into();
    v["event"] = event.into();
    v["card"]["cardId"] = card.into();
    serde_json::to_vec(&v).unwrap_or_else(|e| panic!("{e}"))
}

/// A card's webhooks are handled in the order they arrived even though each is answered at once
/// and handled in the background: an install that follows a slow create is not overwritten by
/// it. Another card's webhook does not wait for them.
#[tokio::test]
async fn one_cards_webhooks_are_handled_in_arrival_order() {
    let events = Arc::new(SlowCreates::default());
    let url = serve(webhooks_router(
        events.clone(),
        Arc::new(MemoryDedup::default()),
    ))
    .await;
    let client = reqwest::Client::new();
    for body in [
        webhook("wh-1", "createCard", "card-a"),
        webhook("wh-2", "installCard", "card-a"),
        webhook("wh-3", "updateCard", "card-b"),
    ] {
        let status = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .ok();
        assert_eq!(status, Some(200));
    }
    let done = || {
        events
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    };
    for _ in 0..200 {
        if done().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        done(),
        vec![
            ("card-b".to_owned(), WalletEventKind::Updated),
            ("card-a".to_owned(), WalletEventKind::Created),
            ("card-a".to_owned(), WalletEventKind::Installed),
        ]
    );
}

/// Holds every handler until the gate opens, counting the handled events.
#[derive(Default)]
struct Gated {
    gate: tokio::sync::Notify,
    open: std::sync::atomic::AtomicBool,
    handled: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl WalletEvents for Gated {
    async fn on_wallet_event(&self, _event: WalletEvent) -> Result<()> {
        use std::sync::atomic::Ordering;
        while !self.open.load(Ordering::SeqCst) {
            let notified = self.gate.notified();
            if self.open.load(Ordering::SeqCst) {
                break;
            }
            notified.await;
        }
        self.handled.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Handlers in the background are bounded: one webhook past the bound is answered 503 and,
/// its claim released, is handled when Passteam sends it again.
#[tokio::test]
async fn handlers_in_flight_are_bounded_and_a_refused_webhook_is_taken_again() {
    use std::sync::atomic::Ordering;
    use walletport_passteam::webhooks::MAX_HANDLERS_IN_FLIGHT;
    let events = Arc::new(Gated::default());
    let url = serve(webhooks_router(
        events.clone(),
        Arc::new(MemoryDedup::default()),
    ))
    .await;
    let client = reqwest::Client::new();
    let send = |i: usize| {
        let body = webhook(&format!("wh-{i}"), "updateCard", &format!("card-{i}"));
        let request = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        async move { request.send().await.map(|r| r.status().as_u16()).ok() }
    };
    for i in 0..MAX_HANDLERS_IN_FLIGHT {
        assert_eq!(send(i).await, Some(200), "webhook {i}");
    }
    assert_eq!(
        send(MAX_HANDLERS_IN_FLIGHT).await,
        Some(503),
        "one past the bound"
    );
    events.open.store(true, Ordering::SeqCst);
    events.gate.notify_waiters();
    for _ in 0..400 {
        if events.handled.load(Ordering::SeqCst) == MAX_HANDLERS_IN_FLIGHT {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        events.handled.load(Ordering::SeqCst),
        MAX_HANDLERS_IN_FLIGHT
    );
    assert_eq!(send(MAX_HANDLERS_IN_FLIGHT).await, Some(200), "the repeat");
    for _ in 0..400 {
        if events.handled.load(Ordering::SeqCst) > MAX_HANDLERS_IN_FLIGHT {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        events.handled.load(Ordering::SeqCst),
        MAX_HANDLERS_IN_FLIGHT + 1,
        "the refused webhook is handled when it comes again"
    );
}
