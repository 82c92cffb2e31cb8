//! The values the [`Store`](crate::Store) takes and returns: customers with their CRM-side
//! attributes, cards per provider, ledger operations and their outcomes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use walletport_core::{
    CardId, CardStatus, Customer, CustomerId, Error, InstallLinks, Installed, Percent, Result,
};

/// When a write happens and whether the vendor must hear about it.
///
/// `now` is injected (never read from the clock inside the store) so tests can put credits,
/// expiries and outbox schedules at exact instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOpts {
    /// The instant of the write: `created_at`/`updated_at`/`credited_at` and outbox scheduling.
    pub now: DateTime<Utc>,
    /// Whether to enqueue an outbox item for the vendor in the same transaction. A change that
    /// came from the vendor itself (a Passquare addBalance, a Passteam webhook) usually sets this
    /// to `false` so it is not echoed back.
    pub echo: bool,
}

impl WriteOpts {
    /// A write at `now` that is synced to the vendor.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self { now, echo: true }
    }

    /// A write at the current wall-clock time that is synced to the vendor.
    pub fn now() -> Self {
        Self::at(Utc::now())
    }

    /// The same write, but without an outbox item (the change came from the vendor).
    #[must_use]
    pub fn no_echo(mut self) -> Self {
        self.echo = false;
        self
    }
}

/// A customer as the store keeps it: the domain customer plus CRM-side attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCustomer {
    /// The stable CRM id (also in `customer.id`, always `Some` here).
    pub id: CustomerId,
    /// The customer's data; `customer.id` equals `id`.
    pub customer: Customer,
    /// Bonus accrual percentage.
    pub bonus_percent: Percent,
    /// Discount percentage.
    pub discount_percent: Percent,
    /// When the customer was first stored.
    pub created_at: DateTime<Utc>,
    /// When any attribute last changed.
    pub updated_at: DateTime<Utc>,
}

/// What [`Store::upsert_customer`](crate::Store::upsert_customer) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upserted {
    /// The stable CRM id (the existing one on update, a new or the requested one on create).
    pub id: CustomerId,
    /// True when the customer did not exist before.
    pub created: bool,
    /// True when anything was written (always true when `created`).
    pub changed: bool,
}

/// One page of [`Store::list_customers`](crate::Store::list_customers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerPage {
    /// The customers, oldest first.
    pub customers: Vec<StoredCustomer>,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next: Option<String>,
}

/// Which customers to list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ListCustomers {
    /// The opaque cursor from the previous page's `next`.
    pub after: Option<String>,
    /// Page size, 1..=[`MAX_PAGE`]; 0 means the default of 100.
    pub limit: u32,
}

/// The largest page any listing returns.
pub const MAX_PAGE: u32 = 1000;

impl ListCustomers {
    pub(crate) fn page_size(&self) -> Result<i64> {
        match self.limit {
            0 => Ok(100),
            n if n <= MAX_PAGE => Ok(i64::from(n)),
            n => Err(Error::invalid_input(format!(
                "page size {n} is over {MAX_PAGE}"
            ))),
        }
    }

    pub(crate) fn after_seq(&self) -> Result<i64> {
        match &self.after {
            None => Ok(0),
            Some(c) => c
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| Error::invalid_input("invalid paging cursor")),
        }
    }
}

/// A card the store knows, with the provider that issued it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCard {
    /// The holder.
    pub customer_id: CustomerId,
    /// The provider's name (`passquare`, `passteam`, `skycore`, `memory`).
    pub provider: String,
    /// The vendor's card id, if known.
    pub vendor_card_id: Option<CardId>,
    /// The card number shown to the customer.
    pub number: Option<String>,
    /// The barcode / magnetic track.
    pub track: Option<String>,
    /// Install links.
    pub links: InstallLinks,
    /// Install state per platform.
    pub installed: Installed,
    /// Life-cycle state.
    pub status: CardStatus,
    /// When the card was first attached.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A card to attach to a customer (create, or merge into the same card of the same provider).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewCard {
    /// The provider's name; 1..=64 characters of `[a-z0-9_-]`.
    pub provider: String,
    /// The vendor's card id; this or `number` identifies the card.
    pub vendor_card_id: Option<CardId>,
    /// The card number; this or `vendor_card_id` identifies the card.
    pub number: Option<String>,
    /// The barcode / magnetic track.
    pub track: Option<String>,
    /// Install links (merged: a `None` link keeps the stored one).
    pub links: InstallLinks,
    /// Install state for a new card (an existing card keeps its state; see `update_card`).
    pub installed: Installed,
    /// Status for a new card (an existing card keeps its state; see `update_card`).
    pub status: CardStatus,
}

impl NewCard {
    /// The checks [`Store::attach_card`](crate::Store::attach_card) makes, on their own: a
    /// caller that writes several things can refuse a bad card before it writes the first.
    pub fn validate(&self) -> walletport_core::Result<()> {
        crate::codec::validate_card(self)
    }
}

/// A change of a stored card, e.g. from a vendor webhook. `None` leaves a value as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CardPatch {
    /// New card number.
    pub number: Option<String>,
    /// New track.
    pub track: Option<String>,
    /// New links (each `Some` link replaces the stored one).
    pub links: Option<InstallLinks>,
    /// Installed in Apple Wallet.
    pub installed_apple: Option<bool>,
    /// Installed in Google Wallet.
    pub installed_google: Option<bool>,
    /// New life-cycle state.
    pub status: Option<CardStatus>,
    /// Remove the card from the store (a vendor-side delete).
    pub remove: bool,
    /// The inbound event that carries this change: recorded in the same transaction, and a
    /// second delivery of the same event id changes nothing ([`CardUpdated::Duplicate`]).
    pub event_id: Option<String>,
}

/// What [`Store::update_card`](crate::Store::update_card) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CardUpdated {
    /// The change was applied; the card as it is now (as it was, when removed).
    Applied(StoredCard),
    /// The event id was processed before; nothing changed.
    Duplicate,
    /// No card with that provider and vendor id; nothing changed and the event is not recorded.
    NotFound,
}

/// The CRM-side percentages of a customer; `None` leaves a value as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Percentages {
    /// New bonus accrual percentage.
    pub bonus: Option<Percent>,
    /// New discount percentage.
    pub discount: Option<Percent>,
}

/// The longest text [`Store::search_customers`](crate::Store::search_customers) accepts.
pub const MAX_SEARCH_CHARS: usize = 100;

/// What [`Store::search_customers`](crate::Store::search_customers) looks for, one page at a
/// time: a phone prefix when the text is made of digits (with an optional `+` and separators),
/// otherwise the start of the name (first name then surname, or surname then first name, in
/// any case).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CustomerSearch {
    /// What was typed: `+42077`, `777 12`, `jan`, `Novák J`.
    pub text: String,
    /// The opaque cursor from the previous page's `next`.
    pub after: Option<String>,
    /// Page size, 1..=[`MAX_PAGE`]; 0 means the default of 100.
    pub limit: u32,
}

/// How a [`CustomerSearch`] runs (each one index range scan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SearchPlan {
    /// Phones starting with `prefix` (`+` and digits), in phone order, after the phone `after`.
    Phone {
        /// `+` and the digits typed.
        prefix: String,
        /// The last phone of the previous page (`""` on the first page).
        after: String,
    },
    /// Names starting with `text` (trimmed, single spaces; the database lowercases both sides),
    /// in creation order after the customer `after` (a `seq`).
    Name {
        /// The name text.
        text: String,
        /// The last `seq` of the previous page (0 on the first page).
        after: i64,
    },
}

impl CustomerSearch {
    /// The page size as a query bound.
    pub(crate) fn page_size(&self) -> Result<i64> {
        ListCustomers {
            after: None,
            limit: self.limit,
        }
        .page_size()
    }

    /// Checks the text and cursor and decides how to search.
    pub(crate) fn plan(&self) -> Result<SearchPlan> {
        let text = self.text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            return Err(Error::invalid_input("the search text is empty"));
        }
        if text.chars().count() > MAX_SEARCH_CHARS || text.chars().any(char::is_control) {
            return Err(Error::invalid_input(format!(
                "the search text must be at most {MAX_SEARCH_CHARS} printable characters"
            )));
        }
        let bad_cursor = || Error::invalid_input("invalid paging cursor");
        let compact: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
            .collect();
        let digits = compact.strip_prefix('+').unwrap_or(&compact);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            let after = match &self.after {
                None => String::new(),
                Some(c)
                    if c.strip_prefix('+').is_some_and(|d| {
                        !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
                    }) =>
                {
                    c.clone()
                }
                Some(_) => return Err(bad_cursor()),
            };
            return Ok(SearchPlan::Phone {
                prefix: format!("+{digits}"),
                after,
            });
        }
        let after = match &self.after {
            None => 0,
            Some(c) => c
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(bad_cursor)?,
        };
        Ok(SearchPlan::Name { text, after })
    }
}
