//! The console's customer side over real HTTP: the customers list with search and paging, the
//! customer page (profile, balance, card with install links and QR code, history), and each
//! action through its confirmation page, changing what the REST call behind it changes.

mod support;

use std::sync::Arc;
use std::time::Duration;

use rust_decimal_macros::dec;
use serde_json::json;
use support::console::{ConsoleClient, console_gateway, form_encode};
use support::*;
use walletport_core::{CustomerKey, Phone};
use walletport_store::Store;

const TOKEN: &str = "console-customers-token-3b8a";

/// Creates a customer through the REST API, as a merchant's system would.
async fn create(base: &str, phone: &str, name: &str, surname: &str) {
    let (status, body) = send(
        &reqwest::Client::new(),
        "POST",
        format!("{base}/api/customers"),
        json!({"phone": phone, "name": name, "surname": surname}),
    )
    .await;
    assert_eq!(status, 401, "the API wants its bearer token too: {body}");
    let resp = reqwest::Client::new()
        .post(format!("{base}/api/customers"))
        .bearer_auth(TOKEN)
        .json(&json!({"phone": phone, "name": name, "surname": surname}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
}

/// The CRM id of the customer with `phone`.
async fn id_of(store: &Arc<dyn Store>, phone: &str) -> String {
    store
        .get_customer(&CustomerKey::Phone(Phone::parse(phone).expect("phone")))
        .await
        .expect("get")
        .expect("customer")
        .id
        .to_string()
}

/// A SQLite test database (keep it while the gateway runs) and a console gateway on it that
/// asks for the token.
async fn token_gateway() -> (TestDb, walletport_server::RunningGateway, Arc<dyn Store>) {
    let tdb = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let (gw, store) = console_gateway(&tdb, Some(TOKEN), false).await;
    (tdb, gw, store)
}

/// A confirmed credit or redemption form: `amount` points under transaction id `tx`.
fn confirmed_points<'a>(amount: &'a str, tx: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("amount", amount),
        ("transaction_id", tx),
        ("confirm", "yes"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_are_listed_searched_and_paged() {
    let (_tdb, gw, store) = token_gateway().await;
    let base = gw.base_url();
    create(&base, "+420720000001", "Jana", "Nováková").await;
    create(&base, "+420720000002", "Petr", "Svoboda").await;
    for n in 10..70 {
        create(
            &base,
            &format!("+4207300000{n}"),
            "Bulk",
            &format!("Customer{n}"),
        )
        .await;
    }
    drain(&*store, Duration::from_secs(10)).await;

    let mut b = ConsoleClient::new(&base);
    b.sign_in(TOKEN).await;
    let home = b.get("/console/").await;
    assert!(home.body.contains("Jana Nováková") && home.body.contains("+420720000001"));
    assert!(home.body.contains("<th scope=\"col\">Card number</th>"));
    assert!(
        home.body.contains("not installed"),
        "the memory vendor's card"
    );
    assert!(
        !home.body.contains("Customer69"),
        "a page holds 50 customers"
    );
    let next = home
        .body
        .split("rel=\"next\"")
        .next()
        .and_then(|before| before.rsplit("href=\"").next())
        .map(|h| h.trim_end_matches(['"', ' ']).replace("&amp;", "&"))
        .expect("a next link");
    let page2 = b.get(&next).await;
    assert_eq!(page2.status, 200, "{}", page2.body);
    assert!(page2.body.contains("Customer69") && !page2.body.contains("Nováková"));

    // By phone prefix, whole phone, name (any case), surname, card number and CRM id.
    let search = |q: &str| format!("/console/?q={}", form_encode(q));
    let cases = [
        ("+42072000000", vec!["Nováková", "Svoboda"]),
        ("420 720 000 002", vec!["Svoboda"]),
        ("jana", vec!["Nováková"]),
        ("SVOBODA", vec!["Svoboda"]),
    ];
    for (q, expect) in cases {
        let p = b.get(&search(q)).await;
        assert_eq!(p.status, 200, "{q}: {}", p.body);
        for name in ["Nováková", "Svoboda"] {
            assert_eq!(
                p.body.contains(name),
                expect.contains(&name),
                "{q} → {name}"
            );
        }
        assert!(!p.body.contains("Customer1"), "{q}");
    }
    let jana = id_of(&store, "+420720000001").await;
    let p = b.get(&search(&jana)).await;
    assert!(p.body.contains("Nováková") && !p.body.contains("Svoboda"));
    let card = store
        .list_cards(&walletport_core::CustomerId::new(jana.clone()).expect("id"))
        .await
        .expect("cards")
        .into_iter()
        .find_map(|c| c.number)
        .expect("the memory vendor's card number");
    let p = b.get(&search(&card)).await;
    assert!(
        p.body.contains("Nováková") && !p.body.contains("Svoboda"),
        "{card}"
    );
    let none = b.get(&search("nobody-like-this")).await;
    assert!(none.body.contains("No customer matches"));
    let bad = b.get(&search(&"x".repeat(200))).await;
    assert_eq!(bad.status, 400, "an overlong search is refused clearly");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_page_shows_profile_card_and_history_and_every_action_works() {
    let (_tdb, gw, store) = token_gateway().await;
    let base = gw.base_url();
    create(&base, "+420720000009", "Eva", "Dvořáková").await;
    drain(&*store, Duration::from_secs(10)).await;
    let id = id_of(&store, "+420720000009").await;
    let page = format!("/console/customers/{id}");
    let mut b = ConsoleClient::new(&base);
    b.sign_in(TOKEN).await;

    let p = b.get(&page).await;
    assert_eq!(p.status, 200, "{}", p.body);
    for part in [
        "Eva Dvořáková",
        "+420720000009",
        "<h2 id=\"cards\">Cards</h2>",
        "memory",
        "https://memory.walletport.invalid/",
        "<svg role=\"img\" aria-label=\"QR code of the install link\"",
        "No entries yet.",
        "<label for=\"credit-amount\">",
    ] {
        assert!(p.body.contains(part), "{part} missing");
    }
    let balance = |body: &str| {
        body.split("<dd class=\"points\">")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .map(str::to_owned)
            .expect("points")
    };
    let act = |a: &str| format!("{page}/actions/{a}");

    // Credit: the first step only asks; confirming credits once, even when sent twice.
    let fields = [
        ("amount", "50"),
        ("lifetime", ""),
        ("transaction_id", "till-1"),
    ];
    let ask = b.post(&act("credit"), &fields, true).await;
    assert_eq!(ask.status, 200, "{}", ask.body);
    assert!(
        ask.body
            .contains("Credit 50 points, never expiring, to Eva Dvořáková")
    );
    assert_eq!(
        balance(&b.get(&page).await.body),
        "0",
        "asking changes nothing"
    );
    let confirmed = confirmed_points("50", "till-1");
    let done = b.post(&act("credit"), &confirmed, true).await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location.as_deref(), Some(page.as_str()));
    let p = b.get(&page).await;
    assert!(p.body.contains("The balance is now 50"), "{}", p.body);
    assert_eq!(balance(&p.body), "50");
    assert!(p.body.contains("till-1") && p.body.contains("Credit"));
    // A credit with a lifetime shows among the points expiring within 30 days.
    let lifetime = [
        ("amount", "7"),
        ("lifetime", "20d"),
        ("transaction_id", "till-life"),
        ("confirm", "yes"),
    ];
    b.post(&act("credit"), &lifetime, true).await;
    let p = b.get(&page).await;
    assert!(
        p.body.contains("<dd class=\"expiring\">7</dd>"),
        "{}",
        p.body
    );
    let redeem_it = confirmed_points("7", "till-life-spent");
    b.post(&act("redeem"), &redeem_it, true).await;
    assert!(
        b.get(&page)
            .await
            .body
            .contains("<dd class=\"expiring\">0</dd>")
    );
    b.post(&act("credit"), &confirmed, true).await;
    let p = b.get(&page).await;
    assert!(p.body.contains("applied before; nothing changed"));
    assert_eq!(balance(&p.body), "50");

    // Redeem: too much is a readable error and changes nothing; enough spends.
    let too_much = confirmed_points("80", "till-2");
    b.post(&act("redeem"), &too_much, true).await;
    let p = b.get(&page).await;
    assert!(p.body.contains("Redeem points failed"), "{}", p.body);
    assert!(p.body.contains("role=\"alert\""));
    assert_eq!(balance(&p.body), "50");
    let spend = confirmed_points("20", "till-3");
    b.post(&act("redeem"), &spend, true).await;
    assert_eq!(balance(&b.get(&page).await.body), "30");

    // Bad input never reaches the confirmation page.
    let bad = b.post(&act("credit"), &[("amount", "lots")], true).await;
    assert_eq!(bad.status, 303);
    assert!(b.get(&page).await.body.contains("must be a number"));

    // Percentages, push, card status, resync.
    let pct = [
        ("bonus_percent", "5"),
        ("discount_percent", "10"),
        ("confirm", "yes"),
    ];
    b.post(&act("percentages"), &pct, true).await;
    let stored = store
        .get_customer(&CustomerKey::Phone(
            Phone::parse("+420720000009").expect("phone"),
        ))
        .await
        .expect("get")
        .expect("customer");
    assert_eq!(stored.discount_percent.value(), dec!(10));
    assert!(b.get(&page).await.body.contains("bonus 5 %, discount 10 %"));

    let push = [("text", "Coffee is on us today"), ("channel", "wallet")];
    let ask = b.post(&act("push"), &push, true).await;
    assert!(ask.body.contains("Send “Coffee is on us today”"));
    let push = [
        ("text", "Coffee is on us today"),
        ("channel", "wallet"),
        ("confirm", "yes"),
    ];
    b.post(&act("push"), &push, true).await;
    assert!(b.get(&page).await.body.contains("The message was sent"));

    drain(&*store, Duration::from_secs(10)).await;
    let void = [("status", "voided"), ("confirm", "yes")];
    b.post(&act("card-status"), &void, true).await;
    let p = b.get(&page).await;
    assert!(p.body.contains("The card is now voided"), "{}", p.body);
    let cards = store.list_cards(&stored.id).await.expect("cards");
    assert!(
        cards
            .iter()
            .all(|c| c.status == walletport_core::CardStatus::Voided)
    );

    drain(&*store, Duration::from_secs(10)).await;
    b.post(&act("resync"), &[("confirm", "yes")], true).await;
    assert!(b.get(&page).await.body.contains("queued for the vendor"));

    // An unknown action or customer is a 404 page, not an error in JSON.
    let p = b
        .post(&act("delete-everything"), &[("confirm", "yes")], true)
        .await;
    assert_eq!(p.status, 404);
    assert!(p.content_type().starts_with("text/html"));
    let p = b.get("/console/customers/no-such-customer").await;
    assert_eq!(p.status, 404);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_pages_newest_first() {
    let tdb = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let (gw, store) = console_gateway(&tdb, None, false).await;
    let base = gw.base_url();
    let c = reqwest::Client::new();
    let (status, _) = send(
        &c,
        "POST",
        format!("{base}/api/customers"),
        json!({"phone": "+420720000030", "name": "Ota"}),
    )
    .await;
    assert_eq!(status, 200);
    for n in 1..=25 {
        let (status, body) = send(
            &c,
            "POST",
            format!("{base}/api/customers/+420720000030/credits"),
            json!({"amount": "1", "transaction_id": format!("tx-{n:02}")}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let id = id_of(&store, "+420720000030").await;
    let mut b = ConsoleClient::new(&base);
    let p = b.get(&format!("/console/customers/{id}")).await;
    assert_eq!(p.status, 200, "no token: no sign-in");
    assert!(p.body.contains("tx-25") && p.body.contains("tx-06") && !p.body.contains("tx-05"));
    let older = p
        .body
        .split("\" rel=\"next\"")
        .next()
        .and_then(|b| b.rsplit("href=\"").next())
        .expect("older link")
        .to_owned();
    assert!(older.contains("?before="), "{older}");
    let p = b.get(&older).await;
    assert!(p.body.contains("tx-05") && p.body.contains("tx-01") && !p.body.contains("tx-06"));
    assert!(!p.body.contains("rel=\"next\""), "the last page");
    let bad = b.get(&format!("/console/customers/{id}?before=soon")).await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("The address is not valid"),
        "{}",
        bad.body
    );
    gw.shutdown().await;
}
