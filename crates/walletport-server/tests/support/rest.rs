//! The gateway's HTTP surface from a test's side: one client that knows the base URL and the
//! bearer token, calls that answer the status and the JSON, and the assertions the API tests
//! share.

use serde_json::Value;
use walletport_server::RunningGateway;

/// A client of one gateway (`/api/...`, `/hooks/...`), sending the bearer token when it has one.
#[derive(Clone)]
pub struct Rest {
    /// The HTTP client, for requests the helpers do not cover.
    pub c: reqwest::Client,
    /// `http://ADDR` of the gateway.
    pub base: String,
    token: Option<String>,
}

impl Rest {
    /// A client of `running`, without a token.
    pub fn new(running: &RunningGateway) -> Self {
        Self {
            c: reqwest::Client::new(),
            base: running.base_url(),
            token: None,
        }
    }

    /// The same client, sending `Authorization: Bearer token`.
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// The URL of `path` (`/api/...`) on this gateway.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `body` (none when null) with `method` to `path`; the status and the JSON answer
    /// (null when it is not JSON).
    pub async fn call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.c.request(method, self.url(path));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if !body.is_null() {
            req = req.json(&body);
        }
        answer(req.send().await.expect("send")).await
    }

    /// A call that must answer 200; its JSON.
    pub async fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, out) = self.call(method, path, body).await;
        assert_eq!(status, 200, "{method} {path}: {out}");
        out
    }

    /// `POST /api/customers` of `customer`, which must succeed.
    pub async fn create_customer(&self, customer: Value) -> Value {
        self.ok("POST", "/api/customers", customer).await
    }
}

/// A response's status and JSON body (null when it is not JSON).
pub async fn answer(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Fails unless `answer` is `status` with an error of `kind`; `what` names the case.
pub fn assert_refused(answer: &(u16, Value), status: u16, kind: &str, what: &str) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{what}: {body}");
    assert_eq!(body["error"]["kind"], kind, "{what}: {body}");
}
