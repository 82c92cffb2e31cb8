//! Inbound CRM hooks: Passquare calls the merchant (methods 1.1 `createCustomer`, 1.2
//! `readBalance`, 1.3 `addBalance`).
//!
//! Sans-IO like the outbound side: [`parse_hook`] turns a body into a [`HookCall`],
//! [`handle_hook`] authenticates, dispatches to any [`CrmHooks`] and encodes the documented answer
//! as a [`HookResponse`] (status + JSON) that any HTTP server can send. With the `axum` feature,
//! [`hooks_router`] is that endpoint as an axum `Router`, independent of any store: the gateway
//! mounts it over its own [`CrmHooks`] implementation.
//!
//! Every bad input is a 400 `{"error": ...}`, bad credentials a 401 (the body's `crm_key` must
//! equal the key exactly), a peer outside the allow-list a 403, a failure on the merchant's side
//! (store down) a 503 (see [`status_for`]), and nothing a caller sends can panic the parser (a
//! proptest feeds it arbitrary bytes).

mod auth;
#[cfg(feature = "axum")]
mod router;

use std::net::IpAddr;

use serde::Deserialize;
use serde_json::{Value, json};
use walletport_core::{
    Balance, BalanceUpdate, CardId, CardTrack, Credit, CreditHook, CrmHooks, CustomerId, Error,
    ErrorKind, HookContext, Percent, Phone, ReadBalance, RegisterCustomer, TransactionId,
    check_amount,
};
use walletport_http::HeaderMap;

#[cfg(feature = "axum")]
pub use router::hooks_router;

use crate::config::{NumberMode, PassquareHooksConfig};
use crate::mapping::record_from_wire;
use crate::wire::{WireCustomer, encode_decimal, shorten};

/// The largest hook body accepted (64 KiB); larger bodies get 413.
pub const MAX_BODY: usize = 64 * 1024;

/// The longest account header (`X-organization-id`, ...) passed on to the handler.
const MAX_HEADER_CHARS: usize = 256;

/// One parsed hook call, ready for a [`CrmHooks`] method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookCall {
    /// 1.1 `createCustomer`.
    Register(RegisterCustomer),
    /// 1.2 `readBalance`.
    ReadBalance(ReadBalance),
    /// 1.3 `addBalance`.
    Credit(CreditHook),
}

/// What to answer Passquare: an HTTP status and a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
}

impl HookResponse {
    /// `{"error": message}` with `status`.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            body: encode_error(&message.into()),
        }
    }

    fn ok(body: Value) -> Self {
        Self { status: 200, body }
    }
}

/// A request as it arrived, whatever server received it.
#[derive(Debug, Clone, Copy)]
pub struct HookRequest<'a> {
    /// The raw body.
    pub body: &'a [u8],
    /// The request headers (`Authorization`, `X-organization-id`, ...).
    pub headers: &'a HeaderMap,
    /// The peer's address, for the allow-list.
    pub peer: Option<IpAddr>,
}

#[derive(Deserialize)]
struct Envelope {
    /// Kept raw: the key is compared byte for byte, never trimmed or converted from a number.
    #[serde(default)]
    crm_key: Option<Value>,
    #[serde(default)]
    method: Option<Value>,
    #[serde(default)]
    customer: Option<Value>,
}

/// The account ids Passquare sends in headers (and the peer address), for the handler.
pub fn hook_context(headers: &HeaderMap, peer: Option<IpAddr>) -> HookContext {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| v.chars().take(MAX_HEADER_CHARS).collect())
    };
    HookContext {
        organization_id: header("x-organization-id"),
        program_id: header("x-program-id"),
        wallet_id: header("x-wallet-id"),
        remote_addr: peer,
    }
}

fn bad(message: impl Into<String>) -> Error {
    Error::invalid_input(message)
}

/// Parses a hook body into a [`HookCall`] (no authentication; see [`handle_hook`]).
///
/// Errors are [`ErrorKind::InvalidInput`]: not JSON, no or unknown `method`, no `customer`, a bad
/// phone, date, amount or percentage, a missing `transactionId`.
pub fn parse_hook(
    body: &[u8],
    context: HookContext,
    config: &PassquareHooksConfig,
) -> walletport_core::Result<HookCall> {
    if body.len() > MAX_BODY {
        return Err(bad("body larger than 64 KiB"));
    }
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| bad(format!("body is not a hook JSON object: {e}")))?;
    let method = match envelope.method {
        Some(Value::String(m)) => m,
        Some(_) => return Err(bad("`method` must be a string")),
        None => return Err(bad("`method` is missing")),
    };
    let customer = envelope
        .customer
        .ok_or_else(|| bad("`customer` is missing"))?;
    if !customer.is_object() {
        return Err(bad("`customer` must be an object"));
    }
    let wire: WireCustomer =
        serde_json::from_value(customer).map_err(|e| bad(format!("invalid `customer`: {e}")))?;
    match method.as_str() {
        "createCustomer" => register(wire, context),
        "readBalance" => {
            let (phone, card_numbers) = phone_and_cards(&wire)?;
            Ok(HookCall::ReadBalance(ReadBalance {
                phone,
                card_numbers,
                context,
            }))
        }
        "addBalance" => credit(wire, context, config),
        other => Err(bad(format!("unknown method `{}`", shorten(other)))),
    }
}

fn phone_and_cards(w: &WireCustomer) -> walletport_core::Result<(Phone, Vec<String>)> {
    let phone = w
        .phone
        .get()
        .ok_or_else(|| bad("`customer.phone` is missing"))?;
    let phone = Phone::parse(phone)?;
    let cards = w.card_numbers.iter().filter_map(|c| c.0.clone()).collect();
    Ok((phone, cards))
}

fn register(wire: WireCustomer, context: HookContext) -> walletport_core::Result<HookCall> {
    let pct = |v: Option<rust_decimal::Decimal>, what: &str| {
        v.map(|d| Percent::new(d).map_err(|e| bad(format!("{what}: {}", e.message()))))
            .transpose()
    };
    let points = wire
        .balance
        .0
        .map(|p| {
            if p.is_sign_negative() && !p.is_zero() {
                return Err(bad("`balance` must not be negative"));
            }
            check_amount("balance", p)
        })
        .transpose()?;
    let balance = BalanceUpdate {
        points,
        bonus_percent: pct(wire.bonus.0, "bonus")?,
        discount_percent: pct(wire.discount.0, "discount")?,
    };
    let card_tracks = wire
        .card_tracks
        .iter()
        .filter_map(|t| match (&t.card.0, &t.track.0) {
            (Some(card), Some(track)) => Some(CardTrack {
                card: card.clone(),
                track: track.clone(),
            }),
            _ => None,
        })
        .collect();
    let (_, card_numbers) = phone_and_cards(&wire)?;
    let max = RegisterCustomer::MAX_CARDS;
    if card_numbers.len() > max || wire.card_tracks.len() > max {
        return Err(bad(format!(
            "a customer is registered with at most {max} card numbers and tracks"
        )));
    }
    for number in &card_numbers {
        CardId::new(number.as_str()).map_err(|e| bad(format!("`cardNumbers`: {}", e.message())))?;
    }
    let record = record_from_wire(wire)?;
    record.customer.validate()?;
    Ok(HookCall::Register(RegisterCustomer {
        customer: record.customer,
        card_numbers,
        card_tracks,
        balance,
        context,
    }))
}

fn credit(
    wire: WireCustomer,
    context: HookContext,
    config: &PassquareHooksConfig,
) -> walletport_core::Result<HookCall> {
    let (phone, card_numbers) = phone_and_cards(&wire)?;
    let sum = wire.sum.0.ok_or_else(|| bad("`customer.sum` is missing"))?;
    let tx = wire
        .transaction_id
        .0
        .ok_or_else(|| bad("`customer.transactionId` is missing"))?;
    let lifetime = match wire.lifetime.0 {
        None => None,
        Some(l) if l.is_sign_negative() && !l.is_zero() => {
            return Err(bad("`lifetime` must not be negative"));
        }
        // A zero lifetime would burn at once; read it as "no lifetime" (assumption).
        Some(l) if l.is_zero() => None,
        Some(l) => {
            let whole = l.trunc();
            let units = u64::try_from(whole).map_err(|_| bad("`lifetime` is too large"))?;
            if whole != l {
                return Err(bad("`lifetime` must be a whole number"));
            }
            Some(
                config
                    .lifetime_unit
                    .to_duration(units)
                    .ok_or_else(|| bad("`lifetime` is too large"))?,
            )
        }
    };
    let credit = Credit::new(sum, TransactionId::new(tx)?, lifetime)?;
    Ok(HookCall::Credit(CreditHook {
        phone,
        card_numbers,
        credit,
        context,
    }))
}

/// `{"customerId": id}`, the answer to `createCustomer`.
pub fn encode_register_response(id: &CustomerId) -> Value {
    json!({ "customerId": id.as_str() })
}

/// `{"success": true, "bonus", "balance", "discount"}`, the answer to `readBalance`, numbers as
/// strings or JSON numbers by `mode` (a value a float cannot carry exactly goes out as a string).
pub fn encode_balance_response(balance: &Balance, mode: NumberMode) -> Value {
    let num = |d: rust_decimal::Decimal| {
        encode_decimal(d, mode)
            .or_else(|_| encode_decimal(d, NumberMode::String))
            .unwrap_or(Value::Null)
    };
    json!({
        "success": true,
        "bonus": num(balance.bonus_percent.value()),
        "balance": num(balance.points),
        "discount": num(balance.discount_percent.value()),
    })
}

/// `{"success": true}`, the answer to `addBalance`.
pub fn encode_credit_response() -> Value {
    json!({ "success": true })
}

/// `{"error": message}`, every failed answer.
pub fn encode_error(message: &str) -> Value {
    json!({ "error": message })
}

/// The HTTP status a handler's error becomes.
///
/// A refusal of the request (unknown customer, bad input, a reused transaction id) is the
/// documented 400. A failure on the merchant's side (the store is down or failed, anything
/// temporary, a misconfiguration) is 503: every hook is safe to repeat (`createCustomer` upserts
/// by phone, `readBalance` reads, `addBalance` is idempotent by `transactionId`), so a retry by
/// Passquare can only help, while a 400 would tell it the grant itself was wrong.
pub fn status_for(error: &Error) -> u16 {
    match error.kind() {
        ErrorKind::Unauthenticated => 401,
        ErrorKind::PermissionDenied => 403,
        ErrorKind::RateLimited
        | ErrorKind::VendorUnavailable
        | ErrorKind::Unexpected
        | ErrorKind::ConfigInvalid => 503,
        _ if error.is_temporary() => 503,
        _ => 400,
    }
}

/// Why a call is not authenticated, or `None` when it is: valid Basic credentials, or the
/// body's `crm_key`. The reason names what failed, never what the key should be; a body that
/// does not parse carries no key, so it is a 401 here and not a 400.
fn refusal(
    config: &PassquareHooksConfig,
    authorization: Option<&str>,
    body: &[u8],
) -> Option<&'static str> {
    if auth::basic_ok(config, authorization) {
        return None;
    }
    let envelope = serde_json::from_slice::<Envelope>(body);
    let key = envelope.as_ref().ok().and_then(|e| e.crm_key.as_ref());
    if auth::body_key_ok(config, key.and_then(Value::as_str)) {
        return None;
    }
    Some(match (authorization, &envelope, key) {
        (Some(_), _, None) => "no valid credentials: the Authorization header is wrong",
        (Some(_), _, Some(_)) => {
            "no valid credentials: neither the Authorization header nor crm_key is right"
        }
        (None, Err(_), _) => "no valid credentials: the body is not a JSON object with a crm_key",
        (None, Ok(_), None) => "no valid credentials: crm_key is missing",
        (None, Ok(_), Some(_)) => "no valid credentials: crm_key is wrong",
    })
}

/// Authenticates, parses and dispatches one hook call; never panics, always answers JSON.
pub async fn handle_hook(
    hooks: &dyn CrmHooks,
    config: &PassquareHooksConfig,
    request: HookRequest<'_>,
) -> HookResponse {
    if !auth::ip_ok(config, request.peer) {
        return HookResponse::error(403, "caller address is not allowed");
    }
    if request.body.len() > MAX_BODY {
        return HookResponse::error(413, "body larger than 64 KiB");
    }
    let authorization = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if let Some(refusal) = refusal(config, authorization, request.body) {
        return HookResponse::error(401, refusal);
    }
    let context = hook_context(request.headers, request.peer);
    let call = match parse_hook(request.body, context, config) {
        Ok(call) => call,
        Err(e) => return HookResponse::error(400, e.message()),
    };
    let result = match call {
        HookCall::Register(input) => hooks
            .register_customer(input)
            .await
            .map(|id| encode_register_response(&id)),
        HookCall::ReadBalance(input) => hooks
            .read_balance(input)
            .await
            .map(|b| encode_balance_response(&b, config.numbers)),
        HookCall::Credit(input) => hooks
            .credit_balance(input)
            .await
            .map(|()| encode_credit_response()),
    };
    match result {
        Ok(body) => HookResponse::ok(body),
        Err(e) => {
            tracing::warn!(kind = %e.kind(), error = %e, "passquare hook handler failed");
            HookResponse::error(status_for(&e), e.message())
        }
    }
}

#[cfg(test)]
mod tests;
