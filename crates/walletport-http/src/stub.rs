//! [`StubTransport`]: a recording fake [`Transport`] with scripted responses, in the spirit of
//! lettre's `StubTransport`, so adapters and their users test without a server.
//!
//! ```
//! # tokio_test_block_on(async {
//! use walletport_http::{HttpRequest, HttpResponse, Transport, stub::StubTransport};
//!
//! let stub = StubTransport::new();
//! stub.push_json(200, &serde_json::json!({ "ok": true }));
//! let resp = stub.execute(HttpRequest::get("customer.get", "/customers/1")).await?;
//! assert_eq!(resp.status, 200);
//! assert_eq!(stub.requests()[0].path, "/customers/1");
//! # Ok::<(), walletport_core::Error>(())
//! # }).unwrap();
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde::Serialize;
use walletport_core::{Error, Result};

use crate::request::HttpRequest;
use crate::response::HttpResponse;
use crate::transport::Transport;

type Responder = Box<dyn FnMut(&HttpRequest) -> Result<HttpResponse> + Send>;

enum Script {
    Queue(VecDeque<Result<HttpResponse>>),
    Responder(Responder),
}

struct State {
    script: Script,
    requests: Vec<HttpRequest>,
}

/// A [`Transport`] that answers from a script and records every request it executed.
///
/// Clones share the script and the record, so a test keeps one clone and hands another (as
/// `Arc<dyn Transport>`) to the code under test. It does no retries and no waiting: it is the
/// network, not the [`HttpTransport`](crate::HttpTransport). An invalid request (see
/// [`HttpRequest::validate`]) is recorded and answered with its `InvalidInput` error, as the real
/// transport would.
#[derive(Clone)]
pub struct StubTransport {
    state: Arc<Mutex<State>>,
}

impl StubTransport {
    /// A stub with an empty queue; script it with the `push_*` methods. Once the queue is empty,
    /// every request fails with `Unexpected` naming the operation.
    pub fn new() -> Self {
        Self::with_responses([])
    }

    /// A stub answering with `responses`, in order.
    pub fn with_responses(responses: impl IntoIterator<Item = HttpResponse>) -> Self {
        Self::from_script(Script::Queue(responses.into_iter().map(Ok).collect()))
    }

    /// A stub whose every answer comes from `responder`, e.g. one routing on the path.
    pub fn from_fn(
        responder: impl FnMut(&HttpRequest) -> Result<HttpResponse> + Send + 'static,
    ) -> Self {
        Self::from_script(Script::Responder(Box::new(responder)))
    }

    fn from_script(script: Script) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                script,
                requests: Vec::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking responder poisons the lock; the record is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, item: Result<HttpResponse>) -> &Self {
        let mut state = self.lock();
        match &mut state.script {
            Script::Queue(queue) => queue.push_back(item),
            // Switching from a responder to a queue: the queue takes over.
            Script::Responder(_) => state.script = Script::Queue(VecDeque::from([item])),
        }
        self
    }

    /// Queues a response.
    pub fn push_response(&self, response: HttpResponse) -> &Self {
        self.push(Ok(response))
    }

    /// Queues a JSON response.
    pub fn push_json(&self, status: u16, body: &(impl Serialize + ?Sized)) -> &Self {
        self.push(Ok(HttpResponse::json_body(status, body)))
    }

    /// Queues a transport error (e.g. to test an adapter's handling of `VendorUnavailable`).
    pub fn push_error(&self, error: Error) -> &Self {
        self.push(Err(error))
    }

    /// Every request executed so far, oldest first.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.lock().requests.clone()
    }

    /// Every request executed so far, clearing the record.
    pub fn take_requests(&self) -> Vec<HttpRequest> {
        std::mem::take(&mut self.lock().requests)
    }

    /// The most recent request, if any.
    pub fn last_request(&self) -> Option<HttpRequest> {
        self.lock().requests.last().cloned()
    }

    /// How many requests were executed.
    pub fn request_count(&self) -> usize {
        self.lock().requests.len()
    }

    /// How many queued answers are left (0 for a responder).
    pub fn remaining(&self) -> usize {
        match &self.lock().script {
            Script::Queue(q) => q.len(),
            Script::Responder(_) => 0,
        }
    }
}

impl Default for StubTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for StubTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("StubTransport")
            .field("requests", &state.requests.len())
            .field(
                "script",
                &match &state.script {
                    Script::Queue(q) => format!("{} queued", q.len()),
                    Script::Responder(_) => "responder".to_owned(),
                },
            )
            .finish()
    }
}

#[async_trait]
impl Transport for StubTransport {
    async fn execute(&self, req: HttpRequest) -> Result<HttpResponse> {
        let mut state = self.lock();
        state.requests.push(req.clone());
        req.validate()?;
        match &mut state.script {
            Script::Responder(respond) => respond(&req),
            Script::Queue(queue) => queue.pop_front().unwrap_or_else(|| {
                Err(Error::unexpected(format!(
                    "StubTransport has no scripted response left for `{}` {} {}",
                    req.operation,
                    req.method,
                    req.path_for_logs()
                ))
                .with_operation(req.operation))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use walletport_core::ErrorKind;

    #[tokio::test]
    async fn queue_answers_in_order_then_fails_clearly() {
        let stub = StubTransport::with_responses([HttpResponse::new(200, "a")]);
        stub.push_error(Error::new(ErrorKind::VendorUnavailable, "down"));
        let dyn_stub: Arc<dyn Transport> = Arc::new(stub.clone());
        let first = dyn_stub.execute(HttpRequest::get("op.a", "/a")).await;
        assert_eq!(first.expect("scripted").body, bytes::Bytes::from("a"));
        let second = dyn_stub.execute(HttpRequest::get("op.b", "/b")).await;
        assert_eq!(
            second.map_err(|e| e.kind()),
            Err(ErrorKind::VendorUnavailable)
        );
        let third = dyn_stub
            .execute(HttpRequest::get("op.c", "/c?secret=1"))
            .await;
        let err = third.expect_err("queue is empty");
        assert_eq!(err.kind(), ErrorKind::Unexpected);
        assert!(err.to_string().contains("op.c"));
        assert!(!err.to_string().contains("secret"));
        let paths: Vec<_> = stub.take_requests().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/a", "/b", "/c?secret=1"]);
        assert_eq!(stub.request_count(), 0);
    }

    #[tokio::test]
    async fn responder_routes_on_the_request() {
        let stub = StubTransport::from_fn(|req| {
            Ok(HttpResponse::new(
                if req.path == "/ok" { 200 } else { 404 },
                "",
            ))
        });
        let ok = stub.execute(HttpRequest::get("op", "/ok")).await;
        let missing = stub.execute(HttpRequest::get("op", "/nope")).await;
        assert_eq!(ok.expect("responder").status, 200);
        assert_eq!(missing.expect("responder").status, 404);
        assert_eq!(
            stub.last_request().map(|r| r.path),
            Some("/nope".to_owned())
        );
    }

    #[tokio::test]
    async fn invalid_requests_are_recorded_and_rejected() {
        let stub = StubTransport::with_responses([HttpResponse::new(200, "")]);
        let bad = HttpRequest::get("op", "/").header("bad name", "v");
        let result = stub.execute(bad).await;
        assert_eq!(result.map_err(|e| e.kind()), Err(ErrorKind::InvalidInput));
        assert_eq!(stub.request_count(), 1);
        assert_eq!(stub.remaining(), 1, "an invalid request consumes no answer");
    }
}
