//! Loading and checking the fixtures each adapter generates from its vendor reference
//! (`cargo xtask fixtures` writes `tests/fixtures/<operation>/<case>.<kind>.json` and an
//! `index.json` listing them).
//!
//! Each adapter's `tests/fixture_contract.rs` states its vendor's invariants over these files;
//! the loading, the index-against-disk check and the small JSON queries those invariants are
//! written with are the same for every vendor, so they live here once.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::Value;

/// One fixture, as listed in `index.json`, with its body read.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// `<operation>/<case>.<kind>`: the file's path below the fixture directory, sans `.json`.
    pub name: String,
    /// The vendor operation (endpoint or hook) it documents.
    pub operation: String,
    /// Which example of the operation it is (`schema`, `success`, `not-found`, ...).
    pub case: String,
    /// `request`, `response`, `error`, `hook`, `webhook` or `form`: which side of the call.
    pub kind: String,
    /// The JSON itself.
    pub body: Value,
}

impl Fixture {
    /// A vendor field list whose values are descriptions (case `schema`, `schema-…` or
    /// `…-schema`): only its keys are meaningful, so value checks skip it.
    pub fn is_schema(&self) -> bool {
        self.case == "schema" || self.case.starts_with("schema-") || self.case.ends_with("-schema")
    }
}

/// The fixture directory of the crate whose manifest directory is given: call it with
/// `env!("CARGO_MANIFEST_DIR")`, which only the adapter's own test can expand.
pub fn dir(manifest_dir: &str) -> PathBuf {
    Path::new(manifest_dir).join("tests/fixtures")
}

/// The JSON in `path`.
///
/// # Panics
///
/// When the file does not read or parse, naming it: a broken fixture fails the contract.
pub fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every fixture `dir/index.json` lists, bodies read.
///
/// # Panics
///
/// When the index or a listed file is missing or malformed, or an entry lacks a field.
pub fn load(dir: &Path) -> Vec<Fixture> {
    let index = read_json(&dir.join("index.json"));
    let entries = index["fixtures"]
        .as_array()
        .expect("index.json lists `fixtures`");
    entries
        .iter()
        .map(|e| {
            let field = |k: &str| {
                e[k].as_str()
                    .unwrap_or_else(|| panic!("index entry without {k}: {e}"))
                    .to_owned()
            };
            Fixture {
                body: read_json(&dir.join(field("file"))),
                name: field("name"),
                operation: field("operation"),
                case: field("case"),
                kind: field("kind"),
            }
        })
        .collect()
}

/// Asserts that `fixtures` (loaded from `dir`) are exactly the files in `dir`'s operation
/// folders: a file the index misses would never be checked, a listed one gone would be stale.
///
/// # Panics
///
/// When they disagree, or the directory does not read.
pub fn assert_index_matches_files(dir: &Path, fixtures: &[Fixture]) {
    let listed: BTreeSet<String> = fixtures
        .iter()
        .map(|f| format!("{}.json", f.name))
        .collect();
    let mut on_disk = BTreeSet::new();
    for sub in fs::read_dir(dir).expect("fixture dir") {
        let sub = sub.expect("entry").path();
        if sub.is_dir() {
            for file in fs::read_dir(&sub).expect("operation dir") {
                let file = file.expect("entry").path();
                let rel = file.strip_prefix(dir).expect("below");
                on_disk.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    assert_eq!(
        listed, on_disk,
        "index.json and the files disagree: run `cargo xtask fixtures`"
    );
}

/// A violation for each fixture whose kind is not among `kinds` (what `vendor` uses).
pub fn unknown_kinds(fixtures: &[Fixture], kinds: &[&str], vendor: &str) -> Vec<String> {
    fixtures
        .iter()
        .filter(|f| !kinds.contains(&f.kind.as_str()))
        .map(|f| format!("{}: kind `{}` is not used by {vendor}", f.name, f.kind))
        .collect()
}

/// A violation when `required` (the keys the reference documents for the fixture's operation and
/// kind, as dotted paths for [`lookup`]) is empty, and one for each of those keys the body lacks.
pub fn missing_keys(fixture: &Fixture, required: &[&str]) -> Vec<String> {
    let f = fixture;
    if required.is_empty() {
        return vec![format!(
            "{}: no documented shape for {} {}",
            f.name, f.operation, f.kind
        )];
    }
    required
        .iter()
        .filter(|key| lookup(&f.body, key).is_none())
        .map(|key| format!("{}: missing `{key}`", f.name))
        .collect()
}

/// Asserts there are no violations, listing them all: one run shows every broken fixture.
///
/// # Panics
///
/// When `violations` is not empty.
pub fn check(violations: Vec<String>) {
    assert!(
        violations.is_empty(),
        "contract violations:\n{}",
        violations.join("\n")
    );
}

/// Every value stored under `key`, at any depth: vendors put the same field (a phone, a date)
/// in several blocks, and each must satisfy the field's rule.
pub fn values_of<'a>(value: &'a Value, key: &str) -> Vec<&'a Value> {
    fn walk<'a>(value: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    if k == key {
                        out.push(v);
                    }
                    walk(v, key, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, key, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, key, &mut out);
    out
}

/// The value at a dotted path (`customer.phone`), as the references name required keys.
pub fn lookup<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(body, |v, k| v.get(k))
}

/// E.164 syntax: `+`, a country code not starting with 0, 8 to 15 digits in all.
///
/// Deliberately syntactic: the vendors' example numbers (`+420000000000`) are well-formed but
/// not assigned, and libphonenumber rejects some of them.
pub fn is_e164(text: &str) -> bool {
    text.strip_prefix('+').is_some_and(is_international_digits)
}

/// The digits of an E.164 number without its `+`, as some vendors write phones.
pub fn is_international_digits(digits: &str) -> bool {
    (8..=15).contains(&digits.len())
        && !digits.starts_with('0')
        && digits.chars().all(|c| c.is_ascii_digit())
}

/// A `dd.mm.yyyy` date that exists (the vendors' birthday and expiry form).
pub fn is_dd_mm_yyyy(text: &str) -> bool {
    text.len() == 10 && NaiveDate::parse_from_str(text, "%d.%m.%Y").is_ok()
}

/// A `dd.mm.yyyy HH:MM:SS` timestamp that exists (the vendors' created/updated form).
pub fn is_dd_mm_yyyy_hh_mm_ss(text: &str) -> bool {
    text.len() == 19 && NaiveDateTime::parse_from_str(text, "%d.%m.%Y %H:%M:%S").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised() {
        assert!(is_e164("+420000000001"));
        assert!(!is_e164("420000000001") && !is_e164("+0420000000") && !is_e164("+1234567"));
        assert!(is_international_digits("420000000001"));
        assert!(is_dd_mm_yyyy("25.01.1980") && !is_dd_mm_yyyy("31.02.2001"));
        assert!(is_dd_mm_yyyy_hh_mm_ss("13.02.2020 12:22:57"));
        assert!(!is_dd_mm_yyyy_hh_mm_ss("31.02.2020 25:61:61"));
    }

    #[test]
    fn values_and_paths_are_found_at_any_depth() {
        let body =
            serde_json::json!({"phone": 1, "customer": {"phone": 2, "cards": [{"phone": 3}]}});
        assert_eq!(values_of(&body, "phone").len(), 3);
        assert_eq!(lookup(&body, "customer.phone"), Some(&Value::from(2)));
        assert_eq!(lookup(&body, "customer.email"), None);
    }
}
