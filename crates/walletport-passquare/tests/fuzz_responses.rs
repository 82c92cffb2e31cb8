//! Fuzzing every Passquare response parser in the normal test suite (the proptest equivalent of
//! `fuzz/fuzz_targets/passquare_response.rs`): arbitrary bytes under any status, structure-aware
//! JSON (objects with the real answer keys holding random value types), and the documented
//! answers (`tests/fixtures/*/*.response.json`) with random values swapped in at random places.
//!
//! Properties: no parser panics; every failure is a typed `walletport_core::Error` that keeps the
//! vendor's raw answer (`vendor().status` is the HTTP status); and a non-2xx answer is never
//! taken for a success.

use walletport_core::{
    Campaign, CampaignId, Channel, Customer, ListCustomers, Phone, UpsertCustomer,
};
use walletport_http::HttpResponse;
use walletport_passquare::mapping;
use walletport_testkit::fuzz;
use walletport_testkit::fuzz_responses::{KNOWN_STATUSES, KeptStatus, Outcomes, ResponseFuzz};

/// Keys of Passquare's answers (and the customer blocks inside them).
const KEYS: &[&str] = &[
    "success",
    "error",
    "message",
    "app",
    "balance",
    "sms_send",
    "card",
    "card_number",
    "card_track",
    "card_url",
    "card_gpay_url",
    "form_url",
    "user_hash",
    "customer",
    "customers",
    "result",
    "name",
    "uuid",
    "recipients",
    "phone",
    "email",
    "surname",
    "middlename",
    "birthday",
    "cardNumbers",
    "cardTracks",
    "cardInstalls",
    "track",
    "install",
    "bonus",
    "discount",
    "remoteId",
    "customerId",
    "invitedBy",
    "invites",
    "template_uuid",
    "promo",
    "extra",
];

/// Runs every parser on `resp`, for the shared properties.
fn parsers(resp: &HttpResponse) -> Outcomes {
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
        ("check", mapping::check_response(resp)),
        ("status", mapping::parse_status_response(resp).map(drop)),
        ("upsert", mapping::parse_upsert_response(resp).map(drop)),
        (
            "upsert_customer",
            mapping::parse_upsert_customer_response(resp, &upsert).map(drop),
        ),
        (
            "read_customer",
            mapping::parse_read_customer_response(resp).map(drop),
        ),
        (
            "list",
            mapping::parse_list_response(resp, &ListCustomers::default()).map(drop),
        ),
        ("push", mapping::parse_push_response(resp).map(drop)),
        (
            "campaign_create",
            mapping::parse_campaign_create_response(resp, &campaign).map(drop),
        ),
        (
            "campaign_send",
            mapping::parse_campaign_send_response(resp, &id, Some(&campaign)).map(drop),
        ),
    ]
}

/// Passquare's strings on the parsers' edges: flags as text, phones with and without `+`,
/// decimals in every form, both date forms and an impossible date, its error messages.
const EDGE_STRINGS: &[&str] = &[
    "true",
    "false",
    "1",
    "0",
    "yes",
    "+420000000001",
    "420000000001",
    "12,5",
    "79228162514264337593543950336",
    "25.01.1980",
    "1980-01-25",
    "31.02.2001",
    "Too many requests",
    "Invalid app_key",
    "not found",
    "00000000-0000-0000-0000-000000000000",
];

/// Passes the vendor's specifics to the shared harness (`walletport_testkit::fuzz_responses`).
const SPEC: ResponseFuzz = ResponseFuzz {
    vocabulary: fuzz::Vocabulary {
        keys: KEYS,
        other_keys: "[a-z_]{1,10}",
        edge_strings: EDGE_STRINGS,
    },
    statuses: KNOWN_STATUSES,
    kept_status: KeptStatus::Always,
    provider: None,
    parsers,
};

walletport_testkit::fuzz_responses!(SPEC);
