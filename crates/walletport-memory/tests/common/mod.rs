//! Helpers shared by the memory provider's integration tests.
#![allow(dead_code, unreachable_pub)]

use walletport_core::*;
use walletport_memory::{MemoryConfig, MemoryProvider};

pub fn phone(n: u32) -> Phone {
    Phone::parse(&format!("+4207000{n:05}")).unwrap()
}

pub fn memory() -> MemoryProvider {
    MemoryProvider::open(&MemoryConfig::default()).unwrap()
}

pub async fn add(provider: &dyn Provider, n: u32) -> CustomerRecord {
    upsert_customer(provider, Customer::new(phone(n))).await
}

/// Upserts `customer` with no template or balance change: what most tests vary is the customer.
pub async fn try_upsert_customer(
    provider: &dyn Provider,
    customer: Customer,
) -> Result<CustomerRecord> {
    provider
        .customers()
        .upsert_customer(UpsertCustomer::new(customer))
        .await
}

/// [`try_upsert_customer`] where the upsert must succeed.
pub async fn upsert_customer(provider: &dyn Provider, customer: Customer) -> CustomerRecord {
    try_upsert_customer(provider, customer).await.unwrap()
}

/// A credit of `amount` points to customer `n` under transaction `tx`, never burning.
pub fn credit(n: u32, amount: rust_decimal::Decimal, tx: &str) -> CreditBalance {
    CreditBalance {
        customer: phone(n).into(),
        credit: Credit::new(amount, TransactionId::new(tx).unwrap(), None).unwrap(),
    }
}

pub fn tid(s: &str) -> TemplateId {
    TemplateId::new(s).unwrap()
}

pub fn field(name: &str) -> TemplateField {
    TemplateField {
        name: name.into(),
        title: None,
        kind: FieldKind::Text,
        required: false,
        unique: false,
    }
}
