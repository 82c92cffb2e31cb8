//! Customers, balances and percentages: CRM-side state in the store; every change is synced by
//! the outbox (the ledger's writes are in `ledger.rs`).

use axum::Json;
use axum::extract::{Path, State};
use walletport_core::{Customer, CustomerId, CustomerKey, Error, Percent, Phone};
use walletport_store::{ListCustomers, Percentages, StoredCustomer, WriteOpts};

use super::views::*;
use super::{ApiJson, ApiQuery, ApiResult, ApiState, customer_key, stored_customer};
use crate::state::Gateway;

fn percent(value: Option<rust_decimal::Decimal>, what: &str) -> Result<Option<Percent>, Error> {
    value
        .map(|v| {
            Percent::new(v).map_err(|e| Error::invalid_input(format!("{what}: {}", e.message())))
        })
        .transpose()
}

/// A CRM id a client chose. One that reads as a phone is refused: `/api/customers/{key}` takes
/// such a key for a phone, so the customer could never be named by its id (or another customer
/// would be answered in its place).
fn crm_id(raw: &str) -> Result<CustomerId, Error> {
    if Phone::parse(raw).is_ok() {
        return Err(Error::invalid_input(format!(
            "customer id `{}` reads as a phone number; choose an id with a letter in it",
            raw.chars().take(64).collect::<String>()
        )));
    }
    CustomerId::new(raw)
}

fn customer_from(input: CustomerInput) -> Result<(Customer, Percentages), Error> {
    let mut c = Customer::new(Phone::parse(&input.phone)?);
    c.id = input.id.as_deref().map(crm_id).transpose()?;
    c.name = input.name;
    c.surname = input.surname;
    c.middle_name = input.middle_name;
    c.email = input.email;
    c.birthday = input.birthday;
    c.extra = input.extra;
    c.referral_code = input.referral_code;
    c.invited_by = input.invited_by.as_deref().map(Phone::parse).transpose()?;
    c.validate()?;
    let p = Percentages {
        bonus: percent(input.bonus_percent, "bonus_percent")?,
        discount: percent(input.discount_percent, "discount_percent")?,
    };
    Ok((c, p))
}

/// List customers, oldest first.
#[utoipa::path(get, path = "/api/customers", tag = "customers", params(PageQuery),
    responses((status = 200, body = CustomerPageView), ErrorResponses<400>),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(s): State<ApiState>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<CustomerPageView>> {
    let page =
        s.gw.store
            .list_customers(&ListCustomers {
                after: q.after,
                limit: q.limit.unwrap_or(0),
            })
            .await?;
    Ok(Json(CustomerPageView {
        customers: page.customers.iter().map(CustomerView::from).collect(),
        next: page.next,
    }))
}

/// Create or update a customer by phone (and set percentages); synced to the vendor.
#[utoipa::path(post, path = "/api/customers", tag = "customers", request_body = CustomerInput,
    responses((status = 200, body = UpsertResult), ErrorResponses<400, 409>),
    security(("bearer" = [])))]
pub(crate) async fn upsert(
    State(s): State<ApiState>,
    ApiJson(input): ApiJson<CustomerInput>,
) -> ApiResult<Json<UpsertResult>> {
    let (customer, percentages) = customer_from(input)?;
    let opts = WriteOpts::at(s.gw.now());
    let up = s.gw.store.upsert_customer(&customer, opts).await?;
    let stored = if percentages.bonus.is_some() || percentages.discount.is_some() {
        s.gw.store
            .set_percentages(&up.id, percentages, opts)
            .await?
    } else {
        s.gw.customer(&CustomerKey::Id(up.id.clone())).await?
    };
    Ok(Json(UpsertResult {
        id: up.id.to_string(),
        created: up.created,
        changed: up.changed,
        customer: CustomerView::from(&stored),
    }))
}

/// A customer (by phone or CRM id) with cards and balance.
#[utoipa::path(get, path = "/api/customers/{key}", tag = "customers",
    params(CustomerKeyParam),
    responses((status = 200, body = CustomerDetail), ErrorResponses<404>),
    security(("bearer" = [])))]
pub(crate) async fn get(
    State(s): State<ApiState>,
    Path(key): Path<String>,
) -> ApiResult<Json<CustomerDetail>> {
    let stored = stored_customer(&s, &key).await?;
    let cards = s.gw.store.list_cards(&stored.id).await?;
    let balance = s.gw.store.balance(&stored.id, s.gw.now()).await?;
    Ok(Json(CustomerDetail {
        customer: CustomerView::from(&stored),
        cards: cards.iter().map(CardView::from).collect(),
        balance: balance.into(),
    }))
}

/// A customer's balance now.
#[utoipa::path(get, path = "/api/customers/{key}/balance", tag = "balance",
    params(CustomerKeyParam),
    responses((status = 200, body = BalanceView), ErrorResponses<404>),
    security(("bearer" = [])))]
pub(crate) async fn balance(
    State(s): State<ApiState>,
    Path(key): Path<String>,
) -> ApiResult<Json<BalanceView>> {
    let stored = stored_customer(&s, &key).await?;
    Ok(Json(
        s.gw.store.balance(&stored.id, s.gw.now()).await?.into(),
    ))
}

/// Set bonus and/or discount percentage; synced to the vendor.
#[utoipa::path(put, path = "/api/customers/{key}/percentages", tag = "balance",
    params(CustomerKeyParam),
    request_body = PercentagesInput,
    responses((status = 200, body = CustomerView), ErrorResponses<400, 404>),
    security(("bearer" = [])))]
pub(crate) async fn percentages(
    State(s): State<ApiState>,
    Path(key): Path<String>,
    ApiJson(input): ApiJson<PercentagesInput>,
) -> ApiResult<Json<CustomerView>> {
    let updated = set_customer_percentages(&s.gw, &customer_key(&key)?, input).await?;
    Ok(Json(CustomerView::from(&updated)))
}

/// Checks the percentages and sets them for the customer `key` names (REST and console alike);
/// synced to the vendor.
pub(crate) async fn set_customer_percentages(
    gw: &Gateway,
    key: &CustomerKey,
    input: PercentagesInput,
) -> Result<StoredCustomer, Error> {
    let stored = gw.customer(key).await?;
    let p = Percentages {
        bonus: percent(input.bonus_percent, "bonus_percent")?,
        discount: percent(input.discount_percent, "discount_percent")?,
    };
    gw.store
        .set_percentages(&stored.id, p, WriteOpts::at(gw.now()))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_that_reads_as_a_phone_is_refused() {
        for taken in [
            "12345678",
            "420 601 234 567",
            "+420601234567",
            "00420601234567",
        ] {
            let err = crm_id(taken).expect_err(taken);
            assert!(err.message().contains("reads as a phone"), "{err}");
        }
        for fine in [
            "crm-42",
            "A12345678",
            "1234",
            "7d9f0c1e-5b1c-4d7e-9a1f-0c2b3d4e5f60",
        ] {
            assert_eq!(crm_id(fine).expect(fine).as_str(), fine);
        }
    }
}
