use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Balance, Card, Fields};
use crate::ids::{CardId, CustomerId};
use crate::phone::Phone;
use crate::text::check_storable;

/// A customer of the merchant. For upserts, `None` fields are left unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// The phone, the key every vendor identifies customers by.
    pub phone: Phone,
    /// The merchant's (CRM's) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<CustomerId>,
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    /// Middle name / patronymic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Date of birth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<NaiveDate>,
    /// Extra fields: custom variables, registration extras (sex, promo entered).
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub extra: Fields,
    /// The customer's own referral promo code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_code: Option<String>,
    /// Who invited this customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invited_by: Option<Phone>,
    /// Ids of this customer at each provider (`"passteam" → card id`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provider_ids: BTreeMap<String, String>,
}

impl Customer {
    /// A customer known only by phone; fill the rest with struct update syntax.
    pub fn new(phone: Phone) -> Self {
        Self {
            phone,
            id: None,
            name: None,
            surname: None,
            middle_name: None,
            email: None,
            birthday: None,
            extra: Fields::new(),
            referral_code: None,
            invited_by: None,
            provider_ids: BTreeMap::new(),
        }
    }

    /// Validates the parts the type system cannot: e-mail shape, text lengths, a birthday
    /// every store can keep ([`BIRTHDAYS`]) and text every store can keep
    /// ([`check_storable`]: no NUL in extra fields and provider ids, whose values may hold
    /// other control characters).
    pub fn validate(&self) -> Result<(), crate::Error> {
        if let Some(email) = &self.email {
            validate_email(email)?;
        }
        if let Some(birthday) = self.birthday
            && !BIRTHDAYS.contains(&birthday)
        {
            return Err(crate::Error::invalid_input(format!(
                "birthday must be from {} to {}",
                BIRTHDAYS.start(),
                BIRTHDAYS.end()
            )));
        }
        for (what, fields) in [("extra", &self.extra), ("provider_ids", &self.provider_ids)] {
            for (key, value) in fields {
                check_storable(&format!("{what} key"), key)?;
                check_storable(&format!("{what} value of `{}`", key.escape_debug()), value)?;
            }
        }
        for (what, value) in [
            ("name", &self.name),
            ("surname", &self.surname),
            ("middle name", &self.middle_name),
            ("referral code", &self.referral_code),
        ] {
            if let Some(v) = value
                && (v.chars().count() > 256 || v.chars().any(char::is_control))
            {
                return Err(crate::Error::invalid_input(format!(
                    "{what} must be at most 256 printable characters"
                )));
            }
        }
        Ok(())
    }
}

/// The birthdays a customer may have: years 1 to 9999. Both stores keep a date as
/// `YYYY-MM-DD` text; PostgreSQL's `DATE` refuses year 0 and earlier (`0000-01-01`,
/// `-0001-12-31`) and five-digit years (chrono writes them `+10000-01-01`), all of which chrono
/// represents and SQLite would keep, so they are refused here, for every store alike.
pub const BIRTHDAYS: RangeInclusive<NaiveDate> = {
    match (
        NaiveDate::from_ymd_opt(1, 1, 1),
        NaiveDate::from_ymd_opt(9999, 12, 31),
    ) {
        (Some(first), Some(last)) => first..=last,
        _ => panic!("years 1 and 9999 are dates"),
    }
};

/// A loose e-mail check: one `@`, something on both sides, a dot in the domain, no spaces.
pub fn validate_email(email: &str) -> Result<(), crate::Error> {
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if ok {
        Ok(())
    } else {
        Err(crate::Error::invalid_input(format!(
            "invalid e-mail `{email}`"
        )))
    }
}

/// How to find a customer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerKey {
    /// By phone (every vendor).
    Phone(Phone),
    /// By card number or card id.
    Card(CardId),
    /// By the merchant's id.
    Id(CustomerId),
}

impl From<Phone> for CustomerKey {
    fn from(p: Phone) -> Self {
        Self::Phone(p)
    }
}

/// Referral data: who invited the customer and whom the customer invited.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Referrals {
    /// The inviter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invited_by: Option<Phone>,
    /// The customers this one invited.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invites: Vec<Phone>,
}

/// A customer with what the provider knows about them: cards, balance, referrals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRecord {
    /// The customer.
    pub customer: Customer,
    /// Their cards.
    #[serde(default)]
    pub cards: Vec<Card>,
    /// Their balance, if the provider returned it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<Balance>,
    /// Referral data, if requested and available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrals: Option<Referrals>,
}

impl CustomerRecord {
    /// A record with no cards, balance or referrals.
    pub fn new(customer: Customer) -> Self {
        Self {
            customer,
            cards: Vec::new(),
            balance: None,
            referrals: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birthdays_are_bounded_to_what_every_store_keeps() {
        let phone = Phone::parse("+420700000001").expect("a phone");
        let with = |y: i32, m: u32, d: u32| Customer {
            birthday: NaiveDate::from_ymd_opt(y, m, d),
            ..Customer::new(phone.clone())
        };
        for ok in [with(1, 1, 1), with(1990, 2, 28), with(9999, 12, 31)] {
            assert!(ok.validate().is_ok(), "{:?}", ok.birthday);
        }
        for bad in [with(0, 1, 1), with(-1, 12, 31), with(10_000, 1, 1)] {
            let err = bad.validate().unwrap_err();
            assert_eq!(
                err.kind(),
                crate::ErrorKind::InvalidInput,
                "{:?}",
                bad.birthday
            );
            assert!(err.message().contains("birthday"), "{err}");
        }
    }

    #[test]
    fn nul_in_extra_fields_and_provider_ids_is_refused_by_name() {
        let phone = Phone::parse("+420700000001").expect("a phone");
        let mut ok = Customer::new(phone.clone());
        ok.extra.insert("note".into(), "line 1\nline 2".into());
        assert!(ok.validate().is_ok());
        let mut key = Customer::new(phone.clone());
        key.extra.insert("no\0te".into(), "v".into());
        let mut value = Customer::new(phone.clone());
        value.extra.insert("note".into(), "pin\0 1234".into());
        let mut id = Customer::new(phone);
        id.provider_ids.insert("passteam".into(), "\0".into());
        for (c, field) in [
            (key, "extra key"),
            (value, "extra value of `note`"),
            (id, "provider_ids"),
        ] {
            let err = c.validate().unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
            assert!(err.message().contains(field), "{err}");
            assert!(
                !err.message().contains("1234"),
                "the value is not echoed: {err}"
            );
        }
    }

    #[test]
    fn email_check() {
        assert!(validate_email("joe@passquare.com").is_ok());
        for bad in [
            "joe", "joe@", "@x.cz", "a b@x.cz", "a@b", "a@@b.cz", "a@.cz",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }
}
