//! End to end over real TLS: a full paged pull equals the imported set; imports while paging never mix rosters.

use crate::support::{client, sample_dir, sample_roster, serve_tls, store, token};
use oneroster_model::Roster;
use roster_store::ImportMode;
use sds_ims_feed::output::Output;
use sds_ims_feed::tls::Identity;
use sds_ims_feed::{credentials, import};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Every record of a collection, pulled `limit` at a time the way SDS pages.
async fn pull(
    http: &reqwest::Client,
    base: &str,
    collection: &str,
    bearer: &str,
    limit: usize,
) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    let mut offset = 0;
    loop {
        let response = http
            .get(format!("{base}/{collection}?limit={limit}&offset={offset}"))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let total: usize = response.headers()["x-total-count"].to_str().unwrap().parse().unwrap();
        let body: serde_json::Value = response.json().await.unwrap();
        let page = body[collection].as_array().unwrap().clone();
        let n = page.len();
        all.extend(page);
        offset += n;
        if n == 0 || offset >= total {
            return all;
        }
    }
}

fn ids(records: &[serde_json::Value]) -> BTreeSet<String> {
    records.iter().map(|r| r["sourcedId"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn full_pull_over_tls_equals_the_imported_csv_set() {
    let (dir, csv) = sample_dir();
    let store = store(&dir).await;
    let (mut out, _) = Output::capture();
    import::run(&store, &csv, false, false, &mut out).await.unwrap();
    let secret = credentials::rotate(&store, "WebserviceUser").await.unwrap();
    let identity = Identity::development().unwrap();
    let pem = identity.pem.clone().unwrap();
    let server = serve_tls(store, identity).await;
    let origin = format!("https://127.0.0.1:{}", server.addr.port());
    let base = format!("{origin}/ims/oneroster/v1p1");
    let http = client(&pem);
    let body: serde_json::Value = token(&http, &origin, secret.expose()).await.json().await.unwrap();
    let bearer = body["access_token"].as_str().unwrap().to_owned();

    let expected: Roster = sample_roster();
    let want: BTreeMap<&str, BTreeSet<String>> = BTreeMap::from([
        ("academicSessions", expected.academic_sessions.iter().map(|r| r.base.sourced_id.clone()).collect()),
        ("orgs", expected.orgs.iter().map(|r| r.base.sourced_id.clone()).collect()),
        ("courses", expected.courses.iter().map(|r| r.base.sourced_id.clone()).collect()),
        ("classes", expected.classes.iter().map(|r| r.base.sourced_id.clone()).collect()),
        ("users", expected.users.iter().map(|r| r.base.sourced_id.clone()).collect()),
        ("enrollments", expected.enrollments.iter().map(|r| r.base.sourced_id.clone()).collect()),
        ("demographics", expected.demographics.iter().map(|r| r.base.sourced_id.clone()).collect()),
    ]);
    for (collection, want) in &want {
        let got = pull(&http, &base, collection, &bearer, 1).await;
        assert_eq!(&ids(&got), want, "{collection}");
        assert_eq!(got.len(), want.len(), "{collection}: no record twice");
    }
    // Users field by field.
    let users = pull(&http, &base, "users", &bearer, 2).await;
    for user in &expected.users {
        let served = users.iter().find(|u| u["sourcedId"] == user.base.sourced_id.as_str()).unwrap();
        assert_eq!(served["username"], user.username.as_str());
        assert_eq!(served["givenName"], user.given_name.as_str());
        assert_eq!(served["familyName"], user.family_name.as_str());
        assert_eq!(served["email"].as_str(), user.email.as_deref());
        assert_eq!(served["role"], user.role.as_str());
    }
    // Health and metrics.
    let health: serde_json::Value = http.get(format!("{origin}/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["rosterVersion"], 1);
    let metrics = http.get(format!("{origin}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"sds_ims_feed_requests_total{route="/ims/oneroster/v1p1/users",status="200"}"#),
        "{metrics}"
    );
    assert!(metrics.contains("sds_ims_feed_roster_version 1"));
    assert!(!metrics.contains(&bearer));
    server.shutdown().await;
}

/// Each import rewrites every user (a new `givenName`), so every user of one roster version carries that import's
/// `dateLastModified`: a page holding two different stamps would mix two rosters.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn imports_while_paging_never_yield_a_mixed_page() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let sample = sample_roster();
    let template = sample.users[0].clone();
    let orgs = sample.orgs.clone();
    let roster_of = move |generation: usize| {
        let mut roster = Roster { orgs: orgs.clone(), ..Roster::default() };
        for i in 0..400 {
            let mut user = template.clone();
            user.base.sourced_id = format!("u{i:04}");
            user.username = format!("user{i}");
            user.given_name = format!("Gen{generation}");
            user.agents.clear();
            roster.users.push(user);
        }
        roster
    };
    store.import_roster(&roster_of(0), ImportMode::Bulk, chrono::Utc::now()).await.unwrap();
    let secret = credentials::rotate(&store, "WebserviceUser").await.unwrap();
    let identity = Identity::development().unwrap();
    let pem = identity.pem.clone().unwrap();
    let server = serve_tls(store.clone(), identity).await;
    let origin = format!("https://127.0.0.1:{}", server.addr.port());
    let base = format!("{origin}/ims/oneroster/v1p1");
    let http = client(&pem);
    let body: serde_json::Value = token(&http, &origin, secret.expose()).await.json().await.unwrap();
    let bearer = body["access_token"].as_str().unwrap().to_owned();

    let done = Arc::new(AtomicBool::new(false));
    let importer = {
        let (store, done, roster_of) = (store.clone(), done.clone(), roster_of.clone());
        tokio::spawn(async move {
            for generation in 1..=12 {
                store.import_roster(&roster_of(generation), ImportMode::Bulk, chrono::Utc::now()).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut stamps_seen = BTreeSet::new();
    let mut pages = 0;
    while !done.load(Ordering::SeqCst) {
        let mut offset = 0;
        while offset < 400 {
            let response =
                http.get(format!("{base}/users?limit=37&offset={offset}")).bearer_auth(&bearer).send().await.unwrap();
            let body: serde_json::Value = response.json().await.unwrap();
            let page = body["users"].as_array().unwrap();
            let stamps: BTreeSet<&str> = page.iter().map(|u| u["dateLastModified"].as_str().unwrap()).collect();
            let names: BTreeSet<&str> = page.iter().map(|u| u["givenName"].as_str().unwrap()).collect();
            assert_eq!(stamps.len(), 1, "a page mixed rosters: {stamps:?}");
            assert_eq!(names.len(), 1, "a page mixed rosters: {names:?}");
            stamps_seen.extend(stamps.into_iter().map(str::to_owned));
            pages += 1;
            offset += page.len();
        }
    }
    importer.await.unwrap();
    assert!(stamps_seen.len() >= 3, "the test saw {} rosters in {pages} pages", stamps_seen.len());
    server.shutdown().await;
}
