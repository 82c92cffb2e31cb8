//! Structure-aware JSON generators for the adapters' proptest fuzz tests (`tests/fuzz_*.rs`).
//!
//! Random bytes rarely get past a parser's first `serde_json::from_slice`, so each adapter also
//! fuzzes with JSON that looks like its vendor's: objects whose keys are mostly the real ones
//! ([`Vocabulary::keys`]) holding random value types, strings taken from the parsers' edges
//! ([`Vocabulary::edge_strings`]), and the documented answers with random values swapped in at
//! random places ([`mutated`]). The vendor-specific parts (keys, edge strings, the fixture
//! directory, the properties checked) stay in each adapter's test; the machinery lives here once.

use std::path::Path;

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Number, Value};

/// Strings on every JSON parser's edge, whatever the vendor: empty, blank, an `f64` overflow,
/// a non-number that looks like one and a NUL byte. [`edge_string`] adds them to each vendor's.
pub const COMMON_EDGE_STRINGS: &[&str] = &["", " ", "1e308", "NaN", "\u{0}"];

/// What a vendor's JSON is made of, so generated bodies reach past the parser's first checks.
#[derive(Debug, Clone, Copy)]
pub struct Vocabulary {
    /// The keys the vendor's bodies use; generated objects mostly pick from these.
    pub keys: &'static [&'static str],
    /// A regex for the other keys (unknown to the parser), in the vendor's spelling style.
    pub other_keys: &'static str,
    /// Vendor strings that sit on the parsers' edges (flags, codes, dates, messages), on top of
    /// [`COMMON_EDGE_STRINGS`].
    pub edge_strings: &'static [&'static str],
}

/// How many keys `parts` hold together: the length [`joined_keys`] needs (see
/// [`keys!`](crate::keys)).
pub const fn key_count(parts: &[&[&'static str]]) -> usize {
    let mut count = 0;
    let mut p = 0;
    while p < parts.len() {
        count += parts[p].len();
        p += 1;
    }
    count
}

/// The keys of `parts` one after another, in order, as one list: so that an adapter's key lists
/// can share the runs of keys they have in common (a card's keys in answers and in hooks) and
/// still keep each list's order, which the fuzz corpus depends on. Use it through
/// [`keys!`](crate::keys), which works `N` out.
///
/// # Panics
///
/// At compile time, when `N` is not [`key_count`]`(parts)`.
pub const fn joined_keys<const N: usize>(parts: &[&[&'static str]]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut at = 0;
    let mut p = 0;
    while p < parts.len() {
        let mut i = 0;
        while i < parts[p].len() {
            out[at] = parts[p][i];
            at += 1;
            i += 1;
        }
        p += 1;
    }
    assert!(at == N, "N is the number of keys in the parts");
    out
}

/// One `&'static [&'static str]` key list made of the given lists (slices of key literals or
/// shared constants) one after another, evaluated at compile time, for a [`Vocabulary`]'s keys:
///
/// ```
/// const CARD: &[&str] = &["cardId", "cardUrl"];
/// const KEYS: &[&str] = walletport_testkit::keys![&["webhookId", "event"], CARD, &["updated"]];
/// assert_eq!(KEYS, ["webhookId", "event", "cardId", "cardUrl", "updated"]);
/// ```
#[macro_export]
macro_rules! keys {
    ($($part:expr),+ $(,)?) => {{
        const PARTS: &[&[&str]] = &[$($part),+];
        const KEYS: [&str; $crate::fuzz::key_count(PARTS)] = $crate::fuzz::joined_keys(PARTS);
        &KEYS
    }};
}

/// How nested and wide generated JSON is, and how often an object key is a real one.
#[derive(Debug, Clone, Copy)]
pub struct Nesting {
    /// Levels of arrays/objects at the most (`prop_recursive`'s depth).
    pub depth: u32,
    /// The total number of nodes aimed at (`prop_recursive`'s desired size).
    pub size: u32,
    /// Items per collection expected (`prop_recursive`'s expected branch size).
    pub branch: u32,
    /// Odds of a real key ([`Vocabulary::keys`]) against one other key.
    pub real_key_weight: u32,
}

impl Nesting {
    /// The nesting of vendor answers: deeper than hook bodies, since answers nest
    /// customers/cards/templates inside envelopes.
    pub const ANSWERS: Nesting = Nesting {
        depth: 4,
        size: 48,
        branch: 8,
        real_key_weight: 5,
    };
    /// The nesting of hook and webhook bodies: a customer or a card inside one envelope, so
    /// shallower and smaller than answers.
    pub const HOOKS: Nesting = Nesting {
        depth: 3,
        size: 40,
        ..Nesting::ANSWERS
    };
}

/// A proptest configuration of `cases` cases, the rest proptest's default (the environment's
/// overrides included): what each fuzz test's `#![proptest_config]` names, so a count is one number.
pub fn cases(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Arbitrary bytes, fewer than `max`: the input that must never get past a parser unchecked.
pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// A string from the edges (the vendor's and [`COMMON_EDGE_STRINGS`]) or any short text; the
/// same odds for both, so the edges are hit often without starving the arbitrary text.
pub fn edge_string(vendor: &'static [&'static str]) -> impl Strategy<Value = String> {
    let edges: Vec<&'static str> = COMMON_EDGE_STRINGS.iter().chain(vendor).copied().collect();
    prop_oneof![
        prop::sample::select(edges).prop_map(str::to_owned),
        ".{0,24}",
    ]
}

/// Any JSON scalar: null, a bool, an `i64`, a finite `f64` (non-finite ones become null, as
/// `serde_json` cannot hold them) or an [`edge_string`], each equally likely.
pub fn scalar(edge_strings: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        edge_string(edge_strings).prop_map(Value::String),
    ]
}

/// Any JSON shaped like the vendor's answers: [`scalar`] leaves, arrays, and objects whose keys
/// are mostly real, nested as [`Nesting::ANSWERS`].
pub fn keyed_json(vocabulary: Vocabulary) -> impl Strategy<Value = Value> {
    keyed_json_with(
        vocabulary,
        scalar(vocabulary.edge_strings),
        Nesting::ANSWERS,
    )
}

/// [`keyed_json`] with the caller's leaves and nesting, for bodies other than answers (hooks,
/// webhooks) that want other scalars or a flatter shape.
pub fn keyed_json_with<S>(
    vocabulary: Vocabulary,
    leaf: S,
    nesting: Nesting,
) -> impl Strategy<Value = Value>
where
    S: Strategy<Value = Value> + 'static,
{
    leaf.prop_recursive(nesting.depth, nesting.size, nesting.branch, move |inner| {
        let key = prop_oneof![
            nesting.real_key_weight => prop::sample::select(vocabulary.keys).prop_map(str::to_owned),
            1 => vocabulary.other_keys,
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// The documented answers below `dir` (`<operation>/<case>.response.json` and `*.error.json`),
/// the seeds for [`mutated`]. Unreadable files are skipped: [`mutated`] insists on a non-empty
/// list, and each adapter's `fixture_contract` test checks every file reads.
pub fn documented_answers(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for op in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(op.path()).into_iter().flatten().flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            if name.ends_with(".response.json") || name.ends_with(".error.json") {
                let text = std::fs::read_to_string(file.path()).unwrap_or_default();
                if let Ok(v) = serde_json::from_str(&text) {
                    out.push(v);
                }
            }
        }
    }
    out
}

/// Every node's path in `v` (object keys as strings, array indexes as numbers), pre-order and
/// starting with the root's empty path: the places [`mutated`] can swap a value in.
pub fn paths(v: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(prefix.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                prefix.push(Value::from(k.as_str()));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                prefix.push(Value::from(i));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// The node at `path` (as [`paths`] spells it), if it is still there.
pub fn node_mut<'a>(v: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |node, seg| match seg {
        Value::String(k) => node.get_mut(k.as_str()),
        Value::Number(i) => node.get_mut(usize::try_from(i.as_u64()?).ok()?),
        _ => None,
    })
}

/// One of `seeds` with one to four nodes (the root included) replaced by values from `edit`:
/// documented answers that are almost right, which is where parsers go wrong.
///
/// # Panics
///
/// When `seeds` is empty (the fixtures did not read): the test would otherwise pass vacuously.
pub fn mutated<S>(seeds: Vec<Value>, edit: S) -> impl Strategy<Value = Value>
where
    S: Strategy<Value = Value>,
{
    assert!(!seeds.is_empty(), "the fixtures are readable");
    (
        prop::sample::select(seeds),
        prop::collection::vec((any::<Index>(), edit), 1..5),
    )
        .prop_map(|(mut v, edits)| {
            for (at, new) in edits {
                let mut all_paths = Vec::new();
                paths(&v, &mut Vec::new(), &mut all_paths);
                let path = at.get(&all_paths).clone();
                if let Some(node) = node_mut(&mut v, &path) {
                    *node = new;
                }
            }
            v
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_keys_keep_every_key_in_order() {
        const A: &[&str] = &["a", "b"];
        const KEYS: &[&str] = crate::keys![A, &[], &["c"], A];
        assert_eq!(KEYS, ["a", "b", "c", "a", "b"]);
    }

    #[test]
    fn every_path_leads_back_to_its_node() {
        let mut v = serde_json::json!({"a": [1, {"b": null}], "c": {"d": "x"}});
        let mut all = Vec::new();
        paths(&v, &mut Vec::new(), &mut all);
        assert_eq!(all.len(), 7, "root, a, a[0], a[1], a[1].b, c, c.d");
        for path in &all {
            assert!(node_mut(&mut v, path).is_some(), "{path:?}");
        }
    }

    #[test]
    fn edge_strings_include_the_common_ones() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = edge_string(&["vendor"]);
        let seen: std::collections::BTreeSet<String> = (0..2000)
            .filter_map(|_| {
                use proptest::strategy::ValueTree;
                strategy.new_tree(&mut runner).ok().map(|t| t.current())
            })
            .collect();
        for s in COMMON_EDGE_STRINGS.iter().chain(&["vendor"]) {
            assert!(seen.contains(*s), "{s:?} never generated");
        }
    }
}
