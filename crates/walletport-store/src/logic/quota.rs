//! The vendor quota: the transactions of both backends, over [`QuotaSql`] (the rules are in
//! [`crate::quota`]). A backend only says how to lock and read the key's row, which clock is
//! "now" (PostgreSQL's, SQLite's machine's), and how it writes a grant.

use std::ops::DerefMut;
use std::time::Duration;

use walletport_core::Result;

use super::Dialect;
use crate::quota::{self, Book, Decision, QuotaLimit, QuotaSlot, QuotaState};

/// The operation name of a take's statements.
pub(crate) const TAKE: &str = "store.quota.take";
/// The operation name of a pause.
pub(crate) const PAUSE: &str = "store.quota.pause";
/// The operation name of a lowering's statements.
pub(crate) const LOWER: &str = "store.quota.lower";
/// The operation name of a state read's statements.
pub(crate) const STATE: &str = "store.quota.state";

/// The longest pause a vendor may impose (longer `Retry-After`s are clamped to it).
const MAX_PAUSE: Duration = Duration::from_secs(86_400 * 366);

/// The vendor quota statements of one database.
pub(crate) trait QuotaSql: Dialect {
    /// A read-only transaction whose reads share one snapshot.
    type Snapshot: DerefMut<Target = Self::Conn> + Send;

    /// Starts a [`Self::Snapshot`] (PostgreSQL: `REPEATABLE READ, READ ONLY`; SQLite: a deferred
    /// transaction, whose snapshot starts at its first read).
    fn snapshot(&self) -> impl Future<Output = Result<Self::Snapshot>> + Send;

    /// Ends a write transaction whose changes must not stay (PostgreSQL rolls back at once,
    /// releasing the key's row; SQLite drops it, which rolls back before the write turn passes).
    fn abandon(tx: Self::Tx, op: &'static str) -> impl Future<Output = Result<()>> + Send;

    /// Locks key's row for a take (creating it on first use) and reads it with the backend's
    /// clock; returns the book and the stored lowered windows. PostgreSQL also turns off the
    /// commit's wait for its WAL flush (see `postgres/quota.rs`).
    fn lock_for_take(
        conn: &mut Self::Conn,
        key: &str,
    ) -> impl Future<Output = Result<(Book, String)>> + Send;

    /// `(seq, granted_at_us)` of those of the key's grants `seqs` that still exist (a new
    /// statement after the lock, so it sees every grant committed by earlier lock holders).
    fn grant_times(
        conn: &mut Self::Conn,
        key: &str,
        seqs: &[i64],
    ) -> impl Future<Output = Result<Vec<(i64, i64)>>> + Send;

    /// Holds background takers back until `until_us` (never earlier than an announcement
    /// already stored).
    fn announce_interactive(
        conn: &mut Self::Conn,
        key: &str,
        until_us: i64,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Records grant `seq` at `at_us`, counts it in the key's row (clearing an interactive
    /// announcement if asked) and deletes the key's grants numbered up to `prune_through`.
    fn record_grant(
        conn: &mut Self::Conn,
        key: &str,
        seq: i64,
        at_us: i64,
        prune_through: i64,
        clear_interactive: bool,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Pauses the key until `after_us` from the backend's now, unless it is paused longer
    /// already (its own transaction).
    fn pause_for(&self, key: &str, after_us: i64) -> impl Future<Output = Result<()>> + Send;

    /// Locks key's row for a lowering (creating it on first use); returns its lowered windows.
    fn lock_lowered(
        conn: &mut Self::Conn,
        key: &str,
    ) -> impl Future<Output = Result<String>> + Send;

    /// Stores the key's lowered windows (encoded).
    fn store_lowered(
        conn: &mut Self::Conn,
        key: &str,
        lowered: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The key's row read with the backend's now (its book and lowered windows), if the key
    /// was ever used.
    fn quota_row(
        conn: &mut Self::Conn,
        key: &str,
    ) -> impl Future<Output = Result<Option<(Book, String)>>> + Send;

    /// How many of the key's grants numbered from `from_seq` were granted after `after_us`.
    fn count_grants(
        conn: &mut Self::Conn,
        key: &str,
        from_seq: i64,
        after_us: i64,
    ) -> impl Future<Output = Result<i64>> + Send;
}

/// [`Store::take_quota_slot`](crate::Store::take_quota_slot): one short transaction that locks
/// the key's row, reads the deciding grants and either records the next grant or says how long
/// to wait. A wait rolls back unless an interactive taker announces itself, so only a grant
/// costs a sync.
pub(crate) async fn take<S: QuotaSql>(
    sql: &S,
    key: &str,
    limits: &[QuotaLimit],
    interactive: bool,
) -> Result<QuotaSlot> {
    quota::validate(key, limits)?;
    let mut tx = sql.begin(TAKE).await?;
    let (book, lowered) = S::lock_for_take(&mut tx, key).await?;
    let limits = &quota::in_force(limits, &quota::decode_lowered(&lowered));
    let deciding = quota::deciding_grants(book.granted, limits);
    let times = if deciding.is_empty() {
        Vec::new()
    } else {
        S::grant_times(&mut tx, key, &deciding).await?
    };
    match quota::decide(book, limits, &times, interactive) {
        Decision::Wait { wait, announce_us } => {
            match announce_us {
                Some(until) => {
                    S::announce_interactive(&mut tx, key, until).await?;
                    S::commit(tx, TAKE).await?;
                }
                None => S::abandon(tx, TAKE).await?,
            }
            Ok(QuotaSlot::WaitFor(wait))
        }
        Decision::Take {
            seq,
            at_us,
            prune_through,
            clear_interactive,
        } => {
            S::record_grant(&mut tx, key, seq, at_us, prune_through, clear_interactive).await?;
            S::commit(tx, TAKE).await?;
            Ok(QuotaSlot::Taken)
        }
    }
}

/// [`Store::pause_quota`](crate::Store::pause_quota), clamped to a year.
pub(crate) async fn pause<S: QuotaSql>(sql: &S, key: &str, after: Duration) -> Result<()> {
    quota::validate(key, &[])?;
    sql.pause_for(key, quota::micros(after.min(MAX_PAUSE)))
        .await
}

/// [`Store::lower_quota_limit`](crate::Store::lower_quota_limit): merges the lower window into
/// the key's stored ones under the row's lock, so two gateways lowering at once merge, not
/// overwrite; false when it lowers nothing.
pub(crate) async fn lower<S: QuotaSql>(
    sql: &S,
    key: &str,
    per: Duration,
    limit: u32,
) -> Result<bool> {
    // 0 is valid input and changes nothing (see `quota::lower`).
    quota::validate(
        key,
        &[QuotaLimit {
            limit: limit.max(1),
            per,
        }],
    )?;
    let mut tx = sql.begin(LOWER).await?;
    let stored = S::lock_lowered(&mut tx, key).await?;
    let Some(lowered) = quota::lower(&quota::decode_lowered(&stored), per, limit) else {
        S::abandon(tx, LOWER).await?;
        return Ok(false);
    };
    S::store_lowered(&mut tx, key, &quota::encode_lowered(&lowered)).await?;
    S::commit(tx, LOWER).await?;
    Ok(true)
}

/// [`Store::quota_state`](crate::Store::quota_state): the row, the clock and the counts in one
/// snapshot (a grant committed in between would otherwise be counted against a stale
/// `granted`).
pub(crate) async fn state<S: QuotaSql>(
    sql: &S,
    key: &str,
    limits: &[QuotaLimit],
) -> Result<QuotaState> {
    quota::validate(key, limits)?;
    let mut snap = sql.snapshot().await?;
    let Some((row, lowered)) = S::quota_row(&mut snap, key).await? else {
        return Ok(QuotaState {
            used: vec![0; limits.len()],
            ..QuotaState::default()
        });
    };
    let mut used = Vec::with_capacity(limits.len());
    for l in limits {
        let from_seq = quota::oldest_counted(row.granted, l.limit);
        let n =
            S::count_grants(&mut snap, key, from_seq, row.now_us - quota::micros(l.per)).await?;
        used.push(u32::try_from(n).unwrap_or(u32::MAX));
    }
    Ok(QuotaState {
        used,
        paused_for: quota::pause_left(row.paused_until_us, row.now_us),
        lowered: quota::decode_lowered(&lowered),
    })
}
