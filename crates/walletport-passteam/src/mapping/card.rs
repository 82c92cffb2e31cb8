//! Cards ↔ the domain: which variables carry the customer and the balance ([`FieldMap`]), and
//! what a Passteam card becomes ([`Card`], [`CustomerRecord`], [`Balance`]).
//!
//! A [`Card`] on its own (card port, webhooks) carries every template variable in `fields`;
//! inside a [`CustomerRecord`] the mapped variables are lifted into the customer and the balance
//! and `fields` keeps the rest.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use walletport_core::{
    Balance, BalanceUpdate, Card, CardId, CardStatus, Customer, CustomerRecord, Error, ErrorKind,
    Fields, InstallLinks, Installed, Percent, Phone, Result, TemplateId,
};

use super::template::{TemplateSchema, parse_date, parse_date_time};
use crate::config::{FieldMap, check_variable_name, normalize_variable};
use crate::wire::WireCard;

/// The provider id key in [`Customer::provider_ids`].
pub const PROVIDER: &str = "passteam";

/// The zone Passteam's timestamps are read in when none is configured: the document gives no
/// zone and the service is Russian, so Moscow time is the assumption.
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Europe::Moscow;

/// How cards are read: which variables are which, the zone of Passteam's zone-less timestamps
/// (`expirationDate`, `created`, `updated`), and the template's date styles when known.
///
/// A bare [`FieldMap`] converts into one with [`DEFAULT_TIMEZONE`] and no template, so callers
/// that know no more can pass the map alone.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    /// The variable mapping.
    pub map: &'a FieldMap,
    /// The zone timestamps are written in (`[provider] timezone`).
    pub timezone: Tz,
    /// The template of the card, for the birthday's `dateStyle`.
    pub schema: Option<&'a TemplateSchema>,
}

impl<'a> From<&'a FieldMap> for Reading<'a> {
    fn from(map: &'a FieldMap) -> Self {
        Self {
            map,
            timezone: DEFAULT_TIMEZONE,
            schema: None,
        }
    }
}

impl Reading<'_> {
    /// A zone-less Passteam timestamp in [`Reading::timezone`], as UTC.
    pub fn timestamp(&self, value: &str) -> Option<DateTime<Utc>> {
        parse_timestamp_in(value, self.timezone)
    }

    /// The birthday variable's text as a date: in its `dateStyle` when the template is known,
    /// else in any of the common formats.
    fn date(&self, var: &str, value: &str) -> Option<NaiveDate> {
        let style = self.schema.and_then(|s| s.date_style(var).ok().flatten());
        style
            .and_then(|s| s.parse_date(value))
            .or_else(|| parse_date(value))
    }
}

/// Template variables to send, in order, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variables(Vec<(String, String)>);

impl Variables {
    /// No variables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `name = value`; a second value for the same name is `InvalidInput`.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> Result<()> {
        let name = normalize_variable(name);
        check_variable_name(&name)?;
        if self.0.iter().any(|(n, _)| *n == name) {
            return Err(Error::invalid_input(format!(
                "variable `{name}` is given twice (a mapped domain field and an extra field?)"
            )));
        }
        self.0.push((name, value.into()));
        Ok(())
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks every value against the template's variable types.
    pub fn check(&self, schema: &TemplateSchema) -> Result<()> {
        self.iter().try_for_each(|(n, v)| schema.check(n, v))
    }
}

/// A date as Passteam's date variables hold it (`dd.mm.yyyy`, the document's 1C format).
pub fn format_date(date: NaiveDate) -> String {
    date.format("%d.%m.%Y").to_string()
}

/// The variables of a customer and a balance update, per the field map. Unmapped customer fields
/// are not sent; a balance value set without a mapped variable is `InvalidInput` naming the
/// `[provider.fields]` key (the gateway sends only [`FieldMap::balance_fields`]);
/// `customer.extra` goes as variables of the same names.
///
/// The birthday is written in the `dateStyle` of its variable when `schema` is known (the
/// template read with `validate_values`), else as `dd.mm.yyyy`.
pub fn customer_variables(
    customer: &Customer,
    balance: &BalanceUpdate,
    map: &FieldMap,
    schema: Option<&TemplateSchema>,
) -> Result<Variables> {
    // The order of the document's 1C request: name, birthday, phone, e-mail, balance.
    let mut vars = Variables::new();
    for (var, value) in [
        (&map.name, &customer.name),
        (&map.surname, &customer.surname),
        (&map.middle_name, &customer.middle_name),
    ] {
        if let (Some(var), Some(value)) = (var, value) {
            vars.set(var, value.clone())?;
        }
    }
    if let (Some(var), Some(day)) = (&map.birthday, customer.birthday) {
        let style = schema.map(|s| s.date_style(var)).transpose()?.flatten();
        vars.set(
            var,
            style.map_or_else(|| format_date(day), |s| s.format_date(day)),
        )?;
    }
    vars.set(&map.phone, customer.phone.as_str())?;
    if let (Some(var), Some(value)) = (&map.email, &customer.email) {
        vars.set(var, value.clone())?;
    }
    balance_variables(balance, map, &mut vars)?;
    for (k, v) in &customer.extra {
        if map.maps(&normalize_variable(k)) {
            return Err(Error::invalid_input(format!(
                "extra field `{k}` is a mapped variable; set the domain field instead"
            )));
        }
        vars.set(k, v.clone())?;
    }
    Ok(vars)
}

/// Adds the balance variables; a value whose variable is not mapped is `InvalidInput` naming the
/// `[provider.fields]` key (an explicit balance set must not be silently dropped).
pub fn balance_variables(
    update: &BalanceUpdate,
    map: &FieldMap,
    vars: &mut Variables,
) -> Result<()> {
    let items = [
        (
            "balance",
            &map.balance,
            update.points.map(|p| p.normalize().to_string()),
        ),
        (
            "bonus",
            &map.bonus,
            update.bonus_percent.map(|p| p.value().to_string()),
        ),
        (
            "discount",
            &map.discount,
            update.discount_percent.map(|p| p.value().to_string()),
        ),
    ];
    for (what, var, value) in items {
        match (var, value) {
            (Some(var), Some(value)) => vars.set(var, value)?,
            (None, Some(_)) => {
                return Err(Error::invalid_input(format!(
                    "no template variable holds the {what}: map it in [provider.fields] {what}"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `13.02.2020 12:22:57` and friends, read in [`DEFAULT_TIMEZONE`], → UTC.
pub fn parse_timestamp(value: &str) -> Option<DateTime<Utc>> {
    parse_timestamp_in(value, DEFAULT_TIMEZONE)
}

/// `13.02.2020 12:22:57` and friends, read in `zone` (RFC 3339 keeps its own offset), → UTC. A
/// local time skipped by a clock change has no reading (`None`); a repeated one takes the
/// earlier instant.
pub fn parse_timestamp_in(value: &str, zone: Tz) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(value.trim()) {
        return Some(dt.with_timezone(&Utc));
    }
    let local: NaiveDateTime = parse_date_time(value)
        .or_else(|| parse_date(value).and_then(|d| d.and_hms_opt(0, 0, 0)))?;
    zone.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// A wire card → [`Card`]; `lift` names the variables to leave out of `fields` (the mapped ones
/// inside a customer record), `None` keeps all.
pub fn card_from_wire<'a>(w: &WireCard, reading: impl Into<Reading<'a>>, lift: bool) -> Card {
    let reading = reading.into();
    let map = reading.map;
    let expires_at = non_empty(&w.expiration_date).and_then(|e| reading.timestamp(&e));
    let status = if w.voided == Some(true) {
        CardStatus::Voided
    } else if expires_at.is_some_and(|e| e <= Utc::now()) {
        CardStatus::Expired
    } else {
        CardStatus::Active
    };
    let number = map
        .card_number
        .as_ref()
        .and_then(|v| w.values.get(v))
        .filter(|v| !v.trim().is_empty())
        .cloned()
        .or_else(|| non_empty(&w.card_code));
    let fields: Fields = w
        .values
        .iter()
        .filter(|(k, _)| !lift || !map.maps(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Card {
        id: non_empty(&w.card_id).and_then(|id| CardId::new(id).ok()),
        number,
        barcode: non_empty(&w.card_code),
        links: InstallLinks {
            apple: non_empty(&w.apple_url),
            google: non_empty(&w.google_url),
            page: non_empty(&w.card_url),
            qr: non_empty(&w.qrcode_url),
        },
        installed: Installed {
            apple: w.installed_aw.unwrap_or(false),
            google: w.installed_gpay.unwrap_or(false),
        },
        status,
        fields,
        template: non_empty(&w.template_id).and_then(|t| TemplateId::new(t).ok()),
        expires_at,
    }
}

/// The holder's phone: the mapped phone variable, else the system `phoneNumber`.
pub fn card_phone(w: &WireCard, map: &FieldMap) -> Option<Phone> {
    [w.values.get(&map.phone).cloned(), w.phone_number.clone()]
        .into_iter()
        .flatten()
        .find_map(|p| Phone::parse(&p).ok())
}

/// The balance held in the mapped variables; missing or empty values read as zero. `Unexpected`
/// when a variable holds something that is not a number or a percentage.
pub fn balance_from_card(w: &WireCard, map: &FieldMap) -> Result<Balance> {
    let num = |var: &Option<String>| -> Result<Decimal> {
        let Some(var) = var else {
            return Ok(Decimal::ZERO);
        };
        match w
            .values
            .get(var)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        {
            None => Ok(Decimal::ZERO),
            Some(v) => v
                .replace(',', ".")
                .parse::<Decimal>()
                .map(|d| d.normalize())
                .map_err(|_| {
                    Error::new(
                        ErrorKind::Unexpected,
                        format!("variable `{var}` holds `{v}`, not a number"),
                    )
                }),
        }
    };
    let pct = |var: &Option<String>| -> Result<Percent> {
        Percent::new(num(var)?).map_err(|e| {
            Error::new(
                ErrorKind::Unexpected,
                format!(
                    "variable `{}`: {}",
                    var.as_deref().unwrap_or(""),
                    e.message()
                ),
            )
        })
    };
    Ok(Balance {
        points: num(&map.balance)?,
        bonus_percent: pct(&map.bonus)?,
        discount_percent: pct(&map.discount)?,
    })
}

/// A wire card → the customer holding it. `NotFound`-free: a card without a readable phone is
/// `Unexpected` (it cannot be a customer keyed by phone).
pub fn record_from_wire<'a>(
    w: &WireCard,
    reading: impl Into<Reading<'a>>,
) -> Result<CustomerRecord> {
    let reading = reading.into();
    let map = reading.map;
    let phone = card_phone(w, map).ok_or_else(|| {
        Error::unexpected(format!(
            "card {} has no phone in `{}` nor in phoneNumber",
            w.card_id.as_deref().unwrap_or("?"),
            map.phone
        ))
    })?;
    let get = |var: &Option<String>| {
        var.as_ref()
            .and_then(|v| w.values.get(v))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut customer = Customer::new(phone);
    customer.name = get(&map.name);
    customer.surname = get(&map.surname);
    customer.middle_name = get(&map.middle_name);
    customer.email = get(&map.email).or_else(|| non_empty(&w.email));
    customer.birthday = map
        .birthday
        .as_deref()
        .zip(get(&map.birthday))
        .and_then(|(var, b)| reading.date(var, &b));
    if let Some(id) = non_empty(&w.card_id) {
        customer.provider_ids.insert(PROVIDER.into(), id);
    }
    let balance = if map.has_balance() {
        balance_from_card(w, map).ok()
    } else {
        None
    };
    Ok(CustomerRecord {
        customer,
        cards: vec![card_from_wire(w, reading, true)],
        balance,
        referrals: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn wire() -> WireCard {
        serde_json::from_value(serde_json::json!({
            "cardId": "5e451571cea6c6141807b792", "cardCode": "000000018",
            "cardUrl": "https://x/c", "appleUrl": "https://x/a", "googleUrl": "", "qrcodeUrl": "https://x/q",
            "values": {"%PHONE%": "+79990000001", "CLIENT_NAME": "Иван", "BONUS": "150.50",
                       "DISCOUNT": "5", "BIRTHDAY": "25.01.1980", "LEVEL": "gold"},
            "voided": 0, "installedGPay": 1, "installedAW": 0, "templateId": "5e424c181dbf0d537c8b4569",
            "expirationDate": ""
        }))
        .unwrap_or_default()
    }

    #[test]
    fn record_lifts_mapped_variables_and_keeps_the_rest() {
        let r =
            record_from_wire(&wire(), &FieldMap::documented()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.customer.phone.as_str(), "+79990000001");
        assert_eq!(r.customer.name.as_deref(), Some("Иван"));
        assert_eq!(r.customer.birthday, NaiveDate::from_ymd_opt(1980, 1, 25));
        assert_eq!(
            r.customer.provider_ids.get("passteam").map(String::as_str),
            Some("5e451571cea6c6141807b792")
        );
        let b = r.balance.unwrap_or_default();
        assert_eq!(
            (b.points, b.discount_percent.value()),
            (dec!(150.5), dec!(5))
        );
        let card = &r.cards[0];
        assert_eq!(card.fields.keys().collect::<Vec<_>>(), ["LEVEL"]);
        assert!(card.installed.google && !card.installed.apple);
        assert_eq!(card.links.google, None);
        assert_eq!(card.number.as_deref(), Some("000000018"));
        assert_eq!(
            card_from_wire(&wire(), &FieldMap::documented(), false)
                .fields
                .len(),
            6
        );
    }

    #[test]
    fn customer_to_variables_follows_the_map() {
        let mut c = Customer::new(Phone::parse("+79990000001").unwrap_or_else(|e| panic!("{e}")));
        c.name = Some("Joe".into());
        c.surname = Some("Unmapped".into());
        c.birthday = NaiveDate::from_ymd_opt(1980, 1, 25);
        c.extra.insert("LEVEL".into(), "gold".into());
        let b = BalanceUpdate {
            points: Some(dec!(100.50)),
            ..Default::default()
        };
        let v = customer_variables(&c, &b, &FieldMap::documented(), None).unwrap_or_default();
        let got: Vec<_> = v.iter().collect();
        assert_eq!(
            got,
            [
                ("CLIENT_NAME", "Joe"),
                ("BIRTHDAY", "25.01.1980"),
                ("PHONE", "+79990000001"),
                ("BONUS", "100.5"),
                ("LEVEL", "gold")
            ]
        );
        c.extra.insert("%PHONE%".into(), "x".into());
        assert!(customer_variables(&c, &b, &FieldMap::documented(), None).is_err());
        let mut vars = Variables::new();
        let strict = BalanceUpdate {
            bonus_percent: Percent::new(dec!(3)).ok(),
            ..Default::default()
        };
        assert!(
            balance_variables(&strict, &FieldMap::documented(), &mut vars)
                .is_err_and(|e| e.message().contains("bonus"))
        );
    }

    #[test]
    fn expiration_is_read_in_the_configured_zone() {
        let map = FieldMap::documented();
        let moscow_now = Utc::now().with_timezone(&DEFAULT_TIMEZONE).naive_local();
        let text = |t: NaiveDateTime| t.format("%d.%m.%Y %H:%M:%S").to_string();
        let mut w = wire();
        // An hour ago in Moscow: still two hours ahead if the text were read as UTC.
        w.expiration_date = Some(text(moscow_now - chrono::Duration::hours(1)));
        assert_eq!(card_from_wire(&w, &map, false).status, CardStatus::Expired);
        let utc = Reading {
            timezone: chrono_tz::UTC,
            ..Reading::from(&map)
        };
        assert_eq!(card_from_wire(&w, utc, false).status, CardStatus::Active);
        w.expiration_date = Some("01.01.2030 02:00:00".into());
        let at = card_from_wire(&w, &map, false).expires_at;
        assert_eq!(
            at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2029-12-31T23:00:00+00:00")
        );
        assert_eq!(
            parse_timestamp_in("2030-01-01T02:00:00+01:00", DEFAULT_TIMEZONE)
                .map(|t| t.to_rfc3339())
                .as_deref(),
            Some("2030-01-01T01:00:00+00:00"),
            "an explicit offset wins"
        );
    }

    #[test]
    fn voided_wins_over_expiry_and_the_install_flags_read_as_sent() {
        let map = FieldMap::documented();
        // (case, change to the documented card, status, installed on (apple, google))
        type Case = (&'static str, fn(&mut WireCard), CardStatus, (bool, bool));
        let cases: [Case; 4] = [
            ("as documented", |_| {}, CardStatus::Active, (false, true)),
            (
                "voided",
                |w| w.voided = Some(true),
                CardStatus::Voided,
                (false, true),
            ),
            (
                "expired",
                |w| w.expiration_date = Some("01.01.2001 00:00:00".into()),
                CardStatus::Expired,
                (false, true),
            ),
            (
                "voided, expired, on both wallets",
                |w| {
                    w.expiration_date = Some("01.01.2001 00:00:00".into());
                    w.voided = Some(true);
                    w.installed_aw = Some(true);
                },
                CardStatus::Voided,
                (true, true),
            ),
        ];
        for (case, change, status, (apple, google)) in cases {
            let mut w = wire();
            change(&mut w);
            let card = card_from_wire(&w, &map, false);
            assert_eq!(card.status, status, "{case}");
            assert_eq!(
                (card.installed.apple, card.installed.google),
                (apple, google),
                "{case}"
            );
        }
    }

    #[test]
    fn a_bad_number_is_unexpected() {
        let mut w = wire();
        w.values.insert("BONUS".into(), "lots".into());
        assert!(
            balance_from_card(&w, &FieldMap::documented())
                .is_err_and(|e| e.message().contains("BONUS"))
        );
        assert!(parse_timestamp("13.02.2020 12:22:57").is_some());
    }
}
