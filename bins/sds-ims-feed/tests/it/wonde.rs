//! `sync --config` with a Wonde source: a school's MIS, read through the fake Wonde, becomes the feed (the school,
//! its academic year, people, classes and enrollments), passes the SDS profile, and stays in step.

use crate::support::store;
use oneroster_model::validate::Profile;
use oneroster_model::{Status, User};
use sds_ims_feed::config::SyncConfig;
use sds_ims_feed::output::Output;
use sds_ims_feed::sync::{self, SyncOptions};
use sds_ims_feed::{Outcome, validate};
use secrecy::SecretString;
use std::path::Path;
use std::time::Duration;
use testkit::faults::Fault;
use testkit::server::RunningServer;
use testkit::wonde::{FakeWonde, SchoolData, SchoolSpec};

const TOKEN: &str = "wonde-app-token";

async fn wonde() -> (FakeWonde, SchoolData, RunningServer) {
    let data = SchoolSpec::small().generate();
    let fake = FakeWonde::new();
    fake.add_school(data.clone());
    fake.grant(TOKEN, &data.school.id);
    let server = fake.start().await.unwrap();
    (fake, data, server)
}

fn config(server: &RunningServer, school: &str) -> SyncConfig {
    let text = format!(
        r#"
[[sources]]
kind = "wonde"
name = "northfield-mis"
school_id = "{school}"
token_env = "NORTHFIELD_WONDE_TOKEN"
wonde_url = "{url}"
"#,
        url = FakeWonde::base_url(server),
    );
    SyncConfig::parse(&text, Path::new("sync.toml")).unwrap()
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
    options.secrets.insert("northfield-mis".into(), SecretString::from(TOKEN));
    options
}

async fn users(store: &roster_store::Store) -> Vec<User> {
    store.records_of_kind().await.unwrap()
}

#[tokio::test]
async fn a_wonde_school_becomes_the_feed_passes_the_sds_profile_and_stays_in_step() {
    let (fake, data, server) = wonde().await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let config = config(&server, &data.school.id);

    let (mut out, text) = Output::capture();
    assert_eq!(sync::run(&config, &store, &options(), &mut out).await.unwrap(), Outcome::Success, "{}", text.text());
    let people = data.students.len() + data.employees.len();
    let stored = users(&store).await;
    assert_eq!(stored.len(), people, "{}", text.text());
    assert!(stored.iter().all(|u| u.base.status == Status::Active));
    let (_, roster) = store.load_roster().await.unwrap();
    assert_eq!(roster.orgs.len(), 1);
    assert_eq!(roster.academic_sessions.len(), 1);
    assert!(!roster.classes.is_empty() && !roster.enrollments.is_empty(), "{}", text.text());
    assert!(text.text().contains(&format!("{people} users")), "{}", text.text());

    // What SDS would reject: nothing.
    let (mut out, report) = Output::capture();
    let outcome = validate::run(validate::Source::Store(&store), Profile::sds(), false, &mut out).await.unwrap();
    assert_eq!(outcome, Outcome::Success, "{}", report.text());

    // Nothing changed at the school: nothing changes in the feed, dates included.
    let (mut out, text) = Output::capture();
    assert_eq!(sync::run(&config, &store, &options(), &mut out).await.unwrap(), Outcome::Success);
    assert!(text.text().contains("0 created, 0 updated"), "{}", text.text());
    assert!(text.text().contains("0 tobedeleted"), "{}", text.text());
    assert_eq!(users(&store).await, stored);

    // A leaver becomes tobedeleted; a renamed student is updated; everyone else keeps their date.
    let (renamed, leaver) = (&data.students[0], &data.students[1]);
    fake.update_student(&data.school.id, &renamed.id, |s| s.surname = "Renamed".into()).unwrap();
    fake.student_leaves(&data.school.id, &leaver.id).unwrap();
    let (mut out, text) = Output::capture();
    assert_eq!(sync::run(&config, &store, &options(), &mut out).await.unwrap(), Outcome::Success);
    let after = users(&store).await;
    let find = |users: &[User], id: &str| users.iter().find(|u| u.base.sourced_id == id).cloned().unwrap();
    assert_eq!(find(&after, &leaver.upi).base.status, Status::ToBeDeleted, "{}", text.text());
    assert_eq!(find(&after, &renamed.upi).family_name, "Renamed");
    let unchanged = stored
        .iter()
        .filter(|u| u.base.sourced_id != leaver.upi && u.base.sourced_id != renamed.upi)
        .all(|u| find(&after, &u.base.sourced_id).base.date_last_modified == u.base.date_last_modified);
    assert!(unchanged, "{}", text.text());
}

#[tokio::test]
async fn a_school_that_cannot_be_read_changes_nothing_and_throttling_is_waited_out() {
    let (fake, data, server) = wonde().await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let config = config(&server, &data.school.id);
    let prefix = format!("/v1.0/schools/{}/", data.school.id);

    // Throttled and a 5xx on the way: the retry policy absorbs them.
    fake.faults().on("GET", &prefix).times(2).inject(Fault::throttle(0));
    fake.faults().on("GET", &prefix).after(1).times(1).inject(Fault::status(503));
    let (mut out, text) = Output::capture();
    assert_eq!(sync::run(&config, &store, &options(), &mut out).await.unwrap(), Outcome::Success, "{}", text.text());
    let stored = users(&store).await;
    assert_eq!(stored.len(), data.students.len() + data.employees.len());

    // A school that answers garbage: the run fails, says so, and the stored feed is untouched.
    fake.faults().on("GET", &prefix).times(50).inject(Fault::status(500));
    let version = store.roster_version().await.unwrap();
    let (mut out, text) = Output::capture();
    assert_eq!(sync::run(&config, &store, &options(), &mut out).await.unwrap(), Outcome::Failed);
    assert!(text.text().contains("nothing imported"), "{}", text.text());
    assert_eq!(store.roster_version().await.unwrap(), version);
    assert_eq!(users(&store).await, stored);
}

#[test]
fn a_wonde_source_cannot_share_a_store_with_group_based_orgs() {
    let text = r#"
[[sources]]
kind = "wonde"
name = "mis"
school_id = "A1930499544"

[[sources]]
kind = "microsoft"
name = "tenant"
tenant = "contoso.onmicrosoft.com"
client_id = "00000000-0000-0000-0000-000000000001"
client_secret_env = "SECRET"

[[orgs]]
sourced_id = "school-1"
name = "School"

[[orgs.groups]]
source = "tenant"
id = "g1"
name = "Staff"
role = "teacher"
"#;
    let error = SyncConfig::parse(text, Path::new("sync.toml")).unwrap_err().to_string();
    assert!(error.contains("orgs[0].groups") && error.contains("Wonde source"), "{error}");
    let bad_region = "[[sources]]\nkind = \"wonde\"\nname = \"mis\"\nschool_id = \"A1\"\nregion = \"mars\"\n";
    let error = SyncConfig::parse(bad_region, Path::new("sync.toml")).unwrap_err().to_string();
    assert!(error.contains("sources[0].region"), "{error}");
}
