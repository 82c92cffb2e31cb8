//! Throw-away PostgreSQL databases for test suites and benchmarks (feature `testing`).
//!
//! The store's suite, the gateway's tests and the xtask benchmarks each need a fresh database on
//! the local server that is gone afterwards, also when a test panics; this is the one place
//! that creates and drops them.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::postgres::PgConnection;
use walletport_core::{Error, Result};

use crate::error::redact;

/// The server tests use when `WALLETPORT_TEST_PG` is not set.
pub const DEFAULT_PG_BASE: &str = "postgres://postgres@127.0.0.1:5432";

/// How long the server may take to answer before it counts as not running.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Numbers the databases of one process, so parallel tests never pick the same name.
static SEQ: AtomicU32 = AtomicU32::new(0);

/// The server tests run against: `WALLETPORT_TEST_PG` (`postgres://USER@HOST:PORT`, no database
/// name) or [`DEFAULT_PG_BASE`].
pub fn pg_base() -> String {
    std::env::var("WALLETPORT_TEST_PG")
        .unwrap_or_else(|_| DEFAULT_PG_BASE.to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// A PostgreSQL database of its own, dropped (`WITH (FORCE)`) when this value is dropped, so a
/// failed test or an aborted benchmark leaves nothing behind. Drop it after every store on it.
#[derive(Debug)]
pub struct TempPgDatabase {
    url: String,
    admin: String,
    name: String,
}

impl TempPgDatabase {
    /// Creates a database named `PREFIX_PID_N_NANOS` on the server at `base`
    /// (`postgres://USER@HOST:PORT`). Errors name the server with its password masked.
    pub async fn create(base: &str, prefix: &str) -> Result<Self> {
        let base = base.trim_end_matches('/');
        let conn = admin_connection(base).await?;
        Self::create_on(conn, base, prefix).await
    }

    /// For a test: a fresh database on [`pg_base`], or `None` (with a loud message) when no
    /// server answers outside CI. In CI (`CI` set) an unreachable server fails the test.
    ///
    /// # Panics
    /// In CI when the server is unreachable, and whenever the database cannot be created.
    pub async fn for_test(prefix: &str) -> Option<Self> {
        let base = pg_base();
        let conn = match admin_connection(&base).await {
            Ok(conn) => conn,
            Err(why) => {
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL is not reachable in CI: {why}");
                }
                eprintln!(
                    "\n!!!!!!!!\n!!! SKIPPING PostgreSQL test: {why}.\n\
                     !!! Start one or set WALLETPORT_TEST_PG; in CI this fails.\n!!!!!!!!\n"
                );
                return None;
            }
        };
        let db = Self::create_on(conn, &base, prefix).await;
        Some(db.expect("create test database"))
    }

    /// The database's URL, for [`crate::connect_with`] or a plain connection.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Creates the database over the admin connection `conn`, then closes it.
    async fn create_on(mut conn: PgConnection, base: &str, prefix: &str) -> Result<Self> {
        let name = format!(
            "{prefix}_{}_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            chrono::Utc::now().timestamp_subsec_nanos()
        );
        let sql = format!("CREATE DATABASE \"{name}\"");
        let created = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .map_err(|e| crate::error::db("testing.create_database", e));
        let _ = conn.close().await;
        created?;
        Ok(Self {
            url: format!("{base}/{name}"),
            admin: format!("{base}/postgres"),
            name,
        })
    }
}

/// A connection to the server's `postgres` database, or why there is none.
async fn admin_connection(base: &str) -> Result<PgConnection> {
    let admin = format!("{base}/postgres");
    let unreachable = |why: String| {
        Error::unexpected(format!("no PostgreSQL server at {} ({why})", redact(base)))
            .with_operation("testing.connect")
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(&admin)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(unreachable(redact(&e.to_string()))),
        Err(_) => Err(unreachable("timed out".to_owned())),
    }
}

impl Drop for TempPgDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Async drop is not a thing, and drop may run inside a runtime that must not be blocked
        // on, or while unwinding: a thread with its own runtime drops the database.
        let done = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = done.join();
    }
}
