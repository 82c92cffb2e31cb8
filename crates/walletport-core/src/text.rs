//! What every stored text must satisfy on every backend.
//!
//! PostgreSQL cannot store a NUL character (`'\0'`) in `TEXT` or `JSONB` at all, while SQLite
//! stores it; so the same input would be kept by one backend and be a database error (an HTTP
//! 500) on the other. Every free-text value that reaches a store is therefore checked here, once,
//! and refused as [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) before anything
//! is written. Fields that refuse every control character already refuse NUL; this is for text
//! that may hold other control characters (a note with line breaks) and for text the caller
//! does not shape at all.

use crate::error::Error;

/// Refuses `text` that a database cannot store (a NUL character), naming `what` — the field,
/// never its value, so no secret or unprintable input is echoed in the error.
pub fn check_storable(what: &str, text: &str) -> Result<(), Error> {
    if text.contains('\0') {
        return Err(Error::invalid_input(format!(
            "{what} contains a NUL character, which cannot be stored"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn nul_is_refused_by_name_and_other_text_passes() {
        let err = check_storable("extra field `note`", "a\0secret").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.message().contains("extra field `note`"), "{err}");
        assert!(!err.message().contains("secret"), "{err}");
        for ok in ["", "plain", "line 1\nline 2\t\u{7f}", "žluťoučký 🐎"] {
            assert!(check_storable("x", ok).is_ok(), "{ok:?}");
        }
    }
}
