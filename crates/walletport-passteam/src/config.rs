//! Configuration of the Passteam adapter: where, who, which template, how variables map.
//!
//! It is one variant of the facade's `ProviderConfig` (`kind = "passteam"`), so every struct here
//! rejects unknown keys: a typo in `walletport.toml` is a config error, not a silently ignored
//! setting.

use std::collections::BTreeSet;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use walletport_core::{BalanceFields, Error, Result, TemplateId};
use walletport_http::QuotaPlan;

pub use crate::guesses::{CommercePaths, ParamNames};

/// The production API host the document names.
pub const DEFAULT_BASE_URL: &str = "https://getpass.passteam.ru";

/// How request bodies go on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyEncoding {
    /// `multipart/form-data`, what the document prescribes ("Необходимо указывать тип содержимого
    /// как multipart/form-data").
    #[default]
    Multipart,
    /// `application/x-www-form-urlencoded`, as in the document's 1C listings.
    Form,
}

/// Which template variable holds each domain field (`[provider.fields]`).
///
/// Passteam cards are nothing but free-form template variables, so the adapter must be told
/// which variable is the phone, the name, the balance... A domain field that is not mapped is
/// simply not sent; variables that are not mapped land in the card's `fields`. Names are given
/// without the `%` signs (`PHONE`, not `%PHONE%`); surrounding `%` are tolerated and stripped.
///
/// Without a `[provider.fields]` table the mapping of the document's 1C example is used
/// ([`FieldMap::documented`]); with a table, exactly the keys it lists are mapped (the phone
/// defaults to `PHONE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMap {
    /// The phone variable: the customer key (must be a unique variable in the template).
    #[serde(default = "default_phone")]
    pub phone: String,
    /// First name.
    #[serde(default)]
    pub name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub surname: Option<String>,
    /// Middle name / patronymic.
    #[serde(default)]
    pub middle_name: Option<String>,
    /// Birthday, sent as `dd.mm.yyyy`.
    #[serde(default)]
    pub birthday: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Points balance.
    #[serde(default)]
    pub balance: Option<String>,
    /// Bonus accrual percentage.
    #[serde(default)]
    pub bonus: Option<String>,
    /// Discount percentage.
    #[serde(default)]
    pub discount: Option<String>,
    /// The merchant's card number (e.g. `NUMBERCARD`); read into the card's `number`.
    #[serde(default)]
    pub card_number: Option<String>,
}

fn default_phone() -> String {
    "PHONE".to_owned()
}

impl Default for FieldMap {
    fn default() -> Self {
        Self::documented()
    }
}

impl FieldMap {
    /// The variables of the document's 1C example: `PHONE`, `CLIENT_NAME`, `BIRTHDAY`, `EMAIL`,
    /// `BONUS` (points), `DISCOUNT`, `NUMBERCARD`.
    pub fn documented() -> Self {
        Self {
            name: Some("CLIENT_NAME".into()),
            birthday: Some("BIRTHDAY".into()),
            email: Some("EMAIL".into()),
            balance: Some("BONUS".into()),
            discount: Some("DISCOUNT".into()),
            card_number: Some("NUMBERCARD".into()),
            ..Self::phone_only(default_phone())
        }
    }

    /// Only the phone mapped.
    pub fn phone_only(phone: impl Into<String>) -> Self {
        Self {
            phone: phone.into(),
            name: None,
            surname: None,
            middle_name: None,
            birthday: None,
            email: None,
            balance: None,
            bonus: None,
            discount: None,
            card_number: None,
        }
    }

    /// Every mapping as `(domain field, variable)`, phone first.
    pub fn entries(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![("phone", self.phone.as_str())];
        for (what, var) in [
            ("name", &self.name),
            ("surname", &self.surname),
            ("middle_name", &self.middle_name),
            ("birthday", &self.birthday),
            ("email", &self.email),
            ("balance", &self.balance),
            ("bonus", &self.bonus),
            ("discount", &self.discount),
            ("card_number", &self.card_number),
        ] {
            if let Some(v) = var {
                out.push((what, v.as_str()));
            }
        }
        out
    }

    /// True when `variable` is one of the mapped variables.
    pub fn maps(&self, variable: &str) -> bool {
        self.entries().iter().any(|(_, v)| *v == variable)
    }

    /// True when any balance value (points, bonus %, discount %) is mapped.
    pub fn has_balance(&self) -> bool {
        !self.balance_fields().is_empty()
    }

    /// The balance values a card can hold with this map: a value is held only when a variable
    /// is mapped for it, so the gateway sends the rest nowhere instead of failing.
    pub fn balance_fields(&self) -> BalanceFields {
        BalanceFields {
            points: self.balance.is_some(),
            bonus_percent: self.bonus.is_some(),
            discount_percent: self.discount.is_some(),
        }
    }

    /// The map with every variable name normalized (`%TEL%` → `TEL`), as cards name them.
    pub fn normalized(mut self) -> Self {
        self.normalize();
        self
    }

    fn normalize(&mut self) {
        self.phone = normalize_variable(&self.phone);
        for v in [
            &mut self.name,
            &mut self.surname,
            &mut self.middle_name,
            &mut self.birthday,
            &mut self.email,
            &mut self.balance,
            &mut self.bonus,
            &mut self.discount,
            &mut self.card_number,
        ]
        .into_iter()
        .flatten()
        {
            *v = normalize_variable(v);
        }
    }

    fn validate(&self) -> Result<()> {
        let mut seen = BTreeSet::new();
        for (what, var) in self.entries() {
            check_variable_name(var)
                .map_err(|e| Error::config(format!("fields.{what}: {}", e.message())))?;
            if !seen.insert(var) {
                return Err(Error::config(format!(
                    "fields.{what}: variable `{var}` is mapped to two domain fields"
                )));
            }
        }
        Ok(())
    }
}

/// Strips one pair of surrounding `%` and whitespace: `%PHONE%` → `PHONE`.
pub fn normalize_variable(name: &str) -> String {
    let t = name.trim();
    let t = t.strip_prefix('%').unwrap_or(t);
    let t = t.strip_suffix('%').unwrap_or(t);
    t.to_owned()
}

/// A variable name must be 1–128 characters without control characters or `"` (they cannot be
/// carried in a multipart field name unambiguously).
pub fn check_variable_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid_input("variable name must not be empty"));
    }
    if name.chars().count() > 128 {
        return Err(Error::invalid_input(format!(
            "variable name `{}…` is longer than 128 characters",
            name.chars().take(32).collect::<String>()
        )));
    }
    if name.chars().any(|c| c.is_control() || c == '"') {
        return Err(Error::invalid_input(format!(
            "variable name {name:?} contains a control character or `\"`"
        )));
    }
    Ok(())
}

/// Which form of a phone `getcard` looks for in the phone variable.
///
/// The document's phone type is "international format (with +7)", but its own `getcard` example
/// stores `"PHONE": "71234567890"`; an account may hold either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhoneLookup {
    /// Try `+7…`, then `7…` (a miss costs two requests; the form found last goes first).
    #[default]
    Both,
    /// Only `+7…` (one request per lookup; for accounts known to keep the `+`).
    Plus,
    /// Only `7…` (one request per lookup; for accounts that store digits).
    Digits,
}

/// Settings of the Passteam adapter (`[provider]` with `kind = "passteam"`).
///
/// ```
/// let config: walletport_passteam::PassteamConfig = serde_json::from_value(serde_json::json!({
///     "token": "abc",
///     "template_id": "5e424c181dbf0d537c8b4569",
///     "encoding": "form",
///     "fields": { "phone": "PHONE", "balance": "BONUS" }
/// })).unwrap();
/// assert!(!format!("{config:?}").contains("abc"));
/// assert_eq!(config.fields.name, None, "a fields table maps exactly what it lists");
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassteamConfig {
    /// API host, default `https://getpass.passteam.ru` (the emulator's URL in tests).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The API token from the Passteam profile, sent as `Authorization: <token>`.
    #[serde(default, skip_serializing)]
    pub token: Option<SecretString>,
    /// Login for `getatoken`, used when no `token` is configured.
    #[serde(default)]
    pub login: Option<String>,
    /// Password for `getatoken`.
    #[serde(default, skip_serializing)]
    pub password: Option<SecretString>,
    /// The template (company) new cards are created in and listings read.
    #[serde(default)]
    pub template_id: Option<TemplateId>,
    /// Body encoding: `multipart` (default) or `form`.
    #[serde(default)]
    pub encoding: BodyEncoding,
    /// Variable mapping.
    #[serde(default)]
    pub fields: FieldMap,
    /// Which stored phone form lookups find: `both` (default), `plus` or `digits`.
    #[serde(default)]
    pub phone_lookup: PhoneLookup,
    /// The IANA zone Passteam's zone-less timestamps (`expirationDate`, `created`, `updated`)
    /// are read in, default `Europe/Moscow`: an assumption, the document names no zone.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Fetch the template once (`gettemplate`) and check values against its variable types
    /// before sending them (default true).
    #[serde(default = "yes")]
    pub validate_values: bool,
    /// The account's rate-limit plan, default `"3000/h, 30000/d"`: a tenth of the most a plan
    /// can be raised to (30,000/h, 350,000/d), because the real plan is not readable through the
    /// API. Set it to the plan in the Passteam cabinet; a "You can only make N requests per hour"
    /// answer lowers the hourly window to N for the rest of the process anyway.
    #[serde(default = "default_quota")]
    pub quota: QuotaPlan,
    /// Whole-request timeout, default 30 s (humantime, e.g. `"10s"`).
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Retries of retryable failures, default 3.
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    /// The company id the Products methods need.
    #[serde(default)]
    pub company_id: Option<String>,
    /// Paths of the Sales and Products methods (guessed; see [`crate::guesses`]).
    #[serde(default)]
    pub commerce_paths: CommercePaths,
    /// Parameter names the document leaves unnamed (guessed; see [`crate::guesses`]).
    #[serde(default)]
    pub param_names: ParamNames,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}
fn default_timezone() -> String {
    "Europe/Moscow".to_owned()
}
fn yes() -> bool {
    true
}
fn default_quota() -> QuotaPlan {
    QuotaPlan::parse("3000/h, 30000/d").unwrap_or_default()
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_retries() -> u32 {
    3
}

impl std::fmt::Debug for PassteamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = |s: &Option<SecretString>| if s.is_some() { "[redacted]" } else { "none" };
        f.debug_struct("PassteamConfig")
            .field("base_url", &self.base_url)
            .field("token", &secret(&self.token))
            .field("login", &self.login)
            .field("password", &secret(&self.password))
            .field("template_id", &self.template_id)
            .field("encoding", &self.encoding)
            .field("fields", &self.fields)
            .field("phone_lookup", &self.phone_lookup)
            .field("timezone", &self.timezone)
            .field("validate_values", &self.validate_values)
            .field("quota", &self.quota)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("company_id", &self.company_id)
            .field("commerce_paths", &self.commerce_paths)
            .field("param_names", &self.param_names)
            .finish()
    }
}

impl Default for PassteamConfig {
    fn default() -> Self {
        Self {
            base_url: default_base_url(),
            token: None,
            login: None,
            password: None,
            template_id: None,
            encoding: BodyEncoding::default(),
            fields: FieldMap::documented(),
            phone_lookup: PhoneLookup::default(),
            timezone: default_timezone(),
            validate_values: true,
            quota: default_quota(),
            timeout: default_timeout(),
            max_retries: default_retries(),
            company_id: None,
            commerce_paths: CommercePaths::default(),
            param_names: ParamNames::default(),
        }
    }
}

impl PassteamConfig {
    /// A default config with an API token.
    pub fn with_token(token: impl Into<String>) -> Self {
        Self {
            token: Some(SecretString::from(token.into())),
            ..Self::default()
        }
    }

    /// Checks what serde cannot and normalizes variable names; called by the provider.
    pub fn validated(mut self) -> Result<Self> {
        let url = url::Url::parse(&self.base_url)
            .map_err(|e| Error::config(format!("base_url `{}`: {e}", self.base_url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::config("base_url must be an http(s) URL"));
        }
        self.base_url = self.base_url.trim_end_matches('/').to_owned();
        if self.token.is_none() && (self.login.is_none() || self.password.is_none()) {
            return Err(Error::config(
                "passteam needs `token`, or `login` and `password` for getatoken",
            ));
        }
        self.fields.normalize();
        self.fields.validate()?;
        self.commerce_paths.validate()?;
        self.param_names.validate()?;
        if self.timeout.is_zero() {
            return Err(Error::config("timeout must be longer than zero"));
        }
        self.timezone.trim().parse::<chrono_tz::Tz>().map_err(|_| {
            Error::config(format!(
                "timezone `{}` is not an IANA zone name (e.g. Europe/Moscow)",
                self.timezone
            ))
        })?;
        Ok(self)
    }

    /// The zone of `timezone` (validated by [`PassteamConfig::validated`]; Moscow otherwise).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone
            .trim()
            .parse()
            .unwrap_or(crate::mapping::card::DEFAULT_TIMEZONE)
    }

    /// The configured `[provider.fields]` with variable names normalized (`%TEL%` → `TEL`): what
    /// the gateway's webhook receiver must use so events find the merchant's variables.
    pub fn field_map(&self) -> FieldMap {
        self.fields.clone().normalized()
    }

    /// The configured template, or a config error naming the operation that needs it.
    pub fn require_template(&self, operation: &str) -> Result<&TemplateId> {
        self.template_id.as_ref().ok_or_else(|| {
            Error::config(format!(
                "passteam `{operation}` needs `template_id` in the config"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_table_maps_only_what_it_lists() {
        let m: FieldMap =
            serde_json::from_str(r#"{"balance":"%POINTS%"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.phone, "PHONE");
        assert_eq!(m.name, None);
        let c = PassteamConfig {
            fields: m,
            ..PassteamConfig::with_token("t")
        }
        .validated()
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.fields.balance.as_deref(), Some("POINTS"));
    }

    #[test]
    fn field_map_is_normalized_and_tells_the_balance_fields() {
        let c: PassteamConfig = serde_json::from_str(
            r#"{"token":"t","fields":{"phone":"%TEL%","name":"NAME","balance":"%POINTS%"}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let map = c.field_map();
        assert_eq!(
            (map.phone.as_str(), map.balance.as_deref()),
            ("TEL", Some("POINTS"))
        );
        assert_eq!(
            map.balance_fields(),
            BalanceFields {
                points: true,
                ..BalanceFields::NONE
            }
        );
        assert_eq!(
            FieldMap::documented().balance_fields().held(),
            ["points", "discount_percent"]
        );
        assert!(!FieldMap::phone_only("P").has_balance());
    }

    #[test]
    fn the_timezone_defaults_to_moscow_and_must_be_a_zone() {
        let c = PassteamConfig::with_token("t")
            .validated()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.tz(), chrono_tz::Europe::Moscow);
        let c: PassteamConfig =
            serde_json::from_str(r#"{"token":"t","timezone":"Asia/Yekaterinburg"}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.tz(), chrono_tz::Asia::Yekaterinburg);
        let bad = PassteamConfig {
            timezone: "Moscow".into(),
            ..PassteamConfig::with_token("t")
        };
        assert!(
            bad.validated()
                .is_err_and(|e| e.message().contains("timezone"))
        );
    }

    #[test]
    fn duplicate_and_bad_mappings_are_config_errors() {
        let mut c = PassteamConfig::with_token("t");
        c.fields.email = Some("PHONE".into());
        assert!(
            c.validated()
                .is_err_and(|e| e.message().contains("two domain fields"))
        );
        let mut c = PassteamConfig::with_token("t");
        c.fields.name = Some("A\"B".into());
        assert!(c.validated().is_err());
        assert!(
            PassteamConfig::default().validated().is_err(),
            "no credentials"
        );
    }

    #[test]
    fn unknown_keys_are_rejected_and_secrets_hidden() {
        let e = serde_json::from_str::<PassteamConfig>(r#"{"token":"x","tokn":"y"}"#);
        assert!(e.is_err_and(|e| e.to_string().contains("tokn")));
        let e = serde_json::from_str::<PassteamConfig>(r#"{"token":"x","fields":{"phne":"P"}}"#);
        assert!(e.is_err_and(|e| e.to_string().contains("phne")));
        let c: PassteamConfig =
            serde_json::from_str(r#"{"token":"sekrit-123","password":"pw-456","encoding":"form"}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("sekrit-123") && !dbg.contains("pw-456"),
            "{dbg}"
        );
        assert_eq!(c.encoding, BodyEncoding::Form);
        assert_eq!(c.quota.windows().len(), 2);
    }

    /// The facade wraps this config in `#[serde(tag = "kind")]`; unknown keys must still fail.
    #[test]
    fn deny_unknown_fields_survives_an_internally_tagged_enum() {
        #[derive(Debug, Deserialize)]
        #[serde(tag = "kind", rename_all = "lowercase")]
        enum Provider {
            Passteam(PassteamConfig),
        }
        let ok: Result<Provider, _> =
            serde_json::from_str(r#"{"kind":"passteam","token":"x","timeout":"5s"}"#);
        assert!(ok.is_ok_and(|Provider::Passteam(c)| c.timeout == Duration::from_secs(5)));
        let bad: Result<Provider, _> =
            serde_json::from_str(r#"{"kind":"passteam","token":"x","bogus":1}"#);
        assert!(bad.is_err_and(|e| e.to_string().contains("bogus")));
    }
}
