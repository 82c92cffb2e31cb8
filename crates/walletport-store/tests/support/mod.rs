//! Backends for the store suite: a temp-file SQLite store, and a PostgreSQL store in a database
//! of its own that is dropped when the test ends (also when it panics).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rust_decimal::Decimal;
use walletport_core::{Credit, TransactionId};
use walletport_core::{Customer, CustomerId, ErrorKind, Phone};
use walletport_store::testing::TempPgDatabase;
use walletport_store::{
    ClaimRequest, LedgerEntry, LedgerOp, LedgerQuery, OutboxItem, OutboxKind, OutboxList,
    Redemption, Reversal, SetPoints, Store, StoreOptions, WriteOpts,
};

/// A store under test and whatever must be cleaned up after it.
pub(crate) struct TestDb {
    pub(crate) store: Arc<dyn Store>,
    /// Where the database is, to open a second store on it (as a second gateway would).
    url: String,
    _dir: Option<tempfile::TempDir>,
    /// Declared after `store`, so the database is dropped after the store.
    _pg: Option<TempPgDatabase>,
}

pub(crate) async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("store.db").display()
    );
    let store = walletport_store::connect(&url)
        .await
        .expect("open sqlite store");
    TestDb {
        store,
        url,
        _dir: Some(dir),
        _pg: None,
    }
}

/// A fresh, empty database on the local PostgreSQL (dropped with the value), or `None` (with a
/// loud message) when no server answers outside CI. In CI an unreachable server fails the test.
pub(crate) async fn pg_database() -> Option<TempPgDatabase> {
    TempPgDatabase::for_test("walletport_test").await
}

/// A PostgreSQL store in a fresh database (see [`pg_database`]).
pub(crate) async fn postgres() -> Option<TestDb> {
    let pg = pg_database().await?;
    let url = pg.url().to_owned();
    let store = walletport_store::connect_with(&url, pg_options())
        .await
        .expect("open postgres store");
    Some(TestDb {
        store,
        url,
        _dir: None,
        _pg: Some(pg),
    })
}

fn pg_options() -> StoreOptions {
    StoreOptions {
        max_connections: 16,
        ..StoreOptions::default()
    }
}

impl TestDb {
    /// Another store on the same database, as a second gateway process would open it (the
    /// caller closes it).
    pub(crate) async fn second_store(&self) -> Arc<dyn Store> {
        let options = if self._pg.is_some() {
            pg_options()
        } else {
            StoreOptions::default()
        };
        walletport_store::connect_with(&self.url, options)
            .await
            .expect("open a second store on the same database")
    }
}

/// A fixed instant tests count from.
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .expect("valid instant")
}

pub(crate) fn phone(n: u32) -> Phone {
    Phone::parse(&format!("+4207000{n:05}")).expect("valid phone")
}

/// Creates a customer with phone number `n` and returns its id.
pub(crate) async fn customer(store: &dyn Store, n: u32) -> CustomerId {
    store
        .upsert_customer(&Customer::new(phone(n)), WriteOpts::at(t0()).no_echo())
        .await
        .expect("create customer")
        .id
}

pub(crate) fn tx(s: &str) -> TransactionId {
    TransactionId::new(s).unwrap()
}

pub(crate) fn credit(amount: Decimal, id: &str) -> Credit {
    Credit::new(amount, tx(id), None).unwrap()
}

/// Credits `amount` to customer `id` at [`t0`] under transaction id `tx_id`; it must succeed.
pub(crate) async fn credited(store: &dyn Store, id: &CustomerId, amount: Decimal, tx_id: &str) {
    store
        .credit(id, &credit(amount, tx_id), opts())
        .await
        .expect("credit");
}

pub(crate) fn opts() -> WriteOpts {
    WriteOpts::at(t0())
}

pub(crate) async fn pending(store: &dyn Store) -> Vec<OutboxItem> {
    store
        .list_outbox(OutboxList::Pending, None, 1000, t0())
        .await
        .unwrap()
}

pub(crate) fn claim(worker: &str, limit: u32, now: DateTime<Utc>) -> ClaimRequest {
    ClaimRequest {
        worker: worker.into(),
        limit,
        lease: Duration::from_secs(30),
        now,
    }
}

/// `t0()` plus `secs` seconds.
pub(crate) fn at(secs: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(secs)
}

/// A credit whose points expire `secs` seconds after it is written.
pub(crate) fn expiring(amount: Decimal, id: &str, secs: u64) -> Credit {
    Credit::new(amount, tx(id), Some(Duration::from_secs(secs))).unwrap()
}

pub(crate) fn redeem(amount: Decimal, id: &str) -> LedgerOp {
    LedgerOp::Redeem(Redemption::new(amount, tx(id)).unwrap())
}

pub(crate) fn reverse(credit: &str) -> LedgerOp {
    LedgerOp::Reverse(Reversal::of(tx(credit)))
}

pub(crate) fn set_points(points: Decimal, id: &str) -> LedgerOp {
    LedgerOp::Set(SetPoints::new(points, tx(id)).unwrap())
}

/// Applies each `(customer, operation)` in order with `opts`; every one must succeed.
pub(crate) async fn apply_all<const N: usize>(
    store: &dyn Store,
    opts: WriteOpts,
    ops: [(&CustomerId, LedgerOp); N],
) {
    for (who, op) in ops {
        store.apply(who, &op, opts).await.unwrap();
    }
}

/// The kind of the error `result` must be (panics on `Ok`).
pub(crate) fn err_kind<T: std::fmt::Debug>(result: walletport_core::Result<T>) -> ErrorKind {
    result.unwrap_err().kind()
}

/// The customer's points at `now`.
pub(crate) async fn points(
    store: &dyn Store,
    customer: &CustomerId,
    now: DateTime<Utc>,
) -> Decimal {
    store.balance(customer, now).await.unwrap().points
}

/// The customer's whole ledger, newest first, read in pages of `limit`; checks on the way that
/// the pages are newest first, full except the last, and that `next` is the last id of a page
/// exactly when older entries exist.
pub(crate) async fn history(
    store: &dyn Store,
    customer: &CustomerId,
    limit: u32,
) -> Vec<LedgerEntry> {
    let mut all: Vec<LedgerEntry> = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .ledger(customer, &LedgerQuery { before, limit })
            .await
            .unwrap();
        for e in &page.entries {
            assert_eq!(&e.customer_id, customer, "another customer's entry: {e:?}");
            if let Some(prev) = all.last() {
                assert!(
                    e.id < prev.id,
                    "not newest first: {} after {}",
                    e.id,
                    prev.id
                );
            }
        }
        all.extend(page.entries.iter().cloned());
        match page.next {
            Some(next) => {
                assert_eq!(
                    page.entries.len(),
                    limit as usize,
                    "only full pages have a next"
                );
                assert_eq!(Some(next), page.entries.last().map(|e| e.id));
                before = Some(next);
            }
            None => {
                assert!(page.entries.len() <= limit as usize);
                return all;
            }
        }
    }
}

/// Checks that the history (newest first) adds up: each `balance_after` is the previous one
/// plus the entry's amount, starting from zero; returns the last balance.
pub(crate) fn assert_adds_up(newest_first: &[LedgerEntry]) -> Decimal {
    let mut balance = Decimal::ZERO;
    for e in newest_first.iter().rev() {
        balance += e.amount;
        assert_eq!(
            e.balance_after, balance,
            "balance_after does not add up at {e:?}"
        );
    }
    balance
}

/// Every waiting outbox item, read in pages.
pub(crate) async fn pending_all(store: &dyn Store) -> Vec<OutboxItem> {
    let mut all: Vec<OutboxItem> = Vec::new();
    loop {
        let after = all.last().map(|i| i.id);
        let page = store
            .list_outbox(OutboxList::Pending, after, 1000, t0())
            .await
            .unwrap();
        let done = page.len() < 1000;
        all.extend(page);
        if done {
            return all;
        }
    }
}

/// The customer's waiting `balance` outbox items.
pub(crate) async fn balance_items(store: &dyn Store, customer: &CustomerId) -> Vec<OutboxItem> {
    pending_all(store)
        .await
        .into_iter()
        .filter(|i| i.kind == OutboxKind::Balance && &i.customer_id == customer)
        .collect()
}
