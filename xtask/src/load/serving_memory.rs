//! Benchmark 5, second half: the gateway's resident memory while it serves with
//! `--rss-customers` (default 100,000) customers in its store.
//!
//! The customers are created through the store API (`upsert_customer`, 64 in flight). On SQLite
//! each of those is its own fsync'd transaction (~250/s on this disk), so they are written to a
//! database on `/dev/shm` and the finished file is then copied to a temp directory on disk, where
//! the gateway serves it; PostgreSQL is seeded in place. Then the peak RSS is reset and the
//! gateway serves, with the first `--clients` count: `readBalance` and `addBalance` hooks over all
//! customers, while one REST client pages through every customer (`GET /api/customers`, 1,000 a
//! page) — the listing must return each of them once.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

use super::backend::{BackendKind, TempDb, seed_customers};
use super::gateway::{hooks_run, http_client, start_gateway};
use super::hooks_args::Args;
use super::rss::{self, Memory};

/// Seeds, serves and measures one backend.
pub(crate) async fn phase(args: &Args, kind: BackendKind) -> anyhow::Result<Memory> {
    let count = args.rss_customers;
    eprintln!(
        "load hooks: memory phase on {} — seeding {count} customers",
        kind.name()
    );
    let started = Instant::now();
    let db = match kind {
        BackendKind::Sqlite => seed_sqlite_via_shm(args, count).await?,
        BackendKind::Postgres => {
            let db = TempDb::create(kind, &args.pg.url, None).await?;
            let store = db.open_store(16).await?;
            seed_customers(&store, count, 64).await?;
            store.close().await;
            db
        }
    };
    let seeded_in = started.elapsed();
    let store = db.open_store(args.store_connections).await?;
    let peak_reset = rss::reset_peak();
    let before = rss::read();
    let gateway = start_gateway(store.clone()).await?;
    let clients = args.clients.first().copied().unwrap_or(32);
    let window = Duration::from_secs(args.seconds);
    let hooks_url = format!("{}/hooks/passquare", gateway.base_url());
    let list_url = format!("{}/api/customers", gateway.base_url());
    let lister = tokio::spawn(async move { list_all(&list_url).await });
    let mut failures = 0;
    for op in ["readBalance", "addBalance"] {
        let d = hooks_run(&hooks_url, op, clients, count, Duration::ZERO, window).await;
        failures += d.failed_total;
        if let Some(e) = d.first_error {
            eprintln!(
                "load hooks: memory phase {op}: {} failed, first: {e}",
                d.failed_total
            );
        }
    }
    let listed = lister.await.context("the listing task")??;
    let after = rss::read();
    gateway.shutdown().await;
    store.close().await;
    drop(db);
    if listed != count {
        bail!("the customer listing returned {listed} customers, the store has {count}");
    }
    if failures > 0 {
        bail!("{failures} hook(s) failed during the memory phase");
    }
    Ok(Memory {
        backend: kind,
        phase: format!(
            "{count} customers in the store (seeded in {:.1} s), serving {clients} hook clients \
             ({} s readBalance + {} s addBalance) and a full listing at 1,000 a page",
            seeded_in.as_secs_f64(),
            args.seconds,
            args.seconds
        ),
        before,
        after,
        peak_reset,
    })
}

/// Seeds a SQLite store on `/dev/shm` (when present) and copies the file to a disk temp dir.
async fn seed_sqlite_via_shm(args: &Args, count: u64) -> anyhow::Result<TempDb> {
    let shm = Path::new("/dev/shm");
    let scratch_parent = shm.is_dir().then_some(shm);
    let scratch = TempDb::create(BackendKind::Sqlite, &args.pg.url, scratch_parent).await?;
    let store = scratch.open_store(8).await?;
    seed_customers(&store, count, 64).await?;
    // Closing the last connection checkpoints the WAL into the main file.
    store.close().await;
    let disk = TempDb::create(BackendKind::Sqlite, &args.pg.url, None).await?;
    let (from, to) = match (scratch.dir(), disk.dir()) {
        (Some(f), Some(t)) => (f.to_path_buf(), t.to_path_buf()),
        _ => bail!("SQLite temp databases have directories"),
    };
    for suffix in ["", "-wal", "-shm"] {
        let src = from.join(format!("load.db{suffix}"));
        if src.exists() {
            std::fs::copy(&src, to.join(format!("load.db{suffix}")))
                .with_context(|| format!("copying {}", src.display()))?;
        }
    }
    drop(scratch);
    Ok(disk)
}

/// Pages through `GET /api/customers` to the end; returns how many customers it saw.
async fn list_all(url: &str) -> anyhow::Result<u64> {
    let client = http_client();
    let mut after: Option<String> = None;
    let mut seen = 0u64;
    loop {
        let mut page_url = reqwest::Url::parse(url).context("the customers URL")?;
        page_url.query_pairs_mut().append_pair("limit", "1000");
        if let Some(a) = &after {
            page_url.query_pairs_mut().append_pair("after", a);
        }
        let resp = client
            .get(page_url)
            .send()
            .await
            .context("listing customers")?;
        let status = resp.status();
        let page: Value = resp.json().await.context("reading a customer page")?;
        if !status.is_success() {
            return Err(anyhow!("listing customers: HTTP {status}: {page}"));
        }
        seen += page["customers"].as_array().map_or(0, |a| a.len() as u64);
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => return Ok(seen),
        }
    }
}
