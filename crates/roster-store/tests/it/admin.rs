use crate::support;
use roster_store::StoreError;

#[tokio::test]
async fn admin_credentials_are_saved_replaced_and_never_shown() {
    let (stores, _key, _clock) = support::default_stores().await;
    let first = support::start();
    let later = first + chrono::Duration::minutes(5);
    for t in &stores {
        let (store, name) = (&t.store, t.name);
        assert!(store.admin_credential("admin").await.unwrap().is_none(), "{name}");

        store.save_admin_credential("admin", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", first).await.unwrap();
        let saved = store.admin_credential("admin").await.unwrap().unwrap();
        assert_eq!(saved.password_hash, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", "{name}");
        assert_eq!((saved.created_at, saved.updated_at), (first, first), "{name}");
        assert!(!format!("{saved:?}").contains("argon2id"), "{name}: Debug shows the hash");

        // Replacing keeps the creation time and moves the update time.
        store.save_admin_credential("admin", "$argon2id$other", later).await.unwrap();
        let replaced = store.admin_credential("admin").await.unwrap().unwrap();
        assert_eq!(replaced.password_hash, "$argon2id$other", "{name}");
        assert_eq!((replaced.created_at, replaced.updated_at), (first, later), "{name}");
        assert!(store.admin_credential("someone-else").await.unwrap().is_none(), "{name}");

        let err = store.save_admin_credential("admin", "", later).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid { what: "admin credential", .. }), "{name}: {err:?}");
    }
}
