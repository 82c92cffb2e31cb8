//! Quota plans: the request windows a vendor allows, as configuration.
//!
//! A plan is a list of windows, every one enforced at once: Passquare's "1 request per second and
//! 600 per hour" is `["1/s", "600/h"]`, Passteam's is `["30000/h", "350000/d"]`. In TOML a window is
//! either a string `"LIMIT/PERIOD"` or a table `{ limit = 60, per = "1h" }` (humantime period); a
//! whole plan may also be one string, `"1/s, 600/h"` (handy in an environment variable).

use std::fmt;
use std::time::Duration;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use walletport_core::{Error, Result};

/// The largest limit one window may have: the limiter keeps one timestamp per request in the
/// window (16 bytes each), so this bounds its memory at 16 MB per window.
pub const MAX_WINDOW_LIMIT: u32 = 1_000_000;

/// At most `limit` requests in any interval of length `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuotaWindow {
    limit: u32,
    per: Duration,
}

impl QuotaWindow {
    /// A window of `limit` requests per `per`; `limit` must be 1..=[`MAX_WINDOW_LIMIT`] and
    /// `per` non-zero, else [`ErrorKind::ConfigInvalid`](walletport_core::ErrorKind::ConfigInvalid).
    pub fn new(limit: u32, per: Duration) -> Result<Self> {
        if limit == 0 {
            return Err(Error::config(
                "quota window limit must be at least 1 request",
            ));
        }
        if limit > MAX_WINDOW_LIMIT {
            return Err(Error::config(format!(
                "quota window limit {limit} exceeds the maximum of {MAX_WINDOW_LIMIT}"
            )));
        }
        if per.is_zero() {
            return Err(Error::config(
                "quota window period must be longer than zero",
            ));
        }
        Ok(Self { limit, per })
    }

    /// Parses `"LIMIT/PERIOD"`: PERIOD is a unit (`s`, `sec`, `second`, `m`, `min`, `minute`, `h`,
    /// `hour`, `d`, `day`, plurals too) or a humantime duration (`15min`, `2h`). `_` may group
    /// digits: `"30_000/h"`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| Error::config(format!("invalid quota window {text:?}: {why}"));
        let (limit, per) = text
            .split_once('/')
            .ok_or_else(|| bad("expected LIMIT/PERIOD, e.g. \"60/h\""))?;
        let digits: String = limit.trim().chars().filter(|c| *c != '_').collect();
        let limit: u32 = digits
            .parse()
            .map_err(|_| bad("the limit is not a whole number"))?;
        let per = parse_period(per.trim()).ok_or_else(|| bad("unknown period"))?;
        Self::new(limit, per).map_err(|e| bad(e.message()))
    }

    /// The number of requests allowed per window.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The window's length.
    pub fn per(&self) -> Duration {
        self.per
    }
}

fn parse_period(unit: &str) -> Option<Duration> {
    let secs = match unit.to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => Some(1),
        "m" | "min" | "mins" | "minute" | "minutes" => Some(60),
        "h" | "hr" | "hrs" | "hour" | "hours" => Some(3_600),
        "d" | "day" | "days" => Some(86_400),
        _ => None,
    };
    match secs {
        Some(s) => Some(Duration::from_secs(s)),
        None => humantime::parse_duration(unit).ok(),
    }
}

impl fmt::Display for QuotaWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.limit, humantime::format_duration(self.per))
    }
}

impl std::str::FromStr for QuotaWindow {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl Serialize for QuotaWindow {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for QuotaWindow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(WindowVisitor)
    }
}

struct WindowVisitor;

impl<'de> Visitor<'de> for WindowVisitor {
    type Value = QuotaWindow;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a quota window: \"LIMIT/PERIOD\" or { limit = N, per = \"1h\" }")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<QuotaWindow, E> {
        QuotaWindow::parse(v).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<QuotaWindow, A::Error> {
        let mut limit: Option<u32> = None;
        let mut per: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "limit" => limit = Some(map.next_value()?),
                "per" => per = Some(map.next_value()?),
                other => return Err(de::Error::unknown_field(other, &["limit", "per"])),
            }
        }
        let limit = limit.ok_or_else(|| de::Error::missing_field("limit"))?;
        let per = per.ok_or_else(|| de::Error::missing_field("per"))?;
        let per = parse_period(per.trim())
            .ok_or_else(|| de::Error::custom(format!("invalid quota period {per:?}")))?;
        QuotaWindow::new(limit, per).map_err(de::Error::custom)
    }
}

/// Every window a vendor enforces; the [`QuotaLimiter`](crate::QuotaLimiter) keeps all of them.
///
/// The empty plan means "no quota".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaPlan {
    windows: Vec<QuotaWindow>,
}

impl QuotaPlan {
    /// A plan of the given windows.
    pub fn new(windows: impl IntoIterator<Item = QuotaWindow>) -> Self {
        Self {
            windows: windows.into_iter().collect(),
        }
    }

    /// The plan without any window: requests are never delayed.
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// Parses windows separated by commas: `"600/h"`, `"1/s, 60/h"`, `"30_000/h, 350_000/d"`.
    /// An empty or blank string is the unlimited plan.
    pub fn parse(text: &str) -> Result<Self> {
        text.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(QuotaWindow::parse)
            .collect::<Result<Vec<_>>>()
            .map(Self::new)
    }

    /// Adds a window (builder style).
    #[must_use]
    pub fn and(mut self, window: QuotaWindow) -> Self {
        self.windows.push(window);
        self
    }

    /// The windows of the plan.
    pub fn windows(&self) -> &[QuotaWindow] {
        &self.windows
    }

    /// True when the plan has no window.
    pub fn is_unlimited(&self) -> bool {
        self.windows.is_empty()
    }
}

impl fmt::Display for QuotaPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.windows.is_empty() {
            return f.write_str("unlimited");
        }
        for (i, w) in self.windows.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{w}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for QuotaPlan {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl Serialize for QuotaPlan {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.windows.serialize(s)
    }
}

impl<'de> Deserialize<'de> for QuotaPlan {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(PlanVisitor)
    }
}

struct PlanVisitor;

impl<'de> Visitor<'de> for PlanVisitor {
    type Value = QuotaPlan;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of quota windows, or one string like \"1/s, 60/h\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<QuotaPlan, E> {
        QuotaPlan::parse(v).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<QuotaPlan, A::Error> {
        let mut windows = Vec::new();
        while let Some(w) = seq.next_element::<QuotaWindow>()? {
            windows.push(w);
        }
        Ok(QuotaPlan::new(windows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use walletport_core::ErrorKind;

    #[test]
    fn parses_units_and_humantime_periods() {
        let plan = match QuotaPlan::parse("1/s, 60/h, 30_000/hour, 350000/d, 100/15min") {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        let got: Vec<(u32, u64)> = plan
            .windows()
            .iter()
            .map(|w| (w.limit(), w.per().as_secs()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 1),
                (60, 3600),
                (30_000, 3600),
                (350_000, 86_400),
                (100, 900)
            ]
        );
        assert_eq!(
            plan.to_string(),
            "1/1s, 60/1h, 30000/1h, 350000/1day, 100/15m"
        );
    }

    #[test]
    fn rejects_bad_windows_as_config_invalid() {
        for bad in [
            "0/s",
            "10",
            "x/s",
            "10/fortnight",
            "10/0s",
            "-1/s",
            "2000000/s",
        ] {
            let err = QuotaWindow::parse(bad).err();
            assert_eq!(
                err.map(|e| e.kind()),
                Some(ErrorKind::ConfigInvalid),
                "{bad}"
            );
        }
        assert!(QuotaPlan::parse("  ").is_ok_and(|p| p.is_unlimited()));
    }

    #[derive(Debug, Deserialize)]
    struct Config {
        quota: QuotaPlan,
    }

    #[test]
    fn deserializes_strings_tables_and_one_string_from_toml() {
        let a: Config =
            toml::from_str(r#"quota = ["1/s", "60/h"]"#).unwrap_or_else(|e| panic!("{e}"));
        let b: Config =
            toml::from_str(r#"quota = [{ limit = 1, per = "1s" }, { limit = 60, per = "1h" }]"#)
                .unwrap_or_else(|e| panic!("{e}"));
        let c: Config = toml::from_str(r#"quota = "1/s, 60/h""#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.quota, b.quota);
        assert_eq!(a.quota, c.quota);
        assert_eq!(a.quota.windows().len(), 2);

        let err = toml::from_str::<Config>(r#"quota = [{ limit = 0, per = "1s" }]"#);
        assert!(err.is_err());
        let err = toml::from_str::<Config>(r#"quota = [{ limit = 1, per = "1s", burst = 3 }]"#);
        assert!(err.is_err_and(|e| e.to_string().contains("burst")));
    }

    #[test]
    fn serializes_back_to_parseable_strings() {
        let plan = QuotaPlan::parse("1/s, 600/h").unwrap_or_default();
        let json = serde_json::to_string(&plan).unwrap_or_default();
        assert_eq!(json, r#"["1/1s","600/1h"]"#);
        let back: QuotaPlan = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, plan);
    }
}
