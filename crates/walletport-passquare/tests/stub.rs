//! The provider over a `StubTransport`: request shapes, idempotency marks and error mapping.

use std::sync::Arc;

use serde_json::{Value, json};
use walletport_core::*;
use walletport_http::{HttpResponse, StubTransport};
use walletport_passquare::{PassquareConfig, PassquareProvider};

fn provider(stub: &StubTransport) -> PassquareProvider {
    let mut config = PassquareConfig::new("key-1");
    config.form_link = Some("https://form.example.invalid/f".into());
    PassquareProvider::with_transport(config, Arc::new(stub.clone())).expect("provider")
}

fn phone() -> Phone {
    Phone::parse("+420000000001").expect("phone")
}

fn customer_answer() -> Value {
    json!({"customer": {"phone": "+420000000001", "cardNumbers": ["120"], "balance": "7", "bonus": "1", "discount": "2"}})
}

fn sent(stub: &StubTransport, i: usize) -> Value {
    stub.requests()[i].body_json().expect("json body")
}

#[tokio::test]
async fn errors_keep_the_vendor_answer_and_name_provider_and_operation() {
    let stub = StubTransport::new();
    stub.push_response(HttpResponse::new(
        401,
        r#"{"success": false, "error": "Invalid app_key"}"#,
    ));
    stub.push_json(
        200,
        &json!({"success": false, "error": "Customer not found"}),
    );
    stub.push_response(HttpResponse::new(200, "<html>maintenance</html>"));
    stub.push_response(HttpResponse::new(503, "busy"));
    let p = Checked::wrap(Arc::new(provider(&stub)));

    let e = p.status().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert_eq!(e.provider(), Some("passquare"));
    assert_eq!(e.operation(), Some("status"));
    assert_eq!(e.vendor().and_then(|v| v.status), Some(401));
    assert!(!e.to_string().contains("key-1"), "the key never shows: {e}");

    let e = p.customer_by_phone(&phone()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = p.customer_by_phone(&phone()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unexpected);
    assert!(
        e.vendor()
            .and_then(|v| v.message.clone())
            .is_some_and(|m| m.contains("maintenance"))
    );
    let e = p.customer_by_phone(&phone()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::VendorUnavailable);
    assert!(e.is_temporary());
}

#[tokio::test]
async fn reads_are_idempotent_pushes_and_campaigns_are_not() {
    let stub = StubTransport::new();
    stub.push_json(200, &customer_answer());
    stub.push_json(200, &json!({"success": true}));
    stub.push_json(
        200,
        &json!({"result": {"uuid": "u-1", "name": "Push#0001", "message": "Sale"}}),
    );
    stub.push_json(200, &json!({"success": true}));
    let p: Arc<dyn Provider> = Arc::new(provider(&stub));
    let balance = p.balance_of(&phone()).await.expect("balance");
    assert_eq!(balance.points, Decimal::from(7));
    p.push()
        .push(SendPush {
            customer: phone().into(),
            message: PushMessage::new("Hi", Channel::Telegram).expect("message"),
        })
        .await
        .expect("push");
    let created = p
        .push()
        .create_campaign(CreateCampaign {
            campaign: Campaign {
                message: "Sale".into(),
                channel: Channel::Webpush,
                name: None,
                segment: None,
            },
        })
        .await
        .expect("create");
    let sent_campaign = p
        .push()
        .send_campaign(SendCampaign {
            id: created.id.clone(),
        })
        .await
        .expect("send");
    assert_eq!(
        sent_campaign.campaign.message, "Sale",
        "remembered from create"
    );
    assert_eq!(sent_campaign.campaign.channel, Channel::Webpush);
    assert!(sent_campaign.sent_at.is_some());
    let reqs = stub.requests();
    let marks: Vec<_> = reqs.iter().map(|r| (r.operation, r.idempotent)).collect();
    assert_eq!(
        marks,
        vec![
            ("customer.get", true),
            ("push.send", false),
            ("campaign.create", false),
            ("campaign.send", false),
        ]
    );
    assert_eq!(
        sent(&stub, 1),
        json!({"app_key": "key-1", "phone": "+420000000001", "send_telegram": "Hi"})
    );
    assert_eq!(sent(&stub, 2)["type"], "webpush");
    assert!(reqs.iter().all(|r| {
        r.headers
            .get("content-type")
            .is_some_and(|v| v == "application/json")
    }));
}

#[tokio::test]
async fn a_card_update_with_a_notice_pushes_in_a_separate_request() {
    let stub = StubTransport::new();
    stub.push_json(200, &customer_answer());
    stub.push_json(200, &json!({"success": true, "card_number": "120"}));
    stub.push_json(200, &json!({"success": true}));
    let mut config = PassquareConfig::new("key-1");
    config.card_lookup = Some(true); // the card number is resolved by a lookup
    let p = PassquareProvider::with_transport(config, Arc::new(stub.clone())).expect("provider");
    let card = p
        .cards()
        .update_card(UpdateCard {
            card: CardKey::Number("120".into()),
            fields: Fields::from([("level".to_owned(), "gold".to_owned())]),
            balance: BalanceUpdate::default(),
            notification: Some("You are gold now".into()),
        })
        .await
        .expect("update");
    assert_eq!(card.fields.get("level").map(String::as_str), Some("gold"));
    assert_eq!(sent(&stub, 0)["card"], "120", "phone found by card number");
    assert_eq!(
        sent(&stub, 1),
        json!({"app_key": "key-1", "phone": "+420000000001", "level": "gold"})
    );
    assert_eq!(
        sent(&stub, 2),
        json!({"app_key": "key-1", "phone": "+420000000001", "push": "You are gold now"})
    );
}

#[tokio::test]
async fn partial_balance_set_reads_back_and_listing_pages_by_offset() {
    let stub = StubTransport::new();
    stub.push_json(200, &json!({"success": true}));
    stub.push_json(200, &customer_answer());
    let phones: Vec<String> = (0..100).map(|i| format!("+4207000{i:05}")).collect();
    stub.push_json(200, &json!({"customers": phones}));
    let p = provider(&stub);
    let b = p
        .balances()
        .set_balance(SetBalance {
            customer: phone().into(),
            update: BalanceUpdate {
                bonus_percent: Some(Percent::new(Decimal::ONE).expect("pct")),
                ..BalanceUpdate::default()
            },
        })
        .await
        .expect("set");
    assert_eq!(b.points, Decimal::from(7), "read back after a partial set");
    assert_eq!(
        sent(&stub, 0),
        json!({"app_key": "key-1", "phone": "+420000000001", "bonus": "1"})
    );

    let page = p
        .customers()
        .list_customers(ListCustomers {
            cursor: Some(PageCursor("200".into())),
            page_size: Some(30),
            ..ListCustomers::default()
        })
        .await
        .expect("list");
    assert_eq!(page.items.len(), 30);
    assert_eq!(page.next, Some(PageCursor("230".into())));
    assert_eq!(sent(&stub, 2)["offset"], 200);
    let e = p
        .customers()
        .list_customers(ListCustomers {
            cursor: Some(PageCursor("abc".into())),
            ..ListCustomers::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(stub.request_count(), 3, "a bad cursor sends nothing");
}

#[tokio::test]
async fn what_passquare_lacks_is_unsupported() {
    let stub = StubTransport::new();
    let p = Checked::wrap(Arc::new(provider(&stub)));
    let cap = p.capability();
    assert!(
        !cap.template_list && !cap.balance_credit && !cap.customer_delete && !cap.card_set_status
    );
    assert_eq!(
        p.templates()
            .list_templates(ListTemplates::default())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Unsupported
    );
    let e = p
        .customers()
        .get_customer(GetCustomer::new(CustomerKey::Id(
            CustomerId::new("1").expect("id"),
        )))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    let e = p
        .cards()
        .send_install_link(SendInstallLink {
            card: CardKey::Phone(phone()),
            delivery: LinkDelivery::Email { email: None },
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert_eq!(stub.request_count(), 0);
    let mut off = PassquareConfig::new("k");
    off.card_lookup = Some(false);
    let cap = PassquareProvider::capability_for(&off);
    assert!(!cap.customer_get_by_card && !cap.card_send_install_link);
    assert_eq!(
        PassquareProvider::default_capability().max_page_size,
        Some(100)
    );
}

#[tokio::test]
async fn custom_variables_cannot_override_passquare_fields() {
    let stub = StubTransport::new();
    let p = provider(&stub);
    let mut customer = Customer::new(phone());
    customer.extra.insert("push".into(), "sneaky".into());
    let e = p
        .customers()
        .upsert_customer(UpsertCustomer::new(customer))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(stub.request_count(), 0);
}
