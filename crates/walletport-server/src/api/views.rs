//! The REST API's JSON shapes, documented in the OpenAPI description.
//!
//! Money and percentages are decimal strings (`"150.25"`), never floats; inputs accept strings or
//! JSON numbers. Dates are ISO 8601.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use walletport_core::{Balance, CampaignRecord, PushReceipt};
use walletport_store::{OutboxItem, StoredCard, StoredCustomer};

mod ledger;

pub use ledger::*;

/// The name an enum serialises to (`"active"`, `"wallet"`, ...), so views spell it as the wire
/// does; empty should it serialise to anything but a string.
fn wire_name<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A customer to create or update, keyed by phone; absent fields stay as they are.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    /// The phone (E.164 or international digits).
    pub phone: String,
    /// The CRM id to give a new customer (a UUID is made when absent); an id that reads as a
    /// phone number is refused, since a path key of that shape names a phone.
    #[serde(default)]
    pub id: Option<String>,
    /// First name.
    #[serde(default)]
    pub name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub surname: Option<String>,
    /// Middle name.
    #[serde(default)]
    pub middle_name: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Birthday.
    #[serde(default)]
    pub birthday: Option<NaiveDate>,
    /// Extra free-form fields (merged by key).
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// The customer's referral code.
    #[serde(default)]
    pub referral_code: Option<String>,
    /// The inviter's phone.
    #[serde(default)]
    pub invited_by: Option<String>,
    /// Bonus accrual percentage, 0–100.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "5")]
    pub bonus_percent: Option<Decimal>,
    /// Discount percentage, 0–100.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "10")]
    pub discount_percent: Option<Decimal>,
}

/// A stored customer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerView {
    /// The stable CRM id.
    pub id: String,
    /// The phone (E.164).
    pub phone: String,
    /// First name.
    pub name: Option<String>,
    /// Family name.
    pub surname: Option<String>,
    /// Middle name.
    pub middle_name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Birthday.
    pub birthday: Option<NaiveDate>,
    /// Extra fields.
    pub extra: BTreeMap<String, String>,
    /// Referral code.
    pub referral_code: Option<String>,
    /// The inviter's phone.
    pub invited_by: Option<String>,
    /// Bonus accrual percentage.
    #[schema(value_type = String)]
    pub bonus_percent: Decimal,
    /// Discount percentage.
    #[schema(value_type = String)]
    pub discount_percent: Decimal,
    /// When first stored.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&StoredCustomer> for CustomerView {
    fn from(s: &StoredCustomer) -> Self {
        let c = &s.customer;
        Self {
            id: s.id.to_string(),
            phone: c.phone.to_string(),
            name: c.name.clone(),
            surname: c.surname.clone(),
            middle_name: c.middle_name.clone(),
            email: c.email.clone(),
            birthday: c.birthday,
            extra: c.extra.clone(),
            referral_code: c.referral_code.clone(),
            invited_by: c.invited_by.as_ref().map(ToString::to_string),
            bonus_percent: s.bonus_percent.value(),
            discount_percent: s.discount_percent.value(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A card of a customer at one provider.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardView {
    /// The provider (`passquare`, `passteam`, ...).
    pub provider: String,
    /// The vendor's card id.
    pub vendor_card_id: Option<String>,
    /// The card number.
    pub number: Option<String>,
    /// Installed in Apple Wallet.
    pub installed_apple: bool,
    /// Installed in Google Wallet.
    pub installed_google: bool,
    /// `active`, `voided`, `expired` or `redeemed`.
    pub status: String,
    /// Where the customer installs the card, as the vendor last answered (Skycore's install page
    /// comes only from issuing the pass, so this is where a merchant finds it).
    pub links: LinksView,
}

/// A card's install links.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct LinksView {
    /// Apple Wallet `.pkpass` link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apple: Option<String>,
    /// Google Wallet save link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub google: Option<String>,
    /// A web page that offers the right wallet for the device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// A QR code image leading to the card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr: Option<String>,
}

impl From<&StoredCard> for CardView {
    fn from(c: &StoredCard) -> Self {
        Self {
            provider: c.provider.clone(),
            vendor_card_id: c.vendor_card_id.as_ref().map(ToString::to_string),
            number: c.number.clone(),
            installed_apple: c.installed.apple,
            installed_google: c.installed.google,
            links: LinksView {
                apple: c.links.apple.clone(),
                google: c.links.google.clone(),
                page: c.links.page.clone(),
                qr: c.links.qr.clone(),
            },
            status: wire_name(c.status),
        }
    }
}

/// Points and percentages.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BalanceView {
    /// Live points (expired credits excluded). Negative only after the reversal of a credit whose
    /// points were already spent: a debt that later credits pay off first (the vendor card shows
    /// 0 meanwhile).
    #[schema(value_type = String, example = "150.25")]
    pub points: Decimal,
    /// Bonus accrual percentage.
    #[schema(value_type = String)]
    pub bonus_percent: Decimal,
    /// Discount percentage.
    #[schema(value_type = String)]
    pub discount_percent: Decimal,
}

impl From<Balance> for BalanceView {
    fn from(b: Balance) -> Self {
        Self {
            points: b.points,
            bonus_percent: b.bonus_percent.value(),
            discount_percent: b.discount_percent.value(),
        }
    }
}

/// A customer with cards and balance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerDetail {
    /// The customer.
    pub customer: CustomerView,
    /// Their cards.
    pub cards: Vec<CardView>,
    /// Their balance now.
    pub balance: BalanceView,
}

/// The result of an upsert.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UpsertResult {
    /// The stable CRM id.
    pub id: String,
    /// True when the customer was new.
    pub created: bool,
    /// True when anything changed.
    pub changed: bool,
    /// The customer as stored now.
    pub customer: CustomerView,
}

/// One page of customers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerPageView {
    /// The customers, oldest first.
    pub customers: Vec<CustomerView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// Paging of a listing.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next` value of the previous page.
    pub after: Option<String>,
    /// Page size (1–1000, default 100).
    pub limit: Option<u32>,
}

/// The customer a path names, documented once for every operation under
/// `/api/customers/{key}` (the handlers read it with `customer_key`).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CustomerKeyParam {
    /// Phone (E.164) or CRM id
    pub key: String,
}

/// Bonus and discount percentages to set; absent values stay.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PercentagesInput {
    /// Bonus accrual percentage, 0–100.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub bonus_percent: Option<Decimal>,
    /// Discount percentage, 0–100.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub discount_percent: Option<Decimal>,
}

/// A message to one customer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushInput {
    /// The text.
    pub text: String,
    /// `wallet` (default), `webpush` or `telegram`.
    #[serde(default)]
    pub channel: Option<String>,
}

/// The vendor's acknowledgement of a push.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PushView {
    /// Whether the vendor accepted it.
    pub accepted: bool,
    /// The vendor's words.
    pub detail: Option<String>,
}

impl From<PushReceipt> for PushView {
    fn from(r: PushReceipt) -> Self {
        Self {
            accepted: r.accepted,
            detail: r.detail,
        }
    }
}

/// A campaign to create.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    /// The text.
    pub message: String,
    /// `wallet` (default), `webpush` or `telegram`.
    #[serde(default)]
    pub channel: Option<String>,
    /// A name for the overview.
    #[serde(default)]
    pub name: Option<String>,
    /// A segment id; everyone when absent.
    #[serde(default)]
    pub segment: Option<String>,
}

/// A campaign at the vendor.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignView {
    /// The id to send it by.
    pub id: String,
    /// The text.
    pub message: String,
    /// The channel.
    pub channel: String,
    /// The name.
    pub name: Option<String>,
    /// The segment.
    pub segment: Option<String>,
    /// When it was sent.
    pub sent_at: Option<DateTime<Utc>>,
    /// How many it reached.
    pub recipients: Option<u64>,
}

impl From<CampaignRecord> for CampaignView {
    fn from(r: CampaignRecord) -> Self {
        Self {
            id: r.id.to_string(),
            channel: wire_name(r.campaign.channel),
            message: r.campaign.message,
            name: r.campaign.name,
            segment: r.campaign.segment.map(|s| s.to_string()),
            sent_at: r.sent_at,
            recipients: r.recipients,
        }
    }
}

/// Paging of template listings.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateQuery {
    /// The `next` value of the previous page.
    pub cursor: Option<String>,
    /// Page size wish.
    pub page_size: Option<u32>,
}

/// A template in a listing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplateSummaryView {
    /// The id.
    pub id: String,
    /// The name.
    pub name: String,
}

/// One page of templates.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplatePageView {
    /// The templates.
    pub items: Vec<TemplateSummaryView>,
    /// The cursor of the next page.
    pub next: Option<String>,
}

/// Which outbox list to read.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// `pending` (default) or `dead`.
    pub list: Option<String>,
    /// Items after this id.
    pub after: Option<i64>,
    /// Page size (1–1000, default 100).
    pub limit: Option<u32>,
}

/// An outbox item or dead letter.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutboxItemView {
    /// The id (for `retry`).
    pub id: i64,
    /// Whose change.
    pub customer_id: String,
    /// `customer`, `balance`, `percentages` or `card`.
    pub kind: String,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// Failed attempts.
    pub attempts: u32,
    /// Not before this instant.
    pub next_attempt_at: DateTime<Utc>,
    /// `pending`, `in_flight` or `dead`.
    pub state: String,
    /// The last error.
    pub last_error: Option<String>,
    /// When it was dead-lettered.
    pub died_at: Option<DateTime<Utc>>,
}

impl From<&OutboxItem> for OutboxItemView {
    fn from(i: &OutboxItem) -> Self {
        Self {
            id: i.id.0,
            customer_id: i.customer_id.to_string(),
            kind: i.kind.as_str().to_owned(),
            created_at: i.created_at,
            attempts: i.attempts,
            next_attempt_at: i.next_attempt_at,
            state: wire_name(i.state),
            last_error: i.last_error.clone(),
            died_at: i.died_at,
        }
    }
}

/// One page of the outbox.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutboxPageView {
    /// The items by ascending id.
    pub items: Vec<OutboxItemView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<i64>,
}

/// The new id of a retried dead letter.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RetryResult {
    /// The id of the item back in the outbox.
    pub id: i64,
}

/// The gateway's health.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the store answers and the provider is reachable (or cannot be checked).
    pub status: String,
    /// `ok` or the store's error.
    pub store: String,
    /// `ok`, `unchecked` (the provider has no status call) or the provider's error.
    pub provider: String,
    /// What the start-up check of the configuration against the vendor found.
    pub startup_check: String,
}

/// An error answer: `{"error": {"kind", "message", "retry", ...}}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    #[schema(value_type = Object)]
    pub error: serde_json::Value,
}

/// The error answers an operation documents, by status (`ErrorResponses<400, 404>`): each an
/// [`ErrorBody`], so the `#[utoipa::path]` attributes list statuses instead of repeating bodies.
pub struct ErrorResponses<const A: u16, const B: u16 = 0, const C: u16 = 0, const D: u16 = 0>;

impl<const A: u16, const B: u16, const C: u16, const D: u16> utoipa::IntoResponses
    for ErrorResponses<A, B, C, D>
{
    fn responses() -> BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
        use utoipa::openapi::{Content, Ref, ResponseBuilder};
        [A, B, C, D]
            .into_iter()
            .filter(|status| *status != 0)
            .map(|status| {
                let body = Content::new(Some(Ref::from_schema_name(
                    <ErrorBody as utoipa::ToSchema>::name(),
                )));
                let response = ResponseBuilder::new()
                    .content("application/json", body)
                    .build();
                (status.to_string(), response.into())
            })
            .collect()
    }
}
