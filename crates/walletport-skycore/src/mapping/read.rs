//! Skycore → domain: the card, balance and customer a `getpassdata` (or `generatepass`) answer
//! describes. Points are text on Skycore; [`balance_of`] reads them by the rule of
//! [`points::number_in`], and a card keeps a non-numeric points text raw in its fields.

use walletport_core::{
    Balance, Card, CardId, Customer, CustomerId, CustomerRecord, Decimal, Error, Fields,
    InstallLinks, Percent, Phone, Result, TemplateId,
};

use super::pass::{GeneratePass, GeneratedPass, PassRecord};
use super::points;
use crate::config::SkycoreConfig;
use crate::wire::{FIELD_TARGETS, PassData};

/// Domain fields of a pass: its per-pass keys under their configured names.
///
/// The field-target keys of [`PassData::to_wire`], read without building it: in the map's
/// (sorted) key order, a typed field before an `extra` entry of the same key.
pub fn fields_of(data: &PassData, config: &SkycoreConfig) -> Fields {
    let mut targets = FIELD_TARGETS.to_vec();
    targets.sort_unstable();
    let mut fields = Fields::new();
    for key in targets {
        let typed = match key {
            "additional-image" => data.additional_image.as_deref(),
            "strip-image" => data.strip_image.as_deref(),
            "custom-field-1" => data.custom_fields[0].as_deref(),
            "custom-field-2" => data.custom_fields[1].as_deref(),
            "custom-field-3" => data.custom_fields[2].as_deref(),
            message => message
                .strip_prefix("message")
                .and_then(|n| n.parse::<u8>().ok())
                .and_then(|n| data.messages.get(&n))
                .map(String::as_str),
        };
        let value = match typed {
            Some(v) => Some(v.to_owned()),
            None => data.extra.get(key).and_then(crate::wire::text),
        };
        if let Some(v) = value {
            fields.insert(config.field_name(key), v);
        }
    }
    fields
}

fn card_id(pass_id: &str, template_id: Option<&str>, config: &SkycoreConfig) -> Option<CardId> {
    CardId::new(super::pass::card_id_of(pass_id, template_id, config)).ok()
}

/// The card a `getpassdata` answer describes (Skycore does not return the install URL on reads).
pub fn card_of(record: &PassRecord, config: &SkycoreConfig) -> Card {
    let data = &record.data;
    let mut fields = fields_of(data, config);
    keep_raw_points(data, &mut fields);
    Card {
        id: card_id(&record.pass_id, record.template_id.as_deref(), config),
        number: data.barcode_value.clone(),
        barcode: data.barcode_value.clone(),
        links: InstallLinks::default(),
        installed: Default::default(),
        status: data.status.unwrap_or_default(),
        fields,
        template: record
            .template_id
            .as_deref()
            .and_then(|t| TemplateId::new(t).ok()),
        expires_at: data.expiration_timestamp,
    }
}

/// The card a successful `generatepass` created.
pub fn card_of_generated(
    sent: &GeneratePass,
    answer: &GeneratedPass,
    config: &SkycoreConfig,
) -> Card {
    let mut fields = fields_of(&sent.data, config);
    keep_raw_points(&sent.data, &mut fields);
    if let Some(t) = &answer.tracking_id {
        fields.insert("tracking-id".into(), t.clone());
    }
    Card {
        id: card_id(
            answer.pass_id.as_deref().unwrap_or(&sent.pass_id),
            Some(&sent.template_id),
            config,
        ),
        number: sent.data.barcode_value.clone(),
        barcode: sent.data.barcode_value.clone(),
        links: InstallLinks {
            page: Some(answer.install_url.clone()),
            ..InstallLinks::default()
        },
        installed: Default::default(),
        status: Default::default(),
        fields,
        template: TemplateId::new(&sent.template_id).ok(),
        expires_at: sent.data.expiration_timestamp,
    }
}

/// A points text that is not a plain number (`$3$`, `120 pts`) goes into the card's fields raw,
/// under its Skycore key, so what the pass shows is never lost by reading the number out of it.
fn keep_raw_points(data: &PassData, fields: &mut Fields) {
    for (key, value) in [
        ("loyalty-points", &data.loyalty_points),
        ("secondary-loyalty-points", &data.secondary_loyalty_points),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty())
            && !points::is_plain(v)
        {
            fields.insert(key.to_owned(), v.to_owned());
        }
    }
}

/// The number of a points text by [`points::number_in`]; empty text is no value, text without a
/// digit an `Unexpected` error that carries the raw text.
fn number(field: &str, value: &Option<String>) -> Result<Option<Decimal>> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => points::number_in(v).map(Some).ok_or_else(|| {
            Error::unexpected(format!(
                "the pass's `{field}` holds no number: `{v}` (the card's fields keep the text)"
            ))
        }),
    }
}

/// Points and bonus % of a pass (`loyalty-points`, `secondary-loyalty-points`, each the first
/// number in its text, see [`points::number_in`]); no discount.
pub fn balance_of(data: &PassData) -> Result<Balance> {
    let points = number("loyalty-points", &data.loyalty_points)?.unwrap_or_default();
    let bonus = match number("secondary-loyalty-points", &data.secondary_loyalty_points)? {
        Some(b) => Percent::new(b).map_err(|e| {
            Error::unexpected(format!(
                "the pass's `secondary-loyalty-points` is not a bonus %: {}",
                e.message()
            ))
        })?,
        None => Percent::default(),
    };
    Ok(Balance {
        points: points.normalize(),
        bonus_percent: bonus,
        discount_percent: Percent::default(),
    })
}

/// The customer behind a pass whose id is a phone's digits (`pass_id = "phone"`).
pub fn customer_of(record: &PassRecord, config: &SkycoreConfig) -> Result<CustomerRecord> {
    let phone = Phone::parse(&format!("+{}", record.pass_id)).map_err(|_| {
        Error::not_found(format!(
            "pass `{}` is not keyed by a phone, so it names no customer",
            record.pass_id
        ))
    })?;
    let data = &record.data;
    let customer = Customer {
        id: data
            .account_id
            .as_deref()
            .and_then(|i| CustomerId::new(i).ok()),
        name: data.account_name.clone(),
        ..Customer::new(phone)
    };
    Ok(CustomerRecord {
        customer,
        cards: vec![card_of(record, config)],
        balance: balance_of(data).ok(),
        referrals: None,
    })
}
