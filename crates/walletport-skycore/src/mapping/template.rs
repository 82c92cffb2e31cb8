//! Templates: `getpasstemplate`, `createPassTemplate`, `updatePassTemplate` for layouts 1 and 2.
//!
//! A domain [`Template`] maps as: `name` ↔ `pass-template-name` (`pass-name` on reads),
//! `layout` ↔ `pass-template-subtype`, each [`TemplateField`] ↔ a labelled pass field
//! (`title` → `<key>-label` in `universal-fields`; names through the configured field map), and
//! `settings` ↔ the body's sections (`appearance`, `universal-fields`, `apple-wallet-fields`,
//! `gpay-fields`, `expiration-fields`, `barcode-fields`, `relevant-locations`, …) in the shape the
//! create call takes. Reads answer a flat object (key set B); it is folded back into sections, so a
//! template read can be edited and sent to `updatePassTemplate`.

use std::borrow::Cow;

use serde_json::{Map, Value};
use walletport_core::{Result, Template, TemplateField, TemplateId};
use walletport_http::{HttpRequest, HttpResponse};

use super::{action, parse_answer, post_body, unexpected};
use crate::answer::{Entries, Lv, Picked, PickedObject};
use crate::config::{Layout, SkycoreConfig};
use crate::encode::{IdsBody, Node, TemplateBody};
use crate::validate::{self, Obj, invalid};
use crate::wire::canonical_key;

/// Pass fields a template can label (`<key>-label`).
const LABELLED: &[&str] = &[
    "loyalty-points",
    "secondary-loyalty-points",
    "account-name",
    "account-id",
    "rewards-tier",
    "message1",
    "message2",
    "message3",
    "message4",
    "message5",
    "message6",
    "message7",
    "message8",
    "message9",
    "message10",
    "text-module",
    "info-module",
    "home-page-uri",
    "link1",
    "link2",
    "expiration-timestamp",
    "current-timestamp",
    "custom-field-1",
    "custom-field-2",
    "custom-field-3",
];

/// The keys the domain template carries itself, never taken from `settings`.
const OWN_KEYS: &[&str] = &[
    "action",
    "pass-template-id",
    "pass-template-name",
    "pass-template-type",
    "pass-template-subtype",
];

fn layout_of(template: &Template) -> Result<Option<Layout>> {
    let named = template.layout.as_deref().or_else(|| {
        template
            .settings
            .get("pass-template-subtype")
            .and_then(Value::as_str)
    });
    match named {
        None => Ok(None),
        Some(n) => Layout::from_subtype(n).map(Some).ok_or_else(|| {
            invalid(
                "layout",
                format!("must be loyalty-card-type1 or loyalty-card-type2, got `{n}`"),
            )
        }),
    }
}

fn label_key(field: &TemplateField, config: &SkycoreConfig) -> Result<String> {
    let key = config
        .fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&field.name))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| field.name.clone());
    if LABELLED.contains(&key.as_str()) {
        Ok(key)
    } else {
        Err(invalid(
            &field.name,
            "is not a labelled Skycore pass field; map it under [provider.fields] or use a Skycore key",
        ))
    }
}

/// The layout a create/update sends (a create falls back to the configured one).
fn write_layout(
    template: &Template,
    config: &SkycoreConfig,
    create: bool,
) -> Result<Option<Layout>> {
    let layout = layout_of(template)?;
    Ok(if create {
        Some(layout.unwrap_or(config.layout))
    } else {
        layout
    })
}

/// The `universal-fields` labels of the template's fields, as a patch section.
fn labels(template: &Template, config: &SkycoreConfig) -> Result<Option<Value>> {
    let mut labels = Map::new();
    for field in &template.fields {
        let key = label_key(field, config)?;
        if let Some(title) = &field.title {
            labels.insert(format!("{key}-label"), title.clone().into());
        }
    }
    Ok((!labels.is_empty()).then_some(Value::Object(labels)))
}

/// The create/update body of `template` with `action`, borrowing from `template`, `config` and
/// `labels`, checked; `layout` is [`write_layout`]'s.
fn body<'a>(
    template: &'a Template,
    config: &'a SkycoreConfig,
    layout: Option<Layout>,
    labels: Option<&'a Value>,
    create: bool,
) -> Result<TemplateBody<'a>> {
    let mut body = TemplateBody::default();
    body.top.insert(
        "action",
        Node::Str(if create {
            action::CREATE_PASS_TEMPLATE
        } else {
            action::UPDATE_PASS_TEMPLATE
        }),
    );
    body.top.insert("pass-template-type", Node::Str("loyalty"));
    if create && let Some(l) = layout {
        body.top
            .insert("pass-template-subtype", Node::Str(l.subtype()));
    }
    body.top
        .insert("pass-template-name", Node::Str(&template.name));
    let entries = |m: &'a Map<String, Value>| m.iter().map(|(k, v)| (k.as_str(), v));
    if create {
        body.merge(entries(&config.template_defaults), OWN_KEYS);
    }
    body.merge(entries(&template.settings), OWN_KEYS);
    if let Some(labels) = labels {
        body.merge([("universal-fields", labels)], OWN_KEYS);
    }
    validate::template_obj(Obj::Top(&body.top), layout, create)?;
    Ok(body)
}

/// `createPassTemplate` (creates a new template each time: not idempotent).
pub fn build_createpasstemplate_request(
    template: &Template,
    config: &SkycoreConfig,
) -> Result<HttpRequest> {
    let layout = write_layout(template, config, true)?;
    check_name(template)?;
    let labels = labels(template, config)?;
    let body = body(template, config, layout, labels.as_ref(), true)?;
    post_body(config, walletport_core::op::TEMPLATE_CREATE, &body, false)
}

fn check_name(template: &Template) -> Result<()> {
    if template.name.trim().is_empty() {
        return Err(invalid("pass-template-name", "must not be empty"));
    }
    Ok(())
}

/// `updatePassTemplate` of `template.id`; idempotent unless it pushes a `pass-update-notification`.
pub fn build_updatepasstemplate_request(
    template: &Template,
    config: &SkycoreConfig,
) -> Result<HttpRequest> {
    let id = template
        .id
        .as_ref()
        .ok_or_else(|| invalid("pass-template-id", "is required to update a template"))?;
    let layout = write_layout(template, config, false)?;
    check_name(template)?;
    let labels = labels(template, config)?;
    let mut body = body(template, config, layout, labels.as_ref(), false)?;
    body.top.insert("pass-template-id", Node::Str(id.as_str()));
    let idempotent = !body.top.contains_key("pass-update-notification");
    post_body(
        config,
        walletport_core::op::TEMPLATE_UPDATE,
        &body,
        idempotent,
    )
}

/// What Skycore answered to a template write: the id (and name) it stored the template under.
///
/// Kept apart from the template we sent so that parsing the answer never copies that template
/// (its settings are kilobytes of JSON): [`TemplateWritten::into_template`] moves it instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateWritten {
    /// The id Skycore answered, or the one we sent when it answered none.
    pub id: TemplateId,
    /// The name Skycore answered, if any (the sent name stands otherwise).
    pub name: Option<String>,
}

impl TemplateWritten {
    /// The template as stored: `sent`, moved, with the answered id and name and its layout.
    pub fn into_template(
        self,
        sent: Template,
        config: &SkycoreConfig,
        create: bool,
    ) -> Result<Template> {
        let layout = layout_of(&sent)?.or(create.then_some(config.layout));
        Ok(Template {
            id: Some(self.id),
            name: self.name.unwrap_or(sent.name),
            layout: layout.map(|l| l.subtype().to_owned()),
            fields: sent.fields,
            settings: sent.settings,
        })
    }
}

/// The answer to `createPassTemplate` / `updatePassTemplate`; `sent_id` is the id we sent, which
/// stands when Skycore answers none (an error when neither exists).
pub fn parse_template_write_response(
    response: &HttpResponse,
    sent_id: Option<&TemplateId>,
    create: bool,
) -> Result<TemplateWritten> {
    let operation = if create {
        walletport_core::op::TEMPLATE_CREATE
    } else {
        walletport_core::op::TEMPLATE_UPDATE
    };
    let picked = Picked::new(["pass-template-id", "pass-template-name"]);
    let env = parse_answer(response, operation, picked)?.members;
    let id = env
        .text("pass-template-id")
        .and_then(|i| TemplateId::new(i).ok())
        .or_else(|| sent_id.cloned())
        .ok_or_else(|| {
            unexpected(
                response,
                operation,
                "Skycore answered without a pass-template-id",
            )
        })?;
    Ok(TemplateWritten {
        id,
        name: env.text("pass-template-name"),
    })
}

/// `getpasstemplate` (a read: idempotent).
pub fn build_getpasstemplate_request(
    id: &TemplateId,
    config: &SkycoreConfig,
) -> Result<HttpRequest> {
    let body = IdsBody {
        action: action::GET_PASS_TEMPLATE,
        pass_id: None,
        template_id: id.as_str(),
    };
    post_body(config, walletport_core::op::TEMPLATE_GET, &body, true)
}

/// Which section a flat template key belongs to.
fn section_of(key: &str) -> Option<(&'static str, &'static str)> {
    Some(match key {
        "program-logo" => ("appearance", "program-logo"),
        "program-logo-gpay" => ("appearance", "program-logo-gpay"),
        "card-issuer" => ("appearance", "card-issuer"),
        "strip-image" => ("appearance", "strip-image"),
        "background-color" => ("appearance", "background-color"),
        "description" => ("apple-wallet-fields", "description"),
        "text-color" => ("apple-wallet-fields", "text-color"),
        "linked-apps" => ("apple-wallet-fields", "linked-apps"),
        "ibeacons" => ("apple-wallet-fields", "ibeacons"),
        "additional-image" => ("gpay-fields", "additional-image"),
        "additional-image-text" => ("gpay-fields", "additional-image-text"),
        "barcode-value" => ("barcode-fields", "barcode-value"),
        "barcode-type" => ("barcode-fields", "barcode-type"),
        "expiration-timestamp" => ("expiration-fields", "expiry-date"),
        "expiration-timezone" => ("expiration-fields", "expiry-timezone"),
        _ => return None,
    })
}

/// The answer to `getpasstemplate`, folded into a domain template.
pub fn parse_getpasstemplate_response(
    response: &HttpResponse,
    config: &SkycoreConfig,
) -> Result<Template> {
    let operation = walletport_core::op::TEMPLATE_GET;
    let members = PickedObject::new("pass-template", ["pass-template-id"]);
    let env = parse_answer(response, operation, members)?.members;
    let Some(flat) = env.object.and_then(Entries::into_sorted) else {
        return Err(unexpected(
            response,
            operation,
            "Skycore sent no pass-template",
        ));
    };
    let id = env
        .picked
        .text("pass-template-id")
        .and_then(|i| TemplateId::new(i).ok());
    // `flat` is sorted by key without repeats, as the map it stands for.
    let find = |k: &str| {
        flat.binary_search_by(|(key, _)| key.0.as_ref().cmp(k))
            .ok()
            .map(|i| &flat[i].1)
    };
    let owned_text = |v: &Lv<'_>| v.text().map(Cow::into_owned);
    let name = find("pass-name")
        .or_else(|| find("pass-template-name"))
        .and_then(owned_text)
        .unwrap_or_default();
    let mut layout = find("pass-template-subtype")
        .and_then(owned_text)
        .and_then(|s| Layout::from_subtype(&s));
    // Entries in map order; each map is built at the end (a repeated key keeps its last value,
    // as inserting would).
    let mut settings: Vec<(String, Value)> = Vec::new();
    let mut sections: Vec<(&'static str, Vec<(String, Value)>)> = Vec::new();
    let mut universal: Vec<(String, Value)> = Vec::with_capacity(flat.len());
    let mut fields = Vec::new();
    for (raw, value) in flat {
        let key = canonical_key(&raw.0);
        if matches!(value, Lv::Other(Value::Null))
            || matches!(
                key,
                "pass-name" | "pass-type" | "organization" | "pass-template-subtype"
            )
        {
            continue;
        }
        if key.starts_with("dynamic-pass-field-") || key.starts_with("custom-field-") {
            layout = Some(Layout::Two);
        }
        if let Some(field) = key.strip_suffix("-label").filter(|f| LABELLED.contains(f)) {
            fields.push(TemplateField {
                name: config.field_name(field),
                title: owned_text(&value),
                kind: Default::default(),
                required: false,
                unique: false,
            });
            continue;
        }
        match (section_of(key), key) {
            (Some((section, name)), _) => {
                let entry = (name.to_owned(), value.into_value());
                match sections.iter_mut().find(|(s, _)| *s == section) {
                    Some((_, entries)) => entries.push(entry),
                    None => sections.push((section, vec![entry])),
                }
            }
            (None, "relevant-locations" | "disable-pass-sharing") => {
                settings.push((key.to_owned(), value.into_value()));
            }
            (None, _) => {
                universal.push((key.to_owned(), value.into_value()));
            }
        }
    }
    for (section, entries) in sections {
        let section_map: Map<String, Value> = entries.into_iter().collect();
        settings.push((section.to_owned(), Value::Object(section_map)));
    }
    if !universal.is_empty() {
        let universal: Map<String, Value> = universal.into_iter().collect();
        settings.push(("universal-fields".into(), Value::Object(universal)));
    }
    let settings: Map<String, Value> = settings.into_iter().collect();
    Ok(Template {
        id,
        name,
        layout: layout.map(|l| l.subtype().to_owned()),
        fields,
        settings,
    })
}
