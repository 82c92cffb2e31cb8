//! The vendor quota kept in the database, so that every gateway on it shares one vendor plan and
//! a restarted gateway remembers what was sent in the current windows.
//!
//! # Model
//!
//! Per quota key (the provider's name) the store numbers the requests it grants 1, 2, 3, … and
//! keeps the time of the last ones (`vendor_quota_grants`), plus the count and a pause
//! (`vendor_quota`). A window of `limit` requests per `per` has room at `t` when the grant
//! `limit` places back — number `granted − limit + 1` — is at least `per` before `t`: the same
//! strict sliding window as the in-process limiter, whatever the number of gateways. A take
//! locks the key's row, reads the one deciding grant of each window, and either records the next
//! grant or says how long until one could come; the lock makes takes of one key serial across
//! every gateway. A vendor's `Retry-After` sets the pause, which holds every taker.
//!
//! Times are microseconds since the Unix epoch on the database's clock (PostgreSQL's
//! `clock_timestamp()`, so gateways on several machines agree), or on this machine's clock for
//! SQLite (one machine). Only the last `largest limit` grants decide anything; older ones are
//! deleted every 1,024 grants (`PRUNE_EVERY`), so the table holds at most the largest limit
//! plus that.
//!
//! Priority spans gateways too: an interactive taker that must wait announces itself
//! (`interactive_until_us`, until its slot plus `INTERACTIVE_HOLD`, 100 ms), and background
//! takers of every gateway wait until it took its slot, so a till never races a backlog for the
//! next one.
//!
//! A vendor that reveals a smaller plan than configured (Passteam's "You can only make N
//! requests per hour") lowers a window for the key in the store (`vendor_quota.lowered_limits`,
//! [`Store::lower_quota_limit`](crate::Store::lower_quota_limit)): every take applies it, so
//! every gateway on the database, and a restarted one, keeps the lower limit at once.
//!
//! This module holds the rules; `sqlite/quota.rs` and `postgres/quota.rs` only run the SQL.

use std::time::Duration;

use walletport_core::{Error, Result};

/// Old grants are deleted once every this many grants.
pub(crate) const PRUNE_EVERY: i64 = 1024;

/// How long past its slot an interactive taker's announcement holds background takers back (its
/// own wake-up and round trip fit well inside; a crashed one holds them no longer than this).
pub(crate) const INTERACTIVE_HOLD: Duration = Duration::from_millis(100);

/// The longest quota key (a provider name).
const MAX_KEY_LEN: usize = 100;

/// The longest window period accepted (a year): longer ones are configuration mistakes.
const MAX_PERIOD: Duration = Duration::from_secs(366 * 86_400);

/// The largest window limit accepted (the transport's own bound).
const MAX_LIMIT: u32 = 1_000_000;

/// One window of a vendor plan, as the store enforces it: at most `limit` grants in any
/// interval of length `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaLimit {
    /// Grants allowed in any interval of `per` (the limit in force, at least 1).
    pub limit: u32,
    /// The window's length.
    pub per: Duration,
}

/// The answer to [`Store::take_quota_slot`](crate::Store::take_quota_slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaSlot {
    /// A slot was taken in every window: the request may go now.
    Taken,
    /// No slot before this long from now (a full window or a pause); ask again then.
    WaitFor(Duration),
}

/// How full a key's windows are, for operators ([`Store::quota_state`](crate::Store::quota_state)).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuotaState {
    /// Grants within the last `per` of each window asked about, in the same order.
    pub used: Vec<u32>,
    /// What is left of a vendor's pause, if one holds the key.
    pub paused_for: Option<Duration>,
    /// Windows a vendor revealed lower than configured, kept for the key
    /// ([`Store::lower_quota_limit`](crate::Store::lower_quota_limit)); every take applies them.
    pub lowered: Vec<QuotaLimit>,
}

/// Reads the `lowered_limits` column: `per_us:limit` pairs separated by commas; anything
/// unreadable is skipped (it can only come from a hand edit).
pub(crate) fn decode_lowered(text: &str) -> Vec<QuotaLimit> {
    text.split(',')
        .filter_map(|pair| {
            let (per, limit) = pair.trim().split_once(':')?;
            let per = Duration::from_micros(per.parse().ok()?);
            let limit: u32 = limit.parse().ok()?;
            (limit > 0 && !per.is_zero()).then_some(QuotaLimit { limit, per })
        })
        .collect()
}

/// Writes the `lowered_limits` column (see [`decode_lowered`]).
pub(crate) fn encode_lowered(lowered: &[QuotaLimit]) -> String {
    lowered
        .iter()
        .map(|l| format!("{}:{}", micros(l.per), l.limit))
        .collect::<Vec<_>>()
        .join(",")
}

/// `stored` with the window of period `per` lowered to `limit`; `None` when that changes
/// nothing (never raises; 0 is ignored).
pub(crate) fn lower(stored: &[QuotaLimit], per: Duration, limit: u32) -> Option<Vec<QuotaLimit>> {
    if limit == 0 {
        return None;
    }
    let mut out = stored.to_vec();
    match out.iter_mut().find(|l| l.per == per) {
        Some(l) if l.limit <= limit => return None,
        Some(l) => l.limit = limit,
        None => out.push(QuotaLimit { limit, per }),
    }
    Some(out)
}

/// The windows a take enforces: each of `limits` at its own limit or the lowered one stored for
/// its period, whichever is smaller.
pub(crate) fn in_force(limits: &[QuotaLimit], lowered: &[QuotaLimit]) -> Vec<QuotaLimit> {
    limits
        .iter()
        .map(|l| {
            let low = lowered
                .iter()
                .filter(|x| x.per == l.per)
                .map(|x| x.limit)
                .min();
            QuotaLimit {
                limit: low.map_or(l.limit, |low| low.min(l.limit)),
                per: l.per,
            }
        })
        .collect()
}

/// Rejects a key or plan the store could not keep: empty, overlong or unstorable (NUL) key, a
/// zero or huge limit, a zero or overlong period.
pub(crate) fn validate(key: &str, limits: &[QuotaLimit]) -> Result<()> {
    if key.trim().is_empty() || key.len() > MAX_KEY_LEN {
        return Err(Error::invalid_input(format!(
            "a quota key must be 1 to {MAX_KEY_LEN} bytes"
        )));
    }
    walletport_core::check_storable("a quota key", key)?;
    for l in limits {
        if l.limit == 0 || l.limit > MAX_LIMIT {
            return Err(Error::invalid_input(format!(
                "a quota window allows 1 to {MAX_LIMIT} requests, not {}",
                l.limit
            )));
        }
        if l.per.is_zero() || l.per > MAX_PERIOD {
            return Err(Error::invalid_input(
                "a quota window lasts more than zero and at most a year",
            ));
        }
    }
    Ok(())
}

/// Microseconds of `d` (bounded by [`validate`], so it fits).
pub(crate) fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The key's row as a take reads it, under its lock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Book {
    /// Grants so far (the number of the last one).
    pub granted: i64,
    /// No grant before this instant (µs).
    pub paused_until_us: i64,
    /// Background takers wait until this instant (µs): an interactive one announced itself.
    pub interactive_until_us: i64,
    /// The database's now (µs).
    pub now_us: i64,
}

/// The numbers of the grants that decide each window (`granted − limit + 1`), for windows that
/// already hold `limit` grants; the others have room.
pub(crate) fn deciding_grants(granted: i64, limits: &[QuotaLimit]) -> Vec<i64> {
    limits
        .iter()
        .map(|l| granted - i64::from(l.limit) + 1)
        .filter(|seq| *seq >= 1)
        .collect()
}

/// What a take does once it read the deciding grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Record grant `seq` at `at_us`; delete grants numbered up to `prune_through` (0: none);
    /// clear an interactive announcement (the interactive taker got its slot).
    Take {
        seq: i64,
        at_us: i64,
        prune_through: i64,
        clear_interactive: bool,
    },
    /// Not before `wait` from now; an interactive taker announces itself until `announce_us`.
    Wait {
        wait: Duration,
        announce_us: Option<i64>,
    },
}

/// Decides a take: `times` are `(number, granted_at_us)` of the deciding grants found (a missing
/// one was pruned, so it is long gone from every window); `interactive` for a person waiting.
pub(crate) fn decide(
    book: Book,
    limits: &[QuotaLimit],
    times: &[(i64, i64)],
    interactive: bool,
) -> Decision {
    let mut ready = book.paused_until_us.max(book.now_us);
    if !interactive {
        ready = ready.max(book.interactive_until_us);
    }
    for l in limits {
        let seq = book.granted - i64::from(l.limit) + 1;
        if let Some((_, at)) = times.iter().find(|(s, _)| *s == seq) {
            ready = ready.max(at.saturating_add(micros(l.per)));
        }
    }
    if ready > book.now_us {
        let wait = u64::try_from(ready - book.now_us).unwrap_or(0);
        return Decision::Wait {
            wait: Duration::from_micros(wait),
            announce_us: interactive.then(|| ready.saturating_add(micros(INTERACTIVE_HOLD))),
        };
    }
    let seq = book.granted + 1;
    let keep = limits.iter().map(|l| i64::from(l.limit)).max().unwrap_or(1);
    let prune_through = if seq % PRUNE_EVERY == 0 {
        (seq - keep).max(0)
    } else {
        0
    };
    Decision::Take {
        seq,
        at_us: book.now_us,
        prune_through,
        clear_interactive: interactive && book.interactive_until_us != 0,
    }
}

/// The lowest grant number that can still lie in a window of `limit` (older ones cannot count,
/// whatever their time), for the usage count.
pub(crate) fn oldest_counted(granted: i64, limit: u32) -> i64 {
    granted - i64::from(limit) + 1
}

/// The pause left at `now_us`, if any.
pub(crate) fn pause_left(paused_until_us: i64, now_us: i64) -> Option<Duration> {
    (paused_until_us > now_us)
        .then(|| Duration::from_micros(u64::try_from(paused_until_us - now_us).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(limit: u32, per_ms: u64) -> QuotaLimit {
        QuotaLimit {
            limit,
            per: Duration::from_millis(per_ms),
        }
    }

    #[test]
    fn a_window_with_room_takes_and_a_full_one_waits_for_its_oldest_grant() {
        let limits = [limit(1, 1000), limit(3, 60_000)];
        let book = Book {
            granted: 5,
            paused_until_us: 0,
            interactive_until_us: 0,
            now_us: 100_000_000,
        };
        assert_eq!(deciding_grants(5, &limits), vec![5, 3]);
        // Grant 5 was 0.4 s ago: the 1/s window waits 0.6 s.
        let times = [(5, 99_600_000), (3, 30_000_000)];
        assert_eq!(
            decide(book, &limits, &times, false),
            Decision::Wait {
                wait: Duration::from_millis(600),
                announce_us: None
            }
        );
        // An interactive taker announces itself until its slot plus the hold.
        assert_eq!(
            decide(book, &limits, &times, true),
            Decision::Wait {
                wait: Duration::from_millis(600),
                announce_us: Some(100_700_000)
            }
        );
        // Grant 3 was 50 s ago, inside the minute: wait until it is a minute old.
        let times = [(5, 98_000_000), (3, 50_000_000)];
        assert_eq!(
            decide(book, &limits, &times, false),
            Decision::Wait {
                wait: Duration::from_secs(10),
                announce_us: None
            }
        );
        let times = [(5, 98_000_000)];
        assert_eq!(
            decide(book, &limits, &times, false),
            Decision::Take {
                seq: 6,
                at_us: 100_000_000,
                prune_through: 0,
                clear_interactive: false
            },
            "a pruned grant is long gone"
        );
        // While an interactive taker is announced, background ones wait for it; it takes.
        let announced = Book {
            interactive_until_us: 100_050_000,
            ..book
        };
        assert_eq!(
            decide(announced, &limits, &times, false),
            Decision::Wait {
                wait: Duration::from_millis(50),
                announce_us: None
            }
        );
        assert_eq!(
            decide(announced, &limits, &times, true),
            Decision::Take {
                seq: 6,
                at_us: 100_000_000,
                prune_through: 0,
                clear_interactive: true
            }
        );
    }

    #[test]
    fn a_pause_holds_and_pruning_keeps_the_largest_limit() {
        let limits = [limit(10, 1000)];
        let paused = Book {
            granted: 0,
            paused_until_us: 3_000_000,
            interactive_until_us: 0,
            now_us: 1_000_000,
        };
        assert_eq!(
            decide(paused, &limits, &[], true),
            Decision::Wait {
                wait: Duration::from_secs(2),
                announce_us: Some(3_100_000)
            }
        );
        assert_eq!(deciding_grants(4, &limits), Vec::<i64>::new());
        let book = Book {
            granted: PRUNE_EVERY - 1,
            paused_until_us: 0,
            interactive_until_us: 0,
            now_us: 5,
        };
        assert_eq!(
            decide(book, &limits, &[], false),
            Decision::Take {
                seq: PRUNE_EVERY,
                at_us: 5,
                prune_through: PRUNE_EVERY - 10,
                clear_interactive: false
            }
        );
        assert_eq!(pause_left(3, 1), Some(Duration::from_micros(2)));
        assert_eq!(pause_left(1, 3), None);
    }

    #[test]
    fn lowered_windows_round_trip_only_go_down_and_apply_by_period() {
        let hour = Duration::from_secs(3600);
        assert_eq!(lower(&[], hour, 0), None);
        let once = lower(&[], hour, 500).expect("new");
        assert_eq!(once, [limit(500, 3_600_000)]);
        assert_eq!(lower(&once, hour, 600), None, "never raised");
        assert_eq!(lower(&once, hour, 500), None);
        let twice = lower(&once, hour, 20).expect("lower");
        let day = lower(&twice, Duration::from_secs(86_400), 100).expect("another window");
        let text = encode_lowered(&day);
        assert_eq!(text, "3600000000:20,86400000000:100");
        assert_eq!(decode_lowered(&text), day);
        assert_eq!(decode_lowered(""), []);
        assert_eq!(decode_lowered("x,5:0,:3,1000:7"), [limit(7, 1)]);
        let plan = [limit(1, 1000), limit(3000, 3_600_000)];
        assert_eq!(
            in_force(&plan, &day),
            [limit(1, 1000), limit(20, 3_600_000)]
        );
        assert_eq!(
            in_force(&plan, &[limit(5000, 3_600_000)]),
            plan,
            "a stored limit above the configured one changes nothing"
        );
    }

    #[test]
    fn bad_keys_and_windows_are_refused() {
        assert!(validate("", &[]).is_err());
        assert!(validate(&"k".repeat(101), &[]).is_err());
        assert!(validate("k\0", &[]).is_err());
        assert!(validate("k", &[limit(0, 1000)]).is_err());
        assert!(validate("k", &[limit(1, 0)]).is_err());
        let year = QuotaLimit {
            limit: 1,
            per: Duration::from_secs(400 * 86_400),
        };
        assert!(validate("k", &[year]).is_err());
        assert!(validate("passquare", &[limit(1, 1000), limit(600, 3_600_000)]).is_ok());
    }
}
