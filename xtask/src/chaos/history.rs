//! The ledger as the gateway itself tells it (`GET /api/customers/{key}/ledger`, newest first,
//! paged with the `next` cursor passed back as `before`): once every operation is resolved, its
//! entries must add up to the balance, the running balance must never go below zero, and it must
//! hold every credit and every applied redemption of the book exactly once, and nothing else.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use anyhow::{anyhow, bail};
use rust_decimal::Decimal;
use serde_json::Value;
use walletport_server::hooks::PASSQUARE_TX_PREFIX;

use super::client::decimal;
use super::ledger::{Book, Kind, Via};
use super::wire::request;
use super::{API_TOKEN, phone, until_answered};

/// Entries per page (the most the API serves).
const PAGE: u32 = 1000;
/// The most pages read per customer (a cursor that never ends is a finding, not a hang).
const MAX_PAGES: usize = 1000;
/// The most findings reported per customer.
const MAX_FINDINGS: usize = 5;

/// One ledger entry, as much of it as the audit needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// Ascending in the order entries were written, when the API gives it.
    pub(crate) id: Option<i64>,
    /// `credit`, `redemption`, `expiry`, `reversal` or `adjustment`.
    pub(crate) kind: String,
    /// The transaction id, where the entry has one.
    pub(crate) tx: Option<String>,
    /// Signed: credits positive, redemptions negative.
    pub(crate) amount: Decimal,
    /// The balance right after the entry, when the API gives it.
    pub(crate) balance_after: Option<Decimal>,
}

fn entry(v: &Value) -> anyhow::Result<Entry> {
    Ok(Entry {
        id: v["id"].as_i64(),
        kind: v["kind"].as_str().unwrap_or("?").to_owned(),
        tx: v["transaction_id"].as_str().map(str::to_owned),
        amount: decimal(&v["amount"]).ok_or_else(|| anyhow!("ledger entry without amount: {v}"))?,
        balance_after: decimal(&v["balance_after"]),
    })
}

/// Reads `customer`'s whole ledger, oldest first.
pub(crate) async fn read(target: SocketAddr, customer: usize) -> anyhow::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut before: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let path = match &before {
            None => format!("/api/customers/{}/ledger?limit={PAGE}", phone(customer)),
            Some(c) => format!(
                "/api/customers/{}/ledger?limit={PAGE}&before={c}",
                phone(customer)
            ),
        };
        let a = until_answered("reading a ledger", || {
            request(target, "GET", &path, Some(API_TOKEN), None)
        })
        .await?;
        if !a.ok() {
            bail!("GET {path}: {} {}", a.status, a.body);
        }
        let page = a.body["entries"]
            .as_array()
            .ok_or_else(|| anyhow!("{path}: no `entries` in {}", a.body))?;
        for e in page {
            entries.push(entry(e)?);
        }
        let next = match &a.body["next"] {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            other => bail!("{path}: `next` is {other}"),
        };
        match next {
            None => {
                entries.reverse();
                if entries.iter().all(|e| e.id.is_some()) {
                    entries.sort_by_key(|e| e.id);
                }
                return Ok(entries);
            }
            Some(n) if before.as_ref() == Some(&n) || page.is_empty() => {
                bail!("{path}: the cursor does not move on (next {n})");
            }
            Some(n) => before = Some(n),
        }
    }
    bail!("the ledger of customer {customer} has more than {MAX_PAGES} pages of {PAGE} entries")
}

/// What `customer`'s ledger (oldest first) breaks, given the balance the API shows and the book
/// with every operation resolved.
pub(crate) fn audit(
    customer: usize,
    entries: &[Entry],
    balance: Decimal,
    book: &Book,
) -> Vec<String> {
    let mut findings = Vec::new();
    let mut running = Decimal::ZERO;
    let mut negative = None;
    for e in entries {
        running += e.amount;
        if running < Decimal::ZERO && negative.is_none() {
            negative = Some(format!(
                "customer {customer}: the balance went to {running} at {:?} entry {:?}",
                e.kind, e.tx
            ));
        }
        if let Some(after) = e.balance_after
            && after != running
        {
            findings.push(format!(
                "customer {customer}: {} entry {:?} of {} says balance {after}, the entries \
                 before it add up to {running}",
                e.kind, e.tx, e.amount
            ));
        }
    }
    findings.extend(negative);
    if running != balance {
        findings.push(format!(
            "customer {customer}: the ledger's {} entries add up to {running}, the balance is \
             {balance}",
            entries.len()
        ));
    }

    // Every credit and applied redemption exactly once, and nothing else.
    let mut want: BTreeMap<(String, String), u32> = BTreeMap::new();
    for (tx, op) in book.ops.iter().filter(|(_, o)| o.customer == customer) {
        let (kind, tx) = match (op.kind, op.via) {
            (Kind::Credit, Via::Hook) => ("credit", format!("{PASSQUARE_TX_PREFIX}{tx}")),
            (Kind::Credit, Via::Api) => ("credit", tx.clone()),
            (Kind::Redemption, _) if op.applied() == Some(true) => ("redemption", tx.clone()),
            (Kind::Redemption, _) => continue,
        };
        want.insert((kind.to_owned(), tx), 1);
    }
    let mut got: BTreeMap<(String, String), u32> = BTreeMap::new();
    for e in entries {
        let key = (e.kind.clone(), e.tx.clone().unwrap_or_default());
        *got.entry(key).or_default() += 1;
    }
    for (key, n) in &got {
        match want.get(key) {
            Some(1) if *n == 1 => {}
            Some(_) => findings.push(format!(
                "customer {customer}: {} {:?} is in the ledger {n} times",
                key.0, key.1
            )),
            None => findings.push(format!(
                "customer {customer}: {} {:?} ({n}×) is in the ledger but was never sent (or is \
                 a redemption the book holds as not applied)",
                key.0, key.1
            )),
        }
    }
    for key in want.keys().filter(|k| !got.contains_key(*k)) {
        findings.push(format!(
            "customer {customer}: {} {:?} is missing from the ledger",
            key.0, key.1
        ));
    }
    if findings.len() > MAX_FINDINGS {
        let more = findings.len() - MAX_FINDINGS;
        findings.truncate(MAX_FINDINGS);
        findings.push(format!("customer {customer}: {more} more ledger findings"));
    }
    findings
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::ledger::{Outcome, Sent};
    use super::*;

    fn d(cents: i64) -> Decimal {
        Decimal::new(cents, 2)
    }

    fn e(kind: &str, tx: &str, cents: i64, after: i64) -> Entry {
        Entry {
            id: None,
            kind: kind.into(),
            tx: Some(tx.into()),
            amount: d(cents),
            balance_after: Some(d(after)),
        }
    }

    fn book() -> Book {
        let sent = |tx: &str, cents, via, kind, outcome| Sent {
            customer: 1,
            tx: tx.into(),
            amount: d(cents),
            via,
            kind,
            expiring: false,
            outcome,
        };
        let mut b = Book::default();
        b.add([
            sent("c1", 1000, Via::Api, Kind::Credit, Outcome::Acked),
            sent("h1", 500, Via::Hook, Kind::Credit, Outcome::Failed),
            sent("r1", 300, Via::Api, Kind::Redemption, Outcome::Acked),
            sent(
                "r2",
                9900,
                Via::Api,
                Kind::Redemption,
                Outcome::Insufficient,
            ),
        ])
        .expect("add");
        b.settle_credits();
        b
    }

    #[test]
    fn a_consistent_ledger_passes() {
        let entries = [
            e("credit", "c1", 1000, 1000),
            e("redemption", "r1", -300, 700),
            e("credit", "pq:h1", 500, 1200),
        ];
        assert_eq!(audit(1, &entries, d(1200), &book()), Vec::<String>::new());
    }

    #[test]
    fn doubles_losses_strays_and_negative_balances_are_found() {
        let book = book();
        let doubled = [
            e("credit", "c1", 1000, 1000),
            e("credit", "c1", 1000, 2000),
            e("redemption", "r1", -300, 1700),
            e("credit", "pq:h1", 500, 2200),
        ];
        let f = audit(1, &doubled, d(2200), &book);
        assert!(f.iter().any(|m| m.contains("2 times")), "{f:?}");
        let lost = [
            e("credit", "c1", 1000, 1000),
            e("redemption", "r1", -300, 700),
        ];
        let f = audit(1, &lost, d(700), &book);
        assert!(f.iter().any(|m| m.contains("missing")), "{f:?}");
        let stray = [
            e("credit", "c1", 1000, 1000),
            e("redemption", "r1", -300, 700),
            e("credit", "pq:h1", 500, 1200),
            e("redemption", "r2", -9900, -8700),
        ];
        let f = audit(1, &stray, d(-8700), &book);
        assert!(f.iter().any(|m| m.contains("never sent")), "{f:?}");
        assert!(f.iter().any(|m| m.contains("went to")), "{f:?}");
        let off = [
            e("credit", "c1", 1000, 1000),
            e("redemption", "r1", -300, 600),
            e("credit", "pq:h1", 500, 1200),
        ];
        let f = audit(1, &off, d(1300), &book);
        assert!(f.iter().any(|m| m.contains("says balance")), "{f:?}");
        assert!(f.iter().any(|m| m.contains("the balance is")), "{f:?}");
    }

    #[test]
    fn entries_parse_with_strings_or_numbers() {
        let v = json!({"id": 7, "kind": "redemption", "transaction_id": "r", "amount": "-2.5",
            "balance_after": 3});
        let got = entry(&v).expect("entry");
        assert_eq!(
            got,
            Entry {
                id: Some(7),
                kind: "redemption".into(),
                tx: Some("r".into()),
                amount: Decimal::new(-25, 1),
                balance_after: Some(Decimal::from(3)),
            }
        );
        assert!(entry(&json!({"kind": "credit"})).is_err());
    }
}
