//! Steps 1–3 of the chaos audit, against a live gateway after the load: the balances lie in
//! the window the book allows, the probes settle every operation, and then each balance is the
//! one sum the book allows and the ledger agrees.

use std::net::SocketAddr;

use rust_decimal::Decimal;

use super::ledger::Book;
use super::{balance, history, verify, via_of};

/// What the audit after the load found.
pub(super) struct Audit {
    /// Each customer's final balance.
    pub(super) balances: Vec<Decimal>,
    /// Unacknowledged operations found applied by the probes.
    pub(super) found: u64,
    /// Unacknowledged operations found missing (and so applied now) by the probes.
    pub(super) missing: u64,
    /// Ledger entries read back.
    pub(super) ledger_entries: usize,
    /// What broke.
    pub(super) violations: Vec<String>,
}

/// Steps 1–3: the balances lie in the window the book allows; the probes settle every
/// operation; then each balance is the one sum the book allows and the ledger agrees.
pub(super) async fn audit(
    target: SocketAddr,
    book: &mut Book,
    customers: usize,
    hooks: bool,
) -> anyhow::Result<Audit> {
    let mut violations = Vec::new();
    let negative = |customer: usize, got: Decimal| {
        format!("customer {customer} has a negative balance: {got}")
    };

    // 1. Before the probes touch anything: within what the acknowledged operations and the
    //    attempts the crashes cut allow.
    for customer in 0..customers {
        let got = balance(target, customer).await?;
        let (low, high) = book.window(customer);
        if got < low || got > high {
            violations.push(format!(
                "customer {customer} ({:?}) has balance {got} after the load, outside the {low} to \
                 {high} its acknowledged and cut operations allow",
                via_of(customer, hooks)
            ));
        }
        if got < Decimal::ZERO {
            violations.push(negative(customer, got));
        }
    }

    // 2. Acknowledged operations are present; unacknowledged ones are probed (and so applied,
    //    points allowing).
    let mut probed = verify::probe_credits(target, book).await?;
    book.settle_credits();
    let redeemed = verify::probe_redemptions(target, book).await?;
    for (tx, applied) in &redeemed.resolved {
        book.resolve(tx, *applied);
    }
    probed.found += redeemed.found;
    probed.missing += redeemed.missing;
    violations.extend(probed.violations);
    violations.extend(redeemed.violations);
    let unresolved = book.unresolved();
    if unresolved > 0 {
        violations.push(format!(
            "{unresolved} operations are neither known applied nor known not applied after \
             the probes"
        ));
    }
    eprintln!(
        "chaos: unacknowledged operations: {} had been applied, {} had not",
        probed.found, probed.missing
    );

    // 3. Every operation exactly once: balances are the sums, and so are the ledgers.
    let mut balances = Vec::new();
    let mut ledger_entries = 0;
    let mut ledger_readable = true;
    for customer in 0..customers {
        let got = balance(target, customer).await?;
        let (want, high) = book.window(customer);
        if want != high {
            violations.push(format!(
                "customer {customer}: the probes left operations unresolved ({want} to {high})"
            ));
        } else if got != want {
            violations.push(format!(
                "customer {customer} ({:?}) has balance {got}, its credits less its applied \
                 redemptions are {want}",
                via_of(customer, hooks)
            ));
        }
        if got < Decimal::ZERO {
            violations.push(negative(customer, got));
        }
        if ledger_readable {
            match history::read(target, customer).await {
                Ok(entries) => {
                    ledger_entries += entries.len();
                    violations.extend(history::audit(customer, &entries, got, book));
                }
                Err(e) => {
                    // Reported once: the other customers' ledgers would say the same.
                    violations.push(format!("customer {customer}'s ledger: {e:#}"));
                    ledger_readable = false;
                }
            }
        }
        balances.push(got);
    }
    Ok(Audit {
        balances,
        found: probed.found,
        missing: probed.missing,
        ledger_entries,
        violations,
    })
}
