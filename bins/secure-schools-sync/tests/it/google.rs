//! End to end: Google Workspace organisational units → Secure Schools, against the fake Google Directory and the
//! fake Secure Schools. A parent unit includes its child units; suspended and archived users are suspended; a
//! second run writes nothing; throttling (403 `userRateLimitExceeded`) and paging faults end in the correct state.

use crate::support::fast_retry;
use roster_store::SecretKey;
use secure_schools_sync::app::{App, AppOptions, Secrets};
use secure_schools_sync::commands::{self, SyncResult, SyncTarget};
use secure_schools_sync::config::Config;
use secure_schools_sync::doctor;
use secure_schools_sync::output::Output;
use secure_schools_sync::shutdown::Shutdown;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use testkit::faults::Fault;
use testkit::google::sample::{self, GoogleDomain, GoogleDomainSpec};
use testkit::google::{self as fake_google, FakeGoogle};
use testkit::secure_schools::{FakeSecureSchools, Identity, Organisation, User};
use testkit::server::RunningServer;

const CONNECTION: &str = "trust-google";
const TOKEN: &str = "google-trust-admin-token";

struct GoogleEnv {
    google: FakeGoogle,
    domain: GoogleDomain,
    secure_schools: FakeSecureSchools,
    app: App,
    secrets: Secrets,
    dir: PathBuf,
    _servers: (RunningServer, RunningServer),
}

impl Drop for GoogleEnv {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn toml_str(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

async fn google_env(spec: GoogleDomainSpec) -> GoogleEnv {
    let domain = spec.generate();
    let google = FakeGoogle::from_domain(&domain);
    google.register_service_account(sample::service_account());
    google.authorise_delegation(sample::SERVICE_ACCOUNT_CLIENT_ID, sample::SCOPES);
    let secure_schools = FakeSecureSchools::new();
    let mut admin = Identity::new("ident-google-admin", &domain.admin_email, "Iris Admin");
    for school in &domain.schools {
        secure_schools.add_organisation(Organisation::new(&school.organisation_id, &school.name, "100001")).unwrap();
        admin = admin.admin_of(&school.organisation_id);
    }
    secure_schools.add_identity(TOKEN, admin);
    let google_server = google.start().await.unwrap();
    let ss_server = secure_schools.start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("ssync-google-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("service-account.json");
    std::fs::write(&key_file, google.key_json(&google_server)).unwrap();

    let mut t = String::new();
    writeln!(t, "store = {}", toml_str(&dir.join("store.db").to_string_lossy())).unwrap();
    writeln!(t, "\n[secure_schools]\nbase_url = {}", toml_str(&format!("{}/", ss_server.url()))).unwrap();
    writeln!(t, "\n[[connections]]\nname = \"{CONNECTION}\"\nkind = \"google\"").unwrap();
    writeln!(t, "service_account_key_file = {}", toml_str(&key_file.to_string_lossy())).unwrap();
    writeln!(t, "admin_subject = {}", toml_str(&domain.admin_email)).unwrap();
    writeln!(t, "directory_url = {}", toml_str(&FakeGoogle::base_url(&google_server))).unwrap();
    for school in &domain.schools {
        writeln!(t, "\n[[connection_groups]]\nname = {}", toml_str(&school.name)).unwrap();
        writeln!(t, "organisation = {}\nconnection = \"{CONNECTION}\"\ngroups = [", toml_str(&school.organisation_id))
            .unwrap();
        writeln!(t, "  {{ path = {}, role = \"staff\" }},", toml_str(&school.staff_path)).unwrap();
        writeln!(t, "  {{ path = {}, role = \"student\" }},", toml_str(&school.students_path)).unwrap();
        writeln!(t, "]").unwrap();
    }
    writeln!(t, "\n[safety]\nmax_suspension_percent = 50.0").unwrap();
    let config = Config::parse(&t, &dir.join("secure-schools-sync.toml")).unwrap();
    let secrets = Secrets {
        secure_schools_token: Some(TOKEN.to_owned().into()),
        store_key: Some(SecretKey::generate()),
        ..Secrets::default()
    };
    let app =
        App::open(config, secrets.clone(), AppOptions { retry_policy: Some(fast_retry()), ..AppOptions::default() })
            .await
            .unwrap();
    GoogleEnv { google, domain, secure_schools, app, secrets, dir, _servers: (google_server, ss_server) }
}

impl GoogleEnv {
    async fn sync_all(&self) -> Vec<SyncResult> {
        let (out, _) = Output::capture();
        let (_t, shutdown) = Shutdown::manual();
        commands::sync_results(&self.app, SyncTarget::All, None, &out, &shutdown).await.unwrap()
    }

    fn users(&self, organisation: &str) -> BTreeMap<String, User> {
        self.secure_schools
            .users(organisation)
            .into_iter()
            .filter_map(|u| u.external_id.clone().map(|e| (e, u)))
            .collect()
    }

    /// Asserts that every organisation holds, managed and with the right role and status, the users under its
    /// staff and students units: active ones active, and `suspended` ones (by id) suspended.
    fn assert_state(&self, suspended: &[&str]) {
        for school in &self.domain.schools {
            let users = self.users(&school.organisation_id);
            let mut want: BTreeMap<String, &'static str> = BTreeMap::new();
            for (path, role) in [(&school.students_path, "student"), (&school.staff_path, "staff")] {
                for u in self.domain.users_under(path) {
                    let current = self.google.user(&u.id).unwrap();
                    if current.is_active() || suspended.contains(&u.id.as_str()) {
                        want.insert(u.id.clone(), role);
                    }
                }
            }
            assert_eq!(users.len(), want.len(), "{}: {:?}", school.organisation_id, users.keys().collect::<Vec<_>>());
            for (id, role) in &want {
                let u = users
                    .get(&format!("{CONNECTION}:{id}"))
                    .unwrap_or_else(|| panic!("{}: {id} missing", school.organisation_id));
                assert!(u.managed_by_sync);
                assert_eq!(u.role.as_str(), *role, "{id}");
                let status = if suspended.contains(&id.as_str()) { "suspended" } else { "active" };
                assert_eq!(u.status.as_str(), status, "{id}");
            }
        }
    }
}

fn all_succeeded(results: &[SyncResult]) {
    assert!(results.iter().all(|r| r.status == "succeeded"), "{results:#?}");
}

#[tokio::test]
async fn a_parent_unit_includes_its_child_units_and_suspended_users_are_suspended() {
    let env = google_env(GoogleDomainSpec::default()).await;
    all_succeeded(&env.sync_all().await);
    env.assert_state(&[]);
    let school = &env.domain.schools[0];
    // Pupils of the year units came in through the students unit.
    let in_year: Vec<_> = env.domain.users_under(&school.year_paths[1]).into_iter().filter(|u| u.is_active()).collect();
    assert!(!in_year.is_empty());
    let users = env.users(&school.organisation_id);
    assert!(in_year.iter().all(|u| users.contains_key(&format!("{CONNECTION}:{}", u.id))));
    // Never-active accounts were not created.
    let inactive = env.domain.users_under(&school.path).into_iter().filter(|u| !u.is_active()).count();
    assert_eq!(inactive, 3);

    // A pupil is suspended and a member of staff archived at Google: both are suspended in Secure Schools.
    let pupil = in_year[0].id.clone();
    let staff = env.domain.users_under(&school.staff_path).into_iter().find(|u| u.is_active()).unwrap().id.clone();
    env.google.set_suspended(&pupil, true).unwrap();
    env.google.update_user(&staff, |u| u.archived = true).unwrap();
    let results = env.sync_all().await;
    all_succeeded(&results);
    let report = results.iter().find(|r| r.organisation == school.organisation_id).unwrap().report.clone().unwrap();
    assert_eq!(report.applied.suspended, 2);
    env.assert_state(&[&pupil, &staff]);

    // Restored at Google: reactivated.
    env.google.set_suspended(&pupil, false).unwrap();
    all_succeeded(&env.sync_all().await);
    env.assert_state(&[&staff]);
}

#[tokio::test]
async fn a_second_run_writes_nothing() {
    let env = google_env(GoogleDomainSpec::default()).await;
    all_succeeded(&env.sync_all().await);
    let batches = env.secure_schools.counters().snapshot().endpoint("POST /organisations/{org}/users/batch");
    let before: Vec<_> = env.domain.schools.iter().map(|s| env.users(&s.organisation_id)).collect();
    let results = env.sync_all().await;
    all_succeeded(&results);
    for r in &results {
        let a = &r.report.as_ref().unwrap().applied;
        assert_eq!((a.created, a.updated, a.suspended, a.reactivated), (0, 0, 0, 0), "{}", r.organisation);
    }
    assert_eq!(env.secure_schools.counters().snapshot().endpoint("POST /organisations/{org}/users/batch"), batches);
    let after: Vec<_> = env.domain.schools.iter().map(|s| env.users(&s.organisation_id)).collect();
    assert_eq!(before, after);
}

#[tokio::test]
async fn throttling_and_paging_faults_end_in_the_correct_state() {
    // 1,100 pupils: the students unit takes three pages of 500.
    let spec = GoogleDomainSpec { schools: 1, students_per_school: 1100, ..GoogleDomainSpec::default() };
    let env = google_env(spec).await;
    let users = "/admin/directory/v1/users";
    let faults = env.google.faults();
    faults.on("GET", users).times(3).inject(fake_google::user_rate_limit_fault());
    faults.on("GET", users).after(1).times(1).inject(fake_google::quota_exceeded_fault());
    faults.on("GET", users).after(2).times(2).inject(Fault::status(503));
    faults.on("GET", users).after(3).times(1).inject(Fault::ResetMidBody);
    faults.on("GET", "/admin/directory/v1/customer/").times(1).inject(Fault::status(429));
    all_succeeded(&env.sync_all().await);
    env.assert_state(&[]);
    let stats = env.app.google(CONNECTION).unwrap().stats.snapshot();
    assert!(stats.throttled >= 5, "{stats:?}");
    assert!(env.google.counters().snapshot().endpoint("GET /admin/directory/v1/users") >= 4);

    // A malformed second page fails the run before anything is applied; the next run converges.
    env.google.set_suspended(&env.domain.users_under(&env.domain.schools[0].students_path)[10].id, true).unwrap();
    faults.on("GET", users).after(1).times(1).inject(Fault::MalformedJson);
    let results = env.sync_all().await;
    assert_eq!(results[0].status, "failed", "{results:#?}");
    assert_eq!(results[0].report.as_ref().unwrap().applied.suspended, 0);
    all_succeeded(&env.sync_all().await);
    let suspended = env.domain.users_under(&env.domain.schools[0].students_path)[10].id.clone();
    env.assert_state(&[&suspended]);
}

#[tokio::test]
async fn groups_lists_the_organisational_units_of_a_google_connection() {
    let env = google_env(GoogleDomainSpec::default()).await;
    let (mut out, captured) = Output::capture();
    commands::groups(&env.app, CONNECTION, None, true, &mut out).await.unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&captured.text()).unwrap();
    assert_eq!(rows.len(), env.domain.org_units.len() + 1, "every unit and the top unit");
    let school = &env.domain.schools[0];
    let students = rows.iter().find(|r| r["id"] == school.students_path.as_str()).unwrap();
    assert_eq!(students["kind"], commands::ORGANISATIONAL_UNIT);
    assert_eq!(students["syncable"], true);
    assert_eq!(students["selected_by"][0]["organisation"], school.organisation_id.as_str());
    assert_eq!(students["selected_by"][0]["role"], "student");
    assert!(rows.iter().any(|r| r["id"] == school.year_paths[0].as_str()));

    let (mut out, captured) = Output::capture();
    commands::groups(&env.app, CONNECTION, Some("year 7"), false, &mut out).await.unwrap();
    let text = captured.text();
    assert!(text.contains(&school.year_paths[0]) && !text.contains(&school.staff_path), "{text}");
}

#[tokio::test]
async fn doctor_checks_delegation_and_that_the_admin_can_read_each_unit() {
    let env = google_env(GoogleDomainSpec::default()).await;
    let report = doctor::run(&env.app).await;
    for id in ["google.key", "google.delegation", "google.read_org_units", "google.read_users", "groups.selected"] {
        let checks = report.find(id);
        assert_eq!(checks.len(), 1, "{id}");
        assert_eq!(checks[0].status, doctor::Status::Pass, "{id}: {:?}", checks[0]);
    }
    assert!(report.passed, "{:#?}", report.failures());

    env.google.revoke_delegation(sample::SERVICE_ACCOUNT_CLIENT_ID);
    env.google.revoke_tokens();
    // A new app, as a new run of `doctor` would be (the old one holds a cached token).
    let app = App::open(
        env.app.config().clone(),
        env.secrets.clone(),
        AppOptions { retry_policy: Some(fast_retry()), ..AppOptions::default() },
    )
    .await
    .unwrap();
    let report = doctor::run(&app).await;
    let delegation = report.find("google.delegation")[0];
    assert_eq!(delegation.status, doctor::Status::Fail);
    let remedy = delegation.remedy.clone().unwrap();
    assert!(
        remedy.contains(sample::SERVICE_ACCOUNT_CLIENT_ID) && remedy.contains("Domain-wide Delegation"),
        "{remedy}"
    );
    assert_eq!(report.find("google.read_users")[0].status, doctor::Status::Skip);
}

#[test]
fn google_connections_are_checked_with_the_key_named() {
    let base =
        "[secure_schools]\nbase_url = \"https://ss.example/\"\n\n[[connections]]\nname = \"g\"\nkind = \"google\"\n";
    let parse = |extra: &str| Config::parse(&format!("{base}{extra}"), std::path::Path::new("c.toml"));
    let ok = parse(
        "service_account_key_env = \"GOOGLE_KEY\"\nadmin_subject = \"a@x.org\"\n\n[[connection_groups]]\nname = \"S\"\norganisation = \"o\"\nconnection = \"g\"\ngroups = [{ path = \"/S/Students\", role = \"student\" }]\n",
    );
    let config = ok.unwrap();
    assert_eq!(config.connection_groups()[0].scopes[0].scope.as_str(), "/S/Students");
    let err = parse("service_account_key_env = \"GOOGLE_KEY\"\n").unwrap_err().to_string();
    assert!(err.contains("admin_subject"), "{err}");
    let err = parse("admin_subject = \"a@x.org\"\n").unwrap_err().to_string();
    assert!(err.contains("service_account_key_file"), "{err}");
    let err = parse("admin_subject = \"a@x.org\"\nservice_account_key_env = \"GOOGLE_KEY\"\ncustomer = \"my_customer\"\ndomain = \"x.org\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("connections[0].domain") && err.contains("c.toml:10"), "{err}");
    let err = parse("admin_subject = \"a@x.org\"\nservice_account_key_env = \"GOOGLE_KEY\"\n\n[[connection_groups]]\nname = \"S\"\norganisation = \"o\"\nconnection = \"g\"\ngroups = [{ id = \"Students\", role = \"student\" }]\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("groups[0].id") && err.contains("full path"), "{err}");
}
