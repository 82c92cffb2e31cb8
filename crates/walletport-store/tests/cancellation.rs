//! A store call dropped part-way (a request timeout, an outbox lease that ran out, a client that
//! hung up, a shutdown) leaves nothing behind: on PostgreSQL no transaction open on a pooled
//! connection, on SQLite no write turn held; and every later write commits for everyone.
//!
//! sqlx 0.9.0 left one open when the drop fell inside `BEGIN`'s round trip (sqlx issue #4393):
//! the pool handed the connection on, the next borrower's statements ran inside that stale
//! transaction, holding its locks and uncommitted until someone's `COMMIT`, and the server
//! logged `there is already a transaction in progress` (seen in a chaos run with three
//! gateways). 0.9.1 rolls it back; the first test fails on 0.9.0 and keeps the fix in.

mod support;

use std::task::Poll;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::Connection as _;
use sqlx::postgres::{PgConnection, PgPoolOptions};
use walletport_core::{Customer, CustomerId};
use walletport_store::{PgStore, Store, StoreOptions};

use support::{at, claim, customer, opts, phone, set_points};

/// Calls after the dropped ones, which must all commit.
const LATER: u64 = 30;

/// Polls `call` until it has been pending `yields` times, then drops it; true when it finished
/// first. Walking `yields` up from 0 drops a call at each of its await points in turn, which a
/// timer cannot do (tokio's has millisecond steps; `BEGIN` takes a fraction of one).
async fn drop_after(call: impl Future<Output = ()>, yields: usize) -> bool {
    let mut call = std::pin::pin!(call);
    let mut left = yields;
    std::future::poll_fn(|cx| match call.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(true),
        Poll::Pending if left == 0 => Poll::Ready(false),
        Poll::Pending => {
            left -= 1;
            Poll::Pending
        }
    })
    .await
}

/// Sessions of this database idle inside a transaction, as the server sees them.
async fn idle_in_transaction(url: &str) -> i64 {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let n = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()",
    )
    .fetch_one(&mut conn)
    .await
    .expect("pg_stat_activity");
    let _ = conn.close().await;
    n
}

/// One store call of each kind that opens a transaction: a customer write, a ledger operation
/// (the engine path), an outbox claim.
async fn call(store: &dyn Store, c: &CustomerId, i: u64) {
    let outcome = match i % 3 {
        0 => {
            let renamed = Customer {
                name: Some(format!("name {i}")),
                ..Customer::new(phone(1))
            };
            store.upsert_customer(&renamed, opts()).await.map(drop)
        }
        1 => {
            let op = set_points(Decimal::from(i), &format!("set-{i}"));
            store.apply(c, &op, opts()).await.map(drop)
        }
        _ => store.claim_batch(&claim("w", 10, at(0))).await.map(drop),
    };
    outcome.expect("store call");
}

/// [`idle_in_transaction`] once it is 0, or after 2 s of waiting for it to be.
async fn settled_idle_in_transaction(url: &str) -> i64 {
    let mut open = idle_in_transaction(url).await;
    for _ in 0..40 {
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        open = idle_in_transaction(url).await;
    }
    open
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_begin_dropped_part_way_is_rolled_back_before_the_connection_is_reused() {
    let Some(pg) = support::pg_database().await else {
        return;
    };
    // One connection, so the next borrower is the one a leak would reach.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(pg.url())
        .await
        .expect("pool");
    for yields in 0.. {
        let begin = async {
            let _ = pool.begin().await.expect("begin");
        };
        if drop_after(begin, yields).await {
            break;
        }
        let open = settled_idle_in_transaction(pg.url()).await;
        assert_eq!(
            open, 0,
            "`begin` dropped after {yields} yields left one open"
        );
    }
    // The connection is clean for the next borrower: its `now()` moves between statements.
    let mut conn = pool.acquire().await.expect("acquire");
    let first: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *conn)
        .await
        .expect("now");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *conn)
        .await
        .expect("now");
    assert!(
        second > first,
        "statements share one transaction's clock: {first}"
    );
    drop(conn);
    pool.close().await;
}

/// Drops each kind of [`call`] at each of its await points in turn and runs `check` (told
/// which drop it follows) after each; the number of the next call.
async fn drop_each_call_part_way(
    store: &dyn Store,
    c: &CustomerId,
    check: impl AsyncFn(&str),
) -> u64 {
    let (mut n, mut dropped) = (0, 0);
    for kind in 0..3 {
        for yields in 0.. {
            n += 1;
            if drop_after(call(store, c, n * 3 + kind), yields).await {
                break;
            }
            dropped += 1;
            check(&format!("call kind {kind} dropped after {yields} yields")).await;
        }
    }
    assert!(dropped >= 3, "only {dropped} calls were dropped part-way");
    (n + 1) * 3
}

/// Makes [`LATER`] calls from number `first` on `store`, then reads the points from `other` (a
/// second gateway's store): they must be the last set-points call's, committed for everyone.
async fn later_calls_commit(store: &dyn Store, other: &dyn Store, c: &CustomerId, first: u64) {
    for n in first..first + LATER {
        call(store, c, n).await;
    }
    let last_set = (first..first + LATER).filter(|n| n % 3 == 1).max();
    let points = other.balance(c, at(1)).await.expect("balance").points;
    assert_eq!(Some(points), last_set.map(Decimal::from));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_calls_dropped_part_way_leave_no_transaction_open() {
    let Some(pg) = support::pg_database().await else {
        return;
    };
    // One connection, so whatever a dropped call leaves on it, the next call meets.
    let options = StoreOptions {
        max_connections: 1,
        ..StoreOptions::default()
    };
    let store = PgStore::connect(pg.url(), options).await.expect("open");
    let c = customer(&store, 1).await;
    let next = drop_each_call_part_way(&store, &c, async |which: &str| {
        // Its rollback goes out when the connection returns to the pool, at once.
        let open = settled_idle_in_transaction(pg.url()).await;
        assert_eq!(open, 0, "{which} left a transaction open");
    })
    .await;
    let other = PgStore::connect(pg.url(), StoreOptions::default())
        .await
        .expect("open a second store");
    later_calls_commit(&store, &other, &c, next).await;
    assert_eq!(idle_in_transaction(pg.url()).await, 0);
    other.close().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_calls_dropped_part_way_leave_the_write_turn_free() {
    let db = support::sqlite().await;
    let store = db.store.as_ref();
    let c = customer(store, 1).await;
    let next = drop_each_call_part_way(store, &c, async |which: &str| {
        // The next writer gets its turn (the gate and `BEGIN IMMEDIATE` were let go).
        let request = claim("probe", 1, at(0));
        let took = tokio::time::timeout(Duration::from_secs(5), store.claim_batch(&request)).await;
        assert!(took.is_ok_and(|r| r.is_ok()), "{which} kept the write turn");
    })
    .await;
    let other = db.second_store().await;
    later_calls_commit(store, other.as_ref(), &c, next).await;
    other.close().await;
    store.close().await;
}
