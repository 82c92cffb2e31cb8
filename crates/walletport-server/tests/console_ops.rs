//! The console's operations pages over real HTTP: outbox (dead letters retried one by one and
//! all at once), campaigns, provider and CSV import — each rendered for a signed-in session,
//! refused (redirect, no data) without one, and refused (403, nothing changed) without the
//! session's CSRF token.

mod support;

use std::sync::Arc;

use chrono::Utc;
use support::console::ConsoleClient;
use support::*;
use walletport_server::{Gateway, RunningGateway};
use walletport_store::{ClaimRequest, Failure, NewOutboxItem, OutboxKind, Store};

/// The gateway's API token in these tests.
const TOKEN: &str = "console-ops-token-5d1e";

/// A phone no page may show to a browser that has not signed in.
const PHONE: &str = "+420710000001";

/// The error a dead letter carries (shown on the outbox page).
const DEAD_ERROR: &str = "vendor refused: template 9 is archived";

/// A gateway with the token, the worker off (so the outbox stays as the test leaves it), a
/// customer with a waiting item and `dead` dead letters.
async fn gateway_with(
    tdb: &TestDb,
    provider: Arc<dyn walletport_core::Provider>,
    dead: usize,
) -> (RunningGateway, Arc<dyn Store>) {
    gateway_reporting(tdb, provider, dead, None).await
}

/// [`gateway_with`], with the transport counters `stats` when given.
async fn gateway_reporting(
    tdb: &TestDb,
    provider: Arc<dyn walletport_core::Provider>,
    dead: usize,
    stats: Option<walletport_server::TransportStatsSource>,
) -> (RunningGateway, Arc<dyn Store>) {
    let store = tdb.open().await;
    let mut gw = Gateway::new(store.clone(), provider);
    if let Some(stats) = stats {
        gw = gw.with_transport_stats(stats);
    }
    let mut config = gateway_config(fast_outbox());
    config.outbox.enabled = false;
    config.server.api_token = Some(TOKEN.to_owned().into());
    let running = serve(&config, gw).await;
    let mut customer =
        walletport_core::Customer::new(walletport_core::Phone::parse(PHONE).expect("phone"));
    customer.name = Some("Dana".into());
    let up = store
        .upsert_customer(&customer, walletport_store::WriteOpts::now())
        .await
        .expect("customer");
    for _ in 0..dead {
        let item = NewOutboxItem {
            customer_id: up.id.clone(),
            kind: OutboxKind::Card,
            payload: serde_json::json!({}),
        };
        let now = Utc::now();
        store.enqueue(&item, now).await.expect("enqueue");
    }
    if dead > 0 {
        // Claim everything (the customer's upsert item too) and fail it for good, then put
        // the customer's data change back in the waiting list.
        let now = Utc::now();
        let claimed = store
            .claim_batch(&ClaimRequest {
                worker: "test".into(),
                limit: 100,
                lease: std::time::Duration::from_secs(60),
                now,
            })
            .await
            .expect("claim");
        let ids: Vec<_> = claimed.iter().map(|i| i.id).collect();
        // (items, error, when to retry, attempts allowed): the rest die, the first waits.
        let outcomes = [
            (&ids[1..], DEAD_ERROR, None, 1),
            (&ids[..1], "vendor timed out", Some(now), 10),
        ];
        for (items, error, retry_at, max_attempts) in outcomes {
            let failure = Failure {
                error: error.into(),
                retry_at,
                max_attempts,
                now,
            };
            store.fail("test", items, &failure).await.expect("fail");
        }
    }
    (running, store)
}

/// A console client of `running`, signed in with the token.
async fn signed_in(running: &RunningGateway) -> ConsoleClient {
    let mut console = ConsoleClient::new(&running.base_url());
    console.sign_in(TOKEN).await;
    console
}

/// A SQLite gateway as [`gateway_with`] sets it up (memory provider, `dead` dead letters) and
/// a console client signed in to it; the test database lives as long as the returned `TestDb`.
async fn signed_in_gateway(dead: usize) -> (TestDb, RunningGateway, Arc<dyn Store>, ConsoleClient) {
    let tdb = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let (running, store) = gateway_with(&tdb, memory_provider(), dead).await;
    let console = signed_in(&running).await;
    (tdb, running, store, console)
}

async fn dead_count(store: &Arc<dyn Store>) -> u64 {
    store.outbox_stats(Utc::now()).await.expect("stats").dead
}

/// The operations pages and their actions' confirm steps.
const PAGES: [&str; 6] = [
    "/console/outbox",
    "/console/outbox/retry-all",
    "/console/campaigns",
    "/console/campaigns/send?id=c1",
    "/console/provider",
    "/console/import",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_for_a_signed_in_session_and_redirect_without_one() {
    let tdb = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let (running, store) = gateway_with(&tdb, memory_provider(), 2).await;
    let base = running.base_url();

    // No session (and a session that has not signed in): the sign-in page, no data.
    let mut anonymous = ConsoleClient::new(&base);
    for path in PAGES {
        let a = anonymous.get(path).await;
        assert_eq!(a.status, 303, "{path}");
        assert_eq!(a.location.as_deref(), Some("/console/sign-in"), "{path}");
        assert!(!a.body.contains(PHONE) && !a.body.contains(DEAD_ERROR));
    }
    let dead = dead_letters(store.as_ref()).await;
    let retry = format!("/console/outbox/dead/{}/retry", dead[0].id);
    let a = anonymous.get(&retry).await;
    assert_eq!(a.location.as_deref(), Some("/console/sign-in"));
    // Even with a token from the sign-in form, an action is refused before signing in.
    anonymous.get("/console/sign-in").await;
    for path in [retry.as_str(), "/console/outbox/retry-all"] {
        let a = anonymous.post(path, &[], true).await;
        assert_eq!(a.location.as_deref(), Some("/console/sign-in"), "{path}");
    }
    assert_eq!(
        dead_count(&store).await,
        2,
        "nothing retried without a session"
    );

    let mut console = signed_in(&running).await;
    console
        .page_showing(
            "/console/outbox",
            &[
                "Depth (waiting or in flight)",
                "Oldest waiting item",
                "Waiting items per customer",
                PHONE,
                "vendor timed out",
                DEAD_ERROR,
                &retry,
                "Retry all dead letters",
            ],
        )
        .await;
    console
        .page_showing(
            "/console/provider",
            &[
                "memory",
                "campaign_send",
                "Start-up check",
                "Not reported",
                "Points",
            ],
        )
        .await;
    let campaigns = console.get("/console/campaigns").await;
    assert!(campaigns.body.contains("Create campaign") && !campaigns.body.contains("disabled"));
    let import = console.get("/console/import").await;
    assert!(import.body.contains(r#"enctype="multipart/form-data""#));
    assert!(import.body.contains(r#"<label for="file">"#));
    for path in PAGES {
        assert_eq!(console.get(path).await.status, 200, "{path}");
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_without_the_csrf_token_are_refused_and_change_nothing() {
    let (_tdb, running, store, mut console) = signed_in_gateway(1).await;
    let dead = dead_letters(store.as_ref()).await;
    let retry = format!("/console/outbox/dead/{}/retry", dead[0].id);
    for path in [retry.as_str(), "/console/outbox/retry-all"] {
        let a = console.post(path, &[], false).await;
        assert_eq!(a.status, 403, "{path}");
        let forged = console.post(path, &[("csrf", "0000")], false).await;
        assert_eq!(forged.status, 403, "{path}");
    }
    assert_eq!(dead_count(&store).await, 1, "no dead letter moved");
    let a = console
        .post("/console/campaigns", &[("message", "Hello")], false)
        .await;
    assert_eq!(a.status, 403);
    let a = console
        .post("/console/campaigns/send", &[("id", "c1")], false)
        .await;
    assert_eq!(a.status, 403);
    let csv = "phone,name\n+420710000099,Eve\n";
    let a = console.upload(Some(csv), false).await;
    assert_eq!(a.status, 403, "{}", a.body);
    let eve = walletport_core::CustomerKey::Phone(
        walletport_core::Phone::parse("+420710000099").expect("phone"),
    );
    assert!(store.get_customer(&eve).await.expect("read").is_none());
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_moves_a_dead_letter_back_and_retry_all_moves_the_rest() {
    for db in [Db::Sqlite, Db::Postgres] {
        if let Some(tdb) = TestDb::new(db).await {
            retry_on(&tdb).await;
        }
    }
}

/// The dead-letter retries on one backend.
async fn retry_on(tdb: &TestDb) {
    let (running, store) = gateway_with(tdb, memory_provider(), 3).await;
    let mut console = signed_in(&running).await;
    let depth = store.outbox_stats(Utc::now()).await.expect("stats").depth;
    let dead = dead_letters(store.as_ref()).await;
    let retry = format!("/console/outbox/dead/{}/retry", dead[0].id);
    let confirm = console.get(&retry).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains(DEAD_ERROR) && confirm.body.contains("Cancel"));
    let done = console.post(&retry, &[], true).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/console/outbox"));
    let stats = store.outbox_stats(Utc::now()).await.expect("stats");
    assert_eq!((stats.dead, stats.depth), (2, depth + 1));
    let page = console.get("/console/outbox").await;
    assert!(page.body.contains("is back in the outbox"), "flash shown");
    // The same dead letter again: a clear message, nothing else moves.
    console.get(&retry).await;
    let again = console.post(&retry, &[], true).await;
    assert_eq!(again.status, 303);
    assert!(
        console
            .get("/console/outbox")
            .await
            .body
            .contains("was not retried")
    );
    assert_eq!(dead_count(&store).await, 2);
    // A bad id: an error page, not a panic.
    assert_eq!(
        console.get("/console/outbox?dead_after=abc").await.status,
        400
    );
    assert_eq!(
        console.get("/console/outbox/dead/abc/retry").await.status,
        400
    );

    let all = console.get("/console/outbox/retry-all").await;
    assert!(all.body.contains("All 2 dead letters"));
    let done = console.post("/console/outbox/retry-all", &[], true).await;
    assert_eq!(done.status, 303);
    assert_eq!(dead_count(&store).await, 0);
    assert!(
        console
            .get("/console/outbox")
            .await
            .body
            .contains("2 dead letter(s) are back in the outbox")
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_reports_bad_rows_by_line_and_imports_the_rest() {
    let (_tdb, running, store, mut console) = signed_in_gateway(0).await;
    let csv = "phone,name,balance\n+420710000011,Ann,10\nnot-a-phone,Bob,5\n+420710000012,Cy,abc\n+420710000013,Di,\n";
    let a = console.import(csv).await;
    for shown in [
        "Rows read",
        "Bad rows",
        "not-a-phone",
        "balance `abc` is not a number",
    ] {
        assert!(
            a.body.contains(shown),
            "import result lacks {shown}: {}",
            a.body
        );
    }
    assert!(
        a.body.contains(r#"<td class="num">3</td>"#),
        "line 3 listed"
    );
    assert!(
        a.body.contains(r#"<td class="num">4</td>"#),
        "line 4 listed"
    );
    for (phone, there) in [
        ("+420710000011", true),
        ("+420710000013", true),
        ("+420710000012", false),
    ] {
        let key = walletport_core::CustomerKey::Phone(
            walletport_core::Phone::parse(phone).expect("phone"),
        );
        assert_eq!(
            store.get_customer(&key).await.expect("read").is_some(),
            there,
            "{phone}"
        );
    }
    // A header the rules refuse: nothing imported, the reason shown.
    let a = console.import("mobile,name\n+420710000014,Ed\n").await;
    assert!(a.body.contains("Nothing was imported") && a.body.contains("unknown CSV column"));
    // No file at all; an unknown job.
    let a = console.upload(None, true).await;
    assert_eq!(a.status, 400);
    let a = console.get("/console/import/jobs/0123").await;
    assert_eq!(a.status, 404);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_are_created_and_sent_or_disabled_with_the_reason() {
    let (_tdb, running, _store, mut console) = signed_in_gateway(0).await;
    console.get("/console/campaigns").await;
    let created = console
        .post(
            "/console/campaigns",
            &[
                ("message", "Double points today"),
                ("channel", "wallet"),
                ("name", ""),
                ("segment", ""),
            ],
            true,
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let to = created.location.expect("redirect");
    assert!(to.starts_with("/console/campaigns?created="), "{to}");
    let page = console.get(&to).await;
    assert!(page.body.contains("created; it is not sent yet"));
    let id = to
        .trim_start_matches("/console/campaigns?created=")
        .trim_end_matches("#send")
        .to_owned();
    let confirm = console
        .get(&format!("/console/campaigns/send?id={id}"))
        .await;
    assert!(confirm.body.contains("cannot be recalled"));
    let campaigns = "/console/campaigns";
    let sent = console
        .submit("/console/campaigns/send", &[("id", &id)], campaigns)
        .await;
    sent.assert_shows("campaigns page", &["sent."]);
    // An empty message: refused with the reason, nothing created.
    let refused = console
        .submit(campaigns, &[("message", " ")], campaigns)
        .await;
    refused.assert_shows("campaigns page", &["was not created"]);
    running.shutdown().await;

    // A provider without campaigns: the controls are disabled and say why.
    let tdb = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let (running, _store) = gateway_with(&tdb, Arc::new(Recorder::default()), 0).await;
    let mut console = signed_in(&running).await;
    let page = console.get(campaigns).await;
    page.assert_shows(
        "campaigns page",
        &[
            "recorder does not support creating campaigns",
            "recorder does not support sending campaigns",
            "<fieldset disabled",
        ],
    );
    let refused = console
        .submit(campaigns, &[("message", "Hi")], campaigns)
        .await;
    refused.assert_shows("campaigns page", &["was not created"]);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_page_shows_the_transport_counters_when_there_are_some() {
    let tdb = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let stats: walletport_server::TransportStatsSource = Arc::new(|| {
        let mut t = walletport_http::TransportStats::default();
        t.requests = 4242;
        t.quota_waits = 17;
        t.quota_wait_time = std::time::Duration::from_secs(75);
        t
    });
    let (running, _store) = gateway_reporting(&tdb, memory_provider(), 0, Some(stats)).await;
    let mut console = signed_in(&running).await;
    let page = console
        .page_showing(
            "/console/provider",
            &[
                "4242",
                "17",
                "1m 15s",
                "This gateway's provider has no quota limiter",
            ],
        )
        .await;
    assert!(!page.body.contains("Not reported: this gateway"));
    running.shutdown().await;
}
