use crate::support;
use roster_store::{
    ConnectionRecord, GroupRecord, KeySource, SecretKey, SecretRef, SecretSource, StoreError, StoreOptions,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::sync::Arc;
use sync_engine::SourceCursor;
use sync_engine::model::{
    ConnectionGroup, ConnectionId, ConnectionKind, OrganisationId, Role, ScopeId, ScopeSelection,
};

const PLAINTEXT: &str = "s3cr3t-client-secret-value";

fn microsoft(id: &str, secret: SecretRef) -> ConnectionRecord {
    ConnectionRecord {
        id: ConnectionId::new(id),
        name: format!("{id} tenant"),
        kind: ConnectionKind::Microsoft,
        settings: json!({ "tenant_id": "00000000-0000-0000-0000-00000000000a", "client_id": "app-1" }),
        secret,
    }
}

fn group(id: &str, organisation: &str, connection: &str) -> GroupRecord {
    GroupRecord {
        name: format!("{id} name"),
        group: ConnectionGroup {
            id: id.into(),
            organisation: OrganisationId::new(organisation),
            connection: ConnectionId::new(connection),
            scopes: vec![
                ScopeSelection { scope: ScopeId::new("g-staff"), name: "All staff".into(), role: Role::Staff },
                ScopeSelection { scope: ScopeId::new("g-y7"), name: "Year 7".into(), role: Role::Student },
            ],
        },
    }
}

#[tokio::test]
async fn stored_secrets_are_encrypted_at_rest() {
    let (stores, key, clock) = support::default_stores().await;
    for t in &stores {
        let (store, name) = (&t.store, t.name);
        store.save_connection(&microsoft("contoso", SecretRef::Stored(PLAINTEXT.into()))).await.unwrap();

        // The raw column holds ciphertext only.
        let raw = t.raw_strings("SELECT secret_ciphertext FROM connections WHERE id = 'contoso'").await;
        assert_eq!(raw.len(), 1, "{name}");
        assert!(!raw[0].contains(PLAINTEXT), "{name}: {}", raw[0]);
        assert!(raw[0].starts_with(&format!("v1:{}:", key.fingerprint())), "{name}: {}", raw[0]);

        let back = store.connection(&ConnectionId::new("contoso")).await.unwrap().unwrap();
        match &back.secret {
            SecretRef::Stored(secret) => assert_eq!(secret.expose_secret(), PLAINTEXT, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
        assert_eq!(back.kind, ConnectionKind::Microsoft);
        assert_eq!(back.settings["tenant_id"], "00000000-0000-0000-0000-00000000000a");
        assert_eq!(back.connection().name, "contoso tenant");
        // Never in Debug.
        assert!(!format!("{back:?}").contains(PLAINTEXT), "{name}");

        // Listing needs no key and shows no secret.
        let no_key = t.reopen(StoreOptions::default().key(KeySource::None)).await;
        let list = no_key.list_connections().await.unwrap();
        assert_eq!(list.len(), 1, "{name}");
        assert_eq!(list[0].secret, SecretSource::Stored, "{name}");

        // Reading the secret without a key: a typed error that says how to provide one.
        let err = no_key.connection(&ConnectionId::new("contoso")).await.unwrap_err();
        assert!(matches!(err, StoreError::SecretKeyMissing { .. }), "{name}: {err}");
        assert!(err.to_string().contains("ROSTERBRIDGE_SECRET_KEY"), "{name}: {err}");
        // Saving one without a key fails the same way.
        let err = no_key.save_connection(&microsoft("other", SecretRef::Stored("x".into()))).await.unwrap_err();
        assert!(matches!(err, StoreError::SecretKeyMissing { .. }), "{name}: {err}");

        // A wrong key is reported as such, not as garbage.
        let wrong = t.reopen(support::options(&SecretKey::generate(), &clock)).await;
        let err = wrong.connection(&ConnectionId::new("contoso")).await.unwrap_err();
        assert!(matches!(err, StoreError::SecretKeyMismatch { .. }), "{name}: {err}");
        assert!(!err.chain().contains(PLAINTEXT), "{name}");

        // A damaged value with the right fingerprint fails authentication.
        let damaged = format!("v1:{}:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", key.fingerprint());
        t.raw_execute(&format!("UPDATE connections SET secret_ciphertext = '{damaged}' WHERE id = 'contoso'")).await;
        let err = store.connection(&ConnectionId::new("contoso")).await.unwrap_err();
        assert!(matches!(err, StoreError::SecretDecrypt { .. }), "{name}: {err}");
    }
}

#[tokio::test]
async fn env_secrets_store_only_the_name() {
    let (stores, _key, _clock) = support::default_stores().await;
    for t in &stores {
        let (store, name) = (&t.store, t.name);
        // `PATH` is set in every environment the tests run in.
        store.save_connection(&microsoft("by-env", SecretRef::Env("PATH".into()))).await.unwrap();
        store
            .save_connection(&microsoft("unset", SecretRef::Env("ROSTERBRIDGE_SURELY_UNSET_VAR_42".into())))
            .await
            .unwrap();
        store
            .save_connection(&ConnectionRecord {
                id: ConnectionId::new("csv"),
                name: "CSV drop".into(),
                kind: ConnectionKind::Other("sftp-csv".into()),
                settings: json!({}),
                secret: SecretRef::None,
            })
            .await
            .unwrap();

        let raw = t.raw_strings("SELECT secret_env FROM connections WHERE id = 'by-env'").await;
        assert_eq!(raw, vec!["PATH".to_owned()], "{name}");

        // Env references need no key at all.
        let no_key = t.reopen(StoreOptions::default().key(KeySource::None)).await;
        let back = no_key.connection(&ConnectionId::new("by-env")).await.unwrap().unwrap();
        assert!(matches!(&back.secret, SecretRef::Env(v) if v == "PATH"), "{name}");
        let resolved = back.secret.resolve().unwrap().unwrap();
        assert_eq!(resolved.expose_secret(), std::env::var("PATH").unwrap());

        let unset = no_key.connection(&ConnectionId::new("unset")).await.unwrap().unwrap();
        let err = unset.secret.resolve().unwrap_err();
        assert!(matches!(err, StoreError::SecretEnvMissing { .. }), "{name}: {err}");
        assert!(err.to_string().contains("ROSTERBRIDGE_SURELY_UNSET_VAR_42"));

        let csv = no_key.connection(&ConnectionId::new("csv")).await.unwrap().unwrap();
        assert!(matches!(csv.secret, SecretRef::None));
        assert_eq!(csv.kind, ConnectionKind::Other("sftp-csv".into()));

        let ids: Vec<String> = no_key.list_connections().await.unwrap().into_iter().map(|c| c.id.to_string()).collect();
        assert_eq!(ids, ["by-env", "csv", "unset"], "{name}");

        // Bad input is refused with a typed error.
        let err = store.save_connection(&microsoft("a:b", SecretRef::None)).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{name}: {err}");
        let err = store.save_connection(&microsoft("x", SecretRef::Env("NOT A NAME".into()))).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{name}: {err}");
    }
}

#[tokio::test]
async fn saving_again_replaces_and_connections_are_deleted_only_when_unused() {
    let (stores, _key, _clock) = support::default_stores().await;
    for t in &stores {
        let (store, name) = (&t.store, t.name);
        store.save_connection(&microsoft("contoso", SecretRef::Stored("first".into()))).await.unwrap();
        let mut changed = microsoft("contoso", SecretRef::Stored("second".into()));
        changed.name = "Renamed".into();
        store.save_connection(&changed).await.unwrap();
        let back = store.connection(&ConnectionId::new("contoso")).await.unwrap().unwrap();
        assert_eq!(back.name, "Renamed");
        assert!(matches!(&back.secret, SecretRef::Stored(s) if s.expose_secret() == "second"), "{name}");

        store.save_group(&group("cg-1", "org-1", "contoso")).await.unwrap();
        let err = store.delete_connection(&ConnectionId::new("contoso")).await.unwrap_err();
        match &err {
            StoreError::ConnectionInUse { connection, groups } => {
                assert_eq!(connection.as_str(), "contoso");
                assert_eq!(groups, &vec!["cg-1".to_owned()]);
            }
            other => panic!("{name}: {other}"),
        }
        assert!(store.connection(&ConnectionId::new("contoso")).await.unwrap().is_some(), "{name}");

        assert!(store.delete_group("cg-1").await.unwrap());
        assert!(store.delete_connection(&ConnectionId::new("contoso")).await.unwrap(), "{name}");
        assert!(!store.delete_connection(&ConnectionId::new("contoso")).await.unwrap(), "{name}");
        assert!(store.connection(&ConnectionId::new("contoso")).await.unwrap().is_none(), "{name}");
    }
}

#[tokio::test]
async fn connection_groups_crud() {
    let (stores, _key, _clock) = support::default_stores().await;
    for t in &stores {
        let (store, name) = (&t.store, t.name);
        store.save_connection(&microsoft("contoso", SecretRef::None)).await.unwrap();
        store.save_connection(&microsoft("fabrikam", SecretRef::None)).await.unwrap();

        // A group needs an existing connection.
        let err = store.save_group(&group("cg-x", "org-1", "nope")).await.unwrap_err();
        assert!(err.is_not_found(), "{name}: {err}");

        store.save_group(&group("cg-2", "org-2", "contoso")).await.unwrap();
        store.save_group(&group("cg-1", "org-1", "contoso")).await.unwrap();
        store.save_group(&group("cg-3", "org-1", "fabrikam")).await.unwrap();

        let g = store.group("cg-1").await.unwrap().unwrap();
        assert_eq!(g, group("cg-1", "org-1", "contoso"), "{name}");
        assert!(store.group("cg-404").await.unwrap().is_none());

        let org1: Vec<String> = store
            .groups_for_organisation(&OrganisationId::new("org-1"))
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.group.id)
            .collect();
        assert_eq!(org1, ["cg-1", "cg-3"], "{name}");
        let orgs = store.organisations().await.unwrap();
        assert_eq!(orgs, [OrganisationId::new("org-1"), OrganisationId::new("org-2")], "{name}");

        // Update: move cg-2 to org-1 with one scope.
        let mut moved = group("cg-2", "org-1", "fabrikam");
        moved.group.scopes.truncate(1);
        moved.name = "Moved".into();
        store.save_group(&moved).await.unwrap();
        assert_eq!(store.group("cg-2").await.unwrap().unwrap(), moved, "{name}");
        assert_eq!(store.organisations().await.unwrap(), [OrganisationId::new("org-1")], "{name}");
        assert_eq!(store.groups().await.unwrap().len(), 3);

        assert!(store.delete_group("cg-2").await.unwrap());
        assert!(!store.delete_group("cg-2").await.unwrap());
        assert_eq!(store.groups().await.unwrap().len(), 2, "{name}");
    }
}

#[tokio::test]
async fn cursors_and_refresh_tokens() {
    let (stores, key, clock) = support::default_stores().await;
    for t in &stores {
        let (store, name) = (&t.store, t.name);
        let contoso = ConnectionId::new("contoso");
        store.save_connection(&microsoft("contoso", SecretRef::None)).await.unwrap();
        assert!(store.cursor(&contoso, "g-staff").await.unwrap().is_none());

        // Delta links are long opaque URLs.
        let long = format!("https://graph.microsoft.com/v1.0/groups/delta?$deltatoken={}", "x".repeat(8000));
        store.save_cursor(&contoso, "g-staff", &SourceCursor(long.clone())).await.unwrap();
        store.save_cursor(&contoso, "users", &SourceCursor("first".into())).await.unwrap();
        store.save_cursor(&contoso, "users", &SourceCursor("second".into())).await.unwrap();
        assert_eq!(store.cursor(&contoso, "g-staff").await.unwrap(), Some(SourceCursor(long)), "{name}");
        assert_eq!(store.cursor(&contoso, "users").await.unwrap(), Some(SourceCursor("second".into())), "{name}");
        assert!(store.delete_cursor(&contoso, "users").await.unwrap());
        assert!(store.cursor(&contoso, "users").await.unwrap().is_none());
        let err = store.save_cursor(&ConnectionId::new("nope"), "k", &SourceCursor("c".into())).await.unwrap_err();
        assert!(err.is_not_found(), "{name}: {err}");

        // Refresh tokens: encrypted, bound to their connection.
        let token = SecretString::from("0.ARefreshTokenValue");
        store.save_refresh_token(&contoso, &token).await.unwrap();
        let raw = t.raw_strings("SELECT ciphertext FROM refresh_tokens").await;
        assert!(!raw[0].contains("ARefreshTokenValue"), "{name}");
        assert_eq!(store.refresh_token(&contoso).await.unwrap().unwrap().expose_secret(), "0.ARefreshTokenValue");
        let other = t.reopen(support::options(&SecretKey::generate(), &clock)).await;
        assert!(other.refresh_token(&contoso).await.unwrap_err().is_secret_key_problem(), "{name}");
        let same =
            t.reopen(StoreOptions::default().key(KeySource::Key(key.clone())).clock(Arc::new(clock.clone()))).await;
        assert!(same.refresh_token(&contoso).await.unwrap().is_some());
        let err = store.save_refresh_token(&ConnectionId::new("nope"), &token).await.unwrap_err();
        assert!(err.is_not_found(), "{name}: {err}");

        // Deleting the connection takes its cursors and token with it.
        assert!(store.delete_connection(&contoso).await.unwrap());
        assert!(store.cursor(&contoso, "g-staff").await.unwrap().is_none(), "{name}");
        assert!(store.refresh_token(&contoso).await.unwrap().is_none(), "{name}");
    }
}
