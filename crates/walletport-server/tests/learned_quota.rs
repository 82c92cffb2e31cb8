//! A vendor's lower limit learned by one gateway holds every gateway on the database, and a
//! restarted one (issue 15): gateway A's limiter is told the vendor allows 3 requests an hour
//! (as Passteam's "You can only make 3 requests per hour" tells it) while both are configured
//! with 100; gateway B, opened afterwards on its own store connection, gets 3 slots in the hour
//! and then waits, and its usage shows the lowered limit.

mod support;

use std::time::Duration;

use support::*;
use walletport_http::{LimiterFactory, Priority, QuotaPlan};
use walletport_server::SharedQuota;
use walletport_store::QuotaLimit;

const HOUR: Duration = Duration::from_secs(3600);

async fn a_learned_limit_holds_another_gateway(db: Db) {
    let Some(tdb) = TestDb::new(db).await else {
        return;
    };
    let plan = QuotaPlan::parse("100/h").expect("plan");
    let first = tdb.open().await;
    let a = SharedQuota::new(first.clone()).limiter("passteam", plan.clone());
    assert!(a.lower_window(HOUR, 3), "A learns the vendor's limit");
    assert_eq!(a.limit_of(HOUR), Some(3));
    // The store records it in the background: wait (bounded) until it is there.
    let configured = [QuotaLimit {
        limit: 100,
        per: HOUR,
    }];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let state = first
            .quota_state("passteam", &configured)
            .await
            .expect("state");
        if !state.lowered.is_empty() {
            assert_eq!(
                state.lowered,
                [QuotaLimit {
                    limit: 3,
                    per: HOUR
                }]
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the lowered limit never reached the store"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.close().await;

    // Gateway B (another process, or A restarted) is configured with the whole 100/h.
    let second = tdb.open().await;
    let b = SharedQuota::new(second.clone()).limiter("passteam", plan);
    for _ in 0..3 {
        let waited = tokio::time::timeout(Duration::from_secs(5), b.acquire(Priority::Background))
            .await
            .expect("a slot within the lowered limit");
        assert!(waited < Duration::from_secs(5));
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(500), b.acquire(Priority::Interactive))
            .await
            .is_err(),
        "a fourth request in the hour went past the vendor's limit of 3"
    );
    let usage = b.usage().await.expect("usage");
    assert_eq!(
        usage
            .windows
            .iter()
            .map(|w| (w.limit, w.used))
            .collect::<Vec<_>>(),
        [(3, 3)],
        "B shows the lowered limit"
    );
    assert_eq!(b.limit_of(HOUR), Some(3));
    second.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learned_limit_holds_another_gateway_sqlite() {
    a_learned_limit_holds_another_gateway(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learned_limit_holds_another_gateway_postgres() {
    a_learned_limit_holds_another_gateway(Db::Postgres).await;
}
