//! The hook endpoint as a real axum server: limits and auth, and Passquare (the emulator) calling
//! it end to end on a card install, a balance read and a repeated credit.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Value, json};
use walletport_core::*;
use walletport_passquare::PassquareHooksConfig;
use walletport_passquare::hooks::hooks_router;
use walletport_sandbox::passquare::{
    CrmHookTarget, HookAuth, InstallRequest, PassquareEmulator, PassquareEmulatorConfig,
};

/// A tiny CRM: customers by phone, a ledger with exactly-once credits.
#[derive(Default)]
struct Crm {
    customers: Mutex<BTreeMap<Phone, (CustomerId, Option<HookContext>)>>,
    points: Mutex<BTreeMap<Phone, Decimal>>,
    seen: Mutex<BTreeSet<String>>,
}

#[async_trait]
impl CrmHooks for Crm {
    async fn register_customer(&self, input: RegisterCustomer) -> Result<CustomerId> {
        let mut customers = self.customers.lock().unwrap();
        let n = customers.len() + 1;
        let entry = customers
            .entry(input.customer.phone.clone())
            .or_insert((CustomerId::new(format!("crm-{n}"))?, None));
        entry.1 = Some(input.context);
        Ok(entry.0.clone())
    }
    async fn read_balance(&self, input: ReadBalance) -> Result<Balance> {
        if !self.customers.lock().unwrap().contains_key(&input.phone) {
            return Err(Error::not_found("unknown customer"));
        }
        let points = self
            .points
            .lock()
            .unwrap()
            .get(&input.phone)
            .copied()
            .unwrap_or_default();
        Ok(Balance {
            points,
            ..Balance::default()
        })
    }
    async fn credit_balance(&self, input: CreditHook) -> Result<()> {
        if self
            .seen
            .lock()
            .unwrap()
            .insert(input.credit.transaction_id().to_string())
        {
            *self.points.lock().unwrap().entry(input.phone).or_default() += input.credit.amount();
        }
        Ok(())
    }
}

async fn serve_hooks(
    crm: Arc<Crm>,
    config: PassquareHooksConfig,
) -> (walletport_sandbox::RunningServer, String) {
    let app = axum::Router::new().nest("/hooks/passquare", hooks_router(crm, config));
    let server = walletport_sandbox::serve(app, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("serve");
    let url = format!("{}/hooks/passquare", server.base_url());
    (server, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passquare_installs_read_balance_and_credit_once_end_to_end() {
    let crm = Arc::new(Crm::default());
    for auth in [HookAuth::Body, HookAuth::Basic] {
        let (_hooks, url) =
            serve_hooks(crm.clone(), PassquareHooksConfig::with_crm_key("k-1")).await;
        let (_emu_server, emu) = PassquareEmulator::spawn(
            PassquareEmulatorConfig::unlimited(),
            SocketAddr::from(([127, 0, 0, 1], 0)),
        )
        .await
        .expect("emulator");
        emu.set_crm_hook(Some(CrmHookTarget {
            url,
            crm_key: Some("k-1".into()),
            auth,
            organization_id: Some("org-1".into()),
            program_id: Some("prog-1".into()),
            wallet_id: Some("wal-1".into()),
            ..CrmHookTarget::default()
        }));
        let out = emu
            .install(InstallRequest {
                phone: "+420222000001".into(),
                name: Some("Joe".into()),
                ..InstallRequest::default()
            })
            .await
            .expect("install");
        assert_eq!(out["hook"]["status"], 200, "{out}");
        let id = out["hook"]["response"]["customerId"]
            .as_str()
            .expect("id")
            .to_owned();
        assert_eq!(
            emu.customer("+420222000001").and_then(|c| c.remote_id),
            Some(id)
        );
        let ctx = crm
            .customers
            .lock()
            .unwrap()
            .values()
            .next()
            .and_then(|(_, c)| c.clone());
        assert_eq!(ctx.and_then(|c| c.wallet_id).as_deref(), Some("wal-1"));

        let tx = format!("tx-{auth:?}");
        for _ in 0..2 {
            let hook = emu
                .add_balance_hook("+420222000001", Decimal::new(5000, 2), &tx, Some(86_400))
                .await
                .expect("credit");
            assert_eq!(hook.response, json!({"success": true}));
        }
        let read = emu.read_balance_hook("+420222000001").await.expect("read");
        assert_eq!(read.status, Some(200));
        assert_eq!(read.response["success"], true);
        let unknown = emu.read_balance_hook("+420222000099").await.expect("read");
        assert_eq!(unknown.status, Some(400));
        assert!(unknown.response["error"].is_string());
    }
    let points = crm
        .points
        .lock()
        .unwrap()
        .get(&Phone::parse("+420222000001").unwrap())
        .copied();
    assert_eq!(
        points,
        Some(Decimal::from(100)),
        "two transactions, each credited once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_refuses_what_it_must() {
    let crm = Arc::new(Crm::default());
    let (_s, url) = serve_hooks(crm.clone(), PassquareHooksConfig::with_crm_key("k-1")).await;
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>| http.post(&url).body(body).send();

    let big = format!(
        r#"{{"crm_key": "k-1", "pad": "{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let resp = post(big.into_bytes()).await.expect("send");
    assert_eq!(resp.status().as_u16(), 413);
    let body: Value = resp.json().await.expect("json");
    assert!(body["error"].is_string());

    let resp = post(br#"{"crm_key": "nope", "method": "readBalance"}"#.to_vec())
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 401);
    let resp = post(br#"{"crm_key": "k-1", "method": "eraseAll", "customer": {}}"#.to_vec())
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("eraseAll"))
    );
    let resp = http.get(&url).send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 405);

    // An allow-list without our address refuses; with it, the call goes through.
    let body = br#"{"crm_key": "k-1", "method": "createCustomer", "customer": {"phone": "+420222000005"}}"#;
    for (allowed, status) in [("164.90.200.81", 403), ("127.0.0.1", 200)] {
        let config = PassquareHooksConfig {
            allowed_ips: vec![allowed.parse().unwrap()],
            ..PassquareHooksConfig::with_crm_key("k-1")
        };
        let (_server, url) = serve_hooks(crm.clone(), config).await;
        let resp = http
            .post(&url)
            .body(body.to_vec())
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), status, "allow-list [{allowed}]");
    }
}

/// A refused body is drained before the connection goes, so every sender of an oversized hook
/// reads the 413: without the drain the server's close resets a connection whose client is still
/// writing, and the client sees a reset instead of the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_oversized_sender_reads_the_413() {
    let crm = Arc::new(Crm::default());
    let (_s, url) = serve_hooks(crm, PassquareHooksConfig::with_crm_key("k-1")).await;
    let big = format!(
        r#"{{"crm_key": "k-1", "pad": "{}"}}"#,
        "x".repeat(4 * 1024 * 1024)
    );
    for attempt in 0..40 {
        // A new connection each time, as a vendor's hook client would open.
        let http = reqwest::Client::new();
        let resp = http.post(&url).body(big.clone()).send().await;
        let status = resp.map(|r| r.status().as_u16());
        assert!(matches!(status, Ok(413)), "attempt {attempt}: {status:?}");
    }
}
