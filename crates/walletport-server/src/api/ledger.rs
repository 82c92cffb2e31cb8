//! The ledger through REST: credits, redemptions, reversals, balance settings and the history.
//!
//! Every write is exactly-once by its transaction id and synced to the vendor by the outbox; a
//! refused write (bad input, not enough points, a conflicting repeat) changes nothing.

use axum::Json;
use axum::extract::{Path, State};
use walletport_core::{Credit, CustomerId, CustomerKey, Error, TransactionId};
use walletport_store::{LedgerOp, LedgerQuery, Redemption, Reversal, SetPoints, WriteOpts};

use super::views::*;
use super::{ApiJson, ApiQuery, ApiResult, ApiState, on_customer, stored_customer};
use crate::hooks::PASSQUARE_TX_PREFIX;
use crate::state::Gateway;

/// A transaction id the merchant chose: valid, and not in Passquare's reserved `pq:` namespace
/// (checked after trimming, as the id is stored).
fn merchant_transaction(raw: String) -> Result<TransactionId, Error> {
    let tx = TransactionId::new(raw)?;
    if tx.as_str().starts_with(PASSQUARE_TX_PREFIX) {
        return Err(Error::invalid_input(format!(
            "transaction_id must not start with `{PASSQUARE_TX_PREFIX}`: that prefix is reserved for Passquare's own credits"
        )));
    }
    Ok(tx)
}

/// Applies `op` (checked already) for the customer `key` names, with the balance right after
/// it; what every ledger write of the REST API and the console ends in.
async fn apply_to(gw: &Gateway, key: &CustomerKey, op: LedgerOp) -> Result<LedgerResult, Error> {
    let stored = gw.customer(key).await?;
    let now = gw.now();
    let outcome = gw.store.apply(&stored.id, &op, WriteOpts::at(now)).await?;
    Ok(LedgerResult {
        applied: outcome.applied,
        delta: outcome.delta,
        balance: gw.store.balance(&stored.id, now).await?.into(),
    })
}

/// Checks a credit's input and credits the customer `key` names (REST and console alike).
pub(crate) async fn credit_customer(
    gw: &Gateway,
    key: &CustomerKey,
    input: CreditInput,
) -> Result<LedgerResult, Error> {
    let lifetime = input
        .lifetime
        .as_deref()
        .map(|l| {
            humantime::parse_duration(l.trim())
                .map_err(|e| Error::invalid_input(format!("invalid lifetime `{l}`: {e}")))
        })
        .transpose()?;
    let tx = merchant_transaction(input.transaction_id)?;
    let op = LedgerOp::Credit(Credit::new(input.amount, tx, lifetime)?);
    apply_to(gw, key, op).await
}

/// Checks a redemption's input and spends the points of the customer `key` names (REST and
/// console alike); `InsufficientPoints` changes nothing.
pub(crate) async fn redeem_customer(
    gw: &Gateway,
    key: &CustomerKey,
    input: RedemptionInput,
) -> Result<LedgerResult, Error> {
    let tx = merchant_transaction(input.transaction_id)?;
    let op = LedgerOp::Redeem(Redemption::new(input.amount, tx)?);
    apply_to(gw, key, op).await
}

/// Credit points exactly once by transaction id, optionally burning after a lifetime.
#[utoipa::path(post, path = "/api/customers/{key}/credits", tag = "balance",
    params(CustomerKeyParam),
    request_body = CreditInput,
    responses((status = 200, body = LedgerResult), ErrorResponses<400, 404, 409>),
    security(("bearer" = [])))]
pub(crate) async fn credit(
    State(s): State<ApiState>,
    Path(key): Path<String>,
    ApiJson(input): ApiJson<CreditInput>,
) -> ApiResult<Json<LedgerResult>> {
    on_customer(&s, &key, input, credit_customer).await
}

/// Spend points exactly once by transaction id, soonest-expiring first; 409
/// `insufficient_points` (nothing changed) when the balance is smaller.
#[utoipa::path(post, path = "/api/customers/{key}/redemptions", tag = "balance",
    params(CustomerKeyParam),
    request_body = RedemptionInput,
    responses((status = 200, body = LedgerResult), ErrorResponses<400, 404>,
        (status = 409, description = "`insufficient_points`, or `conflict`: the transaction id was used with another amount", body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn redeem(
    State(s): State<ApiState>,
    Path(key): Path<String>,
    ApiJson(input): ApiJson<RedemptionInput>,
) -> ApiResult<Json<LedgerResult>> {
    on_customer(&s, &key, input, redeem_customer).await
}

/// Take back a credit (its purchase was refunded) exactly once: its amount less what of it
/// expired; points already spent leave a negative balance that later credits pay off first.
#[utoipa::path(post, path = "/api/customers/{key}/credits/{transaction_id}/reversal",
    tag = "balance",
    params(CustomerKeyParam,
        ("transaction_id" = String, Path, description = "The credit's transaction id")),
    responses((status = 200, body = LedgerResult), ErrorResponses<400>,
        (status = 404, description = "No such customer, or no such credit of theirs", body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn reverse(
    State(s): State<ApiState>,
    Path((key, transaction_id)): Path<(String, String)>,
) -> ApiResult<Json<LedgerResult>> {
    let op = LedgerOp::Reverse(Reversal::of(TransactionId::new(transaction_id)?));
    on_customer(&s, &key, op, apply_to).await
}

/// Set the points to an absolute value exactly once by transaction id (a manual adjustment,
/// written as an `adjustment` entry of the difference).
#[utoipa::path(put, path = "/api/customers/{key}/balance", tag = "balance",
    params(CustomerKeyParam),
    request_body = BalanceInput,
    responses((status = 200, body = LedgerResult), ErrorResponses<400, 404, 409>),
    security(("bearer" = [])))]
pub(crate) async fn set_balance(
    State(s): State<ApiState>,
    Path(key): Path<String>,
    ApiJson(input): ApiJson<BalanceInput>,
) -> ApiResult<Json<LedgerResult>> {
    let tx = merchant_transaction(input.transaction_id)?;
    let op = LedgerOp::Set(SetPoints::new(input.points, tx)?);
    on_customer(&s, &key, op, apply_to).await
}

/// A customer's ledger history, newest first, one page at a time.
#[utoipa::path(get, path = "/api/customers/{key}/ledger", tag = "balance",
    params(CustomerKeyParam, LedgerQueryParams),
    responses((status = 200, body = LedgerPageView), ErrorResponses<400, 404>),
    security(("bearer" = [])))]
pub(crate) async fn history(
    State(s): State<ApiState>,
    Path(key): Path<String>,
    ApiQuery(q): ApiQuery<LedgerQueryParams>,
) -> ApiResult<Json<LedgerPageView>> {
    let query = ledger_query(&q)?;
    let customer: CustomerId = stored_customer(&s, &key).await?.id;
    let page = s.gw.store.ledger(&customer, &query).await?;
    Ok(Json(LedgerPageView::from(&page)))
}

/// Checks the paging parameters: a cursor is a positive entry id, a limit 1..=1000.
fn ledger_query(q: &LedgerQueryParams) -> Result<LedgerQuery, Error> {
    if let Some(before) = q.before.filter(|b| *b <= 0) {
        return Err(Error::invalid_input(format!(
            "`before` must be a positive entry id (a page's `next`), got {before}"
        )));
    }
    if let Some(limit) = q
        .limit
        .filter(|l| *l == 0 || *l > walletport_store::MAX_PAGE)
    {
        return Err(Error::invalid_input(format!(
            "`limit` must be 1..={}, got {limit}",
            walletport_store::MAX_PAGE
        )));
    }
    Ok(LedgerQuery {
        before: q.before,
        limit: q.limit.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passquare_ids_are_refused_after_trimming() {
        assert!(merchant_transaction("order-1".into()).is_ok());
        for raw in ["pq:1", "  pq:1", "pq:"] {
            let e = merchant_transaction(raw.into()).unwrap_err();
            assert_eq!(e.kind(), walletport_core::ErrorKind::InvalidInput, "{raw}");
        }
    }

    #[test]
    fn ledger_paging_is_checked() {
        let q = |before, limit| LedgerQueryParams { before, limit };
        assert_eq!(
            ledger_query(&q(None, None)).unwrap(),
            LedgerQuery::default()
        );
        let ok = ledger_query(&q(Some(7), Some(1000))).unwrap();
        assert_eq!((ok.before, ok.limit), (Some(7), 1000));
        for bad in [
            q(Some(0), None),
            q(Some(-3), None),
            q(None, Some(0)),
            q(None, Some(1001)),
        ] {
            assert!(ledger_query(&bad).is_err(), "{bad:?}");
        }
    }
}
