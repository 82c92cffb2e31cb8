//! The load of a chaos run: clients that send credits (REST, a quarter of them with points that
//! expire in 30 days, or Passquare hooks) and REST redemptions with unique transaction ids, some
//! of them repeated, through the crashes, and
//! note every answer for the book. Answers that break the contract on their own (a negative
//! balance, a delta that is not the amount, a 4xx to a valid call) are noted as well.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::ledger::{CREDIT_LIFETIME, Kind, Outcome, Sent, Via};
use super::wire::{Answer, Rng, request};
use super::{API_TOKEN, CRM_KEY, Live, live, phone, via_of};

/// The share of attempts that repeat an earlier transaction id.
const REPEAT_SHARE: f64 = 0.15;
/// The share of new REST credits whose points expire ([`CREDIT_LIFETIME`]).
const EXPIRING_SHARE: f64 = 0.25;
/// The share of redemptions that are large (100.00–999.99 points): early in a run they find too
/// few points, later they spend many lots at once.
const LARGE_REDEMPTION_SHARE: f64 = 0.1;

/// What every client is told.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Customers `0..customers`.
    pub(crate) customers: usize,
    /// The run's seed.
    pub(crate) seed: u64,
    /// Whether even customers are credited through Passquare hooks.
    pub(crate) hooks: bool,
    /// The share of new operations that are redemptions (REST customers only).
    pub(crate) redeem_share: f64,
}

/// What one client saw: its attempts, answers to valid calls that were neither a success nor a
/// crash (`refused`), and answers that broke the contract (`broken`).
#[derive(Debug, Default)]
pub(crate) struct ClientLog {
    pub(crate) sent: Vec<Sent>,
    pub(crate) refused: Vec<String>,
    pub(crate) broken: Vec<String>,
    pub(crate) failed: u64,
}

/// Sends one attempt: a credit by hook or REST, or a REST redemption.
pub(crate) async fn send(addr: SocketAddr, s: &Sent) -> anyhow::Result<Answer> {
    match (s.kind, s.via) {
        (Kind::Credit, Via::Hook) => {
            let body = json!({"crm_key": CRM_KEY, "method": "addBalance", "customer": {
                "phone": phone(s.customer), "sum": s.amount.to_string(), "transactionId": s.tx}});
            request(addr, "POST", "/hooks/passquare", None, Some(&body)).await
        }
        (Kind::Credit, Via::Api) => {
            let mut body = json!({"amount": s.amount.to_string(), "transaction_id": s.tx});
            if s.expiring {
                body["lifetime"] = json!(CREDIT_LIFETIME);
            }
            let path = format!("/api/customers/{}/credits", phone(s.customer));
            request(addr, "POST", &path, Some(API_TOKEN), Some(&body)).await
        }
        (Kind::Redemption, _) => {
            let body = json!({"amount": s.amount.to_string(), "transaction_id": s.tx});
            let path = format!("/api/customers/{}/redemptions", phone(s.customer));
            request(addr, "POST", &path, Some(API_TOKEN), Some(&body)).await
        }
    }
}

/// A decimal the gateway wrote as a JSON string or number.
pub(crate) fn decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

/// Whether `a` is the typed refusal of a redemption for want of points.
pub(crate) fn is_insufficient(a: &Answer) -> bool {
    a.status == 409 && a.body["error"]["kind"] == "insufficient_points"
}

/// What a 2xx answer to `s` breaks, if anything: the balance it reports is negative, or its
/// `delta` is not the amount (applied) or zero (a repeat).
pub(crate) fn check_answer(s: &Sent, body: &Value) -> Option<String> {
    if s.via == Via::Hook {
        return None; // `{"success": true}` carries no figures
    }
    let points = decimal(&body["balance"]["points"]);
    if points.is_none_or(|p| p < Decimal::ZERO) {
        return Some(format!(
            "{:?} {} ({}): answered balance {}",
            s.kind, s.tx, s.amount, body["balance"]
        ));
    }
    let want = match (body["applied"].as_bool(), s.kind) {
        (Some(false), _) => Decimal::ZERO,
        (Some(true), Kind::Credit) => s.amount,
        (Some(true), Kind::Redemption) => -s.amount,
        (None, _) => {
            return Some(format!("{:?} {}: no `applied` in {body}", s.kind, s.tx));
        }
    };
    match decimal(&body["delta"]) {
        Some(delta) if delta == want => None,
        _ => Some(format!(
            "{:?} {} ({}): delta {} where {want} was due (applied: {})",
            s.kind, s.tx, s.amount, body["delta"], body["applied"]
        )),
    }
}

/// Sends attempts until `stop`, against whichever server is live.
pub(crate) async fn client(id: usize, addr: Live, stop: Arc<AtomicBool>, plan: Plan) -> ClientLog {
    let mut rng = Rng::new(plan.seed ^ (id as u64).wrapping_mul(0x9E37_79B9));
    let mut log = ClientLog::default();
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Some(target) = live(&addr, id) else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let mut s = if !log.sent.is_empty() && rng.unit() < REPEAT_SHARE {
            let i = rng.below(log.sent.len() as u64) as usize;
            log.sent[i].clone()
        } else {
            seq += 1;
            next_op(id, seq, &mut rng, plan)
        };
        s.outcome = match send(target, &s).await {
            Ok(a) if a.ok() => {
                if let Some(broken) = check_answer(&s, &a.body) {
                    log.broken.push(broken);
                }
                Outcome::Acked
            }
            Ok(a) if s.kind == Kind::Redemption && is_insufficient(&a) => Outcome::Insufficient,
            Ok(a) if a.status >= 500 => {
                log.failed += 1;
                Outcome::Failed
            }
            Ok(a) => {
                log.refused.push(format!(
                    "{:?} {} {}: {} {}",
                    s.kind, s.tx, s.amount, a.status, a.body
                ));
                Outcome::Refused
            }
            Err(_) => {
                log.failed += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                Outcome::Failed
            }
        };
        log.sent.push(s);
    }
    log
}

/// A new operation: a redemption from a REST customer (`redeem_share` of them) of 1.00–19.99,
/// or one in ten of 100.00–999.99; else a credit of 1.00–99.99 to any customer. Balances grow on
/// average, so most redemptions succeed; the first ones of a customer, and many large ones,
/// find too few points.
fn next_op(id: usize, seq: u64, rng: &mut Rng, plan: Plan) -> Sent {
    if rng.unit() < plan.redeem_share {
        let customer = if plan.hooks {
            // Odd customers are the REST ones (see `via_of`).
            2 * rng.below((plan.customers / 2) as u64) as usize + 1
        } else {
            rng.below(plan.customers as u64) as usize
        };
        Sent {
            customer,
            tx: format!("chaos-{id}-r{seq}"),
            amount: if rng.unit() < LARGE_REDEMPTION_SHARE {
                Decimal::new(10_000 + rng.below(90_000) as i64, 2)
            } else {
                Decimal::new(100 + rng.below(1_900) as i64, 2)
            },
            via: Via::Api,
            kind: Kind::Redemption,
            expiring: false,
            outcome: Outcome::Failed,
        }
    } else {
        let customer = rng.below(plan.customers as u64) as usize;
        let via = via_of(customer, plan.hooks);
        Sent {
            customer,
            tx: format!("chaos-{id}-{seq}"),
            amount: Decimal::new(100 + rng.below(9_900) as i64, 2),
            via,
            kind: Kind::Credit,
            expiring: via == Via::Api && rng.unit() < EXPIRING_SHARE,
            outcome: Outcome::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(kind: Kind) -> Sent {
        Sent {
            customer: 1,
            tx: "t".into(),
            amount: Decimal::new(1050, 2),
            via: Via::Api,
            kind,
            expiring: false,
            outcome: Outcome::Acked,
        }
    }

    #[test]
    fn answers_are_checked_against_the_contract() {
        let r = attempt(Kind::Redemption);
        let ok = json!({"applied": true, "delta": "-10.5", "balance": {"points": "3"}});
        assert_eq!(check_answer(&r, &ok), None);
        let repeat = json!({"applied": false, "delta": "0", "balance": {"points": 3}});
        assert_eq!(check_answer(&r, &repeat), None);
        let negative = json!({"applied": true, "delta": "-10.5", "balance": {"points": "-0.5"}});
        assert!(check_answer(&r, &negative).is_some());
        let wrong = json!({"applied": true, "delta": "10.5", "balance": {"points": "3"}});
        assert!(check_answer(&r, &wrong).is_some());
        let c = attempt(Kind::Credit);
        let credited = json!({"applied": true, "delta": "10.50", "balance": {"points": "0"}});
        assert_eq!(check_answer(&c, &credited), None);
        assert!(check_answer(&c, &json!({"applied": true})).is_some());
        let hook = Sent {
            via: Via::Hook,
            ..attempt(Kind::Credit)
        };
        assert_eq!(check_answer(&hook, &json!({"success": true})), None);
        let insufficient = Answer {
            status: 409,
            body: json!({"error": {"kind": "insufficient_points", "message": "…"}}),
        };
        assert!(is_insufficient(&insufficient));
        let conflict = Answer {
            status: 409,
            body: json!({"error": {"kind": "conflict"}}),
        };
        assert!(!is_insufficient(&conflict));
    }

    #[test]
    fn redemptions_go_to_rest_customers_only_and_keep_their_share() {
        let plan = Plan {
            customers: 10,
            seed: 3,
            hooks: true,
            redeem_share: 0.2,
        };
        let mut rng = Rng::new(plan.seed);
        let ops: Vec<Sent> = (1..=2_000).map(|n| next_op(0, n, &mut rng, plan)).collect();
        let redemptions: Vec<&Sent> = ops.iter().filter(|s| s.kind == Kind::Redemption).collect();
        assert!(
            (300..500).contains(&redemptions.len()),
            "{}",
            redemptions.len()
        );
        assert!(
            redemptions
                .iter()
                .all(|s| s.customer % 2 == 1 && s.customer < 10)
        );
        assert!(redemptions.iter().all(|s| s.via == Via::Api));
        let none = Plan {
            redeem_share: 0.0,
            ..plan
        };
        assert!((1..=200).all(|n| next_op(0, n, &mut rng, none).kind == Kind::Credit));
    }
}
