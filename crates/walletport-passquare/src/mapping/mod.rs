//! The sans-IO heart of the adapter: for every operation a pure
//! `build_<op>_request(&Input, &Config) -> HttpRequest` and
//! `parse_<op>_response(HttpResponse) -> Result<Output>`.
//!
//! Nothing here does I/O, so each documented exchange is a pure-data fixture. The client
//! ([`crate::client`]) only strings these together over a [`walletport_http::Transport`].

mod customer;
mod errors;
mod push;

pub use customer::*;
pub use errors::check_response;
pub use push::*;

/// Method paths, appended to the configured base URL.
pub mod path {
    /// 2.1.
    pub const STATUS: &str = "/api/v2/status";
    /// 2.2.
    pub const UPSERT: &str = "/api/v2/crm/user_create_or_update";
    /// 2.3.
    pub const READ_CUSTOMER: &str = "/api/v2/crm/read_customer";
    /// 2.4.
    pub const READ_CUSTOMERS: &str = "/api/v2/crm/read_customers";
    /// 2.5.
    pub const PUSH_CREATE: &str = "/api/v2/crm/push/create";
    /// 2.6.
    pub const PUSH_SEND: &str = "/api/v2/crm/push/send";
}

/// `read_customers` returns this many customers per call; the offset advances by it.
pub const PAGE_SIZE: u32 = 100;

/// The provider name stamped on errors.
pub const PROVIDER: &str = "passquare";

use secrecy::ExposeSecret;

use crate::config::PassquareConfig;

pub(crate) fn app_key(config: &PassquareConfig) -> String {
    config.app_key.expose_secret().to_owned()
}
