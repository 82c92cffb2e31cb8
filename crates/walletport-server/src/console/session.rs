//! Server-side console sessions: a random 256-bit id in an `HttpOnly; SameSite=Strict` cookie,
//! the session's CSRF token and flash messages in memory, forgotten after an idle period.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};
use rand::Rng as _;
use subtle::ConstantTimeEq as _;

/// The cookie that carries the session id (scoped to `/console`).
pub(crate) const COOKIE: &str = "walletport_console";

/// How long an unused session lives.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The most sessions kept at once: a flood of cookie-less requests cannot grow memory past it.
const MAX_SESSIONS: usize = 10_000;

/// Whether a flash message reports a success or a failure (styles it, and `role="alert"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlashKind {
    /// The action did what was asked.
    Ok,
    /// The action was refused or failed; nothing changed.
    Error,
}

/// A message shown once on the next page after a form was sent (post/redirect/get).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flash {
    /// Success or failure.
    pub(crate) kind: FlashKind,
    /// What happened, in plain words.
    pub(crate) text: String,
}

/// One browser's session.
#[derive(Debug)]
struct Entry {
    /// True once the API token was given (always true when no token is configured).
    signed_in: bool,
    /// The token every state-changing form of this session carries.
    csrf: String,
    /// Messages for the next page.
    flashes: Vec<Flash>,
    /// Last use, for the idle expiry.
    seen: Instant,
}

/// What a request knows about its session (the id stays inside this module and the cookie).
#[derive(Debug, Clone)]
pub(crate) struct SessionInfo {
    /// The session id (only for lookups in [`Sessions`]; never rendered).
    pub(crate) id: String,
    /// Whether the session has signed in.
    pub(crate) signed_in: bool,
    /// The session's CSRF token (rendered into forms only).
    pub(crate) csrf: String,
}

/// All live sessions of this gateway process.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Entry>>,
}

/// 256 random bits from the thread's CSPRNG, as 64 hex digits.
fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time equality of two tokens (only their length may leak).
pub(crate) fn tokens_equal(given: &str, expected: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live session `id`, touched; `None` when unknown or idle for too long.
    pub(crate) fn get(&self, id: &str) -> Option<SessionInfo> {
        let mut map = self.lock();
        let now = Instant::now();
        let entry = map.get_mut(id)?;
        if now.duration_since(entry.seen) > IDLE_TIMEOUT {
            map.remove(id);
            return None;
        }
        entry.seen = now;
        Some(SessionInfo {
            id: id.to_owned(),
            signed_in: entry.signed_in,
            csrf: entry.csrf.clone(),
        })
    }

    /// A new session; `None` when the table is full of live signed-in sessions.
    pub(crate) fn create(&self, signed_in: bool) -> Option<SessionInfo> {
        let mut map = self.lock();
        let now = Instant::now();
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, e| now.duration_since(e.seen) <= IDLE_TIMEOUT);
        }
        if map.len() >= MAX_SESSIONS {
            // Make room by dropping the longest-unused session that has not signed in.
            let victim = map
                .iter()
                .filter(|(_, e)| !e.signed_in)
                .min_by_key(|(_, e)| e.seen)
                .map(|(k, _)| k.clone());
            map.remove(&victim?);
        }
        let info = SessionInfo {
            id: random_token(),
            signed_in,
            csrf: random_token(),
        };
        map.insert(
            info.id.clone(),
            Entry {
                signed_in,
                csrf: info.csrf.clone(),
                flashes: Vec::new(),
                seen: now,
            },
        );
        Some(info)
    }

    /// Replaces session `old` by a new signed-in one (a new id and CSRF token, so an id known
    /// before the sign-in is worthless after it); keeps its flash messages.
    pub(crate) fn sign_in(&self, old: &str) -> Option<SessionInfo> {
        let flashes = self.lock().remove(old).map(|e| e.flashes);
        let info = self.create(true)?;
        if let Some(flashes) = flashes
            && let Some(entry) = self.lock().get_mut(&info.id)
        {
            entry.flashes = flashes;
        }
        Some(info)
    }

    /// Forgets session `id` (sign-out).
    pub(crate) fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Queues a message for the session's next page.
    pub(crate) fn flash(&self, id: &str, kind: FlashKind, text: impl Into<String>) {
        if let Some(entry) = self.lock().get_mut(id) {
            entry.flashes.push(Flash {
                kind,
                text: text.into(),
            });
        }
    }

    /// Takes the session's queued messages (each is shown once).
    pub(crate) fn take_flashes(&self, id: &str) -> Vec<Flash> {
        self.lock()
            .get_mut(id)
            .map(|e| std::mem::take(&mut e.flashes))
            .unwrap_or_default()
    }
}

/// The session id from the request's `Cookie` headers, if any.
pub(crate) fn cookie_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned())
}

/// `Set-Cookie` for session `id` (`None`: delete the cookie).
pub(crate) fn set_cookie(id: Option<&str>, secure: bool) -> HeaderValue {
    let mut cookie = Cookie::build((COOKIE, id.unwrap_or_default()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/console")
        .secure(secure);
    if id.is_none() {
        cookie = cookie.max_age(cookie::time::Duration::ZERO);
    }
    // Only hex digits and fixed ASCII: always a valid header value.
    HeaderValue::from_str(&cookie.build().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_random_and_rotate_on_sign_in() {
        let s = Sessions::default();
        let a = s.create(false).unwrap();
        let b = s.create(false).unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.len(), 64);
        assert_ne!(a.csrf, a.id);
        s.flash(&a.id, FlashKind::Ok, "hello");
        let signed = s.sign_in(&a.id).unwrap();
        assert!(s.get(&a.id).is_none());
        assert!(s.get(&signed.id).unwrap().signed_in);
        assert_eq!(s.take_flashes(&signed.id).len(), 1);
        assert!(s.take_flashes(&signed.id).is_empty());
        s.remove(&signed.id);
        assert!(s.get(&signed.id).is_none());
    }

    #[test]
    fn cookies_are_read_and_written() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; walletport_console=abc; b=2"),
        );
        assert_eq!(cookie_id(&h).as_deref(), Some("abc"));
        let v = set_cookie(Some("abc"), true);
        let v = v.to_str().unwrap();
        let attributes: Vec<&str> = v.split("; ").collect();
        for wanted in [
            "walletport_console=abc",
            "HttpOnly",
            "SameSite=Strict",
            "Path=/console",
        ] {
            assert!(attributes.contains(&wanted), "{v}");
        }
        assert!(attributes.contains(&"Secure"), "{v}");
        assert!(
            !set_cookie(Some("abc"), false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
        let gone = set_cookie(None, false);
        let gone = gone.to_str().unwrap();
        assert!(
            gone.starts_with("walletport_console=;") && gone.contains("Max-Age=0"),
            "{gone}"
        );
        assert!(tokens_equal("x1", "x1") && !tokens_equal("x1", "x2") && !tokens_equal("x", "xx"));
    }
}
