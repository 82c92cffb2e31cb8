//! The checks, one `pub async fn` each over `&dyn Provider`, grouped by port.
//!
//! Every check creates its own customers (unique phones from [`Suite`]), so checks are
//! independent of each other and of other runs against the same provider.

mod balances;
mod capability;
mod cards;
mod customers;
mod listing;
mod messaging;
mod templates;

pub use balances::*;
pub use capability::*;
pub use cards::*;
pub use customers::*;
pub use listing::*;
pub use messaging::*;
pub use templates::*;

use std::fmt::Debug;

use walletport_core::{ErrorKind, Result};

use crate::report::CheckError;
use crate::suite::Suite;

/// Fails unless `result` is an error of `kind` stamped with the provider's name and `operation`
/// (as the `Checked` layer does), returning nothing else of value.
pub fn expect_error<T: Debug>(
    suite: &Suite,
    result: Result<T>,
    kind: ErrorKind,
    operation: &str,
    what: &str,
) -> Result<(), CheckError> {
    match result {
        Ok(value) => Err(CheckError::Failed(format!(
            "{what}: expected a `{kind}` error, got success: {value:?}"
        ))),
        Err(e) if e.kind() != kind => Err(CheckError::Failed(format!(
            "{what}: expected a `{kind}` error, got: {e}"
        ))),
        Err(e) if e.provider() != Some(suite.provider_name()) => Err(CheckError::Failed(format!(
            "{what}: the error does not name the provider `{}`: {e}",
            suite.provider_name()
        ))),
        Err(e) if e.operation() != Some(operation) => Err(CheckError::Failed(format!(
            "{what}: the error names operation {:?}, expected `{operation}`: {e}",
            e.operation()
        ))),
        Err(_) => Ok(()),
    }
}
