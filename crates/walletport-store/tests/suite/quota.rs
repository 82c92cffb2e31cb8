//! The vendor quota kept in the store: several stores on one database (as several gateways)
//! never grant more than a window allows, share a vendor's pause, and a reopened store
//! remembers the window.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use walletport_core::ErrorKind;
use walletport_store::{QuotaLimit, QuotaSlot, Store};

use crate::support::TestDb;

fn window(limit: u32, per: Duration) -> QuotaLimit {
    QuotaLimit { limit, per }
}

/// Takes a slot of `key` (a background one unless `interactive`): the wait the store answers,
/// or `None` when it granted the slot.
async fn wait_of(
    store: &dyn Store,
    key: &str,
    limits: &[QuotaLimit],
    interactive: bool,
) -> Option<Duration> {
    match store.take_quota_slot(key, limits, interactive).await {
        Ok(QuotaSlot::WaitFor(wait)) => Some(wait),
        Ok(QuotaSlot::Taken) => None,
        Err(e) => panic!("take: {e}"),
    }
}

/// Takes a slot of `key`, which must be granted.
async fn grant(store: &dyn Store, key: &str, limits: &[QuotaLimit], interactive: bool) {
    let wait = wait_of(store, key, limits, interactive).await;
    assert_eq!(wait, None, "`{key}` got no slot");
}

/// Takes slots until the deadline, sleeping whatever the store says; returns how many it took.
async fn take_until(
    store: Arc<dyn Store>,
    key: &'static str,
    limits: Vec<QuotaLimit>,
    until: Instant,
) -> u32 {
    let mut taken = 0;
    while Instant::now() < until {
        match store
            .take_quota_slot(key, &limits, false)
            .await
            .expect("take")
        {
            QuotaSlot::Taken => taken += 1,
            QuotaSlot::WaitFor(wait) => {
                tokio::time::sleep(wait.min(until.saturating_duration_since(Instant::now()))).await;
            }
        }
    }
    taken
}

pub(crate) async fn three_stores_share_one_window_and_fill_it(db: &TestDb) {
    let per = Duration::from_millis(300);
    let limits = vec![window(5, per)];
    let stores = [
        db.store.clone(),
        db.second_store().await,
        db.second_store().await,
    ];
    let run = Duration::from_millis(1800);
    let until = Instant::now() + run;
    // An observer samples the window the whole time: it never holds more than the limit.
    let done = Arc::new(AtomicBool::new(false));
    let most = Arc::new(AtomicU32::new(0));
    let observer = {
        let (store, limits, done, most) =
            (db.store.clone(), limits.clone(), done.clone(), most.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let state = store.quota_state("emu", &limits).await.expect("state");
                most.fetch_max(state.used[0], Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(7)).await;
            }
        })
    };
    let takers: Vec<_> = stores
        .iter()
        .map(|s| tokio::spawn(take_until(s.clone(), "emu", limits.clone(), until)))
        .collect();
    let mut total = 0;
    for t in takers {
        total += t.await.expect("taker");
    }
    done.store(true, Ordering::SeqCst);
    observer.await.expect("observer");
    // 1.8 s of a 5-per-300-ms window: at most 5 × 6 = 30 grants (the first 5 at once), and the
    // three takers together use most of it.
    assert!(total <= 30, "{total} grants in 1.8 s of 5/300ms");
    assert!(
        total >= 20,
        "only {total} grants: the window was not filled"
    );
    assert!(
        most.load(Ordering::SeqCst) <= 5,
        "a window held {} grants",
        most.load(Ordering::SeqCst)
    );
    for s in &stores[1..] {
        s.close().await;
    }
}

pub(crate) async fn a_pause_holds_every_store(db: &TestDb) {
    let other = db.second_store().await;
    let limits = [window(100, Duration::from_secs(1))];
    grant(&*db.store, "paused", &limits, false).await;
    db.store
        .pause_quota("paused", Duration::from_secs(30))
        .await
        .expect("pause");
    // A shorter pause does not shorten it.
    other
        .pause_quota("paused", Duration::from_secs(1))
        .await
        .expect("pause");
    let wait = wait_of(&*other, "paused", &limits, false)
        .await
        .expect("a paused quota granted a slot");
    assert!(
        wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
    let state = other.quota_state("paused", &limits).await.expect("state");
    assert_eq!(state.used, vec![1]);
    assert!(
        state
            .paused_for
            .is_some_and(|p| p > Duration::from_secs(25))
    );
    // Other keys are not held.
    grant(&*other, "other", &limits, false).await;
    other.close().await;
}

pub(crate) async fn a_reopened_store_remembers_the_window(db: &TestDb) {
    let limits = [
        window(1, Duration::from_secs(1)),
        window(3, Duration::from_secs(60)),
    ];
    let first = db.second_store().await;
    let mut taken = 0;
    while taken < 3 {
        match first
            .take_quota_slot("restart", &limits, false)
            .await
            .expect("take")
        {
            QuotaSlot::Taken => taken += 1,
            QuotaSlot::WaitFor(wait) => {
                assert!(wait <= Duration::from_secs(1), "{wait:?}");
                tokio::time::sleep(wait).await;
            }
        }
    }
    first.close().await;
    drop(first);
    let again = db.second_store().await;
    let wait = wait_of(&*again, "restart", &limits, false)
        .await
        .expect("a restarted store forgot the window");
    assert!(
        wait > Duration::from_secs(55) && wait <= Duration::from_secs(60),
        "the hourly-style window must hold after a restart: {wait:?}"
    );
    again.close().await;
}

pub(crate) async fn bad_quota_keys_and_windows_are_refused(store: Arc<dyn Store>) {
    let ok = [window(1, Duration::from_secs(1))];
    for (key, limits) in [
        ("", ok.to_vec()),
        ("k", vec![window(0, Duration::from_secs(1))]),
        ("k", vec![window(1, Duration::ZERO)]),
        ("k", vec![window(2_000_000, Duration::from_secs(1))]),
    ] {
        let e = store
            .take_quota_slot(key, &limits, false)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    let long = "k".repeat(101);
    let e = store
        .pause_quota(&long, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // Nothing was recorded: the first real take is granted.
    grant(&*store, "k", &ok, false).await;
    let state = store.quota_state("k", &ok).await.expect("state");
    assert_eq!(state.used, vec![1]);
    assert_eq!(state.paused_for, None);
}

pub(crate) async fn an_interactive_taker_goes_before_background_ones_of_every_store(db: &TestDb) {
    let till = db.second_store().await;
    let limits = [window(1, Duration::from_millis(400))];
    grant(&*db.store, "lane", &limits, false).await;
    // The till must wait for the window: it announces itself.
    let wait = wait_of(&*till, "lane", &limits, true)
        .await
        .expect("the window is full");
    tokio::time::sleep(wait).await;
    // When the slot comes, a background taker of the other store waits for the till...
    let w = wait_of(&*db.store, "lane", &limits, false)
        .await
        .expect("a background taker overtook the till");
    assert!(w <= Duration::from_millis(150), "{w:?}");
    // ... which takes it, and its announcement ends.
    grant(&*till, "lane", &limits, true).await;
    let w = wait_of(&*db.store, "lane", &limits, false)
        .await
        .expect("two grants in one 1/400ms window");
    assert!(w > Duration::from_millis(250), "the window: {w:?}");
    till.close().await;
}

pub(crate) async fn a_lowered_limit_holds_every_store_and_a_reopened_one(db: &TestDb) {
    let hour = Duration::from_secs(3600);
    // The configured plan allows 100 an hour; the vendor revealed 2.
    let limits = [window(100, hour)];
    let learner = db.second_store().await;
    assert!(
        learner
            .lower_quota_limit("learned", hour, 2)
            .await
            .expect("lower")
    );
    assert!(
        !learner
            .lower_quota_limit("learned", hour, 5)
            .await
            .expect("lower"),
        "never raised"
    );
    learner.close().await;
    drop(learner);
    // Another store (another gateway, or the learner restarted) keeps 2, not 100.
    let other = db.second_store().await;
    for _ in 0..2 {
        grant(&*other, "learned", &limits, false).await;
    }
    let wait = wait_of(&*db.store, "learned", &limits, true)
        .await
        .expect("a third grant under a lowered limit of 2/h");
    assert!(wait > Duration::from_secs(3500), "{wait:?}");
    let state = other.quota_state("learned", &limits).await.expect("state");
    assert_eq!(state.used, vec![2]);
    assert_eq!(state.lowered, vec![window(2, hour)]);
    // Other windows and keys keep their configured limits.
    grant(&*other, "learned-not", &limits, false).await;
    assert!(
        other
            .lower_quota_limit("learned", hour, 0)
            .await
            .is_ok_and(|lowered| !lowered),
        "0 is ignored"
    );
    other.close().await;
}
