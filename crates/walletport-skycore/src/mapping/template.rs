//! Templates: `getpasstemplate`, `createPassTemplate`, `updatePassTemplate` for layouts 1 and 2.
//!
//! A domain [`Template`] maps as: `name` ↔ `pass-template-name` (`pass-name` on reads),
//! `layout` ↔ `pass-template-subtype`, each [`TemplateField`] ↔ a labelled pass field
//! (`title` → `<key>-label` in `universal-fields`; names through the configured field map), and
//! `settings` ↔ the body's sections (`appearance`, `universal-fields`, `apple-wallet-fields`,
//! `gpay-fields`, `expiration-fields`, `barcode-fields`, `relevant-locations`, …) in the shape the
//! create call takes. Reads answer a flat object (key set B); it is folded back into sections, so a
//! template read can be edited and sent to `updatePassTemplate`.

use serde_json::{Map, Value};
use walletport_core::{Error, ErrorKind, Result, Template, TemplateField, TemplateId};
use walletport_http::{HttpRequest, HttpResponse};

use super::{action, parse_envelope, post};
use crate::config::{Layout, SkycoreConfig};
use crate::validate::{self, invalid};
use crate::wire::{canonical_key, text};

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

fn merge_sections(base: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        if OWN_KEYS.contains(&k.as_str()) {
            continue;
        }
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(p)) => b.extend(p.clone()),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
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

/// The create/update body of `template` (without `action`), and its layout when known.
fn body(
    template: &Template,
    config: &SkycoreConfig,
    create: bool,
) -> Result<(Map<String, Value>, Option<Layout>)> {
    let mut layout = layout_of(template)?;
    if create {
        layout = Some(layout.unwrap_or(config.layout));
    }
    let mut body = Map::new();
    body.insert("pass-template-type".into(), "loyalty".into());
    if create && let Some(l) = layout {
        body.insert("pass-template-subtype".into(), l.subtype().into());
    }
    if template.name.trim().is_empty() {
        return Err(invalid("pass-template-name", "must not be empty"));
    }
    body.insert("pass-template-name".into(), template.name.clone().into());
    if create {
        merge_sections(&mut body, &config.template_defaults);
    }
    merge_sections(&mut body, &template.settings);
    let mut labels = Map::new();
    for field in &template.fields {
        let key = label_key(field, config)?;
        if let Some(title) = &field.title {
            labels.insert(format!("{key}-label"), title.clone().into());
        }
    }
    if !labels.is_empty() {
        let mut patch = Map::new();
        patch.insert("universal-fields".into(), Value::Object(labels));
        merge_sections(&mut body, &patch);
    }
    validate::template(&body, layout, create)?;
    Ok((body, layout))
}

/// `createPassTemplate` (creates a new template each time: not idempotent).
pub fn build_createpasstemplate_request(
    template: &Template,
    config: &SkycoreConfig,
) -> Result<HttpRequest> {
    let (body, _) = body(template, config, true)?;
    post(
        config,
        walletport_core::op::TEMPLATE_CREATE,
        action::CREATE_PASS_TEMPLATE,
        body,
        false,
    )
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
    let (mut body, _) = body(template, config, false)?;
    body.insert("pass-template-id".into(), id.as_str().into());
    let idempotent = !body.contains_key("pass-update-notification");
    post(
        config,
        walletport_core::op::TEMPLATE_UPDATE,
        action::UPDATE_PASS_TEMPLATE,
        body,
        idempotent,
    )
}

/// The answer to a create or update: `sent` with the id (and layout) Skycore confirmed.
pub fn parse_template_write_response(
    response: &HttpResponse,
    sent: &Template,
    config: &SkycoreConfig,
    create: bool,
) -> Result<Template> {
    let operation = if create {
        walletport_core::op::TEMPLATE_CREATE
    } else {
        walletport_core::op::TEMPLATE_UPDATE
    };
    let env = parse_envelope(response, operation)?;
    let id = env
        .get_text("pass-template-id")
        .and_then(|i| TemplateId::new(i).ok())
        .or_else(|| sent.id.clone())
        .ok_or_else(|| {
            response
                .error(
                    ErrorKind::Unexpected,
                    "Skycore answered without a pass-template-id",
                )
                .with_provider(crate::PROVIDER)
                .with_operation(operation)
        })?;
    let layout = layout_of(sent)?.or(create.then_some(config.layout));
    Ok(Template {
        id: Some(id),
        name: env
            .get_text("pass-template-name")
            .unwrap_or_else(|| sent.name.clone()),
        layout: layout.map(|l| l.subtype().to_owned()),
        fields: sent.fields.clone(),
        settings: sent.settings.clone(),
    })
}

/// `getpasstemplate` (a read: idempotent).
pub fn build_getpasstemplate_request(
    id: &TemplateId,
    config: &SkycoreConfig,
) -> Result<HttpRequest> {
    let mut body = Map::new();
    body.insert("pass-template-id".into(), id.as_str().into());
    post(
        config,
        walletport_core::op::TEMPLATE_GET,
        action::GET_PASS_TEMPLATE,
        body,
        true,
    )
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
    let env = parse_envelope(response, operation)?;
    let stamp = |e: Error| e.with_provider(crate::PROVIDER).with_operation(operation);
    let Some(Value::Object(flat)) = env.rest.get("pass-template") else {
        return Err(stamp(
            response.error(ErrorKind::Unexpected, "Skycore sent no pass-template"),
        ));
    };
    let id = env
        .get_text("pass-template-id")
        .and_then(|i| TemplateId::new(i).ok());
    let mut settings = Map::new();
    let mut universal = Map::new();
    let mut fields = Vec::new();
    let mut layout = flat
        .get("pass-template-subtype")
        .and_then(text)
        .and_then(|s| Layout::from_subtype(&s));
    for (raw, value) in flat {
        let key = canonical_key(raw);
        if value.is_null()
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
                title: text(value),
                kind: Default::default(),
                required: false,
                unique: false,
            });
            continue;
        }
        match (section_of(key), key) {
            (Some((section, name)), _) => {
                let entry = settings
                    .entry(section)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = entry {
                    m.insert(name.to_owned(), value.clone());
                }
            }
            (None, "relevant-locations" | "disable-pass-sharing") => {
                settings.insert(key.to_owned(), value.clone());
            }
            (None, _) => {
                universal.insert(key.to_owned(), value.clone());
            }
        }
    }
    if !universal.is_empty() {
        settings.insert("universal-fields".into(), Value::Object(universal));
    }
    Ok(Template {
        id,
        name: flat
            .get("pass-name")
            .or_else(|| flat.get("pass-template-name"))
            .and_then(text)
            .unwrap_or_default(),
        layout: layout.map(|l| l.subtype().to_owned()),
        fields,
        settings,
    })
}
