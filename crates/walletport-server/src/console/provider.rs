//! The provider page: which vendor the gateway talks to, what it can do, whether it answers
//! (the same check `/healthz` runs, and the start-up check), and what the transport reports
//! about its requests and quota.

use axum::extract::State;
use maud::{Markup, html};
use walletport_core::{BalanceFields, Capability};
use walletport_http::{QuotaUsage, TransportStats};

use super::layout::{card, facts, page};
use super::outbox::age;
use super::{ConsoleResult, ConsoleState, Ctx, Nav};
use crate::api::health;
use crate::api::views::Health;

/// `yes` / `no`, read out as such.
fn yes_no(on: bool) -> &'static str {
    if on { "yes" } else { "no" }
}

/// A limit the vendor may declare, or "no limit declared".
fn limit(value: Option<u32>) -> String {
    value.map_or_else(|| "no limit declared".to_owned(), |v| v.to_string())
}

/// The reachability figures.
fn health_section(health: &Health, startup: &str) -> Markup {
    let vendor = if health.provider == "unchecked" {
        "unchecked (the vendor has no status call)"
    } else {
        health.provider.as_str()
    };
    card(
        "health",
        "Health",
        html! {
            (facts(&[
                ("Overall", &health.status),
                ("Store", &health.store),
                ("Vendor status call", &vendor),
                ("Start-up check", &startup),
            ]))
            p.muted { "The vendor's answer is reused for a while (vendor calls cost quota); /healthz reports the same." }
        },
    )
}

/// The balance fields the vendor's cards hold.
fn fields_section(fields: BalanceFields) -> Markup {
    card(
        "fields",
        "Balance fields on the card",
        html! {
            (facts(&[
                ("Points", &yes_no(fields.points)),
                ("Bonus %", &yes_no(fields.bonus_percent)),
                ("Discount %", &yes_no(fields.discount_percent)),
            ]))
            p.muted { "Values the card does not hold stay in the gateway's store only." }
        },
    )
}

/// The transport's counters, or "not reported".
fn quota_section(stats: Option<&TransportStats>) -> Markup {
    card(
        "quota",
        "Requests and quota",
        html! {
            @match stats {
                None => p { "Not reported: this gateway's provider transport exposes no counters." },
                Some(t) => {
                    (facts(&[
                        ("Vendor requests", &t.requests),
                        ("Attempts (with retries)", &t.attempts),
                        ("Retries", &t.retries),
                        ("Rejected by the vendor's rate limit", &t.rate_limited),
                        ("Failed requests", &t.failures),
                        ("Attempts that waited for the quota", &t.quota_waits),
                        ("Time spent waiting for the quota", &age(t.quota_wait_time)),
                        ("Time spent waiting between retries", &age(t.retry_wait_time)),
                    ]))
                    p.muted { "Counted since the gateway started." }
                }
            }
        },
    )
}

/// How full each window of the vendor plan is now, and any pause a `Retry-After` set.
fn windows_section(usage: Option<&Result<QuotaUsage, walletport_core::Error>>) -> Markup {
    card(
        "windows",
        "Quota windows",
        html! {
            @match usage {
                None => p { "This gateway's provider has no quota limiter: its requests are not paced." },
                Some(Err(e)) => p { "Cannot read the quota windows: " (e.message()) },
                Some(Ok(u)) if u.windows.is_empty() => p { "The plan has no window: requests are not limited." },
                Some(Ok(u)) => {
                    table aria-describedby="windows" {
                        thead { tr { th scope="col" { "Window" } th scope="col" { "Used" } th scope="col" { "Limit" } } }
                        tbody {
                            @for w in &u.windows {
                                tr {
                                    td { "per " (humantime::format_duration(w.window.per())) }
                                    td { (w.used) }
                                    td { (w.limit) @if w.limit < w.window.limit() { " (lowered from " (w.window.limit()) ")" } }
                                }
                            }
                        }
                    }
                    @if let Some(p) = u.paused_for {
                        p { strong { "Paused" } " for another " (age(p)) " after the vendor's rate-limit answer." }
                    }
                    p.muted {
                        @if u.shared { "Shared by every gateway on this database; requests wait for room instead of going over." }
                        @else { "Kept in this process; requests wait for room instead of going over." }
                    }
                }
            }
        },
    )
}

/// Every capability flag, on or off.
fn capability_table(cap: &Capability) -> Markup {
    html! {
        section aria-labelledby="capabilities" {
            h2 #capabilities { "Capabilities" }
            p.muted { "What the gateway may ask of this vendor; an operation that is off answers “unsupported” before any vendor request." }
            table aria-describedby="capabilities" {
                thead { tr { th scope="col" { "Capability" } th scope="col" { "Supported" } } }
                tbody {
                    @for (flag, on) in cap.flags() {
                        tr { td { code { (flag) } } td { (yes_no(on)) } }
                    }
                    tr { td { "Largest page" } td { (limit(cap.max_page_size)) } }
                    tr { td { "Most custom fields" } td { (limit(cap.max_fields)) } }
                    tr { td { "Longest push message" } td { (limit(cap.max_message_len)) } }
                }
            }
        }
    }
}

/// `GET /console/provider`: kind, health, balance fields, quota, capabilities.
pub(crate) async fn page_view(State(s): State<ConsoleState>, ctx: Ctx) -> ConsoleResult<Markup> {
    let gw = &s.api.gw;
    let info = gw.provider.info();
    let health = health(&s.api).await;
    let startup = gw.startup_check().to_string();
    let stats = gw.transport_stats.as_ref().map(|source| source());
    let usage = match &gw.quota {
        Some(limiter) => Some(limiter.usage().await),
        None => None,
    };
    let body = html! {
        h1 { "Provider" }
        (card("kind", "Kind", facts(&[
            ("Provider", &html! { strong { (info.name) } }),
            ("Adapter version", &info.version),
        ])))
        div.grid {
            (health_section(&health, &startup))
            (fields_section(gw.provider.balance_fields()))
            (quota_section(stats.as_ref()))
            (windows_section(usage.as_ref()))
        }
        (capability_table(&gw.provider.capability()))
    };
    Ok(page(&ctx, Nav::Provider, "Provider", body))
}
