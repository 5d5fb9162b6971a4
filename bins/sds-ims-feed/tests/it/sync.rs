//! `sync --config`: the store filled from fake Microsoft Graph through the sync engine, served, validated, and
//! kept in step.

use crate::support::{client, serve_tls, store, token};
use oneroster_model::validate::Profile;
use oneroster_model::{RoleType, Status, User};
use sds_ims_feed::config::SyncConfig;
use sds_ims_feed::output::Output;
use sds_ims_feed::sync::{self, SyncOptions};
use sds_ims_feed::tls::Identity;
use sds_ims_feed::{Outcome, credentials, validate};
use secrecy::SecretString;
use std::path::Path;
use std::time::Duration;
use testkit::graph::{FakeGraph, sample};
use testkit::server::RunningServer;
use testkit::synthetic::model::MemberRef;

fn gid(n: u32) -> String {
    format!("00000000-0000-4000-9000-{n:012}")
}

fn uid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// Fake Graph with the sample tenant (All Staff = group 1, All Pupils = group 6 nesting Year 7 and Year 8, a
/// Microsoft 365 group = group 9), served on a local port.
async fn graph() -> (FakeGraph, RunningServer) {
    let graph = sample::fake();
    let server = graph.start().await.unwrap();
    (graph, server)
}

/// The configuration a school would write: one Microsoft source, one school reading its staff group as teachers
/// and its pupils group as students, one school year.
fn config_text(server: &RunningServer, extra_group: Option<&str>) -> String {
    let url = FakeGraph::graph_url(server);
    let extra = extra_group
        .map(|id| format!("\n[[orgs.groups]]\nsource = \"northfield\"\nid = \"{id}\"\nrole = \"teacher\"\n"))
        .unwrap_or_default();
    format!(
        r#"
[[sources]]
name = "northfield"
kind = "microsoft"
tenant = "{tenant}"
client_id = "{client}"
client_secret_env = "NORTHFIELD_GRAPH_SECRET"
authority_url = "{url}"
graph_url = "{url}"

[[orgs]]
sourced_id = "school-1"
name = "Northfield Academy"
type = "school"
identifier = "URN 100001"

[[orgs.groups]]
source = "northfield"
id = "{staff}"
name = "All Staff"
role = "teacher"

[[orgs.groups]]
source = "northfield"
id = "{pupils}"
name = "All Pupils"
role = "student"
{extra}
[[academic_sessions]]
sourced_id = "sy-2026"
title = "2025-26"
type = "schoolYear"
start_date = "2025-09-01"
end_date = "2026-07-31"
school_year = "2026"
"#,
        tenant = sample::TENANT_ID,
        client = sample::CLIENT_ID,
        staff = gid(1),
        pupils = gid(6),
    )
}

fn options() -> SyncOptions {
    let mut options = SyncOptions {
        retry_policy: Some(
            http_retry::RetryPolicy::default()
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(2))
                .max_total_wait(Duration::from_secs(2))
                .jitter(false),
        ),
        ..SyncOptions::default()
    };
    options.secrets.insert("northfield".into(), SecretString::from(sample::CLIENT_SECRET));
    options
}

fn parse(text: &str) -> SyncConfig {
    SyncConfig::parse(text, Path::new("sync.toml")).unwrap()
}

async fn users(store: &roster_store::Store) -> Vec<User> {
    store.records_of_kind().await.unwrap()
}

#[tokio::test]
async fn sync_fills_the_store_the_feed_serves_it_and_a_second_sync_writes_nothing() {
    let (_graph, server) = graph().await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let config = parse(&config_text(&server, None));
    let (mut out, text) = Output::capture();
    assert_eq!(sync::run(&config, &store, &options(), &mut out).await.unwrap(), Outcome::Success, "{}", text.text());
    let text = text.text();
    assert!(text.contains("school-1: succeeded"), "{text}");
    assert!(text.contains("applied 17 create"), "{text}");

    let all = users(&store).await;
    assert_eq!(all.len(), 17);
    let teachers = all.iter().filter(|u| u.role == RoleType::Teacher).count();
    assert_eq!(teachers, 5, "All Staff: the admin and four staff; Ruth, also in Year 7, is a teacher");
    let ruth = all.iter().find(|u| u.base.sourced_id == uid(12)).unwrap();
    assert_eq!((ruth.role.clone(), ruth.email.as_deref()), (RoleType::Teacher, Some("ruth.byrne@northfield.example")));
    assert!(all.iter().all(|u| u.orgs.len() == 1 && u.orgs[0].sourced_id == "school-1"));

    // The feed serves them, with the configured org and school year.
    credentials::rotate(&store, "WebserviceUser").await.unwrap();
    let secret = credentials::rotate(&store, "WebserviceUser").await.unwrap();
    let identity = Identity::development().unwrap();
    let pem = identity.pem.clone().unwrap();
    let running = serve_tls(store.clone(), identity).await;
    let origin = format!("https://127.0.0.1:{}", running.addr.port());
    let http = client(&pem);
    let bearer: serde_json::Value = token(&http, &origin, secret.expose()).await.json().await.unwrap();
    let bearer = bearer["access_token"].as_str().unwrap().to_owned();
    let get = |path: &str| {
        let (http, bearer) = (http.clone(), bearer.clone());
        let url = format!("{origin}/ims/oneroster/v1p1{path}");
        async move { http.get(url).bearer_auth(bearer).send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let served = get("/users?limit=100&filter=status%3D%27active%27").await;
    assert_eq!(served["users"].as_array().unwrap().len(), 17);
    let teachers = get("/schools/school-1/teachers").await;
    assert_eq!(teachers["users"].as_array().unwrap().len(), 5);
    assert_eq!(get("/orgs/school-1").await["org"]["identifier"], "URN 100001");
    assert_eq!(get("/academicSessions/sy-2026").await["academicSession"]["schoolYear"], "2026");

    // What SDS would reject: nothing.
    let (mut out, report) = Output::capture();
    let outcome = validate::run(validate::Source::Store(&store), Profile::sds(), false, &mut out).await.unwrap();
    assert_eq!(outcome, Outcome::Success, "{}", report.text());

    // A second sync with nothing changed: no write, no new version, the same dates.
    let version = store.roster_version().await.unwrap();
    let (mut out, text) = Output::capture();
    assert_eq!(sync::run(&config, &store, &options(), &mut out).await.unwrap(), Outcome::Success);
    assert!(text.text().contains("orgs and academic sessions: 0 written"), "{}", text.text());
    // It followed Graph delta from the first run's cursor: nothing to plan at all.
    assert!(text.text().contains("planned 0 create, 0 update, 0 tobedeleted"), "{}", text.text());
    assert_eq!(store.roster_version().await.unwrap(), version);
    assert_eq!(users(&store).await, all);
    // Read in full, the same: every user compared, none written.
    let (mut out, text) = Output::capture();
    let full = sync::SyncOptions { full: true, ..options() };
    assert_eq!(sync::run(&config, &store, &full, &mut out).await.unwrap(), Outcome::Success);
    assert!(text.text().contains("17 unchanged"), "{}", text.text());
    assert_eq!(store.roster_version().await.unwrap(), version);
    assert_eq!(users(&store).await, all);
    running.shutdown().await;
}

#[tokio::test]
async fn a_removed_member_and_a_disabled_account_become_tobedeleted_and_the_running_feed_serves_that() {
    let (graph, server) = graph().await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let config = parse(&config_text(&server, None));
    let (mut out, _) = Output::capture();
    sync::run(&config, &store, &options(), &mut out).await.unwrap();
    let secret = credentials::rotate(&store, "WebserviceUser").await.unwrap();
    let identity = Identity::development().unwrap();
    let pem = identity.pem.clone().unwrap();
    let running = serve_tls(store.clone(), identity).await;
    let before = running.snapshots.version();

    // Finn (109) leaves Year 8; Ada (100) is blocked from sign-in.
    graph.remove_member(&gid(5), &MemberRef::User(uid(109))).unwrap();
    graph.set_account_enabled(&uid(100), false).unwrap();
    let (mut out, text) = Output::capture();
    assert_eq!(sync::run(&config, &store, &options(), &mut out).await.unwrap(), Outcome::Success);
    assert!(text.text().contains("applied 0 create, 0 update, 2 tobedeleted"), "{}", text.text());
    let all = users(&store).await;
    for gone in [uid(109), uid(100)] {
        let user = all.iter().find(|u| u.base.sourced_id == gone).unwrap();
        assert_eq!((user.base.status, user.enabled_user), (Status::ToBeDeleted, false), "{gone}");
    }
    let kept = all.iter().find(|u| u.base.sourced_id == uid(101)).unwrap();

    // serve's reload path picks the new roster up.
    let version = store.roster_version().await.unwrap();
    assert!(version > before);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while running.snapshots.version() < version {
        assert!(tokio::time::Instant::now() < deadline, "serve did not reload");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let origin = format!("https://127.0.0.1:{}", running.addr.port());
    let http = client(&pem);
    let bearer: serde_json::Value = token(&http, &origin, secret.expose()).await.json().await.unwrap();
    let bearer = bearer["access_token"].as_str().unwrap();
    let since = kept.base.date_last_modified.unwrap().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let delta: serde_json::Value = http
        .get(format!("{origin}/ims/oneroster/v1p1/users"))
        .query(&[("filter", format!("dateLastModified>'{since}'"))])
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut changed: Vec<(String, String)> = delta["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["sourcedId"].as_str().unwrap().to_owned(), u["status"].as_str().unwrap().to_owned()))
        .collect();
    changed.sort();
    assert_eq!(changed, vec![(uid(100), "tobedeleted".into()), (uid(109), "tobedeleted".into())]);
    running.shutdown().await;
}

#[tokio::test]
async fn a_microsoft_365_group_is_refused_with_the_reason_and_nothing_is_written() {
    let (_graph, server) = graph().await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let config = parse(&config_text(&server, Some(&gid(9))));
    let (mut out, text) = Output::capture();
    assert_eq!(sync::run(&config, &store, &options(), &mut out).await.unwrap(), Outcome::Failed);
    let text = text.text();
    assert!(text.contains("school-1: failed"), "{text}");
    assert!(text.contains("Maths Department"), "{text}");
    assert!(text.contains("Microsoft 365 group"), "{text}");
    assert!(text.contains("Security group"), "{text}");
    assert!(users(&store).await.is_empty());
}

#[tokio::test]
async fn a_dry_run_plans_and_writes_nothing_and_a_missing_secret_names_its_variable() {
    let (_graph, server) = graph().await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let config = parse(&config_text(&server, None));
    let (mut out, text) = Output::capture();
    let dry = SyncOptions { dry_run: true, ..options() };
    assert_eq!(sync::run(&config, &store, &dry, &mut out).await.unwrap(), Outcome::Success);
    assert!(text.text().contains("school-1: dry_run — planned 17 create"), "{}", text.text());
    assert_eq!(store.roster_version().await.unwrap(), 0);

    let mut no_secret = options();
    no_secret.secrets.clear();
    let (mut out, _) = Output::capture();
    let err = sync::run(&config, &store, &no_secret, &mut out).await.unwrap_err();
    assert!(format!("{err:#}").contains("NORTHFIELD_GRAPH_SECRET"), "{err:#}");
}

#[test]
fn configuration_errors_name_the_key_and_the_line() {
    let cases = [
        (
            "[[sources]]\nname = \"a\"\nkind = \"microsoft\"\ntenant = \"contoso.example\"\nclient_id = \"x\"\n\
             client_secret_env = \"S\"\n[[orgs]]\nsourced_id = \"s1\"\nname = \"S\"\n[[orgs.groups]]\nsource = \"a\"\n\
             id = \"g\"\nrole = \"teacher\"\n[[orgs.groups]]\nsource = \"a\"\nid = \"h\"\nrole = \"pupil\"\n",
            "sync.toml:17: `orgs[0].groups[1].role`: `pupil` is not a OneRoster role",
        ),
        (
            "[[orgs]]\nsourced_id = \"s1\"\nname = \"S\"\n[[orgs.groups]]\nsource = \"nope\"\nid = \"g\"\nrole = \"student\"\n",
            "sync.toml:5: `orgs[0].groups[0].source`: no source is named `nope`",
        ),
        (
            "[[orgs]]\nsourced_id = \"s1\"\nname = \"S\"\n[[academic_sessions]]\nsourced_id = \"y\"\ntitle = \"Y\"\n\
             type = \"schoolYear\"\nstart_date = \"2025-09-01\"\nend_date = \"2025-13-40\"\nschool_year = \"2026\"\n",
            "sync.toml:9: `academic_sessions[0].end_date`: must be a date written YYYY-MM-DD",
        ),
        ("[[sources]]\nname = \"w\"\nkind = \"ldap\"\n", "unknown variant `ldap`"),
        ("[[sources]]\nname = \"w\"\nkind = \"wonde\"\n", "missing field `school_id`"),
    ];
    for (text, expected) in cases {
        let err = SyncConfig::parse(text, Path::new("sync.toml")).unwrap_err().to_string();
        assert!(err.contains(expected), "{err}\nexpected: {expected}");
    }
}

#[test]
fn the_commented_example_configuration_is_valid() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/sds-ims-feed.example.toml"));
    let config = SyncConfig::load(path).unwrap();
    assert_eq!(config.synced_orgs().len(), 1);
    assert_eq!(config.connection_groups()[0].scopes.len(), 3);
    assert_eq!(config.org_records()[1].parent.as_ref().unwrap().sourced_id, "trust");
}
