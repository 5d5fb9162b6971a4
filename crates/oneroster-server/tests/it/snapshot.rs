//! Snapshots: atomic swaps between and during requests, and loading from the roster store.

use crate::support::*;
use axum::http::StatusCode;
use oneroster_model::{EntityKind, Roster};
use oneroster_server::{AppState, Snapshot, SnapshotHandle, app, load_snapshot, refresh, spawn_reloader};
use roster_store::{ImportMode, Store};
use serde_json::Value;
use std::time::Duration;

/// A roster of `n` users whose every record carries `metadata.roster = tag`.
fn tagged(n: usize, tag: &str) -> Roster {
    let mut roster = generated_roster(n);
    for user in &mut roster.users {
        user.base.metadata.insert("roster".into(), Value::String(tag.into()));
    }
    roster
}

fn tags(response: &Resp) -> Vec<String> {
    response.json()["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["metadata"]["roster"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_swap_between_two_pages_serves_each_page_from_one_roster() {
    let app = TestApp::new(tagged(10, "v1")).await;
    let first = app.get("/users?limit=5").await;
    assert_eq!(tags(&first), ["v1"; 5]);
    assert_eq!(first.total(), 10);

    let old = app.snapshots.swap(Snapshot::from_roster(2, tagged(12, "v2")).unwrap());
    assert_eq!(old.version(), 1);
    assert_eq!(app.snapshots.version(), 2);

    let second = app.get("/users?limit=5&offset=5").await;
    assert_eq!(tags(&second), ["v2"; 5]);
    assert_eq!(second.total(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_never_mix_rosters_while_snapshots_swap() {
    let app = TestApp::new(tagged(3_000, "v0")).await;
    let snapshots = app.snapshots.clone();
    let swapper = tokio::spawn(async move {
        for round in 1..=20 {
            let tag = format!("v{round}");
            let snapshot =
                tokio::task::spawn_blocking(move || Snapshot::from_roster(round, tagged(3_000, &tag)).unwrap())
                    .await
                    .unwrap();
            snapshots.swap(snapshot);
            tokio::task::yield_now().await;
        }
    });
    let mut readers = Vec::new();
    for reader in 0..4 {
        let router = app.router.clone();
        let token = app.token.clone();
        readers.push(tokio::spawn(async move {
            let mut seen = std::collections::BTreeSet::new();
            for i in 0..40 {
                let path = if reader % 2 == 0 {
                    format!("/ims/oneroster/v1p1/users?limit=500&offset={}", (i * 500) % 3000)
                } else {
                    format!(
                        "/ims/oneroster/v1p1/users?limit=400&offset={}&filter=status%3D%27active%27",
                        (i * 400) % 2400
                    )
                };
                let request = axum::http::Request::get(path)
                    .header("authorization", format!("Bearer {token}"))
                    .body(axum::body::Body::empty())
                    .unwrap();
                let response = send(&router, request).await;
                assert_eq!(response.status, StatusCode::OK);
                let tags = tags(&response);
                assert!(!tags.is_empty());
                assert!(tags.iter().all(|t| *t == tags[0]), "a page mixed rosters: {tags:?}");
                seen.insert(tags[0].clone());
            }
            seen
        }));
    }
    swapper.await.unwrap();
    for reader in readers {
        assert!(!reader.await.unwrap().is_empty());
    }
}

#[test]
fn snapshots_sort_deduplicate_and_count() {
    let mut roster = school_roster();
    let mut again = roster.users[1].clone();
    again.given_name = "Later".into();
    roster.users.push(again.clone());
    let snapshot = Snapshot::from_roster(9, roster).unwrap();
    assert_eq!(snapshot.version(), 9);
    assert_eq!(snapshot.len(EntityKind::User), 7);
    assert_eq!(snapshot.len(EntityKind::Enrollment), 7);
    assert!(!snapshot.is_empty());
    assert!(Snapshot::empty().is_empty());
    let debug = format!("{snapshot:?}");
    assert!(debug.contains("version: 9") && debug.contains("users: 7"), "{debug}");
    assert!(!debug.contains("hunter2"));
    assert_eq!(SnapshotHandle::default().version(), 0);
}

#[tokio::test]
async fn the_later_of_two_records_with_one_id_is_served() {
    let mut roster = school_roster();
    let mut again = roster.users.iter().find(|u| u.base.sourced_id == "s-2").unwrap().clone();
    again.given_name = "Later".into();
    roster.users.push(again);
    let app = TestApp::new(roster).await;
    assert_eq!(app.get("/users/s-2").await.json()["user"]["givenName"], "Later");
    assert_eq!(app.get("/users").await.total(), 7);
}

#[tokio::test]
async fn snapshots_load_from_the_store_and_follow_its_imports() {
    let store = Store::memory().await.unwrap();
    store.import_roster(&school_roster(), ImportMode::Bulk, start()).await.unwrap();
    store.save_api_client(CLIENT_ID, &cheap_hash(SECRET), start()).await.unwrap();

    let handle = SnapshotHandle::new(load_snapshot(&store).await.unwrap());
    assert_eq!(handle.version(), 1);
    assert_eq!(handle.load().len(EntityKind::User), 7);

    // The store is the client store: its api_clients table holds the hashes.
    let state = AppState::builder(handle.clone()).config(config()).clients(store.clone()).build();
    let test = TestApp {
        router: app(state),
        clock: oneroster_server::ManualClock::new(start()),
        snapshots: handle.clone(),
        token: String::new(),
    };
    let token = test.fetch_token().await;
    let bearer = format!("Bearer {token}");
    let users = test.get_with("/users", Some(&bearer)).await;
    assert_eq!(users.total(), 7);

    // A bulk import that drops a user marks it tobedeleted; refresh swaps it in.
    let mut next = school_roster();
    next.users.retain(|u| u.base.sourced_id != "a-1");
    store.import_roster(&next, ImportMode::Bulk, start() + chrono::Duration::hours(1)).await.unwrap();
    assert_eq!(refresh(&store, &handle).await.unwrap(), 2);
    let deleted = test.get_with("/users?filter=status%3D%27tobedeleted%27", Some(&bearer)).await;
    assert!(deleted.ids("users").contains(&"a-1".to_owned()), "{}", deleted.text());
    // Nothing new: nothing reloaded.
    let before = handle.load();
    assert_eq!(refresh(&store, &handle).await.unwrap(), 2);
    assert!(std::sync::Arc::ptr_eq(&before, &handle.load()));

    // The reloader picks up the next import by itself.
    let reloader = spawn_reloader(store.clone(), handle.clone(), Duration::from_millis(20));
    let mut third = school_roster();
    third.orgs.push(org("school-3", "New School", oneroster_model::OrgType::School, None));
    store.import_roster(&third, ImportMode::Bulk, start() + chrono::Duration::hours(2)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while handle.version() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "the reloader did not reload");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    reloader.abort();
    let schools = test.get_with("/schools", Some(&bearer)).await;
    assert!(schools.ids("orgs").contains(&"school-3".to_owned()));
}

/// Every collection, and every nested endpoint for every parent id, as the app serves it now.
async fn everything(test: &TestApp) -> Vec<(String, String)> {
    let collections = [
        ("/orgs", "orgs"),
        ("/schools", "orgs"),
        ("/academicSessions", "academicSessions"),
        ("/terms", "academicSessions"),
        ("/gradingPeriods", "academicSessions"),
        ("/courses", "courses"),
        ("/classes", "classes"),
        ("/users", "users"),
        ("/students", "users"),
        ("/teachers", "users"),
        ("/enrollments", "enrollments"),
        ("/demographics", "demographics"),
    ];
    let nested: [(&str, &[&str]); 6] = [
        ("/schools", &["classes", "students", "teachers", "enrollments", "terms", "courses"]),
        ("/classes", &["students", "teachers"]),
        ("/users", &["classes"]),
        ("/students", &["classes"]),
        ("/terms", &["classes", "gradingPeriods"]),
        ("/courses", &["classes"]),
    ];
    let mut out = Vec::new();
    for (path, key) in collections {
        let response = test.get(&format!("{path}?limit=10000")).await;
        assert_eq!(response.status, StatusCode::OK, "{path}");
        out.push((path.to_owned(), response.text()));
        if let Some((_, children)) = nested.iter().find(|(p, _)| *p == path) {
            for id in response.ids(key) {
                for child in *children {
                    let id = id.replace('%', "%25").replace(' ', "%20").replace('"', "%22").replace('\\', "%5C");
                    let nested_path = format!("{path}/{id}/{child}?limit=10000");
                    out.push((nested_path.clone(), test.get(&nested_path).await.text()));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn a_snapshot_streamed_from_the_store_serves_what_one_built_from_the_whole_roster_serves() {
    let store = Store::memory().await.unwrap();
    let mut roster = st_aidans();
    // Records of every kind, nested orgs and sessions, and ids that JSON escaping changes.
    let mut odd = roster.users[0].clone();
    odd.base.sourced_id = "user \"quoted\" \\ id".into();
    roster.users.push(odd);
    store.import_roster(&roster, ImportMode::Bulk, start()).await.unwrap();
    let (version, stored) = store.load_roster().await.unwrap();
    let test = TestApp::new(stored).await;
    let whole = everything(&test).await;
    assert!(whole.len() > 25, "{}", whole.len());

    let streamed = load_snapshot(&store).await.unwrap();
    assert_eq!(streamed.version(), version);
    for kind in EntityKind::ALL {
        assert_eq!(streamed.len(kind), test.snapshots.load().len(kind), "{kind}");
    }
    test.snapshots.swap(streamed);
    let from_store = everything(&test).await;
    assert_eq!(from_store.len(), whole.len());
    for ((path, a), (_, b)) in whole.iter().zip(&from_store) {
        assert_eq!(a, b, "{path} differs");
    }
    assert_eq!(test.get("/users/user%20%22quoted%22%20%5C%20id").await.status, StatusCode::OK);
}
