//! Both directions of every capability flag: on ⇒ the operation is not rejected as
//! unsupported; off ⇒ it answers `Unsupported`.
//!
//! Each flag maps to a probe call chosen to have no lasting effect where the flag is on: an
//! unknown customer, card or campaign (answers `NotFound`), or input the `Checked` layer rejects
//! after the capability gate (answers `InvalidInput`).

use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use rust_decimal::Decimal;
use walletport_core::{
    Campaign, CampaignId, CardKey, CardStatus, Channel, CreateCampaign, CreateTemplate, Credit,
    CreditBalance, Customer, CustomerKey, DeleteCustomer, ErrorKind, Fields, GetBalance, GetCard,
    GetCustomer, GetTemplate, IssueCard, LinkDelivery, ListCustomers, ListTemplates, Provider,
    PushMessage, RedeemBalance, Redemption, Result, SegmentId, SendCampaign, SendInstallLink,
    SendPush, SetBalance, SetCardStatus, Template, TemplateId, UpdateCard, UpdateTemplate,
    UpsertCustomer,
};

use crate::report::{CheckError, CheckResult};
use crate::suite::Suite;

/// A probe call; the flag decides what it must answer.
type Probe<'a> = BoxFuture<'a, Result<()>>;

/// The functional check that covers a flag in place of a probe: `customer_referrals` gates no
/// call, and no input is rejected after the `template_create` gate, so probing a supported
/// create would create something.
fn covered_by(flag: &str, on: bool) -> Option<&'static str> {
    match flag {
        "customer_referrals" => Some("referrals"),
        "template_create" if on => Some("template_create_and_update"),
        _ => None,
    }
}

/// Flags that only make sense with another flag on.
fn depends_on(flag: &str) -> Option<&'static str> {
    match flag {
        "customer_list_by_date" | "customer_list_by_installed" => Some("customer_list"),
        "balance_credit_lifetime" => Some("balance_credit"),
        "campaign_segment" => Some("campaign_create"),
        _ => None,
    }
}

fn invalid_customer(suite: &Suite) -> Customer {
    Customer {
        email: Some("not an e-mail".to_owned()),
        ..Customer::new(suite.phone())
    }
}

/// The probe for `flag`, or `None` for a flag this suite does not know (a newer core).
fn probe<'a>(
    provider: &'a dyn Provider,
    suite: &'a Suite,
    flag: &str,
) -> Result<Option<Probe<'a>>> {
    let ghost_phone = || CustomerKey::Phone(suite.phone());
    let ghost_card = || CardKey::Id(suite.ghost_card());
    let no_such = |what: &str| format!("{}-no-such-{what}", suite.options().prefix);
    let unit = |f: Probe<'a>| Ok(Some(f));
    // `call!(port.method(input))`: the probe calling one port method, its answer dropped.
    macro_rules! call {
        ($port:ident . $method:ident ($input:expr)) => {{
            let input = $input;
            unit(Box::pin(async move {
                provider.$port().$method(input).await.map(drop)
            }))
        }};
    }
    let push = |channel| -> Result<Option<Probe<'a>>> {
        let message = PushMessage::new("walletport conformance probe", channel)?;
        call!(push.push(SendPush {
            customer: ghost_phone(),
            message,
        }))
    };
    let list = |input: ListCustomers| {
        call!(customers.list_customers(ListCustomers {
            page_size: Some(0),
            ..input
        }))
    };
    let credit = |lifetime| -> Result<Option<Probe<'a>>> {
        let credit = Credit::new(Decimal::ONE, suite.transaction("probe"), lifetime)?;
        call!(balances.credit(CreditBalance {
            customer: ghost_phone(),
            credit,
        }))
    };
    let campaign = |segment: Option<SegmentId>| {
        let campaign = Campaign {
            message: " ".to_owned(),
            channel: Channel::Wallet,
            name: None,
            segment,
        };
        call!(push.create_campaign(CreateCampaign { campaign }))
    };
    let get_customer = |key| call!(customers.get_customer(GetCustomer::new(key)));
    let template = || Template {
        id: None,
        name: suite.name("probe template"),
        layout: None,
        fields: Vec::new(),
        settings: Default::default(),
    };
    match flag {
        "status" => unit(Box::pin(async move { provider.status().await.map(drop) })),
        "customer_upsert" => {
            call!(customers.upsert_customer(UpsertCustomer::new(invalid_customer(suite))))
        }
        "customer_get_by_phone" => get_customer(ghost_phone()),
        "customer_get_by_card" => get_customer(CustomerKey::Card(suite.ghost_card())),
        "customer_get_by_id" => get_customer(CustomerKey::Id(suite.customer_id())),
        "customer_list" => list(ListCustomers::default()),
        "customer_list_by_date" => list(ListCustomers {
            registered_from: Some(Utc::now().date_naive()),
            ..ListCustomers::default()
        }),
        "customer_list_by_installed" => list(ListCustomers {
            installed: Some(false),
            ..ListCustomers::default()
        }),
        "customer_delete" => {
            call!(customers.delete_customer(DeleteCustomer { key: ghost_phone() }))
        }
        "card_issue" => call!(cards.issue_card(IssueCard::new(invalid_customer(suite)))),
        "card_get" => call!(cards.get_card(GetCard { card: ghost_card() })),
        "card_update" => call!(cards.update_card(UpdateCard {
            card: ghost_card(),
            fields: Fields::from([("probe".to_owned(), "1".to_owned())]),
            balance: Default::default(),
            notification: None,
        })),
        "card_set_status" => call!(cards.set_card_status(SetCardStatus {
            card: ghost_card(),
            status: CardStatus::Active,
        })),
        "card_send_install_link" => call!(cards.send_install_link(SendInstallLink {
            card: ghost_card(),
            delivery: LinkDelivery::Sms {
                phone: None,
                text: None,
            },
        })),
        "balance_get" => call!(balances.get_balance(GetBalance {
            customer: ghost_phone(),
        })),
        "balance_set" => call!(balances.set_balance(SetBalance {
            customer: ghost_phone(),
            update: Default::default(),
        })),
        "balance_credit" => credit(None),
        "balance_credit_lifetime" => credit(Some(Duration::from_secs(86_400))),
        "balance_redeem" => call!(balances.redeem(RedeemBalance {
            customer: ghost_phone(),
            redemption: Redemption::new(Decimal::ONE, suite.transaction("probe"))?,
        })),
        "push_wallet" => push(Channel::Wallet),
        "push_webpush" => push(Channel::Webpush),
        "push_telegram" => push(Channel::Telegram),
        "campaign_create" => campaign(None),
        "campaign_segment" => campaign(Some(SegmentId::new(format!(
            "{}-segment",
            suite.options().prefix
        ))?)),
        "campaign_send" => call!(push.send_campaign(SendCampaign {
            id: CampaignId::new(no_such("campaign"))?,
        })),
        "template_list" => call!(templates.list_templates(ListTemplates {
            cursor: None,
            page_size: Some(1),
        })),
        "template_get" => call!(templates.get_template(GetTemplate {
            id: TemplateId::new(no_such("template"))?,
        })),
        "template_create" => call!(templates.create_template(CreateTemplate {
            template: template(),
        })),
        "template_update" => call!(templates.update_template(UpdateTemplate {
            template: template(),
        })),
        _ => Ok(None),
    }
}

/// For every capability flag: on ⇒ its probe is not answered `Unsupported`; off ⇒ it is, with
/// the provider and operation named. Every violation is listed.
pub async fn capability_flags_are_honoured(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    let mut problems = Vec::new();
    for (flag, on) in suite.capability().flags() {
        if on
            && let Some(base) = depends_on(flag)
            && !suite.has(base)
        {
            problems.push(format!(
                "`{flag}` is on but `{base}`, which it refines, is off"
            ));
            continue;
        }
        if covered_by(flag, on).is_some() {
            continue;
        }
        let call = match probe(provider, suite, flag)? {
            Some(call) => call,
            None => {
                problems.push(format!(
                    "no probe for flag `{flag}`: update walletport-testkit"
                ));
                continue;
            }
        };
        match (on, call.await) {
            (true, Err(e)) if e.kind() == ErrorKind::Unsupported => {
                problems.push(format!(
                    "`{flag}` is on but the operation answers unsupported: {e}"
                ));
            }
            (true, _) => {}
            (false, Ok(())) => {
                problems.push(format!("`{flag}` is off but the operation succeeded"))
            }
            (false, Err(e)) if e.kind() != ErrorKind::Unsupported => {
                problems.push(format!("`{flag}` is off but the operation answered: {e}"));
            }
            (false, Err(e))
                if e.provider() != Some(suite.provider_name()) || e.operation().is_none() =>
            {
                problems.push(format!(
                    "`{flag}`: the unsupported error does not name provider and operation: {e:?}"
                ));
            }
            (false, Err(_)) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CheckError::Failed(problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use walletport_core::Capability;

    use super::covered_by;

    #[test]
    fn covering_checks_exist() {
        for flag in Capability::FLAG_NAMES {
            for on in [true, false] {
                if let Some(check) = covered_by(flag, on) {
                    assert!(
                        crate::CHECKS.iter().any(|c| c.name == check),
                        "{flag}: {check}"
                    );
                }
            }
        }
    }
}
