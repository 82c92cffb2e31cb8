//! Backends for the store suite: a temp-file SQLite store, and a PostgreSQL store in a database
//! of its own that is dropped when the test ends (also when it panics).

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;
use walletport_core::{Credit, TransactionId};
use walletport_core::{Customer, CustomerId, Phone};
use walletport_store::{ClaimRequest, OutboxItem, OutboxList, Store, StoreOptions, WriteOpts};

/// A store under test and whatever must be cleaned up after it.
pub(crate) struct TestDb {
    pub(crate) store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgGuard>,
}

/// Drops the test database (declared after `store`, so it runs after the store is dropped).
struct PgGuard {
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

/// A fresh database on the local PostgreSQL, or `None` (with a loud message) when no server
/// answers outside CI. In CI an unreachable server fails the test.
pub(crate) async fn postgres() -> Option<TestDb> {
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
    let options = StoreOptions {
        max_connections: 16,
        ..StoreOptions::default()
    };
    let store = walletport_store::connect_with(&format!("{base}/{name}"), options)
        .await
        .expect("open postgres store");
    Some(TestDb {
        store,
        _dir: None,
        _pg: Some(guard),
    })
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
