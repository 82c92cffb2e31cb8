//! Temporary: hot-customer timing (not committed).
use std::sync::Arc;
use std::time::Instant;
use rust_decimal_macros::dec;
use walletport_core::{Credit, Customer, Phone, TransactionId};
use walletport_store::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("h.db").display());
    let store: Arc<dyn Store> = connect(&url).await.unwrap();
    let now = chrono::Utc::now();
    let o = WriteOpts::at(now).no_echo();
    let hot = store.upsert_customer(&Customer::new(Phone::parse("+420700000001").unwrap()), o).await.unwrap().id;
    let cold = store.upsert_customer(&Customer::new(Phone::parse("+420700000002").unwrap()), o).await.unwrap().id;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..64 {
        let store = store.clone();
        let hot = hot.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..(100_000 / 64 + 1) {
                let life = if i % 2 == 0 { Some(std::time::Duration::from_secs(86400 * 365)) } else { None };
                let c = Credit::new(dec!(1), TransactionId::new(format!("h{w}-{i}")).unwrap(), life).unwrap();
                store.credit(&hot, &c, o).await.unwrap();
            }
        }));
    }
    for t in tasks { t.await.unwrap(); }
    eprintln!("fill {:?}", t.elapsed());
    for (name, c) in [("cold", &cold), ("hot", &hot)] {
        let t = Instant::now();
        for _ in 0..2000 { store.balance(c, now).await.unwrap(); }
        eprintln!("{name} balance x2000 {:?}", t.elapsed());
        let t = Instant::now();
        for i in 0..300 {
            let cr = Credit::new(dec!(1), TransactionId::new(format!("{name}-x{i}")).unwrap(), Some(std::time::Duration::from_secs(60))).unwrap();
            store.credit(c, &cr, o).await.unwrap();
        }
        eprintln!("{name} credit x300 {:?}", t.elapsed());
        let t = Instant::now();
        for i in 0..300 {
            store.apply(c, &LedgerOp::Redeem(Redemption::new(dec!(1), TransactionId::new(format!("{name}-r{i}")).unwrap()).unwrap()), o).await.unwrap();
        }
        eprintln!("{name} redeem x300 {:?}", t.elapsed());
        let t = Instant::now();
        store.ledger(c, &LedgerQuery { before: None, limit: 100 }).await.unwrap();
        eprintln!("{name} ledger page {:?}", t.elapsed());
    }
    eprintln!("{:?}", store.balance(&hot, now).await.unwrap().points);
    store.close().await;
}
