//! What must stay out of logs, traces and `Debug` output: credential headers, user info and
//! query strings of URLs. Requests, responses, the configuration and the transport all show
//! these, so the rules live here once.

use std::fmt;

use http::HeaderMap;
use http::header::HeaderName;
use url::Url;

/// True for headers that carry credentials: `Authorization`, `Proxy-Authorization`, `Cookie`,
/// `Set-Cookie`, and any name containing `key`, `token`, `secret`, `password` or `auth`
/// (e.g. Passteam's `X-Api-Key`). Their values are marked sensitive so neither `Debug` nor the
/// transport's traces show them.
pub fn is_sensitive_header(name: &HeaderName) -> bool {
    let n = name.as_str();
    matches!(n, "cookie" | "set-cookie")
        || ["auth", "key", "token", "secret", "password"]
            .iter()
            .any(|word| n.contains(word))
}

/// Shows header names and non-sensitive values; sensitive values as `[redacted]`.
pub(crate) struct RedactedHeaders<'a>(pub(crate) &'a HeaderMap);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (name, value) in self.0 {
            if value.is_sensitive() || is_sensitive_header(name) {
                m.entry(&name.as_str(), &"[redacted]");
            } else {
                m.entry(&name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
            }
        }
        m.finish()
    }
}

/// The URL without user info, query or fragment, safe for logs and errors.
pub(crate) fn redacted_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// The path without its query string or fragment (query strings may carry keys).
pub(crate) fn path_without_query(path: &str) -> &str {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    &path[..end]
}
