//! The page frame every console page shares: head, navigation, flash messages, the `<main>`
//! slot, and small pieces used across pages (times, CSRF forms).

use chrono::{DateTime, SecondsFormat, Utc};
use maud::{DOCTYPE, Markup, Render, html};

use super::auth::Ctx;
use super::session::FlashKind;

/// The navigation entry a page belongs to (marked `aria-current="page"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    /// The customers list and customer pages.
    Customers,
    /// The outbox and its dead letters.
    Outbox,
    /// Campaigns.
    Campaigns,
    /// The provider's kind, capabilities, health and quota.
    Provider,
    /// CSV import.
    Import,
}

/// The navigation entries: which, link, label.
const NAV: [(Nav, &str, &str); 5] = [
    (Nav::Customers, "/console/", "Customers"),
    (Nav::Outbox, "/console/outbox", "Outbox"),
    (Nav::Campaigns, "/console/campaigns", "Campaigns"),
    (Nav::Provider, "/console/provider", "Provider"),
    (Nav::Import, "/console/import", "Import"),
];

/// `<head>` with the title, the stylesheet and the script (no inline code: CSP-friendly).
fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · walletport" }
            link rel="stylesheet" href="/console/static/console.css";
            script src="/console/static/console.js" defer {}
        }
    }
}

/// A full page for a session: navigation (with sign-out), the session's flash messages, then
/// `main` inside `<main>`.
pub(crate) fn page(ctx: &Ctx, nav: Nav, title: &str, main: Markup) -> Markup {
    let flashes = ctx.take_flashes();
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header {
                    nav aria-label="Console" {
                        span.brand { "walletport" }
                        ul {
                            @for (entry, href, label) in NAV {
                                li {
                                    @if entry == nav {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                        @if ctx.token_required {
                            (csrf_form(ctx, "/console/sign-out", "sign-out", html! {
                                button type="submit" class="secondary" { "Sign out" }
                            }))
                        }
                    }
                }
                main {
                    @for flash in &flashes {
                        @match flash.kind {
                            FlashKind::Ok => p.flash.ok role="status" { (flash.text) },
                            FlashKind::Error => p.flash.error role="alert" { (flash.text) },
                        }
                    }
                    (main)
                }
            }
        }
    }
}

/// A page without navigation or session (sign-in, error pages).
pub(crate) fn bare_page(title: &str, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header { span.brand { "walletport" } }
                main { (main) }
            }
        }
    }
}

/// A `POST` form to `action` carrying the session's CSRF token, with `class` and `body`.
pub(crate) fn csrf_form(ctx: &Ctx, action: &str, class: &str, body: Markup) -> Markup {
    html! {
        form method="post" action=(action) class=(class) {
            input type="hidden" name="csrf" value=(ctx.csrf());
            (body)
        }
    }
}

/// A `section.card` headed by an `h2` with `id` and `title`, which labels the section, then
/// `body`: the console's usual box of figures or a form.
pub(crate) fn card(id: &str, title: &str, body: Markup) -> Markup {
    html! {
        section.card aria-labelledby=(id) {
            h2 id=(id) { (title) }
            (body)
        }
    }
}

/// A `dl` of figures: each label as a `dt` followed by its value as a `dd`, the console's usual
/// way to show a box of facts.
pub(crate) fn facts(rows: &[(&str, &dyn Render)]) -> Markup {
    html! {
        dl {
            @for (label, value) in rows { dt { (label) } dd { (value) } }
        }
    }
}

/// The two fields of a message form: a required message box (`text_id`, sent as `text_name`)
/// and the channel choice (`channel_id`, sent as `channel`) among `channels` (form value and
/// label), the first one preselected.
pub(crate) fn message_fields(
    text_id: &str,
    text_name: &str,
    channel_id: &str,
    channels: &[(&str, &str)],
) -> Markup {
    html! {
        div.field {
            label for=(text_id) { "Message" }
            textarea id=(text_id) name=(text_name) rows="3" required {}
        }
        div.field {
            label for=(channel_id) { "Channel" }
            select id=(channel_id) name="channel" {
                @for (i, (value, label)) in channels.iter().enumerate() {
                    option value=(value) selected[i == 0] { (label) }
                }
            }
        }
    }
}

/// An instant as `<time>`: UTC text, which `console.js` rewrites in the browser's time zone.
pub(crate) fn time(at: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(at.to_rfc3339_opts(SecondsFormat::Secs, true)) {
            (at.format("%Y-%m-%d %H:%M UTC"))
        }
    }
}

/// A labelled text input (`<label for>` + `<input id>`), the console's usual form row; its
/// field name is its id.
pub(crate) fn text_field(id: &str, label: &str, value: &str, required: bool) -> Markup {
    named_field(id, id, label, value, required)
}

/// A labelled text input whose field `name` differs from its `id` (several forms on one page
/// sending the same field).
pub(crate) fn named_field(
    id: &str,
    name: &str,
    label: &str,
    value: &str,
    required: bool,
) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            input type="text" id=(id) name=(name) value=(value) required[required];
        }
    }
}
