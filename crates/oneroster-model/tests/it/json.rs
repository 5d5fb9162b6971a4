//! REST/JSON binding: golden files, round trips, lenient reading, decode errors with paths, no panics.

use crate::strategies;
use oneroster_model::json::{self, CodeMajor, StatusInfo, StatusSeverity};
use oneroster_model::*;
use proptest::prelude::*;
use serde_json::Value;
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/oneroster/json").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn as_value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn golden_collection<E: Entity>(name: &str) -> Vec<E> {
    let bytes = fixture(name);
    let items: Vec<E> = json::from_collection_json(&bytes).unwrap();
    assert_eq!(as_value(json::to_collection_json(&items).as_bytes()), as_value(&bytes), "{name} did not round-trip");
    items
}

fn golden_single<E: Entity>(name: &str) -> E {
    let bytes = fixture(name);
    let item: E = json::from_single_json(&bytes).unwrap();
    assert_eq!(as_value(json::to_single_json(&item).as_bytes()), as_value(&bytes), "{name} did not round-trip");
    item
}

#[test]
fn golden_orgs() {
    let orgs: Vec<Org> = golden_collection("orgs.json");
    assert_eq!(orgs[0].org_type, OrgType::District);
    assert_eq!(orgs[0].children[0].sourced_id, "school-1");
    assert_eq!(orgs[1].parent.as_ref().unwrap().kind, GuidType::Org);
    assert_eq!(orgs[0].base.metadata["localAuthority"], "Northshire");
}

#[test]
fn golden_academic_session() {
    let session: AcademicSession = golden_single("academicSession.json");
    assert_eq!(session.session_type, SessionType::Term);
    assert_eq!(session.start_date.to_string(), "2025-09-03");
    assert_eq!(session.school_year, "2026");
}

#[test]
fn golden_courses_and_class() {
    let courses: Vec<Course> = golden_collection("courses.json");
    assert_eq!(courses[0].grades, vec![Grade::Seventh]);
    let class: Class = golden_single("class.json");
    assert_eq!(class.class_type, ClassType::Scheduled);
    assert_eq!(class.terms.len(), 1);
    assert_eq!(class.periods, vec!["1", "2"]);
}

#[test]
fn golden_users() {
    let users: Vec<User> = golden_collection("users.json");
    assert!(users[0].enabled_user);
    assert!(!users[1].enabled_user);
    assert_eq!(users[1].base.status, Status::ToBeDeleted);
    assert_eq!(users[0].user_ids[1], UserId { kind: "LDAP".into(), identifier: "aokafor".into() });
    assert_eq!(users[1].given_name, "Seán");
    let written = json::to_collection_json(&users);
    assert!(written.contains(r#""enabledUser":"true""#), "enabledUser is written as the 1.1 string form");
    assert!(written.contains(r#""dateLastModified":"2025-09-01T07:45:12.345Z""#));
}

#[test]
fn golden_enrollments_and_demographics() {
    let enrollments: Vec<Enrollment> = golden_collection("enrollments.json");
    assert_eq!(enrollments[1].primary, Some(true));
    assert_eq!(enrollments[0].end_date.unwrap().to_string(), "2026-07-22");
    let demographics: Demographics = golden_single("demographics.json");
    assert_eq!(demographics.sex, Some(Sex::Female));
    assert_eq!(demographics.black_or_african_american, Some(true));
}

#[test]
fn golden_status_info() {
    let info = StatusInfo::from_json(&fixture("status-info-invalid-filter.json")).unwrap();
    assert_eq!(info.code_major, CodeMajor::Failure);
    assert_eq!(info.severity, StatusSeverity::Error);
    assert_eq!(info.code_minor_value(), Some(&CodeMinorValue::InvalidFilterField));
    let built =
        StatusInfo::failure(CodeMinorValue::InvalidFilterField, "The filter field 'colour' is not a field of users.");
    assert_eq!(serde_json::to_value(&built).unwrap(), as_value(&fixture("status-info-invalid-filter.json")));

    let set = StatusInfo::from_json(&fixture("status-info-set.json")).unwrap();
    assert_eq!(set.severity, StatusSeverity::Warning);
    assert_eq!(set.code_minor_value(), Some(&CodeMinorValue::InvalidSelectionField));
    let wrapped =
        format!(r#"{{"imsx_StatusInfo":{}}}"#, String::from_utf8(fixture("status-info-invalid-filter.json")).unwrap());
    assert_eq!(StatusInfo::from_json(wrapped.as_bytes()).unwrap(), info);
}

#[test]
fn reads_what_real_producers_send() {
    // enabledUser as a boolean, booleans in capitals, a date-time without milliseconds or zone,
    // a role in title case, an unknown extra field: all accepted, written back the spec's way.
    let body = br#"{"users":[{"sourcedId":"u1","status":"Active","dateLastModified":"2025-01-02T03:04:05",
        "username":"u","enabledUser":true,"givenName":"A","familyName":"B","role":"Teacher","orgs":[],
        "somethingElse":42}],"unknownTopLevel":1}"#;
    let users: Vec<User> = json::from_collection_json(body).unwrap();
    assert!(users[0].enabled_user);
    assert_eq!(users[0].role, RoleType::Teacher);
    let written: Value = serde_json::from_str(&json::to_collection_json(&users)).unwrap();
    assert_eq!(written["users"][0]["enabledUser"], "true");
    assert_eq!(written["users"][0]["role"], "teacher");
    assert_eq!(written["users"][0]["status"], "active");
    assert_eq!(written["users"][0]["dateLastModified"], "2025-01-02T03:04:05.000Z");

    let enr = br#"{"enrollment":{"sourcedId":"e","status":"active","user":{"sourcedId":"u","type":"user"},
        "class":{"sourcedId":"c","type":"class"},"school":{"sourcedId":"s","type":"org"},"role":"student",
        "primary":"TRUE","beginDate":"2025-09-01T00:00:00Z"}}"#;
    let e: Enrollment = json::from_single_json(enr).unwrap();
    assert_eq!(e.primary, Some(true));
    assert_eq!(e.begin_date.unwrap().to_string(), "2025-09-01");
}

#[test]
fn vocabulary_values_outside_the_spec_are_kept_and_flagged() {
    let body = br#"{"org":{"sourcedId":"o","status":"active","name":"N","type":"multiAcademyTrust"}}"#;
    let org: Org = json::from_single_json(body).unwrap();
    assert_eq!(org.org_type, OrgType::Unknown("multiAcademyTrust".into()));
    assert!(!org.org_type.is_allowed());
    assert!(json::to_single_json(&org).contains(r#""type":"multiAcademyTrust""#));
}

#[test]
fn decode_errors_name_the_json_path() {
    let body = br#"{"users":[
        {"sourcedId":"u1","status":"active","username":"a","enabledUser":"true","givenName":"A","familyName":"B","role":"student","orgs":[]},
        {"sourcedId":"u2","status":"active","username":"b","enabledUser":"maybe","givenName":"A","familyName":"B","role":"student","orgs":[]}
    ]}"#;
    let err = json::from_collection_json::<User>(body).unwrap_err();
    assert_eq!(err.path, "users[1].enabledUser", "{err}");
    assert!(err.message.contains("maybe"), "{err}");

    let missing_role = br#"{"users":[{"sourcedId":"u1","status":"active","enabledUser":"true","orgs":[]}]}"#;
    let err = json::from_collection_json::<User>(missing_role).unwrap_err();
    assert!(err.path.starts_with("users[0]"), "{err}");
    assert!(err.message.contains("role"), "{err}");

    let bad_date = br#"{"academicSessions":[{"sourcedId":"t","status":"active","title":"T","type":"term",
        "startDate":"01/09/2025","endDate":"2025-12-19","schoolYear":"2026"}]}"#;
    let err = json::from_collection_json::<AcademicSession>(bad_date).unwrap_err();
    assert_eq!(err.path, "academicSessions[0].startDate", "{err}");

    let wrong_key = br#"{"students":[]}"#;
    let err = json::from_collection_json::<User>(wrong_key).unwrap_err();
    assert!(err.message.contains("`users`"), "{err}");
}

fn with_hrefs(refs: &mut [GuidRef]) {
    for r in refs {
        r.href = Some(format!("https://sis.example/ims/oneroster/v1p1/x/{}", r.sourced_id));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn orgs_round_trip(mut items in proptest::collection::vec(strategies::org(), 0..5)) {
        for org in &mut items { org.children = org.parent.clone().into_iter().collect(); with_hrefs(&mut org.children); }
        let back: Vec<Org> = json::from_collection_json(json::to_collection_json(&items).as_bytes()).unwrap();
        prop_assert_eq!(back, items);
    }

    #[test]
    fn sessions_round_trip(items in proptest::collection::vec(strategies::academic_session(), 0..5)) {
        let back: Vec<AcademicSession> = json::from_collection_json(json::to_collection_json(&items).as_bytes()).unwrap();
        prop_assert_eq!(back, items);
    }

    #[test]
    fn courses_round_trip(items in proptest::collection::vec(strategies::course(), 0..5)) {
        let back: Vec<Course> = json::from_collection_json(json::to_collection_json(&items).as_bytes()).unwrap();
        prop_assert_eq!(back, items);
    }

    #[test]
    fn classes_round_trip(mut item in strategies::class()) {
        with_hrefs(&mut item.terms);
        let back: Class = json::from_single_json(json::to_single_json(&item).as_bytes()).unwrap();
        prop_assert_eq!(back, item);
    }

    #[test]
    fn users_round_trip(mut items in proptest::collection::vec(strategies::user(), 0..5)) {
        for u in &mut items { with_hrefs(&mut u.orgs); }
        let back: Vec<User> = json::from_collection_json(json::to_collection_json(&items).as_bytes()).unwrap();
        prop_assert_eq!(back, items);
    }

    #[test]
    fn enrollments_round_trip(items in proptest::collection::vec(strategies::enrollment(), 0..5)) {
        let back: Vec<Enrollment> = json::from_collection_json(json::to_collection_json(&items).as_bytes()).unwrap();
        prop_assert_eq!(back, items);
    }

    #[test]
    fn demographics_round_trip(item in strategies::demographics()) {
        let back: Demographics = json::from_single_json(json::to_single_json(&item).as_bytes()).unwrap();
        prop_assert_eq!(back, item);
    }

    #[test]
    fn reader_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = json::from_collection_json::<User>(&bytes);
        let _ = json::from_single_json::<Class>(&bytes);
        let _ = StatusInfo::from_json(&bytes);
    }

    #[test]
    fn reader_never_panics_on_json_like_text(text in r#"\{"(users|user)":[\[{]?\{("[a-zA-Z]{1,12}":("[^"]{0,12}"|true|[0-9]{1,3}|null|\[\]|\{\}),?){0,8}\}?[\]}]?\}?"#) {
        let _ = json::from_collection_json::<User>(text.as_bytes());
        let _ = json::from_single_json::<User>(text.as_bytes());
    }
}
