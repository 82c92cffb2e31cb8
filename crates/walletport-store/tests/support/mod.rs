//! Backends for the store suite: a temp-file SQLite store, and a PostgreSQL store in a database
//! of its own that is dropped when the test ends (also when it panics).

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rust_decimal::Decimal;
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;
use walletport_core::{Credit, TransactionId};
use walletport_core::{Customer, CustomerId, Phone};
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
    _pg: Option<PgGuard>,
}

/// Drops the test database (declared after `store`, so it runs after the store is dropped).
pub(crate) struct PgGuard {
    admin: String,
    name: String,
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        {
            // Async drop is not a thing: a thread with its own runtime drops the database, which
            // also works while unwinding from a failed assertion.
            let done = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async move {
                        if let Ok(mut conn) = PgConnection::connect(&admin).await {
                            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                                .execute(&mut conn)
                                .await;
                            let _ = conn.close().await;
                        }
                    });
                }
            });
            let _ = done.join();
        }
    }
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

static SEQ: AtomicU32 = AtomicU32::new(0);

/// The base URL with any password masked, for messages.
fn shown(base: &str) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<unparsable WALLETPORT_TEST_PG>".to_owned(),
    }
}

fn pg_base() -> String {
    std::env::var("WALLETPORT_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// A fresh, empty database on the local PostgreSQL (its URL, and the guard that drops it), or
/// `None` (with a loud message) when no server answers outside CI. In CI an unreachable server
/// fails the test.
pub(crate) async fn pg_database() -> Option<(String, PgGuard)> {
    let base = pg_base();
    let shown = shown(&base);
    let admin = format!("{base}/postgres");
    let conn = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&admin)).await;
    let mut conn = match conn {
        Ok(Ok(c)) => c,
        other => {
            let why = match other {
                Ok(Err(e)) => e.to_string(),
                _ => "timed out".to_owned(),
            };
            if std::env::var_os("CI").is_some() {
                panic!("PostgreSQL at {shown} is not reachable in CI: {why}");
            }
            eprintln!(
                "\n!!!!!!!!\n!!! SKIPPING PostgreSQL store test: no server at {shown} ({why}).\n\
                 !!! Start one or set WALLETPORT_TEST_PG; in CI this fails.\n!!!!!!!!\n"
            );
            return None;
        }
    };
    let name = format!(
        "walletport_test_{}_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        Utc::now().timestamp_subsec_nanos()
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let _ = conn.close().await;
    let guard = PgGuard {
        admin,
        name: name.clone(),
    };
    Some((format!("{base}/{name}"), guard))
}

/// A PostgreSQL store in a fresh database (see [`pg_database`]).
pub(crate) async fn postgres() -> Option<TestDb> {
    let (url, guard) = pg_database().await?;
    let store = walletport_store::connect_with(&url, pg_options())
        .await
        .expect("open postgres store");
    Some(TestDb {
        store,
        url,
        _dir: None,
        _pg: Some(guard),
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
