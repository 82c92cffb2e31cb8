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
    provider
        .customers()
        .upsert_customer(UpsertCustomer::new(Customer::new(phone(n))))
        .await
        .unwrap()
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
