//! The ports: what a provider does for the merchant (outbound) and what the vendor asks of the
//! merchant (inbound).
//!
//! Every method takes one input struct so options can grow without breaking callers; every
//! method has a default body that answers [`crate::ErrorKind::Unsupported`], so an adapter
//! implements exactly what its vendor offers and declares it in its [`crate::Capability`].

mod inbound;
mod inputs;
mod outbound;

pub use inbound::*;
pub use inputs::*;
pub use outbound::*;
