//! A customer's page: profile, balance, cards (with install links and a QR code), the ledger
//! history a page at a time, and the forms of the actions (each confirmed on a second page).

use axum::extract::{Path, State};
use maud::{Markup, PreEscaped, html};
use qrcode::QrCode;
use qrcode::render::svg;
use rand::Rng as _;
use serde::Deserialize;
use walletport_core::{CustomerId, CustomerKey, Error};
use walletport_store::{EntryKind, LedgerPage, LedgerQuery, StoredCard, StoredCustomer};

use super::actions::Action;
use super::customers::{customer_href, display_name, installed_text};
use super::{ConsoleResult, ConsoleState, Ctx, Nav, PageQuery, csrf_form, layout, time};
use crate::state::Gateway;

/// The channels a push may go out on: form value and label.
const PUSH_CHANNELS: [(&str, &str); 3] = [
    ("wallet", "Wallet card"),
    ("webpush", "Web push"),
    ("telegram", "Telegram"),
];

/// Ledger entries per history page.
const HISTORY_PAGE: u32 = 20;

/// "Expiring soon" means within this many days.
const EXPIRING_DAYS: i64 = 30;

/// The page's query string: which history page.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct HistoryQuery {
    /// Show entries older than this entry id (the previous page's cursor).
    #[serde(default)]
    before: Option<i64>,
}

/// The stored customer with CRM id `raw` (from the URL), or a 404 page.
pub(crate) async fn load(gw: &Gateway, raw: &str) -> Result<StoredCustomer, Error> {
    gw.customer(&CustomerKey::Id(CustomerId::new(raw)?)).await
}

/// A link is rendered as a link only when it is a web address (never `javascript:` and the
/// like, whatever a vendor answered).
fn web_link(url: &str) -> Option<&str> {
    let lower = url.trim().to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(url.trim())
}

/// The install link of a card as a QR code, inline SVG (no external image, no inline style).
fn qr_svg(link: &str) -> Option<Markup> {
    let code = QrCode::new(link.as_bytes()).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(160, 160)
        .quiet_zone(true)
        .build();
    let start = image.find("<svg")?;
    let labelled = image[start..].replacen(
        "<svg ",
        "<svg role=\"img\" aria-label=\"QR code of the install link\" ",
        1,
    );
    Some(PreEscaped(labelled))
}

/// One card: vendor, number, status, install state, links and the QR code of the best link.
fn card_section(card: &StoredCard) -> Markup {
    let links = [
        ("Install page", card.links.page.as_deref()),
        ("Apple Wallet", card.links.apple.as_deref()),
        ("Google Wallet", card.links.google.as_deref()),
    ];
    let qr_link = links.iter().find_map(|(_, l)| l.and_then(web_link));
    html! {
        section.card aria-label={ "Card at " (card.provider) } {
            div.grid {
                dl {
                    dt { "Vendor" } dd { (card.provider) }
                    dt { "Card number" } dd { (card.number.as_deref().unwrap_or("—")) }
                    dt { "Card id" } dd { (card.vendor_card_id.as_ref().map_or("—", |c| c.as_str())) }
                    dt { "Status" } dd { (format!("{:?}", card.status).to_lowercase()) }
                    dt { "Installed" } dd { (installed_text(Some(card))) }
                    dt { "Since" } dd { (time(card.created_at)) }
                    dt { "Install links" }
                    dd {
                        @let any = links.iter().any(|(_, l)| l.is_some());
                        @if !any { "none yet" }
                        ul {
                            @for (label, link) in links {
                                @if let Some(link) = link {
                                    li {
                                        @if let Some(url) = web_link(link) {
                                            a href=(url) rel="noopener noreferrer" { (label) }
                                        } @else {
                                            (label) ": " code { (link) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if let Some(svg) = qr_link.and_then(qr_svg) {
                    figure.qr {
                        (svg)
                        figcaption.muted { "Scan to install the card" }
                    }
                }
            }
        }
    }
}

/// What a ledger entry kind is called on the page.
fn kind_label(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Credit => "Credit",
        EntryKind::Redemption => "Redemption",
        EntryKind::Expiry => "Expiry",
        EntryKind::Reversal => "Reversal",
        EntryKind::Adjustment => "Adjustment",
    }
}

/// The history table with a link to the next (older) page.
fn history_section(c: &StoredCustomer, page: &LedgerPage, paged: bool) -> Markup {
    html! {
        section aria-labelledby="history" {
            h2 id="history" { "History" }
            @if page.entries.is_empty() {
                p.muted { "No entries yet." }
            } @else {
                table {
                    caption.muted { "Newest first" }
                    thead { tr {
                        th scope="col" { "When" } th scope="col" { "What" }
                        th scope="col" class="num" { "Points" } th scope="col" class="num" { "Balance after" }
                        th scope="col" { "Transaction" } th scope="col" { "Expires" }
                    } }
                    tbody {
                        @for e in &page.entries {
                            tr {
                                td { (time(e.at)) }
                                td { (kind_label(e.kind)) }
                                td.num { (e.amount.normalize()) }
                                td.num { (e.balance_after.normalize()) }
                                td { (e.transaction_id.as_ref().map_or("—", |t| t.as_str())) }
                                td { @if let Some(at) = e.expires_at { (time(at)) } @else { "—" } }
                            }
                        }
                    }
                }
            }
            nav.pager aria-label="History pages" {
                @if paged { a href={ (customer_href(c)) "#history" } { "Newest entries" } }
                @if let Some(before) = page.next {
                    a href={ (customer_href(c)) "?before=" (before) "#history" } rel="next" { "Older entries" }
                }
            }
        }
    }
}

/// A fresh transaction id for a ledger form: repeating the confirmed form applies it once.
fn new_transaction_id() -> String {
    let n: u64 = rand::rng().random();
    format!("console-{n:016x}")
}

/// The action forms; each goes to its confirmation page first.
fn actions_section(ctx: &Ctx, c: &StoredCustomer) -> Markup {
    let form = |action: Action, fields: Markup| {
        csrf_form(
            ctx,
            &action.href(c),
            "card",
            html! {
                h3 { (action.title()) }
                (fields)
                button type="submit" { (action.title()) "…" }
            },
        )
    };
    html! {
        section aria-labelledby="actions" {
            h2 id="actions" { "Actions" }
            div.actions {
                (form(Action::Credit, html! {
                    (layout::named_field("credit-amount", "amount", "Points to add", "", true))
                    (layout::named_field("credit-lifetime", "lifetime", "Expire after (e.g. 90d; empty: never)", "", false))
                    (layout::named_field("credit-tx", "transaction_id", "Transaction id", &new_transaction_id(), true))
                }))
                (form(Action::Redeem, html! {
                    (layout::named_field("redeem-amount", "amount", "Points to spend", "", true))
                    (layout::named_field("redeem-tx", "transaction_id", "Transaction id", &new_transaction_id(), true))
                }))
                (form(Action::Percentages, html! {
                    (layout::named_field("bonus", "bonus_percent", "Bonus % (empty: unchanged)", &c.bonus_percent.value().normalize().to_string(), false))
                    (layout::named_field("discount", "discount_percent", "Discount % (empty: unchanged)", &c.discount_percent.value().normalize().to_string(), false))
                }))
                (form(Action::Push, html! {
                    (layout::message_fields("push-text", "text", "push-channel", &PUSH_CHANNELS))
                }))
                (form(Action::CardStatus, html! {
                    div.field {
                        label for="card-status" { "New card status" }
                        select id="card-status" name="status" {
                            option value="active" { "active" }
                            option value="voided" { "voided" }
                            option value="expired" { "expired" }
                            option value="redeemed" { "redeemed" }
                        }
                    }
                }))
                (form(Action::Resync, html! {
                    p.muted { "Queue the customer's full current state for the vendor card." }
                }))
            }
        }
    }
}

/// `GET /console/customers/{id}`: everything about one customer.
pub(crate) async fn page(
    State(s): State<ConsoleState>,
    ctx: Ctx,
    Path(id): Path<String>,
    PageQuery(q): PageQuery<HistoryQuery>,
) -> ConsoleResult<Markup> {
    let gw = &s.api.gw;
    let c = load(gw, &id).await?;
    let cards = gw.store.list_cards(&c.id).await?;
    let now = gw.now();
    let balance = gw.store.balance(&c.id, now).await?;
    let expiring = gw
        .store
        .expiring_points(&c.id, now, now + chrono::TimeDelta::days(EXPIRING_DAYS))
        .await?;
    let history = gw
        .store
        .ledger(
            &c.id,
            &LedgerQuery {
                before: q.before.filter(|b| *b > 0),
                limit: HISTORY_PAGE,
            },
        )
        .await?;
    let p = &c.customer;
    let body = html! {
        p { a href="/console/" { "← Customers" } }
        h1 { (display_name(&c)) }
        div.grid {
            section.card aria-labelledby="profile" {
                h2 id="profile" { "Profile" }
                dl {
                    dt { "Phone" } dd { (p.phone.as_str()) }
                    dt { "CRM id" } dd { code { (c.id.as_str()) } }
                    dt { "E-mail" } dd { (p.email.as_deref().unwrap_or("—")) }
                    dt { "Birthday" } dd { (p.birthday.map_or_else(|| "—".to_owned(), |d| d.to_string())) }
                    dt { "Referral code" } dd { (p.referral_code.as_deref().unwrap_or("—")) }
                    dt { "Customer since" } dd { (time(c.created_at)) }
                    dt { "Last change" } dd { (time(c.updated_at)) }
                }
            }
            section.card aria-labelledby="balance" {
                h2 id="balance" { "Balance" }
                dl {
                    dt { "Points" } dd.points { (balance.points.normalize()) }
                    dt { "Expiring within " (EXPIRING_DAYS) " days" }
                    dd.expiring { (expiring.normalize()) }
                    dt { "Bonus" } dd { (balance.bonus_percent.value().normalize()) " %" }
                    dt { "Discount" } dd { (balance.discount_percent.value().normalize()) " %" }
                }
                @if balance.points.is_sign_negative() {
                    p.muted { "A reversed credit whose points were spent: later credits pay this off first; the card shows 0 meanwhile." }
                }
            }
        }
        section aria-labelledby="cards" {
            h2 id="cards" { "Cards" }
            @if cards.is_empty() {
                p.muted { "No card yet: the outbox creates it at the vendor." }
            }
            @for card in &cards { (card_section(card)) }
        }
        (actions_section(&ctx, &c))
        (history_section(&c, &history, q.before.is_some()))
    };
    Ok(layout::page(&ctx, Nav::Customers, &display_name(&c), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_links_are_links_and_qr_codes_are_bare_svg() {
        assert_eq!(web_link(" https://x.test/a "), Some("https://x.test/a"));
        assert_eq!(web_link("javascript:alert(1)"), None);
        let svg = qr_svg("https://x.test/install/1").unwrap().into_string();
        assert!(svg.starts_with("<svg role=\"img\""), "{svg}");
        assert!(!svg.contains("<?xml") && !svg.contains("style"));
    }
}
