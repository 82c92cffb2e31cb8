//! Outbound ports: what the merchant asks of a wallet-card vendor.

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::Serialize;

use super::inputs::*;
use crate::capability::Capability;
use crate::domain::{
    Balance, BalanceFields, CampaignRecord, Card, CustomerRecord, PushReceipt, Template,
    TemplateSummary,
};
use crate::error::{Error, Result};

/// Stable operation names, used in errors, logs, metrics and the capability checks.
pub mod op {
    #![allow(missing_docs)]
    pub const STATUS: &str = "status";
    pub const CHECK: &str = "check";
    pub const CUSTOMER_UPSERT: &str = "customer.upsert";
    pub const CUSTOMER_GET: &str = "customer.get";
    pub const CUSTOMER_LIST: &str = "customer.list";
    pub const CUSTOMER_DELETE: &str = "customer.delete";
    pub const CARD_ISSUE: &str = "card.issue";
    pub const CARD_GET: &str = "card.get";
    pub const CARD_UPDATE: &str = "card.update";
    pub const CARD_SET_STATUS: &str = "card.set_status";
    pub const CARD_SEND_INSTALL_LINK: &str = "card.send_install_link";
    pub const BALANCE_GET: &str = "balance.get";
    pub const BALANCE_SET: &str = "balance.set";
    pub const BALANCE_CREDIT: &str = "balance.credit";
    pub const BALANCE_REDEEM: &str = "balance.redeem";
    pub const PUSH_SEND: &str = "push.send";
    pub const CAMPAIGN_CREATE: &str = "campaign.create";
    pub const CAMPAIGN_SEND: &str = "campaign.send";
    pub const TEMPLATE_LIST: &str = "template.list";
    pub const TEMPLATE_GET: &str = "template.get";
    pub const TEMPLATE_CREATE: &str = "template.create";
    pub const TEMPLATE_UPDATE: &str = "template.update";
}

/// The answer of a port method a provider does not implement: `Unsupported`, naming the
/// operation. It takes the method's input only so that each default is one line.
fn unsupported<T>(operation: &'static str, _input: impl Sized) -> Result<T> {
    Err(Error::unsupported(operation))
}

/// Customers at the vendor.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait CustomerPort: Send + Sync {
    /// Create the customer, or update the one with the same phone; returns what the vendor holds.
    async fn upsert_customer(&self, input: UpsertCustomer) -> Result<CustomerRecord> {
        unsupported(op::CUSTOMER_UPSERT, input)
    }
    /// Find one customer; [`crate::ErrorKind::NotFound`] when there is none.
    async fn get_customer(&self, input: GetCustomer) -> Result<CustomerRecord> {
        unsupported(op::CUSTOMER_GET, input)
    }
    /// One page of customers.
    async fn list_customers(&self, input: ListCustomers) -> Result<Page<CustomerRecord>> {
        unsupported(op::CUSTOMER_LIST, input)
    }
    /// Delete a customer and their card.
    async fn delete_customer(&self, input: DeleteCustomer) -> Result<()> {
        unsupported(op::CUSTOMER_DELETE, input)
    }
}

/// Wallet cards (passes) at the vendor.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait CardPort: Send + Sync {
    /// Issue a card; the result carries its install links.
    async fn issue_card(&self, input: IssueCard) -> Result<Card> {
        unsupported(op::CARD_ISSUE, input)
    }
    /// Read a card.
    async fn get_card(&self, input: GetCard) -> Result<Card> {
        unsupported(op::CARD_GET, input)
    }
    /// Update a card's fields.
    async fn update_card(&self, input: UpdateCard) -> Result<Card> {
        unsupported(op::CARD_UPDATE, input)
    }
    /// Change a card's status.
    async fn set_card_status(&self, input: SetCardStatus) -> Result<Card> {
        unsupported(op::CARD_SET_STATUS, input)
    }
    /// Send the install link to the holder.
    async fn send_install_link(&self, input: SendInstallLink) -> Result<()> {
        unsupported(op::CARD_SEND_INSTALL_LINK, input)
    }
}

/// Points and percentages at the vendor.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait BalancePort: Send + Sync {
    /// Read points, bonus % and discount %.
    async fn get_balance(&self, input: GetBalance) -> Result<Balance> {
        unsupported(op::BALANCE_GET, input)
    }
    /// Set some of points, bonus %, discount %.
    async fn set_balance(&self, input: SetBalance) -> Result<Balance> {
        unsupported(op::BALANCE_SET, input)
    }
    /// Credit points exactly once by transaction id.
    async fn credit(&self, input: CreditBalance) -> Result<CreditOutcome> {
        unsupported(op::BALANCE_CREDIT, input)
    }
    /// Redeem (spend) points exactly once by transaction id.
    ///
    /// - The first call with a transaction id takes the amount off and answers `applied: true`
    ///   with the balance after it.
    /// - A repeat with the same customer and amount changes nothing and answers
    ///   `applied: false` with the balance now. The same id with another amount or for another
    ///   customer is a [`crate::ErrorKind::Conflict`]; transaction ids are one namespace with
    ///   credits, so an id already used by a credit is a conflict too.
    /// - When the customer holds fewer points than the amount, the answer is
    ///   [`crate::ErrorKind::InsufficientPoints`] and nothing changes (the transaction id is not
    ///   used up: it may be retried once there are points).
    /// - Points that burn soonest are spent first, points that never burn last, so a
    ///   redemption never lets points expire that it could have used.
    async fn redeem(&self, input: RedeemBalance) -> Result<RedeemOutcome> {
        unsupported(op::BALANCE_REDEEM, input)
    }
}

/// Messages to one customer and campaigns to many.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PushCampaignPort: Send + Sync {
    /// Push one message to one customer. Never retried by the transport.
    async fn push(&self, input: SendPush) -> Result<PushReceipt> {
        unsupported(op::PUSH_SEND, input)
    }
    /// Create a campaign (not yet sent).
    async fn create_campaign(&self, input: CreateCampaign) -> Result<CampaignRecord> {
        unsupported(op::CAMPAIGN_CREATE, input)
    }
    /// Send a created campaign.
    async fn send_campaign(&self, input: SendCampaign) -> Result<CampaignRecord> {
        unsupported(op::CAMPAIGN_SEND, input)
    }
}

/// Card design templates.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TemplatePort: Send + Sync {
    /// One page of templates.
    async fn list_templates(&self, input: ListTemplates) -> Result<Page<TemplateSummary>> {
        unsupported(op::TEMPLATE_LIST, input)
    }
    /// Read one template.
    async fn get_template(&self, input: GetTemplate) -> Result<Template> {
        unsupported(op::TEMPLATE_GET, input)
    }
    /// Create a template.
    async fn create_template(&self, input: CreateTemplate) -> Result<Template> {
        unsupported(op::TEMPLATE_CREATE, input)
    }
    /// Update a template.
    async fn update_template(&self, input: UpdateTemplate) -> Result<Template> {
        unsupported(op::TEMPLATE_UPDATE, input)
    }
}

/// Name and version of a provider implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProviderInfo {
    /// The config `kind` (`memory`, `passquare`, ...).
    pub name: &'static str,
    /// The vendor API version spoken.
    pub version: &'static str,
}

/// The vendor account behind the credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderStatus {
    /// Account name.
    pub account: String,
    /// Prepaid credit at the vendor, if it has one.
    pub balance: Option<Decimal>,
}

/// What a start-up check of the configuration against the vendor found.
///
/// Produced by [`Provider::check`]; the gateway runs it once at start and `walletport providers
/// --check` prints it. A wrong configuration is an `Err` instead (kind `ConfigInvalid`,
/// `Unauthenticated` or `NotFound`, with a message naming the key to fix).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ProviderCheck {
    /// The account behind the credentials, where the vendor reports one.
    pub account: Option<String>,
    /// What was checked, one line each (e.g. "template 42 exists").
    pub checked: Vec<String>,
    /// Vendor requests the check spent (it counts against the plan's quota).
    pub requests: u32,
}

/// Implements the five port accessors of [`Provider`] for a type that implements every port
/// itself — the usual shape of an adapter. Use inside `impl Provider for T { ... }`.
///
/// ```
/// use walletport_core::*;
/// struct Nothing;
/// impl CustomerPort for Nothing {}
/// impl CardPort for Nothing {}
/// impl BalancePort for Nothing {}
/// impl PushCampaignPort for Nothing {}
/// impl TemplatePort for Nothing {}
/// #[async_trait::async_trait]
/// impl Provider for Nothing {
///     fn info(&self) -> ProviderInfo { ProviderInfo { name: "nothing", version: "0" } }
///     fn capability(&self) -> Capability { Capability::NONE }
///     walletport_core::self_ports!();
/// }
/// ```
#[macro_export]
macro_rules! self_ports {
    () => {
        fn customers(&self) -> &dyn $crate::CustomerPort {
            self
        }
        fn cards(&self) -> &dyn $crate::CardPort {
            self
        }
        fn balances(&self) -> &dyn $crate::BalancePort {
            self
        }
        fn push(&self) -> &dyn $crate::PushCampaignPort {
            self
        }
        fn templates(&self) -> &dyn $crate::TemplatePort {
            self
        }
    };
}

/// A wallet-card vendor behind the five outbound ports.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Name and API version.
    fn info(&self) -> ProviderInfo;
    /// What this provider supports, as configured.
    fn capability(&self) -> Capability;
    /// Checks the credentials and reports the account.
    async fn status(&self) -> Result<ProviderStatus> {
        Err(Error::unsupported(op::STATUS))
    }
    /// Which of points, bonus % and discount % this provider holds, as configured.
    ///
    /// The gateway sends only these and keeps the rest in its store; an explicit
    /// `set_balance` of a value not held still answers an error. Defaults to all three.
    fn balance_fields(&self) -> BalanceFields {
        BalanceFields::ALL
    }
    /// Checks the configuration against the vendor once (credentials, template, mapped
    /// variables), spending as few requests as the vendor allows.
    ///
    /// The default calls [`Provider::status`] where the provider has it, and checks nothing
    /// otherwise.
    async fn check(&self) -> Result<ProviderCheck> {
        if !self.capability().status {
            return Ok(ProviderCheck::default());
        }
        let status = self.status().await?;
        Ok(ProviderCheck {
            checked: vec![format!("credentials accepted (account {})", status.account)],
            account: Some(status.account),
            requests: 1,
        })
    }
    /// Customers.
    fn customers(&self) -> &dyn CustomerPort;
    /// Cards.
    fn cards(&self) -> &dyn CardPort;
    /// Balances.
    fn balances(&self) -> &dyn BalancePort;
    /// Pushes and campaigns.
    fn push(&self) -> &dyn PushCampaignPort;
    /// Templates.
    fn templates(&self) -> &dyn TemplatePort;
}
