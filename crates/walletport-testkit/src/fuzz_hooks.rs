//! The inbound-hook fuzz harness every adapter with hooks runs in its `tests/fuzz_*hooks.rs` (the
//! proptest equivalent of `fuzz/fuzz_targets/<vendor>_hook.rs`), behind the `hooks` feature.
//!
//! Each adapter used to spell out the same machinery: a runtime to block on, the merchant's side
//! counting what reached it, the router served on a real port and posted to, the envelope bodies
//! with a key now and then missing, and the same proptest runs (arbitrary bytes and generated
//! bodies into the parser and handler, then bodies over HTTP into the router). That lives here
//! once; an adapter names its generators and its two checks (what the parser and handler must
//! do with a body, what the router must answer) and expands [`fuzz_hooks!`](macro@crate::fuzz_hooks):
//!
//! ```ignore
//! walletport_testkit::fuzz_hooks! {
//!     check_body: check_body,
//!     bodies: { structured_hook_json_is_handled_or_rejected_cleanly: hook_json() },
//!     check_http: check_http,
//!     over_http: [hook_json()],
//! }
//! ```

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use proptest::prelude::*;
use serde_json::{Map, Value};
use tokio::runtime::Runtime;
use walletport_core::{
    Balance, CreditHook, CrmHooks, CustomerId, ReadBalance, RegisterCustomer, Result, WalletEvent,
    WalletEvents,
};

/// The runtime the checks block on (the handlers are async, proptest's cases are not), one per
/// test binary so the served router outlives every case.
pub fn runtime() -> &'static Runtime {
    static RT: LazyLock<Runtime> = LazyLock::new(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("test runtime")
    });
    &RT
}

/// The merchant's side of a hook, counting the calls that reached it and answering each one
/// successfully, so a check can tell "rejected" from "handled" by the count alone.
#[derive(Debug, Default)]
pub struct Counting {
    calls: AtomicUsize,
}

impl Counting {
    /// The calls (CRM requests or wallet events) that reached this side so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl CrmHooks for Counting {
    async fn register_customer(&self, _: RegisterCustomer) -> Result<CustomerId> {
        self.count();
        CustomerId::new("crm-fuzz-1")
    }
    async fn read_balance(&self, _: ReadBalance) -> Result<Balance> {
        self.count();
        Ok(Balance::default())
    }
    async fn credit_balance(&self, _: CreditHook) -> Result<()> {
        self.count();
        Ok(())
    }
}

#[async_trait]
impl WalletEvents for Counting {
    async fn on_wallet_event(&self, _: WalletEvent) -> Result<()> {
        self.count();
        Ok(())
    }
}

/// An adapter's hook router served on a free local port (for all cases of a test binary), and a
/// client posting bodies to it.
#[derive(Debug)]
pub struct Served {
    url: String,
    client: reqwest::Client,
}

impl Served {
    /// Serves `router` on [`runtime`], with the peer address for routers that read it (an
    /// allow-list).
    ///
    /// # Panics
    ///
    /// When no local port can be bound.
    pub fn start(router: axum::Router) -> Served {
        runtime().block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move {
                let _ = axum::serve(
                    listener,
                    router.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await;
            });
            Served {
                url: format!("http://{addr}/"),
                client: reqwest::Client::new(),
            }
        })
    }

    /// POSTs `body` as JSON and answers the status and the JSON answer (`Null` when the answer
    /// is not JSON).
    ///
    /// # Panics
    ///
    /// When the router does not answer (a dropped connection is a finding).
    pub fn post(&self, body: Vec<u8>) -> (u16, Value) {
        runtime().block_on(async {
            let resp = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("the router answers");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        })
    }
}

/// A hook envelope: the three `keys` holding the three `values` in that order, and one time in
/// eight each key missing altogether (a body the vendor never sends, which must be rejected).
pub fn envelope<A, B, C>(keys: [&'static str; 3], values: (A, B, C)) -> impl Strategy<Value = Value>
where
    A: Strategy<Value = Value>,
    B: Strategy<Value = Value>,
    C: Strategy<Value = Value>,
{
    (values.0, values.1, values.2, any::<u8>()).prop_map(move |(a, b, c, drop)| {
        let mut body = Map::new();
        for (key, value) in keys.into_iter().zip([a, b, c]) {
            body.insert(key.to_owned(), value);
        }
        if let Some(key) = keys.get(usize::from(drop % 8)) {
            body.remove(*key);
        }
        Value::Object(body)
    })
}

/// Expands to an adapter's hook-fuzz tests over its two checks, so the adapter's file holds
/// only what is its own (generators, checks, vendor-specific tests):
///
/// - `arbitrary_bytes_are_rejected_cleanly` (arbitrary bytes, up to 600) and one test per
///   `bodies` entry (its name and its JSON strategy), 384 cases each, into `check_body(&[u8])`;
/// - `router_answers_4xx_json_to_bad_bodies_over_http`, 256 cases of the `over_http` strategies
///   (JSON, serialised) or arbitrary bytes (up to 300), equally likely, into `check_http(Vec<u8>)`.
///
/// Both checks return `Result<(), TestCaseError>`. Proptest's regression files stay next to the
/// adapter's test.
#[macro_export]
macro_rules! fuzz_hooks {
    (
        check_body: $check_body:path,
        bodies: { $($name:ident: $bodies:expr),+ $(,)? },
        check_http: $check_http:path,
        over_http: [$($over_http:expr),+ $(,)?] $(,)?
    ) => {
        $crate::__macro_support::proptest::proptest! {
            #![proptest_config($crate::fuzz::cases(384))]

            #[test]
            fn arbitrary_bytes_are_rejected_cleanly(
                bytes in $crate::fuzz::bytes(600),
            ) {
                $check_body(&bytes)?;
            }

            $(
                #[test]
                fn $name(body in $bodies) {
                    let bytes = $crate::__macro_support::serde_json::to_vec(&body).unwrap_or_default();
                    $check_body(&bytes)?;
                }
            )+
        }

        $crate::__macro_support::proptest::proptest! {
            #![proptest_config($crate::fuzz::cases(256))]

            #[test]
            fn router_answers_4xx_json_to_bad_bodies_over_http(
                body in $crate::__macro_support::proptest::prop_oneof![
                    $(
                        $crate::__macro_support::proptest::strategy::Strategy::prop_map(
                            $over_http,
                            |v| $crate::__macro_support::serde_json::to_vec(&v).unwrap_or_default(),
                        ),
                    )+
                    $crate::fuzz::bytes(300),
                ]
            ) {
                $check_http(body)?;
            }
        }
    };
}
