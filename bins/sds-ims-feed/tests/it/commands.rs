//! import, credentials rotate, validate.

use crate::support::{client, sample_dir, serve_tls, store, token};
use oneroster_model::EntityKind;
use sds_ims_feed::output::Output;
use sds_ims_feed::tls::Identity;
use sds_ims_feed::{Outcome, credentials, import, validate};
use std::process::Command;

#[tokio::test]
async fn import_good_set_prints_counts_per_kind() {
    let (dir, csv) = sample_dir();
    let store = store(&dir).await;
    let (mut out, text) = Output::capture();
    assert_eq!(import::run(&store, &csv, false, false, &mut out).await.unwrap(), Outcome::Success);
    let text = text.text();
    assert!(text.contains("users"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("users") && l.split_whitespace().nth(1) == Some("4")), "{text}");
    let (version, roster) = store.load_roster().await.unwrap();
    assert_eq!((version, roster.users.len(), roster.enrollments.len()), (1, 4, 3));

    // The same set again: everything unchanged, JSON output.
    let (mut out, text) = Output::capture();
    assert_eq!(import::run(&store, &csv, false, true, &mut out).await.unwrap(), Outcome::Success);
    let report: serde_json::Value = serde_json::from_str(&text.text()).unwrap();
    assert_eq!(report["kinds"]["user"]["unchanged"], 4);
    assert_eq!(report["kinds"]["user"]["created"], 0);
}

#[tokio::test]
async fn import_bad_set_reports_located_errors_and_changes_nothing() {
    let (dir, csv) = sample_dir();
    let store = store(&dir).await;
    let (mut out, _) = Output::capture();
    import::run(&store, &csv, false, false, &mut out).await.unwrap();
    let (before_version, before) = store.load_roster().await.unwrap();

    // Break two rows: an unknown role and a bad date, and change a good row (which must not be imported either).
    let users = std::fs::read_to_string(csv.join("users.csv")).unwrap();
    let users = users
        .replace(
            "user-s-1002,active,2025-09-01T07:45:12.345Z,true,",
            "user-s-1002,active,2025-09-01T07:45:12.345Z,maybe,",
        )
        .replace("user-t-3001,active,2025-09-02T16:00:00.000Z", "user-t-3001,active,yesterday")
        .replace("Adaeze", "Changed");
    std::fs::write(csv.join("users.csv"), users).unwrap();

    let (mut out, text) = Output::capture();
    assert_eq!(import::run(&store, &csv, false, false, &mut out).await.unwrap(), Outcome::Failed);
    let text = text.text();
    assert!(text.contains("nothing was imported"), "{text}");
    assert!(text.contains("users.csv line 3 column `enabledUser` value \"maybe\""), "{text}");
    assert!(text.contains("users.csv line 5 column `dateLastModified` value \"yesterday\""), "{text}");
    let (after_version, after) = store.load_roster().await.unwrap();
    assert_eq!(after_version, before_version);
    assert_eq!(after, before);
}

#[tokio::test]
async fn credentials_rotate_stores_only_a_hash_and_retires_the_old_secret() {
    let (dir, csv) = sample_dir();
    let store = store(&dir).await;
    let (mut out, _) = Output::capture();
    import::run(&store, &csv, false, false, &mut out).await.unwrap();

    let (mut out, text) = Output::capture();
    credentials::run_rotate(&store, "WebserviceUser", &mut out).await.unwrap();
    let first = text.text().lines().last().unwrap().to_owned();
    assert!(first.len() >= 40, "{first}");
    let stored = store.api_client("WebserviceUser").await.unwrap().unwrap();
    assert!(stored.secret_hash.starts_with("$argon2id$"), "only an argon2 hash is stored");
    assert!(!stored.secret_hash.contains(&first));

    let identity = Identity::development().unwrap();
    let pem = identity.pem.clone().unwrap();
    let server = serve_tls(store.clone(), identity).await;
    let origin = format!("https://127.0.0.1:{}", server.addr.port());
    let http = client(&pem);
    assert_eq!(token(&http, &origin, &first).await.status(), 200);

    let second = credentials::rotate(&store, "WebserviceUser").await.unwrap();
    assert_ne!(second.expose(), first);
    assert_eq!(token(&http, &origin, &first).await.status(), 401, "the old secret stops working");
    assert_eq!(token(&http, &origin, second.expose()).await.status(), 200);
    assert!(store.api_client("WebserviceUser").await.unwrap().unwrap().rotated_at.is_some());
    server.shutdown().await;
}

#[tokio::test]
async fn validate_reports_and_sets_the_outcome() {
    let (dir, csv) = sample_dir();
    let store = store(&dir).await;
    let (mut out, _) = Output::capture();
    import::run(&store, &csv, false, false, &mut out).await.unwrap();

    let (mut out, text) = Output::capture();
    let outcome =
        validate::run(validate::Source::Store(&store), oneroster_model::validate::Profile::sds(), true, &mut out)
            .await
            .unwrap();
    let report: serde_json::Value = serde_json::from_str(&text.text()).unwrap();
    assert_eq!(outcome, Outcome::Success, "{report}");
    assert_eq!(report["errors"], 0);

    // An enrollment of a user who does not exist: a dangling reference, an error.
    let enrollments = std::fs::read_to_string(csv.join("enrollments.csv")).unwrap();
    std::fs::write(csv.join("enrollments.csv"), enrollments.replacen("user-s-1002", "user-s-9999", 1)).unwrap();
    let (mut out, text) = Output::capture();
    let outcome = validate::run(validate::Source::Csv(&csv), oneroster_model::validate::Profile::Core, false, &mut out)
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Failed);
    assert!(text.text().contains("dangling-reference"), "{}", text.text());
    assert!(text.text().contains("user-s-9999"));
    let _ = EntityKind::ALL;
}

#[test]
fn exit_codes_of_the_binary() {
    let (_dir, csv) = sample_dir();
    let bin = env!("CARGO_BIN_EXE_sds-ims-feed");
    let good = Command::new(bin).args(["validate", "--csv"]).arg(&csv).output().unwrap();
    assert_eq!(good.status.code(), Some(0), "{}", String::from_utf8_lossy(&good.stdout));
    let enrollments = std::fs::read_to_string(csv.join("enrollments.csv")).unwrap();
    std::fs::write(csv.join("enrollments.csv"), enrollments.replacen("user-s-1002", "user-s-9999", 1)).unwrap();
    let bad = Command::new(bin).args(["validate", "--csv"]).arg(&csv).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("user-s-9999"));
    let usage = Command::new(bin).args(["serve"]).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn demo_once_exits_zero() {
    let out = Command::new(env!("CARGO_BIN_EXE_sds-ims-feed"))
        .args(["demo"])
        .env("SDS_IMS_FEED_DEMO_ONCE", "true")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("client id:      WebserviceUser"));
    assert!(text.contains("All checks passed"));
}
