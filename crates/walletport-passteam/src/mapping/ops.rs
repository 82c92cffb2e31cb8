//! Card methods: `getcard`, `createcard`, `updatecard`, `deletecard`, `getcardswithpagination`,
//! `checkvariablevalue`.

use serde_json::Value;
use walletport_core::{CardId, Error, ErrorKind, Result, TemplateId};
use walletport_http::{HttpRequest, HttpResponse};

use super::card::Variables;
use super::{OnDuplicate, parse_envelope, post, result_as};
use crate::config::PassteamConfig;
use crate::encoding::FormBody;
use crate::wire::{WireCard, WireDeleted, WirePage, WireUpdated, bool_of};

/// The most cards `getcardswithpagination` returns per page.
pub const MAX_PER_PAGE: u32 = 50;

/// How `getcard` finds a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardLookup {
    /// By Passteam's `cardId` (24 hex).
    Id(CardId),
    /// By Passteam's `cardCode`.
    Code(String),
    /// By the value of a (unique) variable in a template.
    Variable {
        /// The template to search.
        template: TemplateId,
        /// The variable, without `%`.
        name: String,
        /// The value.
        value: String,
    },
}

impl CardLookup {
    /// A card id if `key` looks like one (24 hex digits), else a card code.
    pub fn id_or_code(key: &str) -> Self {
        let key = key.trim();
        if key.len() == 24 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            CardId::new(key).map_or_else(|_| Self::Code(key.to_owned()), Self::Id)
        } else {
            Self::Code(key.to_owned())
        }
    }
}

/// `getcard` by id, code or variable value.
pub fn build_getcard_request(
    lookup: &CardLookup,
    operation: &'static str,
    config: &PassteamConfig,
) -> HttpRequest {
    let mut body = FormBody::new();
    match lookup {
        CardLookup::Id(id) => body.push("cardId", id.as_str()),
        CardLookup::Code(code) => body.push("cardCode", code.as_str()),
        CardLookup::Variable {
            template,
            name,
            value,
        } => {
            body.push("templateId", template.as_str());
            body.push_variable(name, value.as_str());
        }
    }
    post(config, operation, "getcard", &body, true)
}

/// `getcard`'s card; `NotFound` when the answer says so or carries no card.
pub fn parse_getcard_response(resp: &HttpResponse) -> Result<WireCard> {
    card_answer(resp, OnDuplicate::Conflict)
}

/// `getcard`/`createcard`: the envelope, then the card in whichever wrapping [`card_result`] knows.
fn card_answer(resp: &HttpResponse, on_duplicate: OnDuplicate) -> Result<WireCard> {
    card_result(resp, parse_envelope(resp, on_duplicate)?)
}

/// A decoded card must carry its id.
fn checked_card(resp: &HttpResponse, card: WireCard) -> Result<WireCard> {
    if card.card_id.as_deref().is_none_or(str::is_empty) {
        return Err(resp.error(ErrorKind::Unexpected, "the card has no cardId"));
    }
    Ok(card)
}

fn card_result(resp: &HttpResponse, result: Value) -> Result<WireCard> {
    let result = match result {
        Value::Array(mut cards) if cards.len() == 1 => cards.remove(0),
        Value::Array(cards) if cards.is_empty() => Value::Null,
        Value::Object(mut m) if m.contains_key("card") && !m.contains_key("cardId") => {
            m.remove("card").unwrap_or(Value::Null)
        }
        other => other,
    };
    if result.is_null() || result == Value::Bool(false) {
        return Err(Error::not_found("no such card"));
    }
    checked_card(resp, result_as(resp, result)?)
}

/// `createcard` in `template` with `values`. `idempotent` only when a unique variable makes a
/// repeat fail with 409 instead of creating a second card (the upsert's case).
pub fn build_createcard_request(
    template: &TemplateId,
    values: &Variables,
    operation: &'static str,
    idempotent: bool,
    config: &PassteamConfig,
) -> HttpRequest {
    let mut body = FormBody::new().field("templateId", template.as_str());
    for (n, v) in values.iter() {
        body.push_variable(n, v);
    }
    post(config, operation, "createcard", &body, idempotent)
}

/// `createcard`'s card; 409 → `AlreadyExists` with the duplicated ids in the vendor message.
pub fn parse_createcard_response(resp: &HttpResponse) -> Result<WireCard> {
    card_answer(resp, OnDuplicate::AlreadyExists)
}

/// `updatecard` of `card` with `values` (absolute values: idempotent). `extra` adds system
/// fields (e.g. `voided`).
pub fn build_updatecard_request(
    card: &CardId,
    values: &Variables,
    extra: &[(&str, String)],
    operation: &'static str,
    config: &PassteamConfig,
) -> HttpRequest {
    let mut body = FormBody::new().field("cardId", card.as_str());
    for (k, v) in extra {
        body.push(*k, v.as_str());
    }
    for (n, v) in values.iter() {
        body.push_variable(n, v);
    }
    post(config, operation, "updatecard", &body, true)
}

/// `updatecard`'s card (`result.card`); 409 → `Conflict`.
pub fn parse_updatecard_response(resp: &HttpResponse) -> Result<WireCard> {
    let result = parse_envelope(resp, OnDuplicate::Conflict)?;
    if result.get("card").is_none() && result.get("cardId").is_some() {
        return card_result(resp, result);
    }
    updated_card(resp, result_as(resp, result)?)
}

/// The card of `updatecard`'s `{card, updated, messages}`; it must carry an id.
fn updated_card(resp: &HttpResponse, updated: WireUpdated) -> Result<WireCard> {
    match updated.card {
        Some(card) if card.card_id.is_some() => Ok(card),
        _ => Err(resp.error(ErrorKind::Unexpected, "updatecard returned no card")),
    }
}

/// `deletecard` by id (idempotent by effect).
pub fn build_deletecard_request(
    card: &CardId,
    operation: &'static str,
    config: &PassteamConfig,
) -> HttpRequest {
    let body = FormBody::new().field("cardId", card.as_str());
    post(config, operation, "deletecard", &body, true)
}

/// `deletecard`'s `{n, ok}`; `n = 0` → `NotFound`.
pub fn parse_deletecard_response(resp: &HttpResponse) -> Result<()> {
    let result = parse_envelope(resp, OnDuplicate::Conflict)?;
    if matches!(result, Value::Bool(true)) {
        return Ok(());
    }
    let deleted: WireDeleted = result_as(resp, result)?;
    match (deleted.n, deleted.ok) {
        (Some(0), _) => Err(Error::not_found("no such card")),
        (_, Some(0)) => Err(resp.error(
            ErrorKind::Unexpected,
            format!(
                "deletecard failed: {}",
                deleted.errmsg.unwrap_or_else(|| "ok = 0".into())
            ),
        )),
        _ => Ok(()),
    }
}

/// `getcardswithpagination`: `page` from 1, `per_page` capped at [`MAX_PER_PAGE`].
pub fn build_page_request(
    template: &TemplateId,
    page: u64,
    per_page: u32,
    operation: &'static str,
    config: &PassteamConfig,
) -> HttpRequest {
    let body = FormBody::new()
        .field("templateId", template.as_str())
        .field("page", page.max(1).to_string())
        .field(
            config.param_names.per_page.as_str(),
            per_page.clamp(1, MAX_PER_PAGE).to_string(),
        );
    post(config, operation, "getcardswithpagination", &body, true)
}

/// One page of cards, with the page numbers as sent.
pub fn parse_page_response(resp: &HttpResponse) -> Result<WirePage> {
    let result = parse_envelope(resp, OnDuplicate::Conflict)?;
    if result.is_null() {
        return Ok(WirePage::default());
    }
    result_as(resp, result)
}

/// The page after `current`, if any: `nextPage` when it moves forward and stays within
/// `pageCount`, else `current + 1` when `pageCount` says there is one. A page without cards is
/// the last, whatever it says: a listing always ends, even when the vendor sends `nextPage`
/// without a `pageCount`.
pub fn next_page(page: &WirePage, current: u64) -> Option<u64> {
    if page.cards.is_empty() {
        return None;
    }
    let within = |p: u64| page.page_count.is_none_or(|count| p <= count);
    match page.next_page {
        Some(n) if n > current && within(n) => Some(n),
        _ => match page.page_count {
            Some(count) if current < count => Some(current + 1),
            _ => None,
        },
    }
}

/// `checkvariablevalue`: is `value` free for variable `name` in `template`?
pub fn build_checkvariable_request(
    template: &TemplateId,
    name: &str,
    value: &str,
    operation: &'static str,
    config: &PassteamConfig,
) -> HttpRequest {
    let body = FormBody::new()
        .field("templateId", template.as_str())
        .field(config.param_names.checkvariable_variable.as_str(), name)
        .field(config.param_names.checkvariable_value.as_str(), value);
    post(config, operation, "checkvariablevalue", &body, true)
}

/// Uniqueness of a value: unique or not, and the cards already holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uniqueness {
    /// True when no card holds the value.
    pub unique: bool,
    /// Cards holding it (may be empty when the vendor only answers `true`/`false`).
    pub card_ids: Vec<CardId>,
}

/// `checkvariablevalue`'s `true`/`false` or `{unique, cardsIds}`.
pub fn parse_checkvariable_response(resp: &HttpResponse) -> Result<Uniqueness> {
    let result = parse_envelope(resp, OnDuplicate::Conflict)?;
    if let Some(unique) = bool_of(&result).filter(|_| !result.is_object()) {
        return Ok(Uniqueness {
            unique,
            card_ids: Vec::new(),
        });
    }
    let unique = result.get("unique").and_then(bool_of);
    let ids = match result.get("cardsIds").or_else(|| result.get("cardIds")) {
        Some(Value::Array(ids)) => ids
            .iter()
            .filter_map(|v| v.as_str())
            .filter_map(|s| CardId::new(s).ok())
            .collect(),
        _ => Vec::new(),
    };
    match unique {
        Some(unique) => Ok(Uniqueness {
            unique,
            card_ids: ids,
        }),
        None => Err(resp.error(
            ErrorKind::Unexpected,
            "checkvariablevalue: no `unique` in the result",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(cards: usize, page_count: Option<u64>, next: Option<u64>) -> WirePage {
        WirePage {
            page_count,
            next_page: next,
            cards: vec![WireCard::default(); cards],
            ..WirePage::default()
        }
    }

    #[test]
    fn a_listing_ends_on_an_empty_page_or_at_the_page_count() {
        assert_eq!(next_page(&page(50, None, Some(2)), 1), Some(2));
        assert_eq!(next_page(&page(50, Some(3), None), 2), Some(3));
        assert_eq!(
            next_page(&page(50, Some(3), Some(4)), 3),
            None,
            "past the count"
        );
        assert_eq!(next_page(&page(50, None, Some(1)), 1), None, "backwards");
        // A vendor that always says there is more, without a count, is stopped by its first
        // empty page.
        assert_eq!(next_page(&page(0, None, Some(8)), 7), None);
        assert_eq!(next_page(&page(0, Some(9), Some(8)), 7), None);
    }
}
