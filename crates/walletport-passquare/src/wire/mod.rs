//! Passquare's JSON, as serde structs that accept every documented form.
//!
//! The two live document versions disagree: numbers are strings in 2.7.5 (`"bonus": "12.5"`) and
//! JSON numbers in the examples version (`"bonus": 12.5`); booleans are sometimes "messages"
//! (`"success": "message about customer creation"`); ids may come as numbers. The `Loose*` types
//! below read all of those, and an empty string counts as absent. What we *send* is chosen by
//! [`NumberMode`].

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use walletport_core::{Error, Result};

use crate::config::NumberMode;

/// A decimal sent as a string or a JSON number; `null` and `""` read as absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LooseDecimal(pub Option<Decimal>);

impl<'de> Deserialize<'de> for LooseDecimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LooseDecimal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number or a string holding one")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<LooseDecimal, E> {
                parse_decimal(v).map(LooseDecimal).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<LooseDecimal, E> {
                Ok(LooseDecimal(Some(Decimal::from(v))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<LooseDecimal, E> {
                Ok(LooseDecimal(Some(Decimal::from(v))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<LooseDecimal, E> {
                if !v.is_finite() {
                    return Err(E::custom("number is not finite"));
                }
                // Display prints the shortest text that reads back as the same f64, which is
                // exactly what the sender wrote for up to 15 significant digits.
                parse_decimal(&v.to_string())
                    .map(LooseDecimal)
                    .map_err(E::custom)
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<LooseDecimal, E> {
                Ok(LooseDecimal(None))
            }
            fn visit_none<E: de::Error>(self) -> std::result::Result<LooseDecimal, E> {
                Ok(LooseDecimal(None))
            }
        }
        d.deserialize_any(V)
    }
}

fn parse_decimal(text: &str) -> std::result::Result<Option<Decimal>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let t = t.replace(',', ".");
    Decimal::from_str(&t)
        .or_else(|_| Decimal::from_scientific(&t))
        .map(|d| Some(d.normalize()))
        .map_err(|_| format!("`{}` is not a decimal number", shorten(text)))
}

/// Text sent as a string, a number or a boolean (ids such as `remoteId` or `customerId` come
/// both ways); `null` and `""` read as absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LooseString(pub Option<String>);

impl LooseString {
    /// The trimmed text, if any.
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de> Deserialize<'de> for LooseString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LooseString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<LooseString, E> {
                let t = v.trim();
                Ok(LooseString((!t.is_empty()).then(|| t.to_owned())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<LooseString, E> {
                Ok(LooseString(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<LooseString, E> {
                Ok(LooseString(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<LooseString, E> {
                Ok(LooseString(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<LooseString, E> {
                Ok(LooseString(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<LooseString, E> {
                Ok(LooseString(None))
            }
            fn visit_none<E: de::Error>(self) -> std::result::Result<LooseString, E> {
                Ok(LooseString(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A flag sent as a boolean, `0`/`1`, `"true"`/`"false"`, or — where the document says
/// `//bool` next to "message about ..." — a non-empty message meaning true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LooseBool(pub Option<bool>);

impl<'de> Deserialize<'de> for LooseBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LooseBool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<LooseBool, E> {
                Ok(LooseBool(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<LooseBool, E> {
                Ok(LooseBool(Some(v != 0)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<LooseBool, E> {
                Ok(LooseBool(Some(v != 0)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<LooseBool, E> {
                Ok(LooseBool(Some(v != 0.0)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<LooseBool, E> {
                let t = v.trim().to_ascii_lowercase();
                Ok(LooseBool(Some(!matches!(
                    t.as_str(),
                    "" | "false" | "0" | "no"
                ))))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<LooseBool, E> {
                Ok(LooseBool(None))
            }
            fn visit_none<E: de::Error>(self) -> std::result::Result<LooseBool, E> {
                Ok(LooseBool(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Encodes a decimal the way the configured document version writes numbers.
///
/// In number mode, integral values become JSON integers (`100`) and others JSON floats (`3.5`);
/// a value a float cannot carry exactly (more than 15 significant digits) is rejected rather than
/// silently rounded.
pub fn encode_decimal(value: Decimal, mode: NumberMode) -> Result<Value> {
    match mode {
        // The caller's scale is kept: `3.50` goes out as "3.50", `100` as "100".
        NumberMode::String => Ok(Value::String(value.to_string())),
        NumberMode::Number => {
            let value = value.normalize();
            if value.fract().is_zero()
                && let Some(i) = value.to_i64()
            {
                return Ok(Value::from(i));
            }
            let float = value.to_f64().filter(|f| f.is_finite());
            let exact = float.and_then(|f| Decimal::from_str(&f.to_string()).ok()) == Some(value);
            match float.and_then(serde_json::Number::from_f64) {
                Some(n) if exact => Ok(Value::Number(n)),
                _ => Err(Error::invalid_input(format!(
                    "{value} cannot be sent as a JSON number without rounding (numbers = \"number\"); use numbers = \"string\""
                ))),
            }
        }
    }
}

/// `dd.mm.yyyy`, the outbound birthday format.
pub fn format_date(date: NaiveDate) -> String {
    date.format("%d.%m.%Y").to_string()
}

/// Reads a birthday as `dd.mm.yyyy` (outbound documents) or `yyyy-mm-dd` (the createCustomer hook).
pub fn parse_date(text: &str) -> Result<NaiveDate> {
    let t = text.trim();
    NaiveDate::parse_from_str(t, "%d.%m.%Y")
        .or_else(|_| NaiveDate::parse_from_str(t, "%Y-%m-%d"))
        .map_err(|_| {
            Error::invalid_input(format!(
                "`{}` is not a date (dd.mm.yyyy or yyyy-mm-dd)",
                shorten(text)
            ))
        })
}

/// At most 64 characters of untrusted text, for error messages.
pub(crate) fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

mod messages;

pub use messages::*;

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn loose_decimals_read_both_versions() {
        for (json, want) in [
            ("\"12.5\"", Some(dec!(12.5))),
            ("12.5", Some(dec!(12.5))),
            ("17.88", Some(dec!(17.88))),
            ("5", Some(dec!(5))),
            ("\"300.00\"", Some(dec!(300))),
            ("\"\"", None),
            ("null", None),
            ("\"1,5\"", Some(dec!(1.5))),
        ] {
            let got: LooseDecimal = serde_json::from_str(json).unwrap();
            assert_eq!(got.0, want, "{json}");
        }
        assert!(serde_json::from_str::<LooseDecimal>("\"abc\"").is_err());
        assert!(serde_json::from_str::<LooseDecimal>("[1]").is_err());
    }

    #[test]
    fn numbers_encode_per_mode() {
        let enc = |d, m| encode_decimal(d, m).unwrap();
        assert_eq!(enc(dec!(3.50), NumberMode::String), Value::from("3.50"));
        assert_eq!(enc(dec!(100), NumberMode::Number), serde_json::json!(100));
        assert_eq!(enc(dec!(3.50), NumberMode::Number), serde_json::json!(3.5));
        assert_eq!(enc(dec!(0.1), NumberMode::Number), serde_json::json!(0.1));
        assert!(encode_decimal(dec!(1234567890.1234567891), NumberMode::Number).is_err());
    }

    #[test]
    fn dates_both_ways() {
        let d = NaiveDate::from_ymd_opt(1980, 1, 25).unwrap();
        assert_eq!(format_date(d), "25.01.1980");
        assert_eq!(parse_date("25.01.1980").unwrap(), d);
        assert_eq!(parse_date("1980-01-25").unwrap(), d);
        assert!(parse_date("31.02.1980").is_err());
    }

    #[test]
    fn success_messages_count_as_true() {
        let r: UpsertResponse =
            serde_json::from_str(r#"{"success": "Customer created", "card": false}"#).unwrap();
        assert_eq!(r.success.0, Some(true));
        assert_eq!(r.card.0, Some(false));
    }
}
