//! Configuration of the Passquare adapter (outbound calls) and of its inbound CRM hooks.
//!
//! Both documented API versions are live in the field and disagree in a few places; where they
//! do, configuration chooses what we *send* (`numbers`, `lifetime_unit`), while everything
//! documented is always *accepted*.

use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use walletport_core::{Error, Result};
use walletport_http::QuotaPlan;

/// The production API host; paths `/api/v2/...` are appended.
pub const DEFAULT_BASE_URL: &str = "https://core.passquare.com";

/// The SMS text used by `send_install_link` when none is given (`%link%` becomes the link).
pub const DEFAULT_SMS_TEXT: &str = "Your card: %link%";

/// How numbers (balance, bonus %, discount %) are written on the wire.
///
/// Document 2.7.5 writes them as strings (`"balance": "300.00"`), the examples version as JSON
/// numbers (`"balance": 300.00`). Both are always accepted on input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumberMode {
    /// `"12.50"` (version 2.7.5, the default).
    #[default]
    String,
    /// `12.5` (examples version).
    Number,
}

/// The unit of `lifetime` in the `addBalance` hook.
///
/// Version 2.7.5 says seconds, the examples version says days (24 h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifetimeUnit {
    /// `86400` means one day (version 2.7.5, the default).
    #[default]
    Seconds,
    /// `14` means fourteen days (examples version).
    Days,
}

impl LifetimeUnit {
    /// The duration of `value` units; `None` when it overflows.
    pub fn to_duration(self, value: u64) -> Option<Duration> {
        match self {
            Self::Seconds => Some(Duration::from_secs(value)),
            Self::Days => value.checked_mul(86_400).map(Duration::from_secs),
        }
    }
}

/// A Passquare rate-limit plan: the named plans of the documentation or custom windows.
///
/// Every documented plan allows 1 request per second; the hourly allowance differs. Support can
/// raise limits, hence custom plans (`plan = ["2/s", "10000/h"]` or `plan = "2/s, 10000/h"`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Plan {
    /// 1 request/s, 60 requests/h (the default).
    #[default]
    Base,
    /// 1 request/s, 600 requests/h.
    Advanced,
    /// 1 request/s, 3,600 requests/h.
    Expert,
    /// 1 request/s, 3,600 requests/h.
    Exclusive,
    /// Windows agreed with Passquare support.
    Custom(QuotaPlan),
}

impl Plan {
    /// The quota windows the limiter must keep for this plan.
    pub fn quota(&self) -> QuotaPlan {
        let named = |hourly: &str| {
            QuotaPlan::parse(&format!("1/s, {hourly}/h")).unwrap_or_else(|_| QuotaPlan::unlimited())
        };
        match self {
            Self::Base => named("60"),
            Self::Advanced => named("600"),
            Self::Expert | Self::Exclusive => named("3600"),
            Self::Custom(plan) => plan.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for Plan {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Name(String),
            Windows(QuotaPlan),
        }
        let raw = Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "plan must be \"base\", \"advanced\", \"expert\", \"exclusive\" or quota windows such as [\"1/s\", \"600/h\"]",
            )
        })?;
        match raw {
            Raw::Name(name) => match name.trim().to_ascii_lowercase().as_str() {
                "base" => Ok(Self::Base),
                "advanced" => Ok(Self::Advanced),
                "expert" => Ok(Self::Expert),
                "exclusive" => Ok(Self::Exclusive),
                _ => QuotaPlan::parse(&name)
                    .map(Self::Custom)
                    .map_err(|e| serde::de::Error::custom(e.message())),
            },
            Raw::Windows(plan) => Ok(Self::Custom(plan)),
        }
    }
}

/// Settings of the Passquare adapter, the `[provider]` table with `kind = "passquare"`.
///
/// ```
/// use walletport_passquare::PassquareConfig;
/// let config: PassquareConfig = serde_json::from_value(serde_json::json!({
///     "app_key": "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
///     "plan": "advanced",
///     "numbers": "number",
/// })).unwrap();
/// assert!(!format!("{config:?}").contains("xxxxxxxx"));
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassquareConfig {
    /// The private key (`app_key`), sent in every request body.
    pub app_key: SecretString,
    /// The API host; `/api/v2/...` is appended.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// How numbers go out: `"string"` (2.7.5, default) or `"number"` (examples version).
    #[serde(default)]
    pub numbers: NumberMode,
    /// The rate-limit plan of the account (default `base`).
    #[serde(default)]
    pub plan: Plan,
    /// Whole-request timeout.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Total attempts of a retryable request (1 disables retries).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The card issuance form (`link`), needed to send personalised install links by SMS.
    #[serde(default)]
    pub form_link: Option<String>,
    /// Default SMS text for install links; must contain `%link%`.
    #[serde(default = "default_sms_text")]
    pub sms_text: String,
    /// Whether the account answers `read_customer` by card number. Unset, it follows the
    /// document version `numbers` names: off for 2.7.5 (`"string"`, whose `read_customer` knows
    /// only the phone), on for the examples version (`"number"`). Read it through
    /// [`PassquareConfig::looks_up_by_card`].
    #[serde(default)]
    pub card_lookup: Option<bool>,
    /// The inbound CRM hooks (used by the gateway; optional for outbound-only use).
    #[serde(default)]
    pub hooks: Option<PassquareHooksConfig>,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_attempts() -> u32 {
    4
}
fn default_sms_text() -> String {
    DEFAULT_SMS_TEXT.to_owned()
}
impl PassquareConfig {
    /// A configuration with defaults for everything but the key.
    pub fn new(app_key: impl Into<String>) -> Self {
        Self {
            app_key: SecretString::from(app_key.into()),
            base_url: default_base_url(),
            numbers: NumberMode::default(),
            plan: Plan::default(),
            timeout: default_timeout(),
            max_attempts: default_max_attempts(),
            form_link: None,
            sms_text: default_sms_text(),
            card_lookup: None,
            hooks: None,
        }
    }

    /// Whether `read_customer` may look a customer up by card number: `card_lookup` when set,
    /// else what the configured document version knows (only the examples version has `card`).
    pub fn looks_up_by_card(&self) -> bool {
        self.card_lookup
            .unwrap_or(self.numbers == NumberMode::Number)
    }

    /// Checks what serde cannot: a usable base URL, a key, a sane timeout, an SMS template.
    pub fn validate(&self) -> Result<()> {
        use secrecy::ExposeSecret;
        if self.app_key.expose_secret().trim().is_empty() {
            return Err(Error::config("passquare: `app_key` must not be empty"));
        }
        let base = self.base_url.trim();
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.len() < 8 {
            return Err(Error::config(format!(
                "passquare: `base_url` must be an http(s) URL, got `{base}`"
            )));
        }
        if self.timeout.is_zero() {
            return Err(Error::config(
                "passquare: `timeout` must be longer than zero",
            ));
        }
        if !self.sms_text.contains("%link%") {
            return Err(Error::config(
                "passquare: `sms_text` must contain `%link%` where the install link goes",
            ));
        }
        if let Some(link) = &self.form_link
            && !(link.starts_with("http://") || link.starts_with("https://"))
        {
            return Err(Error::config(
                "passquare: `form_link` must be an http(s) URL",
            ));
        }
        if let Some(hooks) = &self.hooks {
            hooks.validate()?;
        }
        Ok(())
    }
}

/// Settings of the inbound CRM hooks (methods 1.1–1.3) that Passquare calls on the merchant.
///
/// Authentication: `crm_key` in the body, or HTTP Basic with an empty login and the key as
/// password, or a configured `basic_user`/`basic_password`. With none configured every call is
/// refused (401).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PassquareHooksConfig {
    /// The `crm_key` from the integration settings.
    pub crm_key: Option<SecretString>,
    /// HTTP Basic login, when the integration uses "http basic authentication".
    pub basic_user: Option<String>,
    /// HTTP Basic password.
    pub basic_password: Option<SecretString>,
    /// Unit of `lifetime` in `addBalance` (default seconds, as 2.7.5 says).
    pub lifetime_unit: LifetimeUnit,
    /// How `readBalance` answers write numbers (default strings).
    pub numbers: NumberMode,
    /// When non-empty, only these peers may call (Passquare documents 164.90.200.81).
    pub allowed_ips: Vec<IpAddr>,
}

impl PassquareHooksConfig {
    /// Hooks authenticated by `crm_key` (in the body or as the Basic password).
    pub fn with_crm_key(crm_key: impl Into<String>) -> Self {
        Self {
            crm_key: Some(SecretString::from(crm_key.into())),
            ..Self::default()
        }
    }

    /// True when at least one way of authenticating is configured.
    pub fn has_credentials(&self) -> bool {
        self.crm_key.is_some() || (self.basic_user.is_some() && self.basic_password.is_some())
    }

    /// Checks that the Basic pair is complete and that some credential exists.
    pub fn validate(&self) -> Result<()> {
        if self.basic_user.is_some() != self.basic_password.is_some() {
            return Err(Error::config(
                "passquare hooks: `basic_user` and `basic_password` go together",
            ));
        }
        if !self.has_credentials() {
            return Err(Error::config(
                "passquare hooks: configure `crm_key` or `basic_user`/`basic_password`",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(tag = "kind", rename_all = "lowercase")]
    enum Tagged {
        Passquare(PassquareConfig),
    }

    #[test]
    fn named_and_custom_plans() {
        let cfg: PassquareConfig =
            serde_json::from_value(serde_json::json!({"app_key": "k"})).unwrap();
        assert_eq!(cfg.plan.quota().to_string(), "1/1s, 60/1h");
        for (plan, want) in [
            (serde_json::json!("advanced"), "1/1s, 600/1h"),
            (serde_json::json!("Expert"), "1/1s, 3600/1h"),
            (serde_json::json!("exclusive"), "1/1s, 3600/1h"),
            (serde_json::json!(["5/s", "100000/h"]), "5/1s, 100000/1h"),
            (serde_json::json!("2/s, 9000/h"), "2/1s, 9000/1h"),
        ] {
            let cfg: PassquareConfig =
                serde_json::from_value(serde_json::json!({"app_key": "k", "plan": plan})).unwrap();
            assert_eq!(cfg.plan.quota().to_string(), want);
        }
        assert!(
            serde_json::from_value::<PassquareConfig>(
                serde_json::json!({"app_key": "k", "plan": "platinum"})
            )
            .is_err()
        );
    }

    #[test]
    fn card_lookup_follows_the_document_version_unless_set() {
        let cfg = |v: serde_json::Value| serde_json::from_value::<PassquareConfig>(v).unwrap();
        assert!(!cfg(serde_json::json!({"app_key": "k"})).looks_up_by_card());
        assert!(
            !PassquareConfig::new("k").looks_up_by_card(),
            "2.7.5 is the default"
        );
        assert!(cfg(serde_json::json!({"app_key": "k", "numbers": "number"})).looks_up_by_card());
        assert!(
            cfg(serde_json::json!({"app_key": "k", "card_lookup": true})).looks_up_by_card(),
            "explicit on a 2.7.5 account"
        );
        assert!(
            !cfg(serde_json::json!({"app_key": "k", "numbers": "number", "card_lookup": false}))
                .looks_up_by_card()
        );
    }

    #[test]
    fn unknown_fields_are_rejected_inside_the_tagged_enum() {
        let ok: Tagged = serde_json::from_value(
            serde_json::json!({"kind": "passquare", "app_key": "k", "numbers": "number"}),
        )
        .unwrap();
        let Tagged::Passquare(cfg) = ok;
        assert_eq!(cfg.numbers, NumberMode::Number);
        let err = serde_json::from_value::<Tagged>(
            serde_json::json!({"kind": "passquare", "app_key": "k", "bogus": 1}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
        let err = serde_json::from_value::<Tagged>(serde_json::json!({
            "kind": "passquare", "app_key": "k", "hooks": {"crm_key": "c", "nope": true}
        }))
        .unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let mut cfg = PassquareConfig::new("super-secret-key");
        cfg.hooks = Some(PassquareHooksConfig {
            basic_password: Some("hook-password".to_owned().into()),
            ..PassquareHooksConfig::with_crm_key("crm-secret")
        });
        let shown = format!("{cfg:?}");
        for secret in ["super-secret-key", "hook-password", "crm-secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn validation_catches_what_serde_cannot() {
        assert!(PassquareConfig::new("k").validate().is_ok());
        assert!(PassquareConfig::new(" ").validate().is_err());
        let mut cfg = PassquareConfig::new("k");
        cfg.base_url = "core.passquare.com".into();
        assert!(cfg.validate().is_err());
        let mut cfg = PassquareConfig::new("k");
        cfg.sms_text = "no link".into();
        assert!(cfg.validate().is_err());
        let hooks = PassquareHooksConfig {
            basic_user: Some("u".into()),
            ..Default::default()
        };
        assert!(hooks.validate().is_err());
        assert!(PassquareHooksConfig::default().validate().is_err());
        assert!(PassquareHooksConfig::with_crm_key("c").validate().is_ok());
        assert_eq!(
            LifetimeUnit::Days.to_duration(14),
            Some(Duration::from_secs(14 * 86_400))
        );
        assert_eq!(LifetimeUnit::Days.to_duration(u64::MAX), None);
    }
}
