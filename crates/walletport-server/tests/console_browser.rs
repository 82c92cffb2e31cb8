//! The console in a real browser (headless Chromium from Debian's packages, through
//! chromedriver): a browser that has not signed in sees no customer data; after signing in with
//! the API token it finds a customer created through the REST API, credits them from the form
//! through the confirm step, and sees the new balance.
//!
//! Missing chromium or chromedriver fails the test with the install command (`cargo xtask test`
//! installs them); only `WALLETPORT_SKIP_BROWSER=1` skips it.

mod support;

#[path = "support/browser.rs"]
mod browser;

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::json;
use support::console::console_gateway;
use support::*;

/// The gateway's API token.
const TOKEN: &str = "browser-test-token-8c2f";

/// The customer the test creates through the API and looks for in the console.
const PHONE: &str = "+420710000042";

/// How long the browser may take for one page to show what the test waits for.
const WAIT: Duration = Duration::from_secs(15);

/// The page's visible text.
async fn text(client: &Client) -> String {
    match client.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the page's text contains `what`, or fails with the page's text.
async fn wait_for_text(client: &Client, what: &str) {
    let started = Instant::now();
    loop {
        let now = text(client).await;
        if now.contains(what) {
            return;
        }
        assert!(
            started.elapsed() < WAIT,
            "the page never showed {what:?}; it shows:\n{now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The points the customer's page shows (empty when the page shows none).
async fn points(client: &Client) -> String {
    match client.find(Locator::Css("dd.points")).await {
        Ok(dd) => dd.text().await.unwrap_or_default().trim().to_owned(),
        Err(_) => String::new(),
    }
}

/// Types `value` into the input labelled by `id` (found by its id, as its label names it).
async fn fill(client: &Client, id: &str, value: &str) {
    let input = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no input #{id}: {e}"));
    input.clear().await.ok();
    input
        .send_keys(value)
        .await
        .unwrap_or_else(|e| panic!("cannot type into #{id}: {e}"));
}

/// Clicks the button with exactly this text.
async fn click_button(client: &Client, label: &str) {
    let xpath = format!("//button[normalize-space(.)='{label}']");
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("no button {label:?}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click {label:?}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signs_in_finds_a_customer_and_credits_them() {
    if browser::skip_requested() {
        eprintln!("console browser test skipped: {}=1", browser::SKIP_VAR);
        return;
    }
    let tools = browser::find_tools().unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();

    let tdb = TestDb::new(Db::Sqlite).await.expect("sqlite");
    let (running, _store) = console_gateway(&tdb, Some(TOKEN), false).await;
    let base = running.base_url();

    // The customer, created through the REST API.
    let api = reqwest::Client::new();
    let created = api
        .post(format!("{base}/api/customers"))
        .bearer_auth(TOKEN)
        .json(&json!({ "phone": PHONE, "name": "Greta", "surname": "Browser" }))
        .send()
        .await
        .expect("create");
    assert!(created.status().is_success(), "{:?}", created.text().await);
    let credited = api
        .post(format!("{base}/api/customers/{PHONE}/credits"))
        .bearer_auth(TOKEN)
        .json(&json!({ "amount": "10", "transaction_id": "browser-test-1" }))
        .send()
        .await
        .expect("credit");
    assert!(
        credited.status().is_success(),
        "{:?}",
        credited.text().await
    );

    let chrome = browser::Browser::launch(&tools, 1280, 1000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let c = &chrome.client;

    // Not signed in: every console URL shows the sign-in form, never the customer.
    for path in [
        "/".to_owned(),
        "/console/".to_owned(),
        format!("/console/?q={}", PHONE.replace('+', "%2B")),
        "/console/outbox".to_owned(),
    ] {
        c.goto(&format!("{base}{path}")).await.expect("goto");
        wait_for_text(c, "Sign in").await;
        let source = c.source().await.expect("source");
        assert!(
            !source.contains(PHONE) && !source.contains("Greta"),
            "{path} shows customer data before signing in"
        );
        assert!(
            c.current_url()
                .await
                .expect("url")
                .path()
                .ends_with("/sign-in")
        );
    }

    // Sign in with the token.
    fill(c, "token", TOKEN).await;
    click_button(c, "Sign in").await;
    wait_for_text(c, "Customers").await;

    // Find the customer by phone and open their page.
    fill(c, "q", PHONE).await;
    click_button(c, "Search").await;
    wait_for_text(c, PHONE).await;
    c.find(Locator::LinkText("Greta Browser"))
        .await
        .expect("the customer's link")
        .click()
        .await
        .expect("open the customer");
    wait_for_text(c, PHONE).await;

    assert_eq!(
        points(c).await,
        "10",
        "the balance credited through the API"
    );

    // Credit them from the form, through the confirm step.
    fill(c, "credit-amount", "25").await;
    click_button(c, "Credit points…").await;
    wait_for_text(c, "Credit 25 points").await;
    assert_eq!(points(c).await, "", "the confirm step is a page of its own");
    click_button(c, "Confirm").await;
    wait_for_text(c, "The balance is now 35").await;
    assert_eq!(
        points(c).await,
        "35",
        "the new balance on the customer's page"
    );

    chrome.close().await;
    running.shutdown().await;
    eprintln!(
        "console browser test took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
