//! Methods 2.1–2.4: status, customer upsert (with balance, card, SMS), read one, list.

use std::collections::BTreeMap;

use walletport_core::ports::op;
use walletport_core::{
    Balance, BalanceUpdate, Card, CardId, CardStatus, Customer, CustomerId, CustomerRecord, Error,
    ErrorKind, Fields, InstallLinks, Installed, ListCustomers, Page, PageCursor, Percent, Phone,
    ProviderStatus, Referrals, Result, TemplateId, UpsertCustomer,
};
use walletport_http::{HttpRequest, HttpResponse};

use super::errors::{check_response, unexpected};
use super::{PAGE_SIZE, PROVIDER, app_key, path};
use crate::config::PassquareConfig;
use crate::wire::{
    self, ListedCustomer, LooseString, ReadCustomerRequest, ReadCustomerResponse,
    ReadCustomersRequest, ReadCustomersResponse, StatusRequest, StatusResponse, UPSERT_KEYS,
    UpsertRequest, UpsertResponse, WireCustomer, encode_decimal,
};

/// The key under which a customer's Passquare card number is kept in `provider_ids`.
pub const PROVIDER_ID_KEY: &str = PROVIDER;

/// The key of the form personalisation hash in [`Card::fields`].
pub const USER_HASH_FIELD: &str = "user_hash";

/// Builds 2.1 `status`.
pub fn build_status_request(config: &PassquareConfig) -> Result<HttpRequest> {
    let body = StatusRequest {
        app_key: app_key(config),
    };
    Ok(HttpRequest::post_json(op::STATUS, path::STATUS, &body)?.idempotent(true))
}

/// Parses 2.1 `status` into the account name and prepaid balance.
pub fn parse_status_response(resp: &HttpResponse) -> Result<ProviderStatus> {
    check_response(resp)?;
    let wire: StatusResponse = resp.json()?;
    let account = wire
        .app
        .0
        .ok_or_else(|| resp.error(ErrorKind::Unexpected, "status answer without `app`"))?;
    Ok(ProviderStatus {
        account,
        balance: wire.balance.0,
    })
}

/// What a 2.2 request carries besides the customer: an SMS invitation or a new card track.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpsertExtras {
    /// `link` (the issuance form) and `sms` (text with `%link%`).
    pub sms: Option<SmsInvite>,
    /// A new card track (examples version; "the card is overwritten in your CRM").
    pub card_track: Option<String>,
}

/// A personalised SMS with the install link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsInvite {
    /// The card issuance form.
    pub link: String,
    /// The text; `%link%` becomes the personalised link.
    pub text: String,
}

/// Builds 2.2 `user_create_or_update` for an upsert: customer fields, balance values, template,
/// CRM id, custom variables (the customer's `extra`), optionally an SMS invitation.
///
/// Never carries a push (see [`super::build_push_request`]). Idempotent (keyed by phone) unless it
/// sends an SMS.
pub fn build_upsert_request(
    input: &UpsertCustomer,
    extras: &UpsertExtras,
    config: &PassquareConfig,
) -> Result<HttpRequest> {
    let body = upsert_body(
        &input.customer,
        &input.balance,
        input.template.as_ref(),
        &input.customer.extra,
        extras,
        config,
    )?;
    let idempotent = extras.sms.is_none();
    Ok(HttpRequest::post_json(op::CUSTOMER_UPSERT, path::UPSERT, &body)?.idempotent(idempotent))
}

/// The 2.2 body shared by upserts, card issue/update and balance sets.
pub(crate) fn upsert_body(
    customer: &Customer,
    balance: &BalanceUpdate,
    template: Option<&TemplateId>,
    variables: &Fields,
    extras: &UpsertExtras,
    config: &PassquareConfig,
) -> Result<UpsertRequest> {
    let mode = config.numbers;
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut card_track = extras.card_track.clone();
    for (key, value) in variables {
        if UPSERT_KEYS.contains(&key.as_str()) {
            return Err(Error::invalid_input(format!(
                "custom variable `{key}` would overwrite a Passquare field of the same name"
            )));
        }
        if key == "card_track" {
            card_track.get_or_insert_with(|| value.clone());
            continue;
        }
        if key.trim().is_empty() {
            return Err(Error::invalid_input(
                "custom variable names must not be empty",
            ));
        }
        vars.insert(key.clone(), value.clone());
    }
    if let Some(sms) = &extras.sms
        && !sms.text.contains("%link%")
    {
        return Err(Error::invalid_input(
            "the SMS text must contain `%link%` where the install link goes",
        ));
    }
    let mut body = UpsertRequest {
        app_key: app_key(config),
        phone: customer.phone.as_str().to_owned(),
        name: customer.name.clone(),
        email: customer.email.clone(),
        surname: customer.surname.clone(),
        middlename: customer.middle_name.clone(),
        birthday: customer.birthday.map(wire::format_date),
        discount: balance
            .discount_percent
            .map(|p| encode_decimal(p.value(), mode))
            .transpose()?,
        bonus: balance
            .bonus_percent
            .map(|p| encode_decimal(p.value(), mode))
            .transpose()?,
        balance: balance
            .points
            .map(|p| encode_decimal(p, mode))
            .transpose()?,
        template_uuid: template.map(|t| t.as_str().to_owned()),
        customer_id: customer.id.as_ref().map(|i| i.as_str().to_owned()),
        variables: vars,
        ..UpsertRequest::default()
    };
    if let Some(track) = card_track {
        body.variables.insert("card_track".into(), track);
    }
    if let Some(sms) = &extras.sms {
        body.link = Some(sms.link.clone());
        body.sms = Some(sms.text.clone());
    }
    Ok(body)
}

/// Builds a 2.2 request that only sets balance values (`balance`, `bonus`, `discount`) — the
/// examples file's balance-only update. Idempotent: it sets, never adds.
pub fn build_balance_set_request(
    phone: &Phone,
    update: &BalanceUpdate,
    config: &PassquareConfig,
) -> Result<HttpRequest> {
    if update.is_empty() {
        return Err(Error::invalid_input("nothing to set"));
    }
    let body = upsert_body(
        &Customer::new(phone.clone()),
        update,
        None,
        &Fields::new(),
        &UpsertExtras::default(),
        config,
    )?;
    Ok(HttpRequest::post_json(op::BALANCE_SET, path::UPSERT, &body)?.idempotent(true))
}

/// The card a 2.2 answer describes, if it names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertOutcome {
    /// The customer's card with its links.
    pub card: Option<Card>,
    /// Whether Passquare says it sent the SMS (`None` when it did not say).
    pub sms_sent: Option<bool>,
}

/// Parses a 2.2 answer: `card_number`, `card_track`, `card_url`, `card_gpay_url`, `form_url` and
/// `user_hash` become a [`Card`].
///
/// A 200 without `success` is a failure (the reference's assumption: `success` is the one field
/// every answer carries).
pub fn parse_upsert_response(resp: &HttpResponse) -> Result<UpsertOutcome> {
    check_response(resp)?;
    let wire: UpsertResponse = resp.json()?;
    if wire.success.0 != Some(true) {
        return Err(resp.error(
            ErrorKind::Unexpected,
            "Passquare's answer does not say `success`",
        ));
    }
    let card = match wire.card_number.0 {
        None => None,
        Some(number) => {
            let id = CardId::new(number.clone()).map_err(|e| unexpected(resp, &e))?;
            let mut fields = Fields::new();
            if let Some(hash) = wire.user_hash.0 {
                fields.insert(USER_HASH_FIELD.into(), hash);
            }
            Some(Card {
                id: Some(id),
                number: Some(number),
                barcode: wire.card_track.0,
                links: InstallLinks {
                    apple: wire.card_url.0,
                    google: wire.card_gpay_url.0,
                    page: wire.form_url.0,
                    qr: None,
                },
                installed: Installed::default(),
                status: CardStatus::Active,
                fields,
                template: None,
                expires_at: None,
            })
        }
    };
    Ok(UpsertOutcome {
        card,
        sms_sent: wire.sms_send.0,
    })
}

/// Parses a 2.2 answer to an upsert into the record the port returns: the customer as sent plus
/// the card Passquare reports.
pub fn parse_upsert_customer_response(
    resp: &HttpResponse,
    input: &UpsertCustomer,
) -> Result<CustomerRecord> {
    let outcome = parse_upsert_response(resp)?;
    let mut customer = input.customer.clone();
    let mut cards = Vec::new();
    if let Some(mut card) = outcome.card {
        card.template = input.template.clone();
        if let Some(number) = &card.number {
            customer
                .provider_ids
                .insert(PROVIDER_ID_KEY.into(), number.clone());
        }
        cards.push(card);
    }
    Ok(CustomerRecord {
        customer,
        cards,
        balance: None,
        referrals: None,
    })
}

/// How 2.3 looks a customer up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// By phone (both versions).
    Phone(Phone),
    /// By card number (examples version).
    Card(String),
}

/// Builds 2.3 `read_customer`.
pub fn build_read_customer_request(
    lookup: &Lookup,
    invites: bool,
    installs: bool,
    config: &PassquareConfig,
) -> Result<HttpRequest> {
    let (phone, card) = match lookup {
        Lookup::Phone(p) => (Some(p.as_str().to_owned()), None),
        Lookup::Card(c) => {
            if !config.looks_up_by_card() {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "Passquare 2.7.5 finds customers by phone only: set `[provider] card_lookup = \
                     true` for an account that answers lookups by card number",
                ));
            }
            (None, Some(c.clone()))
        }
    };
    let body = ReadCustomerRequest {
        app_key: app_key(config),
        phone,
        card,
        invites,
        installs,
    };
    Ok(HttpRequest::post_json(op::CUSTOMER_GET, path::READ_CUSTOMER, &body)?.idempotent(true))
}

/// Parses 2.3 `read_customer`; an answer without a customer is [`ErrorKind::NotFound`].
pub fn parse_read_customer_response(resp: &HttpResponse) -> Result<CustomerRecord> {
    check_response(resp)?;
    let wire: ReadCustomerResponse = resp.json()?;
    let customer = wire
        .customer
        .ok_or_else(|| resp.error(ErrorKind::NotFound, "Passquare has no such customer"))?;
    record_from_wire(customer).map_err(|e| unexpected(resp, &e))
}

fn text(s: LooseString) -> Option<String> {
    s.0
}

fn percent(value: Option<rust_decimal::Decimal>, what: &str) -> Result<Percent> {
    Percent::new(value.unwrap_or_default())
        .map_err(|e| Error::invalid_input(format!("{what}: {}", e.message())))
}

/// A referral phone; one that is not E.164 is dropped (with a warning) rather than failing the
/// whole read: the vendor's own example refers to `+420000000000`, which no numbering plan has.
fn referral_phone(text: &str) -> Option<Phone> {
    match Phone::parse(text) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(error = %e, "passquare: dropping a referral phone that is not E.164");
            None
        }
    }
}

/// A Passquare customer block (2.3 answer or hook) → a record with cards, balance, referrals.
///
/// Errors are [`ErrorKind::InvalidInput`] (bad phone, date, percentage); callers parsing a vendor
/// answer turn them into `Unexpected`.
pub fn record_from_wire(w: WireCustomer) -> Result<CustomerRecord> {
    let phone_text = w
        .phone
        .0
        .ok_or_else(|| Error::invalid_input("customer without a phone"))?;
    let phone = Phone::parse(&phone_text)?;
    let birthday = w.birthday.0.as_deref().map(wire::parse_date).transpose()?;
    let id = w
        .remote_id
        .0
        .or(w.customer_id.0)
        .map(CustomerId::new)
        .transpose()?;
    let invited_by = w
        .invited_by
        .0
        .or(w.refer_customer_phone.0)
        .and_then(|p| referral_phone(&p));
    let extra: Fields = w
        .extra
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some((k, s)),
            other => Some((k, other.to_string())),
        })
        .collect();
    let template = w.template_uuid.0.map(TemplateId::new).transpose()?;

    let mut numbers: Vec<String> = w.card_numbers.into_iter().filter_map(text).collect();
    let tracks: Vec<(String, Option<String>)> = w
        .card_tracks
        .into_iter()
        .filter_map(|t| t.card.0.map(|c| (c, t.track.0)))
        .collect();
    for (card, _) in &tracks {
        if !numbers.contains(card) {
            numbers.push(card.clone());
        }
    }
    let installs: Vec<(String, bool)> = w
        .card_installs
        .into_iter()
        .filter_map(|i| i.card.0.map(|c| (c, i.install.0.unwrap_or(false))))
        .collect();
    let cards = numbers
        .iter()
        .map(|number| {
            let installed = installs.iter().any(|(c, on)| c == number && *on);
            Ok(Card {
                id: Some(CardId::new(number.clone())?),
                number: Some(number.clone()),
                barcode: tracks
                    .iter()
                    .find(|(c, _)| c == number)
                    .and_then(|(_, t)| t.clone()),
                // Passquare reports one flag per card, not per platform: it applies to both.
                installed: Installed {
                    apple: installed,
                    google: installed,
                },
                template: template.clone(),
                ..Card::default()
            })
        })
        .collect::<Result<Vec<_>>>()?;

    let balance = if w.balance.0.is_some() || w.bonus.0.is_some() || w.discount.0.is_some() {
        Some(Balance {
            points: w.balance.0.unwrap_or_default(),
            bonus_percent: percent(w.bonus.0, "bonus")?,
            discount_percent: percent(w.discount.0, "discount")?,
        })
    } else {
        None
    };
    let referrals = match (&invited_by, &w.invites) {
        (None, None) => None,
        _ => Some(Referrals {
            invited_by: invited_by.clone(),
            invites: w
                .invites
                .unwrap_or_default()
                .into_iter()
                .filter_map(text)
                .filter_map(|p| referral_phone(&p))
                .collect(),
        }),
    };
    let mut provider_ids = BTreeMap::new();
    if let Some(first) = numbers.first() {
        provider_ids.insert(PROVIDER_ID_KEY.to_owned(), first.clone());
    }
    let customer = Customer {
        id,
        name: w.name.0,
        surname: w.surname.0,
        middle_name: w.middle_name.0,
        email: w.email.0,
        birthday,
        extra,
        referral_code: w.promo.0,
        invited_by,
        provider_ids,
        ..Customer::new(phone)
    };
    Ok(CustomerRecord {
        customer,
        cards,
        balance,
        referrals,
    })
}

/// Where a listing starts: the cursor is the offset.
pub fn list_offset(input: &ListCustomers) -> Result<u64> {
    match &input.cursor {
        None => Ok(0),
        Some(PageCursor(c)) => c.trim().parse::<u64>().map_err(|_| {
            Error::invalid_input(format!(
                "invalid page cursor `{}` (Passquare pages by offset: 0, 100, 200, ...)",
                wire::shorten(c)
            ))
        }),
    }
}

/// The registration range sent when the caller gives no start: before any Passquare account.
pub const LIST_FROM: &str = "01.01.2000";
/// The registration range sent when the caller gives no end.
pub const LIST_TO: &str = "31.12.2099 23:59:59";

/// Builds 2.4 `read_customers`: `start_date` as `dd.mm.yyyy`, `end_date` as
/// `dd.mm.yyyy HH:MM:SS`, the three-state `installed` filter and the offset from the cursor.
///
/// Both dates are sent always (the reference assumes they are required, as every example sends
/// them): an open end becomes [`LIST_FROM`] / [`LIST_TO`].
pub fn build_list_request(input: &ListCustomers, config: &PassquareConfig) -> Result<HttpRequest> {
    if let (Some(from), Some(to)) = (input.registered_from, input.registered_to)
        && from > to.date()
    {
        return Err(Error::invalid_input(
            "the registration range starts after it ends",
        ));
    }
    let body = ReadCustomersRequest {
        app_key: app_key(config),
        start_date: Some(
            input
                .registered_from
                .map_or_else(|| LIST_FROM.to_owned(), wire::format_date),
        ),
        end_date: Some(input.registered_to.map_or_else(
            || LIST_TO.to_owned(),
            |t| t.format("%d.%m.%Y %H:%M:%S").to_string(),
        )),
        installed: input.installed,
        offset: list_offset(input)?,
    };
    Ok(HttpRequest::post_json(op::CUSTOMER_LIST, path::READ_CUSTOMERS, &body)?.idempotent(true))
}

/// Parses 2.4 into a page: each entry is a phone (the document's form) or a customer object.
///
/// A full page of 100 means there may be more: `next` is the following offset. A `page_size`
/// below 100 is honoured by cutting the page and pointing `next` just after the cut.
pub fn parse_list_response(
    resp: &HttpResponse,
    input: &ListCustomers,
) -> Result<Page<CustomerRecord>> {
    check_response(resp)?;
    let offset = list_offset(input)?;
    let wire: ReadCustomersResponse = resp.json()?;
    let entries = wire.customers.unwrap_or_default();
    let returned = entries.len() as u64;
    let want = u64::from(input.page_size.unwrap_or(PAGE_SIZE).clamp(1, PAGE_SIZE));
    let mut items = Vec::with_capacity(entries.len());
    for entry in entries.into_iter().take(want as usize) {
        let record = match entry {
            ListedCustomer::Phone(p) => {
                let text = p
                    .0
                    .ok_or_else(|| resp.error(ErrorKind::Unexpected, "empty phone in the list"))?;
                let phone = Phone::parse(&text).map_err(|e| unexpected(resp, &e))?;
                CustomerRecord::new(Customer::new(phone))
            }
            ListedCustomer::Customer(c) => {
                record_from_wire(*c).map_err(|e| unexpected(resp, &e))?
            }
        };
        items.push(record);
    }
    let taken = items.len() as u64;
    let next = if taken < returned || returned >= u64::from(PAGE_SIZE) {
        Some(PageCursor((offset + taken).to_string()))
    } else {
        None
    };
    Ok(Page {
        items,
        next,
        total: None,
    })
}
