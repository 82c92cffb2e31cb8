//! The whole provider state as one serializable value, with the lookups every port shares.
//!
//! Operations work on a copy of the state and swap it in only when they succeed (and, with a
//! state file, only after it was written), so a failed operation changes nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use walletport_core::{
    BalanceUpdate, CampaignId, CampaignRecord, Card, CardId, CardKey, Customer, CustomerId,
    CustomerKey, CustomerRecord, Error, FieldKind, Fields, Phone, Referrals, Result, Template,
    TemplateField, TemplateId, TransactionId,
};

use crate::ledger::Ledger;
use crate::outbox::OutboxEntry;

/// The version of the state file layout; bumped on incompatible changes.
///
/// 2: a ledger keeps its points total and open lots, and records redemptions. A format 1 file
/// (walletport 0.1) still loads and is written as format 2 by the next change.
pub(crate) const FORMAT: u32 = 2;

/// The oldest state file layout this build reads.
pub(crate) const OLDEST_FORMAT: u32 = 1;

/// The most outbox entries kept; older ones are dropped first.
pub(crate) const OUTBOX_CAP: usize = 1000;

/// Everything the provider knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct State {
    pub(crate) format: u32,
    /// The provider-wide event counter (customer registration order and ledger order).
    pub(crate) next_seq: u64,
    pub(crate) next_card_number: u64,
    pub(crate) next_campaign: u64,
    pub(crate) next_template: u64,
    pub(crate) customers: BTreeMap<Phone, CustomerEntry>,
    pub(crate) cards: BTreeMap<CardId, CardEntry>,
    /// Which customer each transaction id (credit or redemption) belongs to: the exactly-once
    /// index.
    pub(crate) transactions: BTreeMap<TransactionId, Phone>,
    pub(crate) campaigns: BTreeMap<CampaignId, CampaignRecord>,
    pub(crate) templates: BTreeMap<TemplateId, Template>,
    pub(crate) outbox: Vec<OutboxEntry>,
}

/// One customer with registration data, cards and ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CustomerEntry {
    pub(crate) seq: u64,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) customer: Customer,
    pub(crate) cards: Vec<CardId>,
    pub(crate) ledger: Ledger,
}

/// One card and its holder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CardEntry {
    pub(crate) card: Card,
    pub(crate) owner: Phone,
}

impl State {
    /// A fresh state with the default template seeded.
    pub(crate) fn new(card_number_start: u64) -> Self {
        Self {
            format: FORMAT,
            next_seq: 1,
            next_card_number: card_number_start,
            next_campaign: 1,
            next_template: 1,
            customers: BTreeMap::new(),
            cards: BTreeMap::new(),
            transactions: BTreeMap::new(),
            campaigns: BTreeMap::new(),
            templates: BTreeMap::new(),
            outbox: Vec::new(),
        }
    }

    /// Makes sure the default template exists (a fresh state, or a changed config).
    pub(crate) fn seed_template(&mut self, id: &TemplateId) {
        self.templates
            .entry(id.clone())
            .or_insert_with(|| default_template(id.clone()));
    }

    /// The next provider-wide sequence number.
    pub(crate) fn seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Applies balance values to a customer's ledger under the next sequence number; an empty
    /// update changes nothing (and takes no number). Every port that carries balance values
    /// applies them this way.
    pub(crate) fn apply_balance(&mut self, phone: &Phone, update: &BalanceUpdate) -> Result<()> {
        if !update.is_empty() {
            // Takes a number although the ledger keeps none: later ids stay as they were.
            let _ = self.seq();
            self.customer_mut(phone)?.ledger.apply(update);
        }
        Ok(())
    }

    /// The phone of the customer a key names.
    pub(crate) fn resolve(&self, key: &CustomerKey) -> Result<Phone> {
        match key {
            CustomerKey::Phone(phone) => self
                .customers
                .contains_key(phone)
                .then(|| phone.clone())
                .ok_or_else(|| Error::not_found(format!("no customer with phone {phone}"))),
            CustomerKey::Card(card) => self
                .card_by_id_or_number(card.as_str())
                .map(|(_, entry)| entry.owner.clone())
                .ok_or_else(|| Error::not_found(format!("no customer with card {card}"))),
            CustomerKey::Id(id) => self
                .customer_by_id(id)
                .map(|e| e.customer.phone.clone())
                .ok_or_else(|| Error::not_found(format!("no customer with id {id}"))),
        }
    }

    pub(crate) fn customer(&self, phone: &Phone) -> Result<&CustomerEntry> {
        self.customers
            .get(phone)
            .ok_or_else(|| Error::not_found(format!("no customer with phone {phone}")))
    }

    pub(crate) fn customer_mut(&mut self, phone: &Phone) -> Result<&mut CustomerEntry> {
        self.customers
            .get_mut(phone)
            .ok_or_else(|| Error::not_found(format!("no customer with phone {phone}")))
    }

    pub(crate) fn customer_by_id(&self, id: &CustomerId) -> Option<&CustomerEntry> {
        self.customers
            .values()
            .find(|e| e.customer.id.as_ref() == Some(id))
    }

    fn card_by_id_or_number(&self, text: &str) -> Option<(&CardId, &CardEntry)> {
        self.cards
            .iter()
            .find(|(id, _)| id.as_str() == text)
            .or_else(|| self.card_by_number(text))
    }

    fn card_by_number(&self, number: &str) -> Option<(&CardId, &CardEntry)> {
        let number = number.trim();
        self.cards
            .iter()
            .find(|(_, e)| e.card.number.as_deref() == Some(number))
    }

    /// The id of the card a key names.
    pub(crate) fn resolve_card(&self, key: &CardKey) -> Result<CardId> {
        let found = match key {
            CardKey::Id(id) => self.cards.get_key_value(id),
            CardKey::Number(number) => self.card_by_number(number),
            CardKey::Phone(phone) => self
                .customers
                .get(phone)
                .and_then(|e| e.cards.first())
                .and_then(|id| self.cards.get_key_value(id)),
        };
        found
            .map(|(id, _)| id.clone())
            .ok_or_else(|| Error::not_found(format!("no card for {}", describe_card_key(key))))
    }

    pub(crate) fn card_mut(&mut self, id: &CardId) -> Result<&mut CardEntry> {
        self.cards
            .get_mut(id)
            .ok_or_else(|| Error::not_found(format!("no card {id}")))
    }

    /// The template with `id`, or `NotFound`.
    pub(crate) fn template(&self, id: &TemplateId) -> Result<&Template> {
        self.templates
            .get(id)
            .ok_or_else(|| Error::not_found(format!("no template {id}")))
    }

    /// The customer as a port returns it: cards, balance at `now`, referrals if asked.
    pub(crate) fn record(
        &self,
        entry: &CustomerEntry,
        now: DateTime<Utc>,
        with_referrals: bool,
    ) -> Result<CustomerRecord> {
        let cards = entry
            .cards
            .iter()
            .filter_map(|id| self.cards.get(id).map(|c| c.card.clone()))
            .collect();
        let referrals = with_referrals.then(|| Referrals {
            invited_by: entry.customer.invited_by.clone(),
            invites: self
                .customers
                .values()
                .filter(|e| e.customer.invited_by.as_ref() == Some(&entry.customer.phone))
                .map(|e| e.customer.phone.clone())
                .collect(),
        });
        Ok(CustomerRecord {
            customer: entry.customer.clone(),
            cards,
            balance: Some(entry.ledger.balance(now)?),
            referrals,
        })
    }

    /// Whether any of the customer's cards is installed anywhere.
    pub(crate) fn installed(&self, entry: &CustomerEntry) -> bool {
        entry
            .cards
            .iter()
            .filter_map(|id| self.cards.get(id))
            .any(|c| c.card.installed.any())
    }

    /// Appends to the outbox, dropping the oldest entries beyond [`OUTBOX_CAP`].
    pub(crate) fn log(&mut self, entry: OutboxEntry) {
        self.outbox.push(entry);
        if self.outbox.len() > OUTBOX_CAP {
            let excess = self.outbox.len() - OUTBOX_CAP;
            self.outbox.drain(..excess);
        }
    }

    /// Removes a customer with their cards and transaction records.
    pub(crate) fn remove_customer(&mut self, phone: &Phone) -> Result<()> {
        let entry = self
            .customers
            .remove(phone)
            .ok_or_else(|| Error::not_found(format!("no customer with phone {phone}")))?;
        for id in &entry.cards {
            self.cards.remove(id);
        }
        for tx in entry.ledger.transaction_ids() {
            self.transactions.remove(tx);
        }
        Ok(())
    }
}

/// The stable description of a card key for messages.
pub(crate) fn describe_card_key(key: &CardKey) -> String {
    match key {
        CardKey::Id(id) => format!("card id {id}"),
        CardKey::Number(number) => format!(
            "card number {}",
            number.chars().take(64).collect::<String>()
        ),
        CardKey::Phone(phone) => format!("phone {phone}"),
    }
}

/// Checks free-form fields: non-empty printable names, bounded values, at most `max` in total.
pub(crate) fn check_fields(fields: &Fields, max: usize) -> Result<()> {
    if fields.len() > max {
        return Err(Error::invalid_input(format!(
            "at most {max} fields are allowed, got {}",
            fields.len()
        )));
    }
    for (name, value) in fields {
        if name.trim().is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control)
        {
            return Err(Error::invalid_input(format!(
                "field name `{}` must be 1 to 64 printable characters",
                name.chars().take(64).collect::<String>()
            )));
        }
        if value.chars().count() > 1024 {
            return Err(Error::invalid_input(format!(
                "field `{name}` is longer than 1024 characters"
            )));
        }
    }
    Ok(())
}

fn default_template(id: TemplateId) -> Template {
    let field = |name: &str, title: &str, kind: FieldKind, required: bool| TemplateField {
        name: name.to_owned(),
        title: Some(title.to_owned()),
        kind,
        required,
        unique: required,
    };
    Template {
        id: Some(id),
        name: "Default loyalty card".to_owned(),
        layout: Some("loyalty".to_owned()),
        fields: vec![
            field("PHONE", "Phone", FieldKind::Phone, true),
            field("NAME", "Name", FieldKind::Text, false),
            field("POINTS", "Points", FieldKind::Number, false),
        ],
        settings: serde_json::Map::new(),
    }
}
