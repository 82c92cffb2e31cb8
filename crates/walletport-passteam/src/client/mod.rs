//! [`PassteamProvider`]: the ports over a [`Transport`], the token cache and the template cache.

mod check;
mod extra;
mod ports;
mod quota;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use walletport_core::{
    Capability, CardId, Error, ErrorKind, Phone, ProviderInfo, Result, TemplateId,
};
use walletport_http::{
    HttpRequest, HttpResponse, HttpTransport, InProcessLimiters, Limiter, LimiterFactory,
    RetryPolicy, Transport, TransportConfig,
};

use crate::config::{PassteamConfig, PhoneLookup};
use crate::mapping::card::Variables;
use crate::mapping::ops::{self, CardLookup};
use crate::mapping::template::{self, TemplateSchema};
use crate::mapping::{PassteamRateLimit, authorize};
use crate::wire::WireCard;

pub use extra::Commerce;

/// The provider name in errors, traces and `walletport providers`.
pub const NAME: &str = "passteam";
/// The Passteam API version spoken.
pub const VERSION: &str = "oapi/v1";

/// The Passteam adapter: every port over one [`Transport`].
///
/// Cheap to share behind an `Arc`; the token (when fetched with `getatoken`) and the template's
/// variable types (when `validate_values` is on) are fetched once, by the first caller, while
/// concurrent callers wait for that one request (single flight).
pub struct PassteamProvider {
    config: PassteamConfig,
    transport: Arc<dyn Transport>,
    token: Mutex<Option<Arc<SecretString>>>,
    schemas: Mutex<HashMap<TemplateId, Arc<TemplateSchema>>>,
    /// The last card found by phone was stored without `+`: try that form first.
    digits_first: AtomicBool,
    /// The transport's limiter, lowered to the plan Passteam reports ([`quota::learn_plan`]).
    limiter: Option<Arc<dyn Limiter>>,
}

impl std::fmt::Debug for PassteamProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassteamProvider")
            .field("config", &self.config)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl PassteamProvider {
    /// A provider talking HTTP to `config.base_url` with the configured timeout, retries, quota
    /// plan and Passteam's rate-limit message detector.
    ///
    /// A "You can only make N requests per hour" answer lowers this limiter's hourly window to N
    /// for the rest of the process (see [`PassteamProvider::hourly_limit`]).
    pub fn new(config: PassteamConfig) -> Result<Self> {
        Self::with_limiters(config, &InProcessLimiters)
    }

    /// Like [`new`](Self::new), with the quota limiter `limiters` builds for the configured plan
    /// (e.g. one shared through the gateway's database).
    pub fn with_limiters(config: PassteamConfig, limiters: &dyn LimiterFactory) -> Result<Self> {
        let config = config.validated()?;
        let transport_config = transport_config_with(&config, limiters)?;
        let limiter = transport_config.quota.clone();
        let transport = HttpTransport::new(transport_config)?;
        Ok(Self {
            limiter,
            ..Self::with_transport(config, Arc::new(transport))?
        })
    }

    /// The hourly request limit in force: the configured quota's, or the lower one Passteam
    /// reported; `None` without an hourly window or with a transport given by the caller.
    pub fn hourly_limit(&self) -> Option<u32> {
        self.limiter.as_ref().and_then(|l| l.limit_of(quota::HOUR))
    }

    /// A provider over any transport (a [`walletport_http::StubTransport`] in tests).
    pub fn with_transport(config: PassteamConfig, transport: Arc<dyn Transport>) -> Result<Self> {
        Ok(Self {
            config: config.validated()?,
            transport,
            token: Mutex::new(None),
            schemas: Mutex::new(HashMap::new()),
            digits_first: AtomicBool::new(false),
            limiter: None,
        })
    }

    /// The (validated) configuration.
    pub fn config(&self) -> &PassteamConfig {
        &self.config
    }

    /// What a provider with `config` supports (see [`capability_for`]).
    pub fn capability(&self) -> Capability {
        capability_for(&self.config)
    }

    /// The capability of a typical configuration (documented field map), for listings.
    pub fn default_capability() -> Capability {
        capability_for(&PassteamConfig::default())
    }

    /// Name and version.
    pub fn info() -> ProviderInfo {
        ProviderInfo {
            name: NAME,
            version: VERSION,
        }
    }

    fn stamp(operation: &'static str) -> impl Fn(Error) -> Error {
        move |e| e.with_provider(NAME).with_operation(operation)
    }

    /// The token: configured, or fetched once with `getatoken` (single flight).
    async fn token(&self) -> Result<Option<Arc<SecretString>>> {
        if self.config.token.is_some() {
            return Ok(None);
        }
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref() {
            return Ok(Some(t.clone()));
        }
        let (Some(login), Some(password)) = (&self.config.login, &self.config.password) else {
            return Err(Error::config(
                "passteam needs `token`, or `login` and `password`",
            ));
        };
        let req = template::build_getatoken_request(login, password, &self.config);
        let resp = self.transport.execute(req).await?;
        let token = Arc::new(template::parse_getatoken_response(&resp)?);
        *slot = Some(token.clone());
        Ok(Some(token))
    }

    /// True when the next call must fetch a token with `getatoken` first.
    async fn needs_token(&self) -> bool {
        self.config.token.is_none() && self.token.lock().await.is_none()
    }

    /// Caches a template schema read elsewhere (the start-up check), when validation is on.
    async fn remember_schema(&self, template: TemplateId, schema: Arc<TemplateSchema>) {
        if self.config.validate_values {
            self.schemas.lock().await.insert(template, schema);
        }
    }

    /// Executes `req` with the token and parses the answer. A fetched token the vendor rejects
    /// is dropped and fetched again once (it may have been renewed after a password change).
    pub(crate) async fn call<T>(
        &self,
        req: HttpRequest,
        parse: impl Fn(&HttpResponse) -> Result<T>,
    ) -> Result<T> {
        let operation = req.operation;
        let result = match self.call_once(req.clone(), &parse).await {
            Err(e) if e.kind() == ErrorKind::Unauthenticated && self.config.token.is_none() => {
                *self.token.lock().await = None;
                self.call_once(req, &parse).await
            }
            other => other,
        };
        if let (Err(e), Some(limiter)) = (&result, &self.limiter) {
            quota::learn_plan(limiter.as_ref(), e);
        }
        result.map_err(Self::stamp(operation))
    }

    async fn call_once<T>(
        &self,
        req: HttpRequest,
        parse: &impl Fn(&HttpResponse) -> Result<T>,
    ) -> Result<T> {
        let req = match self.token().await? {
            Some(t) => authorize(req, t.expose_secret()),
            None => req,
        };
        let resp = self.transport.execute(req).await?;
        parse(&resp)
    }

    /// The template `template` (config's when `None`), or a config error.
    pub(crate) fn template_or_default(
        &self,
        template: Option<&TemplateId>,
        operation: &'static str,
    ) -> Result<TemplateId> {
        match template {
            Some(t) => Ok(t.clone()),
            None => self
                .config
                .require_template(operation)
                .cloned()
                .map_err(Self::stamp(operation)),
        }
    }

    /// The variable types of `template`, fetched once per template (`validate_values` on).
    pub(crate) async fn schema(
        &self,
        template: &TemplateId,
    ) -> Result<Option<Arc<TemplateSchema>>> {
        if !self.config.validate_values {
            return Ok(None);
        }
        let mut schemas = self.schemas.lock().await;
        if let Some(s) = schemas.get(template) {
            return Ok(Some(s.clone()));
        }
        let req = template::build_gettemplate_request(template, &self.config);
        let wire = self.call(req, template::parse_gettemplate_wire).await?;
        let schema = Arc::new(TemplateSchema::from_wire(&wire)?);
        schemas.insert(template.clone(), schema.clone());
        Ok(Some(schema))
    }

    /// Checks `vars` against the template's variable types (when validation is on).
    pub(crate) async fn check(
        &self,
        vars: &Variables,
        template: &TemplateId,
        operation: &'static str,
    ) -> Result<Option<Arc<TemplateSchema>>> {
        let schema = self.schema(template).await?;
        if let Some(s) = &schema {
            vars.check(s).map_err(Self::stamp(operation))?;
        }
        Ok(schema)
    }

    pub(crate) async fn getcard(
        &self,
        lookup: &CardLookup,
        operation: &'static str,
    ) -> Result<WireCard> {
        let req = ops::build_getcard_request(lookup, operation, &self.config);
        self.call(req, ops::parse_getcard_response).await
    }

    /// The card of `phone` in `template` (by the phone variable), whichever form the account
    /// stores: `+7…` as the document's type says, or `7…` as its `getcard` example shows
    /// (`[provider] phone_lookup`). With `both`, a miss costs a second `getcard`; the form that
    /// found a card last is tried first.
    pub(crate) async fn card_by_phone(
        &self,
        phone: &Phone,
        template: &TemplateId,
        operation: &'static str,
    ) -> Result<WireCard> {
        let plus = phone.as_str();
        let digits = plus.trim_start_matches('+');
        let digits_first = self.digits_first.load(Ordering::Relaxed);
        let forms: &[&str] = match self.config.phone_lookup {
            PhoneLookup::Plus => &[plus],
            PhoneLookup::Digits => &[digits],
            PhoneLookup::Both if digits_first => &[digits, plus],
            PhoneLookup::Both => &[plus, digits],
        };
        let mut last = Err(Error::not_found("no card with this phone"));
        for form in forms {
            let lookup = CardLookup::Variable {
                template: template.clone(),
                name: self.config.fields.phone.clone(),
                value: (*form).to_owned(),
            };
            last = self.getcard(&lookup, operation).await;
            match &last {
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Ok(_) => {
                    self.digits_first.store(*form == digits, Ordering::Relaxed);
                    break;
                }
                Err(_) => break,
            }
        }
        last
    }

    /// A card by id (24 hex), else by the card-number variable (when mapped), else by cardCode.
    pub(crate) async fn card_by_number(
        &self,
        key: &str,
        operation: &'static str,
    ) -> Result<WireCard> {
        let lookup = CardLookup::id_or_code(key);
        if matches!(lookup, CardLookup::Id(_)) {
            return self.getcard(&lookup, operation).await;
        }
        if let (Some(var), Some(template)) =
            (&self.config.fields.card_number, &self.config.template_id)
        {
            let by_var = CardLookup::Variable {
                template: template.clone(),
                name: var.clone(),
                value: key.trim().to_owned(),
            };
            match self.getcard(&by_var, operation).await {
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                other => return other,
            }
        }
        self.getcard(&lookup, operation).await
    }

    pub(crate) async fn update(
        &self,
        card: &CardId,
        vars: &Variables,
        extra: &[(&str, String)],
        operation: &'static str,
    ) -> Result<WireCard> {
        let req = ops::build_updatecard_request(card, vars, extra, operation, &self.config);
        self.call(req, ops::parse_updatecard_response).await
    }
}

/// The id of a wire card, or `Unexpected`.
pub(crate) fn wire_id(card: &WireCard) -> Result<CardId> {
    card.card_id
        .as_deref()
        .map(CardId::new)
        .transpose()?
        .ok_or_else(|| Error::unexpected("the card has no cardId"))
}

/// The transport settings of `config`: base URL, timeout, retries, quota (an in-process limiter),
/// rate-limit detector.
pub fn transport_config(config: &PassteamConfig) -> Result<TransportConfig> {
    transport_config_with(config, &InProcessLimiters)
}

/// Like [`transport_config`], with the quota limiter `limiters` builds.
pub fn transport_config_with(
    config: &PassteamConfig,
    limiters: &dyn LimiterFactory,
) -> Result<TransportConfig> {
    Ok(TransportConfig::parse(NAME, &config.base_url)?
        .with_timeout(config.timeout)
        .with_retry(RetryPolicy::default().with_max_attempts(config.max_retries.saturating_add(1)))
        .with_quota_from(limiters, config.quota.clone())
        .with_rate_limit_detector(PassteamRateLimit))
}

/// What Passteam supports with `config`.
///
/// On: status (via `gettemplate`/`getlisttemplates`), upsert and lookups by phone and by card,
/// listing (no date or installed filter: `getcardswithpagination` has none), deletion, issue /
/// get / update cards, void and reactivate (the `voided` system field of `updatecard`), install
/// links (`distribute`), template list/get, campaigns to everyone (`sendpush`), and balance
/// get/set when a balance variable is mapped.
///
/// Off: `balance_credit` — Passteam has no atomic credit: it would be a read and a write of a
/// variable, lost updates under concurrency and no exactly-once; single pushes (no documented
/// way to push one card), segments, referrals, customer ids, template create/update.
pub fn capability_for(config: &PassteamConfig) -> Capability {
    let mut c = Capability::NONE;
    c.status = true;
    c.customer_upsert = true;
    c.customer_get_by_phone = true;
    c.customer_get_by_card = true;
    c.customer_list = true;
    c.customer_delete = true;
    c.card_issue = true;
    c.card_get = true;
    c.card_update = true;
    c.card_set_status = true;
    c.card_send_install_link = true;
    c.balance_get = config.fields.has_balance();
    c.balance_set = config.fields.has_balance();
    c.campaign_create = true;
    c.campaign_send = true;
    c.template_list = true;
    c.template_get = true;
    c.max_page_size = Some(ops::MAX_PER_PAGE);
    c.max_fields = Some(24);
    c
}
