//! Skycore → domain: the card, balance and customer a `getpassdata` (or `generatepass`) answer
//! describes. Points are text on Skycore; [`balance_of`] reads `loyalty-points` by the rule of
//! [`points::number_in`] and `secondary-loyalty-points` as a bonus % only when it is exactly what
//! the adapter writes (see [`bonus_in`]), and a card keeps any points text that is not read
//! exactly raw in its fields.

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
    keep_raw_points(data, config, &mut fields);
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
    keep_raw_points(&sent.data, config, &mut fields);
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
/// So does a `secondary-loyalty-points` text that is plain but no bonus (`699`, or any plain
/// number while a `bonus_format` is configured): the balance reads it as 0 %, the card keeps it.
fn keep_raw_points(data: &PassData, config: &SkycoreConfig, fields: &mut Fields) {
    let shown = |value: &Option<String>| {
        value
            .as_deref()
            .filter(|v| !v.trim().is_empty())
            .map(str::to_owned)
    };
    if let Some(v) = shown(&data.loyalty_points)
        && !points::is_plain(&v)
    {
        fields.insert("loyalty-points".to_owned(), v);
    }
    if let Some(v) = shown(&data.secondary_loyalty_points)
        && !(points::is_plain(&v) && bonus_in(&v, config).is_some())
    {
        fields.insert("secondary-loyalty-points".to_owned(), v);
    }
}

/// The bonus % a `secondary-loyalty-points` text holds, or `None` when it holds none.
///
/// A bonus only when the text is exactly what [`super::pass::apply_balance_as`] writes for some
/// percent: the configured `bonus_format` around a plain number (without a format, the plain
/// number alone), and that number in 0..=100. Why so strict: passes made outside walletport use
/// the field for other things (the vendor's examples show `699`, `$ 4 $` and, labelled "Valid
/// Until", `10-22-2020`), and taking the first number would read a date's `10` as a 10 % bonus,
/// or make every balance read of a `699` pass fail for ever.
pub fn bonus_in(text: &str, config: &SkycoreConfig) -> Option<Percent> {
    points::rendered_number(
        text,
        config.bonus_format.as_deref(),
        points::BONUS_PLACEHOLDER,
    )
    .and_then(|n| Percent::new(n).ok())
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

/// Points and bonus % of a pass; no discount (Skycore has no field for it).
///
/// Points are the first number in `loyalty-points` (see [`points::number_in`]; a text without a
/// digit is an `Unexpected` error carrying it). The bonus is `secondary-loyalty-points` only when
/// it is a bonus as `config` writes it ([`bonus_in`]); any other text there (a pass made outside
/// walletport) is a bonus of 0 %, never an error, and the card's fields keep the text. Takes the
/// config because what counts as "written by the adapter" depends on `bonus_format`.
pub fn balance_of(data: &PassData, config: &SkycoreConfig) -> Result<Balance> {
    let points = number("loyalty-points", &data.loyalty_points)?.unwrap_or_default();
    let bonus = data
        .secondary_loyalty_points
        .as_deref()
        .and_then(|text| bonus_in(text, config))
        .unwrap_or_default();
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
        balance: balance_of(data, config).ok(),
        referrals: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(bonus_format: Option<&str>) -> SkycoreConfig {
        let mut config = SkycoreConfig::new("http://127.0.0.1:9/", "k", "tpl");
        config.bonus_format = bonus_format.map(str::to_owned);
        config
    }

    fn record(points: Option<&str>, bonus: Option<&str>) -> PassRecord {
        PassRecord {
            pass_id: "420777000001".into(),
            template_id: Some("tpl".into()),
            data: PassData {
                loyalty_points: points.map(str::to_owned),
                secondary_loyalty_points: bonus.map(str::to_owned),
                ..PassData::default()
            },
        }
    }

    fn percent(n: i64, scale: u32) -> Percent {
        Percent::new(Decimal::new(n, scale)).expect("0..=100")
    }

    /// The bonus `balance_of` reads from `text` and the raw text the card keeps, if any.
    fn read(text: &str, bonus_format: Option<&str>) -> (Percent, Option<String>) {
        let config = config(bonus_format);
        let record = record(Some("8965"), Some(text));
        let balance = balance_of(&record.data, &config).expect("a bonus text never fails a read");
        assert_eq!(balance.points, Decimal::new(8965, 0), "{text:?}");
        let card = card_of(&record, &config);
        let kept = card.fields.get("secondary-loyalty-points").cloned();
        let customer = customer_of(&record, &config).expect("keyed by a phone");
        assert_eq!(customer.balance, Some(balance), "{text:?}");
        (balance.bonus_percent, kept)
    }

    #[test]
    fn a_plain_percent_is_the_bonus_and_needs_no_raw_copy() {
        assert_eq!(read("15", None), (percent(15, 0), None));
        assert_eq!(read("7.5", None), (percent(75, 1), None));
        assert_eq!(read("0", None), (Percent::default(), None));
        assert_eq!(read("100", None), (percent(100, 0), None));
    }

    #[test]
    fn a_number_over_100_is_no_bonus_and_the_card_keeps_it() {
        assert_eq!(read("699", None), (Percent::default(), Some("699".into())));
        assert_eq!(read("-5", None), (Percent::default(), Some("-5".into())));
    }

    #[test]
    fn a_date_is_no_bonus_and_the_card_keeps_it() {
        for format in [None, Some("{bonus}%")] {
            assert_eq!(
                read("10-22-2020", format),
                (Percent::default(), Some("10-22-2020".into())),
                "{format:?}"
            );
        }
    }

    #[test]
    fn currency_text_is_no_bonus_and_the_card_keeps_it() {
        for format in [None, Some("{bonus}%")] {
            assert_eq!(
                read("$ 4 $", format),
                (Percent::default(), Some("$ 4 $".into())),
                "{format:?}"
            );
        }
    }

    #[test]
    fn with_a_bonus_format_only_that_format_is_a_bonus() {
        let pct = Some("{bonus}%");
        // The formatted text is read, and (as any non-plain text) also kept as shown.
        assert_eq!(read("15%", pct), (percent(15, 0), Some("15%".into())));
        assert_eq!(read("15", pct), (Percent::default(), Some("15".into())));
        assert_eq!(read("15 %", pct), (Percent::default(), Some("15 %".into())));
        assert_eq!(read("699%", pct), (Percent::default(), Some("699%".into())));
        // Without the format, `15%` is not what the adapter writes.
        assert_eq!(read("15%", None), (Percent::default(), Some("15%".into())));
    }

    #[test]
    fn no_digit_or_no_text_is_a_zero_bonus_not_an_error() {
        assert_eq!(
            read("Gold", None),
            (Percent::default(), Some("Gold".into()))
        );
        assert_eq!(read("  ", None), (Percent::default(), None));
        let absent = record(Some("1"), None);
        let balance = balance_of(&absent.data, &config(None)).expect("no bonus field");
        assert_eq!(balance.bonus_percent, Percent::default());
    }

    #[test]
    fn what_the_adapter_writes_reads_back() {
        for format in [None, Some("{bonus}%"), Some("Bonus {bonus} %")] {
            let config = config(format);
            let want = percent(1250, 2);
            let mut data = PassData::default();
            super::super::pass::apply_balance_as(
                &walletport_core::BalanceUpdate {
                    bonus_percent: Some(want),
                    ..Default::default()
                },
                &config,
                &mut data,
            )
            .expect("no discount");
            let read = balance_of(&data, &config).expect("written by us");
            assert_eq!(read.bonus_percent, want, "{format:?}");
        }
    }

    #[test]
    fn points_keep_the_first_number_rule() {
        let config = config(None);
        let data = record(Some("$3$"), None).data;
        assert_eq!(
            balance_of(&data, &config).expect("a number").points,
            Decimal::new(3, 0)
        );
        let no_digit = record(Some("Gold"), Some("15")).data;
        assert!(balance_of(&no_digit, &config).is_err());
    }
}
