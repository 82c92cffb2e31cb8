//! The state file: survives reopening, is written atomically, rejects garbage; the config
//! deserializes inside the facade's `kind`-tagged enum.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use rust_decimal_macros::dec;
use serde::Deserialize;
use walletport_core::{
    Checked, Credit, CreditBalance, CreditOutcome, Customer, ErrorKind, GetCustomer, Phone,
    Provider, ProviderExt, RedeemBalance, Redemption, TransactionId, UpsertCustomer,
};
use walletport_memory::{ManualClock, MemoryConfig, MemoryProvider};

fn phone(n: u32) -> Phone {
    Phone::parse(&format!("+4207000{n:05}")).unwrap()
}

/// A fresh temporary directory (removed when dropped) and the state file's path inside it, not
/// yet created.
fn state_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    (dir, path)
}

fn open(path: &Path) -> Arc<dyn Provider> {
    Checked::wrap(Arc::new(
        MemoryProvider::open(&MemoryConfig::with_path(path)).unwrap(),
    ))
}

async fn upsert(provider: &dyn Provider, phone: Phone, name: &str) -> walletport_core::Result<()> {
    let customer = Customer {
        name: Some(name.to_owned()),
        ..Customer::new(phone)
    };
    provider
        .customers()
        .upsert_customer(UpsertCustomer::new(customer))
        .await
        .map(drop)
}

/// Credits 150.25 points to customer 1 under transaction id `t1`.
async fn credit_t1(provider: &dyn Provider) -> CreditOutcome {
    let credit = Credit::new(dec!(150.25), TransactionId::new("t1").unwrap(), None).unwrap();
    let customer = phone(1).into();
    let credit = CreditBalance { customer, credit };
    provider.balances().credit(credit).await.unwrap()
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

#[tokio::test]
async fn state_survives_reopening() {
    let (_dir, path) = state_file();
    {
        let first = open(&path);
        upsert(first.as_ref(), phone(1), "Anna").await.unwrap();
        assert!(credit_t1(first.as_ref()).await.applied);
    }
    assert!(path.is_file());
    let second = open(&path);
    let record = second.customer_by_phone(&phone(1)).await.unwrap();
    assert_eq!(record.customer.name.as_deref(), Some("Anna"));
    assert_eq!(record.balance.unwrap().points.to_string(), "150.25");
    // Exactly-once holds across processes too.
    assert!(!credit_t1(second.as_ref()).await.applied);
    // Card numbers continue where the first provider stopped.
    upsert(second.as_ref(), phone(2), "Bára").await.unwrap();
    let first_card = record.cards[0].number.clone().unwrap();
    let second_card = second.customer_by_phone(&phone(2)).await.unwrap().cards[0]
        .number
        .clone()
        .unwrap();
    assert_eq!(
        second_card.parse::<u64>().unwrap(),
        first_card.parse::<u64>().unwrap() + 1
    );
}

#[tokio::test]
async fn a_failed_write_changes_nothing_and_leaves_no_partial_file() {
    let (dir, path) = state_file();
    let provider = open(&path);
    upsert(provider.as_ref(), phone(1), "Anna").await.unwrap();

    // Make the rename impossible: the state file's name is now taken by a non-empty directory.
    let saved = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("keep"), b"x").unwrap();

    let err = upsert(provider.as_ref(), phone(1), "Changed")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unexpected, "{err}");
    assert!(
        temp_files(dir.path()).is_empty(),
        "{:?}",
        temp_files(dir.path())
    );
    let record = provider.customer_by_phone(&phone(1)).await.unwrap();
    assert_eq!(
        record.customer.name.as_deref(),
        Some("Anna"),
        "memory changed although the write failed"
    );

    // Once the file can be written again, the next change lands and reopening sees it.
    std::fs::remove_dir_all(&path).unwrap();
    std::fs::write(&path, saved).unwrap();
    upsert(provider.as_ref(), phone(1), "Changed")
        .await
        .unwrap();
    assert!(temp_files(dir.path()).is_empty());
    let reopened = open(&path);
    let record = reopened.customer_by_phone(&phone(1)).await.unwrap();
    assert_eq!(record.customer.name.as_deref(), Some("Changed"));
}

#[tokio::test]
async fn reads_and_rejected_input_do_not_write() {
    let (_dir, path) = state_file();
    let provider = open(&path);
    provider
        .customers()
        .get_customer(GetCustomer::new(phone(9)))
        .await
        .unwrap_err();
    assert!(!path.exists(), "a read created the state file");
    let bad = Customer {
        email: Some("nope".into()),
        ..Customer::new(phone(9))
    };
    let err = provider
        .customers()
        .upsert_customer(UpsertCustomer::new(bad))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(!path.exists(), "rejected input created the state file");
}

/// A state file written by walletport 0.1 (format 1: an absolute base plus every credit,
/// summed on read) loads with the same balances, burns and exactly-once records, takes
/// redemptions, and is stored in the current format by the next change.
#[tokio::test]
async fn a_format_1_state_file_still_loads() {
    let (_dir, path) = state_file();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-format-1.json");
    std::fs::copy(&fixture, &path).unwrap();
    // Written at 2025-03-01T12:00:00Z: +420700000001 had 10 (1 h) set over to 100 and 5% bonus,
    // then 5 (2 h), 7.5 (forever) and 3 (30 min); +420700000002 had 4 (1 h).
    let t0 = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let provider: Arc<dyn Provider> = Checked::wrap(Arc::new(
        MemoryProvider::open(&MemoryConfig::with_path(&path))
            .unwrap()
            .with_clock(clock.clone()),
    ));
    let (a, b) = (
        Phone::parse("+420700000001").unwrap(),
        Phone::parse("+420700000002").unwrap(),
    );
    let balance = provider.balance_of(&a).await.unwrap();
    assert_eq!(balance.points, dec!(115.5));
    assert_eq!(balance.bonus_percent.value(), dec!(5));
    assert_eq!(provider.balance_of(&b).await.unwrap().points, dec!(4));
    clock.set(t0 + TimeDelta::minutes(30));
    assert_eq!(provider.balance_of(&a).await.unwrap().points, dec!(112.5));
    clock.set(t0 + TimeDelta::hours(1));
    assert_eq!(provider.balance_of(&b).await.unwrap().points, dec!(0));
    assert_eq!(
        provider.balance_of(&a).await.unwrap().points,
        dec!(112.5),
        "the credit superseded by the set burned"
    );
    let credit = |tx: &str, amount, secs: Option<u64>| CreditBalance {
        customer: a.clone().into(),
        credit: Credit::new(
            amount,
            TransactionId::new(tx).unwrap(),
            secs.map(std::time::Duration::from_secs),
        )
        .unwrap(),
    };
    // Exactly-once records survived, superseded credits' too.
    assert!(
        !provider
            .balances()
            .credit(credit("c1", dec!(10), Some(3600)))
            .await
            .unwrap()
            .applied
    );
    let redeem = |tx: &str, amount| RedeemBalance {
        customer: a.clone().into(),
        redemption: Redemption::new(amount, TransactionId::new(tx).unwrap()).unwrap(),
    };
    let err = provider
        .balances()
        .redeem(redeem("c2", dec!(5)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    // 110 takes the 5 burning at 14:00 first, then 105 of the permanent 107.5.
    let outcome = provider
        .balances()
        .redeem(redeem("r1", dec!(110)))
        .await
        .unwrap();
    assert!(outcome.applied);
    assert_eq!(outcome.balance.points, dec!(2.5));
    let stored: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(stored["format"], 2);
    assert!(stored["customers"]["+420700000001"]["ledger"]["base"].is_null());

    clock.set(t0 + TimeDelta::hours(3));
    let reopened = MemoryProvider::open(&MemoryConfig::with_path(&path))
        .unwrap()
        .with_clock(clock.clone());
    assert_eq!(reopened.balance_of(&a).await.unwrap().points, dec!(2.5));
    assert_eq!(reopened.balance_of(&b).await.unwrap().points, dec!(0));
    assert_eq!(reopened.snapshot(), file_state(&path));
}

fn file_state(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_state_file_of_an_unknown_format_is_a_config_error() {
    let (_dir, path) = state_file();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-format-1.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    state["format"] = 99.into();
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
    let err = MemoryProvider::open(&MemoryConfig::with_path(&path)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");
    assert!(err.to_string().contains("format 99"), "{err}");
}

#[test]
fn garbage_state_files_and_bad_config_are_config_errors() {
    let (dir, path) = state_file();
    std::fs::write(&path, b"{\"not\": \"a state\"}").unwrap();
    let err = MemoryProvider::open(&MemoryConfig::with_path(&path)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");

    std::fs::write(&path, b"{ truncated").unwrap();
    let err = MemoryProvider::open(&MemoryConfig::with_path(&path)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");

    let missing_dir = MemoryConfig::with_path(dir.path().join("no/such/dir/state.json"));
    assert_eq!(
        MemoryProvider::open(&missing_dir).unwrap_err().kind(),
        ErrorKind::ConfigInvalid
    );
    for bad in [
        MemoryConfig {
            page_size: Some(0),
            ..Default::default()
        },
        MemoryConfig {
            page_size: Some(1000),
            ..Default::default()
        },
        MemoryConfig {
            card_number_start: Some(0),
            ..Default::default()
        },
    ] {
        assert_eq!(
            MemoryProvider::open(&bad).unwrap_err().kind(),
            ErrorKind::ConfigInvalid,
            "{bad:?}"
        );
    }
}

/// The facade's shape: an enum tagged by `kind` whose variant holds the config.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum ProviderConfig {
    Memory(MemoryConfig),
    #[allow(dead_code)]
    Other {
        key: String,
    },
}

#[test]
fn config_works_inside_a_kind_tagged_enum() {
    let cfg: ProviderConfig = toml::from_str("kind = \"memory\"").unwrap();
    let ProviderConfig::Memory(memory) = cfg else {
        panic!("{cfg:?}")
    };
    assert_eq!(memory, MemoryConfig::default());

    let cfg: ProviderConfig = toml::from_str(
        "kind = \"memory\"\npath = \"/tmp/x.json\"\ndefault_template = \"gold\"\ncard_number_start = 500\npage_size = 10",
    )
    .unwrap();
    let ProviderConfig::Memory(memory) = cfg else {
        panic!("{cfg:?}")
    };
    assert_eq!(memory.path.as_deref(), Some(Path::new("/tmp/x.json")));
    assert_eq!(
        memory.default_template.as_ref().map(|t| t.as_str()),
        Some("gold")
    );
    assert_eq!(memory.card_number_start, Some(500));
    assert_eq!(memory.page_size, Some(10));

    let json: ProviderConfig =
        serde_json::from_str(r#"{"kind":"memory","path":"s.json"}"#).unwrap();
    assert!(matches!(
        json,
        ProviderConfig::Memory(MemoryConfig { path: Some(_), .. })
    ));

    let err =
        toml::from_str::<ProviderConfig>("kind = \"memory\"\npaht = \"typo.json\"").unwrap_err();
    assert!(err.to_string().contains("paht"), "{err}");
    let err =
        serde_json::from_str::<ProviderConfig>(r#"{"kind":"memory","paht":"x"}"#).unwrap_err();
    assert!(err.to_string().contains("paht"), "{err}");

    // And it round-trips through serialization.
    let text = serde_json::to_string(&memory).unwrap();
    assert_eq!(serde_json::from_str::<MemoryConfig>(&text).unwrap(), memory);
}
