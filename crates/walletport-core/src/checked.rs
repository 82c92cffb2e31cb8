//! The correctness layer every provider is wrapped in (OpenDAL's idea).
//!
//! [`Checked`] answers [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) for operations and
//! options whose capability flag is off — before any vendor request — validates inputs the types
//! cannot (e-mail shape, message text), and stamps the provider and operation on every error, so
//! adapters stay small and behave the same.

use std::sync::Arc;

use async_trait::async_trait;

use crate::capability::Capability;
use crate::domain::{
    Balance, BalanceFields, CampaignRecord, Card, CustomerKey, CustomerRecord, PushReceipt,
    Template, TemplateSummary,
};
use crate::error::{Error, Result};
use crate::ports::*;

/// A provider wrapped in capability checks and error stamping.
#[derive(Clone)]
pub struct Checked {
    inner: Arc<dyn Provider>,
    info: ProviderInfo,
    capability: Capability,
}

impl Checked {
    /// Wraps `inner`, reading its info and capability once.
    pub fn new(inner: Arc<dyn Provider>) -> Self {
        Self {
            info: inner.info(),
            capability: inner.capability(),
            inner,
        }
    }

    /// Wraps `inner` and returns it as a provider.
    pub fn wrap(inner: Arc<dyn Provider>) -> Arc<dyn Provider> {
        Arc::new(Self::new(inner))
    }

    fn gate(&self, supported: bool, operation: &'static str) -> Result<()> {
        if supported {
            Ok(())
        } else {
            Err(self.stamp(operation)(Error::unsupported(operation)))
        }
    }

    fn gate_option(&self, supported: bool, operation: &'static str, option: &str) -> Result<()> {
        if supported {
            Ok(())
        } else {
            Err(self.stamp(operation)(Error::new(
                crate::ErrorKind::Unsupported,
                format!(
                    "option `{option}` of `{operation}` is not supported by {}",
                    self.info.name
                ),
            )))
        }
    }

    fn stamp(&self, operation: &'static str) -> impl Fn(Error) -> Error + use<> {
        let name = self.info.name;
        move |e| e.with_provider(name).with_operation(operation)
    }

    /// An `InvalidInput` answer of `operation`, stamped.
    fn invalid(&self, operation: &'static str, message: impl Into<String>) -> Error {
        self.stamp(operation)(Error::invalid_input(message))
    }

    /// Awaits the inner provider's `call` (checked already), stamping its error.
    async fn forward<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        call.await.map_err(self.stamp(operation))
    }

    /// [`forward`](Self::forward) behind the operation's capability flag: the shape of every
    /// operation without checks of its own. `call` is only a future, so nothing reaches the
    /// vendor when the flag is off.
    async fn gated<T>(
        &self,
        supported: bool,
        operation: &'static str,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        self.gate(supported, operation)?;
        self.forward(operation, call).await
    }

    /// Create and update both refuse a template without a name.
    fn check_template_name(&self, template: &Template, operation: &'static str) -> Result<()> {
        if template.name.trim().is_empty() {
            return Err(self.invalid(operation, "template name must not be empty"));
        }
        Ok(())
    }

    fn gate_key(&self, key: &CustomerKey, operation: &'static str) -> Result<()> {
        let c = &self.capability;
        match key {
            CustomerKey::Phone(_) => {
                self.gate_option(c.customer_get_by_phone, operation, "by phone")
            }
            CustomerKey::Card(_) => self.gate_option(c.customer_get_by_card, operation, "by card"),
            CustomerKey::Id(_) => {
                self.gate_option(c.customer_get_by_id, operation, "by customer id")
            }
        }
    }
}

#[async_trait]
impl Provider for Checked {
    fn info(&self) -> ProviderInfo {
        self.info
    }
    fn capability(&self) -> Capability {
        self.capability
    }
    async fn status(&self) -> Result<ProviderStatus> {
        self.gated(self.capability.status, op::STATUS, self.inner.status())
            .await
    }
    fn balance_fields(&self) -> BalanceFields {
        self.inner.balance_fields()
    }
    async fn check(&self) -> Result<ProviderCheck> {
        self.forward(op::CHECK, self.inner.check()).await
    }
    crate::self_ports!();
}

#[async_trait]
impl CustomerPort for Checked {
    async fn upsert_customer(&self, input: UpsertCustomer) -> Result<CustomerRecord> {
        let o = op::CUSTOMER_UPSERT;
        self.gate(self.capability.customer_upsert, o)?;
        input.customer.validate().map_err(self.stamp(o))?;
        self.forward(o, self.inner.customers().upsert_customer(input))
            .await
    }
    async fn get_customer(&self, input: GetCustomer) -> Result<CustomerRecord> {
        let o = op::CUSTOMER_GET;
        self.gate_key(&input.key, o)?;
        self.forward(o, self.inner.customers().get_customer(input))
            .await
    }
    async fn list_customers(&self, input: ListCustomers) -> Result<Page<CustomerRecord>> {
        let o = op::CUSTOMER_LIST;
        let c = &self.capability;
        self.gate(c.customer_list, o)?;
        if input.registered_from.is_some() || input.registered_to.is_some() {
            self.gate_option(c.customer_list_by_date, o, "registration date filter")?;
        }
        if input.installed.is_some() {
            self.gate_option(c.customer_list_by_installed, o, "installed filter")?;
        }
        if input.page_size == Some(0) {
            return Err(self.invalid(o, "page size must be at least 1"));
        }
        self.forward(o, self.inner.customers().list_customers(input))
            .await
    }
    async fn delete_customer(&self, input: DeleteCustomer) -> Result<()> {
        let call = self.inner.customers().delete_customer(input);
        self.gated(self.capability.customer_delete, op::CUSTOMER_DELETE, call)
            .await
    }
}

#[async_trait]
impl CardPort for Checked {
    async fn issue_card(&self, input: IssueCard) -> Result<Card> {
        let o = op::CARD_ISSUE;
        self.gate(self.capability.card_issue, o)?;
        input.customer.validate().map_err(self.stamp(o))?;
        self.forward(o, self.inner.cards().issue_card(input)).await
    }
    async fn get_card(&self, input: GetCard) -> Result<Card> {
        let call = self.inner.cards().get_card(input);
        self.gated(self.capability.card_get, op::CARD_GET, call)
            .await
    }
    async fn update_card(&self, input: UpdateCard) -> Result<Card> {
        let call = self.inner.cards().update_card(input);
        self.gated(self.capability.card_update, op::CARD_UPDATE, call)
            .await
    }
    async fn set_card_status(&self, input: SetCardStatus) -> Result<Card> {
        let call = self.inner.cards().set_card_status(input);
        self.gated(self.capability.card_set_status, op::CARD_SET_STATUS, call)
            .await
    }
    async fn send_install_link(&self, input: SendInstallLink) -> Result<()> {
        let call = self.inner.cards().send_install_link(input);
        let supported = self.capability.card_send_install_link;
        self.gated(supported, op::CARD_SEND_INSTALL_LINK, call)
            .await
    }
}

#[async_trait]
impl BalancePort for Checked {
    async fn get_balance(&self, input: GetBalance) -> Result<Balance> {
        let call = self.inner.balances().get_balance(input);
        self.gated(self.capability.balance_get, op::BALANCE_GET, call)
            .await
    }
    async fn set_balance(&self, input: SetBalance) -> Result<Balance> {
        let o = op::BALANCE_SET;
        self.gate(self.capability.balance_set, o)?;
        if input.update.is_empty() {
            return Err(self.invalid(o, "nothing to set"));
        }
        self.forward(o, self.inner.balances().set_balance(input))
            .await
    }
    async fn credit(&self, input: CreditBalance) -> Result<CreditOutcome> {
        let o = op::BALANCE_CREDIT;
        self.gate(self.capability.balance_credit, o)?;
        if input.credit.lifetime().is_some() {
            self.gate_option(self.capability.balance_credit_lifetime, o, "lifetime")?;
        }
        self.forward(o, self.inner.balances().credit(input)).await
    }
    async fn redeem(&self, input: RedeemBalance) -> Result<RedeemOutcome> {
        let call = self.inner.balances().redeem(input);
        self.gated(self.capability.balance_redeem, op::BALANCE_REDEEM, call)
            .await
    }
}

#[async_trait]
impl PushCampaignPort for Checked {
    async fn push(&self, input: SendPush) -> Result<PushReceipt> {
        let o = op::PUSH_SEND;
        let channel = input.message.channel();
        self.gate_option(
            self.capability.push_on(channel),
            o,
            &format!("channel {channel:?}").to_lowercase(),
        )?;
        if let Some(max) = self.capability.max_message_len
            && input.message.text().chars().count() > max as usize
        {
            return Err(self.invalid(o, format!("message is longer than {max} characters")));
        }
        self.forward(o, self.inner.push().push(input)).await
    }
    async fn create_campaign(&self, input: CreateCampaign) -> Result<CampaignRecord> {
        let o = op::CAMPAIGN_CREATE;
        self.gate(self.capability.campaign_create, o)?;
        if input.campaign.segment.is_some() {
            self.gate_option(self.capability.campaign_segment, o, "segment")?;
        }
        input.campaign.validate().map_err(self.stamp(o))?;
        self.forward(o, self.inner.push().create_campaign(input))
            .await
    }
    async fn send_campaign(&self, input: SendCampaign) -> Result<CampaignRecord> {
        let call = self.inner.push().send_campaign(input);
        self.gated(self.capability.campaign_send, op::CAMPAIGN_SEND, call)
            .await
    }
}

#[async_trait]
impl TemplatePort for Checked {
    async fn list_templates(&self, input: ListTemplates) -> Result<Page<TemplateSummary>> {
        let call = self.inner.templates().list_templates(input);
        self.gated(self.capability.template_list, op::TEMPLATE_LIST, call)
            .await
    }
    async fn get_template(&self, input: GetTemplate) -> Result<Template> {
        let call = self.inner.templates().get_template(input);
        self.gated(self.capability.template_get, op::TEMPLATE_GET, call)
            .await
    }
    async fn create_template(&self, input: CreateTemplate) -> Result<Template> {
        let o = op::TEMPLATE_CREATE;
        self.gate(self.capability.template_create, o)?;
        self.check_template_name(&input.template, o)?;
        self.forward(o, self.inner.templates().create_template(input))
            .await
    }
    async fn update_template(&self, input: UpdateTemplate) -> Result<Template> {
        let o = op::TEMPLATE_UPDATE;
        self.gate(self.capability.template_update, o)?;
        self.check_template_name(&input.template, o)?;
        if input.template.id.is_none() {
            return Err(self.invalid(o, "template id is required to update"));
        }
        self.forward(o, self.inner.templates().update_template(input))
            .await
    }
}
