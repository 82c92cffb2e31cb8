//! E.164 phone numbers: the key every vendor identifies a customer by.
//!
//! Vendors send phones as `+420000000001`, `420000000001` (international digits without `+`) or
//! formatted (`+1 (650) 253-0000`); merchants type national forms. [`Phone::parse`] accepts all of
//! them and keeps the canonical `+<digits>` form. Validity against libphonenumber's metadata is
//! opt-in ([`PhonePolicy::strict`]) because the vendors' own example numbers are well-formed E.164
//! but not assigned numbers.

use std::fmt;
use std::str::FromStr;

use phonenumber::country::Id as Country;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// The longest input we even look at; anything longer is not a phone number.
const MAX_INPUT_LEN: usize = 48;

/// A phone number in canonical E.164 form (`+` followed by 8–15 digits).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Phone(String);

/// How to read phone numbers: a default region for national forms, and strictness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhonePolicy {
    /// Region used for numbers written in national form (e.g. `(650) 253-0000` with `US`).
    pub default_region: Option<Country>,
    /// When true, the number must be valid by libphonenumber's metadata, not only well-formed.
    pub strict: bool,
}

impl PhonePolicy {
    /// The lenient default: international forms only, well-formed E.164 is enough.
    pub const LENIENT: Self = Self {
        default_region: None,
        strict: false,
    };

    /// Sets the region for national forms, given as an ISO 3166 alpha-2 code (`"US"`, `"CZ"`).
    pub fn with_region(mut self, region: &str) -> Result<Self, Error> {
        let id = Country::from_str(&region.to_ascii_uppercase())
            .map_err(|_| Error::config(format!("unknown phone region `{region}`")))?;
        self.default_region = Some(id);
        Ok(self)
    }

    /// Requires numbers to be valid by libphonenumber's metadata.
    #[must_use]
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }
}

impl Phone {
    /// Parses a phone with the lenient policy (see the module docs).
    ///
    /// ```
    /// use walletport_core::Phone;
    /// assert_eq!(Phone::parse("420000000001").unwrap().as_str(), "+420000000001");
    /// assert_eq!(Phone::parse("+1 (650) 253-0000").unwrap().as_str(), "+16502530000");
    /// assert!(Phone::parse("call me").is_err());
    /// ```
    pub fn parse(input: &str) -> Result<Self, Error> {
        Self::parse_with(input, &PhonePolicy::LENIENT)
    }

    /// Parses a phone under an explicit policy.
    pub fn parse_with(input: &str, policy: &PhonePolicy) -> Result<Self, Error> {
        let bad =
            |why: &str| Error::invalid_input(format!("invalid phone `{}`: {why}", shorten(input)));
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(bad("empty"));
        }
        if trimmed.len() > MAX_INPUT_LEN {
            return Err(bad("too long"));
        }
        if !trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.' | '/'))
        {
            return Err(bad(
                "only digits, spaces, `+`, `-`, `.`, `/` and parentheses are allowed",
            ));
        }
        if trimmed.matches('+').count() > 1 || (trimmed.contains('+') && !trimmed.starts_with('+'))
        {
            return Err(bad("`+` may only lead the number"));
        }
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        let explicit_international = trimmed.starts_with('+');
        let candidate = if explicit_international {
            digits
        } else if let Some(rest) = digits.strip_prefix("00") {
            rest.to_owned()
        } else if let Some(region) = policy.default_region {
            // A national number that is valid in the default region wins over reading the
            // digits as international; otherwise digits without `+` are international.
            match national_to_e164(&digits, region) {
                Some(e164) => e164,
                None => digits,
            }
        } else {
            digits
        };
        let phone = well_formed(&candidate)
            .ok_or_else(|| bad("not a well-formed E.164 number (country code + 7 to 14 digits)"))?;
        if policy.strict && !is_valid_by_metadata(&phone.0) {
            return Err(bad("not a valid number for its country (strict mode)"));
        }
        Ok(phone)
    }

    /// The canonical `+<digits>` form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without `+` (the form some vendors want and Skycore pass ids use).
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

fn shorten(input: &str) -> String {
    input.chars().take(MAX_INPUT_LEN).collect()
}

/// Digits of a national number → E.164 digits, if valid in `region`.
fn national_to_e164(digits: &str, region: Country) -> Option<String> {
    let parsed = phonenumber::parse(Some(region), digits).ok()?;
    if !phonenumber::is_valid(&parsed) {
        return None;
    }
    let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
    Some(e164.trim_start_matches('+').to_owned())
}

/// Checks the shape of E.164: 8–15 digits, no leading zero, a country calling code that exists
/// in libphonenumber's metadata, and at least 4 digits after it. The national part is not
/// parsed further, so placeholder numbers like `+420000000000` are well-formed.
fn well_formed(digits: &str) -> Option<Phone> {
    if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
        return None;
    }
    // Country calling codes are prefix-free and 1 to 3 digits long.
    let code_len = (1..=3).find(|&n| {
        digits[..n]
            .parse::<u16>()
            .is_ok_and(|code| phonenumber::metadata::DATABASE.by_code(&code).is_some())
    })?;
    if digits.len() - code_len < 4 {
        return None;
    }
    Some(Phone(format!("+{digits}")))
}

fn is_valid_by_metadata(e164: &str) -> bool {
    phonenumber::parse(None, e164)
        .map(|n| phonenumber::is_valid(&n))
        .unwrap_or(false)
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.0)
    }
}

impl FromStr for Phone {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl AsRef<str> for Phone {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for Phone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Phone::parse(&raw).map_err(|e| serde::de::Error::custom(e.message()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_documented_forms() {
        for (input, want) in [
            ("+420000000001", "+420000000001"),
            ("420000000001", "+420000000001"),
            ("+1 (650) 253-0000", "+16502530000"),
            ("0042 0000 000 001", "+420000000001"),
            ("+7 916 123-45-67", "+79161234567"),
            ("+420000000000", "+420000000000"),
        ] {
            assert_eq!(Phone::parse(input).unwrap().as_str(), want, "{input}");
        }
    }

    #[test]
    fn national_forms_need_a_region() {
        let us = PhonePolicy::default().with_region("us").unwrap();
        assert_eq!(
            Phone::parse_with("(650) 253-0000", &us).unwrap().as_str(),
            "+16502530000"
        );
        let ru = PhonePolicy::default().with_region("RU").unwrap();
        assert_eq!(
            Phone::parse_with("8 916 123 45 67", &ru).unwrap().as_str(),
            "+79161234567"
        );
        // Without a region, a leading zero is not an international number.
        assert!(Phone::parse("0650 253 0000").is_err());
    }

    #[test]
    fn strict_mode_checks_metadata() {
        let strict = PhonePolicy::default().strict();
        assert!(Phone::parse("+420000000001").is_ok());
        assert!(Phone::parse_with("+420000000001", &strict).is_err());
        assert!(Phone::parse_with("+16502530000", &strict).is_ok());
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "   ",
            "abc",
            "+",
            "++420000000001",
            "42+0000000001",
            "123",
            "+0420000000001",
            "+99999999999999999",
            "12345678901234567890",
            "+420 000 000 001 ext 5",
            "٣٣٣٣٣٣٣٣٣",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn serde_round_trip_and_rejects_bad() {
        let p: Phone = serde_json::from_str("\"420000000001\"").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"+420000000001\"");
        assert!(serde_json::from_str::<Phone>("\"nope\"").is_err());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,64}") {
            let _ = Phone::parse(&s);
            let _ = Phone::parse_with(&s, &PhonePolicy::default().with_region("DE").unwrap().strict());
        }

        #[test]
        fn canonical_form_is_a_fixed_point(s in "[+]?[1-9][0-9 ()-]{7,20}") {
            if let Ok(p) = Phone::parse(&s) {
                prop_assert_eq!(Phone::parse(p.as_str()).unwrap(), p.clone());
                prop_assert!(p.as_str().starts_with('+'));
            }
        }
    }
}
