//! Mapping database failures to [`walletport_core::Error`] without leaking connection strings.

use walletport_core::{Error, ErrorKind, Retry};

/// Maps a sqlx error from operation `op` to the walletport error kind callers branch on.
pub(crate) fn db(op: &'static str, e: sqlx::Error) -> Error {
    let err = match &e {
        sqlx::Error::Database(d) => {
            let kind = match d.kind() {
                sqlx::error::ErrorKind::UniqueViolation => ErrorKind::AlreadyExists,
                sqlx::error::ErrorKind::ForeignKeyViolation => ErrorKind::NotFound,
                sqlx::error::ErrorKind::NotNullViolation
                | sqlx::error::ErrorKind::CheckViolation => ErrorKind::InvalidInput,
                _ => ErrorKind::Unexpected,
            };
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            let retry = if is_transient_code(&code) {
                Retry::Temporary { after: None }
            } else {
                kind.default_retry()
            };
            Error::new(kind, format!("database: {}", redact(d.message()))).with_retry(retry)
        }
        sqlx::Error::RowNotFound => Error::not_found("no such row"),
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            Error::unexpected(format!("database unavailable: {}", redact(&e.to_string())))
                .with_retry(Retry::Temporary { after: None })
        }
        sqlx::Error::Configuration(_) => Error::config(redact(&e.to_string())),
        _ => Error::unexpected(format!("database: {}", redact(&e.to_string()))),
    };
    err.with_operation(op)
}

/// SQLite BUSY/LOCKED (5, 6, extended 261, 517, ...) and PostgreSQL serialization / deadlock /
/// connection classes: worth retrying.
/// PostgreSQL SQLSTATEs are five characters; SQLite (extended) result codes are at most four
/// digits.
fn is_transient_code(code: &str) -> bool {
    if code.len() == 5 {
        return code.starts_with("08") || matches!(code, "40001" | "40P01" | "57P03" | "53300");
    }
    code.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

/// The error of a database URL the driver refused (`database` names it), passwords masked.
pub(crate) fn bad_url(database: &str, url: &str, e: &sqlx::Error) -> Error {
    let why = redact(&e.to_string());
    Error::config(format!("invalid {database} URL `{}`: {why}", redact(url)))
}

/// The error of a migration run that failed on `database`, passwords masked.
pub(crate) fn migration_failed(database: &str, e: &sqlx::migrate::MigrateError) -> Error {
    let why = redact(&e.to_string());
    Error::unexpected(format!("{database} migration failed: {why}")).with_operation("store.migrate")
}

/// Replaces the password of every `scheme://user:password@host` in `text` with `***`.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        // The authority ends at the first '/', whitespace, quote or end.
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'' || c == '`')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon]);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("cannot reach postgres://app:s3cr3t@db:5432/walletport now"),
            "cannot reach postgres://app:***@db:5432/walletport now"
        );
        assert_eq!(
            redact("postgres://a:b@h postgres://c@h2 sqlite://x.db"),
            "postgres://a:***@h postgres://c@h2 sqlite://x.db"
        );
        assert_eq!(redact("p@ss://"), "p@ss://");
    }

    #[test]
    fn sqlite_busy_and_pg_serialization_are_transient() {
        assert!(is_transient_code("5"));
        assert!(is_transient_code("517"));
        assert!(is_transient_code("40001"));
        assert!(!is_transient_code("2067"));
        assert!(!is_transient_code("23505"));
    }
}
