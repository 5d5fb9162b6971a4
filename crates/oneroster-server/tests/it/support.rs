//! Fixtures and helpers: rosters built from `oneroster_model` types, a test app with a manual clock, and request
//! helpers.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::{DateTime, NaiveDate, Utc};
use oneroster_model::json::StatusInfo;
use oneroster_model::*;
use oneroster_server::{
    AppState, ClientSecret, ManualClock, ServerConfig, Snapshot, SnapshotHandle, StaticClients, StaticConsumers, app,
};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt as _;

pub(crate) const BASE: &str = "https://feed.example/ims/oneroster/v1p1";
pub(crate) const CLIENT_ID: &str = "WebserviceUser";
pub(crate) const SECRET: &str = "test-client-secret-0123456789abcdefghij";
pub(crate) const CONSUMER_KEY: &str = "legacy-consumer";
pub(crate) const CONSUMER_SECRET: &str = "legacy consumer secret&/+";

pub(crate) fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

pub(crate) fn start() -> DateTime<Utc> {
    at("2025-09-01T08:00:00Z")
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// An argon2id hash with tiny parameters: tests verify many secrets, and debug builds are slow.
pub(crate) fn cheap_hash(secret: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(8, 1, 1, None).unwrap();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
    argon.hash_password(secret.as_bytes(), &salt).unwrap().to_string()
}

fn base(id: &str, modified: &str) -> Base {
    Base {
        sourced_id: id.into(),
        status: Status::Active,
        date_last_modified: Some(at(modified)),
        metadata: Metadata::new(),
    }
}

fn org_ref(id: &str) -> GuidRef {
    GuidRef::new(GuidType::Org, id)
}

pub(crate) fn org(id: &str, name: &str, org_type: OrgType, parent: Option<&str>) -> Org {
    Org {
        base: base(id, "2025-08-01T09:00:00.000Z"),
        name: name.into(),
        org_type,
        identifier: Some(format!("URN-{id}")),
        parent: parent.map(org_ref),
        children: vec![],
    }
}

fn session(id: &str, session_type: SessionType, start: &str, end: &str, parent: Option<&str>) -> AcademicSession {
    AcademicSession {
        base: base(id, "2025-07-15T12:30:00.000Z"),
        title: format!("Session {id}"),
        start_date: date(start),
        end_date: date(end),
        session_type,
        parent: parent.map(|p| GuidRef::new(GuidType::AcademicSession, p)),
        children: vec![],
        school_year: "2026".into(),
    }
}

fn course(id: &str, school: &str) -> Course {
    Course {
        base: base(id, "2025-07-15T12:30:00.000Z"),
        title: format!("Course {id}"),
        school_year: Some(GuidRef::new(GuidType::AcademicSession, "year-2026")),
        course_code: Some(id.to_uppercase()),
        grades: vec![Grade::Seventh],
        subjects: vec!["Mathematics".into()],
        org: org_ref(school),
        subject_codes: vec![],
        resources: vec![],
    }
}

fn class(id: &str, course: &str, school: &str, terms: &[&str], class_type: ClassType) -> Class {
    Class {
        base: base(id, "2025-07-15T12:30:00.000Z"),
        title: format!("Class {id}"),
        class_code: Some(id.to_uppercase()),
        class_type,
        location: Some("Room 12".into()),
        grades: vec![Grade::Seventh, Grade::Eighth],
        subjects: vec![],
        course: GuidRef::new(GuidType::Course, course),
        school: org_ref(school),
        terms: terms.iter().map(|t| GuidRef::new(GuidType::AcademicSession, *t)).collect(),
        subject_codes: vec![],
        periods: vec!["1".into(), "2".into()],
        resources: vec![],
    }
}

pub(crate) fn user(id: &str, role: RoleType, given: &str, family: &str, orgs: &[&str], modified: &str) -> User {
    User {
        base: base(id, modified),
        username: format!("{given}.{family}").to_lowercase(),
        user_ids: vec![UserId { kind: "SIS".into(), identifier: id.to_uppercase() }],
        enabled_user: true,
        given_name: given.into(),
        family_name: family.into(),
        middle_name: None,
        role,
        identifier: Some(id.to_uppercase()),
        email: Some(format!("{}@school.example", id)),
        sms: None,
        phone: None,
        agents: vec![],
        orgs: orgs.iter().map(|o| org_ref(o)).collect(),
        grades: vec![],
        password: None,
    }
}

fn enrollment(
    id: &str,
    user: &str,
    class: &str,
    school: &str,
    role: EnrollmentRole,
    primary: Option<bool>,
) -> Enrollment {
    Enrollment {
        base: base(id, "2025-09-01T07:45:12.345Z"),
        user: GuidRef::new(GuidType::User, user),
        class: GuidRef::new(GuidType::Class, class),
        school: org_ref(school),
        role,
        primary,
        begin_date: Some(date("2025-09-03")),
        end_date: Some(date("2026-07-22")),
    }
}

/// A roster of two schools in a district, with terms, grading periods, courses, classes, students, teachers, an
/// administrator, a parent, enrollments and demographics.
pub(crate) fn school_roster() -> Roster {
    let mut r = Roster {
        orgs: vec![
            org("school-2", "Oak Academy", OrgType::School, Some("district-1")),
            org("district-1", "Northshire Trust", OrgType::District, None),
            org("school-1", "St Aidan's Primary", OrgType::School, Some("district-1")),
            org("dept-1", "Maths Department", OrgType::Department, Some("school-1")),
        ],
        ..Roster::default()
    };
    r.academic_sessions = vec![
        session("year-2026", SessionType::SchoolYear, "2025-09-01", "2026-08-31", None),
        session("term-1", SessionType::Term, "2025-09-03", "2025-12-19", Some("year-2026")),
        session("term-2", SessionType::Term, "2026-01-05", "2026-03-27", Some("year-2026")),
        session("gp-1", SessionType::GradingPeriod, "2025-09-03", "2025-10-24", Some("term-1")),
        session("gp-2", SessionType::GradingPeriod, "2025-11-03", "2025-12-19", Some("term-1")),
        session("sem-1", SessionType::Semester, "2025-09-03", "2026-01-31", Some("year-2026")),
    ];
    r.courses = vec![course("course-ma", "school-1"), course("course-en", "school-1"), course("course-sc", "school-2")];
    r.classes = vec![
        class("class-ma1", "course-ma", "school-1", &["term-1"], ClassType::Scheduled),
        class("class-en1", "course-en", "school-1", &["term-1", "term-2"], ClassType::Scheduled),
        class("class-sc1", "course-sc", "school-2", &["term-2"], ClassType::Scheduled),
        class("class-hr", "course-en", "school-1", &["sem-1"], ClassType::Homeroom),
    ];
    let mut s1 = user("s-1", RoleType::Student, "Adaeze", "Okafor", &["school-1"], "2025-09-01T10:00:00.000Z");
    s1.agents = vec![GuidRef::new(GuidType::User, "p-1")];
    s1.password = Some(Password::new("hunter2"));
    s1.base.metadata.insert("house".into(), Value::String("Kestrel".into()));
    let mut s2 = user("s-2", RoleType::Student, "Jakub", "Nowak", &["school-1"], "2025-08-01T10:00:00.000Z");
    s2.enabled_user = false;
    s2.base.metadata.insert("house".into(), Value::String("Heron".into()));
    let mut s3 = user("s-3", RoleType::Student, "Zoë", "O'Brien", &["school-2"], "2025-09-02T10:00:00.000Z");
    s3.base.status = Status::ToBeDeleted;
    r.users = vec![
        s3,
        s1,
        s2,
        user("t-1", RoleType::Teacher, "Mary", "Somerville", &["school-1"], "2025-07-01T10:00:00.000Z"),
        user("t-2", RoleType::Teacher, "Alan", "Turing", &["school-2", "school-1"], "2025-07-02T10:00:00.000Z"),
        user("a-1", RoleType::Administrator, "Grace", "Hopper", &["school-1"], "2025-07-03T10:00:00.000Z"),
        user("p-1", RoleType::Parent, "Ngozi", "Okafor", &["school-1"], "2025-07-04T10:00:00.000Z"),
    ];
    r.enrollments = vec![
        enrollment("e-1", "s-1", "class-ma1", "school-1", EnrollmentRole::Student, Some(false)),
        enrollment("e-2", "s-2", "class-ma1", "school-1", EnrollmentRole::Student, None),
        enrollment("e-3", "t-1", "class-ma1", "school-1", EnrollmentRole::Teacher, Some(true)),
        enrollment("e-4", "s-1", "class-en1", "school-1", EnrollmentRole::Student, Some(false)),
        enrollment("e-5", "t-1", "class-en1", "school-1", EnrollmentRole::Teacher, Some(true)),
        enrollment("e-6", "s-3", "class-sc1", "school-2", EnrollmentRole::Student, Some(false)),
        enrollment("e-7", "t-2", "class-sc1", "school-2", EnrollmentRole::Teacher, Some(false)),
    ];
    r.demographics = vec![
        Demographics {
            base: base("s-1", "2025-09-01T07:45:12.345Z"),
            birth_date: Some(date("2013-04-17")),
            sex: Some(Sex::Female),
            white: Some(false),
            ..Demographics::default()
        },
        Demographics {
            base: base("s-2", "2025-09-01T07:45:12.345Z"),
            birth_date: Some(date("2012-11-02")),
            sex: Some(Sex::Male),
            white: Some(true),
            ..Demographics::default()
        },
    ];
    r
}

/// One school, `n` users (`u-00000`…, every third a teacher, every fifth `tobedeleted`), one class they are all
/// enrolled in.
pub(crate) fn generated_roster(n: usize) -> Roster {
    let mut r = Roster {
        orgs: vec![org("school-1", "Big School", OrgType::School, None)],
        academic_sessions: vec![session("term-1", SessionType::Term, "2025-09-03", "2025-12-19", None)],
        courses: vec![course("course-1", "school-1")],
        classes: vec![class("class-1", "course-1", "school-1", &["term-1"], ClassType::Scheduled)],
        ..Roster::default()
    };
    for i in 0..n {
        let role = if i % 3 == 0 { RoleType::Teacher } else { RoleType::Student };
        let modified = format!("2025-{:02}-01T00:00:00.000Z", 1 + i % 12);
        let mut u = user(
            &format!("u-{i:05}"),
            role,
            &format!("Given{}", i % 97),
            &format!("Family{i}"),
            &["school-1"],
            &modified,
        );
        if i % 5 == 0 {
            u.base.status = Status::ToBeDeleted;
        }
        let enrollment_role = if i % 3 == 0 { EnrollmentRole::Teacher } else { EnrollmentRole::Student };
        r.enrollments.push(enrollment(
            &format!("e-{i:05}"),
            &u.base.sourced_id,
            "class-1",
            "school-1",
            enrollment_role,
            None,
        ));
        r.users.push(u);
    }
    r
}

/// The St Aidan's CSV set of the repository's fixtures.
pub(crate) fn st_aidans() -> Roster {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/oneroster/csv/st-aidans");
    oneroster_model::csv::read_roster_only(path).unwrap()
}

/// A response, read whole.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Resp {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn header(&self, name: &str) -> String {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    }

    /// The `sourcedId`s of the records under `key`.
    pub(crate) fn ids(&self, key: &str) -> Vec<String> {
        let json = self.json();
        let Some(records) = json[key].as_array() else {
            panic!("no array under `{key}` ({}): {}", self.status, self.text())
        };
        records.iter().map(|r| r["sourcedId"].as_str().unwrap().to_owned()).collect()
    }

    pub(crate) fn total(&self) -> usize {
        self.header("x-total-count").parse().unwrap()
    }

    /// The status info of an error body.
    pub(crate) fn status_info(&self) -> StatusInfo {
        StatusInfo::from_json(&self.body).unwrap_or_else(|e| panic!("not an imsx body ({e}): {}", self.text()))
    }

    /// The `Link` header as `rel → URL`.
    pub(crate) fn links(&self) -> std::collections::BTreeMap<String, String> {
        let header = self.header("link");
        header
            .split(", ")
            .filter(|l| !l.is_empty())
            .map(|link| {
                let (url, rel) = link.split_once(">; rel=\"").unwrap();
                (rel.trim_end_matches('"').to_owned(), url.trim_start_matches('<').to_owned())
            })
            .collect()
    }
}

pub(crate) async fn send(router: &Router, request: Request<Body>) -> Resp {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
    Resp { status, headers, body }
}

/// A router over a roster with one OAuth 2.0 client and one OAuth 1.0a consumer, a manual clock, and a token.
pub(crate) struct TestApp {
    pub(crate) router: Router,
    pub(crate) clock: ManualClock,
    pub(crate) snapshots: SnapshotHandle,
    pub(crate) token: String,
}

pub(crate) fn config() -> ServerConfig {
    ServerConfig::default().public_base_url("https://feed.example").unwrap()
}

impl TestApp {
    pub(crate) async fn new(roster: Roster) -> TestApp {
        TestApp::with(roster, config()).await
    }

    pub(crate) async fn with(roster: Roster, config: ServerConfig) -> TestApp {
        let snapshots = SnapshotHandle::new(Snapshot::from_roster(1, roster).unwrap());
        let clock = ManualClock::new(start());
        let state = AppState::builder(snapshots.clone())
            .config(config)
            .clients(StaticClients::new().with_hash(CLIENT_ID, cheap_hash(SECRET)))
            .oauth1_consumers(StaticConsumers::new().with(CONSUMER_KEY, ClientSecret::new(CONSUMER_SECRET)))
            .clock(Arc::new(clock.clone()))
            .build();
        let router = app(state);
        let mut test = TestApp { router, clock, snapshots, token: String::new() };
        test.token = test.fetch_token().await;
        test
    }

    pub(crate) async fn fetch_token(&self) -> String {
        let response = self
            .post_token(&format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={SECRET}"), None)
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        response.json()["access_token"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn post_token(&self, form: &str, authorization: Option<&str>) -> Resp {
        let mut request = Request::post("/oauth/token").header("content-type", "application/x-www-form-urlencoded");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        send(&self.router, request.body(Body::from(form.to_owned())).unwrap()).await
    }

    /// `GET` a path under the base path, with the test's bearer token.
    pub(crate) async fn get(&self, path_and_query: &str) -> Resp {
        self.get_with(path_and_query, Some(&format!("Bearer {}", self.token))).await
    }

    pub(crate) async fn get_with(&self, path_and_query: &str, authorization: Option<&str>) -> Resp {
        let mut request = Request::get(format!("/ims/oneroster/v1p1{path_and_query}"));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        send(&self.router, request.body(Body::empty()).unwrap()).await
    }

    /// `GET` every page of a collection (following `next` links) and returns all ids.
    pub(crate) async fn pull_all(&self, path: &str, key: &str, limit: usize) -> Vec<String> {
        let mut ids = Vec::new();
        let mut next = Some(format!("{BASE}{path}{}limit={limit}", if path.contains('?') { "&" } else { "?" }));
        while let Some(url) = next {
            let response = self.get(url.strip_prefix(BASE).unwrap()).await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.text());
            ids.extend(response.ids(key));
            next = response.links().get("next").cloned();
        }
        ids
    }
}

/// Asserts that a response is an imsx error with this status and code minor.
#[track_caller]
pub(crate) fn assert_imsx(response: &Resp, status: StatusCode, code_minor: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.header("content-type"), "application/json");
    let info = response.status_info();
    assert_eq!(info.code_minor_value().unwrap().as_str(), code_minor, "{}", response.text());
    assert_eq!(serde_json::to_value(info.code_major).unwrap(), "failure");
}
