//! Not per backend: choosing the backend by URL and keeping passwords out of errors.

use std::time::Duration;

use walletport_core::ErrorKind;
use walletport_store::{StoreOptions, connect, connect_with};

#[tokio::test]
async fn unknown_schemes_are_config_errors_and_passwords_never_show() {
    let Err(err) = connect("mysql://root:hunter2@db/walletport").await else {
        panic!("mysql is not a backend");
    };
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(!format!("{err:?}").contains("hunter2"));

    let options = StoreOptions {
        acquire_timeout: Duration::from_secs(2),
        ..StoreOptions::default()
    };
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let Err(err) = connect_with("postgres://app:hunter2@127.0.0.1:1/walletport", options).await
    else {
        panic!("nothing listens on port 1");
    };
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    let Err(err) = connect("postgres://app:hunter2@[::1:5432/x").await else {
        panic!("malformed URL");
    };
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
}

#[tokio::test]
async fn a_sqlite_file_is_created_and_reopened_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display());
    let store = connect(&url).await.unwrap();
    assert_eq!(store.backend(), walletport_store::Backend::Sqlite);
    let id = crate::support::customer(&*store, 1).await;
    let c = crate::support::credit(rust_decimal_macros::dec!(3), "persisted");
    store.credit(&id, &c, crate::support::opts()).await.unwrap();
    store.close().await;
    drop(store);
    let again = connect(&url).await.unwrap();
    again.ping().await.unwrap();
    assert_eq!(
        again
            .balance(&id, crate::support::t0())
            .await
            .unwrap()
            .points,
        rust_decimal_macros::dec!(3)
    );
    assert!(
        !again
            .credit(&id, &c, crate::support::opts())
            .await
            .unwrap()
            .applied
    );
    again.close().await;
}
