//! Retry behaviour of `HttpTransport` against a real local HTTP server.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{RecordingSleeper, Reply, Server, closed_port};
use walletport_core::{ErrorKind, Retry};
use walletport_http::{
    BodyContains, HttpRequest, HttpTransport, RateLimitHint, RetryPolicy, Transport,
    TransportConfig, Url,
};

fn transport(config: TransportConfig) -> HttpTransport {
    HttpTransport::new(config).expect("valid config")
}

fn read() -> HttpRequest {
    HttpRequest::get("customer.get", "/customers/1")
}

fn write() -> HttpRequest {
    HttpRequest::post_json("push.send", "/push", &serde_json::json!({"message": "hi"}))
        .expect("serializable")
}

#[tokio::test]
async fn idempotent_request_is_retried_on_503_then_succeeds() {
    let server = Server::scripted(vec![Reply::new(503, "busy"), Reply::new(503, "busy")]).await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let t = transport(server.config().with_sleeper(sleeper.clone()));

    let resp = t.execute(read()).await.expect("third attempt succeeds");

    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "done");
    assert_eq!(server.hit_count(), 3);
    let stats = t.stats();
    assert_eq!((stats.requests, stats.attempts, stats.retries), (1, 3, 2));
    assert_eq!(stats.failures, 0);
    // Two backoff waits, each within its jitter cap (1 ms then 2 ms).
    let waits = sleeper.waits();
    assert_eq!(waits.len(), 2);
    assert!(waits[0] <= Duration::from_millis(1), "{waits:?}");
    assert!(waits[1] <= Duration::from_millis(2), "{waits:?}");
}

#[tokio::test]
async fn retry_after_seconds_is_honoured_even_for_a_non_idempotent_429() {
    let server = Server::scripted(vec![
        Reply::new(429, "slow down").header("retry-after", "7"),
    ])
    .await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let t = transport(server.config().with_sleeper(sleeper.clone()));

    let resp = t.execute(write()).await.expect("retried after the wait");

    assert_eq!(resp.status, 200);
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(7)]);
    assert_eq!(server.hit_count(), 2);
    // The retry carried the same body.
    let hits = server.hits();
    assert_eq!(hits[0].body, hits[1].body);
    assert_eq!(hits[1].method, "POST");
    assert_eq!(t.stats().rate_limited, 1);
}

#[tokio::test]
async fn retry_after_http_date_is_honoured() {
    let at = SystemTime::now() + Duration::from_secs(30);
    let server = Server::scripted(vec![
        Reply::new(503, "").header("retry-after", httpdate::fmt_http_date(at)),
    ])
    .await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let t = transport(server.config().with_sleeper(sleeper.clone()));

    t.execute(read()).await.expect("retried after the date");

    let waits = sleeper.waits();
    assert_eq!(waits.len(), 1);
    // HTTP-dates have one-second resolution and some time passed since `at` was computed.
    assert!(
        waits[0] >= Duration::from_secs(27) && waits[0] <= Duration::from_secs(30),
        "{waits:?}"
    );
}

#[tokio::test]
async fn real_sleeper_waits_at_least_retry_after() {
    let server = Server::scripted(vec![Reply::new(429, "").header("retry-after", "1")]).await;
    let t = transport(server.config());
    let started = std::time::Instant::now();

    t.execute(write()).await.expect("retried");

    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(t.stats().retry_wait_time >= Duration::from_secs(1));
}

#[tokio::test]
async fn client_errors_and_500_are_returned_to_the_adapter_without_retry() {
    for status in [400u16, 401, 404, 409, 500] {
        let server = Server::scripted(vec![Reply::new(status, "{\"error\":\"nope\"}")]).await;
        let t = transport(server.config());

        let resp = t
            .execute(read())
            .await
            .expect("a vendor answer, not an error");

        assert_eq!(resp.status, status);
        assert_eq!(resp.text(), "{\"error\":\"nope\"}");
        assert_eq!(server.hit_count(), 1, "HTTP {status} must not be retried");
        assert_eq!(t.stats().retries, 0);
    }
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let server = Server::scripted(vec![Reply::new(302, "").header("location", "/elsewhere")]).await;
    let t = transport(server.config());
    let resp = t.execute(read()).await.expect("answer");
    assert_eq!(resp.status, 302);
    assert_eq!(resp.header("location"), Some("/elsewhere"));
    assert_eq!(server.hit_count(), 1);
}

#[tokio::test]
async fn non_idempotent_request_is_not_retried_on_503() {
    for status in [408u16, 502, 503, 504] {
        let server = Server::scripted(vec![Reply::new(status, "upstream")]).await;
        let t = transport(server.config());

        let err = t
            .execute(write())
            .await
            .expect_err("503 on a write is an error");

        assert_eq!(
            server.hit_count(),
            1,
            "HTTP {status} on a write must not be retried"
        );
        assert_eq!(err.kind(), ErrorKind::VendorUnavailable);
        assert_eq!(err.retry(), Retry::Temporary { after: None });
        assert_eq!(err.provider(), Some("testvendor"));
        assert_eq!(err.operation(), Some("push.send"));
        let vendor = err.vendor().expect("vendor answer kept");
        assert_eq!(vendor.status, Some(status));
        assert_eq!(vendor.message.as_deref(), Some("upstream"));
        assert!(err.message().contains("not idempotent"));
    }
}

#[tokio::test]
async fn same_write_is_retried_when_marked_idempotent() {
    let server = Server::scripted(vec![Reply::new(503, "")]).await;
    let t = transport(server.config());
    let resp = t.execute(write().idempotent(true)).await.expect("retried");
    assert_eq!(resp.status, 200);
    assert_eq!(server.hit_count(), 2);
}

#[tokio::test]
async fn vendor_rate_limit_answer_is_detected_and_retried_for_a_write() {
    let limited =
        r#"{"code":200,"error":true,"message":"You can only make 30000 requests per hour"}"#;
    let server = Server::scripted(vec![Reply::new(200, limited)]).await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let t = transport(
        server
            .config()
            .with_sleeper(sleeper.clone())
            .with_rate_limit_detector(BodyContains::new("You can only make")),
    );

    let resp = t.execute(write()).await.expect("retried after the limit");

    assert_eq!(resp.text(), "done");
    assert_eq!(server.hit_count(), 2);
    assert_eq!(t.stats().rate_limited, 1);
    assert_eq!(sleeper.waits().len(), 1);
}

#[tokio::test]
async fn closure_detector_can_supply_the_wait() {
    let server = Server::scripted(vec![Reply::new(200, "QUOTA")]).await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let detector = |resp: &walletport_http::HttpResponse| {
        (resp.body.as_ref() == b"QUOTA").then_some(RateLimitHint {
            retry_after: Some(Duration::from_secs(42)),
        })
    };
    let t = transport(
        server
            .config()
            .with_sleeper(sleeper.clone())
            .with_rate_limit_detector(detector),
    );
    t.execute(write()).await.expect("retried");
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(42)]);
}

#[tokio::test]
async fn exhausted_retries_are_persistent_and_keep_the_vendor_answer() {
    let server = Server::start(vec![], Reply::new(503, "maintenance")).await;
    let t = transport(server.config());

    let err = t.execute(read()).await.expect_err("always 503");

    assert_eq!(server.hit_count(), 3);
    assert_eq!(err.kind(), ErrorKind::VendorUnavailable);
    assert_eq!(err.retry(), Retry::Persistent);
    let vendor = err.vendor().expect("vendor kept");
    assert_eq!(vendor.status, Some(503));
    assert_eq!(vendor.message.as_deref(), Some("maintenance"));
    assert!(err.message().contains("gave up after 3 attempts"), "{err}");
    assert_eq!(t.stats().failures, 1);
}

#[tokio::test]
async fn exhausted_rate_limit_is_rate_limited_persistent_with_truncated_body() {
    let huge = "x".repeat(100_000);
    let server = Server::start(vec![], Reply::new(429, huge)).await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let t = transport(server.config().with_sleeper(sleeper));

    let err = t.execute(write()).await.expect_err("always 429");

    assert_eq!(server.hit_count(), 3);
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry(), Retry::Persistent);
    let message = err
        .vendor()
        .and_then(|v| v.message.clone())
        .unwrap_or_default();
    assert!(
        message.len() < 4096,
        "body must be truncated, got {}",
        message.len()
    );
    assert_eq!(t.stats().rate_limited, 3);
}

#[tokio::test]
async fn retry_after_longer_than_allowed_is_handed_back_as_temporary() {
    let server = Server::scripted(vec![Reply::new(429, "").header("retry-after", "3600")]).await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let t = transport(server.config().with_sleeper(sleeper.clone()));

    let err = t
        .execute(write())
        .await
        .expect_err("an hour is too long to wait");

    assert_eq!(server.hit_count(), 1);
    assert!(sleeper.waits().is_empty());
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(
        err.retry(),
        Retry::Temporary {
            after: Some(Duration::from_secs(3600))
        }
    );
}

#[tokio::test]
async fn refused_connection_is_retried_even_for_a_write_since_nothing_was_sent() {
    let port = closed_port().await;
    let base = Url::parse(&format!("http://127.0.0.1:{port}")).expect("url");
    let sleeper = Arc::new(RecordingSleeper::default());
    let config = TransportConfig::new("testvendor", base)
        .with_retry(
            RetryPolicy::default()
                .with_max_attempts(4)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(1)),
        )
        .with_sleeper(sleeper.clone());
    let t = transport(config);

    let err = t
        .execute(write().query("api_key", "secret"))
        .await
        .expect_err("nobody listens");

    assert_eq!(t.stats().attempts, 4);
    assert_eq!(sleeper.waits().len(), 3);
    assert_eq!(err.kind(), ErrorKind::VendorUnavailable);
    assert_eq!(err.retry(), Retry::Persistent);
    assert!(err.message().contains("cannot connect"), "{err}");
    // The error never shows the URL's query.
    assert!(!format!("{err:?}").contains("secret"));
}

#[tokio::test]
async fn no_retries_policy_sends_once() {
    let server = Server::start(vec![], Reply::new(503, "")).await;
    let t = transport(server.config().with_retry(RetryPolicy::never()));
    let err = t.execute(read()).await.expect_err("503");
    assert_eq!(server.hit_count(), 1);
    assert_eq!(err.retry(), Retry::Persistent);
}
