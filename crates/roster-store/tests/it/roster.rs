use crate::support;
use chrono::{DateTime, Duration, Utc};
use oneroster_model::csv::{FileMode, read_roster};
use oneroster_model::{Base, EntityKind, Password, Roster, Status, User};
use roster_store::{ImportCounts, ImportMode, ImportOptions, ROSTER_CHANNEL, Store, StoreError};
use std::collections::BTreeMap;

fn fixture() -> Roster {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/oneroster/csv/st-aidans");
    read_roster(path, &Default::default()).unwrap().roster
}

fn t(minutes: i64) -> DateTime<Utc> {
    support::start() + Duration::minutes(minutes)
}

fn user<'a>(roster: &'a Roster, id: &str) -> &'a User {
    roster.users.iter().find(|u| u.base.sourced_id == id).unwrap()
}

fn counts(created: usize, updated: usize, unchanged: usize, deleted: usize) -> ImportCounts {
    ImportCounts { created, updated, unchanged, deleted }
}

type Dates = BTreeMap<(EntityKind, String), (Status, Option<DateTime<Utc>>)>;

/// Every record's status and `dateLastModified`, by kind and id.
fn dates(roster: &Roster) -> Dates {
    fn add<E: oneroster_model::Entity>(out: &mut Dates, records: &[E]) {
        for r in records {
            out.insert((E::KIND, r.sourced_id().to_owned()), (r.base().status, r.base().date_last_modified));
        }
    }
    let mut out = BTreeMap::new();
    add(&mut out, &roster.orgs);
    add(&mut out, &roster.academic_sessions);
    add(&mut out, &roster.courses);
    add(&mut out, &roster.classes);
    add(&mut out, &roster.users);
    add(&mut out, &roster.enrollments);
    add(&mut out, &roster.demographics);
    out
}

#[tokio::test]
async fn bulk_import_round_trips_and_moves_dates_only_for_real_changes() {
    let (stores, _key, _clock) = support::default_stores().await;
    let roster = fixture();
    let total = roster.len();
    assert!(total > 10);
    for tst in &stores {
        let (store, name) = (&tst.store, tst.name);
        let first = store.import_roster(&roster, ImportMode::Bulk, t(0)).await.unwrap();
        assert_eq!(first.version, 1, "{name}");
        assert_eq!(first.totals(), counts(total, 0, 0, 0), "{name}");
        assert_eq!(first.kinds[&EntityKind::User], counts(roster.users.len(), 0, 0, 0), "{name}");

        let (version, loaded) = store.load_roster().await.unwrap();
        assert_eq!(version, 1);
        assert_eq!(loaded.len(), total, "{name}");
        // Every record reads back as imported, with dateLastModified = the import's time.
        let mut expected = roster.clone();
        for u in &mut expected.users {
            u.base.date_last_modified = Some(t(0));
        }
        expected.users.sort_by(|a, b| a.base.sourced_id.cmp(&b.base.sourced_id));
        assert_eq!(loaded.users, expected.users, "{name}");
        assert!(dates(&loaded).values().all(|(s, d)| *s == Status::Active && *d == Some(t(0))), "{name}");
        assert_eq!(loaded.enrollments.len(), roster.enrollments.len());
        assert_eq!(loaded.demographics.len(), roster.demographics.len());

        // The same set again (even with other dates in the file): nothing changes but the version.
        let mut same = roster.clone();
        for u in &mut same.users {
            u.base.date_last_modified = Some(t(-600));
        }
        let second = store.import_roster(&same, ImportMode::Bulk, t(10)).await.unwrap();
        assert_eq!(second.version, 2, "{name}");
        assert_eq!(second.totals(), counts(0, 0, total, 0), "{name}");
        let (_, after_second) = store.load_roster().await.unwrap();
        assert_eq!(after_second, loaded, "{name}");

        // One change: only that record's dateLastModified moves.
        let mut changed = roster.clone();
        let target = changed.users[1].base.sourced_id.clone();
        changed.users[1].given_name.push_str("-Renamed");
        let third = store.import_roster(&changed, ImportMode::Bulk, t(20)).await.unwrap();
        assert_eq!(third.totals(), counts(0, 1, total - 1, 0), "{name}");
        assert_eq!(third.kinds[&EntityKind::User].updated, 1);
        let (version, after_third) = store.load_roster().await.unwrap();
        assert_eq!(version, 3);
        let before = dates(&loaded);
        for (key, (status, date)) in dates(&after_third) {
            let expected = if key == (EntityKind::User, target.clone()) { Some(t(20)) } else { before[&key].1 };
            assert_eq!((status, date), (Status::Active, expected), "{name}: {key:?}");
        }
        assert!(user(&after_third, &target).given_name.ends_with("-Renamed"));

        // Changes since version 2 are exactly that record.
        let (v, changes) = store.load_roster_changes(2).await.unwrap();
        assert_eq!((v, changes.len()), (3, 1), "{name}");
        assert_eq!(changes.users[0].base.sourced_id, target);
        assert_eq!(store.load_roster_changes(0).await.unwrap().1.len(), total, "{name}");

        let history = store.imports(10).await.unwrap();
        assert_eq!(history.iter().map(|i| i.version).collect::<Vec<_>>(), [3, 2, 1], "{name}");
        assert_eq!(history[0].totals, third.totals());
        assert_eq!(history[0].kinds, third.kinds);
        assert_eq!(history[2].imported_at, t(0));
        assert_eq!(history[0].mode, "bulk");
    }
}

#[tokio::test]
async fn records_a_bulk_import_lacks_become_tobedeleted() {
    let (stores, _key, _clock) = support::default_stores().await;
    let roster = fixture();
    for tst in &stores {
        let (store, name) = (&tst.store, tst.name);
        store.import_roster(&roster, ImportMode::Bulk, t(0)).await.unwrap();

        let mut fewer = roster.clone();
        let removed = fewer.users.remove(0).base.sourced_id;
        let report = store.import_roster(&fewer, ImportMode::Bulk, t(5)).await.unwrap();
        assert_eq!(report.kinds[&EntityKind::User], counts(0, 0, fewer.users.len(), 1), "{name}");
        let (_, loaded) = store.load_roster().await.unwrap();
        assert_eq!(loaded.users.len(), roster.users.len(), "{name}: tobedeleted records are still served");
        let gone = user(&loaded, &removed);
        assert_eq!(gone.base.status, Status::ToBeDeleted, "{name}");
        assert_eq!(gone.base.date_last_modified, Some(t(5)), "{name}");

        // Missing again: stays tobedeleted with its date.
        let again = store.import_roster(&fewer, ImportMode::Bulk, t(10)).await.unwrap();
        assert_eq!(again.kinds[&EntityKind::User], counts(0, 0, roster.users.len(), 0), "{name}");
        assert_eq!(user(&store.load_roster().await.unwrap().1, &removed).base.date_last_modified, Some(t(5)));

        // Back again: active, with a new date.
        let back = store.import_roster(&roster, ImportMode::Bulk, t(15)).await.unwrap();
        assert_eq!(back.kinds[&EntityKind::User], counts(0, 1, roster.users.len() - 1, 0), "{name}");
        let returned = store.load_roster().await.unwrap().1;
        assert_eq!(user(&returned, &removed).base.status, Status::Active);
        assert_eq!(user(&returned, &removed).base.date_last_modified, Some(t(15)));

        // A bulk import of users only leaves the other kinds alone.
        let users_only = Roster { users: fewer.users.clone(), ..Roster::default() };
        let report = store.import_roster(&users_only, ImportMode::Bulk, t(20)).await.unwrap();
        assert_eq!(report.kinds.keys().copied().collect::<Vec<_>>(), [EntityKind::User], "{name}");
        let (_, loaded) = store.load_roster().await.unwrap();
        assert!(loaded.orgs.iter().all(|o| o.base.status == Status::Active), "{name}");
        assert!(loaded.enrollments.iter().all(|e| e.base.status == Status::Active), "{name}");

        // An empty bulk file (as a manifest says) empties its kind.
        let modes = BTreeMap::from([(EntityKind::Enrollment, FileMode::Bulk), (EntityKind::User, FileMode::Absent)]);
        let report = store.import_roster(&Roster::default(), ImportMode::PerKind(modes), t(25)).await.unwrap();
        assert_eq!(report.kinds[&EntityKind::Enrollment].deleted, roster.enrollments.len(), "{name}");
        let (_, loaded) = store.load_roster().await.unwrap();
        assert!(loaded.enrollments.iter().all(|e| e.base.status == Status::ToBeDeleted), "{name}");
        assert_eq!(user(&loaded, &removed).base.status, Status::ToBeDeleted, "{name}: users were absent");
    }
}

#[tokio::test]
async fn delta_imports_touch_only_the_given_records() {
    let (stores, _key, _clock) = support::default_stores().await;
    let roster = fixture();
    for tst in &stores {
        let (store, name) = (&tst.store, tst.name);
        store.import_roster(&roster, ImportMode::Bulk, t(0)).await.unwrap();

        let mut changed = roster.users[0].clone();
        changed.family_name = "Changed".into();
        let mut deleted = roster.users[1].clone();
        deleted.base.status = Status::ToBeDeleted;
        let mut new = roster.users[2].clone();
        new.base = Base::new("user-new-1");
        new.username = "new.user".into();
        let unchanged = roster.users[3].clone();
        let delta =
            Roster { users: vec![changed.clone(), deleted.clone(), new.clone(), unchanged], ..Roster::default() };

        let report = store.import_roster(&delta, ImportMode::Delta, t(30)).await.unwrap();
        assert_eq!(report.totals(), counts(1, 1, 1, 1), "{name}");
        let (version, loaded) = store.load_roster().await.unwrap();
        assert_eq!(version, 2);
        assert_eq!(loaded.users.len(), roster.users.len() + 1, "{name}");
        assert_eq!(loaded.orgs.len(), roster.orgs.len(), "{name}");
        let get = |id: &str| user(&loaded, id).clone();
        assert_eq!(get(&changed.base.sourced_id).family_name, "Changed");
        assert_eq!(get(&changed.base.sourced_id).base.date_last_modified, Some(t(30)));
        assert_eq!(get(&deleted.base.sourced_id).base.status, Status::ToBeDeleted, "{name}");
        assert_eq!(get(&deleted.base.sourced_id).base.date_last_modified, Some(t(30)));
        assert_eq!(get("user-new-1").base.date_last_modified, Some(t(30)));
        assert_eq!(get(&roster.users[3].base.sourced_id).base.date_last_modified, Some(t(0)), "{name}");
        // Records the delta does not mention are untouched (not deleted).
        for u in &roster.users[4..] {
            assert_eq!(get(&u.base.sourced_id).base.status, Status::Active, "{name}");
        }
        // A delta that brings a record back reactivates it.
        let mut revived = deleted.clone();
        revived.base.status = Status::Active;
        let report = store
            .import_roster(&Roster { users: vec![revived], ..Roster::default() }, ImportMode::Delta, t(40))
            .await
            .unwrap();
        assert_eq!(report.totals(), counts(0, 1, 0, 0), "{name}");
    }
}

#[tokio::test]
async fn a_failed_import_changes_nothing() {
    let (stores, _key, _clock) = support::default_stores().await;
    let roster = fixture();
    for tst in &stores {
        let (store, name) = (&tst.store, tst.name);
        store.import_roster(&roster, ImportMode::Bulk, t(0)).await.unwrap();
        let before = store.load_roster().await.unwrap();

        // Users change and lose a record, but an enrollment (imported after users) violates a constraint: the
        // database refuses an empty sourcedId. Everything is rolled back.
        let mut bad = roster.clone();
        bad.users[0].given_name = "Should-Not-Stick".into();
        bad.users.pop();
        bad.enrollments.last_mut().unwrap().base.sourced_id = String::new();
        let err = store.import_roster(&bad, ImportMode::Bulk, t(10)).await.unwrap_err();
        assert!(matches!(err, StoreError::Database { .. }), "{name}: {err}");
        assert!(err.to_string().contains("oneroster_records"), "{name}: {err}");
        assert_eq!(store.load_roster().await.unwrap(), before, "{name}: the previous roster must be intact");
        assert_eq!(store.roster_version().await.unwrap(), 1, "{name}");
        assert_eq!(store.imports(10).await.unwrap().len(), 1, "{name}");

        // Two records with one id: refused before anything is kept.
        let mut duplicated = roster.clone();
        duplicated.users[0].given_name = "Also-Not".into();
        let copy = duplicated.classes[0].clone();
        duplicated.classes.push(copy);
        let err = store.import_roster(&duplicated, ImportMode::Bulk, t(20)).await.unwrap_err();
        assert!(matches!(err, StoreError::DuplicateRecord { kind: EntityKind::Class, .. }), "{name}: {err}");
        assert_eq!(store.load_roster().await.unwrap(), before, "{name}");

        // And the store still works afterwards.
        let ok = store.import_roster(&roster, ImportMode::Bulk, t(30)).await.unwrap();
        assert_eq!(ok.version, 2, "{name}");
    }
}

#[tokio::test]
async fn passwords_are_dropped_unless_asked_for() {
    let (stores, _key, _clock) = support::default_stores().await;
    let mut roster = fixture();
    roster.users[0].password = Some(Password::new("hunter2"));
    let id = roster.users[0].base.sourced_id.clone();
    for tst in &stores {
        let (store, name) = (&tst.store, tst.name);
        store.import_roster(&roster, ImportMode::Bulk, t(0)).await.unwrap();
        assert!(user(&store.load_roster().await.unwrap().1, &id).password.is_none(), "{name}");
        let bodies = tst.raw_strings("SELECT CAST(body AS TEXT) FROM oneroster_records").await;
        assert!(bodies.iter().all(|b| !b.contains("hunter2")), "{name}");

        let options = ImportOptions::new(ImportMode::Bulk).store_passwords(true).source("users.csv");
        let report = store.import_roster_with(&roster, &options, t(1)).await.unwrap();
        assert_eq!(report.kinds[&EntityKind::User].updated, 1, "{name}");
        let loaded = store.load_roster().await.unwrap().1;
        assert_eq!(user(&loaded, &id).password.as_ref().map(Password::expose), Some("hunter2"), "{name}");
        assert_eq!(store.imports(1).await.unwrap()[0].source.as_deref(), Some("users.csv"));
    }
}

#[tokio::test]
async fn postgres_notifies_roster_changed_on_commit() {
    let key = roster_store::SecretKey::generate();
    let clock = sync_engine::ManualClock::new(support::start());
    let tst = support::postgres(support::options(&key, &clock)).await;
    let mut listener = sqlx::postgres::PgListener::connect(&support::postgres_url()).await.unwrap();
    listener.listen(ROSTER_CHANNEL).await.unwrap();

    // A failed import sends nothing (checked below: the first notification of ours is version 1's).
    let mut bad = fixture();
    bad.orgs[0].base.sourced_id = String::new();
    tst.store.import_roster(&bad, ImportMode::Bulk, t(0)).await.unwrap_err();

    let report = tst.store.import_roster(&fixture(), ImportMode::Bulk, t(0)).await.unwrap();
    // Other tests may import into their own schemas at the same time, on the same channel: wait for ours.
    let expected = report.version.to_string();
    let received = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let n = listener.recv().await.unwrap();
            if n.payload() == expected {
                return n;
            }
        }
    })
    .await
    .expect("no roster_changed notification");
    assert_eq!(received.channel(), ROSTER_CHANNEL);
}

#[tokio::test]
async fn watchers_see_new_versions() {
    let (stores, _key, _clock) = support::default_stores().await;
    for tst in &stores {
        let store: &Store = &tst.store;
        let mut watcher = store.watch_roster(std::time::Duration::from_millis(50)).await.unwrap();
        assert_eq!(watcher.last_version(), 0);
        let importer = store.clone();
        let import = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            importer.import_roster(&fixture(), ImportMode::Bulk, t(0)).await.unwrap()
        });
        let version =
            tokio::time::timeout(std::time::Duration::from_secs(20), watcher.changed()).await.unwrap().unwrap();
        assert_eq!(version, 1, "{}", tst.name);
        import.await.unwrap();
    }
}

#[tokio::test]
async fn api_clients_keep_hashes_and_rotation_times() {
    let (stores, _key, _clock) = support::default_stores().await;
    for tst in &stores {
        let (store, name) = (&tst.store, tst.name);
        assert!(store.api_client("WebserviceUser").await.unwrap().is_none());
        store.save_api_client("WebserviceUser", "$argon2id$v=19$m=19456,t=2,p=1$first", t(0)).await.unwrap();
        let c = store.api_client("WebserviceUser").await.unwrap().unwrap();
        assert_eq!((c.created_at, c.rotated_at), (t(0), None), "{name}");
        assert!(!format!("{c:?}").contains("argon2id"), "{name}");

        store.save_api_client("WebserviceUser", "$argon2id$v=19$m=19456,t=2,p=1$second", t(60)).await.unwrap();
        let c = store.api_client("WebserviceUser").await.unwrap().unwrap();
        assert_eq!(c.secret_hash, "$argon2id$v=19$m=19456,t=2,p=1$second", "{name}");
        assert_eq!((c.created_at, c.rotated_at), (t(0), Some(t(60))), "{name}");

        store.save_api_client("another", "$argon2id$x", t(1)).await.unwrap();
        let ids: Vec<String> = store.api_clients().await.unwrap().into_iter().map(|c| c.client_id).collect();
        assert_eq!(ids, ["WebserviceUser", "another"], "{name}");
        assert!(store.delete_api_client("another").await.unwrap());
        assert!(!store.delete_api_client("another").await.unwrap());
        assert!(store.save_api_client("", "h", t(0)).await.is_err());
    }
}

#[tokio::test]
async fn streams_the_roster_kind_by_kind_and_reads_records_by_id() {
    let (stores, _key, _clock) = support::default_stores().await;
    let roster = fixture();
    for tst in &stores {
        let (store, name) = (&tst.store, tst.name);
        store.import_roster(&roster, ImportMode::Bulk, t(0)).await.unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(record) = rx.recv().await {
                got.push(record);
            }
            got
        });
        let version = store.stream_roster(None, &tx).await.unwrap();
        drop(tx);
        let got = reader.await.unwrap();
        assert_eq!(version, 1, "{name}");
        assert_eq!(got.len(), roster.len(), "{name}");
        // Kinds in dependency order, each kind whole.
        let kinds: Vec<EntityKind> = got.iter().map(|r| r.kind()).collect();
        let order = |k: &EntityKind| EntityKind::ALL.iter().position(|x| x == k).unwrap();
        assert!(kinds.windows(2).all(|w| order(&w[0]) <= order(&w[1])), "{name}: {kinds:?}");
        let mut rebuilt = Roster::default();
        got.into_iter().for_each(|r| r.push_into(&mut rebuilt));
        let (_, loaded) = store.load_roster().await.unwrap();
        assert_eq!(dates(&rebuilt), dates(&loaded), "{name}");

        // Only what changed after a version.
        let mut changed = roster.clone();
        changed.users[0].given_name = "Streamed".into();
        store.import_roster(&changed, ImportMode::Bulk, t(5)).await.unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        assert_eq!(store.stream_roster(Some(1), &tx).await.unwrap(), 2, "{name}");
        drop(tx);
        let mut since = Vec::new();
        while let Some(record) = rx.recv().await {
            since.push(record);
        }
        assert_eq!(since.len(), 1, "{name}");
        assert!(matches!(&since[0], roster_store::StoredRecord::User(u) if u.given_name == "Streamed"), "{name}");

        // A receiver that goes away stops the stream with an error rather than hanging.
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        drop(rx);
        assert!(matches!(store.stream_roster(None, &tx).await, Err(StoreError::Invalid { .. })), "{name}");

        // Records by id, and a whole kind.
        let ids: Vec<&str> = roster.users.iter().take(2).map(|u| u.base.sourced_id.as_str()).collect();
        let mut wanted = ids.clone();
        wanted.push("no-such-user");
        let users: Vec<User> = store.records(&wanted).await.unwrap();
        let mut got_ids: Vec<&str> = users.iter().map(|u| u.base.sourced_id.as_str()).collect();
        got_ids.sort_unstable();
        let mut expected = ids.clone();
        expected.sort_unstable();
        assert_eq!(got_ids, expected, "{name}");
        assert!(users.iter().all(|u| u.base.date_last_modified.is_some()), "{name}");
        let all: Vec<User> = store.records_of_kind().await.unwrap();
        assert_eq!(all.len(), roster.users.len(), "{name}");
        assert!(all.windows(2).all(|w| w[0].base.sourced_id < w[1].base.sourced_id), "{name}");
    }
}

#[tokio::test]
async fn import_changes_writes_only_what_differs_and_nothing_when_nothing_does() {
    let (stores, _key, _clock) = support::default_stores().await;
    let roster = fixture();
    for tst in &stores {
        let (store, name) = (&tst.store, tst.name);
        let first = store.import_changes(&roster, "test", t(0)).await.unwrap().unwrap();
        assert_eq!(first.totals(), counts(roster.len(), 0, 0, 0), "{name}");
        // The same again: no import at all, so no new version for feed servers to reload.
        assert!(store.import_changes(&roster, "test", t(1)).await.unwrap().is_none(), "{name}");
        assert_eq!(store.roster_version().await.unwrap(), 1, "{name}");
        // One changed user, one user now tobedeleted: a delta of exactly those two.
        let mut next = roster.clone();
        next.users[0].family_name = "Changed".into();
        next.users[1].base.status = Status::ToBeDeleted;
        let report = store.import_changes(&next, "test", t(2)).await.unwrap().unwrap();
        assert_eq!(report.totals(), counts(0, 1, 0, 1), "{name}");
        assert_eq!(store.imports(1).await.unwrap()[0].source.as_deref(), Some("test"), "{name}");
        let (_, loaded) = store.load_roster().await.unwrap();
        let changed = user(&loaded, &next.users[0].base.sourced_id);
        assert_eq!(changed.base.date_last_modified, Some(t(2)), "{name}");
        let kept = user(&loaded, &next.users[2].base.sourced_id);
        assert_eq!(kept.base.date_last_modified, Some(t(0)), "{name}");
    }
}
