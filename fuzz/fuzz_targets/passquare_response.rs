//! Every Passquare response parser: the first two bytes choose the HTTP status (100–599), the
//! rest is the body. A failure must keep the vendor's status; a non-2xx is never a success.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletport_core::{
    Campaign, CampaignId, Channel, Customer, ListCustomers, Phone, Result, UpsertCustomer,
};
use walletport_http::HttpResponse;
use walletport_passquare::mapping;

fn check(resp: &HttpResponse, name: &str, outcome: Result<()>) {
    match outcome {
        Ok(()) => assert!(
            resp.is_success(),
            "{name}: HTTP {} taken for success",
            resp.status
        ),
        Err(e) => assert_eq!(
            e.vendor().and_then(|v| v.status),
            Some(resp.status),
            "{name}: {e:?}"
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = 100 + u16::from_le_bytes([data[0], data[1]]) % 500;
    let resp = HttpResponse::new(status, data[2..].to_vec());
    let (Ok(phone), Ok(id)) = (
        Phone::parse("+420000000001"),
        CampaignId::new("00000000-0000-0000-0000-000000000000"),
    ) else {
        return;
    };
    let upsert = UpsertCustomer::new(Customer::new(phone));
    let campaign = Campaign {
        message: "hello".into(),
        channel: Channel::Wallet,
        name: None,
        segment: None,
    };
    check(&resp, "check", mapping::check_response(&resp));
    check(
        &resp,
        "status",
        mapping::parse_status_response(&resp).map(drop),
    );
    check(
        &resp,
        "upsert",
        mapping::parse_upsert_response(&resp).map(drop),
    );
    check(
        &resp,
        "upsert_customer",
        mapping::parse_upsert_customer_response(&resp, &upsert).map(drop),
    );
    check(
        &resp,
        "read_customer",
        mapping::parse_read_customer_response(&resp).map(drop),
    );
    check(
        &resp,
        "list",
        mapping::parse_list_response(&resp, &ListCustomers::default()).map(drop),
    );
    check(&resp, "push", mapping::parse_push_response(&resp).map(drop));
    check(
        &resp,
        "campaign_create",
        mapping::parse_campaign_create_response(&resp, &campaign).map(drop),
    );
    check(
        &resp,
        "campaign_send",
        mapping::parse_campaign_send_response(&resp, &id, Some(&campaign)).map(drop),
    );
});
