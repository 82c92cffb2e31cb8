//! The little the chaos run needs from the network and from chance: one request per connection
//! over loopback (so a killed server shows up as a failed request, never as a reused dead
//! connection), and a seeded random source so a failing run can be replayed.

use std::net::SocketAddr;
use std::time::Duration;

use std::sync::LazyLock;

use anyhow::{Context, bail};
use serde_json::Value;

/// The longest one request may take, connection to last byte.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read.
const MAX_ANSWER: usize = 4 << 20;

/// An HTTP answer: status and the body parsed as JSON (`Null` when it is not JSON).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl Answer {
    /// True for 2xx.
    pub(crate) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The chaos run's HTTP client: no connection is kept for reuse, so a killed server shows up as
/// a failed request, never as a dead pooled connection.
fn client() -> &'static reqwest::Client {
    static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap_or_default()
    });
    &CLIENT
}

/// Sends one request and reads the whole answer; an `Err` means the request may or may not
/// have been processed (refused, reset, timed out).
pub(crate) async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> anyhow::Result<Answer> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).context("HTTP method")?;
    let mut call = client().request(method, format!("http://{addr}{path}"));
    if let Some(token) = bearer {
        call = call.bearer_auth(token);
    }
    if let Some(body) = body {
        call = call.json(body);
    }
    let mut answer = call.send().await.context("send")?;
    let status = answer.status().as_u16();
    let mut raw = Vec::new();
    while let Some(chunk) = answer.chunk().await.context("read")? {
        raw.extend_from_slice(&chunk);
        if raw.len() > MAX_ANSWER {
            bail!("answer larger than {MAX_ANSWER} bytes");
        }
    }
    Ok(Answer {
        status,
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
    })
}

/// A small seeded random source (SplitMix64): reproducible runs without a dependency.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A source seeded with `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `0.0..1.0`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_random_source_is_seeded_and_in_range() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let xs: Vec<u64> = (0..100).map(|_| a.below(10)).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.below(10)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|x| *x < 10));
        assert!(xs.iter().any(|x| *x != xs[0]));
        assert!((0..100).map(|_| a.unit()).all(|u| (0.0..1.0).contains(&u)));
    }
}
