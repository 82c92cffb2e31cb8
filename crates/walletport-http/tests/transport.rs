//! `HttpTransport` basics against a real local server: timeouts, connection reuse, headers,
//! redaction in `Debug` and traces, quota accounting.

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Reply, Server};
use walletport_core::{ErrorKind, Retry};
use walletport_http::{
    HttpRequest, HttpTransport, QuotaLimiter, QuotaPlan, RetryPolicy, Transport, TransportConfig,
};

fn transport(config: TransportConfig) -> HttpTransport {
    HttpTransport::new(config).expect("valid config")
}

#[tokio::test]
async fn timeout_is_vendor_unavailable_temporary_for_a_write() {
    let server = Server::late().await;
    let t = transport(server.config().with_timeout(Duration::from_millis(150)));

    let write = HttpRequest::post("credit.add", "/credit");
    let err = t.execute(write).await.expect_err("timed out");

    assert_eq!(err.kind(), ErrorKind::VendorUnavailable);
    assert_eq!(err.retry(), Retry::Temporary { after: None });
    assert!(
        err.message().contains("did not answer within 150ms"),
        "{err}"
    );
    assert_eq!(
        server.hit_count(),
        1,
        "a write that timed out is not resent"
    );
}

#[tokio::test]
async fn timeout_of_a_read_is_retried_then_persistent() {
    let server = Server::late().await;
    let t = transport(
        server.config().with_retry(
            RetryPolicy::default()
                .with_max_attempts(2)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(1)),
        ),
    );

    // The per-request timeout overrides the transport's 5 s.
    let read = HttpRequest::get("customer.get", "/c").timeout(Duration::from_millis(100));
    let err = t.execute(read).await.expect_err("timed out twice");

    assert_eq!(err.kind(), ErrorKind::VendorUnavailable);
    assert_eq!(err.retry(), Retry::Persistent);
    assert_eq!(server.hit_count(), 2);
}

async fn distinct_peers(reuse: bool) -> usize {
    let server = Server::scripted(vec![]).await;
    let t = transport(server.config().with_reuse_connections(reuse));
    for i in 0..4 {
        let resp = t
            .execute(HttpRequest::get("customer.get", format!("/c/{i}")))
            .await
            .expect("ok");
        assert_eq!(resp.status, 200);
    }
    assert_eq!(server.hit_count(), 4);
    server
        .hits()
        .iter()
        .map(|h| h.peer)
        .collect::<HashSet<_>>()
        .len()
}

#[tokio::test]
async fn connections_are_reused_by_default() {
    assert_eq!(distinct_peers(true).await, 1);
}

#[tokio::test]
async fn reuse_connections_false_opens_a_connection_per_request() {
    assert_eq!(distinct_peers(false).await, 4);
}

#[tokio::test]
async fn request_parts_default_headers_and_user_agent_reach_the_server() {
    let server = Server::scripted(vec![]).await;
    let mut base = server.base.clone();
    base.set_path("/api/");
    let config = TransportConfig::new("testvendor", base)
        .with_user_agent("walletport-test/1")
        .with_default_header("X-Api-Key", "k-123")
        .expect("valid header");
    let t = transport(config);

    let req = HttpRequest::post_json(
        "customer.upsert",
        "/v2/customers",
        &serde_json::json!({"a": 1}),
    )
    .expect("json")
    .query("page", "2")
    .header("X-Trace", "abc");
    t.execute(req).await.expect("ok");

    let hit = &server.hits()[0];
    assert_eq!(hit.method, "POST");
    assert_eq!(hit.uri, "/api/v2/customers?page=2");
    assert_eq!(hit.body, br#"{"a":1}"#);
    let header = |name: &str| hit.headers.get(name).and_then(|v| v.to_str().ok());
    assert_eq!(header("content-type"), Some("application/json"));
    assert_eq!(header("x-api-key"), Some("k-123"));
    assert_eq!(header("x-trace"), Some("abc"));
    assert_eq!(header("user-agent"), Some("walletport-test/1"));
}

#[tokio::test]
async fn sensitive_headers_are_sent_but_never_shown_in_debug() {
    let server = Server::scripted(vec![]).await;
    let t = transport(
        server
            .config()
            .with_default_header("X-Api-Key", "default-secret")
            .expect("header"),
    );

    let req = HttpRequest::post("customer.upsert", "/c?token=query-secret")
        .bearer_auth("bearer-secret")
        .header("X-Api-Key", "key-secret")
        .sensitive_header("X-Signature", "sig-secret")
        .header("X-Request-Id", "visible-id")
        .body(r#"{"crm_key":"body-secret"}"#);
    let debug = format!("{req:?}");
    for secret in [
        "bearer-secret",
        "key-secret",
        "sig-secret",
        "body-secret",
        "query-secret",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked into {debug}");
    }
    assert!(debug.contains("authorization"));
    assert!(debug.contains("[redacted]"));
    assert!(debug.contains("visible-id"));
    assert!(!format!("{t:?}").contains("default-secret"));

    t.execute(req).await.expect("ok");
    let hit = &server.hits()[0];
    let header = |name: &str| hit.headers.get(name).and_then(|v| v.to_str().ok());
    assert_eq!(header("authorization"), Some("Bearer bearer-secret"));
    assert_eq!(
        header("x-api-key"),
        Some("key-secret"),
        "the request's header wins"
    );
    assert_eq!(header("x-signature"), Some("sig-secret"));
}

#[tokio::test]
async fn basic_auth_is_encoded() {
    let server = Server::scripted(vec![]).await;
    let t = transport(server.config());
    t.execute(HttpRequest::get("op", "/").basic_auth("Aladdin", "open sesame"))
        .await
        .expect("ok");
    let hit = &server.hits()[0];
    assert_eq!(
        hit.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
}

/// A `MakeWriter` collecting everything the fmt subscriber prints.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn traces_name_the_request_but_never_secrets_or_bodies() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = Server::start(vec![], Reply::new(503, "response-body-secret")).await;
    let t = transport(server.config());
    let req = HttpRequest::post("balance.credit", "/credit?api_key=query-secret")
        .idempotent(true)
        .bearer_auth("bearer-secret")
        .body("request-body-secret");
    let _ = t.execute(req).await;
    drop(_guard);

    let text = String::from_utf8_lossy(&logs.0.lock().expect("log")).into_owned();
    assert!(text.contains("http.request"), "{text}");
    assert!(text.contains("balance.credit"), "{text}");
    assert!(text.contains("testvendor"), "{text}");
    assert!(text.contains("/credit"), "{text}");
    assert!(text.contains("attempt=3"), "{text}");
    for secret in [
        "query-secret",
        "bearer-secret",
        "request-body-secret",
        "response-body-secret",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the logs:\n{text}"
        );
    }
}

#[tokio::test]
async fn oversized_response_body_is_unexpected() {
    let server = Server::start(vec![], Reply::new(200, "y".repeat(10_000))).await;
    let t = transport(server.config().with_max_response_bytes(1_000));
    let err = t
        .execute(HttpRequest::get("op", "/"))
        .await
        .expect_err("too big");
    assert_eq!(err.kind(), ErrorKind::Unexpected);
    assert_eq!(err.retry(), Retry::Permanent);
    assert_eq!(server.hit_count(), 1);
}

#[tokio::test]
async fn invalid_requests_and_configs_fail_before_sending() {
    let server = Server::scripted(vec![]).await;
    let t = transport(server.config());
    let err = t
        .execute(HttpRequest::get("op", "/").header("X-Api-Key", "line\nbreak"))
        .await
        .expect_err("invalid header");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.provider(), Some("testvendor"));
    assert_eq!(server.hit_count(), 0);
    assert_eq!(t.stats().failures, 1);

    let bad = TransportConfig::parse("testvendor", "ftp://example.invalid").expect("a URL");
    assert_eq!(
        HttpTransport::new(bad).map(|_| ()).map_err(|e| e.kind()),
        Err(ErrorKind::ConfigInvalid)
    );
    let bad = TransportConfig::parse("testvendor", "not a url")
        .map(|_| ())
        .map_err(|e| e.kind());
    assert_eq!(bad, Err(ErrorKind::ConfigInvalid));
    let bad = server
        .config()
        .with_default_header("X-Api-Key", "a\nb")
        .map(|_| ())
        .map_err(|e| e.kind());
    assert_eq!(bad, Err(ErrorKind::ConfigInvalid));
}

#[tokio::test]
async fn url_for_joins_paths_and_keeps_absolute_urls() {
    let t =
        transport(TransportConfig::parse("v", "https://api.example.invalid/base/").expect("url"));
    let url = |p: &str| t.url_for(p).map(|u| u.to_string()).expect("joins");
    assert_eq!(url("/v2/x"), "https://api.example.invalid/base/v2/x");
    assert_eq!(url("v2/x?a=1"), "https://api.example.invalid/base/v2/x?a=1");
    assert_eq!(
        url("https://other.example.invalid/y"),
        "https://other.example.invalid/y"
    );
}

#[tokio::test]
async fn every_attempt_including_retries_takes_a_quota_slot() {
    let server = Server::scripted(vec![Reply::new(503, "")]).await;
    let limiter = Arc::new(QuotaLimiter::new(QuotaPlan::parse("2/h").expect("plan")));
    let t = transport(server.config().with_quota(limiter.clone()));

    t.execute(HttpRequest::get("op", "/"))
        .await
        .expect("503 then 200");
    assert_eq!(server.hit_count(), 2);

    // Both slots of the hour are spent: the next request waits (an hour) instead of being sent.
    let blocked = tokio::time::timeout(
        Duration::from_millis(200),
        t.execute(HttpRequest::get("op", "/")),
    )
    .await;
    assert!(blocked.is_err(), "the third attempt must wait for quota");
    assert_eq!(server.hit_count(), 2);

    // A second transport sharing the limiter shares the quota.
    let other = transport(server.config().with_quota(limiter));
    let blocked = tokio::time::timeout(
        Duration::from_millis(50),
        other.execute(HttpRequest::get("op", "/")),
    )
    .await;
    assert!(blocked.is_err());
    assert_eq!(server.hit_count(), 2);
}

#[tokio::test]
async fn quota_waits_are_counted() {
    let server = Server::scripted(vec![]).await;
    let t = transport(
        server
            .config()
            .with_quota_plan(QuotaPlan::parse("1/200ms").expect("plan")),
    );
    for _ in 0..3 {
        t.execute(HttpRequest::get("op", "/")).await.expect("ok");
    }
    let stats = t.stats();
    assert_eq!(stats.attempts, 3);
    assert!(stats.quota_waits >= 1, "{stats:?}");
    assert!(stats.quota_wait_time > Duration::ZERO, "{stats:?}");
}
