//! proptest: any `Customer` and `Balance` survive encode → decode through the wire types, in both
//! number modes (the upsert body we send is read back as the customer block Passquare answers;
//! the readBalance answer we encode is read back by the same loose decoder).

use chrono::NaiveDate;
use proptest::prelude::*;
use rust_decimal::Decimal;
use walletport_core::{
    Balance, BalanceUpdate, Customer, CustomerId, Percent, Phone, UpsertCustomer,
};
use walletport_passquare::hooks::encode_balance_response;
use walletport_passquare::mapping::{self, UpsertExtras, record_from_wire};
use walletport_passquare::wire::WireCustomer;
use walletport_passquare::{NumberMode, PassquareConfig};

fn decimal(max_digits: u32) -> impl Strategy<Value = Decimal> {
    (0..10i64.pow(max_digits), 0u32..=4).prop_map(|(m, s)| Decimal::new(m, s))
}

fn percent() -> impl Strategy<Value = Percent> {
    (0i64..=1_000_000).prop_filter_map("0..=100", |m| Percent::new(Decimal::new(m, 4)).ok())
}

fn balance() -> impl Strategy<Value = Balance> {
    (decimal(12), percent(), percent()).prop_map(|(points, bonus_percent, discount_percent)| {
        Balance {
            points,
            bonus_percent,
            discount_percent,
        }
    })
}

fn text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[A-Za-zÀ-ž][A-Za-zÀ-ž '-]{0,30}[A-Za-zÀ-ž]")
}

fn customer() -> impl Strategy<Value = Customer> {
    (
        (1u64..999_999_999).prop_map(|n| format!("+420{n:09}")),
        text(),
        text(),
        text(),
        proptest::option::of("[a-z]{1,10}@[a-z]{1,10}\\.(cz|com)"),
        proptest::option::of((1900i32..2030, 1u32..=12, 1u32..=28)),
        proptest::option::of("[A-Za-z0-9-]{1,36}"),
    )
        .prop_map(
            |(phone, name, surname, middle, email, birthday, id)| Customer {
                name,
                surname,
                middle_name: middle,
                email,
                birthday: birthday.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)),
                id: id.and_then(|i| CustomerId::new(i).ok()),
                ..Customer::new(Phone::parse(&phone).expect("generated phone"))
            },
        )
}

proptest! {
    #[test]
    fn customer_and_balance_survive_the_wire(
        customer in customer(),
        balance in balance(),
        number_mode in any::<bool>(),
    ) {
        let mut config = PassquareConfig::new("k");
        config.numbers = if number_mode { NumberMode::Number } else { NumberMode::String };
        let input = UpsertCustomer {
            balance: BalanceUpdate::from(balance),
            ..UpsertCustomer::new(customer.clone())
        };
        let req = mapping::build_upsert_request(&input, &UpsertExtras::default(), &config)
            .expect("encodes");
        let body: serde_json::Value = req.body_json().expect("json");
        prop_assert_eq!(body["balance"].is_number(), number_mode);
        let wire: WireCustomer = serde_json::from_value(body).expect("decodes as a customer block");
        let record = record_from_wire(wire).expect("maps back");
        prop_assert_eq!(&record.customer.phone, &customer.phone);
        prop_assert_eq!(&record.customer.name, &customer.name);
        prop_assert_eq!(&record.customer.surname, &customer.surname);
        prop_assert_eq!(&record.customer.middle_name, &customer.middle_name);
        prop_assert_eq!(&record.customer.email, &customer.email);
        prop_assert_eq!(record.customer.birthday, customer.birthday);
        prop_assert_eq!(&record.customer.id, &customer.id);
        let got = record.balance.expect("balance");
        prop_assert_eq!(got.points, balance.points.normalize());
        prop_assert_eq!(got.bonus_percent, balance.bonus_percent);
        prop_assert_eq!(got.discount_percent, balance.discount_percent);

        // The readBalance answer, read back by the same loose decoder.
        let mode = config.numbers;
        let answer = encode_balance_response(&balance, mode);
        let wire: WireCustomer = serde_json::from_value(answer).expect("decodes");
        prop_assert_eq!(wire.balance.0, Some(balance.points.normalize()));
        prop_assert_eq!(wire.bonus.0, Some(balance.bonus_percent.value()));
        prop_assert_eq!(wire.discount.0, Some(balance.discount_percent.value()));
    }
}
