//! The ledger through REST over real HTTP, on SQLite and PostgreSQL: redemptions, reversals,
//! balance settings and the paged history (issue 13). A refused request changes nothing.

mod support;

use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use support::*;
use walletport_core::{CustomerKey, GetBalance, Phone};
use walletport_server::RunningGateway;
use walletport_store::Store;

on_both!(
    redemptions_are_exactly_once_and_never_overdraw,
    reversals_take_a_credit_back_once_and_may_leave_a_debt,
    the_ledger_pages_newest_first_with_a_cursor,
    put_balance_is_an_exactly_once_adjustment,
);

/// One test's gateway (the memory provider over a fresh store) and a customer's REST paths
/// on it.
struct Customer {
    api: Rest,
    phone: Phone,
    running: RunningGateway,
    store: Arc<dyn Store>,
    _tdb: TestDb,
}

impl Customer {
    /// A gateway on `db` with customer `n` created through the API; `None` when the database
    /// is not reachable (outside CI).
    async fn on(db: Db, n: u32) -> Option<Self> {
        let tdb = TestDb::new(db).await?;
        let (running, store) = memory_gateway(&tdb, None).await;
        let me = Self {
            api: Rest::new(&running),
            phone: phone(n),
            running,
            store,
            _tdb: tdb,
        };
        me.api
            .create_customer(json!({"phone": me.phone.as_str()}))
            .await;
        Some(me)
    }

    async fn stop(self) {
        self.running.shutdown().await;
        self.store.close().await;
    }

    /// `path` below the customer's own (`/credits`, `/ledger?...`).
    fn path(&self, path: &str) -> String {
        format!("/api/customers/{}{path}", self.phone.as_str())
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        self.api.call(method, &self.path(path), body).await
    }

    /// Calls that must succeed; the answer.
    async fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        self.api.ok(method, &self.path(path), body).await
    }

    /// Every body of `bad` must be refused at `method path` with 400 `invalid_input`.
    async fn refuses(&self, method: &str, path: &str, bad: impl IntoIterator<Item = Value>) {
        for body in bad {
            let what = format!("{method} {path} {body}");
            let answer = self.call(method, path, body).await;
            assert_refused(&answer, 400, "invalid_input", &what);
        }
    }

    /// The same call for a customer nobody created must answer 404.
    async fn unknown_customer_is_404(&self, method: &str, path: &str, body: Value) {
        let unknown = format!("/api/customers/+420710099999{path}");
        let (status, _) = self.api.call(method, &unknown, body).await;
        assert_eq!(status, 404, "unknown customer: {method} {unknown}");
    }

    async fn credit(&self, amount: &str, tx: &str) -> Value {
        self.ok(
            "POST",
            "/credits",
            json!({"amount": amount, "transaction_id": tx}),
        )
        .await
    }

    async fn points(&self) -> Decimal {
        let body = self.ok("GET", "/balance", Value::Null).await;
        dec(&body["points"])
    }

    /// What the vendor (the memory provider) shows once the outbox is drained.
    async fn vendor_points(&self) -> Decimal {
        drain(self.store.as_ref(), Duration::from_secs(20)).await;
        let customer = CustomerKey::Phone(self.phone.clone());
        let provider = &self.running.gateway().provider;
        let balance = provider.balances().get_balance(GetBalance { customer });
        balance.await.expect("vendor balance").points
    }

    /// Every ledger entry, newest first, through pages of `limit`.
    async fn history(&self, limit: u32) -> Vec<Value> {
        let mut entries = Vec::new();
        let mut before: Option<i64> = None;
        loop {
            let query = match before {
                Some(b) => format!("/ledger?limit={limit}&before={b}"),
                None => format!("/ledger?limit={limit}"),
            };
            let page = self.ok("GET", &query, Value::Null).await;
            let got = page["entries"].as_array().expect("entries").clone();
            assert!(got.len() <= limit as usize, "{page}");
            entries.extend(got);
            match page["next"].as_i64() {
                Some(next) => before = Some(next),
                None => return entries,
            }
        }
    }
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("a decimal string expected, got {v}"))
        .parse()
        .expect("decimal")
}

/// Asserts a ledger answer: applied, delta, balance.
fn answered(body: &Value, applied: bool, delta: i64, balance: i64) {
    assert_eq!(body["applied"], applied, "{body}");
    assert_eq!(dec(&body["delta"]), Decimal::from(delta), "{body}");
    assert_eq!(
        dec(&body["balance"]["points"]),
        Decimal::from(balance),
        "{body}"
    );
}

async fn redemptions_are_exactly_once_and_never_overdraw(db: Db) {
    let Some(me) = Customer::on(db, 1).await else {
        return;
    };
    me.credit("100", "c-1").await;

    let redeem = |amount: Value, tx: &str| json!({"amount": amount, "transaction_id": tx});
    let first = me
        .ok("POST", "/redemptions", redeem(json!("30"), "r-1"))
        .await;
    answered(&first, true, -30, 70);
    let again = me
        .ok("POST", "/redemptions", redeem(json!("30"), "r-1"))
        .await;
    answered(&again, false, 0, 70);
    let (status, body) = me
        .call("POST", "/redemptions", redeem(json!("31"), "r-1"))
        .await;
    assert_eq!((status, &body["error"]["kind"]), (409, &json!("conflict")));

    let before = me.history(100).await;
    let (status, body) = me
        .call("POST", "/redemptions", redeem(json!("70.01"), "r-2"))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["kind"], "insufficient_points", "{body}");
    let bad = [
        redeem(json!("0"), "r-3"),
        redeem(json!("-5"), "r-3"),
        redeem(json!("abc"), "r-3"),
        redeem(json!("5"), "pq:r-3"),
        redeem(json!("5"), " pq:r-3"),
        redeem(json!("5"), ""),
        redeem(json!("1000000000000.5"), "r-3"),
        json!({"amount": "5", "transaction_id": "r-3", "lifetime": "1d"}),
        json!({"amount": "5"}),
    ];
    me.refuses("POST", "/redemptions", bad).await;
    assert_eq!(me.points().await, Decimal::from(70), "nothing changed");
    assert_eq!(me.history(100).await, before, "nothing written");
    // The refused id is still free: with enough points it applies.
    let ok = me
        .ok("POST", "/redemptions", redeem(json!(70), "r-2"))
        .await;
    answered(&ok, true, -70, 0);
    assert_eq!(me.vendor_points().await, Decimal::ZERO);

    me.unknown_customer_is_404("POST", "/redemptions", redeem(json!("1"), "r-9"))
        .await;
    me.stop().await;
}

async fn reversals_take_a_credit_back_once_and_may_leave_a_debt(db: Db) {
    let Some(me) = Customer::on(db, 2).await else {
        return;
    };
    let reversal = |tx: &str| format!("/credits/{tx}/reversal");

    let (status, body) = me.call("POST", &reversal("nope"), Value::Null).await;
    assert_eq!((status, &body["error"]["kind"]), (404, &json!("not_found")));

    // Untouched: the whole credit comes back from its own lot.
    me.credit("40", "p-0").await;
    let back = me.ok("POST", &reversal("p-0"), Value::Null).await;
    answered(&back, true, -40, 0);

    // Partly spent: what was spent and not covered by other points becomes a debt.
    me.credit("50", "p-1").await;
    me.credit("20", "p-2").await;
    let spent = me
        .ok(
            "POST",
            "/redemptions",
            json!({"amount": "60", "transaction_id": "r-1"}),
        )
        .await;
    answered(&spent, true, -60, 10);
    let back = me.ok("POST", &reversal("p-1"), Value::Null).await;
    answered(&back, true, -50, -40);
    let again = me.ok("POST", &reversal("p-1"), Value::Null).await;
    answered(&again, false, 0, -40);
    assert_eq!(me.points().await, Decimal::from(-40));
    assert_eq!(
        me.vendor_points().await,
        Decimal::ZERO,
        "the card shows no debt"
    );
    let (status, body) = me.call("POST", &reversal("r-1"), Value::Null).await;
    assert_eq!(status, 400, "a redemption is no credit: {body}");
    let (status, body) = me
        .call(
            "POST",
            "/redemptions",
            json!({"amount": "1", "transaction_id": "r-2"}),
        )
        .await;
    assert_eq!(status, 409, "nothing to spend while in debt: {body}");

    // Later credits pay the debt off first.
    let paid = me.credit("30", "p-3").await;
    answered(&paid, true, 30, -10);
    me.credit("100", "p-4").await;
    assert_eq!(me.points().await, Decimal::from(90));
    assert_eq!(me.vendor_points().await, Decimal::from(90));
    let kinds: Vec<Value> = me
        .history(100)
        .await
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            "credit",
            "credit",
            "reversal",
            "redemption",
            "credit",
            "credit",
            "reversal",
            "credit"
        ]
        .map(|k| json!(k))
    );
    me.stop().await;
}

async fn the_ledger_pages_newest_first_with_a_cursor(db: Db) {
    let Some(me) = Customer::on(db, 3).await else {
        return;
    };
    for n in 1..=7 {
        me.credit(&n.to_string(), &format!("c-{n}")).await;
    }
    me.ok(
        "POST",
        "/credits",
        json!({"amount": "8", "transaction_id": "c-8", "lifetime": "30d"}),
    )
    .await;
    me.ok(
        "POST",
        "/redemptions",
        json!({"amount": "6.5", "transaction_id": "r-1"}),
    )
    .await;

    let all = me.history(3).await;
    assert_eq!(all.len(), 9, "{all:?}");
    assert_eq!(me.history(1000).await, all, "page size changes nothing");
    let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let newest = &all[0];
    assert_eq!(newest["kind"], "redemption");
    assert_eq!(newest["transaction_id"], "r-1");
    assert_eq!(dec(&newest["amount"]), Decimal::new(-65, 1));
    assert_eq!(dec(&newest["balance_after"]), Decimal::new(295, 1));
    assert!(newest["expires_at"].is_null());
    let lifetime = &all[1];
    assert_eq!(
        (&lifetime["kind"], &lifetime["transaction_id"]),
        (&json!("credit"), &json!("c-8"))
    );
    assert!(lifetime["expires_at"].is_string(), "{lifetime}");
    assert!(lifetime["at"].is_string(), "{lifetime}");
    assert_eq!(dec(&all[8]["balance_after"]), Decimal::ONE);

    let page = me.ok("GET", "/ledger?limit=9", Value::Null).await;
    assert!(
        page["next"].is_null(),
        "a page that is not full is the last: {page}"
    );
    for bad in [
        "?limit=0",
        "?limit=1001",
        "?limit=-1",
        "?before=0",
        "?before=-4",
        "?before=abc",
        "?cursor=5",
    ] {
        me.refuses("GET", &format!("/ledger{bad}"), [Value::Null])
            .await;
    }
    me.unknown_customer_is_404("GET", "/ledger", Value::Null)
        .await;
    me.stop().await;
}

async fn put_balance_is_an_exactly_once_adjustment(db: Db) {
    let Some(me) = Customer::on(db, 4).await else {
        return;
    };
    me.credit("10", "c-1").await;
    let set = |points: Value, tx: &str| json!({"points": points, "transaction_id": tx});

    let up = me.ok("PUT", "/balance", set(json!("25"), "s-1")).await;
    answered(&up, true, 15, 25);
    let again = me.ok("PUT", "/balance", set(json!(25), "s-1")).await;
    answered(&again, false, 0, 25);
    let (status, body) = me.call("PUT", "/balance", set(json!("30"), "s-1")).await;
    assert_eq!((status, &body["error"]["kind"]), (409, &json!("conflict")));
    let bad = [
        set(json!("-1"), "s-2"),
        set(json!("5"), "pq:s-2"),
        set(json!("1000000000001"), "s-2"),
        json!({"points": "5"}),
        json!({"points": "5", "transaction_id": "s-2", "bonus": 1}),
    ];
    me.refuses("PUT", "/balance", bad).await;
    let down = me.ok("PUT", "/balance", set(json!("4"), "s-3")).await;
    answered(&down, true, -21, 4);
    let history = me.history(100).await;
    let adjustments: Vec<(Decimal, Decimal)> = history
        .iter()
        .filter(|e| e["kind"] == "adjustment")
        .map(|e| (dec(&e["amount"]), dec(&e["balance_after"])))
        .collect();
    assert_eq!(
        adjustments,
        [
            (Decimal::from(-21), Decimal::from(4)),
            (Decimal::from(15), Decimal::from(25))
        ]
    );
    assert_eq!(me.vendor_points().await, Decimal::from(4));
    me.stop().await;
}
