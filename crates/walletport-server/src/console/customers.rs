//! The landing page: the customers, a page at a time, with their card and balance; a search by
//! phone, name, card number or CRM id.

use axum::extract::State;
use maud::{Markup, html};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use walletport_core::{CardId, CustomerId, CustomerKey, Phone};
use walletport_store::{CustomerPage, CustomerSearch, ListCustomers, StoredCard, StoredCustomer};

use super::{ConsoleResult, ConsoleState, Ctx, Nav, PageQuery, layout};
use crate::state::Gateway;

/// Customers per page.
const PAGE_SIZE: u32 = 50;

/// The page's query string.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    /// What was searched for (phone, name, card number or CRM id); empty lists everyone.
    #[serde(default)]
    q: String,
    /// The cursor of the page to show.
    #[serde(default)]
    after: Option<String>,
}

/// One row of the table: the customer, their first card and their points.
struct Row {
    customer: StoredCustomer,
    card: Option<StoredCard>,
    points: rust_decimal::Decimal,
}

/// The customers an exact key names (phone, card number, CRM id), for the first result page.
async fn exact_matches(gw: &Gateway, text: &str) -> walletport_core::Result<Vec<StoredCustomer>> {
    let mut keys = Vec::new();
    if let Ok(phone) = Phone::parse(text) {
        keys.push(CustomerKey::Phone(phone));
    }
    if let Ok(card) = CardId::new(text) {
        keys.push(CustomerKey::Card(card));
    }
    if let Ok(id) = CustomerId::new(text) {
        keys.push(CustomerKey::Id(id));
    }
    let mut found: Vec<StoredCustomer> = Vec::new();
    for key in keys {
        if let Some(c) = gw.store.get_customer(&key).await?
            && !found.iter().any(|f| f.id == c.id)
        {
            found.push(c);
        }
    }
    Ok(found)
}

/// The customers to show: a page of everyone, or the exact matches followed by a page of
/// name and phone-prefix matches.
async fn find(gw: &Gateway, q: &ListQuery) -> walletport_core::Result<CustomerPage> {
    let text = q.q.trim();
    if text.is_empty() {
        return gw
            .store
            .list_customers(&ListCustomers {
                after: q.after.clone(),
                limit: PAGE_SIZE,
            })
            .await;
    }
    let mut exact = if q.after.is_none() {
        exact_matches(gw, text).await?
    } else {
        Vec::new()
    };
    let page = gw
        .store
        .search_customers(&CustomerSearch {
            text: text.to_owned(),
            after: q.after.clone(),
            limit: PAGE_SIZE,
        })
        .await?;
    for c in page.customers {
        if !exact.iter().any(|e| e.id == c.id) {
            exact.push(c);
        }
    }
    Ok(CustomerPage {
        customers: exact,
        next: page.next,
    })
}

/// Adds each customer's first card and points (a constant number of reads per row).
async fn rows(gw: &Gateway, customers: Vec<StoredCustomer>) -> walletport_core::Result<Vec<Row>> {
    let now = gw.now();
    let mut rows = Vec::with_capacity(customers.len());
    for customer in customers {
        let card = gw.store.list_cards(&customer.id).await?.into_iter().next();
        let points = gw.store.balance(&customer.id, now).await?.points;
        rows.push(Row {
            customer,
            card,
            points,
        });
    }
    Ok(rows)
}

/// A customer's full name, or a dash.
pub(crate) fn display_name(c: &StoredCustomer) -> String {
    let parts: Vec<&str> = [
        &c.customer.name,
        &c.customer.middle_name,
        &c.customer.surname,
    ]
    .into_iter()
    .filter_map(|p| p.as_deref())
    .filter(|p| !p.trim().is_empty())
    .collect();
    if parts.is_empty() {
        "—".to_owned()
    } else {
        parts.join(" ")
    }
}

/// Where a card is installed, in words.
pub(crate) fn installed_text(card: Option<&StoredCard>) -> &'static str {
    match card.map(|c| (c.installed.apple, c.installed.google)) {
        None => "no card",
        Some((true, true)) => "Apple and Google Wallet",
        Some((true, false)) => "Apple Wallet",
        Some((false, true)) => "Google Wallet",
        Some((false, false)) => "not installed",
    }
}

/// The link to a customer's page.
pub(crate) fn customer_href(c: &StoredCustomer) -> String {
    format!("/console/customers/{}", urlencode(c.id.as_str()))
}

/// Everything but RFC 3986's unreserved characters, which a path segment or query value keeps.
const RESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes `s` for a URL path segment or query value.
pub(crate) fn urlencode(s: &str) -> String {
    utf8_percent_encode(s, RESERVED).to_string()
}

/// `GET /console/`: the customers table with search and paging.
pub(crate) async fn page(
    State(s): State<ConsoleState>,
    ctx: Ctx,
    PageQuery(q): PageQuery<ListQuery>,
) -> ConsoleResult<Markup> {
    let gw = &s.api.gw;
    let found = find(gw, &q).await?;
    let rows = rows(gw, found.customers).await?;
    let searching = !q.q.trim().is_empty();
    let next_href = found.next.as_deref().map(|next| {
        format!(
            "/console/?q={}&after={}",
            urlencode(q.q.trim()),
            urlencode(next)
        )
    });
    let body = html! {
        h1 { "Customers" }
        form method="get" action="/console/" role="search" class="inline" {
            div.field {
                label for="q" { "Phone, name, card number or CRM id" }
                input type="search" id="q" name="q" value=(q.q) autocomplete="off";
            }
            button type="submit" { "Search" }
            @if searching { a href="/console/" { "Show everyone" } }
        }
        @if rows.is_empty() {
            p.muted {
                @if searching { "No customer matches “" (q.q.trim()) "”." }
                @else { "No customers yet. Customers created through the API or an import show up here." }
            }
        } @else {
            table {
                caption.muted {
                    @if searching { "Customers matching “" (q.q.trim()) "”" } @else { "All customers, oldest first" }
                }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Phone" }
                    th scope="col" { "Card number" } th scope="col" class="num" { "Balance" }
                    th scope="col" { "Installed" }
                } }
                tbody {
                    @for row in &rows {
                        tr {
                            td { a href=(customer_href(&row.customer)) { (display_name(&row.customer)) } }
                            td { (row.customer.customer.phone.as_str()) }
                            td { (row.card.as_ref().and_then(|c| c.number.as_deref()).unwrap_or("—")) }
                            td.num { (row.points.normalize()) }
                            td { (installed_text(row.card.as_ref())) }
                        }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if q.after.is_some() {
                a href={ "/console/?q=" (urlencode(q.q.trim())) } { "First page" }
            }
            @if let Some(href) = next_href { a href=(href) rel="next" { "Next page" } }
        }
    };
    Ok(layout::page(&ctx, Nav::Customers, "Customers", body))
}

#[cfg(test)]
mod tests {
    use super::urlencode;

    #[test]
    fn links_keep_unreserved_characters_and_encode_the_rest() {
        assert_eq!(urlencode("abc-1_2.3~"), "abc-1_2.3~");
        assert_eq!(urlencode("+420 1/é?&="), "%2B420%201%2F%C3%A9%3F%26%3D");
    }
}
