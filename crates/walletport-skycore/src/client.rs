//! [`SkycoreProvider`]: the ports over the shared transport, plus the Skycore-specific calls
//! (issuance links, typed pass access).

use std::sync::Arc;

use async_trait::async_trait;
use walletport_core::{
    Balance, BalancePort, Capability, Card, CardKey, CardPort, CreateTemplate, CustomerPort,
    CustomerRecord, Error, ErrorKind, GetBalance, GetCard, GetCustomer, GetTemplate, IssueCard,
    Provider, ProviderInfo, PushCampaignPort, PushReceipt, Result, SendPush, SetBalance,
    SetCardStatus, Template, TemplatePort, UpdateCard, UpdateTemplate, op,
};
use walletport_http::{HttpRequest, HttpResponse, HttpTransport, Transport};

use crate::PROVIDER;
use crate::config::{PassIdStrategy, SkycoreConfig};
use crate::mapping::link::{self, IssuanceLink, IssuanceLinkInfo};
use crate::mapping::pass::{
    self, GeneratePass, GeneratedPass, PassRecord, UpdatePass, UpdatedPass,
};
use crate::mapping::{self, template};
use crate::wire::{FIELD_TARGETS, PassData};

/// The Skycore provider: passes as cards, `updatepassdata` for fields, balance, status and
/// single-card pushes, pass templates of both layouts, and issuance links as a Skycore-only API.
#[derive(Debug, Clone)]
pub struct SkycoreProvider {
    config: SkycoreConfig,
    transport: Arc<dyn Transport>,
}

impl SkycoreProvider {
    /// Connects over the real HTTP transport configured by `config`.
    pub fn new(config: SkycoreConfig) -> Result<Self> {
        let transport = HttpTransport::new(config.transport_config()?)?;
        Self::with_transport(config, Arc::new(transport))
    }

    /// Uses `transport` (e.g. a `StubTransport` in tests) instead of a new HTTP transport.
    pub fn with_transport(config: SkycoreConfig, transport: Arc<dyn Transport>) -> Result<Self> {
        config.validate()?;
        Ok(Self { config, transport })
    }

    /// What a provider with `strategy` supports. Skycore has no lookup by phone, so customers
    /// are found by phone (or by their pass-id, the card id) only when the pass-id is the phone.
    pub fn capability_for(strategy: PassIdStrategy) -> Capability {
        let mut c = Capability::NONE;
        let by_phone = strategy == PassIdStrategy::Phone;
        c.customer_get_by_phone = by_phone;
        c.customer_get_by_card = by_phone;
        c.card_issue = true;
        c.card_get = true;
        c.card_update = true;
        c.card_set_status = true;
        c.balance_get = true;
        c.balance_set = true;
        c.push_wallet = true;
        c.template_get = true;
        c.template_create = true;
        c.template_update = true;
        c.max_fields = u32::try_from(FIELD_TARGETS.len()).ok();
        c
    }

    /// What a default configuration (`pass_id = "phone"`) supports.
    pub fn default_capability() -> Capability {
        Self::capability_for(PassIdStrategy::default())
    }

    /// The configuration in use.
    pub fn config(&self) -> &SkycoreConfig {
        &self.config
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        let operation = request.operation;
        self.transport
            .execute(request)
            .await
            .map_err(|e| e.with_provider(PROVIDER).with_operation(operation))
    }

    /// `generatepass` as is. A retry that meets "pass-id exists" is not resolved here; use the
    /// card port for that.
    pub async fn generate_pass(&self, input: &GeneratePass) -> Result<GeneratedPass> {
        let request = pass::build_generatepass_request(input, &self.config, op::CARD_ISSUE)?;
        pass::parse_generatepass_response(&self.send(request).await?, op::CARD_ISSUE)
    }

    /// `updatepassdata` as is (renames with `new_pass_id`, priority pushes, locations, …).
    pub async fn update_pass(&self, input: &UpdatePass) -> Result<UpdatedPass> {
        self.update_pass_as(input, op::CARD_UPDATE).await
    }

    async fn update_pass_as(
        &self,
        input: &UpdatePass,
        operation: &'static str,
    ) -> Result<UpdatedPass> {
        let request = pass::build_updatepassdata_request(input, &self.config, operation)?;
        pass::parse_updatepassdata_response(&self.send(request).await?, operation)
    }

    /// `getpassdata` of `pass_id` in the configured template.
    pub async fn get_pass(&self, pass_id: &str) -> Result<PassRecord> {
        self.get_pass_as(pass_id, op::CARD_GET).await
    }

    async fn get_pass_as(&self, pass_id: &str, operation: &'static str) -> Result<PassRecord> {
        let request = pass::build_getpassdata_request(pass_id, &self.config, operation)?;
        pass::parse_getpassdata_response(&self.send(request).await?, operation)
    }

    /// Creates an issuance link (`createPassIssuanceLink`).
    pub async fn create_issuance_link(&self, input: &IssuanceLink) -> Result<IssuanceLinkInfo> {
        let operation = mapping::op::ISSUANCE_LINK_CREATE;
        let request = link::build_createpassissuancelink_request(input, &self.config)
            .map_err(|e| e.with_provider(PROVIDER).with_operation(operation))?;
        link::parse_issuance_link_response(&self.send(request).await?, operation)
    }

    /// Updates issuance link `id` (`updatePassIssuanceLink`).
    pub async fn update_issuance_link(
        &self,
        id: &str,
        input: &IssuanceLink,
    ) -> Result<IssuanceLinkInfo> {
        let operation = mapping::op::ISSUANCE_LINK_UPDATE;
        let request = link::build_updatepassissuancelink_request(id, input, &self.config)
            .map_err(|e| e.with_provider(PROVIDER).with_operation(operation))?;
        link::parse_issuance_link_response(&self.send(request).await?, operation)
    }

    /// The pass-id a card key names; a card number must be the barcode of the pass it names.
    async fn resolve_card(
        &self,
        key: &CardKey,
        operation: &'static str,
    ) -> Result<(String, Option<PassRecord>)> {
        let (pass_id, barcode) = pass::pass_id_for_card_key(key, &self.config)?;
        let Some(barcode) = barcode else {
            return Ok((pass_id, None));
        };
        let record = self.get_pass_as(&pass_id, operation).await?;
        if record.data.barcode_value.as_deref() != Some(barcode.as_str()) {
            return Err(Error::not_found(format!(
                "no pass with card number `{barcode}` (Skycore finds card numbers only when they are the pass-id)"
            )));
        }
        Ok((pass_id, Some(record)))
    }

    /// Updates a card with `data` and reads it back.
    async fn change_card(
        &self,
        key: &CardKey,
        data: PassData,
        operation: &'static str,
    ) -> Result<Card> {
        let (pass_id, _) = self.resolve_card(key, operation).await?;
        let update = pass::update_of(pass_id.clone(), data, &self.config);
        self.update_pass_as(&update, operation).await?;
        let record = self.get_pass_as(&pass_id, operation).await?;
        Ok(pass::card_of(&record, &self.config))
    }
}

/// Whether a `generatepass` failure may mean "this pass-id exists already": a duplicate, or a
/// Skycore failure with an undocumented code (Skycore documents no duplicate code).
fn may_be_duplicate(e: &Error) -> bool {
    match e.kind() {
        ErrorKind::AlreadyExists => true,
        ErrorKind::Unexpected => e
            .vendor()
            .and_then(|v| v.code.as_deref())
            .is_some_and(|code| mapping::kind_of_code(code).is_none()),
        _ => false,
    }
}

#[async_trait]
impl Provider for SkycoreProvider {
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            name: PROVIDER,
            version: "mobile-wallet-api-v3",
        }
    }
    fn capability(&self) -> Capability {
        Self::capability_for(self.config.pass_id)
    }
    walletport_core::self_ports!();
}

#[async_trait]
impl CustomerPort for SkycoreProvider {
    async fn get_customer(&self, input: GetCustomer) -> Result<CustomerRecord> {
        if self.config.pass_id != PassIdStrategy::Phone {
            return Err(Error::unsupported(op::CUSTOMER_GET));
        }
        let pass_id = pass::pass_id_for_customer_key(&input.key, &self.config)?;
        let record = self.get_pass_as(&pass_id, op::CUSTOMER_GET).await?;
        pass::customer_of(&record, &self.config)
    }
}

#[async_trait]
impl CardPort for SkycoreProvider {
    async fn issue_card(&self, input: IssueCard) -> Result<Card> {
        let generate = pass::generate_for_issue(&input, &self.config)?;
        match self.generate_pass(&generate).await {
            Ok(answer) => Ok(pass::card_of_generated(&generate, &answer, &self.config)),
            // A retry after a timeout meets its own pass: read it back instead of failing.
            Err(e) if may_be_duplicate(&e) => {
                match self.get_pass_as(&generate.pass_id, op::CARD_ISSUE).await {
                    Ok(record) => Ok(pass::card_of(&record, &self.config)),
                    Err(_) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn get_card(&self, input: GetCard) -> Result<Card> {
        let (pass_id, record) = self.resolve_card(&input.card, op::CARD_GET).await?;
        let record = match record {
            Some(r) => r,
            None => self.get_pass_as(&pass_id, op::CARD_GET).await?,
        };
        Ok(pass::card_of(&record, &self.config))
    }

    async fn update_card(&self, input: UpdateCard) -> Result<Card> {
        let mut data = PassData::default();
        pass::apply_fields(&input.fields, &self.config, &mut data)?;
        pass::apply_balance(&input.balance, &mut data)?;
        data.update_notification = input.notification.clone();
        if data == PassData::default() {
            return Err(Error::invalid_input(
                "nothing to update: no fields, balance or notification",
            ));
        }
        self.change_card(&input.card, data, op::CARD_UPDATE).await
    }

    async fn set_card_status(&self, input: SetCardStatus) -> Result<Card> {
        let data = PassData {
            status: Some(input.status),
            ..PassData::default()
        };
        self.change_card(&input.card, data, op::CARD_SET_STATUS)
            .await
    }
}

#[async_trait]
impl BalancePort for SkycoreProvider {
    async fn get_balance(&self, input: GetBalance) -> Result<Balance> {
        let pass_id = pass::pass_id_for_customer_key(&input.customer, &self.config)?;
        let record = self.get_pass_as(&pass_id, op::BALANCE_GET).await?;
        pass::balance_of(&record.data)
    }

    async fn set_balance(&self, input: SetBalance) -> Result<Balance> {
        let mut data = PassData::default();
        pass::apply_balance(&input.update, &mut data)?;
        if data == PassData::default() {
            return Err(Error::invalid_input("nothing to set"));
        }
        let pass_id = pass::pass_id_for_customer_key(&input.customer, &self.config)?;
        let update = pass::update_of(pass_id.clone(), data, &self.config);
        self.update_pass_as(&update, op::BALANCE_SET).await?;
        let record = self.get_pass_as(&pass_id, op::BALANCE_SET).await?;
        pass::balance_of(&record.data)
    }
}

#[async_trait]
impl PushCampaignPort for SkycoreProvider {
    async fn push(&self, input: SendPush) -> Result<PushReceipt> {
        if input.message.channel() != walletport_core::Channel::Wallet {
            return Err(Error::unsupported(op::PUSH_SEND));
        }
        let pass_id = pass::pass_id_for_customer_key(&input.customer, &self.config)?;
        let data = PassData {
            update_notification: Some(input.message.text().to_owned()),
            ..PassData::default()
        };
        let update = pass::update_of(pass_id, data, &self.config);
        let answer = self.update_pass_as(&update, op::PUSH_SEND).await?;
        Ok(PushReceipt {
            accepted: true,
            detail: answer.tracking_id.map(|t| format!("tracking-id {t}")),
        })
    }
}

#[async_trait]
impl TemplatePort for SkycoreProvider {
    async fn get_template(&self, input: GetTemplate) -> Result<Template> {
        let request = template::build_getpasstemplate_request(&input.id, &self.config)?;
        let mut got =
            template::parse_getpasstemplate_response(&self.send(request).await?, &self.config)?;
        got.id.get_or_insert(input.id);
        Ok(got)
    }

    async fn create_template(&self, input: CreateTemplate) -> Result<Template> {
        let request = template::build_createpasstemplate_request(&input.template, &self.config)?;
        let response = self.send(request).await?;
        template::parse_template_write_response(&response, input.template.id.as_ref(), true)?
            .into_template(input.template, &self.config, true)
    }

    async fn update_template(&self, input: UpdateTemplate) -> Result<Template> {
        let request = template::build_updatepasstemplate_request(&input.template, &self.config)?;
        let response = self.send(request).await?;
        template::parse_template_write_response(&response, input.template.id.as_ref(), false)?
            .into_template(input.template, &self.config, false)
    }
}
