//! A Skycore customer is a pass: the `generatepass` and `updatepassdata` bodies of a customer
//! upsert, with the card-issue mapping (account-name, account-id, loyalty-points,
//! secondary-loyalty-points, barcode on issue, user-phone / user-email meta), and the record the
//! upsert answers without reading the pass back.

use walletport_core::{
    Balance, Card, CardId, CustomerRecord, InstallLinks, IssueCard, Result, TemplateId,
    UpsertCustomer,
};

use super::pass::{self, GeneratePass, UpdatePass};
use crate::config::SkycoreConfig;
use crate::wire::PassData;

/// The `generatepass` of an upsert whose pass does not exist yet: exactly a card issue of the
/// customer with the upsert's balance and template.
pub fn generate_for_upsert(input: &UpsertCustomer, config: &SkycoreConfig) -> Result<GeneratePass> {
    let issue = IssueCard {
        customer: input.customer.clone(),
        template: input.template.clone(),
        balance: input.balance,
        fields: Default::default(),
    };
    pass::generate_for_issue(&issue, config)
}

/// The `updatepassdata` of an upsert of an existing pass in `template_id`: only what the upsert
/// sets (a `None` field is left as the pass has it), no barcode (the card number stays the
/// issued one), no notification and no rename, so the request is idempotent.
pub fn update_for_upsert(
    input: &UpsertCustomer,
    pass_id: String,
    template_id: &str,
    config: &SkycoreConfig,
) -> Result<UpdatePass> {
    let customer = &input.customer;
    let mut data = PassData {
        account_name: pass::full_name(customer),
        account_id: customer.id.as_ref().map(|i| i.as_str().to_owned()),
        ..PassData::default()
    };
    pass::apply_balance_as(&input.balance, config, &mut data)?;
    let mut update = pass::update_in(pass_id, template_id, data, config);
    update.user_email = customer.email.clone();
    update.user_phone = Some(customer.phone.digits().to_owned());
    Ok(update)
}

/// What an upsert answers: the customer as sent, their pass as the card (with the install page
/// when it was just generated), and the balance when the upsert set both values Skycore holds.
pub fn record_of_upsert(
    input: &UpsertCustomer,
    pass_id: &str,
    template_id: &str,
    install_url: Option<String>,
    config: &SkycoreConfig,
) -> CustomerRecord {
    let card = Card {
        id: CardId::new(pass::card_id_of(pass_id, Some(template_id), config)).ok(),
        number: None,
        barcode: None,
        links: InstallLinks {
            page: install_url,
            ..InstallLinks::default()
        },
        installed: Default::default(),
        status: Default::default(),
        fields: Default::default(),
        template: TemplateId::new(template_id).ok(),
        expires_at: None,
    };
    let b = &input.balance;
    let balance = match (b.points, b.bonus_percent) {
        (Some(points), Some(bonus_percent)) => Some(Balance {
            points: points.normalize(),
            bonus_percent,
            discount_percent: Default::default(),
        }),
        _ => None,
    };
    CustomerRecord {
        customer: input.customer.clone(),
        cards: vec![card],
        balance,
        referrals: None,
    }
}

#[cfg(test)]
mod tests {
    use walletport_core::{BalanceUpdate, Customer, Decimal, Percent, Phone};

    use super::*;
    use crate::config::PassIdStrategy;

    fn input() -> UpsertCustomer {
        let phone = Phone::parse("+420777000001").expect("phone");
        UpsertCustomer {
            balance: BalanceUpdate {
                points: Some(Decimal::new(5, 0)),
                bonus_percent: Percent::new(Decimal::new(3, 0)).ok(),
                discount_percent: None,
            },
            ..UpsertCustomer::new(Customer {
                name: Some("Jana".into()),
                email: Some("jana@example.com".into()),
                ..Customer::new(phone)
            })
        }
    }

    #[test]
    fn the_update_sends_what_the_upsert_sets_and_no_barcode_or_push() {
        let mut config = SkycoreConfig::new("http://127.0.0.1:9/", "k", "tpl");
        config.points_format = Some("{points} pts".into());
        let u = update_for_upsert(&input(), "420777000001".into(), "other", &config).expect("ok");
        assert_eq!(u.template_id, "other");
        assert_eq!(u.layout, None, "another template's layout is not known");
        assert_eq!(u.data.account_name.as_deref(), Some("Jana"));
        assert_eq!(u.data.loyalty_points.as_deref(), Some("5 pts"));
        assert_eq!(u.data.secondary_loyalty_points.as_deref(), Some("3"));
        assert_eq!(u.data.barcode_value, None);
        assert_eq!(u.data.update_notification, None);
        assert_eq!(u.user_phone.as_deref(), Some("420777000001"));
        let request =
            pass::build_updatepassdata_request(&u, &config, "customer.upsert").expect("builds");
        assert!(request.idempotent, "an upsert's update may be re-sent");
    }

    #[test]
    fn both_strategies_name_the_pass_and_keep_the_phone_as_meta() {
        let mut config = SkycoreConfig::new("http://127.0.0.1:9/", "k", "tpl");
        config.pass_id = PassIdStrategy::CustomerId;
        let mut i = input();
        assert!(generate_for_upsert(&i, &config).is_err(), "needs an id");
        i.customer.id = walletport_core::CustomerId::new("C7").ok();
        let g = generate_for_upsert(&i, &config).expect("ok");
        assert_eq!(g.pass_id, "C7");
        assert_eq!(g.data.barcode_value.as_deref(), Some("C7"));
        assert_eq!(g.user_phone.as_deref(), Some("420777000001"));
        assert_eq!(g.data.account_id.as_deref(), Some("C7"));
    }
}
