//! Customer round trips, patches, lookups, deletion, invalid input and referrals.

use chrono::NaiveDate;
use walletport_core::{
    BalanceUpdate, Customer, CustomerKey, CustomerRecord, DeleteCustomer, ErrorKind, GetCustomer,
    Provider, SetBalance, UpsertCustomer, op,
};

use super::expect_error;
use crate::report::{CheckError, CheckResult, Context};
use crate::suite::Suite;

/// Reads the customer under `key` with all details.
async fn get(
    provider: &dyn Provider,
    key: impl Into<CustomerKey>,
) -> walletport_core::Result<CustomerRecord> {
    provider
        .customers()
        .get_customer(GetCustomer::new(key))
        .await
}

/// Upsert a customer with every common field and read back the same values by phone.
pub async fn customer_round_trip(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["customer_upsert", "customer_get_by_phone"])?;
    let birthday = NaiveDate::from_ymd_opt(1990, 5, 17);
    let record = suite
        .new_customer(provider, |c| {
            c.name = Some("Jana".to_owned());
            c.surname = Some("Nováková".to_owned());
            c.email = Some("jana@example.com".to_owned());
            c.birthday = birthday;
        })
        .await?;
    let phone = record.customer.phone.clone();
    let got = get(provider, phone.clone()).await.context("get by phone")?;
    for (label, customer) in [
        ("upsert result", &record.customer),
        ("get result", &got.customer),
    ] {
        ensure!(
            customer.phone == phone,
            "{label}: phone {} != {phone}",
            customer.phone
        );
        for (field, value, expected) in [
            ("name", &customer.name, "Jana"),
            ("surname", &customer.surname, "Nováková"),
            ("email", &customer.email, "jana@example.com"),
        ] {
            ensure!(
                value.as_deref() == Some(expected),
                "{label}: {field} {value:?}"
            );
        }
        ensure!(
            customer.birthday == birthday,
            "{label}: birthday {:?}",
            customer.birthday
        );
    }
    Ok(())
}

/// An upsert of an existing phone changes the fields it sets and leaves `None` fields alone.
pub async fn customer_patch_keeps_unset_fields(
    provider: &dyn Provider,
    suite: &Suite,
) -> CheckResult {
    suite.require(&["customer_upsert", "customer_get_by_phone"])?;
    let record = suite
        .new_customer(provider, |c| {
            c.name = Some("Petr".to_owned());
            c.email = Some("petr@example.com".to_owned());
        })
        .await?;
    let phone = record.customer.phone.clone();
    let patch = Customer {
        surname: Some("Svoboda".to_owned()),
        ..Customer::new(phone.clone())
    };
    provider
        .customers()
        .upsert_customer(UpsertCustomer {
            template: suite.options().template.clone(),
            ..UpsertCustomer::new(patch)
        })
        .await
        .context("patching upsert")?;
    let got = get(provider, phone)
        .await
        .context("get after patch")?
        .customer;
    let lost = "lost by a patch without it";
    for (field, value, expected, failure) in [
        ("surname", &got.surname, "Svoboda", "not patched"),
        ("name", &got.name, "Petr", lost),
        ("email", &got.email, "petr@example.com", lost),
    ] {
        ensure!(
            value.as_deref() == Some(expected),
            "{field} {failure}: {value:?}"
        );
    }
    Ok(())
}

/// Lookups of a customer that does not exist answer `NotFound`, for every supported key.
pub async fn customer_not_found(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    let mut probes: Vec<(&str, CustomerKey)> = Vec::new();
    if suite.has("customer_get_by_phone") {
        probes.push(("by phone", CustomerKey::Phone(suite.phone())));
    }
    if suite.has("customer_get_by_card") {
        probes.push(("by card", CustomerKey::Card(suite.ghost_card())));
    }
    if suite.has("customer_get_by_id") {
        probes.push(("by id", CustomerKey::Id(suite.customer_id())));
    }
    if probes.is_empty() {
        return Err(CheckError::Skipped(
            "no customer lookup is supported".to_owned(),
        ));
    }
    for (what, key) in probes {
        let result = get(provider, key).await;
        expect_error(suite, result, ErrorKind::NotFound, op::CUSTOMER_GET, what)?;
    }
    Ok(())
}

/// A customer is found by their card (id and number) and by the merchant's id.
pub async fn customer_lookup_by_card_and_id(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["customer_upsert"])?;
    let (by_card, by_id) = (
        suite.has("customer_get_by_card"),
        suite.has("customer_get_by_id"),
    );
    if !by_card && !by_id {
        return Err(CheckError::Skipped(
            "capability off: customer_get_by_card, customer_get_by_id".to_owned(),
        ));
    }
    let id = suite.customer_id();
    let record = suite
        .new_customer(provider, |c| c.id = Some(id.clone()))
        .await?;
    let phone = record.customer.phone.clone();
    let mut keys = Vec::new();
    if by_id {
        keys.push(("customer id", CustomerKey::Id(id)));
    }
    if by_card {
        let card = match record.cards.first() {
            Some(card) => card.clone(),
            None => {
                return Err(CheckError::Failed(
                    "customer_get_by_card is on but the upsert returned no card to look up by"
                        .to_owned(),
                ));
            }
        };
        let card_id = card.id.clone();
        let number = card
            .number
            .as_deref()
            .map(walletport_core::CardId::new)
            .transpose()?;
        ensure!(
            card_id.is_some() || number.is_some(),
            "the card has neither id nor number"
        );
        keys.extend(card_id.map(|id| ("card id", CustomerKey::Card(id))));
        keys.extend(number.map(|n| ("card number", CustomerKey::Card(n))));
    }
    for (what, key) in keys {
        let got = get(provider, key)
            .await
            .context(&format!("get by {what}"))?;
        ensure!(
            got.customer.phone == phone,
            "get by {what} found {}",
            got.customer.phone
        );
    }
    Ok(())
}

/// A deleted customer is gone.
pub async fn customer_delete(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&[
        "customer_upsert",
        "customer_delete",
        "customer_get_by_phone",
    ])?;
    let phone = suite.new_customer(provider, |_| {}).await?.customer.phone;
    provider
        .customers()
        .delete_customer(DeleteCustomer {
            key: phone.clone().into(),
        })
        .await
        .context("delete")?;
    let result = get(provider, phone).await;
    expect_error(
        suite,
        result,
        ErrorKind::NotFound,
        op::CUSTOMER_GET,
        "get after delete",
    )
}

/// Rejected input answers `InvalidInput` and leaves the customer and balance as they were.
pub async fn invalid_input_changes_nothing(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["customer_upsert", "customer_get_by_phone"])?;
    let record = suite
        .new_customer(provider, |c| c.email = Some("valid@example.com".to_owned()))
        .await?;
    let phone = record.customer.phone.clone();
    let read = || get(provider, phone.clone());
    let before = read().await.context("get before")?;
    let bad_email = Customer {
        name: Some("Changed".to_owned()),
        email: Some("not an e-mail".to_owned()),
        ..Customer::new(phone.clone())
    };
    let long_name = Customer {
        surname: Some("Changed".to_owned()),
        name: Some("x".repeat(1000)),
        ..Customer::new(phone.clone())
    };
    for (what, customer) in [("bad e-mail", bad_email), ("overlong name", long_name)] {
        let result = provider
            .customers()
            .upsert_customer(UpsertCustomer::new(customer))
            .await;
        expect_error(
            suite,
            result,
            ErrorKind::InvalidInput,
            op::CUSTOMER_UPSERT,
            what,
        )?;
        let after = read().await.context("get after rejected upsert")?;
        ensure!(
            after == before,
            "a rejected upsert ({what}) changed the customer: {before:?} -> {after:?}"
        );
    }
    if suite.has("balance_set") {
        let result = provider
            .balances()
            .set_balance(SetBalance {
                customer: phone.clone().into(),
                update: BalanceUpdate::default(),
            })
            .await;
        expect_error(
            suite,
            result,
            ErrorKind::InvalidInput,
            op::BALANCE_SET,
            "empty balance update",
        )?;
        let after = read().await.context("get after rejected balance set")?;
        ensure!(
            after == before,
            "a rejected balance set changed the customer: {before:?} -> {after:?}"
        );
    }
    Ok(())
}

/// With `customer_referrals` on, reads carry who invited whom; with it off, no referral data is
/// made up.
pub async fn referrals(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["customer_upsert", "customer_get_by_phone"])?;
    let inviter = suite.new_customer(provider, |_| {}).await?.customer.phone;
    if !suite.has("customer_referrals") {
        let got = get(provider, inviter).await.context("get with referrals")?;
        ensure!(
            got.referrals.is_none(),
            "customer_referrals is off but a read returned referral data: {:?}",
            got.referrals
        );
        return Ok(());
    }
    let invited_by = Some(inviter.clone());
    let invitee = suite
        .new_customer(provider, |c| c.invited_by = invited_by)
        .await?
        .customer
        .phone;
    let got = get(provider, invitee.clone())
        .await
        .context("get the invitee")?;
    let referrals = got.referrals.ok_or_else(|| {
        CheckError::Failed("customer_referrals is on but the read has none".to_owned())
    })?;
    ensure!(
        referrals.invited_by.as_ref() == Some(&inviter),
        "invitee's inviter is {:?}, expected {inviter}",
        referrals.invited_by
    );
    let got = get(provider, inviter).await.context("get the inviter")?;
    let invites = got.referrals.map(|r| r.invites).unwrap_or_default();
    ensure!(
        invites.contains(&invitee),
        "the inviter's invites {invites:?} lack {invitee}"
    );
    Ok(())
}
