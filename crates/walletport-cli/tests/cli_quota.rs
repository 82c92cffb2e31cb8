//! Direct vendor commands take their slots from the store's shared quota when a store is
//! configured, so a CLI command run next to live gateways cannot push the vendor over the plan.

mod common;

use std::time::Duration;

use walletport_sandbox::passquare::{PassquareEmulator, PassquareEmulatorConfig};
use walletport_store::QuotaLimit;

use common::walletport;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_commands_are_counted_in_the_stores_quota_window() {
    // The emulator enforces Passquare's base plan (1/s, 60/h), as the real vendor would. The
    // CLI's windows are 300 ms longer, as operations.md advises: a slot is granted before the
    // request travels, and on a loaded machine the first request can reach the vendor late.
    let (server, emu) = common::spawn_emulator(|addr| {
        PassquareEmulator::spawn(PassquareEmulatorConfig::default(), addr)
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let database = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("quota.db").display()
    );
    let cfg = common::write_config(
        dir.path(),
        &format!(
            "[provider]\nkind = \"passquare\"\nbase_url = \"{}\"\napp_key = \"sandbox-app-key\"\n\
             plan = \"1/1s 300ms, 60/h\"\n\n[server]\ndatabase = \"{database}\"\n",
            server.base_url()
        ),
    );

    common::expect_ok(walletport(&cfg, &["providers", "--check"]));
    // Found or not, the lookup is one more vendor request.
    walletport(&cfg, &["customer", "get", "--phone", "+420000000001"]);
    let sent = emu.request_count();
    assert!(sent >= 2, "both commands reached the vendor: {sent}");

    let store = walletport_store::connect(&database).await.expect("store");
    let hour = [QuotaLimit {
        limit: 60,
        per: Duration::from_secs(3600),
    }];
    let state = store.quota_state("passquare", &hour).await.expect("state");
    store.close().await;
    assert_eq!(
        state.used,
        [u32::try_from(sent).expect("few")],
        "every request of the two commands took its slot in the store"
    );
    // Two processes one after the other within the 1/s window: only the shared window keeps
    // the second from being refused.
    assert_eq!(emu.quota_rejections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_configured_store_nothing_is_written() {
    let v = common::passquare("sandbox-app-key").await;
    common::expect_ok(walletport(&v.cfg, &["providers", "--check"]));
    let files: Vec<_> = std::fs::read_dir(v.dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files,
        ["walletport.toml"],
        "no default database was created"
    );
}
