//! The Wonde source and the Wonde → OneRoster roster builder against the fake Wonde (testkit), with the engine's
//! conformance suite and the SDS validation profile.

use chrono::TimeZone;
use connectors::wonde::roster::{AcademicYear, RosterOptions, wonde_roster};
use connectors::wonde::{EMPLOYEES, STUDENTS, WondeSource, school_scopes, scope_id};
use http_retry::RetryPolicy;
use oneroster_model::validate::{Profile, Severity, validate};
use oneroster_model::{EnrollmentRole, RoleType};
use roster_store::{ImportMode, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use sync_engine::conformance::{SourceFixture, check_source};
use sync_engine::model::{ConnectionId, Role, ScopeId, ScopeSelection};
use sync_engine::source::{Changes, IdentitySource, SourceCursor, SourceError};
use testkit::faults::Fault;
use testkit::server::RunningServer;
use testkit::wonde::{Access, FakeWonde, SchoolData, SchoolSpec};
use wonde_client::{Region, WondeClient};

const TOKEN: &str = "connector-token";

struct Env {
    fake: FakeWonde,
    data: SchoolData,
    source: WondeSource,
    client: WondeClient,
    _server: RunningServer,
}

async fn env_with(spec: SchoolSpec) -> Env {
    let data = spec.generate();
    let fake = FakeWonde::new();
    fake.add_school(data.clone());
    fake.grant(TOKEN, &data.school.id);
    let server = fake.start().await.unwrap();
    let policy = RetryPolicy::default()
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(2))
        .jitter(false);
    let client = WondeClient::builder()
        .base_url(FakeWonde::base_url(&server))
        .token(TOKEN.to_owned().into())
        .retry_policy(policy)
        .build()
        .unwrap();
    let source = WondeSource::new(ConnectionId::new("northfield-mis"), client.clone(), data.school.id.clone())
        .with_region(Region::Uk);
    Env { fake, data, source, client, _server: server }
}

async fn env() -> Env {
    env_with(SchoolSpec::small()).await
}

fn scopes(env: &Env) -> Vec<ScopeSelection> {
    school_scopes(&env.data.school.id, &env.data.school.name)
}

#[tokio::test]
async fn conforms_to_the_engine_contract() {
    let env = env().await;
    let fixture = SourceFixture {
        scopes: scopes(&env),
        missing_scope: Some(ScopeSelection {
            scope: scope_id("A0000000001", STUDENTS),
            name: "Another school".into(),
            role: Role::Student,
        }),
        expected_people: Some(24 + 5),
    };
    let violations = check_source(&env.source, &fixture).await;
    assert!(violations.is_empty(), "{violations:#?}");
}

#[tokio::test]
async fn students_and_employees_are_keyed_by_upi_with_school_addresses() {
    let env = env().await;
    let snapshot = env.source.snapshot(&scopes(&env)).await.unwrap();
    let school = &env.data.school.id;
    assert_eq!(snapshot.scope_counts[&scope_id(school, STUDENTS)], 24);
    assert_eq!(snapshot.scope_counts[&scope_id(school, EMPLOYEES)], 5);
    let s = &env.data.students[0];
    let p = snapshot.people.iter().find(|p| p.source_id == s.upi).unwrap();
    assert_eq!((p.given_name.as_str(), p.family_name.as_str()), (s.forename.as_str(), s.surname.as_str()));
    assert_eq!(p.email, s.email, "the school address, never the home one");
    assert_eq!(p.scopes, [scope_id(school, STUDENTS)]);
    assert!(p.enabled);
    let e = &env.data.employees[0];
    let p = snapshot.people.iter().find(|p| p.source_id == e.upi).unwrap();
    assert_eq!(p.email, e.email);
    assert_eq!(p.scopes, [scope_id(school, EMPLOYEES)]);
    assert_eq!(school_scopes(school, "")[1].role, Role::Staff);
}

#[tokio::test]
async fn scopes_of_another_school_or_kind_are_refused() {
    let env = env().await;
    let other = ScopeSelection { scope: scope_id("A1", STUDENTS), name: "x".into(), role: Role::Student };
    assert!(matches!(env.source.snapshot(&[other]).await, Err(SourceError::ScopeNotFound(_))));
    let wrong = ScopeSelection {
        scope: ScopeId::new(format!("{}/contacts", env.data.school.id)),
        name: "x".into(),
        role: Role::Student,
    };
    match env.source.snapshot(&[wrong]).await {
        Err(SourceError::UnsupportedScope { reason, .. }) => assert!(reason.contains("students or employees")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn access_not_approved_and_the_wrong_region_say_what_to_do() {
    let env = env().await;
    env.fake.set_access(TOKEN, &env.data.school.id, Some(Access::Pending));
    match env.source.snapshot(&scopes(&env)).await {
        Err(SourceError::Access(m)) => assert!(m.contains("approved access"), "{m}"),
        other => panic!("{other:?}"),
    }
    let env = env_with(SchoolSpec {
        region_code: "AUS".into(),
        domain: "api-ap-southeast-2.wonde.com".into(),
        ..SchoolSpec::small()
    })
    .await;
    match env.source.snapshot(&scopes(&env)).await {
        Err(SourceError::Other(m)) => {
            assert!(m.contains("served by api-ap-southeast-2.wonde.com") && m.contains("region ="), "{m}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn changes_report_updates_leavers_and_deletions_by_upi() {
    let env = env().await;
    let scopes = scopes(&env);
    let snapshot = env.source.snapshot(&scopes).await.unwrap();
    let school = env.data.school.id.clone();
    env.fake.advance_clock(Duration::from_secs(600));
    let (changed, leaver, teacher) = (&env.data.students[0], &env.data.students[1], &env.data.employees[4]);
    env.fake.update_student(&school, &changed.id, |s| s.surname = "Renamed".into()).unwrap();
    env.fake.student_leaves(&school, &leaver.id).unwrap();
    env.fake.delete_employee(&school, &teacher.id).unwrap();
    let Changes::Changes { upserts, removed, scope_counts, cursor } =
        env.source.changes(&scopes, snapshot.cursor.as_ref().unwrap()).await.unwrap()
    else {
        panic!("expected changes")
    };
    assert!(upserts.iter().any(|p| p.source_id == changed.upi && p.family_name == "Renamed"), "{upserts:?}");
    let removed: BTreeSet<_> = removed.into_iter().collect();
    assert_eq!(removed, BTreeSet::from([leaver.upi.clone(), teacher.upi.clone()]));
    assert!(upserts.iter().all(|p| !removed.contains(&p.source_id)));
    assert_ne!(&cursor, snapshot.cursor.as_ref().unwrap());
    // One student left and one employee was deleted: each scope counts one person fewer.
    let fewer: BTreeMap<_, _> = snapshot.scope_counts.iter().map(|(scope, n)| (scope.clone(), n - 1)).collect();
    assert_eq!(scope_counts, fewer);
    assert!(matches!(
        env.source.changes(&scopes, &SourceCursor("garbage".into())).await.unwrap(),
        Changes::FullResyncRequired
    ));
}

#[tokio::test]
async fn throttling_and_server_errors_are_absorbed_by_the_retry_policy() {
    let env = env().await;
    let prefix = format!("/v1.0/schools/{}/", env.data.school.id);
    env.fake.faults().on("GET", &prefix).times(3).inject(Fault::throttle(0));
    env.fake.faults().on("GET", &prefix).after(1).times(2).inject(Fault::status(502));
    env.fake.faults().on("GET", &prefix).after(2).times(1).inject(Fault::ResetMidBody);
    let snapshot = env.source.snapshot(&scopes(&env)).await.unwrap();
    assert_eq!(snapshot.people.len(), 29);
    assert_eq!(env.fake.counters().snapshot().throttled, 3);
}

#[tokio::test]
async fn the_roster_imports_into_a_store_and_passes_the_sds_profile() {
    let env = env().await;
    let now = chrono::Utc.with_ymd_and_hms(2025, 3, 14, 9, 0, 0).unwrap();
    let built = wonde_roster(&env.client, &env.data.school.id, &RosterOptions::at(now)).await.unwrap();
    assert!(built.notes.is_empty(), "{:?}", built.notes);
    let r = &built.roster;
    assert_eq!(r.orgs.len(), 1);
    assert_eq!(r.orgs[0].identifier, env.data.school.urn.map(|u| u.to_string()));
    let session = &r.academic_sessions[0];
    assert_eq!((session.title.as_str(), session.school_year.as_str()), ("2024/25", "2025"));
    assert_eq!(session.start_date, AcademicYear::current(Some("GBR"), now.date_naive()).start);
    assert_eq!(r.users.len(), 24 + 5);
    assert_eq!(r.users.iter().filter(|u| u.role == RoleType::Teacher).count(), 3);
    assert_eq!(r.users.iter().filter(|u| u.role == RoleType::Administrator).count(), 2, "support staff");
    let grades: BTreeSet<&str> =
        r.users.iter().filter(|u| u.role == RoleType::Student).map(|u| u.grades[0].as_str()).collect();
    assert_eq!(grades, BTreeSet::from(["06", "07", "08"]), "Years 7-9 by age");
    assert_eq!(r.courses.len(), 3, "one per subject");
    assert_eq!(r.classes.len(), 18);
    assert_eq!(r.enrollments.iter().filter(|e| e.role == EnrollmentRole::Teacher).count(), 18);
    assert_eq!(r.enrollments.iter().filter(|e| e.role == EnrollmentRole::Student).count(), 18 * 4);

    let store = Store::memory().await.unwrap();
    let report = store.import_roster(r, ImportMode::Bulk, now).await.unwrap();
    assert_eq!(report.totals().created, r.len());
    let (_, stored) = store.load_roster().await.unwrap();
    let findings = validate(&stored, &Profile::sds());
    let errors: Vec<_> = findings.findings.iter().filter(|f| f.severity == Severity::Error).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(findings.errors, 0);

    // A second build of the same school is the same roster: a second import changes nothing.
    let again = wonde_roster(&env.client, &env.data.school.id, &RosterOptions::at(now)).await.unwrap();
    let report = store.import_roster(&again.roster, ImportMode::Bulk, now).await.unwrap();
    assert_eq!(report.totals().unchanged, r.len());
}
