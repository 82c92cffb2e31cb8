//! The campaigns page: create a campaign at the vendor and send it (after a confirm step), where
//! the provider's capability allows; a disabled control says why when it does not. Both
//! actions run the REST API's own code ([`crate::api::create_campaign_at_vendor`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Redirect;
use maud::{Markup, html};
use serde::Deserialize;
use walletport_core::Capability;

use super::customers::urlencode;
use super::layout::{card, message_fields, page};
use super::outbox::Confirm;
use super::{
    ConsoleError, ConsoleResult, ConsoleState, CsrfForm, Ctx, FlashKind, Nav, PageQuery, csrf_form,
    text_field,
};
use crate::api::views::CampaignInput;
use crate::api::{create_campaign_at_vendor, send_campaign_at_vendor};

/// The channels a campaign may go out on: form value and label.
const CHANNELS: [(&str, &str); 3] = [
    ("wallet", "Wallet notification"),
    ("webpush", "Web push"),
    ("telegram", "Telegram"),
];

/// The page's query string: the campaign just created (pre-fills the send form).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CampaignsQuery {
    /// The id of the campaign just created.
    #[serde(default)]
    created: Option<String>,
}

/// The create form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct CreateForm {
    /// The text.
    #[serde(default)]
    message: String,
    /// `wallet`, `webpush` or `telegram`.
    #[serde(default)]
    channel: String,
    /// A name for the vendor's overview (optional).
    #[serde(default)]
    name: String,
    /// A segment id (optional; everyone when empty).
    #[serde(default)]
    segment: String,
}

/// The send form's fields (confirm page and action).
#[derive(Debug, Deserialize)]
pub(crate) struct SendForm {
    /// The campaign id the vendor gave.
    #[serde(default)]
    id: String,
}

/// `Some(text)` for a non-blank field.
fn given(field: &str) -> Option<String> {
    Some(field.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Why the provider cannot do something, or `None` when it can.
fn unsupported(provider: &str, on: bool, what: &str, flag: &str) -> Option<String> {
    (!on).then(|| {
        format!(
            "{provider} does not support {what} (capability `{flag}` is off), so this is disabled."
        )
    })
}

/// The create form, disabled with its reason when the provider cannot create campaigns.
fn create_section(ctx: &Ctx, provider: &str, cap: &Capability) -> Markup {
    let why = |on, what, flag| unsupported(provider, on, what, flag);
    let blocked = why(cap.campaign_create, "creating campaigns", "campaign_create");
    let no_segment = why(cap.campaign_segment, "segments", "campaign_segment");
    card(
        "create",
        "Create a campaign",
        html! {
            @if let Some(why) = &blocked { p.muted #create-why { (why) } }
            (csrf_form(ctx, "/console/campaigns", "create", html! {
                fieldset disabled[blocked.is_some()] aria-describedby=[blocked.as_ref().map(|_| "create-why")] {
                    legend { "The message every recipient gets" }
                    (message_fields("message", "message", "channel", &CHANNELS))
                    (text_field("name", "Name (for the vendor's overview, optional)", "", false))
                    div.field {
                        label for="segment" { "Segment id (optional; everyone when empty)" }
                        input type="text" id="segment" name="segment" disabled[no_segment.is_some()]
                            aria-describedby=[no_segment.as_ref().map(|_| "segment-why")];
                        @if let Some(why) = &no_segment { span.muted #segment-why { (why) } }
                    }
                    button type="submit" { "Create campaign" }
                }
            }))
        },
    )
}

/// The send form (a `GET` to the confirm step), disabled with its reason when the provider
/// cannot send campaigns.
fn send_section(provider: &str, cap: &Capability, created: &str) -> Markup {
    let blocked = unsupported(
        provider,
        cap.campaign_send,
        "sending campaigns",
        "campaign_send",
    );
    card(
        "send",
        "Send a campaign",
        html! {
            @if let Some(why) = &blocked { p.muted #send-why { (why) } }
            form method="get" action="/console/campaigns/send" {
                fieldset disabled[blocked.is_some()] aria-describedby=[blocked.as_ref().map(|_| "send-why")] {
                    legend { "A campaign created before, by its id" }
                    (text_field("id", "Campaign id", created, true))
                    button type="submit" { "Send…" }
                }
            }
        },
    )
}

/// `GET /console/campaigns`: the create and send forms.
pub(crate) async fn page_view(
    State(s): State<ConsoleState>,
    ctx: Ctx,
    PageQuery(q): PageQuery<CampaignsQuery>,
) -> ConsoleResult<Markup> {
    let gw = &s.api.gw;
    let provider = gw.provider.info().name;
    let cap = gw.provider.capability();
    let created = q.created.unwrap_or_default();
    let body = html! {
        h1 { "Campaigns" }
        p.muted { "A campaign is a message to every card holder (or a segment), created and sent at the vendor (" (provider) "). The vendor keeps the campaigns; create one here, then send it." }
        div.grid {
            (create_section(&ctx, provider, &cap))
            (send_section(provider, &cap, &created))
        }
    };
    Ok(page(&ctx, Nav::Campaigns, "Campaigns", body))
}

/// `POST /console/campaigns`: creates the campaign at the vendor (CSRF checked first).
pub(crate) async fn create(
    State(s): State<ConsoleState>,
    ctx: Ctx,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> ConsoleResult<Redirect> {
    let input = CampaignInput {
        message: form.message,
        channel: given(&form.channel),
        name: given(&form.name),
        segment: given(&form.segment),
    };
    match create_campaign_at_vendor(&s.api.gw, input).await {
        Ok(record) => {
            ctx.flash(
                FlashKind::Ok,
                format!("Campaign {} created; it is not sent yet.", record.id),
            );
            let id = record.id.to_string();
            Ok(Redirect::to(&format!(
                "/console/campaigns?created={}#send",
                urlencode(&id)
            )))
        }
        Err(e) => {
            ctx.flash_failure("The campaign was not created", &e);
            Ok(Redirect::to("/console/campaigns"))
        }
    }
}

/// `GET /console/campaigns/send?id=…`: what sending does, and the button.
pub(crate) async fn confirm_send(
    State(s): State<ConsoleState>,
    ctx: Ctx,
    PageQuery(form): PageQuery<SendForm>,
) -> ConsoleResult<Markup> {
    let provider = s.api.gw.provider.info().name;
    let id = form.id.trim();
    if id.is_empty() {
        return Err(ConsoleError::new(
            StatusCode::BAD_REQUEST,
            "No campaign id was given; go back and enter one.",
        ));
    }
    Ok(Confirm {
        nav: Nav::Campaigns,
        title: "Send a campaign",
        what: html! {
            p { "Campaign " strong { (id) } " goes out now, through " (provider) ", to everyone it was created for. A sent campaign cannot be recalled." }
        },
        action: "/console/campaigns/send",
        hidden: &[("id", id)],
        button: "Send the campaign",
        back: "/console/campaigns",
    }
    .render(&ctx))
}

/// `POST /console/campaigns/send`: sends the campaign at the vendor (CSRF checked first).
pub(crate) async fn send(
    State(s): State<ConsoleState>,
    ctx: Ctx,
    CsrfForm(form): CsrfForm<SendForm>,
) -> ConsoleResult<Redirect> {
    match send_campaign_at_vendor(&s.api.gw, form.id.trim().to_owned()).await {
        Ok(record) => {
            let reach = record
                .recipients
                .map_or_else(String::new, |n| format!(" It reached {n} recipient(s)."));
            ctx.flash(
                FlashKind::Ok,
                format!("Campaign {} sent.{reach}", record.id),
            );
        }
        Err(e) => ctx.flash_failure("The campaign was not sent", &e),
    }
    Ok(Redirect::to("/console/campaigns"))
}
