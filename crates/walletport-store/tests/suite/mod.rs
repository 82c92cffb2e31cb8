//! The suite's test bodies, each `async fn(Arc<dyn Store>)` (or `async fn(&TestDb)` when a test
//! opens a second store on the same database).

pub(crate) mod connect;
pub(crate) mod customers;
pub(crate) mod expiry;
pub(crate) mod history;
pub(crate) mod ledger;
pub(crate) mod ledger_model;
pub(crate) mod model;
pub(crate) mod outbox;
pub(crate) mod quota;
pub(crate) mod redemptions;
pub(crate) mod reversals;
