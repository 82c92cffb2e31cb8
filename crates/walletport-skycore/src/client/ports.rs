//! The walletport ports of [`SkycoreProvider`]: a customer is a pass (upsert = update, generate
//! on E808), cards are passes, the balance is points and bonus %, a push is an update
//! notification.

use async_trait::async_trait;
use walletport_core::{
    Balance, BalanceFields, BalancePort, Capability, Card, CardPort, CreateTemplate, CustomerPort,
    CustomerRecord, Error, ErrorKind, GetBalance, GetCard, GetCustomer, GetTemplate, IssueCard,
    Provider, ProviderCheck, ProviderInfo, PushCampaignPort, PushReceipt, Result, SendPush,
    SetBalance, SetCardStatus, Template, TemplateId, TemplatePort, UpdateCard, UpdateTemplate,
    UpsertCustomer, op,
};
use walletport_http::HttpRequest;

use super::{SkycoreProvider, is_unknown_pass, may_be_duplicate};
use crate::PROVIDER;
use crate::config::PassIdStrategy;
use crate::mapping::{self, pass, template, upsert};
use crate::wire::PassData;

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
    /// Points (`loyalty-points`) and bonus % (`secondary-loyalty-points`); a pass has no
    /// discount field.
    fn balance_fields(&self) -> BalanceFields {
        BalanceFields {
            discount_percent: false,
            ..BalanceFields::ALL
        }
    }
    /// One `getpasstemplate` of the configured `template_id`: it proves the API key and that the
    /// template exists (a missing one is `ConfigInvalid` naming `[provider] template_id`, a
    /// refused key `Unauthenticated` naming `[provider] api_key`).
    async fn check(&self) -> Result<ProviderCheck> {
        let id = &self.config.template_id;
        let template_id = TemplateId::new(id.as_str()).map_err(|_| {
            Error::config("[provider] template_id must not be empty").with_provider(PROVIDER)
        })?;
        let request = template::build_getpasstemplate_request(&template_id, &self.config)?;
        let answer = self
            .call(request, |r| {
                template::parse_getpasstemplate_response(r, &self.config)
            })
            .await;
        match answer {
            Ok(_) => Ok(ProviderCheck {
                account: None,
                checked: vec![
                    "API key accepted".to_owned(),
                    format!("template {id} exists"),
                ],
                requests: 1,
            }),
            Err(e) => Err(check_error(e, id)),
        }
    }
    walletport_core::self_ports!();
}

/// The error of a failed start-up check, naming the configuration key to fix.
fn check_error(e: Error, template_id: &str) -> Error {
    let vendor = e.vendor().cloned();
    let named = match e.kind() {
        ErrorKind::NotFound => Error::config(format!(
            "Skycore has no pass template `{template_id}`: fix [provider] template_id"
        )),
        ErrorKind::Unauthenticated => Error::new(
            ErrorKind::Unauthenticated,
            "Skycore refused the API key: fix [provider] api_key",
        ),
        _ => return e,
    };
    let named = named
        .with_provider(PROVIDER)
        .with_operation(mapping::op::CHECK);
    match vendor {
        Some(v) => named.with_vendor(v),
        None => named,
    }
}

#[async_trait]
impl CustomerPort for SkycoreProvider {
    /// Updates the customer's pass (`updatepassdata`, one request: the common case, as the
    /// gateway upserts on every change) and generates it (`generatepass`) only when Skycore
    /// answers that the pass-id is unknown (E808). A `generatepass` that meets its own pass
    /// (a concurrent upsert, or a retry whose first answer was lost) updates it instead.
    async fn upsert_customer(&self, input: UpsertCustomer) -> Result<CustomerRecord> {
        let operation = op::CUSTOMER_UPSERT;
        let pass_id = pass::pass_id_for_customer(&input.customer, &self.config)?;
        // Update first (1 request for the pass that exists, the common case); when the caller
        // says the pass is most likely new, generate first (1 request for a new pass, 2 when it
        // existed after all).
        if !input.likely_new {
            let template_id = self.template_of(&pass_id);
            let update =
                upsert::update_for_upsert(&input, pass_id.clone(), &template_id, &self.config)?;
            match self.update_pass_as(&update, operation).await {
                Ok(_) => {
                    return Ok(upsert::record_of_upsert(
                        &input,
                        &pass_id,
                        &template_id,
                        None,
                        &self.config,
                    ));
                }
                Err(e) if !is_unknown_pass(&e) => return Err(e),
                Err(_) => {}
            }
        }
        let generate = upsert::generate_for_upsert(&input, &self.config)?;
        match self.generate_pass_as(&generate, operation).await {
            Ok(answer) => Ok(upsert::record_of_upsert(
                &input,
                &pass_id,
                &generate.template_id,
                Some(answer.install_url),
                &self.config,
            )),
            Err(e) if may_be_duplicate(&e) => {
                let update = upsert::update_for_upsert(
                    &input,
                    pass_id.clone(),
                    &generate.template_id,
                    &self.config,
                )?;
                self.update_pass_as(&update, operation)
                    .await
                    .map_err(|_| e)?;
                self.book
                    .record(&pass_id, &generate.template_id, &self.config.template_id);
                Ok(upsert::record_of_upsert(
                    &input,
                    &pass_id,
                    &generate.template_id,
                    None,
                    &self.config,
                ))
            }
            Err(e) => Err(e),
        }
    }

    async fn get_customer(&self, input: GetCustomer) -> Result<CustomerRecord> {
        if self.config.pass_id != PassIdStrategy::Phone {
            return Err(Error::unsupported(op::CUSTOMER_GET));
        }
        let pass_id = self.customer_pass(&input.key)?;
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
                self.book.record(
                    &generate.pass_id,
                    &generate.template_id,
                    &self.config.template_id,
                );
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
        pass::apply_balance_as(&input.balance, &self.config, &mut data)?;
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
        let pass_id = self.customer_pass(&input.customer)?;
        let record = self.get_pass_as(&pass_id, op::BALANCE_GET).await?;
        pass::balance_of(&record.data, &self.config)
    }

    async fn set_balance(&self, input: SetBalance) -> Result<Balance> {
        let mut data = PassData::default();
        pass::apply_balance_as(&input.update, &self.config, &mut data)?;
        if data == PassData::default() {
            return Err(Error::invalid_input("nothing to set"));
        }
        let pass_id = self.customer_pass(&input.customer)?;
        let template_id = self.template_of(&pass_id);
        let update = pass::update_in(pass_id.clone(), &template_id, data, &self.config);
        self.update_pass_as(&update, op::BALANCE_SET).await?;
        // Both values a pass holds were just written (a display format holds no digit, so they
        // read back as sent): answer them without a second request. Otherwise read the other.
        if let (Some(points), Some(bonus_percent)) =
            (input.update.points, input.update.bonus_percent)
        {
            return Ok(Balance {
                points: points.normalize(),
                bonus_percent,
                discount_percent: Default::default(),
            });
        }
        let record = self.get_pass_as(&pass_id, op::BALANCE_SET).await?;
        pass::balance_of(&record.data, &self.config)
    }
}

#[async_trait]
impl PushCampaignPort for SkycoreProvider {
    async fn push(&self, input: SendPush) -> Result<PushReceipt> {
        if input.message.channel() != walletport_core::Channel::Wallet {
            return Err(Error::unsupported(op::PUSH_SEND));
        }
        let pass_id = self.customer_pass(&input.customer)?;
        let data = PassData {
            update_notification: Some(input.message.text().to_owned()),
            ..PassData::default()
        };
        let template_id = self.template_of(&pass_id);
        let update = pass::update_in(pass_id, &template_id, data, &self.config);
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
        let mut got = self
            .call(request, |r| {
                template::parse_getpasstemplate_response(r, &self.config)
            })
            .await?;
        got.id.get_or_insert(input.id);
        Ok(got)
    }

    async fn create_template(&self, input: CreateTemplate) -> Result<Template> {
        let request = template::build_createpasstemplate_request(&input.template, &self.config)?;
        self.write_template(request, input.template, true).await
    }

    async fn update_template(&self, input: UpdateTemplate) -> Result<Template> {
        let request = template::build_updatepasstemplate_request(&input.template, &self.config)?;
        self.write_template(request, input.template, false).await
    }
}

impl SkycoreProvider {
    /// Sends a template write (`create` or update) and merges what Skycore stored into `sent`.
    async fn write_template(
        &self,
        request: HttpRequest,
        sent: Template,
        create: bool,
    ) -> Result<Template> {
        let id = sent.id.as_ref();
        let written = self
            .call(request, |r| {
                template::parse_template_write_response(r, id, create)
            })
            .await?;
        written.into_template(sent, &self.config, create)
    }
}
