//! The actions on a customer: credit, redeem, percentages, push, card status and resync.
//!
//! Each is a form on the customer's page that leads to a confirmation page ("Credit 50 points
//! to +420…?"); only its Confirm button changes anything. Both steps are CSRF-checked `POST`s
//! (nothing the operator typed goes into a URL). Each calls the same function as the REST API
//! call behind it, and its outcome comes back as a flash message on the customer's page.

use std::str::FromStr;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde::Deserialize;
use walletport_core::{CustomerKey, Error};
use walletport_store::{ResyncRequest, StoredCustomer};

use super::customer::load;
use super::customers::{customer_href, display_name, urlencode};
use super::error::public_message;
use super::{ConsoleError, ConsoleResult, ConsoleState, CsrfForm, Ctx, FlashKind, Nav, layout};
use crate::api::views::{CreditInput, PercentagesInput, PushInput, RedemptionInput};
use crate::api::{
    credit_customer, push_to_customer, redeem_customer, set_customer_card_status,
    set_customer_percentages,
};
use crate::state::Gateway;

/// An action on a customer, as named in its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Add points (`POST /api/customers/{key}/credits`).
    Credit,
    /// Spend points (`POST /api/customers/{key}/redemptions`).
    Redeem,
    /// Set bonus and discount percentages (`PUT /api/customers/{key}/percentages`).
    Percentages,
    /// Send a message (`POST /api/customers/{key}/push`).
    Push,
    /// Change the card's status (`PUT /api/customers/{key}/card/status`).
    CardStatus,
    /// Queue the full state for the vendor again.
    Resync,
}

impl FromStr for Action {
    type Err = ConsoleError;

    fn from_str(s: &str) -> Result<Self, ConsoleError> {
        Ok(match s {
            "credit" => Self::Credit,
            "redeem" => Self::Redeem,
            "percentages" => Self::Percentages,
            "push" => Self::Push,
            "card-status" => Self::CardStatus,
            "resync" => Self::Resync,
            _ => return Err(ConsoleError::not_found()),
        })
    }
}

impl Action {
    /// The action's URL segment.
    fn slug(self) -> &'static str {
        match self {
            Self::Credit => "credit",
            Self::Redeem => "redeem",
            Self::Percentages => "percentages",
            Self::Push => "push",
            Self::CardStatus => "card-status",
            Self::Resync => "resync",
        }
    }

    /// The button and heading text.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Self::Credit => "Credit points",
            Self::Redeem => "Redeem points",
            Self::Percentages => "Set percentages",
            Self::Push => "Send a message",
            Self::CardStatus => "Change card status",
            Self::Resync => "Resync to the vendor",
        }
    }

    /// Where the action's forms are sent for customer `c`.
    pub(crate) fn href(self, c: &StoredCustomer) -> String {
        format!("{}/actions/{}", customer_href(c), self.slug())
    }
}

/// Every field any action form sends (each action reads its own); `confirm` is set by the
/// confirmation page's button only.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ActionForm {
    /// `yes` from the confirmation page: do it.
    #[serde(default)]
    confirm: Option<String>,
    /// Points (credit, redeem).
    #[serde(default)]
    amount: String,
    /// The exactly-once key (credit, redeem).
    #[serde(default)]
    transaction_id: String,
    /// When credited points expire, e.g. `90d` (credit).
    #[serde(default)]
    lifetime: String,
    /// Bonus percentage (percentages).
    #[serde(default)]
    bonus_percent: String,
    /// Discount percentage (percentages).
    #[serde(default)]
    discount_percent: String,
    /// The message (push).
    #[serde(default)]
    text: String,
    /// The push channel.
    #[serde(default)]
    channel: String,
    /// The new card status.
    #[serde(default)]
    status: String,
}

/// A decimal the operator typed (`50`, `12.5`); `what` names the field in the error.
fn decimal(raw: &str, what: &str) -> Result<Decimal, Error> {
    Decimal::from_str(raw.trim())
        .map_err(|_| Error::invalid_input(format!("{what} must be a number, e.g. 50 or 12.5")))
}

/// An optional decimal: empty leaves the value unchanged.
fn optional_decimal(raw: &str, what: &str) -> Result<Option<Decimal>, Error> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        decimal(raw, what).map(Some)
    }
}

/// Empty text as `None`.
fn non_empty(raw: &str) -> Option<String> {
    let t = raw.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// The question the confirmation page asks; checks the fields first (bad input never reaches
/// the confirmation page).
fn question(action: Action, f: &ActionForm, c: &StoredCustomer) -> Result<String, Error> {
    let who = format!("{} ({})", display_name(c), c.customer.phone);
    Ok(match action {
        Action::Credit => {
            let amount = decimal(&f.amount, "The amount")?;
            let expiry = non_empty(&f.lifetime).map_or_else(
                || "never expiring".to_owned(),
                |l| format!("expiring after {l}"),
            );
            format!("Credit {} points, {expiry}, to {who}?", amount.normalize())
        }
        Action::Redeem => {
            let amount = decimal(&f.amount, "The amount")?;
            format!("Redeem {} points of {who}?", amount.normalize())
        }
        Action::Percentages => {
            let show = |v: Option<Decimal>| {
                v.map_or("unchanged".to_owned(), |v| format!("{} %", v.normalize()))
            };
            let bonus = optional_decimal(&f.bonus_percent, "The bonus percentage")?;
            let discount = optional_decimal(&f.discount_percent, "The discount percentage")?;
            format!(
                "Set the bonus to {} and the discount to {} for {who}?",
                show(bonus),
                show(discount)
            )
        }
        Action::Push => {
            let text =
                non_empty(&f.text).ok_or_else(|| Error::invalid_input("The message is empty"))?;
            format!(
                "Send “{text}” to {who} via {}?",
                non_empty(&f.channel).unwrap_or_else(|| "wallet".into())
            )
        }
        Action::CardStatus => {
            let status = walletport_core::CardStatus::from_str(f.status.trim())?;
            format!(
                "Set the card of {who} to {}?",
                format!("{status:?}").to_lowercase()
            )
        }
        Action::Resync => format!("Queue the full current state of {who} for the vendor?"),
    })
}

/// Does `action` through the REST API's own functions; answers the success message.
async fn perform(
    gw: &Gateway,
    action: Action,
    f: ActionForm,
    c: &StoredCustomer,
) -> Result<String, Error> {
    let key = CustomerKey::Id(c.id.clone());
    match action {
        Action::Credit | Action::Redeem => {
            let amount = decimal(&f.amount, "The amount")?;
            let transaction_id = f.transaction_id.trim().to_owned();
            let result = if action == Action::Credit {
                let input = CreditInput {
                    amount,
                    transaction_id,
                    lifetime: non_empty(&f.lifetime),
                };
                credit_customer(gw, &key, input).await?
            } else {
                redeem_customer(
                    gw,
                    &key,
                    RedemptionInput {
                        amount,
                        transaction_id,
                    },
                )
                .await?
            };
            let balance = result.balance.points.normalize();
            Ok(if result.applied {
                format!(
                    "Done: {} points. The balance is now {balance}.",
                    result.delta.normalize()
                )
            } else {
                format!(
                    "This transaction id was applied before; nothing changed. The balance is {balance}."
                )
            })
        }
        Action::Percentages => {
            let input = PercentagesInput {
                bonus_percent: optional_decimal(&f.bonus_percent, "The bonus percentage")?,
                discount_percent: optional_decimal(&f.discount_percent, "The discount percentage")?,
            };
            let updated = set_customer_percentages(gw, &key, input).await?;
            Ok(format!(
                "Percentages set: bonus {} %, discount {} %.",
                updated.bonus_percent.value().normalize(),
                updated.discount_percent.value().normalize()
            ))
        }
        Action::Push => {
            let input = PushInput {
                text: f.text.trim().to_owned(),
                channel: non_empty(&f.channel),
            };
            let receipt = push_to_customer(gw, &key, input).await?;
            let detail = receipt
                .detail
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            Ok(if receipt.accepted {
                format!("The message was sent{detail}.")
            } else {
                format!("The vendor did not accept the message{detail}.")
            })
        }
        Action::CardStatus => {
            let card = set_customer_card_status(gw, c, &f.status).await?;
            Ok(format!(
                "The card is now {}.",
                format!("{:?}", card.status).to_lowercase()
            ))
        }
        Action::Resync => {
            let page = gw
                .store
                .enqueue_resync(&ResyncRequest {
                    customer: Some(c.id.clone()),
                    after: None,
                    limit: 1,
                    now: gw.now(),
                })
                .await?;
            Ok(if page.queued > 0 {
                "The customer's full state is queued for the vendor.".to_owned()
            } else {
                "The customer's full state was already waiting in the outbox; nothing more was queued.".to_owned()
            })
        }
    }
}

/// The confirmation page: the question, the same fields hidden, Confirm and Cancel.
fn confirm_page(
    ctx: &Ctx,
    action: Action,
    f: &ActionForm,
    c: &StoredCustomer,
    question: &str,
) -> Markup {
    let hidden = [
        ("amount", &f.amount),
        ("transaction_id", &f.transaction_id),
        ("lifetime", &f.lifetime),
        ("bonus_percent", &f.bonus_percent),
        ("discount_percent", &f.discount_percent),
        ("text", &f.text),
        ("channel", &f.channel),
        ("status", &f.status),
    ];
    let body = html! {
        h1 { (action.title()) }
        p.question { (question) }
        @if !f.transaction_id.trim().is_empty() {
            p.muted { "Transaction id " code { (f.transaction_id.trim()) } ": confirming twice applies it once." }
        }
        (layout::csrf_form(ctx, &action.href(c), "confirm", html! {
            @for (name, value) in hidden {
                @if !value.is_empty() { input type="hidden" name=(name) value=(value); }
            }
            input type="hidden" name="confirm" value="yes";
            button type="submit" { "Confirm" }
            " "
            a href=(customer_href(c)) { "Cancel" }
        }))
    };
    layout::page(ctx, Nav::Customers, action.title(), body)
}

/// `POST /console/customers/{id}/actions/{action}`: without `confirm`, the confirmation page
/// (nothing changes); with it, the action, then back to the customer with its outcome.
pub(crate) async fn act(
    State(s): State<ConsoleState>,
    ctx: Ctx,
    Path((id, action)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<ActionForm>,
) -> ConsoleResult<Response> {
    let action = Action::from_str(&action)?;
    let gw = &s.api.gw;
    let c = load(gw, &id).await?;
    let back = Redirect::to(&customer_href(&c));
    if form.confirm.as_deref() != Some("yes") {
        return match question(action, &form, &c) {
            Ok(q) => Ok(confirm_page(&ctx, action, &form, &c, &q).into_response()),
            Err(e) => {
                ctx.flash(FlashKind::Error, public_message(&e));
                Ok(back.into_response())
            }
        };
    }
    match perform(gw, action, form, &c).await {
        Ok(done) => {
            tracing::info!(customer = %c.id, action = action.slug(), "console action");
            ctx.flash(FlashKind::Ok, done);
        }
        Err(e) => ctx.flash_failure(format_args!("{} failed", action.title()), &e),
    }
    Ok(back.into_response())
}

/// `GET /console/customers/{id}/actions/{action}`: an action is only ever a form; a bare link
/// leads back to the customer.
pub(crate) async fn back_to_customer(Path((id, _)): Path<(String, String)>) -> Redirect {
    Redirect::to(&format!("/console/customers/{}", urlencode(&id)))
}
