//! `filter`: every operator on typed fields, AND and OR, the SDS delta, and errors.

use crate::support::*;
use axum::http::StatusCode;
use oneroster_model::{RoleType, Status};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// A collection path with `filter` encoded as a browser would.
fn filtered(path: &str, filter: &str) -> String {
    format!("{path}?filter={}", utf8_percent_encode(filter, NON_ALPHANUMERIC))
}

async fn ids(app: &TestApp, path: &str, key: &str, filter: &str) -> Vec<String> {
    let response = app.get(&filtered(path, filter)).await;
    assert_eq!(response.status, StatusCode::OK, "{filter}: {}", response.text());
    let ids = response.ids(key);
    assert_eq!(response.total(), ids.len(), "{filter}");
    ids
}

#[tokio::test]
async fn date_time_fields_take_every_operator() {
    let app = TestApp::new(school_roster()).await;
    for (filter, expected) in [
        ("dateLastModified>'2025-08-01T10:00:00.000Z'", &["s-1", "s-3"][..]),
        ("dateLastModified>='2025-08-01T10:00:00.000Z'", &["s-1", "s-2", "s-3"]),
        ("dateLastModified<'2025-07-03T10:00:00.000Z'", &["t-1", "t-2"]),
        ("dateLastModified<='2025-07-03T10:00:00.000Z'", &["a-1", "t-1", "t-2"]),
        ("dateLastModified='2025-08-01T10:00:00.000Z'", &["s-2"]),
        ("dateLastModified!='2025-08-01T10:00:00.000Z'", &["a-1", "p-1", "s-1", "s-3", "t-1", "t-2"]),
        ("dateLastModified~'2025-09'", &["s-1", "s-3"]),
        // A date alone is midnight UTC; other offsets are converted.
        ("dateLastModified>'2025-09-01'", &["s-1", "s-3"]),
        ("dateLastModified>'2025-09-01T12:30:00+02:00'", &["s-3"]),
    ] {
        assert_eq!(ids(&app, "/users", "users", filter).await, expected, "{filter}");
    }
}

#[tokio::test]
async fn the_sds_delta_filter_works_as_sds_sends_it() {
    let app = TestApp::new(school_roster()).await;
    // `+` for spaces and percent escapes, as School Data Sync encodes it.
    let response = app
        .get("/users?offset=0&limit=5000&filter=status%3D%27active%27+AND+dateLastModified%3E%272025-08-15T00%3A00%3A00.000Z%27")
        .await;
    assert_eq!(response.ids("users"), ["s-1"]);
    // Unencoded quotes work too.
    let response = app.get("/enrollments?filter=dateLastModified%3E'2025-09-01T07:45:12.344Z'").await;
    assert_eq!(response.total(), 7);
    let response = app.get("/enrollments?filter=dateLastModified%3E'2025-09-01T07:45:12.345Z'").await;
    assert_eq!(response.total(), 0);
    assert_eq!(response.text(), r#"{"enrollments":[]}"#);
}

#[tokio::test]
async fn date_fields_compare_as_dates() {
    let app = TestApp::new(school_roster()).await;
    for (path, key, filter, expected) in [
        ("/demographics", "demographics", "birthDate<'2013-01-01'", &["s-2"][..]),
        ("/demographics", "demographics", "birthDate>='2013-04-17'", &["s-1"]),
        ("/academicSessions", "academicSessions", "startDate>'2025-09-03'", &["gp-2", "term-2"]),
        ("/academicSessions", "academicSessions", "startDate='2025-09-03'", &["gp-1", "sem-1", "term-1"]),
        ("/academicSessions", "academicSessions", "endDate<='2025-12-19'", &["gp-1", "gp-2", "term-1"]),
        ("/academicSessions", "academicSessions", "endDate!='2025-12-19'", &["gp-1", "sem-1", "term-2", "year-2026"]),
        (
            "/enrollments",
            "enrollments",
            "beginDate='2025-09-03T00:00:00Z'",
            &["e-1", "e-2", "e-3", "e-4", "e-5", "e-6", "e-7"],
        ),
    ] {
        assert_eq!(ids(&app, path, key, filter).await, expected, "{filter}");
    }
}

#[tokio::test]
async fn enum_fields_compare_by_their_spelling_in_any_case() {
    let app = TestApp::new(school_roster()).await;
    for (filter, expected) in [
        ("role='student'", &["s-1", "s-2", "s-3"][..]),
        ("role='Student'", &["s-1", "s-2", "s-3"]),
        ("role!='student'", &["a-1", "p-1", "t-1", "t-2"]),
        ("role>'relative'", &["s-1", "s-2", "s-3", "t-1", "t-2"]),
        ("status='tobedeleted'", &["s-3"]),
        ("status='active'", &["a-1", "p-1", "s-1", "s-2", "t-1", "t-2"]),
    ] {
        assert_eq!(ids(&app, "/users", "users", filter).await, expected, "{filter}");
    }
    assert_eq!(ids(&app, "/orgs", "orgs", "type='district'").await, ["district-1"]);
    assert_eq!(ids(&app, "/classes", "classes", "classType='homeroom'").await, ["class-hr"]);
    assert_eq!(ids(&app, "/demographics", "demographics", "sex='female'").await, ["s-1"]);
}

#[tokio::test]
async fn text_fields_compare_case_sensitively_and_contain_ignoring_case() {
    let app = TestApp::new(school_roster()).await;
    for (filter, expected) in [
        ("familyName='Okafor'", &["p-1", "s-1"][..]),
        ("familyName='okafor'", &[]),
        ("familyName~'OKA'", &["p-1", "s-1"]),
        ("givenName>'M'", &["p-1", "s-3", "t-1"]),
        ("givenName<='Alan'", &["s-1", "t-2"]),
        ("familyName='O''Brien'", &["s-3"]),
        ("givenName~'zo'", &["s-3"]),
        ("email~'@school.example'", &["a-1", "p-1", "s-1", "s-2", "s-3", "t-1", "t-2"]),
        ("middleName='x'", &[]),
        ("middleName!='x'", &["a-1", "p-1", "s-1", "s-2", "s-3", "t-1", "t-2"]),
    ] {
        assert_eq!(ids(&app, "/users", "users", filter).await, expected, "{filter}");
    }
}

#[tokio::test]
async fn boolean_fields_read_true_and_false_in_any_case() {
    let app = TestApp::new(school_roster()).await;
    assert_eq!(ids(&app, "/users", "users", "enabledUser='false'").await, ["s-2"]);
    assert_eq!(ids(&app, "/users", "users", "enabledUser='TRUE'").await.len(), 6);
    assert_eq!(ids(&app, "/enrollments", "enrollments", "primary='true'").await, ["e-3", "e-5"]);
    assert_eq!(ids(&app, "/enrollments", "enrollments", "primary!='true'").await, ["e-1", "e-2", "e-4", "e-6", "e-7"]);
    assert_eq!(ids(&app, "/demographics", "demographics", "white='true'").await, ["s-2"]);
}

#[tokio::test]
async fn references_lists_and_metadata_can_be_filtered() {
    let app = TestApp::new(school_roster()).await;
    assert_eq!(ids(&app, "/enrollments", "enrollments", "school.sourcedId='school-2'").await, ["e-6", "e-7"]);
    assert_eq!(ids(&app, "/enrollments", "enrollments", "user='t-1'").await, ["e-3", "e-5"]);
    assert_eq!(ids(&app, "/users", "users", "orgs.sourcedId='school-2'").await, ["s-3", "t-2"]);
    assert_eq!(ids(&app, "/classes", "classes", "terms='term-2'").await, ["class-en1", "class-sc1"]);
    assert_eq!(ids(&app, "/classes", "classes", "grades='08'").await.len(), 4);
    assert_eq!(ids(&app, "/users", "users", "metadata.house='Kestrel'").await, ["s-1"]);
    assert_eq!(ids(&app, "/users", "users", "userIds.identifier='T-2'").await, ["t-2"]);
    assert_eq!(ids(&app, "/users", "users", "sourcedId>='s-2'").await, ["s-2", "s-3", "t-1", "t-2"]);
}

#[tokio::test]
async fn and_and_or_join_two_predicates() {
    let app = TestApp::new(school_roster()).await;
    for (filter, expected) in [
        ("role='student' AND status='active'", &["s-1", "s-2"][..]),
        ("role='student' and enabledUser='true'", &["s-1", "s-3"]),
        ("familyName='Turing' OR givenName='Grace'", &["a-1", "t-2"]),
        ("status='tobedeleted' OR dateLastModified<'2025-07-02T00:00:00.000Z'", &["s-3", "t-1"]),
        ("role='teacher' AND role='student'", &[]),
    ] {
        assert_eq!(ids(&app, "/users", "users", filter).await, expected, "{filter}");
    }
}

#[tokio::test]
async fn filters_apply_to_nested_endpoints() {
    let app = TestApp::new(school_roster()).await;
    assert_eq!(ids(&app, "/schools/school-1/students", "users", "enabledUser='false'").await, ["s-2"]);
    assert_eq!(ids(&app, "/classes/class-ma1/students", "users", "dateLastModified>'2025-08-15'").await, ["s-1"]);
    assert_eq!(ids(&app, "/terms", "academicSessions", "title~'term-2'").await, ["term-2"]);
}

#[tokio::test]
async fn invalid_filters_are_400_invalid_filter_field() {
    let app = TestApp::new(school_roster()).await;
    for filter in [
        "shoeSize='9'",
        "password='hunter2'",
        "dateLastModified>'yesterday'",
        "enabledUser='maybe'",
        "role=student",
        "role='student' AND",
        "a='1' AND b='2' AND c='3'",
        "role='student' XOR status='active'",
    ] {
        let response = app.get(&filtered("/users", filter)).await;
        assert_imsx(&response, StatusCode::BAD_REQUEST, "invalid_filter_field");
        assert!(!response.status_info().description.unwrap().is_empty());
    }
    // The message names the field.
    let response = app.get(&filtered("/users", "shoeSize='9'")).await;
    assert!(response.status_info().description.unwrap().contains("shoeSize"));
    // A field of another entity is unknown here.
    assert_imsx(&app.get(&filtered("/orgs", "givenName='Ada'")).await, StatusCode::BAD_REQUEST, "invalid_filter_field");
    // Bad percent-encoding too.
    assert_imsx(&app.get("/users?filter=role%3D%27%FF%27").await, StatusCode::BAD_REQUEST, "invalid_filter_field");
}

#[tokio::test]
async fn unknown_parameters_are_ignored() {
    let app = TestApp::new(school_roster()).await;
    let response = app.get("/users?shoeSize=9&continuationToken=x&limit=2&limit=5&=&&x").await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.ids("users"), ["a-1", "p-1"]);
    let blank = app.get("/users?filter=").await;
    assert_eq!(blank.total(), 7);
}

#[tokio::test]
async fn large_collections_filter_as_small_ones_do() {
    let roster = generated_roster(5_000);
    let expected_active: Vec<String> =
        roster.users.iter().filter(|u| u.base.status == Status::Active).map(|u| u.base.sourced_id.clone()).collect();
    let expected_teachers: Vec<String> =
        roster.users.iter().filter(|u| u.role == RoleType::Teacher).map(|u| u.base.sourced_id.clone()).collect();
    let expected_may: Vec<String> = roster
        .users
        .iter()
        .filter(|u| u.base.date_last_modified.unwrap() >= at("2025-05-01T00:00:00Z") && u.base.status == Status::Active)
        .map(|u| u.base.sourced_id.clone())
        .collect();
    let app = TestApp::new(roster).await;
    // Column path, decoding path, and both at once; the second request of each is served from the cache.
    for _ in 0..2 {
        assert_eq!(app.pull_all(&filtered("/users", "status='active'"), "users", 10_000).await, expected_active);
        assert_eq!(app.pull_all(&filtered("/users", "role='teacher'"), "users", 10_000).await, expected_teachers);
        assert_eq!(
            app.pull_all(&filtered("/users", "dateLastModified>='2025-05-01' AND status='active'"), "users", 10_000)
                .await,
            expected_may
        );
    }
    assert_eq!(ids(&app, "/users", "users", "sourcedId='u-04321'").await, ["u-04321"]);
    assert_eq!(ids(&app, "/users", "users", "familyName='Family4321'").await, ["u-04321"]);
}
