//! Wonde → Secure Schools end to end, against the fake Wonde and the fake Secure Schools: the connection group
//! made by the connection itself, the right users and roles, a second run that writes nothing, a leaver suspended,
//! and throttling and paging faults that still end in the right state. Also `doctor`, `groups` and the
//! configuration checks of a Wonde connection.

use crate::support::fast_retry;
use roster_store::SecretKey;
use secrecy::SecretString;
use secure_schools_sync::app::{App, AppOptions, Secrets};
use secure_schools_sync::commands::{self, SyncTarget};
use secure_schools_sync::config::Config;
use secure_schools_sync::doctor::{self, Status};
use secure_schools_sync::output::Output;
use secure_schools_sync::shutdown::Shutdown;
use std::collections::BTreeMap;
use std::path::PathBuf;
use sync_engine::model::{OrganisationId, Role};
use testkit::faults::Fault;
use testkit::secure_schools::{FakeSecureSchools, Identity, Organisation, User};
use testkit::server::RunningServer;
use testkit::wonde::{Access, FakeWonde, SchoolData, SchoolSpec};

const ORG: &str = "org_northfield";
const SS_TOKEN: &str = "ss-admin-token";
const WONDE_TOKEN: &str = "wonde-app-token";
const CONNECTION: &str = "northfield-mis";

struct Env {
    wonde: FakeWonde,
    secure_schools: FakeSecureSchools,
    data: SchoolData,
    app: App,
    dir: PathBuf,
    _servers: (RunningServer, RunningServer),
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config_text(dir: &std::path::Path, ss: &RunningServer, wonde: &RunningServer, school: &str) -> String {
    format!(
        r#"store = "{store}"

[secure_schools]
base_url = "{ss}/"

[[connections]]
name = "{CONNECTION}"
kind = "wonde"
school_id = "{school}"
organisation = "{ORG}"
region = "uk"
token_env = "NORTHFIELD_WONDE_TOKEN"
wonde_url = "{wonde}"
"#,
        store = dir.join("store.db").display(),
        ss = ss.url(),
        wonde = FakeWonde::base_url(wonde),
    )
}

async fn env_with(spec: SchoolSpec) -> Env {
    let data = spec.generate();
    let wonde = FakeWonde::new();
    wonde.add_school(data.clone());
    wonde.grant(WONDE_TOKEN, &data.school.id);
    let secure_schools = FakeSecureSchools::new();
    secure_schools.add_organisation(Organisation::new(ORG, &data.school.name, "100007")).unwrap();
    secure_schools.add_identity(SS_TOKEN, Identity::new("p_1", "it@northfield.example", "IT").admin_of(ORG));
    let wonde_server = wonde.start().await.unwrap();
    let ss_server = secure_schools.start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("sss-wonde-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = config_text(&dir, &ss_server, &wonde_server, &data.school.id);
    let config = Config::parse(&text, &dir.join("secure-schools-sync.toml")).unwrap();
    let mut secrets = Secrets {
        secure_schools_token: Some(SecretString::from(SS_TOKEN.to_owned())),
        store_key: Some(SecretKey::generate()),
        ..Secrets::default()
    };
    secrets.wonde_tokens.insert(CONNECTION.into(), SecretString::from(WONDE_TOKEN.to_owned()));
    let app = App::open(config, secrets, AppOptions { retry_policy: Some(fast_retry()), ..AppOptions::default() })
        .await
        .unwrap();
    Env { wonde, secure_schools, data, app, dir, _servers: (wonde_server, ss_server) }
}

async fn sync(env: &Env) -> Vec<commands::SyncResult> {
    let (out, _) = Output::capture();
    let (_t, shutdown) = Shutdown::manual();
    commands::sync_results(&env.app, SyncTarget::All, None, &out, &shutdown).await.unwrap()
}

fn users(env: &Env) -> BTreeMap<String, User> {
    env.secure_schools.users(ORG).into_iter().filter_map(|u| u.external_id.clone().map(|e| (e, u))).collect()
}

/// Every student as a student and every employee as staff, active, keyed by `<connection>:<upi>`.
fn assert_expected(env: &Env) {
    let data = env.wonde.school_data(&env.data.school.id).unwrap();
    let users = users(env);
    let active: Vec<&User> = users.values().filter(|u| u.status.as_str() == "active").collect();
    assert_eq!(active.len(), data.students.len() + data.employees.len());
    for s in &data.students {
        let u = &users[&format!("{CONNECTION}:{}", s.upi)];
        assert_eq!((u.role.as_str(), u.status.as_str()), ("student", "active"), "{}", s.upi);
        assert_eq!(Some(u.email.as_str()), s.email.as_deref());
        assert_eq!((u.first_name.as_str(), u.last_name.as_str()), (s.forename.as_str(), s.surname.as_str()));
        assert!(u.managed_by_sync);
    }
    for e in &data.employees {
        let u = &users[&format!("{CONNECTION}:{}", e.upi)];
        assert_eq!((u.role.as_str(), u.status.as_str()), ("staff", "active"), "{}", e.upi);
    }
}

fn batches(env: &Env) -> u64 {
    env.secure_schools.counters().snapshot().endpoint("POST /organisations/{org}/users/batch")
}

#[tokio::test]
async fn the_connection_makes_its_own_group_and_syncs_students_and_staff() {
    let env = env_with(SchoolSpec::small()).await;
    let groups = env.app.config().connection_groups();
    assert_eq!(groups.len(), 1, "no [[connection_groups]] in the file: the Wonde connection made one");
    assert_eq!(groups[0].organisation, OrganisationId::new(ORG));
    let roles: Vec<Role> = groups[0].scopes.iter().map(|s| s.role.clone()).collect();
    assert_eq!(roles, [Role::Student, Role::Staff]);
    assert_eq!(env.app.config().organisations(), [OrganisationId::new(ORG)]);

    let results = sync(&env).await;
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].status, "succeeded", "{results:#?}");
    assert_eq!(results[0].report.as_ref().unwrap().applied.created, 29);
    assert_expected(&env);

    // A second run with nothing changed writes nothing.
    let before = batches(&env);
    let results = sync(&env).await;
    let report = results[0].report.as_ref().unwrap();
    assert_eq!((report.applied.created, report.applied.updated, report.applied.suspended), (0, 0, 0));
    assert_eq!(batches(&env), before, "no batch sent");
}

#[tokio::test]
async fn a_leaver_and_a_deleted_employee_are_suspended_and_a_change_is_applied() {
    let env = env_with(SchoolSpec::small()).await;
    assert_eq!(sync(&env).await[0].status, "succeeded");
    let school = env.data.school.id.clone();
    let (leaver, renamed, gone) = (&env.data.students[3], &env.data.students[4], &env.data.employees[4]);
    env.wonde.student_leaves(&school, &leaver.id).unwrap();
    env.wonde.update_student(&school, &renamed.id, |s| s.surname = "Darcy".into()).unwrap();
    env.wonde.delete_employee(&school, &gone.id).unwrap();
    let results = sync(&env).await;
    let report = results[0].report.as_ref().unwrap();
    assert_eq!(results[0].status, "succeeded", "{results:#?}");
    assert_eq!((report.applied.suspended, report.applied.updated), (2, 1));
    let users = users(&env);
    assert_eq!(users[&format!("{CONNECTION}:{}", leaver.upi)].status.as_str(), "suspended");
    assert_eq!(users[&format!("{CONNECTION}:{}", gone.upi)].status.as_str(), "suspended");
    assert_eq!(users[&format!("{CONNECTION}:{}", renamed.upi)].last_name, "Darcy");
    assert_expected(&env);
}

#[tokio::test]
async fn throttling_and_paging_faults_end_in_the_right_state() {
    // 300 students: two pages of 200 from /students.
    let env = env_with(SchoolSpec { students_per_year: 100, ..SchoolSpec::small() }).await;
    let prefix = format!("/v1.0/schools/{}/students", env.data.school.id);
    let faults = env.wonde.faults();
    faults.on("GET", &prefix).times(3).inject(Fault::throttle(0));
    faults.on("GET", &prefix).after(1).times(2).inject(Fault::status(503));
    faults.on("GET", &prefix).after(1).times(1).inject(Fault::ResetMidBody);
    let results = sync(&env).await;
    assert_eq!(results[0].status, "succeeded", "{results:#?}");
    assert_expected(&env);
    let counts = env.wonde.counters().snapshot();
    assert_eq!(counts.throttled, 3);
    assert!(
        counts.endpoint("GET /v1.0/schools/{school}/{resource}") >= 8,
        "3 throttled, 2 failed, 1 reset, 2 pages: {counts:?}"
    );

    // A malformed page fails the run before anything is applied; the next run converges.
    faults.on("GET", &prefix).after(1).times(1).inject(Fault::MalformedJson);
    env.wonde.student_leaves(&env.data.school.id, &env.data.students[0].id).unwrap();
    let results = sync(&env).await;
    assert_eq!(results[0].status, "failed", "{results:#?}");
    assert!(results[0].message.as_deref().unwrap_or("").contains("does not fit"), "{results:#?}");
    let results = sync(&env).await;
    assert_eq!(results[0].status, "succeeded", "{results:#?}");
    assert_eq!(results[0].report.as_ref().unwrap().applied.suspended, 1);
    assert_expected(&env);
}

#[tokio::test]
async fn doctor_checks_the_token_and_the_schools_approval() {
    let env = env_with(SchoolSpec::small()).await;
    let report = doctor::run(&env.app).await;
    for id in ["wonde.token", "wonde.school_access", "wonde.region", "secure_schools.admin"] {
        assert_eq!(report.find(id)[0].status, Status::Pass, "{id}: {report:#?}");
    }
    assert!(report.passed, "{:#?}", report.failures());

    env.wonde.set_access(WONDE_TOKEN, &env.data.school.id, Some(Access::Pending));
    let report = doctor::run(&env.app).await;
    let access = report.find("wonde.school_access")[0];
    assert_eq!(access.status, Status::Fail);
    assert!(access.detail.contains("waits for the school's approval"), "{access:?}");
    assert!(access.remedy.as_deref().unwrap().contains("approve"), "{access:?}");
    assert!(!report.passed);

    env.wonde.set_access(WONDE_TOKEN, &env.data.school.id, None);
    let report = doctor::run(&env.app).await;
    assert_eq!(report.find("wonde.token")[0].status, Status::Fail, "an unknown token is refused: {report:#?}");
}

#[tokio::test]
async fn groups_shows_the_automatic_connection_group() {
    let env = env_with(SchoolSpec::small()).await;
    let (mut out, captured) = Output::capture();
    let outcome = commands::groups(&env.app, CONNECTION, None, false, &mut out).await.unwrap();
    assert_eq!(outcome, secure_schools_sync::Outcome::Success);
    let text = captured.text();
    assert!(text.contains("made automatically") && text.contains(ORG), "{text}");
    assert!(text.contains("students") && text.contains("24") && text.contains("employees"), "{text}");
    let (mut out, captured) = Output::capture();
    commands::groups(&env.app, CONNECTION, None, true, &mut out).await.unwrap();
    let rows: serde_json::Value = serde_json::from_str(&captured.text()).unwrap();
    assert_eq!(rows[1]["selected_by"][0]["role"], "staff");
}

#[test]
fn configuration_errors_name_the_key() {
    let parse = |extra: &str, conn: &str| {
        let text = format!(
            "[secure_schools]\nbase_url = \"http://127.0.0.1:1/\"\n\n[[connections]]\nname = \"mis\"\nkind = \"wonde\"\n{conn}\n{extra}"
        );
        Config::parse(&text, std::path::Path::new("t.toml")).map(|_| ()).unwrap_err().to_string()
    };
    let e = parse("", "school_id = \"A1\"");
    assert!(e.contains("connections[0].organisation"), "{e}");
    let e = parse("", "organisation = \"org\"");
    assert!(e.contains("connections[0].school_id"), "{e}");
    let e = parse("", "school_id = \"A1\"\norganisation = \"org\"\nregion = \"mars\"");
    assert!(e.contains("connections[0].region") && e.contains("not a Wonde region"), "{e}");
    let e = parse(
        "[[connection_groups]]\nname = \"x\"\norganisation = \"o\"\nconnection = \"mis\"\ngroups = [{ id = \"g\", role = \"staff\" }]",
        "school_id = \"A1\"\norganisation = \"org\"",
    );
    assert!(e.contains("connection_groups[0].connection") && e.contains("makes its own connection group"), "{e}");
}
