//! The provider-agnostic domain: customers, cards, balances, pushes and templates.
//!
//! Every type here is strict (E.164 phones, real dates, `Decimal` money, id newtypes); vendor
//! quirks such as dd.mm.yyyy birthdays or numbers sent as strings live only in the adapters.

mod balance;
mod card;
mod customer;
mod push;
mod template;

pub use balance::{
    Balance, BalanceFields, BalanceUpdate, Credit, MAX_AMOUNT, MAX_SCALE, Percent, Redemption,
    check_amount,
};
pub use card::{Card, CardStatus, InstallLinks, Installed};
pub use customer::{BIRTHDAYS, Customer, CustomerKey, CustomerRecord, Referrals, validate_email};
pub use push::{Campaign, CampaignRecord, Channel, MAX_MESSAGE_CHARS, PushMessage, PushReceipt};
pub use template::{FieldKind, Template, TemplateField, TemplateSummary};

/// Free-form string fields (custom variables, extra registration data), ordered for stable output.
pub type Fields = std::collections::BTreeMap<String, String>;
