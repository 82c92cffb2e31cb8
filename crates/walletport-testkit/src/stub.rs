//! [`StubProvider`]: a recording fake for users' own tests (lettre's `StubTransport` idea).
//!
//! It records every call that reaches it with its full input, answers from a per-operation
//! script of values or errors, and otherwise answers plausible defaults: writes succeed echoing
//! their input, reads of single things are `NotFound`, listings are empty.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::Serialize;
use serde::de::DeserializeOwned;
use walletport_core::*;

/// A call that reached the stub, with its input.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StubCall {
    /// `status()`.
    Status,
    /// `customers().upsert_customer`.
    UpsertCustomer(UpsertCustomer),
    /// `customers().get_customer`.
    GetCustomer(GetCustomer),
    /// `customers().list_customers`.
    ListCustomers(ListCustomers),
    /// `customers().delete_customer`.
    DeleteCustomer(DeleteCustomer),
    /// `cards().issue_card`.
    IssueCard(IssueCard),
    /// `cards().get_card`.
    GetCard(GetCard),
    /// `cards().update_card`.
    UpdateCard(UpdateCard),
    /// `cards().set_card_status`.
    SetCardStatus(SetCardStatus),
    /// `cards().send_install_link`.
    SendInstallLink(SendInstallLink),
    /// `balances().get_balance`.
    GetBalance(GetBalance),
    /// `balances().set_balance`.
    SetBalance(SetBalance),
    /// `balances().credit`.
    Credit(CreditBalance),
    /// `balances().redeem`.
    Redeem(RedeemBalance),
    /// `push().push`.
    Push(SendPush),
    /// `push().create_campaign`.
    CreateCampaign(CreateCampaign),
    /// `push().send_campaign`.
    SendCampaign(SendCampaign),
    /// `templates().list_templates`.
    ListTemplates(ListTemplates),
    /// `templates().get_template`.
    GetTemplate(GetTemplate),
    /// `templates().create_template`.
    CreateTemplate(CreateTemplate),
    /// `templates().update_template`.
    UpdateTemplate(UpdateTemplate),
}

impl StubCall {
    /// The stable operation name (`walletport_core::op`).
    pub fn operation(&self) -> &'static str {
        match self {
            Self::Status => op::STATUS,
            Self::UpsertCustomer(_) => op::CUSTOMER_UPSERT,
            Self::GetCustomer(_) => op::CUSTOMER_GET,
            Self::ListCustomers(_) => op::CUSTOMER_LIST,
            Self::DeleteCustomer(_) => op::CUSTOMER_DELETE,
            Self::IssueCard(_) => op::CARD_ISSUE,
            Self::GetCard(_) => op::CARD_GET,
            Self::UpdateCard(_) => op::CARD_UPDATE,
            Self::SetCardStatus(_) => op::CARD_SET_STATUS,
            Self::SendInstallLink(_) => op::CARD_SEND_INSTALL_LINK,
            Self::GetBalance(_) => op::BALANCE_GET,
            Self::SetBalance(_) => op::BALANCE_SET,
            Self::Credit(_) => op::BALANCE_CREDIT,
            Self::Redeem(_) => op::BALANCE_REDEEM,
            Self::Push(_) => op::PUSH_SEND,
            Self::CreateCampaign(_) => op::CAMPAIGN_CREATE,
            Self::SendCampaign(_) => op::CAMPAIGN_SEND,
            Self::ListTemplates(_) => op::TEMPLATE_LIST,
            Self::GetTemplate(_) => op::TEMPLATE_GET,
            Self::CreateTemplate(_) => op::TEMPLATE_CREATE,
            Self::UpdateTemplate(_) => op::TEMPLATE_UPDATE,
        }
    }
}

/// A scripted answer.
#[derive(Debug, Clone)]
enum Answer {
    Value(serde_json::Value),
    Error(Error),
}

/// A recording, scriptable provider.
#[derive(Debug)]
pub struct StubProvider {
    name: &'static str,
    capability: Capability,
    calls: Mutex<Vec<StubCall>>,
    script: Mutex<BTreeMap<&'static str, VecDeque<Answer>>>,
    counter: AtomicU64,
}

impl Default for StubProvider {
    fn default() -> Self {
        Self::new(Capability::ALL)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl StubProvider {
    /// A stub named `stub` that claims `capability` and answers `Unsupported` where it is off.
    pub fn new(capability: Capability) -> Self {
        Self {
            name: "stub",
            capability,
            calls: Mutex::new(Vec::new()),
            script: Mutex::new(BTreeMap::new()),
            counter: AtomicU64::new(0),
        }
    }

    /// Renames the stub (its `info().name`, stamped on errors by `Checked`).
    #[must_use]
    pub fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// Queues `value` as the next answer of `operation` (an `op::*` name); it must have the
    /// JSON shape of the operation's output, else the call answers `Unexpected`.
    pub fn answer(&self, operation: &'static str, value: impl Serialize) {
        let answer = match serde_json::to_value(value) {
            Ok(value) => Answer::Value(value),
            Err(e) => Answer::Error(Error::unexpected(format!("stub answer is not JSON: {e}"))),
        };
        lock(&self.script)
            .entry(operation)
            .or_default()
            .push_back(answer);
    }

    /// Queues `error` as the next answer of `operation`.
    pub fn fail(&self, operation: &'static str, error: Error) {
        lock(&self.script)
            .entry(operation)
            .or_default()
            .push_back(Answer::Error(error));
    }

    /// Every call that reached the stub, in order.
    pub fn calls(&self) -> Vec<StubCall> {
        lock(&self.calls).clone()
    }

    /// The calls of one operation, in order.
    pub fn calls_to(&self, operation: &str) -> Vec<StubCall> {
        lock(&self.calls)
            .iter()
            .filter(|c| c.operation() == operation)
            .cloned()
            .collect()
    }

    /// Forgets the recorded calls and the unused script.
    pub fn clear(&self) {
        lock(&self.calls).clear();
        lock(&self.script).clear();
    }

    fn next_id(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Records the call, applies the capability gate, then answers from the script or
    /// `default`.
    fn handle<T: DeserializeOwned>(
        &self,
        call: StubCall,
        supported: bool,
        default: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let operation = call.operation();
        lock(&self.calls).push(call);
        if !supported {
            return Err(Error::unsupported(operation));
        }
        let scripted = lock(&self.script)
            .get_mut(operation)
            .and_then(VecDeque::pop_front);
        match scripted {
            None => default(),
            Some(Answer::Error(e)) => Err(e),
            Some(Answer::Value(value)) => serde_json::from_value(value).map_err(|e| {
                Error::unexpected(format!(
                    "stub answer for `{operation}` has the wrong shape: {e}"
                ))
            }),
        }
    }
}

fn not_found<T>(what: &str) -> impl FnOnce() -> Result<T> {
    let message = format!("the stub holds no {what}");
    move || Err(Error::not_found(message))
}

fn empty_page<T>() -> Result<Page<T>> {
    Ok(Page {
        items: Vec::new(),
        next: None,
        total: Some(0),
    })
}

/// `ProviderStatus` is not `Deserialize`; scripted statuses use this shape.
#[derive(serde::Deserialize)]
struct StatusAnswer {
    account: String,
    #[serde(default)]
    balance: Option<Decimal>,
}

#[async_trait]
impl Provider for StubProvider {
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            name: self.name,
            version: env!("CARGO_PKG_VERSION"),
        }
    }
    fn capability(&self) -> Capability {
        self.capability
    }
    async fn status(&self) -> Result<ProviderStatus> {
        let answer: StatusAnswer = self.handle(StubCall::Status, self.capability.status, || {
            Ok(StatusAnswer {
                account: "stub".to_owned(),
                balance: None,
            })
        })?;
        Ok(ProviderStatus {
            account: answer.account,
            balance: answer.balance,
        })
    }
    walletport_core::self_ports!();
}

#[async_trait]
impl CustomerPort for StubProvider {
    async fn upsert_customer(&self, input: UpsertCustomer) -> Result<CustomerRecord> {
        let record = CustomerRecord::new(input.customer.clone());
        self.handle(
            StubCall::UpsertCustomer(input),
            self.capability.customer_upsert,
            || Ok(record),
        )
    }
    async fn get_customer(&self, input: GetCustomer) -> Result<CustomerRecord> {
        let c = &self.capability;
        let supported = match &input.key {
            CustomerKey::Phone(_) => c.customer_get_by_phone,
            CustomerKey::Card(_) => c.customer_get_by_card,
            CustomerKey::Id(_) => c.customer_get_by_id,
        };
        self.handle(
            StubCall::GetCustomer(input),
            supported,
            not_found("customer"),
        )
    }
    async fn list_customers(&self, input: ListCustomers) -> Result<Page<CustomerRecord>> {
        self.handle(
            StubCall::ListCustomers(input),
            self.capability.customer_list,
            empty_page,
        )
    }
    async fn delete_customer(&self, input: DeleteCustomer) -> Result<()> {
        self.handle(
            StubCall::DeleteCustomer(input),
            self.capability.customer_delete,
            || Ok(()),
        )
    }
}

#[async_trait]
impl CardPort for StubProvider {
    async fn issue_card(&self, input: IssueCard) -> Result<Card> {
        let n = self.next_id();
        let card = Card {
            id: CardId::new(format!("stub-card-{n}")).ok(),
            number: Some(n.to_string()),
            template: input.template.clone(),
            fields: input.fields.clone(),
            ..Card::default()
        };
        self.handle(
            StubCall::IssueCard(input),
            self.capability.card_issue,
            || Ok(card),
        )
    }
    async fn get_card(&self, input: GetCard) -> Result<Card> {
        self.handle(
            StubCall::GetCard(input),
            self.capability.card_get,
            not_found("card"),
        )
    }
    async fn update_card(&self, input: UpdateCard) -> Result<Card> {
        self.handle(
            StubCall::UpdateCard(input),
            self.capability.card_update,
            not_found("card"),
        )
    }
    async fn set_card_status(&self, input: SetCardStatus) -> Result<Card> {
        self.handle(
            StubCall::SetCardStatus(input),
            self.capability.card_set_status,
            not_found("card"),
        )
    }
    async fn send_install_link(&self, input: SendInstallLink) -> Result<()> {
        self.handle(
            StubCall::SendInstallLink(input),
            self.capability.card_send_install_link,
            || Ok(()),
        )
    }
}

#[async_trait]
impl BalancePort for StubProvider {
    async fn get_balance(&self, input: GetBalance) -> Result<Balance> {
        self.handle(
            StubCall::GetBalance(input),
            self.capability.balance_get,
            not_found("balance"),
        )
    }
    async fn set_balance(&self, input: SetBalance) -> Result<Balance> {
        let mut balance = Balance::default();
        input.update.apply(&mut balance);
        self.handle(
            StubCall::SetBalance(input),
            self.capability.balance_set,
            || Ok(balance),
        )
    }
    async fn credit(&self, input: CreditBalance) -> Result<CreditOutcome> {
        let outcome = CreditOutcome {
            balance: Balance {
                points: input.credit.amount(),
                ..Balance::default()
            },
            applied: true,
        };
        let supported = self.capability.balance_credit
            && (input.credit.lifetime().is_none() || self.capability.balance_credit_lifetime);
        self.handle(StubCall::Credit(input), supported, || Ok(outcome))
    }
    async fn redeem(&self, input: RedeemBalance) -> Result<RedeemOutcome> {
        let outcome = RedeemOutcome {
            balance: Balance::default(),
            applied: true,
        };
        self.handle(
            StubCall::Redeem(input),
            self.capability.balance_redeem,
            || Ok(outcome),
        )
    }
}

#[async_trait]
impl PushCampaignPort for StubProvider {
    async fn push(&self, input: SendPush) -> Result<PushReceipt> {
        let supported = self.capability.push_on(input.message.channel());
        self.handle(StubCall::Push(input), supported, || {
            Ok(PushReceipt {
                accepted: true,
                detail: None,
            })
        })
    }
    async fn create_campaign(&self, input: CreateCampaign) -> Result<CampaignRecord> {
        let id = CampaignId::new(format!("stub-campaign-{}", self.next_id()))?;
        let record = CampaignRecord {
            id,
            campaign: input.campaign.clone(),
            sent_at: None,
            recipients: None,
        };
        let supported = self.capability.campaign_create
            && (input.campaign.segment.is_none() || self.capability.campaign_segment);
        self.handle(StubCall::CreateCampaign(input), supported, || Ok(record))
    }
    async fn send_campaign(&self, input: SendCampaign) -> Result<CampaignRecord> {
        self.handle(
            StubCall::SendCampaign(input),
            self.capability.campaign_send,
            not_found("campaign"),
        )
    }
}

#[async_trait]
impl TemplatePort for StubProvider {
    async fn list_templates(&self, input: ListTemplates) -> Result<Page<TemplateSummary>> {
        self.handle(
            StubCall::ListTemplates(input),
            self.capability.template_list,
            empty_page,
        )
    }
    async fn get_template(&self, input: GetTemplate) -> Result<Template> {
        self.handle(
            StubCall::GetTemplate(input),
            self.capability.template_get,
            not_found("template"),
        )
    }
    async fn create_template(&self, input: CreateTemplate) -> Result<Template> {
        let mut template = input.template.clone();
        template.id = Some(TemplateId::new(format!(
            "stub-template-{}",
            self.next_id()
        ))?);
        self.handle(
            StubCall::CreateTemplate(input),
            self.capability.template_create,
            || Ok(template),
        )
    }
    async fn update_template(&self, input: UpdateTemplate) -> Result<Template> {
        let template = input.template.clone();
        self.handle(
            StubCall::UpdateTemplate(input),
            self.capability.template_update,
            || Ok(template),
        )
    }
}
