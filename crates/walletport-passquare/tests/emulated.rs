//! The adapter over real HTTP against the emulator: what the conformance suite cannot express
//! for Passquare (referrals via install, links only from 2.2, write-only variables), the
//! push-isolation rule, quotas, and the 1,000-customer listing measurement.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use walletport_core::*;
use walletport_passquare::{NumberMode, PassquareConfig, PassquareProvider, Plan};
use walletport_sandbox::QuotaWindow;
use walletport_sandbox::RunningServer;
use walletport_sandbox::passquare::{
    InstallRequest, Numbers, PassquareEmulator, PassquareEmulatorConfig, PushKind,
};

fn localhost() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn setup(
    emu_config: PassquareEmulatorConfig,
    plan: &str,
    tweak: impl FnOnce(&mut PassquareConfig),
) -> (RunningServer, PassquareEmulator, Arc<dyn Provider>) {
    let key = emu_config.app_key.clone();
    let (server, emu) = PassquareEmulator::spawn(emu_config, localhost())
        .await
        .expect("emulator");
    let mut config = PassquareConfig::new(key);
    config.base_url = server.base_url();
    config.plan = Plan::Custom(walletport_http::QuotaPlan::parse(plan).expect("plan"));
    tweak(&mut config);
    let provider = Checked::wrap(Arc::new(PassquareProvider::new(config).expect("provider")));
    (server, emu, provider)
}

fn phone(s: &str) -> Phone {
    Phone::parse(s).expect("phone")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referral_via_install_reads_back_both_ways() {
    let (_s, emu, p) = setup(PassquareEmulatorConfig::unlimited(), "1000/s", |_| {}).await;
    let inviter = phone("+420111000001");
    p.customers()
        .upsert_customer(UpsertCustomer::new(Customer::new(inviter.clone())))
        .await
        .expect("inviter");
    emu.install(InstallRequest {
        phone: "+420111000002".into(),
        name: Some("Ann".into()),
        refer_phone: Some(inviter.to_string()),
        ..InstallRequest::default()
    })
    .await
    .expect("install");
    let invitee = p
        .customer_by_phone(&phone("+420111000002"))
        .await
        .expect("invitee");
    assert_eq!(invitee.customer.name.as_deref(), Some("Ann"));
    let refs = invitee.referrals.expect("referrals");
    assert_eq!(refs.invited_by, Some(inviter.clone()));
    assert!(invitee.cards[0].installed.any(), "installed by the install");
    let got = p.customer_by_phone(&inviter).await.expect("inviter");
    assert_eq!(
        got.referrals.map(|r| r.invites),
        Some(vec![phone("+420111000002")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cards_issue_with_links_read_by_number_and_variables_are_write_only() {
    // Lookups by card number exist in the examples version only.
    let mut emu_config = PassquareEmulatorConfig::unlimited();
    emu_config.first_card_number = 5000;
    emu_config.numbers = Numbers::Number;
    let (_s, emu, p) = setup(emu_config, "1000/s", |c| {
        c.form_link = Some("https://form.example.invalid/f".into());
        c.numbers = NumberMode::Number;
    })
    .await;
    let holder = phone("+420111000010");
    let card = p
        .cards()
        .issue_card(IssueCard::new(Customer::new(holder.clone())))
        .await
        .expect("issue");
    assert_eq!(
        card.number.as_deref(),
        Some("5000"),
        "from the configured start"
    );
    assert!(card.links.apple.is_some() && card.links.google.is_some());
    for key in [
        CardKey::Number("5000".into()),
        CardKey::Phone(holder.clone()),
    ] {
        let got = p
            .cards()
            .get_card(GetCard { card: key })
            .await
            .expect("get");
        assert_eq!(got.number, card.number);
        assert!(!got.installed.any());
    }
    let updated = p
        .cards()
        .update_card(UpdateCard {
            card: CardKey::Number("5000".into()),
            fields: Fields::from([("level".to_owned(), "gold".to_owned())]),
            balance: BalanceUpdate::default(),
            notification: Some("Welcome to gold".into()),
        })
        .await
        .expect("update");
    assert_eq!(
        updated.fields.get("level").map(String::as_str),
        Some("gold")
    );
    let stored = emu.customer("+420111000010").expect("stored");
    assert_eq!(
        stored.variables.get("level"),
        Some(&serde_json::json!("gold"))
    );
    // The push went alone, so the customer got the text, not "card modified".
    let pushes = emu.push_log();
    assert!(
        pushes.iter().all(|p| p.kind != PushKind::CardModified),
        "{pushes:?}"
    );
    assert!(
        pushes
            .iter()
            .any(|p| p.kind == PushKind::Personal && p.text == "Welcome to gold")
    );
    let push_requests: Vec<_> = emu
        .request_log()
        .into_iter()
        .filter(|r| r.body.get("push").is_some())
        .collect();
    assert_eq!(push_requests.len(), 1);
    assert_eq!(
        push_requests[0].body.as_object().map(|m| m.len()),
        Some(2),
        "phone + push only"
    );

    p.cards()
        .send_install_link(SendInstallLink {
            card: CardKey::Phone(holder),
            delivery: LinkDelivery::Sms {
                phone: None,
                text: Some("Get it: %link%".into()),
            },
        })
        .await
        .expect("sms");
    let sms = emu.sms_log();
    assert!(
        sms[0]
            .text
            .starts_with("Get it: https://form.example.invalid/f/?hash="),
        "{sms:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn number_mode_talks_to_a_number_mode_account() {
    let mut emu_config = PassquareEmulatorConfig::unlimited();
    emu_config.numbers = Numbers::Number;
    let (_s, emu, p) = setup(emu_config, "1000/s", |c| c.numbers = NumberMode::Number).await;
    let who = phone("+420111000020");
    let mut input = UpsertCustomer::new(Customer::new(who.clone()));
    input.balance.points = Some(Decimal::new(1050, 2));
    p.customers().upsert_customer(input).await.expect("upsert");
    assert!(emu.request_log()[0].body["balance"].is_number());
    assert_eq!(
        p.balance_of(&who).await.expect("balance").points,
        Decimal::new(105, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_the_plan_gets_rate_limited_and_one_with_it_does_not() {
    let mut emu_config = PassquareEmulatorConfig::unlimited();
    emu_config.quota = vec![QuotaWindow {
        limit: 3,
        per: Duration::from_secs(1),
    }];
    // No client-side quota and no retries: the vendor's 429 surfaces as RateLimited.
    let (_s, emu, p) = setup(emu_config.clone(), "", |c| c.max_attempts = 1).await;
    let mut errors = Vec::new();
    for _ in 0..5 {
        if let Err(e) = p.status().await {
            errors.push(e.kind());
        }
    }
    assert!(errors.contains(&ErrorKind::RateLimited), "{errors:?}");
    assert!(emu.quota_rejections() > 0);

    // The same account with the plan configured (a little slack for network jitter): no 429.
    let (_s, emu, p) = setup(emu_config, "3/1100ms", |c| c.max_attempts = 1).await;
    for _ in 0..5 {
        p.status().await.expect("within the plan");
    }
    assert_eq!(emu.quota_rejections(), 0);
}

/// Lists 1,000 emulated customers through the paging stream and reports requests and time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_1000_customers_measured() {
    let (_s, emu, p) = setup(PassquareEmulatorConfig::unlimited(), "1000/s", |_| {}).await;
    emu.seed_customers("+420700000000", 1000, 3).expect("seed");
    let before = emu.request_count();
    let started = Instant::now();
    let all: Vec<CustomerRecord> =
        walletport_core::ext::all_customers(p.as_ref(), ListCustomers::default())
            .map(|r| r.expect("page"))
            .collect()
            .await;
    let elapsed = started.elapsed();
    let requests = emu.request_count() - before;
    let unique: std::collections::BTreeSet<_> =
        all.iter().map(|r| r.customer.phone.clone()).collect();
    assert_eq!(unique.len(), 1000, "every customer exactly once");
    assert_eq!(
        requests, 11,
        "10 full pages of 100 and the empty page that ends the walk"
    );
    eprintln!(
        "passquare customer list: 1000 customers, {requests} requests, {elapsed:?} wall \
         (unthrottled emulator); under the base plan (1/s, 60/h) the 11 requests need ≥10 s"
    );
    let installed = walletport_core::ext::all_customers(
        p.as_ref(),
        ListCustomers {
            installed: Some(true),
            ..ListCustomers::default()
        },
    )
    .count()
    .await;
    assert_eq!(installed, 333);
}

/// The same walk under the default base plan, on tokio's paused clock: the limiter alone decides
/// how long 11 requests take (1 per second; 60 per hour is not reached).
#[tokio::test(start_paused = true)]
async fn listing_1000_customers_under_the_base_plan_takes_ten_seconds() {
    let limiter = walletport_http::QuotaLimiter::new(Plan::Base.quota());
    let started = tokio::time::Instant::now();
    for _ in 0..11 {
        limiter.acquire().await;
    }
    let elapsed = started.elapsed();
    assert_eq!(elapsed, Duration::from_secs(10), "{elapsed:?}");
    // Past 60 requests in the hour, the 61st waits for the first to leave the window.
    for _ in 11..60 {
        limiter.acquire().await;
    }
    let before = tokio::time::Instant::now();
    limiter.acquire().await;
    assert_eq!(
        started + Duration::from_secs(3600),
        tokio::time::Instant::now()
    );
    assert!(before.elapsed() > Duration::from_secs(3000));
}

/// The start-up check of a provider on `config`, which must fail (`why`).
async fn check_fails(config: PassquareConfig, why: &str) -> walletport_core::Error {
    let provider = PassquareProvider::new(config).expect("provider");
    provider.check().await.expect_err(why)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_check_is_one_status_call_and_names_the_key_to_fix() {
    let (server, emu, p) = setup(PassquareEmulatorConfig::unlimited(), "1000/s", |_| {}).await;
    let found = p.check().await.expect("a good key passes");
    assert_eq!(found.account.as_deref(), Some("walletport-sandbox"));
    assert_eq!(found.requests, 1);
    assert_eq!(emu.request_count(), 1, "{:?}", emu.request_log());
    assert_eq!(p.balance_fields(), BalanceFields::ALL);

    let mut wrong = PassquareConfig::new("not-the-key-4711");
    wrong.base_url = server.base_url();
    let e = check_fails(wrong, "a refused key is a configuration error").await;
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert!(e.message().contains("[provider] app_key"), "{e}");
    assert!(!format!("{e} {e:?}").contains("not-the-key-4711"), "{e:?}");

    let mut misplaced = PassquareConfig::new("sandbox-app-key");
    misplaced.base_url = format!("{}/api/v2", server.base_url());
    let e = check_fails(misplaced, "no status method there").await;
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
    assert!(e.message().contains("[provider] base_url"), "{e}");

    let mut gone = PassquareConfig::new("sandbox-app-key");
    gone.base_url = "http://127.0.0.1:9".into();
    gone.max_attempts = 1;
    let e = check_fails(gone, "nobody listens").await;
    assert_eq!(e.kind(), ErrorKind::VendorUnavailable, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_lookup_follows_the_document_version() {
    // 2.7.5, the default on both sides: `read_customer` knows only the phone.
    let (_s, emu, p) = setup(PassquareEmulatorConfig::unlimited(), "1000/s", |_| {}).await;
    assert!(!p.capability().customer_get_by_card);
    let e = p
        .customers()
        .get_customer(GetCustomer::new(CustomerKey::Card(
            CardId::new("120").expect("id"),
        )))
        .await
        .expect_err("2.7.5 has no lookup by card");
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert_eq!(
        emu.request_count(),
        0,
        "nothing sent: {:?}",
        emu.request_log()
    );

    // Explicitly on for a 2.7.5-numbers account, and by default in the examples version.
    for (numbers, mode, explicit) in [
        (Numbers::Number, NumberMode::Number, None),
        (Numbers::Number, NumberMode::String, Some(true)),
    ] {
        let emu_config = PassquareEmulatorConfig {
            numbers,
            ..PassquareEmulatorConfig::unlimited()
        };
        let (_s, emu, p) = setup(emu_config, "1000/s", |c| {
            c.numbers = mode;
            c.card_lookup = explicit;
        })
        .await;
        assert!(p.capability().customer_get_by_card);
        let who = phone("+420111000077");
        let record = p
            .customers()
            .upsert_customer(UpsertCustomer::new(Customer::new(who.clone())))
            .await
            .expect("upsert");
        let number = record.cards[0].number.clone().expect("card number");
        let got = p
            .customers()
            .get_customer(GetCustomer::new(CustomerKey::Card(
                CardId::new(number.clone()).expect("id"),
            )))
            .await
            .expect("by card");
        assert_eq!(got.customer.phone, who);
        let sent = emu.request_log();
        let last = sent.last().expect("logged");
        assert_eq!(last.path, "/api/v2/crm/read_customer");
        assert_eq!(last.body["card"], number.as_str());
        assert!(last.body.get("phone").is_none(), "{:?}", last.body);
    }
}
