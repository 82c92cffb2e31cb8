//! Hook authentication: `crm_key` in the body, or HTTP Basic, compared in constant time.

use std::net::IpAddr;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::config::PassquareHooksConfig;

/// Constant-time equality of two secrets (the length is not hidden, the content is).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// True when `crm_key` (from the body) is the configured key.
pub(crate) fn body_key_ok(config: &PassquareHooksConfig, crm_key: Option<&str>) -> bool {
    match (&config.crm_key, crm_key) {
        (Some(expected), Some(given)) => {
            same(expected.expose_secret().as_bytes(), given.as_bytes())
        }
        _ => false,
    }
}

/// True when an `Authorization: Basic ...` header carries valid credentials: an empty login with
/// the `crm_key` as password, or the configured login and password.
pub(crate) fn basic_ok(config: &PassquareHooksConfig, authorization: Option<&str>) -> bool {
    let Some((user, password)) = authorization.and_then(parse_basic) else {
        return false;
    };
    let by_key = config.crm_key.as_ref().is_some_and(|key| {
        // Evaluate both comparisons so timing does not tell which part was wrong.
        let user_empty = user.is_empty();
        let pass = same(key.expose_secret().as_bytes(), password.as_bytes());
        user_empty & pass
    });
    let by_login = match (&config.basic_user, &config.basic_password) {
        (Some(u), Some(p)) => {
            let user_ok = same(u.as_bytes(), user.as_bytes());
            let pass_ok = same(p.expose_secret().as_bytes(), password.as_bytes());
            user_ok & pass_ok
        }
        _ => false,
    };
    by_key | by_login
}

/// True when the peer may call (an empty allow-list allows everyone).
pub(crate) fn ip_ok(config: &PassquareHooksConfig, peer: Option<IpAddr>) -> bool {
    if config.allowed_ips.is_empty() {
        return true;
    }
    peer.is_some_and(|ip| {
        let ip = canonical(ip);
        config.allowed_ips.iter().any(|a| canonical(*a) == ip)
    })
}

/// `::ffff:1.2.3.4` and `1.2.3.4` are the same peer.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// `Basic base64(user:password)` → `(user, password)`; `None` for anything else.
fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64_decode(rest.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Standard base64, padded or not (clients differ); `None` on anything else, or past 4 KiB.
fn base64_decode(input: &str) -> Option<Vec<u8>> {
    const PADDING_OPTIONAL: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    if input.len() > 4096 {
        return None;
    }
    PADDING_OPTIONAL.decode(input).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_rfc_vectors_and_rejects_garbage() {
        for (enc, plain) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ] {
            assert_eq!(
                base64_decode(enc).as_deref(),
                Some(plain.as_bytes()),
                "{enc}"
            );
        }
        for bad in ["Z", "Zm9v!", "Zg===", "Z=g="] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn basic_with_empty_login_and_key_or_configured_pair() {
        let key_only = PassquareHooksConfig::with_crm_key("k3y");
        // ":k3y" and "u:p"
        assert!(basic_ok(&key_only, Some("Basic OmszeQ==")));
        assert!(basic_ok(&key_only, Some("basic OmszeQ==")));
        assert!(!basic_ok(&key_only, Some("Basic dTpr3y==")));
        assert!(!basic_ok(&key_only, Some("Basic dTpw")));
        assert!(!basic_ok(&key_only, Some("Bearer k3y")));
        assert!(!basic_ok(&key_only, None));
        let pair = PassquareHooksConfig {
            basic_user: Some("u".into()),
            basic_password: Some("p".to_owned().into()),
            ..Default::default()
        };
        assert!(basic_ok(&pair, Some("Basic dTpw")));
        assert!(!basic_ok(&pair, Some("Basic OmszeQ==")));
        assert!(body_key_ok(&key_only, Some("k3y")));
        assert!(!body_key_ok(&key_only, Some("k3y ")));
        assert!(!body_key_ok(&pair, Some("k3y")));
    }

    #[test]
    fn allow_list_matches_mapped_addresses() {
        let cfg = PassquareHooksConfig {
            allowed_ips: vec!["164.90.200.81".parse().unwrap()],
            ..Default::default()
        };
        assert!(ip_ok(&cfg, Some("164.90.200.81".parse().unwrap())));
        assert!(ip_ok(&cfg, Some("::ffff:164.90.200.81".parse().unwrap())));
        assert!(!ip_ok(&cfg, Some("127.0.0.1".parse().unwrap())));
        assert!(!ip_ok(&cfg, None));
        assert!(ip_ok(&PassquareHooksConfig::default(), None));
    }
}
