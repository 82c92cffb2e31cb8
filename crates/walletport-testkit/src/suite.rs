//! Options of a conformance run and the context every check receives: unique phones,
//! transaction ids and names, so runs against a shared emulator never collide.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use walletport_core::{
    Capability, Card, CardId, Customer, CustomerId, CustomerRecord, IssueCard, Phone, Provider,
    SegmentId, TemplateId, TransactionId, UpsertCustomer,
};

use crate::report::{CheckError, Context};

/// How to run the conformance suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteOptions {
    /// Prefix of every transaction id, name and customer id the suite creates.
    pub prefix: String,
    /// Selects the block of phone numbers the suite uses (`+4209SSSSNNNN`, `SSSS` = seed mod
    /// 10 000); derived from `prefix` by [`SuiteOptions::new`].
    pub phone_seed: u32,
    /// The template cards are issued with; `None` uses the provider's default.
    pub template: Option<TemplateId>,
    /// A segment id campaigns may target, where the provider supports segments.
    pub segment: Option<SegmentId>,
    /// How many customers the paging check creates (more than `page_size` makes several pages).
    pub listing_customers: usize,
    /// The page size the paging check asks for.
    pub page_size: u32,
    /// Checks not to run, each with the reason shown in the report.
    pub skip: BTreeMap<String, String>,
    /// Run only these checks, when set.
    pub only: Option<Vec<String>>,
    /// Delete the customers the suite created at the end (when the provider can delete).
    pub cleanup: bool,
}

impl SuiteOptions {
    /// Options with `prefix`, the phone block derived from it, and cheap defaults.
    pub fn new(prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        let mut hasher = DefaultHasher::new();
        prefix.hash(&mut hasher);
        Self {
            phone_seed: (hasher.finish() % 10_000) as u32,
            prefix,
            template: None,
            segment: None,
            listing_customers: 5,
            page_size: 2,
            skip: BTreeMap::new(),
            only: None,
            cleanup: true,
        }
    }

    /// Options with a prefix unique to this process and moment.
    pub fn unique() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        Self::new(format!("wpc-{}-{nanos:x}", std::process::id()))
    }

    /// Skips the check `name`, saying why in the report.
    #[must_use]
    pub fn skip(mut self, name: &str, reason: &str) -> Self {
        self.skip.insert(name.to_owned(), reason.to_owned());
        self
    }

    /// Uses `template` for issued cards.
    #[must_use]
    pub fn with_template(mut self, template: TemplateId) -> Self {
        self.template = Some(template);
        self
    }
}

impl Default for SuiteOptions {
    fn default() -> Self {
        Self::unique()
    }
}

/// The context of one run: options, the provider's capability, and unique value generators.
#[derive(Debug)]
pub struct Suite {
    options: SuiteOptions,
    capability: Capability,
    provider_name: &'static str,
    counter: AtomicU64,
    created: Mutex<Vec<Phone>>,
}

impl Suite {
    /// The context for running checks against `provider` with `options`.
    pub fn new(provider: &dyn Provider, options: SuiteOptions) -> Self {
        Self {
            capability: provider.capability(),
            provider_name: provider.info().name,
            options,
            counter: AtomicU64::new(0),
            created: Mutex::new(Vec::new()),
        }
    }

    /// The options.
    pub fn options(&self) -> &SuiteOptions {
        &self.options
    }

    /// The capability of the provider under test.
    pub fn capability(&self) -> Capability {
        self.capability
    }

    /// The name of the provider under test.
    pub fn provider_name(&self) -> &'static str {
        self.provider_name
    }

    /// Whether the flag `name` is on.
    pub fn has(&self, name: &str) -> bool {
        self.capability
            .flags()
            .iter()
            .any(|(flag, on)| *flag == name && *on)
    }

    /// Skips unless every flag in `names` is on.
    pub fn require(&self, names: &[&str]) -> Result<(), CheckError> {
        let missing: Vec<&str> = names.iter().copied().filter(|n| !self.has(n)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(CheckError::Skipped(format!(
                "capability off: {}",
                missing.join(", ")
            )))
        }
    }

    fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    /// A phone no other run with a different seed uses, never returned twice in this run.
    pub fn phone(&self) -> Phone {
        let n = self.next() % 10_000;
        let digits = format!("4209{:04}{n:04}", self.options.phone_seed % 10_000);
        // Well-formed E.164 by construction (+420, nine national digits).
        Phone::parse(&digits).unwrap_or_else(|e| panic!("generated phone {digits}: {e}"))
    }

    /// A transaction id unique to this run.
    pub fn transaction(&self, label: &str) -> TransactionId {
        let id = format!("{}-{label}-{}", self.options.prefix, self.next());
        TransactionId::new(&id).unwrap_or_else(|e| panic!("generated transaction id {id}: {e}"))
    }

    /// A customer id unique to this run.
    pub fn customer_id(&self) -> CustomerId {
        let id = format!("{}-customer-{}", self.options.prefix, self.next());
        CustomerId::new(&id).unwrap_or_else(|e| panic!("generated customer id {id}: {e}"))
    }

    /// A card id no provider has issued (for not-found probes).
    pub fn ghost_card(&self) -> CardId {
        let id = format!("{}-no-such-card-{}", self.options.prefix, self.next());
        CardId::new(&id).unwrap_or_else(|e| panic!("generated card id {id}: {e}"))
    }

    /// A human-readable name unique to this run.
    pub fn name(&self, label: &str) -> String {
        format!("{} {label} {}", self.options.prefix, self.next())
    }

    /// Remembers a phone the suite created, for cleanup.
    pub fn created(&self, phone: &Phone) {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(phone.clone());
    }

    /// The phones the suite created, in creation order.
    pub fn created_phones(&self) -> Vec<Phone> {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A customer on a fresh phone, named so a vendor's console shows where it came from.
    fn conformance_customer(&self) -> Customer {
        Customer {
            name: Some("Conformance".to_owned()),
            ..Customer::new(self.phone())
        }
    }

    /// Upserts a fresh customer (after `patch` fills in fields) with the configured template.
    pub async fn new_customer(
        &self,
        provider: &dyn Provider,
        patch: impl FnOnce(&mut Customer) + Send,
    ) -> Result<CustomerRecord, CheckError> {
        self.require(&["customer_upsert"])?;
        let mut customer = self.conformance_customer();
        patch(&mut customer);
        let phone = customer.phone.clone();
        let input = UpsertCustomer {
            template: self.options.template.clone(),
            ..UpsertCustomer::new(customer)
        };
        let record = provider
            .customers()
            .upsert_customer(input)
            .await
            .context("upsert of a new customer")?;
        self.created(&phone);
        Ok(record)
    }

    /// A fresh customer with a card: issued when the provider issues cards, else the card an
    /// upsert returns.
    pub async fn new_card(&self, provider: &dyn Provider) -> Result<(Phone, Card), CheckError> {
        if self.has("card_issue") {
            let customer = self.conformance_customer();
            let phone = customer.phone.clone();
            let input = IssueCard {
                template: self.options.template.clone(),
                ..IssueCard::new(customer)
            };
            let card = provider
                .cards()
                .issue_card(input)
                .await
                .context("issue of a card for a new customer")?;
            self.created(&phone);
            return Ok((phone, card));
        }
        let record = self
            .new_customer(provider, |_| {})
            .await
            .map_err(|e| match e {
                CheckError::Skipped(_) => {
                    CheckError::Skipped("capability off: card_issue, customer_upsert".to_owned())
                }
                failed => failed,
            })?;
        let phone = record.customer.phone.clone();
        match record.cards.into_iter().next() {
            Some(card) => Ok((phone, card)),
            None => Err(CheckError::Skipped(
                "card_issue is off and an upsert returns no card".to_owned(),
            )),
        }
    }
}
