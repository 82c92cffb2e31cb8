//! Input structs of the outbound ports.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::domain::{
    BalanceUpdate, Campaign, CardStatus, Credit, Customer, CustomerKey, Fields, PushMessage,
    Redemption, Template,
};
use crate::ids::{CampaignId, CardId, TemplateId};
use crate::phone::Phone;

/// An opaque position in a listing, handed back by the provider in [`Page::next`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PageCursor(pub String);

impl std::fmt::Display for PageCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<PageCursor>,
    /// The total count, when the vendor reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// Create or update a customer, keyed by phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertCustomer {
    /// The customer; `None` fields are left unchanged on update.
    pub customer: Customer,
    /// Balance values to set in the same request.
    pub balance: BalanceUpdate,
    /// The card design to use for a new card.
    pub template: Option<TemplateId>,
    /// A hint: the caller believes the vendor has no record of this customer yet (a new
    /// customer, or a resync to another vendor). An adapter whose vendor has no upsert may try
    /// the create first and save a request; the outcome is the same either way.
    pub likely_new: bool,
}

impl UpsertCustomer {
    /// Upsert with no balance change and the default template.
    pub fn new(customer: Customer) -> Self {
        Self {
            customer,
            balance: BalanceUpdate::default(),
            template: None,
            likely_new: false,
        }
    }
}

/// Find one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetCustomer {
    /// How to find them.
    pub key: CustomerKey,
    /// Also fetch referral data (may cost the vendor more work).
    pub with_referrals: bool,
    /// Also fetch per-card install flags.
    pub with_installs: bool,
}

impl GetCustomer {
    /// Find by key with all details.
    pub fn new(key: impl Into<CustomerKey>) -> Self {
        Self {
            key: key.into(),
            with_referrals: true,
            with_installs: true,
        }
    }
}

/// List customers, one page at a time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListCustomers {
    /// Registered on or after this day.
    pub registered_from: Option<NaiveDate>,
    /// Registered on or before this instant.
    pub registered_to: Option<NaiveDateTime>,
    /// `Some(true)`: only with an installed card; `Some(false)`: only without; `None`: all.
    pub installed: Option<bool>,
    /// Where to start; `None` for the first page.
    pub cursor: Option<PageCursor>,
    /// Page size wish; the provider may cap it.
    pub page_size: Option<u32>,
}

/// Delete a customer (and their card).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteCustomer {
    /// Whom.
    pub key: CustomerKey,
}

/// How to find a card.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardKey {
    /// The vendor's card id.
    Id(CardId),
    /// The number printed on the card.
    Number(String),
    /// The card of the customer with this phone.
    Phone(Phone),
}

/// Issue a card for a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueCard {
    /// The holder.
    pub customer: Customer,
    /// The design; `None` uses the configured default.
    pub template: Option<TemplateId>,
    /// Initial balance values shown on the card.
    pub balance: BalanceUpdate,
    /// Extra free-form fields.
    pub fields: Fields,
}

impl IssueCard {
    /// Issue with the default template and no extra fields.
    pub fn new(customer: Customer) -> Self {
        Self {
            customer,
            template: None,
            balance: BalanceUpdate::default(),
            fields: Fields::new(),
        }
    }
}

/// Read a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetCard {
    /// Which card.
    pub card: CardKey,
}

/// Change a card's fields; the vendor pushes the change to the installed pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateCard {
    /// Which card.
    pub card: CardKey,
    /// Fields to set.
    pub fields: Fields,
    /// Balance values to set.
    pub balance: BalanceUpdate,
    /// A notification text shown with the update, where the vendor supports it.
    pub notification: Option<String>,
}

/// Change a card's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCardStatus {
    /// Which card.
    pub card: CardKey,
    /// The new status.
    pub status: CardStatus,
}

/// How an install link reaches the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "via")]
pub enum LinkDelivery {
    /// By SMS; `text` may contain `%link%` where the link goes.
    Sms {
        /// Override the card's phone.
        phone: Option<Phone>,
        /// The message; the vendor's default when `None`.
        text: Option<String>,
    },
    /// By e-mail.
    Email {
        /// Override the card's e-mail.
        email: Option<String>,
    },
}

/// Send a card's install link to its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendInstallLink {
    /// Which card.
    pub card: CardKey,
    /// How.
    pub delivery: LinkDelivery,
}

/// Read a customer's balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetBalance {
    /// Whose.
    pub customer: CustomerKey,
}

/// Set balance values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetBalance {
    /// Whose.
    pub customer: CustomerKey,
    /// What to set.
    pub update: BalanceUpdate,
}

/// Credit points exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditBalance {
    /// Whose.
    pub customer: CustomerKey,
    /// The credit.
    pub credit: Credit,
}

/// The result of a credit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditOutcome {
    /// The balance after the credit.
    pub balance: crate::Balance,
    /// False when the transaction id was seen before and nothing changed.
    pub applied: bool,
}

/// Redeem (spend) points exactly once; see [`crate::BalancePort::redeem`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeemBalance {
    /// Whose.
    pub customer: CustomerKey,
    /// The redemption.
    pub redemption: Redemption,
}

/// The result of a redemption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemOutcome {
    /// The balance after the redemption (for a repeat: the balance now).
    pub balance: crate::Balance,
    /// False when the transaction id was redeemed before and nothing changed.
    pub applied: bool,
}

/// Push one message to one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendPush {
    /// To whom.
    pub customer: CustomerKey,
    /// What and how.
    pub message: PushMessage,
}

/// Create a campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCampaign {
    /// The campaign.
    pub campaign: Campaign,
}

/// Send a created campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendCampaign {
    /// Which.
    pub id: CampaignId,
}

/// List templates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListTemplates {
    /// Where to start.
    pub cursor: Option<PageCursor>,
    /// Page size wish.
    pub page_size: Option<u32>,
}

/// Read a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetTemplate {
    /// Which.
    pub id: TemplateId,
}

/// Create a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTemplate {
    /// The design (its `id` is ignored).
    pub template: Template,
}

/// Update a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateTemplate {
    /// The design; `id` names the template to change.
    pub template: Template,
}
