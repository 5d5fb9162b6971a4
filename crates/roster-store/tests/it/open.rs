use crate::support::{self, TestStore};
use roster_store::{KeySource, SecretKey, Store, StoreError, StoreOptions};

#[tokio::test]
async fn migrations_are_idempotent_and_data_survives_reopening() {
    let (stores, key, clock) = support::default_stores().await;
    for t in &stores {
        let TestStore { store, name, .. } = t;
        store.save_api_client("WebserviceUser", "$argon2id$v=19$…", support::start()).await.unwrap();
        // Open the same database twice more: migrations run again and change nothing.
        let again = t.reopen(support::options(&key, &clock)).await;
        let third = t.reopen(support::options(&key, &clock)).await;
        assert!(again.api_client("WebserviceUser").await.unwrap().is_some(), "{name}");
        assert_eq!(third.roster_version().await.unwrap(), 0, "{name}");
        let applied = t.raw_strings("SELECT CAST(version AS TEXT) FROM _sqlx_migrations ORDER BY version").await;
        assert_eq!(applied, vec!["1".to_owned(), "2".to_owned()], "{name}");
    }
}

#[tokio::test]
async fn opens_paths_urls_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested-file.db");
    let store = Store::open_with(path.to_str().unwrap(), StoreOptions::default().key(KeySource::None)).await.unwrap();
    assert!(path.exists());
    store.close().await;
    let url = format!("sqlite://{}", dir.path().join("by-url.db").display());
    Store::open_with(&url, StoreOptions::default().key(KeySource::None)).await.unwrap();
    let memory = Store::memory_with(StoreOptions::default().key(KeySource::None)).await.unwrap();
    assert_eq!(memory.roster_version().await.unwrap(), 0);
    assert!(!memory.has_secret_key());

    let err = Store::open("mysql://u:hunter2@db/x").await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidTarget { .. }), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn key_files_and_bad_keys() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate();
    let file = dir.path().join("key");
    std::fs::write(&file, format!("{}\n", secrecy::ExposeSecret::expose_secret(&key.to_base64()))).unwrap();
    let store = Store::memory_with(StoreOptions::default().key_file(&file)).await.unwrap();
    assert!(store.has_secret_key());

    std::fs::write(&file, "not a key").unwrap();
    let err = Store::memory_with(StoreOptions::default().key_file(&file)).await.unwrap_err();
    assert!(matches!(err, StoreError::SecretKeyInvalid { .. }), "{err}");
    assert!(err.to_string().contains("key file"), "{err}");

    let missing = dir.path().join("absent");
    let err = Store::memory_with(StoreOptions::default().key_file(&missing)).await.unwrap_err();
    assert!(err.is_secret_key_problem(), "{err}");
}

#[tokio::test]
async fn unreachable_postgres_is_a_clear_error() {
    // Port 1 on the loopback: nothing listens there.
    let err = Store::open("postgres://postgres:pw@127.0.0.1:1/test").await.unwrap_err();
    assert!(matches!(err, StoreError::Connect { .. }), "{err}");
    assert!(err.is_transient());
    assert!(!err.chain().contains(":pw@"), "{}", err.chain());
}
