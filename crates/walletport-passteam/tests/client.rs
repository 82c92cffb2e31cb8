//! The provider against the emulator over HTTP (request counts, token, validation, rate limit)
//! and against the StubTransport (the 409 race of the upsert).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::TryStreamExt;
use walletport_core::*;
use walletport_http::{HttpResponse, HttpTransport, Sleeper, StubTransport};
use walletport_passteam::{FieldMap, PassteamConfig, PassteamProvider, transport_config};
use walletport_sandbox::common::QuotaWindow;
use walletport_sandbox::passteam::{PassteamEmulator, PassteamEmulatorConfig, TemplateSpec};

const TEMPLATE: &str = "5e424c181dbf0d537c8b4569";

fn config(base_url: String) -> PassteamConfig {
    let mut c = PassteamConfig::with_token("sandbox-token");
    c.base_url = base_url;
    c.template_id = Some(TEMPLATE.parse().unwrap_or_else(|e| panic!("{e}")));
    c.fields = FieldMap {
        surname: Some("SURNAME".into()),
        bonus: Some("PERCENT".into()),
        ..FieldMap::documented()
    };
    c
}

async fn emulator(
    config: PassteamEmulatorConfig,
) -> (walletport_sandbox::RunningServer, PassteamEmulator) {
    PassteamEmulator::spawn(
        config,
        "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

fn phone(n: u32) -> Phone {
    Phone::parse(&format!("+7999{n:07}")).unwrap_or_else(|e| panic!("{e}"))
}

fn methods(emu: &PassteamEmulator) -> Vec<String> {
    emu.requests().into_iter().map(|r| r.method).collect()
}

#[tokio::test]
async fn upsert_request_counts_for_new_and_existing_customers() {
    let (server, emu) = emulator(PassteamEmulatorConfig::default()).await;
    let p = PassteamProvider::new(config(server.base_url())).unwrap_or_else(|e| panic!("{e}"));
    let upsert = |c: Customer| p.upsert_customer(UpsertCustomer::new(c));

    let joe = Customer {
        name: Some("Joe".into()),
        ..Customer::new(phone(1))
    };
    let r = upsert(joe.clone()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.customer.name.as_deref(), Some("Joe"));
    assert_eq!(
        methods(&emu),
        ["gettemplate", "getcard", "getcard", "createcard"],
        "first call also reads the template once; a miss looks for `+7…` and `7…`"
    );

    emu.clear_requests();
    upsert(Customer::new(phone(2)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        methods(&emu),
        ["getcard", "getcard", "createcard"],
        "new customer: 3 requests with phone_lookup = both"
    );

    emu.clear_requests();
    let renamed = Customer {
        name: Some("Joseph".into()),
        ..joe.clone()
    };
    let r = upsert(renamed).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.customer.name.as_deref(), Some("Joseph"));
    assert_eq!(
        methods(&emu),
        ["getcard", "updatecard"],
        "existing customer with a change: 2 requests"
    );

    emu.clear_requests();
    let again = Customer {
        name: Some("Joseph".into()),
        ..joe
    };
    upsert(again).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        methods(&emu),
        ["getcard"],
        "existing customer, nothing to change: 1 request"
    );
    assert_eq!(emu.card_count(), 2, "idempotent: no duplicate cards");
}

#[tokio::test]
async fn listing_a_thousand_customers_takes_twenty_requests() {
    let (server, emu) = emulator(PassteamEmulatorConfig::default()).await;
    let mut c = config(server.base_url());
    c.validate_values = false;
    let p = PassteamProvider::new(c).unwrap_or_else(|e| panic!("{e}"));
    let t = HttpTransport::new(transport_config(p.config()).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    for n in 0..1000 {
        let req = walletport_passteam::mapping::ops::build_createcard_request(
            &TEMPLATE.parse().unwrap_or_else(|e| panic!("{e}")),
            &{
                let mut v = walletport_passteam::mapping::card::Variables::new();
                v.set("PHONE", phone(n).as_str())
                    .unwrap_or_else(|e| panic!("{e}"));
                v
            },
            "card.issue",
            false,
            p.config(),
        );
        walletport_http::Transport::execute(&t, req)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    emu.clear_requests();
    let all: Vec<CustomerRecord> =
        walletport_core::ext::all_customers(&p, ListCustomers::default())
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), 1000);
    assert_eq!(emu.request_count(), 20, "perPage 50: 1000 / 50 requests");
    emu.clear_requests();
    let page = p
        .list_customers(ListCustomers::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (page.items.len(), page.total, page.next.map(|c| c.0)),
        (50, Some(1000), Some("2".into()))
    );
    assert_eq!(
        emu.request_count(),
        1,
        "one CLI `customer list` page: 1 request"
    );
    let cards: Vec<_> = p
        .all_cards(None)
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cards.len(), 1000);
}

#[tokio::test]
async fn a_fetched_token_is_requested_once_by_concurrent_callers() {
    let (server, emu) = emulator(PassteamEmulatorConfig::default()).await;
    let mut c = config(server.base_url());
    c.token = None;
    c.login = Some("sandbox".into());
    c.password = Some("sandbox".to_owned().into());
    let p = Arc::new(PassteamProvider::new(c).unwrap_or_else(|e| panic!("{e}")));
    let calls = (0..8).map(|_| {
        let p = p.clone();
        tokio::spawn(async move { p.list_templates(ListTemplates::default()).await })
    });
    for call in calls {
        let page = call
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.items.len(), 1);
    }
    let tokens = methods(&emu).iter().filter(|m| *m == "getatoken").count();
    assert_eq!(tokens, 1, "single flight: {:?}", methods(&emu));

    let mut bad = config(server.base_url());
    bad.token = Some("wrong".to_owned().into());
    let p = PassteamProvider::new(bad).unwrap_or_else(|e| panic!("{e}"));
    let e = p
        .list_templates(ListTemplates::default())
        .await
        .err()
        .map(|e| e.kind());
    assert_eq!(e, Some(ErrorKind::Unauthenticated));
}

#[tokio::test]
async fn values_are_checked_against_the_template_before_sending() {
    let (server, emu) = emulator(PassteamEmulatorConfig::default()).await;
    let p = PassteamProvider::new(config(server.base_url())).unwrap_or_else(|e| panic!("{e}"));
    let mut c = Customer::new(phone(5));
    c.extra.insert("TIER".into(), "bronze".into());
    let e = p
        .upsert_customer(UpsertCustomer::new(c.clone()))
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("`TIER`"), "{e}");
    c.extra.insert("TIER".into(), "gold".into());
    c.extra.insert("NOSUCH".into(), "x".into());
    let e = p
        .upsert_customer(UpsertCustomer::new(c))
        .await
        .err()
        .map(|e| e.message().to_owned());
    assert!(e.is_some_and(|m| m.contains("NOSUCH")));
    assert!(
        !methods(&emu).iter().any(|m| m == "createcard"),
        "nothing sent: {:?}",
        methods(&emu)
    );
    assert_eq!(emu.card_count(), 0);
}

#[derive(Debug, Default)]
struct RecordingSleeper(Mutex<Vec<Duration>>);

#[async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, duration: Duration) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(duration);
    }
}

async fn rate_limited(http_status: u16) -> (Error, Vec<Duration>, u64) {
    let quota = vec![QuotaWindow {
        limit: 2,
        per: Duration::from_secs(3600),
    }];
    let emu_config = PassteamEmulatorConfig {
        quota,
        rate_limit_http_status: http_status,
        ..Default::default()
    };
    let (server, emu) = emulator(emu_config).await;
    let mut c = config(server.base_url());
    c.quota = walletport_http::QuotaPlan::unlimited();
    let sleeper = Arc::new(RecordingSleeper::default());
    let t = HttpTransport::new(
        transport_config(&c)
            .unwrap_or_else(|e| panic!("{e}"))
            .with_sleeper(sleeper.clone()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let p = PassteamProvider::with_transport(c, Arc::new(t)).unwrap_or_else(|e| panic!("{e}"));
    let e = third_read_over_quota(&p).await;
    let waits = sleeper.0.lock().map(|w| w.clone()).unwrap_or_default();
    (e, waits, emu.quota_rejections())
}

/// Reads the template three times on a plan of two: the first two succeed, the third's error
/// is returned.
async fn third_read_over_quota(p: &PassteamProvider) -> walletport_core::Error {
    let get = || {
        p.get_template(GetTemplate {
            id: TEMPLATE.parse().unwrap_or_else(|e| panic!("{e}")),
        })
    };
    get().await.unwrap_or_else(|e| panic!("{e}"));
    get().await.unwrap_or_else(|e| panic!("{e}"));
    get().await.err().unwrap_or_else(|| panic!("over quota"))
}

#[tokio::test]
async fn the_rate_limit_message_is_retried_after_a_wait_then_reported() {
    // HTTP 200 + the message: only Passteam's detector can tell; it asks for a minute's wait.
    let (e, waits, rejected) = rate_limited(200).await;
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    assert_eq!(e.retry(), Retry::Persistent, "retried, then gave up: {e}");
    assert_eq!(
        waits,
        vec![Duration::from_secs(60); 3],
        "waited before each retry"
    );
    assert_eq!(rejected, 4);
    // HTTP 429 + the message: the transport's own 429 handling (backoff) retries it.
    let (e, waits, rejected) = rate_limited(429).await;
    assert_eq!(
        (e.kind(), e.retry()),
        (ErrorKind::RateLimited, Retry::Persistent),
        "{e}"
    );
    assert_eq!((waits.len(), rejected), (3, 4));
}

#[tokio::test]
async fn the_plan_named_by_the_rate_limit_lowers_the_hourly_window() {
    for http_status in [429, 200] {
        let (server, _emu) = emulator(PassteamEmulatorConfig {
            quota: vec![QuotaWindow {
                limit: 2,
                per: Duration::from_secs(3600),
            }],
            rate_limit_http_status: http_status,
            ..Default::default()
        })
        .await;
        let mut c = config(server.base_url());
        c.max_retries = 0;
        let p = PassteamProvider::new(c).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.hourly_limit(), Some(3000), "the conservative default");
        let e = third_read_over_quota(&p).await;
        assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
        assert_eq!(
            p.hourly_limit(),
            Some(2),
            "HTTP {http_status}: the account's plan"
        );
    }
}

fn envelope(result: serde_json::Value) -> HttpResponse {
    HttpResponse::json_body(
        200,
        &serde_json::json!({ "result": result, "message": "OK", "code": 200, "error": false }),
    )
}

fn wire_card(id: &str, phone: &str) -> serde_json::Value {
    serde_json::json!({ "cardId": id, "cardCode": "000000018", "values": { "%PHONE%": phone }, "templateId": TEMPLATE })
}

#[tokio::test]
async fn a_409_on_create_fetches_and_updates_the_concurrent_card() {
    let stub = StubTransport::new();
    let p = {
        let mut c = config("http://passteam.invalid".into());
        c.validate_values = false;
        PassteamProvider::with_transport(c, Arc::new(stub.clone()))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let id = "5e451571cea6c6141807b792";
    let missing = || {
        HttpResponse::json_body(
            404,
            &serde_json::json!({"result": null, "message": "Card not found.", "code": 404, "error": true}),
        )
    };
    stub.push_response(missing());
    stub.push_response(missing());
    stub.push_response(HttpResponse::json_body(409, &serde_json::json!({"result": null, "code": 409, "error": true,
        "message": format!("Provided value (+79990000009) of field (%PHONE%) is duplicated. Duplicated cards: {id}")})));
    stub.push_response(envelope(wire_card(id, "+79990000009")));
    let mut updated = wire_card(id, "+79990000009");
    updated["values"]["%CLIENT_NAME%"] = "Ann".into();
    stub.push_response(envelope(
        serde_json::json!({ "messages": [], "updated": true, "card": updated }),
    ));
    let c = Customer {
        name: Some("Ann".into()),
        ..Customer::new(phone(9))
    };
    let r = p
        .upsert_customer(UpsertCustomer::new(c))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.customer.name.as_deref(), Some("Ann"));
    let reqs = stub.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/oapi/v1/getcard",
            "/oapi/v1/getcard",
            "/oapi/v1/createcard",
            "/oapi/v1/getcard",
            "/oapi/v1/updatecard"
        ]
    );
    let after_409 = String::from_utf8_lossy(&reqs[3].body).into_owned();
    assert!(
        after_409.contains(id) && !after_409.contains("values["),
        "the card named by the 409 is read by id: {after_409}"
    );
    assert!(
        reqs.iter().all(|r| r.idempotent),
        "every step of the upsert may be retried"
    );
    assert!(reqs.iter().all(|r| {
        r.headers
            .get("authorization")
            .is_some_and(|v| v.is_sensitive())
    }));
}

#[tokio::test]
async fn campaigns_travel_in_their_id_and_send_one_push() {
    let (server, emu) = emulator(PassteamEmulatorConfig::default()).await;
    let p = PassteamProvider::new(config(server.base_url())).unwrap_or_else(|e| panic!("{e}"));
    let campaign = Campaign {
        message: "Скидка 20% в выходные".into(),
        channel: Channel::Wallet,
        name: None,
        segment: None,
    };
    let created = p
        .create_campaign(CreateCampaign { campaign })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(emu.request_count(), 0, "creating sends nothing");
    let sent = p
        .send_campaign(SendCampaign { id: created.id })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(sent.sent_at.is_some());
    let pushes = emu.pushes();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].message, "Скидка 20% в выходные");
    let e = PushCampaignPort::push(
        &p,
        SendPush {
            customer: phone(1).into(),
            message: PushMessage::new("hi", Channel::Wallet).unwrap_or_else(|e| panic!("{e}")),
        },
    )
    .await;
    assert_eq!(e.err().map(|e| e.kind()), Some(ErrorKind::Unsupported));
    let e = p
        .credit(CreditBalance {
            customer: phone(1).into(),
            credit: Credit::new(
                Decimal::ONE,
                TransactionId::new("t").unwrap_or_else(|e| panic!("{e}")),
                None,
            )
            .unwrap_or_else(|e| panic!("{e}")),
        })
        .await;
    assert_eq!(
        e.err().map(|e| e.kind()),
        Some(ErrorKind::Unsupported),
        "no atomic credit at Passteam"
    );
}

#[tokio::test]
async fn distribute_sales_and_products() {
    let (server, emu) = emulator(PassteamEmulatorConfig::default()).await;
    let mut c = config(server.base_url());
    c.company_id = Some("sandbox-company".into());
    let p = PassteamProvider::new(c).unwrap_or_else(|e| panic!("{e}"));
    let r = p
        .upsert_customer(UpsertCustomer::new(Customer {
            email: Some("a@b.cz".into()),
            ..Customer::new(phone(3))
        }))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let id = r.cards[0].id.clone().unwrap_or_else(|| panic!("card id"));
    p.distribute(&id, walletport_passteam::DistributeChannel::Email)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    p.send_install_link(SendInstallLink {
        card: CardKey::Phone(phone(3)),
        delivery: LinkDelivery::Sms {
            phone: None,
            text: None,
        },
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let log = emu.distributed();
    assert_eq!(
        log.iter()
            .map(|d| (d.channel.as_str(), d.to.as_str()))
            .collect::<Vec<_>>(),
        [("email", "a@b.cz"), ("sms", phone(3).as_str())]
    );
    let u = p
        .check_variable_value(None, "%PHONE%", phone(3).as_str())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!u.unique && u.card_ids == vec![id.clone()]);

    let commerce = p.commerce();
    let product = commerce
        .create_product("Кофе", Decimal::new(25050, 2))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pid = product.id.clone().unwrap_or_default();
    assert_eq!(product.price, Some(Decimal::new(25050, 2)));
    let product = commerce
        .update_product(&pid, "Кофе большой", Decimal::new(300, 0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(product.name.as_deref(), Some("Кофе большой"));
    assert_eq!(
        commerce
            .list_products(1, 10)
            .await
            .map(|p| p.items.len())
            .ok(),
        Some(1)
    );
    commerce
        .delete_product(&pid)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        commerce.delete_product(&pid).await.err().map(|e| e.kind()),
        Some(ErrorKind::NotFound)
    );

    let sale_id = emu.insert_sale(serde_json::json!({ "title": "Order 1", "paymentType": "CASH", "paymentStatus": "DRAFT", "totalPrice": 100, "cardId": id.as_str() }));
    let mut sale = commerce
        .get_sale(&sale_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sale.total_price, Some(Decimal::ONE_HUNDRED));
    sale.payment_status = Some(walletport_passteam::commerce::PaymentStatus::Paid);
    sale.products = vec![walletport_passteam::commerce::SaleItem {
        id: Some(pid.clone()),
        name: Some("Кофе".into()),
        quantity: Decimal::TWO,
        price: Decimal::new(50, 0),
    }];
    let sale = commerce
        .update_sale(&sale)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sale.payment_status,
        Some(walletport_passteam::commerce::PaymentStatus::Paid)
    );
    assert_eq!(sale.products.len(), 1);
    commerce
        .delete_sale(&sale_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        commerce.get_sale(&sale_id).await.err().map(|e| e.kind()),
        Some(ErrorKind::NotFound)
    );
}

#[tokio::test]
async fn templates_are_listed_a_page_at_a_time_so_a_call_costs_at_most_one_page_of_lookups() {
    let mut account = PassteamEmulatorConfig::default();
    let sandbox = account.templates[0].clone();
    account.templates.extend((0..120).map(|n| TemplateSpec {
        id: format!("{n:024x}"),
        title: format!("Club {n}"),
        ..sandbox.clone()
    }));
    let (server, emu) = emulator(account).await;
    let p = PassteamProvider::new(config(server.base_url())).unwrap_or_else(|e| panic!("{e}"));
    let mut named = Vec::new();
    let mut cursor = None;
    loop {
        emu.clear_requests();
        let page = p
            .templates()
            .list_templates(ListTemplates {
                cursor: cursor.take(),
                page_size: None,
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(page.items.len() <= 50, "{}", page.items.len());
        assert!(emu.request_count() <= 51, "{:?}", methods(&emu));
        assert_eq!(page.total, Some(121));
        named.extend(page.items.into_iter().map(|t| t.name));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(named.len(), 121, "every template once");
    assert!(named.contains(&"Club 119".to_owned()), "{named:?}");
    let bad = p
        .templates()
        .list_templates(ListTemplates {
            cursor: Some(PageCursor("x".into())),
            page_size: None,
        })
        .await
        .err()
        .map(|e| e.kind());
    assert_eq!(bad, Some(ErrorKind::InvalidInput));
}
