//! The outbox page: how much waits for the vendor and since when, who it waits for, and the
//! dead letters with their last error, each retried (or all at once) through a confirm step.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::Redirect;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use walletport_core::{CustomerId, CustomerKey};
use walletport_store::{MAX_PAGE, OutboxId, OutboxItem, OutboxList, OutboxStats};

use super::auth::NoFields;
use super::customers::{display_name, urlencode};
use super::layout::{card, facts, page};
use super::{
    ConsoleResult, ConsoleState, CsrfForm, Ctx, FlashKind, Nav, PageQuery, csrf_form, time,
};
use crate::state::Gateway;

/// Waiting items read for the per-customer table (the first page only; the page says so).
const WAITING_PAGE: u32 = 100;

/// Dead letters per page.
const DEAD_PAGE: u32 = 50;

/// The most dead letters one "retry all" moves, so the request stays within its timeout; the
/// page says how many are left, and the operator retries again.
const RETRY_ALL_MAX: u64 = 2_000;

/// The page's query string.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct OutboxQuery {
    /// The dead letter after which the dead-letter page starts.
    #[serde(default)]
    dead_after: Option<String>,
}

/// A duration to the second, in words (`3m 12s`).
pub(crate) fn age(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// The link to a customer's page by store id.
fn customer_link(id: &CustomerId) -> String {
    format!("/console/customers/{}", urlencode(id.as_str()))
}

/// One customer's waiting items in the first page.
struct Waiting {
    /// How many items.
    items: u64,
    /// Their kinds, each once.
    kinds: Vec<&'static str>,
    /// When the oldest was enqueued.
    oldest: DateTime<Utc>,
    /// True when a worker holds them.
    in_flight: bool,
    /// The most failed attempts of any of them.
    attempts: u32,
    /// The last error of any of them.
    last_error: Option<String>,
}

/// Groups waiting items by customer, oldest customer first.
fn per_customer(items: &[OutboxItem]) -> Vec<(CustomerId, Waiting)> {
    let mut by: BTreeMap<&str, (CustomerId, Waiting)> = BTreeMap::new();
    for item in items {
        let (_, w) = by.entry(item.customer_id.as_str()).or_insert_with(|| {
            (
                item.customer_id.clone(),
                Waiting {
                    items: 0,
                    kinds: Vec::new(),
                    oldest: item.created_at,
                    in_flight: false,
                    attempts: 0,
                    last_error: None,
                },
            )
        });
        w.items += 1;
        if !w.kinds.contains(&item.kind.as_str()) {
            w.kinds.push(item.kind.as_str());
        }
        w.oldest = w.oldest.min(item.created_at);
        w.in_flight |= item.state == walletport_store::OutboxState::InFlight;
        w.attempts = w.attempts.max(item.attempts);
        if item.last_error.is_some() {
            w.last_error.clone_from(&item.last_error);
        }
    }
    let mut rows: Vec<_> = by.into_values().collect();
    rows.sort_by_key(|(_, w)| w.oldest);
    rows
}

/// The name and phone of each customer in `ids` (one indexed lookup each; the list is bounded).
async fn names(gw: &Gateway, ids: &[&CustomerId]) -> walletport_core::Result<Vec<String>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let found = gw
            .store
            .get_customer(&CustomerKey::Id((*id).clone()))
            .await?;
        out.push(found.map_or_else(
            || id.as_str().to_owned(),
            |c| format!("{} ({})", display_name(&c), c.customer.phone.as_str()),
        ));
    }
    Ok(out)
}

/// The dead letter `id`, or `NotFound`.
async fn dead_letter(gw: &Gateway, id: OutboxId) -> walletport_core::Result<OutboxItem> {
    let before = (id.0 > 1).then(|| OutboxId(id.0 - 1));
    gw.store
        .list_outbox(OutboxList::Dead, before, 1, gw.now())
        .await?
        .into_iter()
        .find(|item| item.id == id)
        .ok_or_else(|| walletport_core::Error::not_found(format!("there is no dead letter {id}")))
}

/// The summary figures.
fn stats_card(stats: &OutboxStats) -> Markup {
    let oldest = stats
        .oldest_age
        .map_or_else(|| "nothing waits".to_owned(), |a| format!("{} old", age(a)));
    card(
        "depth",
        "Waiting for the vendor",
        facts(&[
            ("Depth (waiting or in flight)", &stats.depth),
            ("In flight (claimed by a worker)", &stats.in_flight),
            ("Oldest waiting item", &oldest),
            ("Customers with waiting items", &stats.customers),
            ("Dead letters", &stats.dead),
        ]),
    )
}

/// The waiting items of the first page, per customer.
fn waiting_table(rows: &[(CustomerId, Waiting)], labels: &[String], truncated: bool) -> Markup {
    html! {
        h2 #waiting { "Waiting items per customer" }
        @if rows.is_empty() {
            p.muted { "Nothing waits: every change has reached the vendor." }
        } @else {
            @if truncated {
                p.muted { "Showing the customers of the oldest " (WAITING_PAGE) " waiting items only; the figures above count everything." }
            }
            table aria-describedby="waiting" {
                thead { tr {
                    th scope="col" { "Customer" } th scope="col" class="num" { "Items" }
                    th scope="col" { "Changes" } th scope="col" { "Waiting since" }
                    th scope="col" { "State" } th scope="col" class="num" { "Failed attempts" }
                    th scope="col" { "Last error" }
                } }
                tbody {
                    @for ((id, w), label) in rows.iter().zip(labels) {
                        tr {
                            td { a href=(customer_link(id)) { (label) } }
                            td.num { (w.items) }
                            td { (w.kinds.join(", ")) }
                            td { (time(w.oldest)) }
                            td { @if w.in_flight { "in flight" } @else { "waiting" } }
                            td.num { (w.attempts) }
                            td { (w.last_error.as_deref().unwrap_or("—")) }
                        }
                    }
                }
            }
        }
    }
}

/// The dead letters of one page, each with its retry link.
fn dead_table(items: &[OutboxItem], labels: &[String]) -> Markup {
    html! {
        table aria-describedby="dead" {
            thead { tr {
                th scope="col" class="num" { "Id" } th scope="col" { "Customer" }
                th scope="col" { "Change" } th scope="col" class="num" { "Attempts" }
                th scope="col" { "Dead since" } th scope="col" { "Last error" }
                th scope="col" { "Action" }
            } }
            tbody {
                @for (item, label) in items.iter().zip(labels) {
                    tr {
                        td.num { (item.id) }
                        td { a href=(customer_link(&item.customer_id)) { (label) } }
                        td { (item.kind.as_str()) }
                        td.num { (item.attempts) }
                        td { @match item.died_at { Some(at) => (time(at)), None => "—" } }
                        td { (item.last_error.as_deref().unwrap_or("—")) }
                        td { a href={ "/console/outbox/dead/" (item.id) "/retry" } aria-label={ "Retry dead letter " (item.id) } { "Retry…" } }
                    }
                }
            }
        }
    }
}

/// `GET /console/outbox`: the figures, the waiting items per customer, the dead letters.
pub(crate) async fn page_view(
    State(s): State<ConsoleState>,
    ctx: Ctx,
    PageQuery(q): PageQuery<OutboxQuery>,
) -> ConsoleResult<Markup> {
    let gw = &s.api.gw;
    let now = gw.now();
    let dead_after = q
        .dead_after
        .as_deref()
        .filter(|a| !a.trim().is_empty())
        .map(str::parse::<OutboxId>)
        .transpose()?;
    let stats = gw.store.outbox_stats(now).await?;
    let waiting = gw
        .store
        .list_outbox(OutboxList::Pending, None, WAITING_PAGE, now)
        .await?;
    let truncated = u32::try_from(waiting.len()).is_ok_and(|n| n == WAITING_PAGE);
    let rows = per_customer(&waiting);
    let waiting_labels = names(gw, &rows.iter().map(|(id, _)| id).collect::<Vec<_>>()).await?;
    let dead = gw
        .store
        .list_outbox(OutboxList::Dead, dead_after, DEAD_PAGE, now)
        .await?;
    let dead_labels = names(gw, &dead.iter().map(|i| &i.customer_id).collect::<Vec<_>>()).await?;
    let next = (u32::try_from(dead.len()).is_ok_and(|n| n == DEAD_PAGE))
        .then(|| dead.last().map(|i| i.id))
        .flatten();
    let body = html! {
        h1 { "Outbox" }
        p.muted { "Every change the vendor must see waits here until the worker has delivered it. A change the vendor refused for good becomes a dead letter; retry it once the cause is fixed." }
        (stats_card(&stats))
        (waiting_table(&rows, &waiting_labels, truncated))
        h2 #dead { "Dead letters" }
        @if dead.is_empty() {
            p.muted { @if dead_after.is_some() { "No more dead letters." } @else { "No dead letters." } }
        } @else {
            p { a href="/console/outbox/retry-all" { "Retry all dead letters…" } }
            (dead_table(&dead, &dead_labels))
        }
        nav.pager aria-label="Dead letter pages" {
            @if dead_after.is_some() { a href="/console/outbox" { "First page" } }
            @if let Some(id) = next { a href={ "/console/outbox?dead_after=" (id) } rel="next" { "Next page" } }
        }
    };
    Ok(page(&ctx, Nav::Outbox, "Outbox", body))
}

/// A confirm step: what will happen, the button that does it (a CSRF-protected `POST` to
/// `action` carrying the `hidden` fields), and a way back to `back`.
pub(crate) struct Confirm<'a> {
    /// The navigation entry and the page's title.
    pub(crate) nav: Nav,
    /// The heading.
    pub(crate) title: &'a str,
    /// What the button will do, in words.
    pub(crate) what: Markup,
    /// Where the form posts.
    pub(crate) action: &'a str,
    /// Fields the form carries besides the CSRF token.
    pub(crate) hidden: &'a [(&'a str, &'a str)],
    /// The button's label.
    pub(crate) button: &'a str,
    /// Where "Cancel" leads.
    pub(crate) back: &'a str,
}

impl Confirm<'_> {
    /// The confirm page for the session `ctx`.
    pub(crate) fn render(self, ctx: &Ctx) -> Markup {
        page(
            ctx,
            self.nav,
            self.title,
            html! {
                h1 { (self.title) }
                (self.what)
                div.inline {
                    (csrf_form(ctx, self.action, "confirm", html! {
                        @for (name, value) in self.hidden {
                            input type="hidden" name=(name) value=(value);
                        }
                        button type="submit" { (self.button) }
                    }))
                    a href=(self.back) { "Cancel" }
                }
            },
        )
    }
}

/// `GET /console/outbox/dead/{id}/retry`: the dead letter and the button that retries it.
pub(crate) async fn confirm_retry(
    State(s): State<ConsoleState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> ConsoleResult<Markup> {
    let gw = &s.api.gw;
    let item = dead_letter(gw, id.parse()?).await?;
    let label = names(gw, &[&item.customer_id]).await?.join("");
    let what = html! {
        p { "Dead letter " (item.id) " (" (item.kind.as_str()) " change of " (label) ") goes back into the outbox as a new item, due now. The worker then sends the customer's current state to the vendor." }
        p { "Its last error: " (item.last_error.as_deref().unwrap_or("none recorded")) }
    };
    let action = format!("/console/outbox/dead/{}/retry", item.id);
    Ok(Confirm {
        nav: Nav::Outbox,
        title: "Retry a dead letter",
        what,
        action: &action,
        hidden: &[],
        button: "Retry this dead letter",
        back: "/console/outbox",
    }
    .render(&ctx))
}

/// `POST /console/outbox/dead/{id}/retry`: moves the dead letter back (CSRF checked first).
pub(crate) async fn retry(
    State(s): State<ConsoleState>,
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> ConsoleResult<Redirect> {
    let gw = &s.api.gw;
    let id: OutboxId = id.parse()?;
    match gw.store.retry_dead(id, gw.now()).await {
        Ok(new) => ctx.flash(
            FlashKind::Ok,
            format!("Dead letter {id} is back in the outbox as item {new}."),
        ),
        Err(e) => ctx.flash_failure(format_args!("Dead letter {id} was not retried"), &e),
    }
    Ok(Redirect::to("/console/outbox"))
}

/// `GET /console/outbox/retry-all`: how many dead letters there are, and the button.
pub(crate) async fn confirm_retry_all(
    State(s): State<ConsoleState>,
    ctx: Ctx,
) -> ConsoleResult<Markup> {
    let gw = &s.api.gw;
    let dead = gw.store.outbox_stats(gw.now()).await?.dead;
    let what = html! {
        p { "All " (dead) " dead letters go back into the outbox as new items, due now"
            @if dead > RETRY_ALL_MAX { " (" (RETRY_ALL_MAX) " per click; retry again for the rest)" }
            ". Retry only once the cause of their errors is fixed, or they come back as dead letters." }
    };
    Ok(Confirm {
        nav: Nav::Outbox,
        title: "Retry all dead letters",
        what,
        action: "/console/outbox/retry-all",
        hidden: &[],
        button: "Retry all dead letters",
        back: "/console/outbox",
    }
    .render(&ctx))
}

/// Retries dead letters oldest first, at most [`RETRY_ALL_MAX`]: how many moved, and the error
/// that stopped it early, if any (those moved before it stay moved).
async fn retry_all_dead(gw: &Gateway) -> (u64, Option<walletport_core::Error>) {
    let mut moved = 0;
    let mut after = None;
    while moved < RETRY_ALL_MAX {
        let batch = match gw
            .store
            .list_outbox(OutboxList::Dead, after, MAX_PAGE, gw.now())
            .await
        {
            Ok(batch) => batch,
            Err(e) => return (moved, Some(e)),
        };
        let Some(last) = batch.last() else { break };
        after = Some(last.id);
        for item in batch
            .iter()
            .take(usize::try_from(RETRY_ALL_MAX - moved).unwrap_or(usize::MAX))
        {
            match gw.store.retry_dead(item.id, gw.now()).await {
                Ok(_) => moved += 1,
                // Retried meanwhile by someone else: nothing to do.
                Err(e) if e.kind() == walletport_core::ErrorKind::NotFound => {}
                Err(e) => return (moved, Some(e)),
            }
        }
    }
    (moved, None)
}

/// `POST /console/outbox/retry-all`: moves the dead letters back (CSRF checked first).
pub(crate) async fn retry_all(
    State(s): State<ConsoleState>,
    ctx: Ctx,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> ConsoleResult<Redirect> {
    let gw = &s.api.gw;
    let (moved, error) = retry_all_dead(gw).await;
    match error {
        None => {
            let left = gw.store.outbox_stats(gw.now()).await?.dead;
            let rest = if left > 0 {
                format!(" {left} remain; retry again for the rest.")
            } else {
                String::new()
            };
            ctx.flash(
                FlashKind::Ok,
                format!("{moved} dead letter(s) are back in the outbox.{rest}"),
            );
        }
        Some(e) => ctx.flash_failure(
            format_args!("Retrying stopped after {moved} dead letter(s)"),
            &e,
        ),
    }
    Ok(Redirect::to("/console/outbox"))
}
