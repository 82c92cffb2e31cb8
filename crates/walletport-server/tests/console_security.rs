//! The console's security rules over real HTTP: no customer data without a session, sign-in
//! with the API token (rate-limited), session cookies, CSRF on every state-changing form,
//! sign-out, and the security headers.

mod support;

use std::time::Duration;

use serde_json::json;
use support::console::{ConsoleClient, console_gateway};
use support::*;
use walletport_core::Phone;

const TOKEN: &str = "console-security-token-91c4";
const PHONE: &str = "+420740000001";
const NAME: &str = "Zuzana";

/// A SQLite test database (keep it while the gateway runs), a gateway on it with the token and
/// one customer (created through the API) with 10 points, and the customer's CRM id.
async fn setup(tls: bool) -> (TestDb, walletport_server::RunningGateway, String) {
    let tdb = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let (gw, store) = console_gateway(&tdb, Some(TOKEN), tls).await;
    let api = Rest::new(&gw).with_token(TOKEN);
    api.create_customer(json!({"phone": PHONE, "name": NAME}))
        .await;
    let credit = json!({"amount": "10", "transaction_id": "t-1"});
    api.ok("POST", &format!("/api/customers/{PHONE}/credits"), credit)
        .await;
    drain(&*store, Duration::from_secs(10)).await;
    let id = stored(&*store, &Phone::parse(PHONE).expect("phone"))
        .await
        .id;
    (tdb, gw, id.to_string())
}

/// The points of the customer, read through the API.
async fn points(base: &str) -> String {
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/api/customers/{PHONE}/balance"))
        .bearer_auth(TOKEN)
        .json_answer()
        .await;
    v["points"].as_str().unwrap_or_default().to_owned()
}

/// Every console URL that shows or changes customer data.
fn data_urls(id: &str) -> Vec<String> {
    vec![
        "/console/".to_owned(),
        format!("/console/?q={NAME}"),
        format!("/console/customers/{id}"),
        format!("/console/customers/{id}?before=5"),
        format!("/console/customers/{id}/actions/credit"),
        "/console/outbox".to_owned(),
        "/console/campaigns".to_owned(),
        "/console/provider".to_owned(),
        "/console/import".to_owned(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_session_nothing_shows_and_nothing_changes() {
    let (_tdb, gw, id) = setup(false).await;
    let base = gw.base_url();
    let mut anon = ConsoleClient::new(&base);

    let root = anon.get("/").await;
    assert_eq!(root.status, 303);
    assert_eq!(root.location.as_deref(), Some("/console/"));
    for url in data_urls(&id) {
        let p = anon.get(&url).await;
        assert_eq!(p.status, 303, "{url}");
        assert_eq!(p.location.as_deref(), Some("/console/sign-in"), "{url}");
        assert!(!p.body.contains(PHONE) && !p.body.contains(NAME), "{url}");
    }
    // A forged action, with or without a guessed token: redirected, nothing changed.
    for csrf in [false, true] {
        let p = anon
            .post(
                &format!("/console/customers/{id}/actions/credit"),
                &[
                    ("amount", "1000"),
                    ("transaction_id", "x-1"),
                    ("confirm", "yes"),
                ],
                csrf,
            )
            .await;
        assert_eq!(p.status, 303);
        assert!(!p.body.contains(PHONE));
    }
    // A made-up session cookie is no session.
    anon.cookie = Some(format!("walletport_console={}", "ab".repeat(32)));
    let p = anon.get("/console/").await;
    assert_eq!(p.location.as_deref(), Some("/console/sign-in"));
    assert_eq!(points(&base).await, "10");

    // Headers on every console answer, static files included.
    for url in [
        "/console/sign-in",
        "/console/static/console.js",
        "/console/nope",
    ] {
        let p = anon.get(url).await;
        let h = |n: &str| {
            p.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        assert!(
            h("content-security-policy").starts_with("default-src 'self'"),
            "{url}"
        );
        assert_eq!(h("x-frame-options"), "DENY", "{url}");
        assert_eq!(h("referrer-policy"), "same-origin", "{url}");
        assert_eq!(h("cache-control"), "no-store", "{url}");
    }
    let js = anon.get("/console/static/console.js").await;
    assert!(js.body.contains("time[datetime]"));
    assert!(js.content_type().starts_with("text/javascript"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_by_token_rate_limited_and_sign_out_ends_the_session() {
    let (_tdb, gw, _) = setup(false).await;
    let base = gw.base_url();

    // The cookie: HttpOnly, SameSite=Strict, scoped to /console, not Secure without TLS.
    let mut b = ConsoleClient::new(&base);
    let form = b.get("/console/sign-in").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("<label for=\"token\">"));
    let cookie = form.set_cookies.first().expect("a session cookie").clone();
    for part in [
        "walletport_console=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
    ] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    let before = b.cookie.clone();

    // A wrong token: an error page, no session.
    let wrong = b
        .post("/console/sign-in", &[("token", "guess")], true)
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("not the gateway's API token"));
    assert!(
        !wrong.body.contains("guess"),
        "the typed token is not echoed"
    );
    assert_eq!(b.get("/console/").await.status, 303);

    // The right one: a new session id (the pre-sign-in one is worthless), and the data.
    b.sign_in(TOKEN).await;
    assert_ne!(b.cookie, before, "the session id changes at sign-in");
    let home = b.get("/console/").await;
    assert!(home.body.contains(NAME) && !home.body.contains(TOKEN));
    let mut stale = ConsoleClient::new(&base);
    stale.cookie = before;
    assert_eq!(stale.get("/console/").await.status, 303);

    // Sign-out needs the CSRF token, then kills the session.
    let forged = b.post("/console/sign-out", &[], false).await;
    assert_eq!(forged.status, 403);
    assert_eq!(b.get("/console/").await.status, 200, "still signed in");
    let session = b.cookie.clone();
    let out = b.post("/console/sign-out", &[], true).await;
    assert_eq!(out.status, 303);
    assert!(out.set_cookies.iter().any(|c| c.contains("Max-Age=0")));
    let mut replay = ConsoleClient::new(&base);
    replay.cookie = session;
    let p = replay.get("/console/").await;
    assert_eq!(p.status, 303, "the old cookie is dead");
    assert!(!p.body.contains(NAME));

    // Five wrong tokens from one client address (the one above and four more), then the
    // sixth attempt is refused, even with the right token, with a lockout message.
    let mut guesser = ConsoleClient::new(&base);
    guesser.get("/console/sign-in").await;
    for n in 0..4 {
        let p = guesser
            .post(
                "/console/sign-in",
                &[("token", &format!("guess-{n}"))],
                true,
            )
            .await;
        assert_eq!(p.status, 401, "attempt {n}");
    }
    let sixth = guesser
        .post("/console/sign-in", &[("token", TOKEN)], true)
        .await;
    assert_eq!(sixth.status, 429);
    assert!(sixth.body.contains("locked"));
    assert_eq!(guesser.get("/console/").await.status, 303);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changing_forms_need_the_sessions_csrf_token() {
    let (_tdb, gw, id) = setup(false).await;
    let base = gw.base_url();
    let mut b = ConsoleClient::new(&base);
    b.sign_in(TOKEN).await;
    let action = format!("/console/customers/{id}/actions/credit");
    let fields = [
        ("amount", "5"),
        ("transaction_id", "csrf-1"),
        ("confirm", "yes"),
    ];

    let missing = b.post(&action, &fields, false).await;
    assert_eq!(missing.status, 403);
    let good = b.csrf.clone();
    b.csrf = "0".repeat(64);
    let wrong = b.post(&action, &fields, true).await;
    assert_eq!(wrong.status, 403);
    // Another session's token is wrong here too.
    let mut other = ConsoleClient::new(&base);
    other.sign_in(TOKEN).await;
    b.csrf = other.csrf.clone();
    assert_eq!(b.post(&action, &fields, true).await.status, 403);
    assert_eq!(points(&base).await, "10", "nothing changed");

    b.csrf = good;
    let done = b.post(&action, &fields, true).await;
    assert_eq!(done.status, 303);
    assert_eq!(points(&base).await, "15");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_tls_the_cookie_is_secure_and_without_a_token_no_sign_in_is_asked() {
    let (_tdb, gw, _) = setup(true).await;
    let mut b = ConsoleClient::new(&gw.base_url());
    let p = b.get("/console/sign-in").await;
    assert!(
        p.set_cookies.iter().all(|c| c.contains("; Secure")),
        "{:?}",
        p.set_cookies
    );
    gw.shutdown().await;

    let tdb = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let (gw, store) = console_gateway(&tdb, None, false).await;
    let mut b = ConsoleClient::new(&gw.base_url());
    let home = b.get("/console/").await;
    assert_eq!(home.status, 200, "loopback without a token: no sign-in");
    assert!(
        home.set_cookies.iter().any(|c| c.contains("HttpOnly")),
        "a session for CSRF"
    );
    assert!(!home.body.contains("Sign out"));
    let p = b.get("/console/sign-in").await;
    assert_eq!(p.location.as_deref(), Some("/console/"));
    // CSRF holds without a token as well.
    let c = reqwest::Client::new();
    let (status, _) = send(
        &c,
        "POST",
        format!("{}/api/customers", gw.base_url()),
        json!({"phone": PHONE}),
    )
    .await;
    assert_eq!(status, 200);
    let id = stored(&*store, &Phone::parse(PHONE).expect("phone"))
        .await
        .id;
    let action = format!("/console/customers/{id}/actions/credit");
    let fields = [
        ("amount", "5"),
        ("transaction_id", "c-1"),
        ("confirm", "yes"),
    ];
    assert_eq!(b.post(&action, &fields, false).await.status, 403);
    b.get(&format!("/console/customers/{id}")).await;
    assert_eq!(b.post(&action, &fields, true).await.status, 303);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_session_id_or_csrf_token_in_logs_pages_or_urls() {
    let logs = support::logs::capture_logs();
    let (_tdb, gw, id) = setup(false).await;
    let base = gw.base_url();
    let mut b = ConsoleClient::new(&base);
    b.get("/console/sign-in").await;
    let wrong = "console-wrong-token-7e2f";
    b.post("/console/sign-in", &[("token", wrong)], true).await;
    b.sign_in(TOKEN).await;
    let session = b
        .cookie
        .clone()
        .and_then(|c| c.split_once('=').map(|(_, v)| v.to_owned()))
        .expect("a session");
    let mut pages = Vec::new();
    for url in ["/console/".to_owned(), format!("/console/customers/{id}")] {
        let p = b.get(&url).await;
        pages.push((p.location.unwrap_or_default(), p.body));
    }
    let csrf = b.csrf.clone();
    let action = format!("/console/customers/{id}/actions/credit");
    let ask = b
        .post(
            &action,
            &[("amount", "1"), ("transaction_id", "log-1")],
            true,
        )
        .await;
    pages.push((String::new(), ask.body));
    let done = b
        .post(
            &action,
            &[
                ("amount", "1"),
                ("transaction_id", "log-1"),
                ("confirm", "yes"),
            ],
            true,
        )
        .await;
    pages.push((done.location.unwrap_or_default(), done.body));
    b.post("/console/sign-out", &[], true).await;
    gw.shutdown().await;

    let logs = logs.text();
    assert!(logs.contains("console sign-in"), "the sign-in is logged");
    for secret in [TOKEN, wrong, &session, &csrf] {
        assert!(!logs.contains(secret), "{secret} in the logs");
        for (location, body) in &pages {
            assert!(!location.contains(secret), "{secret} in a URL");
            if *secret != csrf {
                assert!(!body.contains(secret), "{secret} in a page");
            }
        }
    }
}
