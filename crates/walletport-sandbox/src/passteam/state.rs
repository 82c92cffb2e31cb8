//! The emulated Passteam account: templates with typed variables, cards, logs, sales, products.
//! Pure data and rules; the handlers turn [`Fail`]s into envelopes.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A failure as Passteam reports it: the envelope `code` (also the HTTP status) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    /// Envelope code and HTTP status.
    pub code: u16,
    /// The message.
    pub message: String,
}

impl Fail {
    pub(crate) fn new(code: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// One variable of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableSpec {
    /// Name without `%`.
    pub name: String,
    /// `text`, `phone`, `email`, `date`, `date_time`, `list`, `flag`, `number`.
    #[serde(default = "text", rename = "type")]
    pub kind: String,
    /// Values must be unique across the template's cards (and must be set).
    #[serde(default)]
    pub unique: bool,
    /// Allowed values of a `list`.
    #[serde(default)]
    pub list: Vec<String>,
    /// Label.
    #[serde(default)]
    pub title: Option<String>,
    /// `params->dateStyle` of a `date` / `date_time` variable; `None` shows the defaults
    /// `dd.MM.yyyy` / `dd.MM.yyyy HH:mm:ss`. Styles the emulator cannot check ([`date_format`])
    /// are shown as given and accept any value.
    #[serde(default)]
    pub date_style: Option<String>,
}

fn text() -> String {
    "text".into()
}

impl VariableSpec {
    /// The `dateStyle` shown for a date variable, `None` for other types.
    pub fn shown_date_style(&self) -> Option<&str> {
        match self.kind.as_str() {
            "date" => Some(self.date_style.as_deref().unwrap_or("dd.MM.yyyy")),
            "date_time" => Some(self.date_style.as_deref().unwrap_or("dd.MM.yyyy HH:mm:ss")),
            _ => None,
        }
    }
}

/// The chrono format of the `dateStyle`s the emulator checks values against.
pub fn date_format(style: &str) -> Option<&'static str> {
    Some(match style {
        "dd.MM.yyyy" => "%d.%m.%Y",
        "yyyy-MM-dd" => "%Y-%m-%d",
        "dd/MM/yyyy" => "%d/%m/%Y",
        "MM/dd/yyyy" => "%m/%d/%Y",
        "dd.MM.yyyy HH:mm:ss" => "%d.%m.%Y %H:%M:%S",
        "dd.MM.yyyy HH:mm" => "%d.%m.%Y %H:%M",
        "yyyy-MM-dd HH:mm" => "%Y-%m-%d %H:%M",
        _ => return None,
    })
}

/// A template of the emulated account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// 24 hex characters.
    pub id: String,
    /// Title.
    pub title: String,
    /// Variables (at most 24).
    pub variables: Vec<VariableSpec>,
}

impl TemplateSpec {
    /// The default sandbox template: the document's 1C variables plus a few the conformance
    /// suite uses.
    pub fn sandbox() -> Self {
        let v = |name: &str, kind: &str, unique: bool| VariableSpec {
            name: name.into(),
            kind: kind.into(),
            unique,
            list: Vec::new(),
            title: None,
            date_style: None,
        };
        Self {
            id: "5e424c181dbf0d537c8b4569".into(),
            title: "Sandbox loyalty".into(),
            variables: vec![
                v("PHONE", "phone", true),
                v("CLIENT_NAME", "text", false),
                v("SURNAME", "text", false),
                v("BIRTHDAY", "date", false),
                v("EMAIL", "email", false),
                v("BONUS", "number", false),
                v("PERCENT", "number", false),
                v("DISCOUNT", "number", false),
                v("NUMBERCARD", "text", false),
                v("level", "text", false),
                VariableSpec {
                    list: vec!["silver".into(), "gold".into()],
                    ..v("TIER", "list", false)
                },
            ],
        }
    }

    fn variable(&self, name: &str) -> Option<&VariableSpec> {
        self.variables.iter().find(|v| v.name == name)
    }
}

/// A card as the emulator stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCard {
    /// 24 hex.
    pub id: String,
    /// Sequential code.
    pub code: String,
    /// Template.
    pub template: String,
    /// Variables by name (without `%`).
    pub values: BTreeMap<String, String>,
    /// Voided.
    pub voided: bool,
    /// Expiration, `""` for none.
    pub expiration: String,
    /// Installed in Apple Wallet.
    pub installed_aw: bool,
    /// Installed in Google Wallet.
    pub installed_gpay: bool,
    /// `dd.mm.yyyy HH:MM:SS`.
    pub created: String,
    /// `dd.mm.yyyy HH:MM:SS`.
    pub updated: String,
}

/// The account's data.
#[derive(Debug, Default)]
pub struct Account {
    /// Templates by id.
    pub templates: BTreeMap<String, TemplateSpec>,
    /// Cards in creation order.
    pub cards: Vec<StoredCard>,
    /// Cards created so far (for ids and codes).
    pub counter: u64,
    /// Sales by id.
    pub sales: BTreeMap<String, Value>,
    /// Products by id, in creation order of ids.
    pub products: BTreeMap<String, Value>,
    /// Store `phone` variables without their `+` (as the document's `getcard` example shows).
    pub phones_without_plus: bool,
}

fn now_text() -> String {
    Utc::now().format("%d.%m.%Y %H:%M:%S").to_string()
}

/// Checks one value against a variable type, as Passteam does.
pub fn check_value(spec: &VariableSpec, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    let ok = match spec.kind.as_str() {
        "phone" => {
            let digits = value.strip_prefix('+').unwrap_or("");
            (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        }
        "email" => value.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.contains('@') && !value.contains(' ')
        }),
        "date" | "date_time" => match spec.shown_date_style().and_then(date_format) {
            Some(f) if spec.kind == "date" => NaiveDate::parse_from_str(value, f).is_ok(),
            Some(f) => NaiveDateTime::parse_from_str(value, f).is_ok(),
            None => true,
        },
        "list" => spec.list.is_empty() || spec.list.iter().any(|i| i == value),
        "flag" => matches!(value, "true" | "false" | "1" | "0"),
        "number" => value.trim().parse::<rust_decimal::Decimal>().is_ok(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Provided value ({value}) of field (%{}%) has a wrong format for type {}.",
            spec.name, spec.kind
        ))
    }
}

impl Account {
    /// A template by id, or 404.
    pub fn template(&self, id: Option<&str>) -> Result<&TemplateSpec, Fail> {
        let id = id.ok_or_else(|| Fail::new(400, "Parameter templateId is required."))?;
        self.templates
            .get(id)
            .ok_or_else(|| Fail::new(404, "Template not found."))
    }

    /// Index of a card by id, or 404.
    pub fn card_index(&self, id: Option<&str>) -> Result<usize, Fail> {
        let id = id.ok_or_else(|| Fail::new(400, "Parameter cardId is required."))?;
        self.cards
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| Fail::new(404, "Card not found."))
    }

    /// The values as this account stores them: `phone` variables without `+` when
    /// [`Account::phones_without_plus`] is on, everything else as sent.
    fn stored_values(
        &self,
        template: &TemplateSpec,
        values: &[(String, String)],
    ) -> Vec<(String, String)> {
        values
            .iter()
            .map(|(name, value)| {
                let phone = template.variable(name).is_some_and(|v| v.kind == "phone");
                let value = if phone && self.phones_without_plus {
                    value.trim_start_matches('+').to_owned()
                } else {
                    value.clone()
                };
                (name.clone(), value)
            })
            .collect()
    }

    /// Checks the values as sent, then returns them as stored; a unique value is compared in
    /// its stored form.
    fn check_values(
        &self,
        template: &TemplateSpec,
        values: &[(String, String)],
        except: Option<&str>,
    ) -> Result<Vec<(String, String)>, Fail> {
        for (name, value) in values {
            let spec = template.variable(name).ok_or_else(|| {
                Fail::new(
                    400,
                    format!("Provided field (%{name}%) does not exist in the template."),
                )
            })?;
            check_value(spec, value).map_err(|m| Fail::new(400, m))?;
        }
        let stored = self.stored_values(template, values);
        for (name, value) in &stored {
            let unique = template.variable(name).is_some_and(|v| v.unique);
            if unique && !value.is_empty() {
                let dups: Vec<&str> = self
                    .cards
                    .iter()
                    .filter(|c| c.template == template.id && Some(c.id.as_str()) != except)
                    .filter(|c| c.values.get(name) == Some(value))
                    .map(|c| c.id.as_str())
                    .collect();
                if !dups.is_empty() {
                    return Err(Fail::new(
                        409,
                        format!(
                            "Provided value ({value}) of field (%{name}%) is duplicated. Duplicated cards: {}",
                            dups.join(" ")
                        ),
                    ));
                }
            }
        }
        Ok(stored)
    }

    /// `createcard`.
    pub fn create(
        &mut self,
        template_id: Option<&str>,
        values: &[(String, String)],
    ) -> Result<usize, Fail> {
        let template = self.template(template_id)?.clone();
        let values = self.check_values(&template, values, None)?;
        for spec in template.variables.iter().filter(|v| v.unique) {
            if !values.iter().any(|(n, v)| *n == spec.name && !v.is_empty()) {
                return Err(Fail::new(
                    500,
                    format!("Provided field ({}) is unique and must be set.", spec.name),
                ));
            }
        }
        self.counter += 1;
        let n = self.counter;
        let now = now_text();
        self.cards.push(StoredCard {
            id: format!("5e45{:020x}", n),
            code: format!("{n:09}"),
            template: template.id.clone(),
            values: values.iter().cloned().collect(),
            voided: false,
            expiration: String::new(),
            installed_aw: false,
            installed_gpay: false,
            created: now.clone(),
            updated: now,
        });
        Ok(self.cards.len() - 1)
    }

    /// `updatecard`: variables and the system fields `voided` and `expirationDate`. Returns
    /// whether anything changed.
    pub fn update(
        &mut self,
        index: usize,
        values: &[(String, String)],
        system: &BTreeMap<String, String>,
    ) -> Result<bool, Fail> {
        let card = self
            .cards
            .get(index)
            .cloned()
            .ok_or_else(|| Fail::new(404, "Card not found."))?;
        let template = self.template(Some(&card.template))?.clone();
        let values = self.check_values(&template, values, Some(&card.id))?;
        let voided = match system.get("voided").map(String::as_str) {
            None => None,
            Some("1" | "true") => Some(true),
            Some("0" | "false") => Some(false),
            Some(other) => {
                return Err(Fail::new(
                    400,
                    format!("Provided value ({other}) of field (voided) must be 0 or 1."),
                ));
            }
        };
        let Some(card) = self.cards.get_mut(index) else {
            return Err(Fail::new(404, "Card not found."));
        };
        let before = card.clone();
        for (n, v) in values {
            card.values.insert(n, v);
        }
        if let Some(v) = voided {
            card.voided = v;
        }
        if let Some(e) = system.get("expirationDate") {
            card.expiration = e.clone();
        }
        let changed = *card != before;
        if changed {
            card.updated = now_text();
        }
        Ok(changed)
    }

    /// Cards of `template` whose variable `name` is `value`.
    pub fn find_by_value(&self, template: &str, name: &str, value: &str) -> Vec<usize> {
        self.cards
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.template == template && c.values.get(name).map(String::as_str) == Some(value)
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The card as JSON, in the documented card format (`values` keys with `%`).
    pub fn card_json(&self, index: usize) -> Value {
        let Some(c) = self.cards.get(index) else {
            return Value::Null;
        };
        let template = self.templates.get(&c.template);
        let typed = |kind: &str| {
            template
                .and_then(|t| t.variables.iter().find(|v| v.kind == kind))
                .and_then(|v| c.values.get(&v.name))
                .cloned()
                .unwrap_or_default()
        };
        let values: serde_json::Map<String, Value> = c
            .values
            .iter()
            .map(|(k, v)| (format!("%{k}%"), Value::String(v.clone())))
            .collect();
        let url = |kind: &str| format!("https://sandbox.passteam.invalid/{kind}/{}", c.id);
        json!({
            "cardId": c.id, "cardCode": c.code,
            "cardUrl": url("card"), "appleUrl": url("apple"), "googleUrl": url("google"), "qrcodeUrl": url("qr"),
            "values": values, "deviceRegistered": c.installed_aw || c.installed_gpay,
            "expirationDate": c.expiration, "voided": u8::from(c.voided),
            "phoneNumber": typed("phone"), "email": typed("email"),
            "strip": "", "logo": "", "icon": "", "templateId": c.template, "importUid": "",
            "installedGPay": u8::from(c.installed_gpay), "installedAW": u8::from(c.installed_aw),
            "installed": c.installed_aw || c.installed_gpay,
            "created": c.created, "updated": c.updated,
        })
    }

    /// The template as `gettemplate` returns it, with live counters.
    pub fn template_json(&self, t: &TemplateSpec, owner: &str) -> Value {
        let cards: Vec<&StoredCard> = self.cards.iter().filter(|c| c.template == t.id).collect();
        let ios = cards.iter().filter(|c| c.installed_aw).count();
        let android = cards.iter().filter(|c| c.installed_gpay).count();
        let fields: Vec<Value> = t
            .variables
            .iter()
            .map(|v| {
                let mut f = json!({ "title": v.title.clone().unwrap_or_else(|| v.name.clone()), "name": format!("%{}%", v.name), "type": v.kind, "unique": v.unique });
                if !v.list.is_empty() {
                    f["params"] = json!({ "forList": v.list });
                }
                if let Some(style) = v.shown_date_style() {
                    f["params"] = json!({ "dateStyle": style });
                }
                f
            })
            .collect();
        json!({
            "templateId": t.id, "passTypeId": "pass.ru.passteam.sandbox", "title": t.title,
            "teamIdentifier": "SANDBOX", "company": "Sandbox", "city": "Moscow", "type": "loyalty",
            "cardsCount": cards.len(),
            "devicesCounter": { "summ": ios + android, "0": ios, "1": android, "2": 0 },
            "fields": fields, "alias": null, "qrUrl": null, "vacant": false,
            "userTitle": t.title, "owner": owner,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(phones_without_plus: bool, template: TemplateSpec) -> Account {
        Account {
            templates: [(template.id.clone(), template)].into_iter().collect(),
            phones_without_plus,
            ..Account::default()
        }
    }

    fn phone(value: &str) -> Vec<(String, String)> {
        vec![("PHONE".into(), value.into())]
    }

    #[test]
    fn phones_without_plus_are_stored_as_digits_and_stay_unique() {
        let t = TemplateSpec::sandbox();
        let id = t.id.clone();
        let mut a = account(true, t);
        let i = a
            .create(Some(&id), &phone("+79990000001"))
            .unwrap_or(usize::MAX);
        assert_eq!(a.cards[i].values["PHONE"], "79990000001");
        assert!(a.find_by_value(&id, "PHONE", "+79990000001").is_empty());
        assert_eq!(a.find_by_value(&id, "PHONE", "79990000001"), [i]);
        let dup = a.create(Some(&id), &phone("+79990000001"));
        assert!(dup.is_err_and(|f| f.code == 409 && f.message.ends_with(&a.cards[i].id)));
        let mut kept = account(false, TemplateSpec::sandbox());
        let i = kept
            .create(Some(&id), &phone("+79990000001"))
            .unwrap_or(usize::MAX);
        assert_eq!(kept.cards[i].values["PHONE"], "+79990000001");
    }

    #[test]
    fn date_variables_follow_their_style() {
        let mut t = TemplateSpec::sandbox();
        for v in t.variables.iter_mut().filter(|v| v.name == "BIRTHDAY") {
            v.date_style = Some("yyyy-MM-dd".into());
        }
        let birthday = t.variables.iter().find(|v| v.name == "BIRTHDAY").cloned();
        let spec = birthday.unwrap_or_else(|| panic!("sandbox has BIRTHDAY"));
        assert!(check_value(&spec, "1980-01-25").is_ok());
        assert!(check_value(&spec, "25.01.1980").is_err());
        let json = account(false, t.clone()).template_json(&t, "o");
        let shown = json["fields"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["name"] == "%BIRTHDAY%"))
            .map(|f| f["params"]["dateStyle"].clone());
        assert_eq!(shown, Some(Value::String("yyyy-MM-dd".into())));
        let plain = VariableSpec {
            date_style: None,
            ..spec
        };
        assert!(check_value(&plain, "25.01.1980").is_ok());
        assert_eq!(date_format("PKDateStyleShort"), None);
    }
}
