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

/// Every response parser of the adapter on `resp`, each outcome named and its value dropped.
///
/// Why here: the fuzz target (`fuzz/fuzz_targets/passquare_response.rs`) and the proptest fuzz
/// test (`tests/fuzz_responses.rs`) check the same list, so a parser added here is fuzzed by
/// both.
pub fn parse_with_every_parser(
    resp: &walletport_http::HttpResponse,
) -> Vec<(&'static str, walletport_core::Result<()>)> {
    use walletport_core::{
        Campaign, CampaignId, Channel, Customer, ListCustomers, Phone, UpsertCustomer,
    };
    let phone = Phone::parse("+420000000001").expect("a valid phone");
    let upsert = UpsertCustomer::new(Customer::new(phone));
    let campaign = Campaign {
        message: "hello".into(),
        channel: Channel::Wallet,
        name: None,
        segment: None,
    };
    let id = CampaignId::new("00000000-0000-0000-0000-000000000000").expect("a valid campaign id");
    vec![
        ("check", check_response(resp)),
        ("status", parse_status_response(resp).map(drop)),
        ("upsert", parse_upsert_response(resp).map(drop)),
        (
            "upsert_customer",
            parse_upsert_customer_response(resp, &upsert).map(drop),
        ),
        (
            "read_customer",
            parse_read_customer_response(resp).map(drop),
        ),
        (
            "list",
            parse_list_response(resp, &ListCustomers::default()).map(drop),
        ),
        ("push", parse_push_response(resp).map(drop)),
        (
            "campaign_create",
            parse_campaign_create_response(resp, &campaign).map(drop),
        ),
        (
            "campaign_send",
            parse_campaign_send_response(resp, &id, Some(&campaign)).map(drop),
        ),
    ]
}
