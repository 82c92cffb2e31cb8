//! [`SkycoreProvider`]: the ports over the shared transport, plus the Skycore-specific calls
//! (issuance links, typed pass access).

use std::sync::Arc;

use walletport_core::{Capability, Card, CardKey, Error, ErrorKind, Result, Retry, op};
use walletport_http::{
    HttpRequest, HttpResponse, HttpTransport, InProcessLimiters, LimiterFactory, Transport,
};

use crate::PROVIDER;
use crate::book::TemplateBook;
use crate::config::{PassIdStrategy, SkycoreConfig};
use crate::mapping;
use crate::mapping::link::{self, IssuanceLink, IssuanceLinkInfo};
use crate::mapping::pass::{
    self, GeneratePass, GeneratedPass, PassRecord, UpdatePass, UpdatedPass,
};
use crate::wire::{FIELD_TARGETS, PassData};

/// The Skycore provider: passes as cards, `updatepassdata` for fields, balance, status and
/// single-card pushes, pass templates of both layouts, and issuance links as a Skycore-only API.
#[derive(Debug, Clone)]
pub struct SkycoreProvider {
    config: SkycoreConfig,
    transport: Arc<dyn Transport>,
    book: Arc<TemplateBook>,
}

impl SkycoreProvider {
    /// Connects over the real HTTP transport configured by `config`.
    pub fn new(config: SkycoreConfig) -> Result<Self> {
        Self::with_limiters(config, &InProcessLimiters)
    }

    /// Like [`new`](Self::new), with the quota limiter `limiters` builds for the configured
    /// `rate_limit` (e.g. one shared through the gateway's database).
    pub fn with_limiters(config: SkycoreConfig, limiters: &dyn LimiterFactory) -> Result<Self> {
        let transport = HttpTransport::new(config.transport_config_with(limiters)?)?;
        Self::with_transport(config, Arc::new(transport))
    }

    /// Uses `transport` (e.g. a `StubTransport` in tests) instead of a new HTTP transport.
    pub fn with_transport(config: SkycoreConfig, transport: Arc<dyn Transport>) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            transport,
            book: Arc::default(),
        })
    }

    /// What a provider with `strategy` supports. Skycore has no lookup by phone, so customers
    /// are found by phone (or by their pass-id, the card id) only when the pass-id is the phone.
    pub fn capability_for(strategy: PassIdStrategy) -> Capability {
        let mut c = Capability::NONE;
        let by_phone = strategy == PassIdStrategy::Phone;
        c.customer_get_by_phone = by_phone;
        c.customer_get_by_card = by_phone;
        c.customer_upsert = true;
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

    /// Sends `request` and reads the answer with `parse`. A failure of a request that is not
    /// idempotent (an update carrying a push, a rename) is never marked temporary: it may have
    /// been processed, and sending it again could push the notification twice.
    async fn call<T>(
        &self,
        request: HttpRequest,
        parse: impl FnOnce(&HttpResponse) -> Result<T>,
    ) -> Result<T> {
        let operation = request.operation;
        let idempotent = request.idempotent;
        let result = match self.transport.execute(request).await {
            Ok(response) => parse(&response),
            Err(e) => Err(e.with_provider(PROVIDER).with_operation(operation)),
        };
        result.map_err(|e| settle(e, idempotent))
    }

    /// Records the template a card id names (`<pass-id>@<template id>`), if it names one.
    fn note_card_id(&self, id: &str) {
        if let (pass_id, Some(template_id)) = pass::split_card_id(id) {
            self.book
                .record(pass_id, template_id, &self.config.template_id);
        }
    }

    /// The pass-id a customer key names, noting the template a card id carries.
    fn customer_pass(&self, key: &walletport_core::CustomerKey) -> Result<String> {
        if let walletport_core::CustomerKey::Card(id) = key {
            self.note_card_id(id.as_str());
        }
        pass::pass_id_for_customer_key(key, &self.config)
    }

    /// The template `pass_id` was issued with, as far as this process knows.
    fn template_of(&self, pass_id: &str) -> String {
        self.book.template_of(pass_id, &self.config.template_id)
    }

    /// `generatepass` as is. A retry that meets "pass-id exists" is not resolved here; use the
    /// card port for that.
    pub async fn generate_pass(&self, input: &GeneratePass) -> Result<GeneratedPass> {
        self.generate_pass_as(input, op::CARD_ISSUE).await
    }

    async fn generate_pass_as(
        &self,
        input: &GeneratePass,
        operation: &'static str,
    ) -> Result<GeneratedPass> {
        let request = pass::build_generatepass_request(input, &self.config, operation)?;
        let answer = self
            .call(request, |r| pass::parse_generatepass_response(r, operation))
            .await?;
        let pass_id = answer.pass_id.as_deref().unwrap_or(&input.pass_id);
        self.book
            .record(pass_id, &input.template_id, &self.config.template_id);
        Ok(answer)
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
        let answer = self
            .call(request, |r| {
                pass::parse_updatepassdata_response(r, operation)
            })
            .await?;
        if let Some(renamed) = &input.new_pass_id {
            self.book
                .record(renamed, &input.template_id, &self.config.template_id);
        }
        Ok(answer)
    }

    /// `getpassdata` of `pass_id` in the template it was issued with (recorded from the issue
    /// answer or an earlier read; else the configured template).
    pub async fn get_pass(&self, pass_id: &str) -> Result<PassRecord> {
        self.get_pass_as(pass_id, op::CARD_GET).await
    }

    async fn get_pass_as(&self, pass_id: &str, operation: &'static str) -> Result<PassRecord> {
        let template_id = self.template_of(pass_id);
        let request =
            pass::build_getpassdata_request_in(pass_id, &template_id, &self.config, operation)?;
        let record = self
            .call(request, |r| pass::parse_getpassdata_response(r, operation))
            .await?;
        if let Some(t) = &record.template_id {
            self.book
                .record(&record.pass_id, t, &self.config.template_id);
        }
        Ok(record)
    }

    /// Creates an issuance link (`createPassIssuanceLink`).
    pub async fn create_issuance_link(&self, input: &IssuanceLink) -> Result<IssuanceLinkInfo> {
        let operation = mapping::op::ISSUANCE_LINK_CREATE;
        let request = link::build_createpassissuancelink_request(input, &self.config)
            .map_err(|e| e.with_provider(PROVIDER).with_operation(operation))?;
        self.call(request, |r| {
            link::parse_issuance_link_response(r, operation)
        })
        .await
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
        self.call(request, |r| {
            link::parse_issuance_link_response(r, operation)
        })
        .await
    }

    /// The pass-id a card key names; a card number must be the barcode of the pass it names.
    async fn resolve_card(
        &self,
        key: &CardKey,
        operation: &'static str,
    ) -> Result<(String, Option<PassRecord>)> {
        if let CardKey::Id(id) = key {
            self.note_card_id(id.as_str());
        }
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
        let template_id = self.template_of(&pass_id);
        let update = pass::update_in(pass_id.clone(), &template_id, data, &self.config);
        self.update_pass_as(&update, operation).await?;
        let record = self.get_pass_as(&pass_id, operation).await?;
        Ok(pass::card_of(&record, &self.config))
    }
}

/// A failure of a request that is not idempotent stays temporary only when the vendor was rate
/// limiting (nothing was processed); any other temporary failure (Skycore's E809 "not updated",
/// a timeout, a 5xx) may have come after the pass was updated and pushed, so it becomes
/// permanent and the caller does not send the push again.
fn settle(e: Error, idempotent: bool) -> Error {
    let temporary = matches!(e.retry(), Retry::Temporary { .. });
    if idempotent || !temporary || e.kind() == ErrorKind::RateLimited {
        return e;
    }
    e.with_retry(Retry::Permanent)
}

/// Whether a failure says the pass-id is unknown (E808): the pass does not exist, in this
/// template at least.
fn is_unknown_pass(e: &Error) -> bool {
    e.kind() == ErrorKind::NotFound
        && e.vendor()
            .and_then(|v| v.code.as_deref())
            .is_some_and(|c| c.trim().eq_ignore_ascii_case("E808"))
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

mod ports;
