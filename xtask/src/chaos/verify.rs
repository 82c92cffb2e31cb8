//! Probing every operation after the crashes. Credits first: acknowledged REST credits must be
//! answered `applied: false` (they are in the ledger); unacknowledged ones (REST and hook) are
//! sent again, which tells whether they had been applied and applies them if not, so that
//! afterwards every credit is in the ledger exactly once. Then redemptions, each sent again:
//! `applied: false` means it was in the ledger, `applied: true` that it was not (and now is), 409
//! `insufficient_points` that it was not (and still is not). Afterwards the state of every
//! operation is known and each balance must be the one sum the book allows.

use std::net::SocketAddr;

use tokio::task::JoinSet;

use super::client::{is_insufficient, send};
use super::ledger::{Book, Kind, Op, Outcome, Probe, Sent, Via, judge_hook_probe};
use super::wire::Answer;
use super::{balance, until_answered, until_ok};

/// Concurrent probes of REST operations (hook probes read balances around each one and so run
/// one at a time; they touch other customers than the REST probes).
const LANES: usize = 8;

/// What the probes found.
#[derive(Debug, Default)]
pub(crate) struct Probed {
    /// Unacknowledged operations that had been applied anyway (the crash came after the commit).
    pub(crate) found: u64,
    /// Unacknowledged operations that had not been applied (applied by the probe now, unless a
    /// redemption found too few points).
    pub(crate) missing: u64,
    /// What each redemption probe showed: whether it is in the ledger now.
    pub(crate) resolved: Vec<(String, bool)>,
    /// Broken promises.
    pub(crate) violations: Vec<String>,
}

impl Probed {
    fn merge(&mut self, other: Probed) {
        self.found += other.found;
        self.missing += other.missing;
        self.resolved.extend(other.resolved);
        self.violations.extend(other.violations);
    }
}

fn resend(tx: &str, op: &Op) -> Sent {
    Sent {
        customer: op.customer,
        tx: tx.to_owned(),
        amount: op.amount,
        via: op.via,
        kind: op.kind,
        expiring: op.expiring,
        outcome: Outcome::Failed,
    }
}

async fn probe_api(target: SocketAddr, credits: Vec<(String, Op)>) -> anyhow::Result<Probed> {
    let mut out = Probed::default();
    for (tx, c) in credits {
        let s = resend(&tx, &c);
        let a = until_ok("probing a credit", || send(target, &s)).await?;
        let was_present = a.body["applied"] == false;
        match (c.acked, was_present) {
            (true, true) => {}
            (true, false) => out
                .violations
                .push(format!("acknowledged credit {tx} ({}) was lost", c.amount)),
            (false, true) => out.found += 1,
            (false, false) => out.missing += 1,
        }
    }
    Ok(out)
}

async fn probe_hooks(target: SocketAddr, credits: Vec<(String, Op)>) -> anyhow::Result<Probed> {
    let mut out = Probed::default();
    for (tx, c) in credits {
        let s = resend(&tx, &c);
        let before = balance(target, c.customer).await?;
        until_ok("probing a hook credit", || send(target, &s)).await?;
        let after = balance(target, c.customer).await?;
        match judge_hook_probe(before, after, c.amount) {
            Some(Probe::WasPresent) => out.found += 1,
            Some(Probe::WasMissing) => out.missing += 1,
            None => out.violations.push(format!(
                "probing hook credit {tx} ({}) moved the balance {before} -> {after}",
                c.amount
            )),
        }
    }
    Ok(out)
}

/// Probes every REST credit and every unacknowledged hook credit (acknowledged hook credits are
/// checked by the balance sums: the hook answers success for new and repeated ids alike).
pub(crate) async fn probe_credits(target: SocketAddr, book: &Book) -> anyhow::Result<Probed> {
    let api = book.select(Kind::Credit, Via::Api);
    let hooks: Vec<(String, Op)> = book
        .select(Kind::Credit, Via::Hook)
        .into_iter()
        .filter(|(_, c)| !c.acked)
        .collect();
    let mut set = JoinSet::new();
    set.spawn(probe_hooks(target, hooks));
    in_lanes(set, &api, |share| probe_api(target, share)).await
}

/// Runs `probe` over `ops` split into [`LANES`] concurrent lanes, beside the tasks already in
/// `set`, and merges what all of them found.
async fn in_lanes<F>(
    mut set: JoinSet<anyhow::Result<Probed>>,
    ops: &[(String, Op)],
    probe: impl Fn(Vec<(String, Op)>) -> F,
) -> anyhow::Result<Probed>
where
    F: std::future::Future<Output = anyhow::Result<Probed>> + Send + 'static,
{
    for lane in 0..LANES {
        let share = ops.iter().skip(lane).step_by(LANES).cloned().collect();
        set.spawn(probe(share));
    }
    let mut probed = Probed::default();
    while let Some(done) = set.join_next().await {
        probed.merge(done??);
    }
    Ok(probed)
}

/// What one redemption probe answer means, given what the load saw of it. `found` and `missing`
/// count the redemptions the crashes left in doubt (unacknowledged, not settled by a later
/// `insufficient_points`).
fn judge_redemption(tx: &str, op: &Op, a: &Answer, out: &mut Probed) {
    let in_doubt = !op.acked && op.unsure > 0;
    // The repeat shows the redemption was not in the ledger (`repeat` says how).
    let lost = |out: &mut Probed, repeat: &str| {
        if op.acked {
            out.violations.push(format!(
                "acknowledged redemption {tx} ({}) was lost: a repeat {repeat}",
                op.amount
            ));
        } else if in_doubt {
            out.missing += 1;
        }
    };
    let now_applied = if a.ok() {
        match a.body["applied"].as_bool() {
            Some(false) => {
                // It was in the ledger already.
                if op.acked {
                    // As it should be.
                } else if in_doubt {
                    out.found += 1;
                } else {
                    out.violations.push(format!(
                        "redemption {tx} ({}) was answered insufficient_points, yet it is in the \
                         ledger",
                        op.amount
                    ));
                }
                true
            }
            Some(true) => {
                lost(out, "applied it again");
                true
            }
            None => {
                out.violations.push(format!(
                    "probing redemption {tx}: no `applied` in {}",
                    a.body
                ));
                return;
            }
        }
    } else if is_insufficient(a) {
        lost(out, "answered insufficient_points");
        false
    } else {
        out.violations.push(format!(
            "probing redemption {tx} ({}): {} {}",
            op.amount, a.status, a.body
        ));
        return;
    };
    out.resolved.push((tx.to_owned(), now_applied));
}

async fn probe_redemption_lane(
    target: SocketAddr,
    redemptions: Vec<(String, Op)>,
) -> anyhow::Result<Probed> {
    let mut out = Probed::default();
    for (tx, op) in redemptions {
        let s = resend(&tx, &op);
        let a = until_answered("probing a redemption", || send(target, &s)).await?;
        judge_redemption(&tx, &op, &a, &mut out);
    }
    Ok(out)
}

/// Probes every redemption (after the credits, so that a lost credit is back before a
/// redemption probe looks at the balance).
pub(crate) async fn probe_redemptions(target: SocketAddr, book: &Book) -> anyhow::Result<Probed> {
    let all = book.select(Kind::Redemption, Via::Api);
    in_lanes(JoinSet::new(), &all, |share| {
        probe_redemption_lane(target, share)
    })
    .await
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use serde_json::json;

    use super::*;

    fn op(acked: bool, unsure: u32) -> Op {
        Op {
            customer: 1,
            amount: Decimal::new(5, 0),
            via: Via::Api,
            kind: Kind::Redemption,
            expiring: false,
            acked,
            attempts: 1,
            unsure,
            insufficient: 0,
            resolved: None,
        }
    }

    fn judged(op: &Op, status: u16, body: serde_json::Value) -> Probed {
        let mut out = Probed::default();
        judge_redemption("r", op, &Answer { status, body }, &mut out);
        out
    }

    #[test]
    fn redemption_probes_resolve_or_find_a_violation() {
        let repeat = json!({"applied": false, "delta": "0", "balance": {"points": "1"}});
        let applied = json!({"applied": true, "delta": "-5", "balance": {"points": "1"}});
        let short = json!({"error": {"kind": "insufficient_points"}});
        // Acknowledged and still there.
        let p = judged(&op(true, 0), 200, repeat.clone());
        assert_eq!(
            (p.resolved.clone(), p.violations.len()),
            (vec![("r".into(), true)], 0)
        );
        // Acknowledged but lost.
        assert_eq!(
            judged(&op(true, 0), 200, applied.clone()).violations.len(),
            1
        );
        assert_eq!(judged(&op(true, 0), 409, short.clone()).violations.len(), 1);
        // Cut by a crash: had been applied, or not (applied now, or not possible now).
        assert_eq!(judged(&op(false, 1), 200, repeat.clone()).found, 1);
        let p = judged(&op(false, 1), 200, applied);
        assert_eq!((p.missing, p.resolved[0].1), (1, true));
        let p = judged(&op(false, 1), 409, short);
        assert_eq!(
            (p.missing, p.resolved[0].1, p.violations.len()),
            (1, false, 0)
        );
        // Refused for want of points, and still: settled, not counted as in doubt.
        let p = judged(
            &op(false, 0),
            409,
            json!({"error": {"kind": "insufficient_points"}}),
        );
        assert_eq!(
            (p.missing, p.resolved[0].1, p.violations.len()),
            (0, false, 0)
        );
        // Only ever refused for want of points, yet in the ledger.
        assert_eq!(judged(&op(false, 0), 200, repeat).violations.len(), 1);
        // A conflict is never right for the same id and amount.
        let p = judged(&op(false, 1), 409, json!({"error": {"kind": "conflict"}}));
        assert_eq!((p.resolved.len(), p.violations.len()), (0, 1));
    }
}
