//! The template each pass was issued with, as far as this process has seen: Skycore's
//! `getpassdata` and `updatepassdata` need the pass's own `pass-template-id`, and a pass issued
//! under another template than the configured one is not found with the configured id.
//!
//! Entries come from the issue answer (the template sent with `generatepass`) and from every
//! `getpassdata` answer (its `pass-template-id`). Only passes outside the configured template are
//! kept, and at most [`CAPACITY`] of them: when full the book starts over (a later read of a
//! forgotten pass falls back to the configured template, as before the book existed).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// The most passes remembered.
pub(crate) const CAPACITY: usize = 65_536;

/// pass-id → template id, for passes outside the configured template.
#[derive(Debug, Default)]
pub(crate) struct TemplateBook {
    entries: Mutex<HashMap<String, String>>,
}

impl TemplateBook {
    /// The template recorded for `pass_id`, else `default`.
    pub(crate) fn template_of(&self, pass_id: &str, default: &str) -> String {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(pass_id)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }

    /// Records that `pass_id` lives in `template_id` (forgets it when that is `default`).
    pub(crate) fn record(&self, pass_id: &str, template_id: &str, default: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if template_id == default {
            entries.remove(pass_id);
            return;
        }
        if entries.len() >= CAPACITY && !entries.contains_key(pass_id) {
            entries.clear();
        }
        entries.insert(pass_id.to_owned(), template_id.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_other_templates() {
        let book = TemplateBook::default();
        assert_eq!(book.template_of("p", "main"), "main");
        book.record("p", "other", "main");
        assert_eq!(book.template_of("p", "main"), "other");
        book.record("p", "main", "main");
        assert_eq!(book.template_of("p", "main"), "main");
    }
}
