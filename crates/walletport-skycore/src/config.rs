//! Configuration of the Skycore adapter: the `[provider]` table with `kind = "skycore"`.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use walletport_core::{Error, Result};
use walletport_http::{InProcessLimiters, LimiterFactory, QuotaPlan, RetryPolicy, TransportConfig};

use crate::PROVIDER;
use crate::mapping::points;
use crate::wire::{FIELD_TARGETS, is_field_target};

/// The two loyalty-card layouts of a Skycore pass template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Layout {
    /// `loyalty-card-type1`: strip image and two front fields; no custom fields.
    #[default]
    #[serde(rename = "loyalty-card-type1", alias = "1")]
    One,
    /// `loyalty-card-type2`: up to four dynamic front fields, `custom-field-1..3`.
    #[serde(rename = "loyalty-card-type2", alias = "2")]
    Two,
}

impl Layout {
    /// The `pass-template-subtype` Skycore uses for this layout.
    pub fn subtype(self) -> &'static str {
        match self {
            Self::One => "loyalty-card-type1",
            Self::Two => "loyalty-card-type2",
        }
    }

    /// Reads a subtype name, case-insensitively.
    pub fn from_subtype(s: &str) -> Option<Self> {
        [Self::One, Self::Two]
            .into_iter()
            .find(|l| l.subtype().eq_ignore_ascii_case(s.trim()))
    }
}

/// How a customer becomes a Skycore `pass-id` (the merchant's key of a pass).
///
/// Skycore has no lookup by phone: finding a customer by phone works only when the pass-id *is*
/// the phone, so [`crate::SkycoreProvider::capability_for`] follows this setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassIdStrategy {
    /// The phone's digits (`+420000000001` → `420000000001`; pass-ids are alphanumeric).
    #[default]
    Phone,
    /// The merchant's customer id, which must then be alphanumeric.
    CustomerId,
}

/// Settings of the Skycore adapter. Unknown keys are rejected; the API key never shows in
/// `Debug` output.
///
/// ```
/// use walletport_skycore::{PassIdStrategy, SkycoreConfig};
/// let config: SkycoreConfig = serde_json::from_value(serde_json::json!({
///     "endpoint": "https://api.skycore.invalid/API/",
///     "api_key": "0123456789abcdef",
///     "template_id": "a1b2c3",
///     "pass_id": "customer_id",
///     "fields": { "tier": "custom-field-1" },
///     "layout": "loyalty-card-type2",
/// }))?;
/// assert_eq!(config.pass_id, PassIdStrategy::CustomerId);
/// assert!(!format!("{config:?}").contains("0123456789abcdef"));
/// config.validate()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkycoreConfig {
    /// The account's API URL (shown in Skycore's "API Settings"; the document prints none, so
    /// there is no default). Every call is a POST to it.
    #[serde(alias = "api_url")]
    pub endpoint: String,
    /// The `X-Api-Key` value (case-sensitive).
    pub api_key: SecretString,
    /// The pass template cards are issued with, read and updated against.
    pub template_id: String,
    /// The layout of `template_id` (decides whether `custom-field-1..3` may be sent).
    #[serde(default)]
    pub layout: Layout,
    /// How pass-ids are derived from customers (default `phone`).
    #[serde(default)]
    pub pass_id: PassIdStrategy,
    /// Domain field names → Skycore pass-data keys, e.g. `tier = "custom-field-1"`. Card and
    /// template fields may also use the Skycore keys themselves.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Template body sections merged under every created template (brand defaults: logos,
    /// colours, card issuer, barcode type), e.g. `{ "appearance": { "background-color": "#112233" } }`.
    #[serde(default)]
    pub template_defaults: serde_json::Map<String, serde_json::Value>,
    /// Client-side quota; Skycore documents none (default `10/s`).
    #[serde(default = "default_rate_limit")]
    pub rate_limit: QuotaPlan,
    /// Whole-request timeout per attempt.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Total attempts of a retryable request (1 disables retries).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// How `loyalty-points` is written, e.g. `"{points} pts"` (default: the plain number). Reads
    /// take the number back out of the text, so the literal part may hold no digits.
    #[serde(default)]
    pub points_format: Option<String>,
    /// How `secondary-loyalty-points` (the bonus %) is written, e.g. `"{bonus}%"` (default: the
    /// plain number); the same rules as `points_format`. Reads are stricter than for points:
    /// only a text of exactly this form (a plain number in 0..=100 in place of `{bonus}`) is a
    /// bonus, so a field a merchant's own passes use otherwise (`699`, a date) reads as 0 %.
    #[serde(default)]
    pub bonus_format: Option<String>,
}

fn default_rate_limit() -> QuotaPlan {
    QuotaPlan::parse("10/s").unwrap_or_else(|_| QuotaPlan::unlimited())
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_max_attempts() -> u32 {
    3
}

impl SkycoreConfig {
    /// A configuration with defaults for everything but the endpoint, key and template.
    pub fn new(
        endpoint: impl Into<String>,
        api_key: impl Into<String>,
        template_id: impl Into<String>,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            api_key: SecretString::from(api_key.into()),
            template_id: template_id.into(),
            layout: Layout::default(),
            pass_id: PassIdStrategy::default(),
            fields: BTreeMap::new(),
            template_defaults: serde_json::Map::new(),
            rate_limit: default_rate_limit(),
            timeout: default_timeout(),
            max_attempts: default_max_attempts(),
            points_format: None,
            bonus_format: None,
        }
    }

    /// Checks what serde cannot: a usable URL, a non-empty key and template, field targets that
    /// are Skycore pass-data keys, template defaults that are sections.
    pub fn validate(&self) -> Result<()> {
        self.transport_config().map(|_| ())
    }

    /// The transport settings this configuration asks for (requests carry the API key), with an
    /// in-process quota limiter.
    pub fn transport_config(&self) -> Result<TransportConfig> {
        self.transport_config_with(&InProcessLimiters)
    }

    /// Like [`transport_config`](Self::transport_config), with the quota limiter `limiters`
    /// builds (e.g. one shared through the gateway's database).
    pub fn transport_config_with(&self, limiters: &dyn LimiterFactory) -> Result<TransportConfig> {
        let bad = |m: String| Error::config(m).with_provider(PROVIDER);
        if self.api_key.expose_secret().trim().is_empty() {
            return Err(bad("api_key must not be empty".into()));
        }
        if self.template_id.trim().is_empty() {
            return Err(bad("template_id must not be empty".into()));
        }
        if self.timeout.is_zero() {
            return Err(bad("timeout must be positive".into()));
        }
        if self.max_attempts == 0 {
            return Err(bad("max_attempts must be at least 1".into()));
        }
        for (name, target) in &self.fields {
            if !is_field_target(target) {
                return Err(bad(format!(
                    "fields.{name} = `{target}` is not a Skycore pass-data key ({})",
                    FIELD_TARGETS.join(", ")
                )));
            }
            if target.starts_with("custom-field-") && self.layout != Layout::Two {
                return Err(bad(format!(
                    "fields.{name} = `{target}`: custom fields need layout = \"loyalty-card-type2\""
                )));
            }
        }
        if let Some(f) = &self.points_format {
            points::validate_format("points_format", f, points::POINTS_PLACEHOLDER)
                .map_err(|e| e.with_provider(PROVIDER))?;
        }
        if let Some(f) = &self.bonus_format {
            points::validate_format("bonus_format", f, points::BONUS_PLACEHOLDER)
                .map_err(|e| e.with_provider(PROVIDER))?;
        }
        if let Some((k, _)) = self.template_defaults.iter().find(|(_, v)| !v.is_object()) {
            return Err(bad(format!(
                "template_defaults.{k} must be a table (a template section)"
            )));
        }
        Ok(TransportConfig::parse(PROVIDER, &self.endpoint)
            .map_err(|e| bad(format!("endpoint: {}", e.message())))?
            .with_timeout(self.timeout)
            .with_retry(RetryPolicy::default().with_max_attempts(self.max_attempts))
            .with_quota_from(limiters, self.rate_limit.clone()))
    }

    /// The Skycore key a domain field name stands for: the configured mapping (names compared
    /// case-insensitively), else the name itself when it is a Skycore key.
    pub fn field_target(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .or_else(|| is_field_target(name).then(|| name.to_owned()))
    }

    /// The domain name of a Skycore pass-data key (the reverse of [`field_target`](Self::field_target)).
    pub fn field_name(&self, key: &str) -> String {
        self.fields
            .iter()
            .find(|(_, v)| v.as_str() == key)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| key.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The facade wraps this config in an internally tagged enum; unknown keys must still fail.
    #[derive(Debug, Deserialize)]
    #[serde(tag = "kind", rename_all = "lowercase")]
    enum Tagged {
        Skycore(SkycoreConfig),
    }

    fn base() -> serde_json::Value {
        serde_json::json!({"kind": "skycore", "endpoint": "http://127.0.0.1:1/", "api_key": "k", "template_id": "t"})
    }

    #[test]
    fn unknown_keys_are_rejected_inside_the_tagged_enum() {
        let Tagged::Skycore(config) = serde_json::from_value(base()).expect("valid config");
        assert!(config.validate().is_ok());
        assert_eq!(config.pass_id, PassIdStrategy::Phone);
        assert!(
            !format!("{config:?}").contains("\"k\""),
            "the key is redacted"
        );
        let mut bad = base();
        bad["bogus"] = 1.into();
        let err = serde_json::from_value::<Tagged>(bad).expect_err("unknown key");
        assert!(err.to_string().contains("bogus"), "{err}");
        let mut bad = base();
        bad["pass_id"] = "email".into();
        assert!(serde_json::from_value::<Tagged>(bad).is_err());
    }

    #[test]
    fn validation_names_the_problem() {
        let mut config = SkycoreConfig::new("not a url", "k", "t");
        assert!(
            config
                .validate()
                .unwrap_err()
                .message()
                .contains("endpoint")
        );
        config.endpoint = "http://127.0.0.1:1".into();
        config.fields.insert("tier".into(), "custom-field-1".into());
        assert!(
            config
                .validate()
                .unwrap_err()
                .message()
                .contains("loyalty-card-type2")
        );
        config.layout = Layout::Two;
        assert!(config.validate().is_ok());
        config.points_format = Some("{points} x2".into());
        let e = config.validate().unwrap_err();
        assert_eq!(e.kind(), walletport_core::ErrorKind::ConfigInvalid);
        assert!(e.message().contains("[provider] points_format"), "{e}");
        config.points_format = Some("{points} pts".into());
        config.bonus_format = Some("%".into());
        assert!(
            config
                .validate()
                .unwrap_err()
                .message()
                .contains("bonus_format")
        );
        config.bonus_format = Some("{bonus}%".into());
        assert!(config.validate().is_ok());
        assert_eq!(
            config.field_target("TIER").as_deref(),
            Some("custom-field-1")
        );
        assert_eq!(config.field_target("message5").as_deref(), Some("message5"));
        assert_eq!(config.field_target("nickname"), None);
        assert_eq!(config.field_name("custom-field-1"), "tier");
        config.fields.insert("x".into(), "program-name".into());
        assert!(config.validate().is_err());
        let empty_template = SkycoreConfig::new("http://127.0.0.1:1", "k", " ");
        assert!(empty_template.validate().is_err());
    }
}
