//! Adapter cost (issue 8, benchmark 1): the pure `build_*_request` / `parse_*_response` functions
//! of [`walletport_passquare::mapping`] and the hook codec, timed on every documented exchange of
//! `tests/fixtures/index.json` with the same domain inputs the fixture tests use.
//!
//! Target: under 5 µs per operation (build + parse), i.e. negligible next to a network round
//! trip. Every routine is run once before timing and must succeed (or, for an error fixture, fail
//! as documented), so a broken mapping cannot be timed as a fast error path; a fixture of the
//! index that no benchmark uses stops the run before anything is measured.
//!
//! Run: `cargo bench -p walletport-passquare --bench adapter` (about 50 s); per-op medians are in
//! `target/criterion/<group>/<case>/new/estimates.json` (see `docs/benchmarks.md`).

#[path = "../tests/support/inputs.rs"]
mod inputs;

use inputs::{
    campaign, config, hooks_config, joe, list_customers, pct, phone, pushes, sms, upsert,
};
use rust_decimal::Decimal;
use serde_json::Value;
use walletport_core::{Balance, BalanceUpdate, CampaignId, CustomerId, HookContext, TemplateId};
use walletport_passquare::hooks::{
    encode_balance_response, encode_credit_response, encode_error, encode_register_response,
    parse_hook,
};
use walletport_passquare::mapping::{self, Lookup, UpsertExtras};
use walletport_passquare::{LifetimeUnit, NumberMode};
use walletport_testkit::bench::{self, BenchFixtures, Plan};

/// 2.1 status.
fn status(plan: &mut Plan, fx: &mut BenchFixtures) {
    fx.covers("status/default.request");
    let mut c = config(NumberMode::String);
    c.app_key = "private_key".to_owned().into();
    plan.ok("status/build/default", move || {
        mapping::build_status_request(&c)
    });
    for case in ["numbers-as-strings", "numbers"] {
        let resp = fx.response(&format!("status/{case}.response"));
        plan.ok(&format!("status/parse/{case}"), move || {
            mapping::parse_status_response(&resp)
        });
    }
}

/// 2.2 user_create_or_update: upserts in both number modes, the balance-only set, the schemas,
/// the personal pushes, and the answer.
fn upserts(plan: &mut Plan, fx: &mut BenchFixtures) {
    for (mode, case) in [
        (NumberMode::String, "numbers-as-strings"),
        (NumberMode::Number, "numbers"),
    ] {
        let inputs = [
            (
                "create",
                upsert(joe((1980, 11, 11)), "100", "3.50", "0"),
                sms(),
            ),
            (
                "curl",
                upsert(joe((1980, 5, 3)), "200", "5", "0"),
                UpsertExtras::default(),
            ),
            (
                "php",
                upsert(joe((1980, 5, 3)), "100", "4.5", "0"),
                UpsertExtras::default(),
            ),
        ];
        for (name, input, extras) in inputs {
            fx.covers(&format!("user_create_or_update/{name}-{case}.request"));
            let c = config(mode);
            plan.ok(
                &format!("user_create_or_update/build/{name}-{case}"),
                move || mapping::build_upsert_request(&input, &extras, &c),
            );
        }
    }
    fx.covers("user_create_or_update/balance-only-numbers.request");
    let update = BalanceUpdate {
        points: Some(Decimal::from(120)),
        ..BalanceUpdate::default()
    };
    let c = config(NumberMode::Number);
    plan.ok(
        "user_create_or_update/build/balance-only-numbers",
        move || mapping::build_balance_set_request(&phone(), &update, &c),
    );

    let mut full = upsert(joe((1980, 11, 11)), "1", "1", "1");
    full.template = Some(TemplateId::new("00000000-0000-0000-0000-000000000000").expect("id"));
    full.customer.id = Some(CustomerId::new("6326").expect("id"));
    for (case, extras) in [
        ("schema", sms()),
        (
            "schema-with-card-track",
            UpsertExtras {
                card_track: Some("7862374687".into()),
                ..sms()
            },
        ),
    ] {
        fx.covers(&format!("user_create_or_update/{case}.request"));
        let (input, c) = (full.clone(), config(NumberMode::String));
        plan.ok(&format!("user_create_or_update/build/{case}"), move || {
            mapping::build_upsert_request(&input, &extras, &c)
        });
    }

    for (case, message) in pushes() {
        fx.covers(&format!("user_create_or_update/{case}.request"));
        let c = config(NumberMode::String);
        plan.ok(&format!("user_create_or_update/build/{case}"), move || {
            mapping::build_push_request(&phone(), &message, &c)
        });
    }

    let resp = fx.response("user_create_or_update/schema.response");
    let input = upsert(joe((1980, 11, 11)), "100", "3.50", "0");
    let push_resp = resp.clone();
    plan.ok("user_create_or_update/parse/schema", move || {
        mapping::parse_upsert_customer_response(&resp, &input)
    });
    plan.ok("user_create_or_update/parse-push/schema", move || {
        mapping::parse_push_response(&push_resp)
    });
}

/// 2.3 read_customer and 2.4 read_customers.
fn reads(plan: &mut Plan, fx: &mut BenchFixtures) {
    fx.covers("read_customer/schema.request");
    fx.covers("read_customer/schema-with-card.request");
    for (case, lookup, version) in [
        ("schema", Lookup::Phone(phone()), NumberMode::String),
        // Lookups by card exist only in the examples version.
        (
            "schema-with-card",
            Lookup::Card("120".into()),
            NumberMode::Number,
        ),
    ] {
        let c = config(version);
        plan.ok(&format!("read_customer/build/{case}"), move || {
            mapping::build_read_customer_request(&lookup, true, true, &c)
        });
    }
    for case in ["numbers-as-strings", "numbers-with-template"] {
        let resp = fx.response(&format!("read_customer/{case}.response"));
        plan.ok(&format!("read_customer/parse/{case}"), move || {
            mapping::parse_read_customer_response(&resp)
        });
    }

    let input = list_customers();
    fx.covers("read_customers/default.request");
    let (build_input, c) = (input.clone(), config(NumberMode::String));
    plan.ok("read_customers/build/default", move || {
        mapping::build_list_request(&build_input, &c)
    });
    let resp = fx.response("read_customers/default.response");
    plan.ok("read_customers/parse/default", move || {
        mapping::parse_list_response(&resp, &input)
    });
}

/// 2.5 push/create and 2.6 push/send.
fn campaigns(plan: &mut Plan, fx: &mut BenchFixtures) {
    let campaign = campaign();
    fx.covers("push_create/schema.request");
    let (build_campaign, c) = (campaign.clone(), config(NumberMode::String));
    plan.ok("push_create/build/schema", move || {
        mapping::build_campaign_create_request(&build_campaign, &c)
    });
    let resp = fx.response("push_create/default.response");
    let parse_campaign = campaign.clone();
    plan.ok("push_create/parse/default", move || {
        mapping::parse_campaign_create_response(&resp, &parse_campaign)
    });
    fx.covers("push_send/default.request");
    let id = CampaignId::new("00000000-0000-0000-0000-000000000000").expect("id");
    let c = config(NumberMode::String);
    plan.ok("push_send/build/default", move || {
        mapping::build_campaign_send_request(&id, &c)
    });
}

/// The inbound CRM hooks: body parsing, and the answers serialized to the bytes sent back.
fn hooks(plan: &mut Plan, fx: &mut BenchFixtures) {
    let parses = [
        (
            "createCustomer/numbers-as-strings.hook",
            LifetimeUnit::Seconds,
        ),
        ("createCustomer/numbers.hook", LifetimeUnit::Seconds),
        ("readBalance/default.hook", LifetimeUnit::Seconds),
        ("addBalance/lifetime-seconds.hook", LifetimeUnit::Seconds),
        ("addBalance/lifetime-days.hook", LifetimeUnit::Days),
    ];
    for (name, unit) in parses {
        let body = fx.bytes(name);
        let config = hooks_config(unit);
        let (operation, case) = name.split_once('/').expect("operation/case");
        let id = format!("{operation}/parse/{}", case.trim_end_matches(".hook"));
        plan.ok(&id, move || {
            parse_hook(&body, HookContext::default(), &config)
        });
    }
    let to_bytes = |v: Value| serde_json::to_vec(&v).unwrap_or_default();
    fx.covers("createCustomer/ok.response");
    let id = CustomerId::new("6d2845ff-0a07-11e7-25df-d8d18565926f").expect("id");
    plan.always("createCustomer/encode/ok", move || {
        to_bytes(encode_register_response(&id))
    });
    fx.covers("createCustomer/failure.error");
    plan.always("createCustomer/encode/failure", move || {
        to_bytes(encode_error("Detailed error description..."))
    });
    let balance = Balance {
        points: Decimal::from(5),
        bonus_percent: pct("12.5"),
        discount_percent: pct("17.88"),
    };
    for (mode, case) in [
        (NumberMode::String, "numbers-as-strings"),
        (NumberMode::Number, "numbers"),
    ] {
        fx.covers(&format!("readBalance/{case}.response"));
        plan.always(&format!("readBalance/encode/{case}"), move || {
            to_bytes(encode_balance_response(&balance, mode))
        });
    }
    fx.covers("addBalance/ok.response");
    plan.always("addBalance/encode/ok", move || {
        to_bytes(encode_credit_response())
    });
}

fn main() {
    let mut fx = BenchFixtures::new(env!("CARGO_MANIFEST_DIR"));
    let mut plan = Plan::default();
    status(&mut plan, &mut fx);
    upserts(&mut plan, &mut fx);
    reads(&mut plan, &mut fx);
    campaigns(&mut plan, &mut fx);
    hooks(&mut plan, &mut fx);
    fx.assert_all_used();

    bench::run(plan.into_routines());
}
