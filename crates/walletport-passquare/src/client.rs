//! [`PassquareProvider`]: the ports over a [`Transport`], stringing the pure mapping functions.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use walletport_core::ports::op;
use walletport_core::*;
use walletport_http::{
    HttpRequest, HttpResponse, HttpTransport, InProcessLimiters, LimiterFactory, RateLimitHint,
    RetryPolicy, Transport, TransportConfig,
};

use crate::config::PassquareConfig;
use crate::mapping::{self, Lookup, PROVIDER, SmsInvite, UpsertExtras};

/// The Passquare API version this adapter speaks.
pub const API_VERSION: &str = "2.7.5";

/// How many created campaigns the provider remembers, to describe them when they are sent
/// (Passquare's `push/send` answer is undocumented and may not repeat the message).
const REMEMBERED_CAMPAIGNS: usize = 256;

/// The Passquare provider: customers, cards, balances, pushes and campaigns; no templates.
pub struct PassquareProvider {
    config: PassquareConfig,
    transport: Arc<dyn Transport>,
    campaigns: Mutex<VecDeque<(CampaignId, Campaign)>>,
}

impl std::fmt::Debug for PassquareProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassquareProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Recognises a rate-limit refusal that is not a 429 (Passquare documents none; this guards
/// against a text answer such as "Too many requests" with another status).
fn rate_limit_text(resp: &HttpResponse) -> Option<RateLimitHint> {
    if resp.is_success() || resp.status == 429 || resp.body.len() > 4096 {
        return None;
    }
    let text = resp.text().to_lowercase();
    (text.contains("too many requests") || text.contains("rate limit")).then(|| RateLimitHint {
        retry_after: walletport_http::parse_retry_after(
            &resp.headers,
            std::time::SystemTime::now(),
        ),
    })
}

/// What a failed start-up `status` call says about the configuration: a refused key names
/// `[provider] app_key`, a missing endpoint `[provider] base_url`; anything else (unreachable,
/// rate-limited) stays as it is. The vendor's raw answer is kept, the key is never quoted.
fn config_error(e: Error) -> Error {
    let (kind, message) = match e.kind() {
        ErrorKind::Unauthenticated | ErrorKind::PermissionDenied => (
            ErrorKind::Unauthenticated,
            "Passquare refused the key: set `[provider] app_key` to the account's private key \
             (integration settings of the Passquare dashboard)",
        ),
        ErrorKind::NotFound => (
            ErrorKind::ConfigInvalid,
            "Passquare's `status` method is not at `[provider] base_url`: set it to the API \
             host (default https://core.passquare.com), without `/api/v2`",
        ),
        _ => return e,
    };
    let mut out = Error::new(kind, message)
        .with_provider(PROVIDER)
        .with_operation(op::CHECK);
    if let Some(vendor) = e.vendor() {
        out = out.with_vendor(vendor.clone());
    }
    out
}

impl PassquareProvider {
    /// A provider talking HTTP to `config.base_url` within the configured plan's quota.
    pub fn new(config: PassquareConfig) -> Result<Self> {
        Self::with_limiters(config, &InProcessLimiters)
    }

    /// Like [`new`](Self::new), with the quota limiter `limiters` builds for the configured plan
    /// (e.g. one shared through the gateway's database).
    pub fn with_limiters(config: PassquareConfig, limiters: &dyn LimiterFactory) -> Result<Self> {
        config.validate()?;
        let transport = TransportConfig::parse(PROVIDER, config.base_url.trim())?
            .with_timeout(config.timeout)
            .with_retry(RetryPolicy::default().with_max_attempts(config.max_attempts))
            .with_quota_from(limiters, config.plan.quota())
            .with_rate_limit_detector(rate_limit_text);
        let transport: Arc<dyn Transport> = Arc::new(HttpTransport::new(transport)?);
        Self::with_transport(config, transport)
    }

    /// A provider over any transport (a [`walletport_http::StubTransport`] in tests).
    pub fn with_transport(config: PassquareConfig, transport: Arc<dyn Transport>) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            transport,
            campaigns: Mutex::new(VecDeque::new()),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &PassquareConfig {
        &self.config
    }

    /// What a provider with `config` supports.
    pub fn capability_for(config: &PassquareConfig) -> Capability {
        let mut c = Capability::NONE;
        c.status = true;
        c.customer_upsert = true;
        c.customer_get_by_phone = true;
        c.customer_get_by_card = config.looks_up_by_card();
        c.customer_list = true;
        c.customer_list_by_date = true;
        c.customer_list_by_installed = true;
        c.customer_referrals = true;
        c.card_issue = true;
        c.card_get = true;
        c.card_update = true;
        c.card_send_install_link = config.form_link.is_some();
        c.balance_get = true;
        c.balance_set = true;
        c.push_wallet = true;
        c.push_webpush = true;
        c.push_telegram = true;
        c.campaign_create = true;
        c.campaign_segment = true;
        c.campaign_send = true;
        c.max_page_size = Some(mapping::PAGE_SIZE);
        c
    }

    /// The capability of a default configuration (no `form_link`), for `walletport providers`.
    pub fn default_capability() -> Capability {
        Self::capability_for(&PassquareConfig::new("-"))
    }

    async fn send(&self, req: HttpRequest) -> Result<HttpResponse> {
        let operation = req.operation;
        self.transport
            .execute(req)
            .await
            .map_err(|e| e.with_provider(PROVIDER).with_operation(operation))
    }

    async fn read(&self, lookup: &Lookup, invites: bool, installs: bool) -> Result<CustomerRecord> {
        let req = mapping::build_read_customer_request(lookup, invites, installs, &self.config)?;
        mapping::parse_read_customer_response(&self.send(req).await?)
    }

    fn lookup(key: &CustomerKey) -> Result<Lookup> {
        match key {
            CustomerKey::Phone(p) => Ok(Lookup::Phone(p.clone())),
            CustomerKey::Card(c) => Ok(Lookup::Card(c.as_str().to_owned())),
            CustomerKey::Id(_) => Err(Error::new(
                ErrorKind::Unsupported,
                "Passquare finds customers by phone or card number, not by CRM id",
            )),
        }
    }

    fn card_lookup(key: &CardKey) -> Lookup {
        match key {
            CardKey::Phone(p) => Lookup::Phone(p.clone()),
            CardKey::Number(n) => Lookup::Card(n.clone()),
            CardKey::Id(id) => Lookup::Card(id.as_str().to_owned()),
        }
    }

    /// The phone behind a key: directly, or by reading the customer by card number.
    async fn phone_of(&self, lookup: &Lookup) -> Result<Phone> {
        match lookup {
            Lookup::Phone(p) => Ok(p.clone()),
            Lookup::Card(_) => Ok(self.read(lookup, false, false).await?.customer.phone),
        }
    }

    /// A 2.2 request with only the phone and the given balance / variables / extras.
    fn minimal_upsert(
        &self,
        operation: &'static str,
        phone: &Phone,
        balance: &BalanceUpdate,
        variables: &Fields,
        extras: &UpsertExtras,
    ) -> Result<HttpRequest> {
        let body = mapping::upsert_body(
            &Customer::new(phone.clone()),
            balance,
            None,
            variables,
            extras,
            &self.config,
        )?;
        Ok(
            HttpRequest::post_json(operation, mapping::path::UPSERT, &body)?
                .idempotent(extras.sms.is_none()),
        )
    }

    fn remember(&self, record: &CampaignRecord) {
        let mut list = self
            .campaigns
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if list.len() >= REMEMBERED_CAMPAIGNS {
            list.pop_front();
        }
        list.push_back((record.id.clone(), record.campaign.clone()));
    }

    fn remembered(&self, id: &CampaignId) -> Option<Campaign> {
        let list = self
            .campaigns
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        list.iter().find(|(i, _)| i == id).map(|(_, c)| c.clone())
    }
}

#[async_trait]
impl Provider for PassquareProvider {
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            name: PROVIDER,
            version: API_VERSION,
        }
    }
    fn capability(&self) -> Capability {
        Self::capability_for(&self.config)
    }
    async fn status(&self) -> Result<ProviderStatus> {
        let req = mapping::build_status_request(&self.config)?;
        mapping::parse_status_response(&self.send(req).await?)
    }
    /// One `status` call with the app key: 1 request against the plan's quota (more only when
    /// the transport retries a timeout or 5xx). Passquare holds points, bonus % and discount %
    /// alike, so `balance_fields` keeps its default (all three).
    async fn check(&self) -> Result<ProviderCheck> {
        let status = self.status().await.map_err(config_error)?;
        Ok(ProviderCheck {
            checked: vec![format!(
                "app_key accepted by `status` (account {})",
                status.account
            )],
            account: Some(status.account),
            requests: 1,
        })
    }
    walletport_core::self_ports!();
}

#[async_trait]
impl CustomerPort for PassquareProvider {
    async fn upsert_customer(&self, input: UpsertCustomer) -> Result<CustomerRecord> {
        let req = mapping::build_upsert_request(&input, &UpsertExtras::default(), &self.config)?;
        mapping::parse_upsert_customer_response(&self.send(req).await?, &input)
    }

    async fn get_customer(&self, input: GetCustomer) -> Result<CustomerRecord> {
        let lookup = Self::lookup(&input.key)?;
        self.read(&lookup, input.with_referrals, input.with_installs)
            .await
    }

    async fn list_customers(&self, input: ListCustomers) -> Result<Page<CustomerRecord>> {
        let req = mapping::build_list_request(&input, &self.config)?;
        mapping::parse_list_response(&self.send(req).await?, &input)
    }
}

#[async_trait]
impl CardPort for PassquareProvider {
    async fn issue_card(&self, input: IssueCard) -> Result<Card> {
        let mut variables = input.customer.extra.clone();
        variables.extend(input.fields.clone());
        let body = mapping::upsert_body(
            &input.customer,
            &input.balance,
            input.template.as_ref(),
            &variables,
            &UpsertExtras::default(),
            &self.config,
        )?;
        let req =
            HttpRequest::post_json(op::CARD_ISSUE, mapping::path::UPSERT, &body)?.idempotent(true);
        let resp = self.send(req).await?;
        let mut card = mapping::parse_upsert_response(&resp)?.card.ok_or_else(|| {
            resp.error(ErrorKind::Unexpected, "Passquare answered without a card")
        })?;
        card.template = input.template;
        card.fields.extend(input.fields);
        Ok(card)
    }

    async fn get_card(&self, input: GetCard) -> Result<Card> {
        let lookup = Self::card_lookup(&input.card);
        let record = self.read(&lookup, false, true).await?;
        let wanted = match &lookup {
            Lookup::Card(n) => Some(n.as_str()),
            Lookup::Phone(_) => None,
        };
        record
            .cards
            .into_iter()
            .find(|c| wanted.is_none_or(|n| c.number.as_deref() == Some(n)))
            .ok_or_else(|| Error::not_found("the customer has no such Passquare card"))
    }

    async fn update_card(&self, input: UpdateCard) -> Result<Card> {
        if input.fields.is_empty() && input.balance.is_empty() && input.notification.is_none() {
            return Err(Error::invalid_input("nothing to update"));
        }
        let lookup = Self::card_lookup(&input.card);
        let phone = self.phone_of(&lookup).await?;
        let mut card = None;
        if !input.fields.is_empty() || !input.balance.is_empty() {
            let req = self.minimal_upsert(
                op::CARD_UPDATE,
                &phone,
                &input.balance,
                &input.fields,
                &UpsertExtras::default(),
            )?;
            card = mapping::parse_upsert_response(&self.send(req).await?)?.card;
        }
        // The push goes in its own request: changing a notification-bound variable together
        // with a push turns the push into a "card modified" notice.
        if let Some(text) = &input.notification {
            let message = PushMessage::new(text.clone(), Channel::Wallet)?;
            let req = mapping::build_push_request(&phone, &message, &self.config)?;
            mapping::parse_push_response(&self.send(req).await?)?;
        }
        let mut card = match card {
            Some(card) => card,
            None => self.get_card(GetCard { card: input.card }).await?,
        };
        card.fields.extend(input.fields);
        Ok(card)
    }

    async fn send_install_link(&self, input: SendInstallLink) -> Result<()> {
        let (phone, text) = match input.delivery {
            LinkDelivery::Sms { phone, text } => (phone, text),
            LinkDelivery::Email { .. } => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "Passquare sends install links by SMS only",
                ));
            }
        };
        let link = self.config.form_link.clone().ok_or_else(|| {
            Error::config(
                "passquare: set `form_link` (the card issuance form) to send install links",
            )
        })?;
        let phone = match phone {
            Some(p) => p,
            None => self.phone_of(&Self::card_lookup(&input.card)).await?,
        };
        let extras = UpsertExtras {
            sms: Some(SmsInvite {
                link,
                text: text.unwrap_or_else(|| self.config.sms_text.clone()),
            }),
            card_track: None,
        };
        let req = self.minimal_upsert(
            op::CARD_SEND_INSTALL_LINK,
            &phone,
            &BalanceUpdate::default(),
            &Fields::new(),
            &extras,
        )?;
        let resp = self.send(req).await?;
        let outcome = mapping::parse_upsert_response(&resp)?;
        if outcome.sms_sent == Some(false) {
            return Err(resp.error(
                ErrorKind::VendorUnavailable,
                "Passquare did not send the SMS",
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl BalancePort for PassquareProvider {
    async fn get_balance(&self, input: GetBalance) -> Result<Balance> {
        let lookup = Self::lookup(&input.customer)?;
        Ok(self
            .read(&lookup, false, false)
            .await?
            .balance
            .unwrap_or_default())
    }

    async fn set_balance(&self, input: SetBalance) -> Result<Balance> {
        if input.update.is_empty() {
            return Err(Error::invalid_input("nothing to set"));
        }
        let lookup = Self::lookup(&input.customer)?;
        let phone = self.phone_of(&lookup).await?;
        let req = mapping::build_balance_set_request(&phone, &input.update, &self.config)?;
        mapping::parse_upsert_response(&self.send(req).await?)?;
        let u = input.update;
        match (u.points, u.bonus_percent, u.discount_percent) {
            (Some(points), Some(bonus_percent), Some(discount_percent)) => Ok(Balance {
                points,
                bonus_percent,
                discount_percent,
            }),
            // Partial update: read back what Passquare holds now.
            _ => Ok(self
                .read(&Lookup::Phone(phone), false, false)
                .await?
                .balance
                .unwrap_or_default()),
        }
    }
}

#[async_trait]
impl PushCampaignPort for PassquareProvider {
    async fn push(&self, input: SendPush) -> Result<PushReceipt> {
        let phone = self.phone_of(&Self::lookup(&input.customer)?).await?;
        let req = mapping::build_push_request(&phone, &input.message, &self.config)?;
        mapping::parse_push_response(&self.send(req).await?)
    }

    async fn create_campaign(&self, input: CreateCampaign) -> Result<CampaignRecord> {
        let req = mapping::build_campaign_create_request(&input.campaign, &self.config)?;
        let record =
            mapping::parse_campaign_create_response(&self.send(req).await?, &input.campaign)?;
        self.remember(&record);
        Ok(record)
    }

    async fn send_campaign(&self, input: SendCampaign) -> Result<CampaignRecord> {
        let req = mapping::build_campaign_send_request(&input.id, &self.config)?;
        let known = self.remembered(&input.id);
        mapping::parse_campaign_send_response(&self.send(req).await?, &input.id, known.as_ref())
    }
}

/// Passquare has no template API: every method answers `Unsupported` (the port's defaults) and
/// the capability's template flags are off.
#[async_trait]
impl TemplatePort for PassquareProvider {}
