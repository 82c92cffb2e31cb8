//! The fast path of the card and template parsers: one decode of the answer instead of two.
//!
//! The reference path ([`super::parse_envelope`] + [`super::result_as`]) decodes the body into a
//! `serde_json::Value` envelope and then the `result` `Value` into the wire struct: every key and
//! string is allocated twice and the `BTreeMap`s are built only to be taken apart. Here the
//! envelope is decoded with `result` borrowed as raw JSON text, the text is checked once without
//! allocating ([`Check`]: the same tokens, number range, escapes and nesting limit the `Value`
//! decoder enforces, plus the top-level keys the parsers branch on), and the wire struct is then
//! decoded straight from that text.
//!
//! A fast-path function answers `None` whenever it is not certain to give what the reference
//! path gives (a body the raw decoder rejects, a result that does not pass the check, a shape
//! with special handling, a struct that fails to decode, e.g. on a duplicate key, which `Value`
//! resolves last-wins), and the caller then runs the reference path. So the fast path only ever
//! returns answers the reference path returns too; `tests/fuzz_responses.rs` and the fixture
//! snapshots pin that.

use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use walletport_core::Result;
use walletport_http::HttpResponse;

use super::OnDuplicate;
use super::errors::{EnvelopeFields, fields_error};
use crate::wire::{lenient_bool, lenient_string, lenient_u64};

/// Deeper results go to the reference path (its `Value` decoder stops at 127 levels under the
/// envelope; the margin keeps the check simple).
const MAX_DEPTH: u16 = 100;

/// Object keys with which serde_json's `Value` decoder does something other than build an
/// object (its private number and raw-value markers); a result holding one takes the
/// reference path.
const MARKERS: [&str; 2] = [
    "$serde_json::private::RawValue",
    "$serde_json::private::Number",
];

/// The envelope as the fast path reads it: `result` as borrowed text.
#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(default, borrow)]
    result: Option<&'a RawValue>,
    #[serde(default, deserialize_with = "lenient_string")]
    message: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    code: Option<u64>,
    #[serde(default, deserialize_with = "lenient_bool")]
    error: Option<bool>,
}

/// The top level of a checked `result`, for the parsers' branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `null` (or no `result` at all).
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An array of this many elements.
    Array(usize),
    /// An object, and whether it has the keys `card` and `cardId` (at any value).
    Object {
        /// Has a `card` key.
        card: bool,
        /// Has a `cardId` key.
        card_id: bool,
    },
    /// A number or a string.
    Scalar,
}

/// A successful answer's `result`: raw JSON text the `Value` decoder accepts, and its shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawResult<'a> {
    /// The text, borrowed from the body.
    pub text: &'a str,
    /// Its top level.
    pub shape: Shape,
}

/// The envelope check of [`super::parse_envelope`] with `result` kept as text: `Some(Err)` with
/// the same error for a failed answer, `Some(Ok)` for a success, `None` when only the
/// reference path can tell.
pub(crate) fn envelope(
    resp: &HttpResponse,
    on_duplicate: OnDuplicate,
) -> Option<Result<RawResult<'_>>> {
    let env: RawEnvelope<'_> = serde_json::from_slice(&resp.body).ok()?;
    let text = env.result.map_or("null", RawValue::get);
    let shape = check(text)?;
    let fields = EnvelopeFields {
        code: env.code,
        error: env.error,
        message: env.message.as_deref(),
    };
    Some(match fields_error(resp, &fields, on_duplicate) {
        Some(error) => Err(error),
        None => Ok(RawResult { text, shape }),
    })
}

/// Decodes checked result text (or an element of it) into `T`; `None` when it does not fit.
pub(crate) fn decode<'a, T: Deserialize<'a>>(text: &'a str) -> Option<T> {
    serde_json::from_str(text).ok()
}

/// The shape of `text` if the `Value` decoder accepts it, else `None`.
fn check(text: &str) -> Option<Shape> {
    let mut d = serde_json::Deserializer::from_str(text);
    let shape = Check { depth: 0 }.deserialize(&mut d).ok()?;
    d.end().ok()?;
    Some(shape)
}

/// Walks a value as the `Value` decoder does (`deserialize_any` all the way down), allocating
/// nothing; fails past [`MAX_DEPTH`] or on a [`MARKERS`] key.
#[derive(Clone, Copy)]
struct Check {
    depth: u16,
}

impl Check {
    fn nested<E: serde::de::Error>(self) -> Result<Self, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom("nested too deep for the fast path"));
        }
        Ok(Self {
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Check {
    type Value = Shape;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Shape, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Shape, E> {
        Ok(Shape::Bool(v))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }

    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }

    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        let inner = self.nested()?;
        let mut len = 0;
        while seq.next_element_seed(inner)?.is_some() {
            len += 1;
        }
        Ok(Shape::Array(len))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let inner = self.nested()?;
        let (mut card, mut card_id) = (false, false);
        while let Some(key) = map.next_key_seed(Key)? {
            match key {
                KeyKind::Card => card = true,
                KeyKind::CardId => card_id = true,
                KeyKind::Marker => {
                    return Err(serde::de::Error::custom("serde_json marker key"));
                }
                KeyKind::Other => {}
            }
            map.next_value_seed(inner)?;
        }
        Ok(Shape::Object { card, card_id })
    }
}

/// What an object key is to [`Check`].
enum KeyKind {
    Card,
    CardId,
    Marker,
    Other,
}

/// Reads an object key (as a string, like the `Value` decoder) and classifies it.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = KeyKind;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<KeyKind, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = KeyKind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, v: &str) -> Result<KeyKind, E> {
        Ok(match v {
            "card" => KeyKind::Card,
            "cardId" => KeyKind::CardId,
            _ if MARKERS.contains(&v) => KeyKind::Marker,
            _ => KeyKind::Other,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn check_accepts_exactly_what_value_accepts_within_the_depth() {
        let deep = format!("{}{}", "[".repeat(120), "]".repeat(120));
        for text in [
            "null",
            "true",
            "1e400",
            "-0",
            r#"["\ud800"]"#,
            r#"["\ud83d\ude00"]"#,
            r#"{"a":1,"a":2}"#,
            r#"{"card":{},"cardId":null}"#,
            r#"{"x":"\u0000\t"}"#,
            "[1,]",
            r#"{"$serde_json::private::RawValue":"1"}"#,
            r#"{"k":{"$serde_json::private::Number":"1"}}"#,
            &deep,
        ] {
            let value = serde_json::from_str::<Value>(text).is_ok();
            match check(text) {
                Some(_) => assert!(value, "{text}: the check passes what Value rejects"),
                None => assert!(
                    !value || text.contains("private") || text == deep,
                    "{text}: rejected for no reason"
                ),
            }
        }
        assert_eq!(
            check(r#"{"card":{},"cardId":null}"#),
            Some(Shape::Object {
                card: true,
                card_id: true
            })
        );
        assert_eq!(check("[1,2]"), Some(Shape::Array(2)));
    }
}

#[cfg(test)]
mod differential;
