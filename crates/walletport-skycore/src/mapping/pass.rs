//! Passes: `generatepass`, `updatepassdata`, `getpassdata`, and the mapping between the domain
//! (customers, cards, balances) and a Skycore pass.
//!
//! Domain mapping: pass-id ← the phone's digits or the customer id (configurable),
//! `account-name` ← full name, `account-id` ← customer id, `loyalty-points` ← points,
//! `secondary-loyalty-points` ← bonus %, `barcode-value` ← card number (the pass-id unless a
//! `barcode-value` field says otherwise), `user-phone` / `user-email` ← contact.

use std::collections::BTreeMap;

use walletport_core::{
    BalanceUpdate, CardKey, Customer, CustomerKey, Error, ErrorKind, Fields, IssueCard, Result,
    TemplateId,
};
use walletport_http::{HttpRequest, HttpResponse};

use super::points::{self, BONUS_PLACEHOLDER, POINTS_PLACEHOLDER};
use super::{action, parse_answer, post_body, unexpected};

pub use super::read::{balance_of, bonus_in, card_of, card_of_generated, customer_of, fields_of};
use crate::answer::{Entries, Picked, PickedObject};
use crate::config::{Layout, PassIdStrategy, SkycoreConfig};
use crate::encode::{IdsBody, Meta, PassBody, PassDataWire};
use crate::validate::{self, invalid};
use crate::wire::PassData;

/// What `generatepass` sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratePass {
    /// `pass-template-id`.
    pub template_id: String,
    /// The template's layout, when known (decides whether custom fields are allowed).
    pub layout: Option<Layout>,
    /// `pass-id`: the merchant's unique id of the pass.
    pub pass_id: String,
    /// `reference-data`: free additional information.
    pub reference_data: BTreeMap<String, String>,
    /// `pass-data`.
    pub data: PassData,
    /// `pass-meta-data.user-email`.
    pub user_email: Option<String>,
    /// `pass-meta-data.user-phone` (digits).
    pub user_phone: Option<String>,
}

/// What `updatepassdata` sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePass {
    /// `pass-template-id`.
    pub template_id: String,
    /// The template's layout, when known.
    pub layout: Option<Layout>,
    /// `pass-id` of the pass to update.
    pub pass_id: String,
    /// `new-pass-id`: renames the pass.
    pub new_pass_id: Option<String>,
    /// `priority`: push the update with priority.
    pub priority: Option<bool>,
    /// `pass-data`: only what changes (with `update_notification`, the pushed text).
    pub data: PassData,
    /// `pass-meta-data.user-email`.
    pub user_email: Option<String>,
    /// `pass-meta-data.user-phone` (digits).
    pub user_phone: Option<String>,
}

/// The answer to `generatepass`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedPass {
    /// The pass-id Skycore echoed.
    pub pass_id: Option<String>,
    /// `pass-install-url`: where the customer installs the pass (either wallet).
    pub install_url: String,
    /// `tracking-id`.
    pub tracking_id: Option<String>,
}

/// The answer to `updatepassdata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatedPass {
    /// The pass-id after the update (the new one after a rename).
    pub pass_id: Option<String>,
    /// `tracking-id`.
    pub tracking_id: Option<String>,
}

/// A pass as `getpassdata` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassRecord {
    /// `pass-id`.
    pub pass_id: String,
    /// `pass-template-id`.
    pub template_id: Option<String>,
    /// `pass-data`, static template values in [`PassData::extra`].
    pub data: PassData,
}

/// `generatepass`. Marked idempotent: a retry that meets "pass-id exists" is answered by reading
/// the pass back (see the client), so sending twice never creates two passes.
pub fn build_generatepass_request(
    input: &GeneratePass,
    config: &SkycoreConfig,
    operation: &'static str,
) -> Result<HttpRequest> {
    validate::pass_id("pass-id", &input.pass_id)?;
    validate::pass_id("pass-template-id", &input.template_id)?;
    validate::pass_data(&input.data, input.layout)?;
    validate::meta_data(input.user_email.as_deref(), input.user_phone.as_deref())?;
    if input.data.status.is_some() || input.data.update_notification.is_some() {
        return Err(invalid(
            "pass-status",
            "and pass-update-notification belong to updatepassdata",
        ));
    }
    let body = PassBody {
        action: action::GENERATE_PASS,
        new_pass_id: None,
        data: PassDataWire(&input.data),
        pass_id: &input.pass_id,
        meta: Meta::of(&input.user_email, &input.user_phone),
        template_id: &input.template_id,
        priority: None,
        reference_data: &input.reference_data,
    };
    post_body(config, operation, &body, true)
}

/// The answer to `generatepass`.
pub fn parse_generatepass_response(
    response: &HttpResponse,
    operation: &'static str,
) -> Result<GeneratedPass> {
    let picked = Picked::new(["pass-install-url", "pass-id", "tracking-id"]);
    let env = parse_answer(response, operation, picked)?.members;
    let install_url = env.text("pass-install-url").ok_or_else(|| {
        unexpected(
            response,
            operation,
            "Skycore generated a pass without a pass-install-url",
        )
    })?;
    Ok(GeneratedPass {
        pass_id: env.text("pass-id"),
        install_url,
        tracking_id: env.text("tracking-id"),
    })
}

/// `updatepassdata`. Idempotent only when it neither pushes a notification nor renames.
pub fn build_updatepassdata_request(
    input: &UpdatePass,
    config: &SkycoreConfig,
    operation: &'static str,
) -> Result<HttpRequest> {
    validate::pass_id("pass-id", &input.pass_id)?;
    validate::pass_id("pass-template-id", &input.template_id)?;
    if let Some(n) = &input.new_pass_id {
        validate::pass_id("new-pass-id", n)?;
    }
    validate::pass_data(&input.data, input.layout)?;
    validate::meta_data(input.user_email.as_deref(), input.user_phone.as_deref())?;
    let body = PassBody {
        action: action::UPDATE_PASS_DATA,
        new_pass_id: input.new_pass_id.as_deref(),
        data: PassDataWire(&input.data),
        pass_id: &input.pass_id,
        meta: Meta::of(&input.user_email, &input.user_phone),
        template_id: &input.template_id,
        priority: input.priority,
        reference_data: &BTreeMap::new(),
    };
    let idempotent = input.data.update_notification.is_none() && input.new_pass_id.is_none();
    post_body(config, operation, &body, idempotent)
}

/// The answer to `updatepassdata`.
pub fn parse_updatepassdata_response(
    response: &HttpResponse,
    operation: &'static str,
) -> Result<UpdatedPass> {
    let picked = Picked::new(["pass-id", "tracking-id"]);
    let env = parse_answer(response, operation, picked)?.members;
    Ok(UpdatedPass {
        pass_id: env.text("pass-id"),
        tracking_id: env.text("tracking-id"),
    })
}

/// `getpassdata` of a pass in the configured template (a read: idempotent).
pub fn build_getpassdata_request(
    pass_id: &str,
    config: &SkycoreConfig,
    operation: &'static str,
) -> Result<HttpRequest> {
    build_getpassdata_request_in(pass_id, &config.template_id, config, operation)
}

/// `getpassdata` of a pass in `template_id`: the template the pass was issued with, which
/// Skycore requires (`pass-template-id` is mandatory and must be the pass's own).
pub fn build_getpassdata_request_in(
    pass_id: &str,
    template_id: &str,
    config: &SkycoreConfig,
    operation: &'static str,
) -> Result<HttpRequest> {
    validate::pass_id("pass-id", pass_id)?;
    validate::pass_id("pass-template-id", template_id)?;
    let body = IdsBody {
        action: action::GET_PASS_DATA,
        pass_id: Some(pass_id),
        template_id,
    };
    post_body(config, operation, &body, true)
}

/// The answer to `getpassdata`, in either key set.
pub fn parse_getpassdata_response(
    response: &HttpResponse,
    operation: &'static str,
) -> Result<PassRecord> {
    let members = PickedObject::new("pass-data", ["pass-id", "pass-template-id"]);
    let env = parse_answer(response, operation, members)?.members;
    let Some(entries) = env.object.and_then(Entries::into_sorted) else {
        return Err(unexpected(response, operation, "Skycore sent no pass-data"));
    };
    let data = PassData::from_entries(entries).map_err(|e| {
        e.with_vendor(response.vendor_error())
            .with_provider(crate::PROVIDER)
            .with_operation(operation)
    })?;
    let pass_id = env
        .picked
        .text("pass-id")
        .ok_or_else(|| unexpected(response, operation, "Skycore sent no pass-id"))?;
    Ok(PassRecord {
        pass_id,
        template_id: env.picked.text("pass-template-id"),
        data,
    })
}

// ---- domain → Skycore ------------------------------------------------------------------------

/// The prefix of an encoded pass-id (see [`pass_id_of_customer_id`]).
const ENCODED: &str = "Z0";

/// The pass-id of a customer id (`pass_id = "customer_id"`). Skycore takes only `[A-Za-z0-9]`:
/// an alphanumeric id is its own pass-id; any other (the gateway's UUID-shaped ids, an id with a
/// dash or a dot) becomes `Z0` followed by its UTF-8 bytes in lowercase hex. The mapping is
/// one-to-one: an alphanumeric id that itself starts with `Z0` is encoded too, so an encoded
/// pass-id never equals a plain one.
///
/// ```
/// use walletport_skycore::mapping::pass::pass_id_of_customer_id;
/// assert_eq!(pass_id_of_customer_id("C7").unwrap(), "C7");
/// assert_eq!(pass_id_of_customer_id("a-1").unwrap(), "Z0612d31");
/// assert_eq!(pass_id_of_customer_id("Z0x").unwrap(), "Z05a3078");
/// ```
pub fn pass_id_of_customer_id(id: &str) -> Result<String> {
    if id.is_empty() {
        return Err(invalid("customer id", "is empty"));
    }
    if id.chars().all(|c| c.is_ascii_alphanumeric()) && !id.starts_with(ENCODED) {
        return Ok(id.to_owned());
    }
    let mut out = String::with_capacity(ENCODED.len() + 2 * id.len());
    out.push_str(ENCODED);
    for byte in id.bytes() {
        out.push_str(&format!("{byte:02x}"));
    }
    Ok(out)
}

fn unsupported_key(what: &str, config: &SkycoreConfig) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "Skycore has no lookup by {what}; with pass_id = \"{}\" passes are found by {}",
            match config.pass_id {
                PassIdStrategy::Phone => "phone",
                PassIdStrategy::CustomerId => "customer_id",
            },
            match config.pass_id {
                PassIdStrategy::Phone => "phone or card id",
                PassIdStrategy::CustomerId => "customer id or card id",
            }
        ),
    )
}

/// The pass-id of a new customer's pass, by the configured strategy.
pub fn pass_id_for_customer(customer: &Customer, config: &SkycoreConfig) -> Result<String> {
    match config.pass_id {
        PassIdStrategy::Phone => Ok(customer.phone.digits().to_owned()),
        PassIdStrategy::CustomerId => match &customer.id {
            Some(id) => pass_id_of_customer_id(id.as_str()),
            None => Err(invalid(
                "customer.id",
                "is required with pass_id = \"customer_id\"",
            )),
        },
    }
}

/// The card id of a pass: its pass-id, with `@<template id>` appended when the pass lives in
/// another template than the configured one, so a later read or update by card id finds the
/// pass in its own template (Skycore needs it) even after the process restarted.
pub fn card_id_of(pass_id: &str, template_id: Option<&str>, config: &SkycoreConfig) -> String {
    match template_id {
        Some(t) if t != config.template_id && !t.is_empty() => format!("{pass_id}@{t}"),
        _ => pass_id.to_owned(),
    }
}

/// A card id split into pass-id and the template it names (see [`card_id_of`]); an id without
/// an `@` followed by a template id (`[A-Za-z0-9_-]`: alphanumeric as documented, plus the `-`
/// and `_` seen in ids) is a plain pass-id.
pub fn split_card_id(id: &str) -> (&str, Option<&str>) {
    match id.rsplit_once('@') {
        Some((pass, template))
            if !pass.is_empty()
                && !template.is_empty()
                && template
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            (pass, Some(template))
        }
        _ => (id, None),
    }
}

/// The pass-id a customer key names; `Unsupported` for a key the strategy cannot resolve.
pub fn pass_id_for_customer_key(key: &CustomerKey, config: &SkycoreConfig) -> Result<String> {
    match (key, config.pass_id) {
        (CustomerKey::Phone(p), PassIdStrategy::Phone) => Ok(p.digits().to_owned()),
        (CustomerKey::Id(id), PassIdStrategy::CustomerId) => pass_id_of_customer_id(id.as_str()),
        (CustomerKey::Card(card), _) => Ok(split_card_id(card.as_str()).0.to_owned()),
        (CustomerKey::Phone(_), _) => Err(unsupported_key("phone", config)),
        (CustomerKey::Id(_), _) => Err(unsupported_key("customer id", config)),
    }
}

/// The pass-id a card key names, and the barcode the pass must carry when the key was a number.
pub fn pass_id_for_card_key(
    key: &CardKey,
    config: &SkycoreConfig,
) -> Result<(String, Option<String>)> {
    match (key, config.pass_id) {
        (CardKey::Id(id), _) => Ok((split_card_id(id.as_str()).0.to_owned(), None)),
        // Skycore cannot search barcodes: a card number finds the pass whose id it is, and only
        // when that pass carries the number as its barcode (our default), so never a wrong card.
        (CardKey::Number(n), _) => Ok((n.clone(), Some(n.clone()))),
        (CardKey::Phone(p), PassIdStrategy::Phone) => Ok((p.digits().to_owned(), None)),
        (CardKey::Phone(_), PassIdStrategy::CustomerId) => Err(unsupported_key("phone", config)),
    }
}

/// The layout of `template`, when the configuration says.
pub fn known_layout(template: Option<&TemplateId>, config: &SkycoreConfig) -> Option<Layout> {
    match template {
        None => Some(config.layout),
        Some(t) if t.as_str() == config.template_id => Some(config.layout),
        Some(_) => None,
    }
}

/// Puts domain fields into pass-data: configured names or Skycore keys; `barcode-value` sets the
/// card number. Anything else is `InvalidInput` naming the field.
pub fn apply_fields(fields: &Fields, config: &SkycoreConfig, data: &mut PassData) -> Result<()> {
    for (name, value) in fields {
        if name == "barcode-value" {
            data.barcode_value = Some(value.clone());
            continue;
        }
        let Some(key) = config.field_target(name) else {
            return Err(invalid(
                name,
                "has no Skycore pass-data key: use message4…message10, custom-field-1…3, \
                 additional-image or strip-image, or map it under [provider.fields]",
            ));
        };
        let v = Some(value.clone());
        match key.as_str() {
            "additional-image" => data.additional_image = v,
            "strip-image" => data.strip_image = v,
            "custom-field-1" => data.custom_fields[0] = v,
            "custom-field-2" => data.custom_fields[1] = v,
            "custom-field-3" => data.custom_fields[2] = v,
            other => {
                let n = other
                    .strip_prefix("message")
                    .and_then(|n| n.parse::<u8>().ok())
                    .ok_or_else(|| invalid(name, "maps to no pass-data key"))?;
                data.messages.insert(n, value.clone());
            }
        }
    }
    Ok(())
}

/// Puts a balance change into pass-data as plain numbers; a discount has no Skycore field
/// (`Unsupported`).
pub fn apply_balance(update: &BalanceUpdate, data: &mut PassData) -> Result<()> {
    apply_balance_formatted(update, None, None, data)
}

/// [`apply_balance`] with the configured `points_format` / `bonus_format`.
pub fn apply_balance_as(
    update: &BalanceUpdate,
    config: &SkycoreConfig,
    data: &mut PassData,
) -> Result<()> {
    apply_balance_formatted(
        update,
        config.points_format.as_deref(),
        config.bonus_format.as_deref(),
        data,
    )
}

fn apply_balance_formatted(
    update: &BalanceUpdate,
    points_format: Option<&str>,
    bonus_format: Option<&str>,
    data: &mut PassData,
) -> Result<()> {
    if update.discount_percent.is_some() {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "Skycore passes have no discount field (points → loyalty-points, bonus % → secondary-loyalty-points)",
        ));
    }
    if let Some(p) = update.points {
        data.loyalty_points = Some(points::render(p, points_format, POINTS_PLACEHOLDER));
    }
    if let Some(b) = update.bonus_percent {
        data.secondary_loyalty_points =
            Some(points::render(b.value(), bonus_format, BONUS_PLACEHOLDER));
    }
    Ok(())
}

/// The full name for `account-name`.
pub fn full_name(customer: &Customer) -> Option<String> {
    let parts: Vec<&str> = [&customer.name, &customer.middle_name, &customer.surname]
        .into_iter()
        .filter_map(|p| p.as_deref().map(str::trim).filter(|p| !p.is_empty()))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// `generatepass` for a domain card issue.
pub fn generate_for_issue(input: &IssueCard, config: &SkycoreConfig) -> Result<GeneratePass> {
    let customer = &input.customer;
    let pass_id = pass_id_for_customer(customer, config)?;
    let mut data = PassData {
        account_name: full_name(customer),
        account_id: customer.id.as_ref().map(|i| i.as_str().to_owned()),
        ..PassData::default()
    };
    let (fields, reference_data) = split_reference_data(&input.fields)?;
    apply_fields(&fields, config, &mut data)?;
    apply_balance_as(&input.balance, config, &mut data)?;
    if data.barcode_value.is_none() {
        data.barcode_value = Some(pass_id.clone());
    }
    Ok(GeneratePass {
        template_id: input
            .template
            .as_ref()
            .map_or_else(|| config.template_id.clone(), |t| t.as_str().to_owned()),
        layout: known_layout(input.template.as_ref(), config),
        pass_id,
        reference_data,
        data,
        user_email: customer.email.clone(),
        user_phone: Some(customer.phone.digits().to_owned()),
    })
}

/// The prefix of card-issue fields that go to `reference-data` instead of `pass-data`:
/// `reference-data.transaction-id = "96"` sends `"reference-data": {"transaction-id": "96"}`.
pub const REFERENCE_DATA_PREFIX: &str = "reference-data.";

/// Splits card-issue fields into pass-data fields and `reference-data` entries (by
/// [`REFERENCE_DATA_PREFIX`]); an entry with an empty key or control characters is
/// `InvalidInput`.
pub fn split_reference_data(fields: &Fields) -> Result<(Fields, BTreeMap<String, String>)> {
    let mut rest = Fields::new();
    let mut reference = BTreeMap::new();
    for (name, value) in fields {
        match name.strip_prefix(REFERENCE_DATA_PREFIX) {
            Some(key) => {
                if key.trim().is_empty() || key.chars().any(char::is_control) {
                    return Err(invalid(name, "needs a key after `reference-data.`"));
                }
                if value.chars().any(char::is_control) {
                    return Err(invalid(name, "must not contain control characters"));
                }
                reference.insert(key.to_owned(), value.clone());
            }
            None => {
                rest.insert(name.clone(), value.clone());
            }
        }
    }
    Ok((rest, reference))
}

/// An `updatepassdata` of the configured template with `data`.
pub fn update_of(pass_id: String, data: PassData, config: &SkycoreConfig) -> UpdatePass {
    update_in(pass_id, &config.template_id, data, config)
}

/// An `updatepassdata` of a pass in `template_id` (the template it was issued with) with `data`.
pub fn update_in(
    pass_id: String,
    template_id: &str,
    data: PassData,
    config: &SkycoreConfig,
) -> UpdatePass {
    UpdatePass {
        template_id: template_id.to_owned(),
        layout: known_layout(TemplateId::new(template_id).ok().as_ref(), config),
        pass_id,
        new_pass_id: None,
        priority: None,
        data,
        user_email: None,
        user_phone: None,
    }
}
