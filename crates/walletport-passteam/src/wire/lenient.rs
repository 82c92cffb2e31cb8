//! The lenient field decoders of [`crate::wire`], as serde visitors.
//!
//! Each one gives exactly what "decode a `serde_json::Value`, then apply
//! [`value_text`](super::value_text) / [`bool_of`](super::bool_of) / the counter rule" gives (the
//! original implementation, kept as the reference in the tests below), but reads scalars straight
//! from the parser: a string is copied once instead of being allocated as a `Value` and cloned.
//! Arrays and objects still go through `Value` (a nested value is printed as JSON text, and the
//! parser must check it exactly as before: nesting depth, number range, escapes).

use std::fmt;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

/// Text of any value: strings as they are, numbers and flags printed, `null` → `None`, arrays
/// and objects as compact JSON.
pub(crate) struct Text;

impl<'de> Visitor<'de> for Text {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Number::from(v).to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Number::from(v).to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // `Value` turns a non-finite float into `null`.
        Ok(Number::from_f64(v).map(|n| n.to_string()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(|v| super::value_text(&v))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(|v| super::value_text(&v))
    }
}

/// A flag per [`bool_of`](super::bool_of): `true`/`false`, numbers (non-zero is true), and the
/// strings `1`/`0`/`true`/`false`/`yes`/`no`/empty; anything else → `None`.
pub(crate) struct Flag;

impl<'de> Visitor<'de> for Flag {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v != 0))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v != 0))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Number::from_f64(v).map(|_| v != 0.0))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        let v = v.trim();
        let is = |words: &[&str]| words.iter().any(|w| v.eq_ignore_ascii_case(w));
        Ok(if is(&["1", "true", "yes"]) {
            Some(true)
        } else if is(&["0", "false", "no", ""]) {
            Some(false)
        } else {
            None
        })
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(|_| None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(|v| super::bool_of(&v))
    }
}

/// A counter: a non-negative integer or a string holding one; anything else → `None`.
pub(crate) struct Counter;

impl<'de> Visitor<'de> for Counter {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).ok())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.trim().parse().ok())
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(|_| None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(|v| counter_of(&v))
    }
}

/// The counter rule on a decoded value (`Value` deserialization may turn an object into any
/// value: serde_json's private number/raw-value keys).
fn counter_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserializer as _;
    use serde_json::Value;

    use super::*;
    use crate::wire::{bool_of, value_text};

    /// Inputs with every JSON type and the lenient forms of the document.
    const SAMPLES: &[&str] = &[
        "null",
        "true",
        "false",
        "0",
        "1",
        "-1",
        "-0",
        "2.5",
        "-0.0",
        "1e3",
        "0.0",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "123456789012345678901234567890",
        r#""""#,
        r#"" 1 ""#,
        r#""TRUE""#,
        r#""Yes""#,
        r#""no""#,
        r#""0""#,
        r#""x""#,
        r#"" 42 ""#,
        r#""-3""#,
        r#""\u0041\n""#,
        "[]",
        "[1,\"a\"]",
        "{}",
        r#"{"a":1,"b":[true,null]}"#,
        r#"{"$serde_json::private::RawValue":"17"}"#,
        r#"{"$serde_json::private::RawValue":"\"5\""}"#,
        r#""Иван""#,
    ];

    fn both<T: PartialEq + std::fmt::Debug>(
        text: &str,
        visit: impl Fn(
            &mut serde_json::Deserializer<serde_json::de::StrRead<'_>>,
        ) -> serde_json::Result<T>,
        reference: impl Fn(&Value) -> T,
    ) {
        let mut d = serde_json::Deserializer::from_str(text);
        let fast = visit(&mut d).map_err(|e| e.to_string());
        let slow = serde_json::from_str::<Value>(text)
            .map(|v| reference(&v))
            .map_err(|e| e.to_string());
        assert_eq!(fast.is_ok(), slow.is_ok(), "{text}: {fast:?} vs {slow:?}");
        if let (Ok(f), Ok(s)) = (fast, slow) {
            assert_eq!(f, s, "{text}");
        }
    }

    #[test]
    fn visitors_match_the_value_reference() {
        for text in SAMPLES {
            both(text, |d| d.deserialize_any(Text), value_text);
            both(text, |d| d.deserialize_any(Flag), bool_of);
            both(text, |d| d.deserialize_any(Counter), counter_of);
        }
    }

    #[test]
    fn visitors_match_the_value_reference_from_a_value() {
        for text in SAMPLES {
            let Ok(v) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            assert_eq!(v.clone().deserialize_any(Text).ok(), Some(value_text(&v)));
            assert_eq!(v.clone().deserialize_any(Flag).ok(), Some(bool_of(&v)));
            assert_eq!(
                v.clone().deserialize_any(Counter).ok(),
                Some(counter_of(&v))
            );
        }
    }
}
