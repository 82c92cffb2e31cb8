//! What the store's benches share: the runtime they drive the store on, and the run of one
//! bench over both backends.

use std::sync::Arc;

use criterion::Criterion;
use walletport_store::Store;
use walletport_store::testing::TempPgDatabase;

/// A two-worker multi-thread runtime, like the gateway's on the 2-core reference machine.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// What one bench measures on a store: criterion, the runtime, the backend's name, the store.
#[allow(dead_code, reason = "the credit bench runs on SQLite alone")]
pub(crate) type BenchStore = fn(&mut Criterion, &tokio::runtime::Runtime, &str, Arc<dyn Store>);

/// Runs `bench` on SQLite (a temp file, WAL, `synchronous=FULL`), then on PostgreSQL
/// (`WALLETPORT_BENCH_PG`, default `postgres://postgres@127.0.0.1:5432`) in a fresh database
/// named after `name` and dropped afterwards; PostgreSQL's figures are skipped, with a line
/// that says why, when it is unreachable.
#[allow(dead_code, reason = "the credit bench runs on SQLite alone")]
pub(crate) fn on_both_backends(name: &str, bench: BenchStore) {
    let rt = runtime();
    let mut c = Criterion::default().configure_from_args();

    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join(format!("{name}.db")).display()
    );
    let sqlite = rt
        .block_on(walletport_store::connect(&url))
        .expect("sqlite");
    bench(&mut c, &rt, "sqlite", sqlite.clone());
    rt.block_on(sqlite.close());

    let base = std::env::var("WALLETPORT_BENCH_PG")
        .unwrap_or_else(|_| walletport_store::testing::DEFAULT_PG_BASE.to_owned());
    let db = match rt.block_on(TempPgDatabase::create(
        &base,
        &format!("walletport_{name}_bench"),
    )) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("PostgreSQL unreachable ({e}): skipping its figures");
            c.final_summary();
            return;
        }
    };
    let pg = rt
        .block_on(walletport_store::connect(db.url()))
        .expect("postgres");
    bench(&mut c, &rt, "postgres", pg.clone());
    rt.block_on(pg.close());
    drop(pg);
    drop(db);
    c.final_summary();
}
