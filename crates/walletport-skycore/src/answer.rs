//! Reading Skycore answers in one pass over the bytes: the envelope (`status`, `error-code`,
//! `error-message`) plus only the members a call needs, with borrowed keys and scalars.
//!
//! Why: decoding a whole answer into a `serde_json::Map` (and, with `#[serde(flatten)]`, first
//! into serde's `Content` buffer) allocated every key and value twice, which made the pass and
//! template answers the slowest part of the adapter (`docs/benchmarks.md`, section 1). What is
//! accepted and refused is unchanged: members the call does not use are still fully validated
//! (UTF-8, escapes, number ranges, nesting), only not stored; a repeated key keeps its last value
//! as a map would.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON key or string, borrowed from the body when it contains no escape.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Any JSON value, checked exactly as parsing it into a [`Value`] would, and dropped.
pub(crate) struct Skip;

impl<'de> ObjectOr<'de> for Skip {
    const OTHER: Self = Skip;
    fn object<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        while map.next_key::<Key<'de>>()?.is_some() {
            map.next_value::<Skip>()?;
        }
        Ok(Skip)
    }
}

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyValue(PhantomData))
    }
}

/// What [`AnyValue`] reads a JSON value into: an object its own way, anything else (checked,
/// then dropped) as [`OTHER`](Self::OTHER). Shared by [`Skip`] and [`Entries`], which differ
/// only in what they keep of an object.
trait ObjectOr<'de>: Sized + Deserialize<'de> {
    /// Any value but an object.
    const OTHER: Self;
    /// An object, from its members.
    fn object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// The visitor of an [`ObjectOr`] type.
struct AnyValue<T>(PhantomData<T>);

impl<'de, T: ObjectOr<'de>> Visitor<'de> for AnyValue<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<T, E> {
        Ok(T::OTHER)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<T, E> {
        Ok(T::OTHER)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<T, E> {
        Ok(T::OTHER)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<T, E> {
        Ok(T::OTHER)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<T, E> {
        Ok(T::OTHER)
    }
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::OTHER)
    }
    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::OTHER)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        T::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(T::OTHER)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::object(map)
    }
}

/// A member value: scalars kept cheaply (strings borrowed), anything else as a [`Value`].
pub(crate) enum Lv<'de> {
    /// A string.
    Str(Cow<'de, str>),
    /// A number.
    Num(Number),
    /// A boolean.
    Bool(bool),
    /// `null`, an array or an object.
    Other(Value),
}

impl Lv<'_> {
    /// The value as text, as [`crate::wire::text`] reads it.
    pub(crate) fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Lv::Str(s) => Some(Cow::Borrowed(s)),
            Lv::Num(n) => Some(Cow::Owned(n.to_string())),
            Lv::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Lv::Other(_) => None,
        }
    }

    /// The value as an owned JSON value.
    pub(crate) fn into_value(self) -> Value {
        match self {
            Lv::Str(s) => Value::String(s.into_owned()),
            Lv::Num(n) => Value::Number(n),
            Lv::Bool(b) => Value::Bool(b),
            Lv::Other(v) => v,
        }
    }
}

impl<'de> Deserialize<'de> for Lv<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Lv<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
                Ok(Lv::Bool(b))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
                Ok(Lv::Num(n.into()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                Ok(Lv::Num(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
                Ok(Number::from_f64(n).map_or(Lv::Other(Value::Null), Lv::Num))
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Lv::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Lv::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(Lv::Str(Cow::Owned(s)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lv::Other(Value::Null))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lv::Other(Value::Null))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                Lv::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Lv::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Lv::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// An object member read as its entries (keys and scalars borrowed), or a note that it was not
/// an object.
pub(crate) enum Entries<'de> {
    /// The entries in document order (repeated keys included).
    Object(Vec<(Key<'de>, Lv<'de>)>),
    /// `null`, a scalar or an array.
    NotObject,
}

impl<'de> Entries<'de> {
    /// The entries sorted by key, a repeated key keeping its last value: the order and content
    /// a `serde_json::Map` of the object would iterate.
    pub(crate) fn into_sorted(self) -> Option<Vec<(Key<'de>, Lv<'de>)>> {
        let Entries::Object(mut entries) = self else {
            return None;
        };
        // Stable: equal keys stay in document order, so the last one is the one kept.
        entries.sort_by(|a, b| a.0.0.cmp(&b.0.0));
        let mut out: Vec<(Key<'de>, Lv<'de>)> = Vec::with_capacity(entries.len());
        for e in entries {
            match out.last_mut() {
                Some(last) if last.0.0 == e.0.0 => *last = e,
                _ => out.push(e),
            }
        }
        Some(out)
    }
}

impl<'de> ObjectOr<'de> for Entries<'de> {
    const OTHER: Self = Entries::NotObject;
    fn object<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(32));
        while let Some(k) = map.next_key::<Key<'de>>()? {
            entries.push((k, map.next_value::<Lv<'de>>()?));
        }
        Ok(Entries::Object(entries))
    }
}

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyValue(PhantomData))
    }
}

/// What a call keeps of an answer's members besides the envelope.
pub(crate) trait Members<'de> {
    /// Reads (or skips) the value of member `key`.
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// Every member, as a map (what [`crate::wire::Envelope::rest`] holds).
impl<'de> Members<'de> for Map<String, Value> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let v = map.next_value::<Value>()?;
        self.insert(key.to_owned(), v);
        Ok(())
    }
}

/// The members named `N` keys, each as a cheap [`Lv`]; everything else is skipped.
pub(crate) struct Picked<'de, const N: usize> {
    keys: [&'static str; N],
    values: [Option<Lv<'de>>; N],
}

impl<'de, const N: usize> Picked<'de, N> {
    /// Picks the members `keys`.
    pub(crate) fn new(keys: [&'static str; N]) -> Self {
        Self {
            keys,
            values: std::array::from_fn(|_| None),
        }
    }

    /// Member `key` (one of the picked) as text.
    pub(crate) fn text(&self, key: &str) -> Option<String> {
        let i = self.keys.iter().position(|k| *k == key)?;
        self.values[i]
            .as_ref()
            .and_then(Lv::text)
            .map(Cow::into_owned)
    }
}

impl<'de, const N: usize> Members<'de> for Picked<'de, N> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match self.keys.iter().position(|k| *k == key) {
            Some(i) => self.values[i] = Some(map.next_value::<Lv<'de>>()?),
            None => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

/// One object member read as its [`Entries`] beside the picked scalars: what the `getpassdata`
/// (`pass-data`) and `getpasstemplate` (`pass-template`) answers keep.
pub(crate) struct PickedObject<'de, const N: usize> {
    object_key: &'static str,
    /// The object member, when the answer has it.
    pub(crate) object: Option<Entries<'de>>,
    /// The scalar members.
    pub(crate) picked: Picked<'de, N>,
}

impl<const N: usize> PickedObject<'_, N> {
    /// Reads member `object_key` as entries and picks the members `keys`.
    pub(crate) fn new(object_key: &'static str, keys: [&'static str; N]) -> Self {
        Self {
            object_key,
            object: None,
            picked: Picked::new(keys),
        }
    }
}

impl<'de, const N: usize> Members<'de> for PickedObject<'de, N> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if key == self.object_key {
            self.object = Some(map.next_value()?);
            Ok(())
        } else {
            self.picked.member(key, map)
        }
    }
}

/// A decoded answer: the envelope and the members the call kept.
pub(crate) struct Answer<M> {
    /// `status`.
    pub(crate) status: Option<String>,
    /// `error-code`.
    pub(crate) error_code: Option<Value>,
    /// `error-message`.
    pub(crate) error_message: Option<String>,
    /// The call's own members.
    pub(crate) members: M,
}

/// Decodes an answer into `members`, with the rules the derived `Envelope` had: an object;
/// `status` and `error-message` strings or `null`, each at most once.
pub(crate) struct AnswerSeed<M>(pub(crate) M);

impl<'de, M: Members<'de>> DeserializeSeed<'de> for AnswerSeed<M> {
    type Value = Answer<M>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Answer<M>, D::Error> {
        struct V<'de, M>(M, PhantomData<&'de ()>);
        impl<'de, M: Members<'de>> Visitor<'de> for V<'de, M> {
            type Value = Answer<M>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Skycore answer object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Answer<M>, A::Error> {
                let mut members = self.0;
                let mut status: Option<Option<String>> = None;
                let mut code: Option<Option<Value>> = None;
                let mut message: Option<Option<String>> = None;
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    match key.0.as_ref() {
                        "status" if status.is_some() => {
                            return Err(de::Error::duplicate_field("status"));
                        }
                        "status" => status = Some(map.next_value()?),
                        "error-code" if code.is_some() => {
                            return Err(de::Error::duplicate_field("error-code"));
                        }
                        "error-code" => code = Some(map.next_value()?),
                        "error-message" if message.is_some() => {
                            return Err(de::Error::duplicate_field("error-message"));
                        }
                        "error-message" => message = Some(map.next_value()?),
                        other => members.member(other, &mut map)?,
                    }
                }
                Ok(Answer {
                    status: status.flatten(),
                    error_code: code.flatten(),
                    error_message: message.flatten(),
                    members,
                })
            }
        }
        d.deserialize_map(V(self.0, PhantomData))
    }
}

/// Decodes `body` as an answer keeping `members`; `None` when it is not one (as before: not
/// JSON, not an object, trailing bytes, a malformed envelope field).
pub(crate) fn decode<'de, M: Members<'de>>(body: &'de [u8], members: M) -> Option<Answer<M>> {
    // A body that parses is UTF-8 throughout (bytes outside strings are JSON syntax, strings are
    // checked), so checking it once up front refuses nothing more and spares a check per string.
    let text = std::str::from_utf8(body).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    let answer = AnswerSeed(members).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(answer)
}
