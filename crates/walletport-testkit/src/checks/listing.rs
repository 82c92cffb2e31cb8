//! Paged listing: every customer exactly once across pages, page sizes respected, filters.

use std::collections::BTreeMap;

use chrono::{TimeDelta, Utc};
use futures::TryStreamExt;
use walletport_core::{ListCustomers, Phone, Provider, ext::all_customers};

use crate::report::{CheckError, CheckResult, Context};
use crate::suite::Suite;

/// The most pages a walk follows before declaring the listing endless.
const MAX_PAGES: usize = 10_000;

/// Walks a listing page by page, checking each page's size; counts how often each of `watch`
/// appears.
async fn walk(
    provider: &dyn Provider,
    suite: &Suite,
    input: ListCustomers,
    watch: &[Phone],
) -> Result<BTreeMap<Phone, usize>, CheckError> {
    let mut seen: BTreeMap<Phone, usize> = watch.iter().map(|p| (p.clone(), 0)).collect();
    let limit = [input.page_size, suite.capability().max_page_size]
        .into_iter()
        .flatten()
        .min();
    let mut cursor = input.cursor.clone();
    for _ in 0..MAX_PAGES {
        let page = provider
            .customers()
            .list_customers(ListCustomers {
                cursor: cursor.clone(),
                ..input.clone()
            })
            .await
            .context("list")?;
        if let Some(limit) = limit {
            ensure!(
                page.items.len() <= limit as usize,
                "a page has {} items, more than the limit {limit}",
                page.items.len()
            );
        }
        for record in &page.items {
            if let Some(n) = seen.get_mut(&record.customer.phone) {
                *n += 1;
            }
        }
        match page.next {
            Some(next) if !page.items.is_empty() => {
                ensure!(
                    Some(&next) != cursor.as_ref(),
                    "the next cursor repeats the current one: {next}"
                );
                cursor = Some(next);
            }
            _ => return Ok(seen),
        }
    }
    Err(CheckError::Failed(format!(
        "the listing did not end within {MAX_PAGES} pages"
    )))
}

fn ensure_each_once(seen: &BTreeMap<Phone, usize>, what: &str) -> CheckResult {
    ensure_seen(seen, 1, what)
}

fn ensure_none(seen: &BTreeMap<Phone, usize>, what: &str) -> CheckResult {
    ensure_seen(seen, 0, what)
}

/// Fails naming every watched phone the listing showed other than `times` times.
fn ensure_seen(seen: &BTreeMap<Phone, usize>, times: usize, what: &str) -> CheckResult {
    let wrong: Vec<String> = seen
        .iter()
        .filter(|(_, n)| **n != times)
        .map(|(p, n)| format!("{p} seen {n} times"))
        .collect();
    ensure!(wrong.is_empty(), "{what}: {}", wrong.join(", "));
    Ok(())
}

/// Every customer shows up exactly once when walking all pages, and no page is larger than asked.
pub async fn listing_pages_cover_everything(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["customer_upsert", "customer_list"])?;
    let mut phones = Vec::new();
    for _ in 0..suite.options().listing_customers.max(1) {
        phones.push(suite.new_customer(provider, |_| {}).await?.customer.phone);
    }
    let input = ListCustomers {
        page_size: Some(suite.options().page_size.max(1)),
        ..ListCustomers::default()
    };
    let seen = walk(provider, suite, input.clone(), &phones).await?;
    ensure_each_once(&seen, "page by page")?;

    // The same through the core's stream helper.
    let all: Vec<_> = all_customers(provider, input)
        .try_collect()
        .await
        .context("all_customers")?;
    let mut counts: BTreeMap<Phone, usize> = phones.iter().map(|p| (p.clone(), 0)).collect();
    for record in &all {
        if let Some(n) = counts.get_mut(&record.customer.phone) {
            *n += 1;
        }
    }
    ensure_each_once(&counts, "through all_customers")
}

/// The registration-date filters include today's customers and exclude them outside the range.
pub async fn listing_filters_by_date(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["customer_upsert", "customer_list", "customer_list_by_date"])?;
    let phone = suite.new_customer(provider, |_| {}).await?.customer.phone;
    let watch = [phone];
    let now = Utc::now();
    let two_days = TimeDelta::days(2);
    let page_size = suite.capability().max_page_size.or(Some(100));
    let list = |from: Option<chrono::NaiveDate>, to: Option<chrono::NaiveDateTime>| ListCustomers {
        registered_from: from,
        registered_to: to,
        page_size,
        ..ListCustomers::default()
    };
    let cases = [
        (
            "from two days ago",
            list(Some((now - two_days).date_naive()), None),
            true,
        ),
        (
            "from in two days",
            list(Some((now + two_days).date_naive()), None),
            false,
        ),
        (
            "up to in two days",
            list(None, Some((now + two_days).naive_utc())),
            true,
        ),
        (
            "up to two days ago",
            list(None, Some((now - two_days).naive_utc())),
            false,
        ),
    ];
    for (what, input, included) in cases {
        let seen = walk(provider, suite, input, &watch).await?;
        if included {
            ensure_each_once(&seen, what)?;
        } else {
            ensure_none(&seen, what)?;
        }
    }
    Ok(())
}

/// A customer who never installed a card is listed as not installed and not as installed, and
/// the installed listing only holds customers with an installed card.
pub async fn listing_filters_by_installed(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&[
        "customer_upsert",
        "customer_list",
        "customer_list_by_installed",
    ])?;
    let phone = suite.new_customer(provider, |_| {}).await?.customer.phone;
    let watch = [phone];
    let page_size = suite.capability().max_page_size.or(Some(100));
    let input = |installed| ListCustomers {
        installed: Some(installed),
        page_size,
        ..ListCustomers::default()
    };
    ensure_each_once(
        &walk(provider, suite, input(false), &watch).await?,
        "installed = false",
    )?;
    ensure_none(
        &walk(provider, suite, input(true), &watch).await?,
        "installed = true",
    )?;
    let installed: Vec<_> = all_customers(provider, input(true))
        .try_collect()
        .await
        .context("all installed customers")?;
    for record in installed {
        ensure!(
            record.cards.is_empty() || record.cards.iter().any(|c| c.installed.any()),
            "{} is listed as installed but none of its cards is",
            record.customer.phone
        );
    }
    Ok(())
}
