//! A scripted axum server on 127.0.0.1:0 and a recording sleeper, shared by the transport tests.

#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use walletport_http::{Sleeper, TransportConfig, Url};

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// What the server saw.
#[derive(Clone, Debug)]
pub struct Hit {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub peer: SocketAddr,
}

struct ServerState {
    script: Mutex<VecDeque<Reply>>,
    fallback: Reply,
    hits: Mutex<Vec<Hit>>,
}

/// A running server; it stops with the test's runtime.
pub struct Server {
    pub base: Url,
    state: Arc<ServerState>,
}

impl Server {
    /// Answers with `script` in order, then with `fallback` forever.
    pub async fn start(script: Vec<Reply>, fallback: Reply) -> Self {
        let state = Arc::new(ServerState {
            script: Mutex::new(script.into()),
            fallback,
            hits: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        Self {
            base: Url::parse(&format!("http://{addr}")).expect("url"),
            state,
        }
    }

    /// Answers every request with 200 "late", but only after 5 s: longer than any timeout a
    /// test sets, so every request times out.
    pub async fn late() -> Self {
        Self::start(
            vec![],
            Reply::new(200, "late").delay(Duration::from_secs(5)),
        )
        .await
    }

    /// Answers with `script`, then 200 "done".
    pub async fn scripted(script: Vec<Reply>) -> Self {
        Self::start(script, Reply::new(200, "done")).await
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.state.hits.lock().expect("hits").clone()
    }

    pub fn hit_count(&self) -> usize {
        self.state.hits.lock().expect("hits").len()
    }

    /// A transport config for this server with tiny backoff, so retries cost milliseconds.
    pub fn config(&self) -> TransportConfig {
        TransportConfig::new("testvendor", self.base.clone())
            .with_retry(
                walletport_http::RetryPolicy::default()
                    .with_max_attempts(3)
                    .with_backoff(Duration::from_millis(1), Duration::from_millis(2)),
            )
            .with_timeout(Duration::from_secs(5))
    }
}

async fn handle(
    State(state): State<Arc<ServerState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, 1 << 20).await.unwrap_or_default().to_vec();
    state.hits.lock().expect("hits").push(Hit {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts.headers.clone(),
        body,
        peer,
    });
    let reply = state
        .script
        .lock()
        .expect("script")
        .pop_front()
        .unwrap_or_else(|| state.fallback.clone());
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut resp = Response::new(Body::from(reply.body));
    *resp.status_mut() = StatusCode::from_u16(reply.status).expect("status");
    for (name, value) in reply.headers {
        resp.headers_mut().append(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).expect("header"),
        );
    }
    resp
}

/// Records the waits the transport asks for instead of sleeping.
#[derive(Debug, Default)]
pub struct RecordingSleeper {
    waits: Mutex<Vec<Duration>>,
}

impl RecordingSleeper {
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().expect("waits").clone()
    }
}

#[async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, duration: Duration) {
        self.waits.lock().expect("waits").push(duration);
    }
}

/// A loopback port nobody listens on (bound, then released).
pub async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}
