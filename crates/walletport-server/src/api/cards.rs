//! A customer's wallet card at the vendor: issue, read, update fields, change status.
//!
//! The card's fields and status live at the vendor, so these calls go to it directly through the
//! gateway's provider (whose transport holds the plan's quota). What the store holds changes
//! only through the store: an issued card is attached to the stored customer, a status change is
//! recorded on the stored card, and points and percentages stay with `/credits` and
//! `/percentages`, which the outbox syncs.

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::ToSchema;
use walletport_core::{
    BalanceUpdate, Card, CardKey, CardStatus, Error, GetCard, IssueCard, LinkDelivery,
    SendInstallLink, SetCardStatus, TemplateId, UpdateCard,
};
use walletport_store::{CardPatch, StoredCard, StoredCustomer, WriteOpts};

use super::views::{CustomerKeyParam, ErrorResponses};
use super::{ApiJson, ApiResult, ApiState, stored_customer, vendor_json};
use crate::state::Gateway;

/// `POST /api/customers/{key}/card`: the design and extra fields of a new card. The holder's
/// data and balance come from the store.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CardIssueInput {
    /// The design template; the provider's configured one when absent.
    #[serde(default)]
    pub(crate) template: Option<String>,
    /// Extra card fields (template variables).
    #[serde(default)]
    pub(crate) fields: BTreeMap<String, String>,
}

/// `PATCH /api/customers/{key}/card`: fields to set and a notification. Points and percentages
/// are not taken here: they belong to the store (`/credits`, `/percentages`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CardUpdateInput {
    /// Card fields to set.
    #[serde(default)]
    pub(crate) fields: BTreeMap<String, String>,
    /// A notification shown with the update, where the vendor has one.
    #[serde(default)]
    pub(crate) notification: Option<String>,
}

/// `PUT /api/customers/{key}/card/status`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CardStatusInput {
    /// `active`, `voided`, `expired` or `redeemed`.
    pub(crate) status: String,
}

/// `POST /api/customers/{key}/card/install-link`: how the vendor sends the card's install link.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InstallLinkInput {
    /// `sms` (to the customer's phone) or `email` (to the customer's e-mail).
    pub(crate) via: String,
    /// The SMS text, with `%link%` where the link goes; the vendor's default when absent.
    #[serde(default)]
    pub(crate) text: Option<String>,
}

/// The stored balance reduced to what the provider holds, for a new card's initial values.
async fn initial_balance(s: &ApiState, stored: &StoredCustomer) -> Result<BalanceUpdate, Error> {
    let balance = s.gw.store.balance(&stored.id, s.gw.now()).await?;
    Ok(s.gw.provider.balance_fields().reduce(balance.into()).0)
}

/// How the vendor finds the card of the customer a path names (get, update, install link).
async fn vendor_card(s: &ApiState, key: &str) -> Result<CardKey, Error> {
    s.gw.vendor_card_key(&stored_customer(s, key).await?).await
}

/// Issue a card for a stored customer at the vendor and attach it to the customer.
#[utoipa::path(post, path = "/api/customers/{key}/card", tag = "cards",
    params(CustomerKeyParam),
    request_body = CardIssueInput,
    responses((status = 200, body = Object, description = "The card as the vendor holds it"),
        ErrorResponses<400, 404, 409, 501>),
    security(("bearer" = [])))]
pub(crate) async fn issue(
    State(s): State<ApiState>,
    Path(key): Path<String>,
    ApiJson(input): ApiJson<CardIssueInput>,
) -> ApiResult<Json<serde_json::Value>> {
    let stored = stored_customer(&s, &key).await?;
    let template = input.template.map(TemplateId::new).transpose()?;
    let issue = IssueCard {
        balance: initial_balance(&s, &stored).await?,
        customer: stored.customer.clone(),
        template,
        fields: input.fields,
    };
    let card = s.gw.provider.cards().issue_card(issue).await?;
    let opts = WriteOpts::at(s.gw.now());
    if let Err(e) =
        s.gw.record_cards(&stored.id, std::slice::from_ref(&card), opts)
            .await
    {
        // The vendor holds the card now: say which, so that it can be found and voided.
        let named = card
            .id
            .as_ref()
            .map(|id| id.as_str())
            .or(card.number.as_deref());
        return Err(Error::new(
            e.kind(),
            format!(
                "the vendor issued card `{}` but the store did not record it: {}",
                named.unwrap_or("without id or number"),
                e.message()
            ),
        )
        .into());
    }
    vendor_json(&card)
}

/// A stored customer's card as the vendor holds it now.
#[utoipa::path(get, path = "/api/customers/{key}/card", tag = "cards",
    params(CustomerKeyParam),
    responses((status = 200, body = Object, description = "The card as the vendor holds it"),
        ErrorResponses<404, 501>),
    security(("bearer" = [])))]
pub(crate) async fn get(
    State(s): State<ApiState>,
    Path(key): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let card = vendor_card(&s, &key).await?;
    let card = s.gw.provider.cards().get_card(GetCard { card }).await?;
    vendor_json(&card)
}

/// Set a card's fields at the vendor, which updates the installed pass.
#[utoipa::path(patch, path = "/api/customers/{key}/card", tag = "cards",
    params(CustomerKeyParam),
    request_body = CardUpdateInput,
    responses((status = 200, body = Object, description = "The card as the vendor holds it"),
        ErrorResponses<400, 404, 501>),
    security(("bearer" = [])))]
pub(crate) async fn update(
    State(s): State<ApiState>,
    Path(key): Path<String>,
    ApiJson(input): ApiJson<CardUpdateInput>,
) -> ApiResult<Json<serde_json::Value>> {
    let update = UpdateCard {
        card: vendor_card(&s, &key).await?,
        fields: input.fields,
        balance: BalanceUpdate::default(),
        notification: input.notification,
    };
    let card = s.gw.provider.cards().update_card(update).await?;
    vendor_json(&card)
}

/// Void, expire, redeem or reactivate a card at the vendor; the stored card follows.
#[utoipa::path(put, path = "/api/customers/{key}/card/status", tag = "cards",
    params(CustomerKeyParam),
    request_body = CardStatusInput,
    responses((status = 200, body = Object, description = "The card as the vendor holds it"),
        ErrorResponses<400, 404, 501>),
    security(("bearer" = [])))]
pub(crate) async fn status(
    State(s): State<ApiState>,
    Path(key): Path<String>,
    ApiJson(input): ApiJson<CardStatusInput>,
) -> ApiResult<Json<serde_json::Value>> {
    let stored = stored_customer(&s, &key).await?;
    let card = set_customer_card_status(&s.gw, &stored, &input.status).await?;
    vendor_json(&card)
}

/// Sets the status (`active`, `voided`, `expired`, `redeemed`) of a customer's card at the
/// vendor, and the stored cards follow the vendor's answer (REST and console alike).
pub(crate) async fn set_customer_card_status(
    gw: &Gateway,
    stored: &StoredCustomer,
    status: &str,
) -> Result<Card, Error> {
    let status = CardStatus::from_str(status.trim())?;
    let key = gw.vendor_card_key(stored).await?;
    let change = SetCardStatus {
        card: key.clone(),
        status,
    };
    let card = gw.provider.cards().set_card_status(change).await?;
    let provider = gw.provider.info().name;
    let patch = CardPatch {
        status: Some(card.status),
        ..CardPatch::default()
    };
    // The vendor's answer is the truth for the card it changed, named by its id (else by its
    // number, else by the id the call named); the customer's other cards keep their state.
    let changed = |held: &StoredCard| match (&card.id, &card.number, &key) {
        (Some(id), _, _) => held.vendor_card_id.as_ref() == Some(id),
        (None, Some(number), _) => held.number.as_ref() == Some(number),
        (None, None, CardKey::Id(id)) => held.vendor_card_id.as_ref() == Some(id),
        (None, None, _) => false,
    };
    for held in gw.store.list_cards(&stored.id).await? {
        if let (true, true, Some(id)) = (
            held.provider == provider,
            changed(&held),
            &held.vendor_card_id,
        ) {
            gw.store
                .update_card(provider, id, &patch, WriteOpts::at(gw.now()))
                .await?;
        }
    }
    Ok(card)
}

/// Have the vendor send the card's install link to the customer (Passquare's `sms`, Passteam's
/// `distribute`); Skycore has no sending API: its install URL is in the card's `links`.
#[utoipa::path(post, path = "/api/customers/{key}/card/install-link", tag = "cards",
    params(CustomerKeyParam),
    request_body = InstallLinkInput,
    responses((status = 200, body = Object, description = "`{\"sent\": true, \"via\": ...}`"),
        ErrorResponses<400, 404, 501>),
    security(("bearer" = [])))]
pub(crate) async fn send_install_link(
    State(s): State<ApiState>,
    Path(key): Path<String>,
    ApiJson(input): ApiJson<InstallLinkInput>,
) -> ApiResult<Json<serde_json::Value>> {
    let delivery = match input.via.trim() {
        "sms" => LinkDelivery::Sms {
            phone: None,
            text: input.text,
        },
        "email" if input.text.is_none() => LinkDelivery::Email { email: None },
        "email" => {
            return Err(Error::invalid_input(
                "`text` is for SMS; an e-mail uses the vendor's text",
            )
            .into());
        }
        other => {
            return Err(
                Error::invalid_input(format!("via `{other}`: expected `sms` or `email`")).into(),
            );
        }
    };
    let send = SendInstallLink {
        card: vendor_card(&s, &key).await?,
        delivery,
    };
    s.gw.provider.cards().send_install_link(send).await?;
    Ok(Json(
        serde_json::json!({ "sent": true, "via": input.via.trim() }),
    ))
}
