//! The suite's test bodies, each `async fn(Arc<dyn Store>)`.

pub(crate) mod connect;
pub(crate) mod customers;
pub(crate) mod ledger;
pub(crate) mod outbox;
