//! Probing every credit after the crashes: acknowledged REST credits must be answered
//! `applied: false` (they are in the ledger); unacknowledged ones (REST and hook) are sent again,
//! which tells whether they had been applied and applies them if not, so that afterwards every
//! credit is in the ledger exactly once and balances can be compared with the sums.

use std::net::SocketAddr;

use tokio::task::JoinSet;

use super::ledger::{Book, Credit, Probe, Sent, Via, judge_hook_probe};
use super::{balance, credit, until_ok};

/// Concurrent probes of REST credits (hook probes read balances around each one and so run one
/// at a time; they touch other customers than the REST probes).
const LANES: usize = 8;

/// What the probes found.
#[derive(Debug, Default)]
pub(crate) struct Probed {
    /// Unacknowledged credits that had been applied anyway (the crash came after the commit).
    pub(crate) found: u64,
    /// Unacknowledged credits that had not been applied (applied by the probe now).
    pub(crate) missing: u64,
    /// Broken promises.
    pub(crate) violations: Vec<String>,
}

impl Probed {
    fn merge(&mut self, other: Probed) {
        self.found += other.found;
        self.missing += other.missing;
        self.violations.extend(other.violations);
    }
}

fn resend(tx: &str, c: &Credit) -> Sent {
    Sent {
        customer: c.customer,
        tx: tx.to_owned(),
        amount: c.amount,
        via: c.via,
        acked: false,
    }
}

async fn probe_api(target: SocketAddr, credits: Vec<(String, Credit)>) -> anyhow::Result<Probed> {
    let mut out = Probed::default();
    for (tx, c) in credits {
        let s = resend(&tx, &c);
        let a = until_ok("probing a credit", || credit(target, &s)).await?;
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

async fn probe_hooks(target: SocketAddr, credits: Vec<(String, Credit)>) -> anyhow::Result<Probed> {
    let mut out = Probed::default();
    for (tx, c) in credits {
        let s = resend(&tx, &c);
        let before = balance(target, c.customer).await?;
        until_ok("probing a hook credit", || credit(target, &s)).await?;
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
pub(crate) async fn probe_all(target: SocketAddr, book: &Book) -> anyhow::Result<Probed> {
    let api: Vec<(String, Credit)> = book
        .credits
        .iter()
        .filter(|(_, c)| c.via == Via::Api)
        .map(|(tx, c)| (tx.clone(), c.clone()))
        .collect();
    let hooks: Vec<(String, Credit)> = book
        .credits
        .iter()
        .filter(|(_, c)| c.via == Via::Hook && !c.acked)
        .map(|(tx, c)| (tx.clone(), c.clone()))
        .collect();
    let mut set = JoinSet::new();
    for lane in 0..LANES {
        let share: Vec<_> = api.iter().skip(lane).step_by(LANES).cloned().collect();
        set.spawn(probe_api(target, share));
    }
    set.spawn(probe_hooks(target, hooks));
    let mut probed = Probed::default();
    while let Some(done) = set.join_next().await {
        probed.merge(done??);
    }
    Ok(probed)
}
