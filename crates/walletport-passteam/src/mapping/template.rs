//! Templates (`gettemplate`, `getlisttemplates`), the token (`getatoken`) and client-side
//! validation of variable values against a template's variable types.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use walletport_core::ports::op;
use walletport_core::{
    Error, FieldKind, Page, Phone, Result, Template, TemplateField, TemplateId, TemplateSummary,
    validate_email,
};
use walletport_http::{HttpRequest, HttpResponse};

use super::dates::DateStyle;
use super::{OnDuplicate, parse_envelope, post, result_as};
use crate::config::{PassteamConfig, normalize_variable};
use crate::encoding::FormBody;
use crate::wire::{WireField, WireTemplate, value_text};

/// Operation name of `getatoken` in errors and traces.
pub const OP_TOKEN: &str = "passteam.getatoken";

/// `getatoken` with `login` and `password` (the only request without `Authorization`).
pub fn build_getatoken_request(
    login: &str,
    password: &SecretString,
    config: &PassteamConfig,
) -> HttpRequest {
    let names = &config.param_names;
    let body = FormBody::new()
        .field(names.getatoken_login.as_str(), login)
        .field(names.getatoken_password.as_str(), password.expose_secret());
    let mut req = post(config, OP_TOKEN, "getatoken", &body, true);
    req.headers.remove(http::header::AUTHORIZATION);
    req
}

/// The token from `getatoken`'s result: a string, or `{token}` / `{accessToken}`.
pub fn parse_getatoken_response(resp: &HttpResponse) -> Result<SecretString> {
    let result = parse_envelope(resp, OnDuplicate::Conflict).map_err(|e| {
        if e.kind() == walletport_core::ErrorKind::InvalidInput {
            Error::new(
                walletport_core::ErrorKind::Unauthenticated,
                "login or password rejected",
            )
            .with_vendor(e.vendor().cloned().unwrap_or_default())
        } else {
            e
        }
    })?;
    let token = match &result {
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => ["token", "accessToken", "apiKey"]
            .iter()
            .find_map(|k| m.get(*k).and_then(value_text)),
        _ => None,
    };
    match token {
        Some(t) if !t.trim().is_empty() => Ok(SecretString::from(t.trim().to_owned())),
        // Keep the status but not the body: it may hold a token under a key we do not know.
        _ => Err(Error::new(
            walletport_core::ErrorKind::Unauthenticated,
            "getatoken returned no token",
        )
        .with_vendor(walletport_core::VendorError {
            status: Some(resp.status),
            code: None,
            message: None,
        })),
    }
}

/// `gettemplate` by id.
pub fn build_gettemplate_request(id: &TemplateId, config: &PassteamConfig) -> HttpRequest {
    let body = FormBody::new().field("templateId", id.as_str());
    post(config, op::TEMPLATE_GET, "gettemplate", &body, true)
}

/// `gettemplate`'s result as the wire struct (for validation and settings).
pub fn parse_gettemplate_wire(resp: &HttpResponse) -> Result<WireTemplate> {
    let result = parse_envelope(resp, OnDuplicate::Conflict)?;
    if result.is_null() {
        return Err(Error::not_found("no such template"));
    }
    result_as(resp, result)
}

/// `gettemplate`'s result as a domain [`Template`].
pub fn parse_gettemplate_response(resp: &HttpResponse) -> Result<Template> {
    template_from_wire(parse_gettemplate_wire(resp)?)
}

/// A wire template → domain: fields with kinds, counters and the rest under `settings`.
pub fn template_from_wire(w: WireTemplate) -> Result<Template> {
    let id = w.template_id.as_deref().map(TemplateId::new).transpose()?;
    let fields = w.fields.iter().filter_map(field_from_wire).collect();
    let mut settings = w.rest;
    if let Some(owner) = w.owner {
        settings.insert("owner".into(), Value::String(owner));
    }
    if let Some(title) = &w.title {
        settings.insert("title".into(), Value::String(title.clone()));
    }
    Ok(Template {
        name: w
            .user_title
            .clone()
            .or(w.title)
            .or_else(|| id.as_ref().map(|i| i.to_string()))
            .unwrap_or_default(),
        id,
        layout: w.kind,
        fields,
        settings,
    })
}

fn field_from_wire(f: &WireField) -> Option<TemplateField> {
    let name = normalize_variable(f.name.as_deref()?);
    if name.is_empty() {
        return None;
    }
    let kind = match f
        .kind
        .as_deref()
        .unwrap_or("text")
        .to_ascii_lowercase()
        .as_str()
    {
        "phone" => FieldKind::Phone,
        "email" => FieldKind::Email,
        "date" => FieldKind::Date,
        "date_time" | "datetime" => FieldKind::DateTime,
        "flag" => FieldKind::Flag,
        "number" => FieldKind::Number,
        "list" => FieldKind::List(list_items(&f.params)),
        _ => FieldKind::Text,
    };
    Some(TemplateField {
        name,
        title: f.title.clone(),
        kind,
        required: f.required.unwrap_or(false),
        unique: f.unique.unwrap_or(false),
    })
}

fn list_items(params: &Value) -> Vec<String> {
    match params.get("forList") {
        Some(Value::Array(items)) => items.iter().filter_map(value_text).collect(),
        Some(Value::Object(m)) => m.values().filter_map(value_text).collect(),
        Some(Value::String(s)) => s
            .split([',', '\n'])
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// `getlisttemplates` (no parameters).
pub fn build_listtemplates_request(config: &PassteamConfig) -> HttpRequest {
    post(
        config,
        op::TEMPLATE_LIST,
        "getlisttemplates",
        &FormBody::new(),
        true,
    )
}

/// `getlisttemplates`' result: ids as strings, or objects with `templateId` and a title; or an
/// object keyed by id. Passteam returns everything at once, so the page has no `next`.
pub fn parse_listtemplates_response(resp: &HttpResponse) -> Result<Page<TemplateSummary>> {
    let result = parse_envelope(resp, OnDuplicate::Conflict)?;
    let summary = |v: &Value, key: Option<&str>| -> Option<TemplateSummary> {
        match v {
            Value::String(id) => id_summary(id, key),
            Value::Object(_) => template_summary(serde_json::from_value(v.clone()).ok()?, key),
            _ => None,
        }
    };
    let items: Vec<TemplateSummary> = match &result {
        Value::Array(items) => items.iter().filter_map(|v| summary(v, None)).collect(),
        Value::Object(m) => match m.get("templates").or_else(|| m.get("templateIds")) {
            Some(Value::Array(items)) => items.iter().filter_map(|v| summary(v, None)).collect(),
            _ => m
                .iter()
                .filter_map(|(k, v)| match v {
                    Value::String(title) => {
                        TemplateId::new(k.as_str()).ok().map(|id| TemplateSummary {
                            id,
                            name: title.clone(),
                        })
                    }
                    other => summary(other, Some(k)),
                })
                .collect(),
        },
        Value::Null => Vec::new(),
        _ => {
            return Err(resp.error(
                walletport_core::ErrorKind::Unexpected,
                "getlisttemplates: unexpected result",
            ));
        }
    };
    Ok(listing(items))
}

/// A template listed by id (the id is the name unless the listing keyed it by one).
fn id_summary(id: &str, key: Option<&str>) -> Option<TemplateSummary> {
    TemplateId::new(id).ok().map(|id| TemplateSummary {
        name: key.unwrap_or(id.as_str()).to_owned(),
        id,
    })
}

/// A template listed as an object: its id (or the listing's key) and its user title or title.
fn template_summary(w: WireTemplate, key: Option<&str>) -> Option<TemplateSummary> {
    let id = w.template_id.as_deref().or(key)?;
    let id = TemplateId::new(id).ok()?;
    Some(TemplateSummary {
        name: w.user_title.or(w.title).unwrap_or_else(|| id.to_string()),
        id,
    })
}

/// Every template at once: the page has no `next`.
fn listing(items: Vec<TemplateSummary>) -> Page<TemplateSummary> {
    Page {
        total: Some(items.len() as u64),
        items,
        next: None,
    }
}

/// The variable types of a template, for checking values before they are sent, and the
/// `dateStyle` of its date variables, for writing and reading dates as the template wants them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateSchema {
    fields: BTreeMap<String, TemplateField>,
    /// `dateStyle` per date variable that gives one; `Err` keeps an unknown style's reason.
    styles: BTreeMap<String, std::result::Result<DateStyle, String>>,
}

impl TemplateSchema {
    /// The schema of a domain template (date variables in the default styles).
    pub fn new(template: &Template) -> Self {
        Self {
            fields: template
                .fields
                .iter()
                .map(|f| (f.name.clone(), f.clone()))
                .collect(),
            styles: BTreeMap::new(),
        }
    }

    /// The schema of a `gettemplate` answer, with each date variable's `params->dateStyle`.
    pub fn from_wire(wire: &WireTemplate) -> Result<Self> {
        let mut schema = Self::new(&template_from_wire(wire.clone())?);
        for f in &wire.fields {
            let Some(name) = f.name.as_deref().map(normalize_variable) else {
                continue;
            };
            if let Some(style) = f.params.get("dateStyle").and_then(value_text) {
                schema.styles.insert(name, DateStyle::parse(&style));
            }
        }
        Ok(schema)
    }

    /// The style of date variable `name`: its `dateStyle`, the default one when it gives none,
    /// `None` when `name` is not a date variable. An unknown style is `ConfigInvalid` naming
    /// the variable.
    pub fn date_style(&self, name: &str) -> Result<Option<DateStyle>> {
        let date_time = match self.fields.get(name).map(|f| &f.kind) {
            Some(FieldKind::Date) => false,
            Some(FieldKind::DateTime) => true,
            _ => return Ok(None),
        };
        match self.styles.get(name) {
            None => Ok(Some(DateStyle::default_for(date_time))),
            Some(Ok(style)) => Ok(Some(style.clone())),
            Some(Err(why)) => Err(Error::config(format!(
                "template variable `{name}`: {why}; the adapter reads dateStyle as a pattern of \
                 yyyy, MM, dd, HH, mm, ss (fix the variable in the Passteam template)"
            ))),
        }
    }

    /// The variable `name`, if the template has it.
    pub fn field(&self, name: &str) -> Option<&TemplateField> {
        self.fields.get(name)
    }

    /// Checks `value` for variable `name`; `InvalidInput` naming the variable otherwise. An
    /// empty value clears a variable and is always allowed.
    pub fn check(&self, name: &str, value: &str) -> Result<()> {
        let Some(field) = self.fields.get(name) else {
            return Err(Error::invalid_input(format!(
                "the template has no variable `{name}` (check [provider.fields])"
            )));
        };
        if value.is_empty() {
            return Ok(());
        }
        if let Some(style) = self.date_style(name)? {
            let parsed = match field.kind {
                FieldKind::DateTime => style.parse_date_time(value).is_some(),
                _ => style.parse_date(value).is_some(),
            };
            if !parsed {
                return Err(Error::invalid_input(format!(
                    "variable `{name}`: `{value}` is not written as {}",
                    style.pattern()
                )));
            }
            return Ok(());
        }
        check_value(&field.kind, value)
            .map_err(|why| Error::invalid_input(format!("variable `{name}`: {why}")))
    }

    /// True when the template marks `name` unique.
    pub fn is_unique(&self, name: &str) -> bool {
        self.fields.get(name).is_some_and(|f| f.unique)
    }
}

/// Checks one value against a variable type; the error says why in words.
pub fn check_value(kind: &FieldKind, value: &str) -> std::result::Result<(), String> {
    match kind {
        FieldKind::Text => Ok(()),
        FieldKind::Phone => {
            if !value.trim_start().starts_with('+') {
                return Err(format!("`{value}` is not in international format (+7…)"));
            }
            Phone::parse(value)
                .map(|_| ())
                .map_err(|e| e.message().to_owned())
        }
        FieldKind::Email => validate_email(value).map_err(|e| e.message().to_owned()),
        FieldKind::Date => parse_date(value)
            .map(|_| ())
            .ok_or_else(|| format!("`{value}` is not a date (dd.mm.yyyy)")),
        FieldKind::DateTime => parse_date_time(value)
            .map(|_| ())
            .ok_or_else(|| format!("`{value}` is not a date and time (dd.mm.yyyy hh:mm)")),
        FieldKind::List(items) => {
            if items.is_empty() || items.iter().any(|i| i == value) {
                Ok(())
            } else {
                Err(format!("`{value}` is not one of: {}", items.join(", ")))
            }
        }
        FieldKind::Flag => match value {
            "true" | "false" | "1" | "0" => Ok(()),
            _ => Err(format!("`{value}` is not a flag (true/false)")),
        },
        FieldKind::Number => value
            .trim()
            .parse::<Decimal>()
            .map(|_| ())
            .map_err(|_| format!("`{value}` is not a number")),
    }
}

/// `dd.mm.yyyy`, `yyyy-mm-dd` or `dd/mm/yyyy`.
pub fn parse_date(value: &str) -> Option<NaiveDate> {
    ["%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(value.trim(), f).ok())
}

/// `dd.mm.yyyy hh:mm[:ss]`, `yyyy-mm-dd hh:mm[:ss]`, or RFC 3339.
pub fn parse_date_time(value: &str) -> Option<NaiveDateTime> {
    let v = value.trim();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(v) {
        return Some(dt.naive_utc());
    }
    [
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_each_variable_type_and_names_the_variable() {
        let t = Template {
            id: None,
            name: "t".into(),
            layout: None,
            fields: vec![
                TemplateField {
                    name: "PHONE".into(),
                    title: None,
                    kind: FieldKind::Phone,
                    required: false,
                    unique: true,
                },
                TemplateField {
                    name: "LEVEL".into(),
                    title: None,
                    kind: FieldKind::List(vec!["gold".into()]),
                    required: false,
                    unique: false,
                },
                TemplateField {
                    name: "BIRTHDAY".into(),
                    title: None,
                    kind: FieldKind::Date,
                    required: false,
                    unique: false,
                },
            ],
            settings: Default::default(),
        };
        let s = TemplateSchema::new(&t);
        assert!(s.check("PHONE", "+79991234567").is_ok());
        let e = s
            .check("PHONE", "79991234567")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("`PHONE`") && e.contains("international"), "{e}");
        assert!(
            s.check("LEVEL", "silver")
                .is_err_and(|e| e.message().contains("`LEVEL`"))
        );
        assert!(s.check("BIRTHDAY", "25.01.1980").is_ok());
        assert!(s.check("BIRTHDAY", "1980/01/25").is_err());
        assert!(
            s.check("NOPE", "x")
                .is_err_and(|e| e.message().contains("no variable"))
        );
        assert!(s.is_unique("PHONE") && !s.is_unique("LEVEL"));
        assert!(
            check_value(&FieldKind::Number, "12.5").is_ok()
                && check_value(&FieldKind::Number, "x").is_err()
        );
        assert!(
            check_value(&FieldKind::Email, "a@b.cz").is_ok()
                && check_value(&FieldKind::Email, "a@b").is_err()
        );
    }
}
