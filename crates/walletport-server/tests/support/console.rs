//! The operator console from a test's side: a gateway with the console's settings, and a
//! browser-like client that keeps the session cookie and the page's CSRF token by hand.

use std::sync::Arc;

use reqwest::redirect::Policy;
use walletport_server::{Gateway, RunningGateway};
use walletport_store::Store;

use super::{TestDb, fast_outbox, gateway_config, memory_provider, serve};

/// A gateway over the memory provider with `token` (none: the console needs no sign-in) and
/// `behind_tls`, on a free loopback port, with the quick outbox.
pub async fn console_gateway(
    tdb: &TestDb,
    token: Option<&str>,
    behind_tls: bool,
) -> (RunningGateway, Arc<dyn Store>) {
    let store = tdb.open().await;
    let mut config = gateway_config(fast_outbox());
    config.server.api_token = token.map(|t| t.to_owned().into());
    config.server.behind_tls = behind_tls;
    let gw = Gateway::new(store.clone(), memory_provider());
    (serve(&config, gw).await, store)
}

/// A browser without JavaScript: redirects not followed, the session cookie kept, the CSRF
/// token of the last page that had one remembered.
pub struct ConsoleClient {
    c: reqwest::Client,
    base: String,
    /// `walletport_console=ID`, once the gateway set one.
    pub cookie: Option<String>,
    /// The CSRF token of the last page read.
    pub csrf: String,
}

/// What a console request answered.
#[derive(Debug)]
pub struct Page {
    /// The HTTP status.
    pub status: u16,
    /// `Location`, for redirects.
    pub location: Option<String>,
    /// Every `Set-Cookie` value.
    pub set_cookies: Vec<String>,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The HTML.
    pub body: String,
}

impl Page {
    /// The `Content-Type` header, empty when absent or not text.
    pub fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts that the body shows every one of `shown`; a failure names `what` (the page) and
    /// the text it lacks.
    pub fn assert_shows(&self, what: &str, shown: &[&str]) {
        for text in shown {
            assert!(self.body.contains(text), "{what} lacks {text}");
        }
    }
}

/// Form-encodes one value.
pub fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl ConsoleClient {
    /// A client of the gateway at `base` (`http://ADDR`), with no session yet.
    pub fn new(base: &str) -> Self {
        Self {
            c: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .expect("client"),
            base: base.to_owned(),
            cookie: None,
            csrf: String::new(),
        }
    }

    /// Keeps the session cookie and the page's CSRF token.
    async fn read(&mut self, resp: reqwest::Response) -> Page {
        let set_cookies: Vec<String> = resp
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        if let Some(set) = set_cookies.last() {
            let pair = set.split(';').next().unwrap_or_default().to_owned();
            self.cookie = (!pair.ends_with('=')).then_some(pair);
        }
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let location = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.text().await.unwrap_or_default();
        let marker = r#"name="csrf" value=""#;
        if let Some(at) = body.find(marker) {
            let rest = &body[at + marker.len()..];
            self.csrf = rest.split('"').next().unwrap_or_default().to_owned();
        }
        Page {
            status,
            location,
            set_cookies,
            headers,
            body,
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self.c.request(method, format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            req = req.header(reqwest::header::COOKIE, cookie);
        }
        req
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Page {
        let resp = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("GET");
        self.read(resp).await
    }

    /// A urlencoded `POST` of `fields`, with the last page's CSRF token when `with_csrf`.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)], with_csrf: bool) -> Page {
        let mut pairs: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect();
        if with_csrf {
            pairs.push(format!("csrf={}", form_encode(&self.csrf)));
        }
        let resp = self
            .request(reqwest::Method::POST, path)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(pairs.join("&"))
            .send()
            .await
            .expect("POST");
        self.read(resp).await
    }

    /// `GET path`, which must answer 200 and show every one of `shown`.
    pub async fn page_showing(&mut self, path: &str, shown: &[&str]) -> Page {
        let page = self.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        page.assert_shows(path, shown);
        page
    }

    /// Submits a console form: posts `fields` with the CSRF token, expects the console's 303
    /// redirect, and reads `page`, where the console shows the outcome.
    pub async fn submit(&mut self, path: &str, fields: &[(&str, &str)], page: &str) -> Page {
        let done = self.post(path, fields, true).await;
        assert_eq!(done.status, 303, "{path}: {}", done.body);
        self.get(page).await
    }

    /// Signs in with `token` (the session is renewed and its new CSRF token read from the
    /// customers page).
    pub async fn sign_in(&mut self, token: &str) {
        self.get("/console/sign-in").await;
        let done = self
            .post("/console/sign-in", &[("token", token)], true)
            .await;
        assert_eq!(done.status, 303, "sign-in: {}", done.body);
        let home = self.get("/console/").await;
        assert_eq!(home.status, 200, "{}", home.body);
    }

    /// A multipart `POST` of a CSV file, if any (the CSRF field first when `with_csrf`), to the
    /// console's import page.
    pub async fn upload(&mut self, csv: Option<&str>, with_csrf: bool) -> Page {
        let boundary = "walletport-test-boundary";
        let mut body = String::new();
        if with_csrf {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n",
                self.csrf
            ));
        }
        if let Some(csv) = csv {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"c.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        let resp = self
            .request(reqwest::Method::POST, "/console/import")
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .expect("upload");
        self.read(resp).await
    }

    /// Uploads `csv` and follows the import job's page until it shows the result.
    pub async fn import(&mut self, csv: &str) -> Page {
        self.get("/console/import").await;
        let started = self.upload(Some(csv), true).await;
        assert_eq!(started.status, 303, "{}", started.body);
        let job = started.location.expect("the job's page");
        assert!(job.starts_with("/console/import/jobs/"), "{job}");
        for _ in 0..200 {
            let a = self.get(&job).await;
            assert_eq!(a.status, 200, "{}", a.body);
            if !a.body.contains("Importing…") {
                return a;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the import did not finish within 10 s");
    }
}
