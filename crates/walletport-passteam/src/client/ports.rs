//! The core ports on top of the Passteam methods.

use async_trait::async_trait;
use chrono::Utc;
use walletport_core::ports::op;
use walletport_core::*;

use super::{PassteamProvider, wire_id};
use std::sync::Arc;

use crate::mapping::card::{
    Reading, Variables, balance_from_card, balance_variables, card_from_wire, customer_variables,
    record_from_wire,
};
use crate::mapping::duplicated_card_ids;
use crate::mapping::ops::{self, CardLookup, MAX_PER_PAGE};
use crate::mapping::push::{self, DistributeChannel};
use crate::mapping::template;
use crate::mapping::template::TemplateSchema;
use crate::wire::WireCard;

/// The template `card` names, when it names a valid one: its schema checks what is written.
fn card_template(card: &WireCard) -> Option<TemplateId> {
    card.template_id
        .as_deref()
        .and_then(|t| TemplateId::new(t).ok())
}

impl PassteamProvider {
    /// How this provider reads cards: its map, its zone and `schema` for date styles.
    fn reading<'a>(&'a self, schema: Option<&'a TemplateSchema>) -> Reading<'a> {
        Reading {
            map: &self.config.fields,
            timezone: self.config.tz(),
            schema,
        }
    }

    /// The schema of `card`'s template when a birthday is mapped (its `dateStyle` decides how
    /// the birthday reads); cached, so at most one `gettemplate` per template and process.
    async fn read_schema(&self, card: &WireCard) -> Result<Option<Arc<TemplateSchema>>> {
        match (&self.config.fields.birthday, card_template(card)) {
            (Some(_), Some(t)) => self.schema(&t).await,
            _ => Ok(None),
        }
    }

    /// The variables of `customer` and `balance` in `template`, written in its date styles and
    /// checked against its schema (returned too); create and upsert send them alike.
    async fn checked_variables(
        &self,
        customer: &Customer,
        balance: &BalanceUpdate,
        template: &TemplateId,
        operation: &'static str,
    ) -> Result<(Variables, Option<Arc<TemplateSchema>>)> {
        let schema = self.schema(template).await?;
        let vars = customer_variables(customer, balance, &self.config.fields, schema.as_deref())
            .map_err(PassteamProvider::stamp(operation))?;
        self.check(&vars, template, operation).await?;
        Ok((vars, schema))
    }

    /// A card as a customer record, read with its template's date styles.
    async fn record(&self, card: &WireCard, operation: &'static str) -> Result<CustomerRecord> {
        let schema = self.read_schema(card).await?;
        record_from_wire(card, self.reading(schema.as_deref()))
            .map_err(PassteamProvider::stamp(operation))
    }

    async fn card_by_customer_key(
        &self,
        key: &CustomerKey,
        operation: &'static str,
    ) -> Result<WireCard> {
        match key {
            CustomerKey::Phone(phone) => {
                let template = self.template_or_default(None, operation)?;
                self.card_by_phone(phone, &template, operation).await
            }
            CustomerKey::Card(card) => self.card_by_number(card.as_str(), operation).await,
            CustomerKey::Id(_) => Err(Error::new(
                ErrorKind::Unsupported,
                "Passteam cards carry no merchant customer id; look up by phone or card",
            )
            .with_provider(super::NAME)
            .with_operation(operation)),
        }
    }

    async fn card_by_key(&self, key: &CardKey, operation: &'static str) -> Result<WireCard> {
        match key {
            CardKey::Id(id) => self.card_by_number(id.as_str(), operation).await,
            CardKey::Number(n) => self.card_by_number(n, operation).await,
            CardKey::Phone(phone) => {
                let template = self.template_or_default(None, operation)?;
                self.card_by_phone(phone, &template, operation).await
            }
        }
    }

    /// Updates `card` with the variables that differ; no request when nothing differs.
    async fn update_changed(
        &self,
        card: WireCard,
        vars: &Variables,
        operation: &'static str,
    ) -> Result<WireCard> {
        let changed = vars
            .iter()
            .any(|(n, v)| card.values.get(n).map(String::as_str) != Some(v));
        if !changed {
            return Ok(card);
        }
        let id = wire_id(&card)?;
        self.update(&id, vars, &[], operation).await
    }

    /// The document's integration scenario: getcard by phone → updatecard, else createcard; a
    /// 409 on create (someone created it meanwhile) → getcard again and update.
    async fn upsert(&self, input: UpsertCustomer) -> Result<CustomerRecord> {
        let o = op::CUSTOMER_UPSERT;
        let template = self.template_or_default(input.template.as_ref(), o)?;
        let (vars, schema) = self
            .checked_variables(&input.customer, &input.balance, &template, o)
            .await?;
        let phone = &input.customer.phone;
        // A customer the caller believes new is created straight away (1 request) when the
        // template's phone variable is unique, so a card that existed after all answers 409 and
        // is updated below; otherwise look the card up first.
        let phone_unique = schema
            .as_ref()
            .is_some_and(|s| s.is_unique(&self.config.fields.phone));
        let existing = if input.likely_new && phone_unique {
            None
        } else {
            match self.card_by_phone(phone, &template, o).await {
                Ok(card) => Some(card),
                Err(e) if e.kind() == ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            }
        };
        let card = match existing {
            Some(card) => self.update_changed(card, &vars, o).await?,
            None => {
                // A repeat of the create is safe when the phone variable is unique: it fails with
                // 409 and lands in the branch below. Without a known schema, assume the document's
                // setup (phone unique) only when validation is off.
                let idempotent = schema
                    .as_ref()
                    .is_none_or(|s| s.is_unique(&self.config.fields.phone));
                let req =
                    ops::build_createcard_request(&template, &vars, o, idempotent, &self.config);
                match self.call(req, ops::parse_createcard_response).await {
                    Ok(card) => card,
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                        // The 409 names the cards holding the phone: read the first by id
                        // (whatever form of the phone it stores) instead of searching again.
                        let found = match duplicated_card_ids(&e).first() {
                            Some(id) => self.getcard(&CardLookup::Id(id.clone()), o).await,
                            None => self.card_by_phone(phone, &template, o).await,
                        };
                        match found {
                            Ok(card) => self.update_changed(card, &vars, o).await?,
                            Err(lookup) if lookup.kind() == ErrorKind::NotFound => return Err(e),
                            Err(lookup) => return Err(lookup),
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        self.record(&card, o).await
    }
}

#[async_trait]
impl Provider for PassteamProvider {
    fn info(&self) -> ProviderInfo {
        PassteamProvider::info()
    }
    fn capability(&self) -> Capability {
        PassteamProvider::capability(self)
    }
    fn balance_fields(&self) -> BalanceFields {
        self.config.fields.balance_fields()
    }
    async fn check(&self) -> Result<ProviderCheck> {
        self.check_config().await
    }
    async fn status(&self) -> Result<ProviderStatus> {
        match self.config.template_id.clone() {
            Some(t) => {
                let mut req = template::build_gettemplate_request(&t, &self.config);
                req.operation = op::STATUS;
                let w = self.call(req, template::parse_gettemplate_wire).await?;
                let account = w
                    .owner
                    .or(w.user_title)
                    .or(w.title)
                    .unwrap_or_else(|| format!("template {t}"));
                Ok(ProviderStatus {
                    account,
                    balance: None,
                })
            }
            None => {
                let mut req = template::build_listtemplates_request(&self.config);
                req.operation = op::STATUS;
                let page = self
                    .call(req, template::parse_listtemplates_response)
                    .await?;
                Ok(ProviderStatus {
                    account: format!("Passteam account with {} template(s)", page.items.len()),
                    balance: None,
                })
            }
        }
    }
    walletport_core::self_ports!();
}

#[async_trait]
impl CustomerPort for PassteamProvider {
    async fn upsert_customer(&self, input: UpsertCustomer) -> Result<CustomerRecord> {
        self.upsert(input).await
    }

    async fn get_customer(&self, input: GetCustomer) -> Result<CustomerRecord> {
        let o = op::CUSTOMER_GET;
        let card = self.card_by_customer_key(&input.key, o).await?;
        self.record(&card, o).await
    }

    async fn list_customers(&self, input: ListCustomers) -> Result<Page<CustomerRecord>> {
        let o = op::CUSTOMER_LIST;
        let template = self.template_or_default(None, o)?;
        let page = match &input.cursor {
            None => 1,
            Some(c) => {
                c.0.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|p| *p >= 1)
                    .ok_or_else(|| {
                        PassteamProvider::stamp(o)(Error::invalid_input(format!(
                            "`{c}` is not a Passteam page number"
                        )))
                    })?
            }
        };
        let per_page = input
            .page_size
            .unwrap_or(MAX_PER_PAGE)
            .clamp(1, MAX_PER_PAGE);
        let req = ops::build_page_request(&template, page, per_page, o, &self.config);
        let wire = self.call(req, ops::parse_page_response).await?;
        let schema = match self.config.fields.birthday {
            Some(_) => self.schema(&template).await?,
            None => None,
        };
        let mut items = Vec::with_capacity(wire.cards.len());
        for card in &wire.cards {
            match record_from_wire(card, self.reading(schema.as_deref())) {
                Ok(r) => items.push(r),
                Err(e) => tracing::warn!(error = %e, "passteam listing: card skipped"),
            }
        }
        Ok(Page {
            items,
            next: ops::next_page(&wire, page).map(|n| PageCursor(n.to_string())),
            total: wire.cards_count,
        })
    }

    async fn delete_customer(&self, input: DeleteCustomer) -> Result<()> {
        let o = op::CUSTOMER_DELETE;
        let card = self.card_by_customer_key(&input.key, o).await?;
        let id = wire_id(&card).map_err(PassteamProvider::stamp(o))?;
        let req = ops::build_deletecard_request(&id, o, &self.config);
        self.call(req, ops::parse_deletecard_response).await
    }
}

#[async_trait]
impl CardPort for PassteamProvider {
    async fn issue_card(&self, input: IssueCard) -> Result<Card> {
        let o = op::CARD_ISSUE;
        let template = self.template_or_default(input.template.as_ref(), o)?;
        let mut customer = input.customer.clone();
        for (k, v) in &input.fields {
            customer.extra.insert(k.clone(), v.clone());
        }
        let (vars, _) = self
            .checked_variables(&customer, &input.balance, &template, o)
            .await?;
        let req = ops::build_createcard_request(&template, &vars, o, false, &self.config);
        let card = self.call(req, ops::parse_createcard_response).await?;
        Ok(card_from_wire(&card, self.reading(None), false))
    }

    async fn get_card(&self, input: GetCard) -> Result<Card> {
        let card = self.card_by_key(&input.card, op::CARD_GET).await?;
        Ok(card_from_wire(&card, self.reading(None), false))
    }

    async fn update_card(&self, input: UpdateCard) -> Result<Card> {
        let o = op::CARD_UPDATE;
        if input.notification.is_some() {
            return Err(PassteamProvider::stamp(o)(Error::new(
                ErrorKind::Unsupported,
                "Passteam has no notification text per update; the change itself is pushed to the card",
            )));
        }
        let mut vars = Variables::new();
        for (k, v) in &input.fields {
            vars.set(k, v.clone()).map_err(PassteamProvider::stamp(o))?;
        }
        balance_variables(&input.balance, &self.config.fields, &mut vars)
            .map_err(PassteamProvider::stamp(o))?;
        let card = self.card_by_key(&input.card, o).await?;
        if let Some(t) = card_template(&card) {
            self.check(&vars, &t, o).await?;
        }
        let id = wire_id(&card).map_err(PassteamProvider::stamp(o))?;
        let updated = self.update(&id, &vars, &[], o).await?;
        Ok(card_from_wire(&updated, self.reading(None), false))
    }

    async fn set_card_status(&self, input: SetCardStatus) -> Result<Card> {
        let o = op::CARD_SET_STATUS;
        let voided = match input.status {
            CardStatus::Active => "0",
            CardStatus::Voided => "1",
            other => {
                return Err(PassteamProvider::stamp(o)(Error::new(
                    ErrorKind::Unsupported,
                    format!("Passteam cards can be voided or active, not {other:?}"),
                )));
            }
        };
        let card = self.card_by_key(&input.card, o).await?;
        let id = wire_id(&card).map_err(PassteamProvider::stamp(o))?;
        let updated = self
            .update(&id, &Variables::new(), &[("voided", voided.to_owned())], o)
            .await?;
        Ok(card_from_wire(&updated, self.reading(None), false))
    }

    async fn send_install_link(&self, input: SendInstallLink) -> Result<()> {
        let o = op::CARD_SEND_INSTALL_LINK;
        let channel = match &input.delivery {
            LinkDelivery::Sms {
                phone: None,
                text: None,
            } => DistributeChannel::Sms,
            LinkDelivery::Email { email: None } => DistributeChannel::Email,
            _ => {
                return Err(PassteamProvider::stamp(o)(Error::invalid_input(
                    "Passteam sends the link to the card's own phone / e-mail with the texts set in \
                     the Passteam cabinet; other recipients or texts are not possible",
                )));
            }
        };
        let card = self.card_by_key(&input.card, o).await?;
        let id = wire_id(&card).map_err(PassteamProvider::stamp(o))?;
        self.distribute(&id, channel).await
    }
}

#[async_trait]
impl BalancePort for PassteamProvider {
    async fn get_balance(&self, input: GetBalance) -> Result<Balance> {
        let o = op::BALANCE_GET;
        let card = self.card_by_customer_key(&input.customer, o).await?;
        balance_from_card(&card, &self.config.fields).map_err(PassteamProvider::stamp(o))
    }

    async fn set_balance(&self, input: SetBalance) -> Result<Balance> {
        let o = op::BALANCE_SET;
        let mut vars = Variables::new();
        balance_variables(&input.update, &self.config.fields, &mut vars)
            .map_err(PassteamProvider::stamp(o))?;
        if vars.is_empty() {
            return Err(PassteamProvider::stamp(o)(Error::invalid_input(
                "nothing to set",
            )));
        }
        let card = self.card_by_customer_key(&input.customer, o).await?;
        if let Some(t) = card_template(&card) {
            self.check(&vars, &t, o).await?;
        }
        let updated = self.update_changed(card, &vars, o).await?;
        balance_from_card(&updated, &self.config.fields).map_err(PassteamProvider::stamp(o))
    }
}

#[async_trait]
impl PushCampaignPort for PassteamProvider {
    async fn create_campaign(&self, input: CreateCampaign) -> Result<CampaignRecord> {
        let o = op::CAMPAIGN_CREATE;
        let stamp = PassteamProvider::stamp(o);
        if input.campaign.segment.is_some() {
            return Err(stamp(Error::new(
                ErrorKind::Unsupported,
                "Passteam campaigns go to every card of the template",
            )));
        }
        if input.campaign.channel != Channel::Wallet {
            return Err(stamp(Error::new(
                ErrorKind::Unsupported,
                "Passteam pushes to wallet cards only",
            )));
        }
        input.campaign.validate().map_err(&stamp)?;
        let template = self.template_or_default(None, o)?;
        let id = push::campaign_id(&template, &input.campaign.message).map_err(&stamp)?;
        Ok(CampaignRecord {
            id,
            campaign: input.campaign,
            sent_at: None,
            recipients: None,
        })
    }

    async fn send_campaign(&self, input: SendCampaign) -> Result<CampaignRecord> {
        let o = op::CAMPAIGN_SEND;
        let (template, message) =
            push::parse_campaign_id(&input.id).map_err(PassteamProvider::stamp(o))?;
        let req = push::build_sendpush_request(&template, &message, &self.config);
        self.call(req, push::parse_sendpush_response).await?;
        Ok(CampaignRecord {
            id: input.id,
            campaign: Campaign {
                message,
                channel: Channel::Wallet,
                name: None,
                segment: None,
            },
            sent_at: Some(Utc::now()),
            recipients: None,
        })
    }
}

#[async_trait]
impl TemplatePort for PassteamProvider {
    /// `getlisttemplates` answers every template at once, often as bare ids whose names cost a
    /// `gettemplate` each; so the listing is paged here, by offset, at most [`MAX_PER_PAGE`] a
    /// page: one call costs at most `1 + page size` requests, however many templates there are.
    async fn list_templates(&self, input: ListTemplates) -> Result<Page<TemplateSummary>> {
        let start = match &input.cursor {
            None => 0,
            Some(cursor) => cursor.0.parse::<usize>().map_err(|_| {
                Error::invalid_input("not a Passteam template page cursor (an offset)")
            })?,
        };
        let size = input
            .page_size
            .unwrap_or(MAX_PER_PAGE)
            .clamp(1, MAX_PER_PAGE);
        let req = template::build_listtemplates_request(&self.config);
        let all = self
            .call(req, template::parse_listtemplates_response)
            .await?
            .items;
        let total = all.len();
        let mut items: Vec<TemplateSummary> =
            all.into_iter().skip(start).take(size as usize).collect();
        for item in items.iter_mut().filter(|t| t.name == t.id.as_str()) {
            let mut req = template::build_gettemplate_request(&item.id, &self.config);
            req.operation = op::TEMPLATE_LIST;
            item.name = self
                .call(req, template::parse_gettemplate_response)
                .await?
                .name;
        }
        let end = start.saturating_add(items.len());
        Ok(Page {
            next: (end < total).then(|| PageCursor(end.to_string())),
            items,
            total: u64::try_from(total).ok(),
        })
    }

    async fn get_template(&self, input: GetTemplate) -> Result<Template> {
        let req = template::build_gettemplate_request(&input.id, &self.config);
        self.call(req, template::parse_gettemplate_response).await
    }
}
