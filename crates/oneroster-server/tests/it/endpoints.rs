//! Every endpoint answers the right wrapper and records.

use crate::support::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use oneroster_model::{RoleType, Roster};
use oneroster_server::{ServerConfig, endpoint_paths};

/// `(path, wrapper key, sourcedIds in order)` for every collection endpoint over [`school_roster`].
const COLLECTIONS: &[(&str, &str, &[&str])] = &[
    ("/academicSessions", "academicSessions", &["gp-1", "gp-2", "sem-1", "term-1", "term-2", "year-2026"]),
    ("/gradingPeriods", "academicSessions", &["gp-1", "gp-2"]),
    ("/terms", "academicSessions", &["term-1", "term-2"]),
    ("/terms/term-1/classes", "classes", &["class-en1", "class-ma1"]),
    ("/terms/term-2/classes", "classes", &["class-en1", "class-sc1"]),
    ("/terms/term-1/gradingPeriods", "academicSessions", &["gp-1", "gp-2"]),
    ("/terms/term-2/gradingPeriods", "academicSessions", &[]),
    ("/classes", "classes", &["class-en1", "class-hr", "class-ma1", "class-sc1"]),
    ("/classes/class-ma1/students", "users", &["s-1", "s-2"]),
    ("/classes/class-ma1/teachers", "users", &["t-1"]),
    ("/courses", "courses", &["course-en", "course-ma", "course-sc"]),
    ("/courses/course-en/classes", "classes", &["class-en1", "class-hr"]),
    ("/demographics", "demographics", &["s-1", "s-2"]),
    ("/enrollments", "enrollments", &["e-1", "e-2", "e-3", "e-4", "e-5", "e-6", "e-7"]),
    ("/orgs", "orgs", &["dept-1", "district-1", "school-1", "school-2"]),
    ("/schools", "orgs", &["school-1", "school-2"]),
    ("/schools/school-1/classes", "classes", &["class-en1", "class-hr", "class-ma1"]),
    ("/schools/school-1/enrollments", "enrollments", &["e-1", "e-2", "e-3", "e-4", "e-5"]),
    ("/schools/school-1/students", "users", &["s-1", "s-2"]),
    ("/schools/school-1/teachers", "users", &["t-1", "t-2"]),
    ("/schools/school-2/teachers", "users", &["t-2"]),
    ("/schools/school-1/terms", "academicSessions", &["sem-1", "term-1", "term-2"]),
    ("/schools/school-2/terms", "academicSessions", &["term-2"]),
    ("/schools/school-1/courses", "courses", &["course-en", "course-ma"]),
    ("/schools/school-1/classes/class-ma1/enrollments", "enrollments", &["e-1", "e-2", "e-3"]),
    ("/schools/school-1/classes/class-ma1/students", "users", &["s-1", "s-2"]),
    ("/schools/school-1/classes/class-ma1/teachers", "users", &["t-1"]),
    ("/schools/school-2/classes/class-ma1/enrollments", "enrollments", &[]),
    ("/schools/school-2/classes/class-sc1/students", "users", &["s-3"]),
    ("/schools/school-2/classes/class-sc1/teachers", "users", &["t-2"]),
    ("/students", "users", &["s-1", "s-2", "s-3"]),
    ("/students/s-1/classes", "classes", &["class-en1", "class-ma1"]),
    ("/teachers", "users", &["t-1", "t-2"]),
    ("/teachers/t-1/classes", "classes", &["class-en1", "class-ma1"]),
    ("/users", "users", &["a-1", "p-1", "s-1", "s-2", "s-3", "t-1", "t-2"]),
    ("/users/s-1/classes", "classes", &["class-en1", "class-ma1"]),
    ("/users/t-2/classes", "classes", &["class-sc1"]),
];

/// `(path, wrapper key, sourcedId)` for every single-record endpoint.
const SINGLES: &[(&str, &str, &str)] = &[
    ("/academicSessions/year-2026", "academicSession", "year-2026"),
    ("/gradingPeriods/gp-2", "academicSession", "gp-2"),
    ("/terms/term-2", "academicSession", "term-2"),
    ("/classes/class-hr", "class", "class-hr"),
    ("/courses/course-sc", "course", "course-sc"),
    ("/demographics/s-2", "demographics", "s-2"),
    ("/enrollments/e-3", "enrollment", "e-3"),
    ("/orgs/dept-1", "org", "dept-1"),
    ("/schools/school-2", "org", "school-2"),
    ("/students/s-3", "user", "s-3"),
    ("/teachers/t-2", "user", "t-2"),
    ("/users/p-1", "user", "p-1"),
];

/// The route pattern a concrete path exercises, e.g. `/schools/{id}/classes` for `/schools/school-1/classes`.
fn pattern(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    segments
        .iter()
        .enumerate()
        .map(|(i, s)| match i {
            2 => "{id}",
            4 if segments.get(3) == Some(&"classes") && segments.len() == 6 => "{class}",
            _ => s,
        })
        .collect::<Vec<_>>()
        .join("/")
        .replace("/schools/{id}/classes/{class}", "/schools/{school}/classes/{class}")
}

#[test]
fn the_tables_cover_every_endpoint() {
    let tested: std::collections::BTreeSet<String> =
        COLLECTIONS.iter().map(|c| pattern(c.0)).chain(SINGLES.iter().map(|s| pattern(s.0))).collect();
    let paths = endpoint_paths();
    assert_eq!(paths.len(), 41);
    for path in paths {
        assert!(tested.contains(path), "no test calls {path}; tested: {tested:?}");
    }
}

#[tokio::test]
async fn every_collection_answers_its_wrapper_and_records() {
    let app = TestApp::new(school_roster()).await;
    for (path, key, expected) in COLLECTIONS {
        let response = app.get(path).await;
        assert_eq!(response.status, StatusCode::OK, "{path}: {}", response.text());
        assert_eq!(response.header("content-type"), "application/json", "{path}");
        let json = response.json();
        assert_eq!(json.as_object().unwrap().len(), 1, "{path}: only the wrapper: {json}");
        assert_eq!(response.ids(key), *expected, "{path}");
        assert_eq!(response.total(), expected.len(), "{path}");
        assert!(response.links().contains_key("first"), "{path}");
    }
}

#[tokio::test]
async fn every_single_endpoint_answers_its_wrapper() {
    let app = TestApp::new(school_roster()).await;
    for (path, key, id) in SINGLES {
        let response = app.get(path).await;
        assert_eq!(response.status, StatusCode::OK, "{path}: {}", response.text());
        let json = response.json();
        assert_eq!(json.as_object().unwrap().len(), 1, "{path}: {json}");
        assert_eq!(json[key]["sourcedId"], *id, "{path}: {json}");
        assert!(response.headers.get("x-total-count").is_none());
    }
}

#[tokio::test]
async fn single_records_of_unknown_ids_or_the_wrong_subtype_are_404_unknownobject() {
    let app = TestApp::new(school_roster()).await;
    for path in [
        "/users/nobody",
        "/orgs/nowhere",
        "/classes/x",
        "/courses/x",
        "/enrollments/x",
        "/demographics/t-1",
        "/academicSessions/x",
        "/schools/district-1",
        "/terms/gp-1",
        "/gradingPeriods/term-1",
        "/students/t-1",
        "/teachers/s-1",
    ] {
        let response = app.get(path).await;
        assert_imsx(&response, StatusCode::NOT_FOUND, "unknownobject");
    }
    let response = app.get("/students/t-1").await;
    assert!(response.status_info().description.unwrap().contains("student"));
}

#[tokio::test]
async fn an_unknown_parent_answers_200_with_an_empty_array() {
    let app = TestApp::new(school_roster()).await;
    for (path, key) in [
        ("/schools/nowhere/classes", "classes"),
        ("/schools/nowhere/students", "users"),
        ("/schools/nowhere/classes/class-ma1/students", "users"),
        ("/schools/school-1/classes/nothing/enrollments", "enrollments"),
        ("/classes/nothing/students", "users"),
        ("/terms/never/classes", "classes"),
        ("/courses/none/classes", "classes"),
        ("/users/nobody/classes", "classes"),
        ("/students/nobody/classes", "classes"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status, StatusCode::OK, "{path}");
        assert_eq!(response.ids(key), Vec::<String>::new(), "{path}");
        assert_eq!(response.total(), 0, "{path}");
    }
}

#[tokio::test]
async fn hrefs_point_under_the_public_base_url_and_children_are_linked() {
    let app = TestApp::new(school_roster()).await;
    let user = app.get("/users/s-1").await.json();
    assert_eq!(user["user"]["orgs"][0]["href"], format!("{BASE}/orgs/school-1"));
    assert_eq!(user["user"]["orgs"][0]["type"], "org");
    assert_eq!(user["user"]["agents"][0]["href"], format!("{BASE}/users/p-1"));
    assert_eq!(user["user"]["dateLastModified"], "2025-09-01T10:00:00.000Z");
    assert_eq!(user["user"]["enabledUser"], "true");

    let district = app.get("/orgs/district-1").await.json();
    let children: Vec<&str> =
        district["org"]["children"].as_array().unwrap().iter().map(|c| c["sourcedId"].as_str().unwrap()).collect();
    assert_eq!(children, ["school-1", "school-2"]);
    assert_eq!(district["org"]["children"][1]["href"], format!("{BASE}/orgs/school-2"));

    let term = app.get("/terms/term-1").await.json();
    assert_eq!(term["academicSession"]["parent"]["href"], format!("{BASE}/academicSessions/year-2026"));
    assert_eq!(term["academicSession"]["children"].as_array().unwrap().len(), 2);

    let enrollment = app.get("/enrollments/e-3").await.json();
    assert_eq!(enrollment["enrollment"]["class"]["href"], format!("{BASE}/classes/class-ma1"));
    assert_eq!(enrollment["enrollment"]["primary"], "true");
    assert_eq!(enrollment["enrollment"]["dateLastModified"], "2025-09-01T07:45:12.345Z");

    // Every dateLastModified of every collection has milliseconds and a Z.
    for path in ["/orgs", "/academicSessions", "/courses", "/classes", "/users", "/enrollments", "/demographics"] {
        let json = app.get(path).await.json();
        for record in json.as_object().unwrap().values().next().unwrap().as_array().unwrap() {
            let modified = record["dateLastModified"].as_str().unwrap();
            assert_eq!(modified.len(), 24, "{modified}");
            assert!(modified.ends_with('Z') && modified.as_bytes()[19] == b'.', "{modified}");
        }
    }
}

#[tokio::test]
async fn ids_that_need_encoding_are_served_and_linked() {
    let mut roster = school_roster();
    roster.users.push(user("x y/z\"q", RoleType::Student, "Odd", "Id", &["school 1/é"], "2025-07-01T00:00:00.000Z"));
    let app = TestApp::new(roster).await;
    let response = app.get("/users/x%20y%2Fz%22q").await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let json = response.json();
    assert_eq!(json["user"]["sourcedId"], "x y/z\"q");
    assert_eq!(json["user"]["orgs"][0]["href"], format!("{BASE}/orgs/school%201%2F%C3%A9"));
    assert!(app.get("/students").await.ids("users").contains(&"x y/z\"q".to_owned()));
}

#[tokio::test]
async fn without_a_public_base_url_hrefs_follow_the_host_header() {
    let app = TestApp::with(school_roster(), ServerConfig::default()).await;
    let request = |host: &str| {
        Request::get("/ims/oneroster/v1p1/users/s-1")
            .header("host", host)
            .header("authorization", format!("Bearer {}", app.token))
            .body(Body::empty())
            .unwrap()
    };
    let json = send(&app.router, request("Feed.Local:8443")).await.json();
    assert_eq!(json["user"]["orgs"][0]["href"], "https://feed.local:8443/ims/oneroster/v1p1/orgs/school-1");
    let json = send(&app.router, request("feed.local:443")).await.json();
    assert_eq!(json["user"]["orgs"][0]["href"], "https://feed.local/ims/oneroster/v1p1/orgs/school-1");
    // A Host header that could break out of the JSON or the Link header is not used.
    let json = send(&app.router, request("evil\"host")).await.json();
    assert_eq!(json["user"]["orgs"][0]["href"], "https://localhost/ims/oneroster/v1p1/orgs/school-1");
}

#[tokio::test]
async fn the_st_aidans_csv_set_is_served() {
    let app = TestApp::new(st_aidans()).await;
    let users = app.get("/users").await;
    assert_eq!(users.total(), 4);
    let json = users.json();
    let first = &json["users"][0];
    assert!(first["orgs"][0]["href"].as_str().unwrap().starts_with(&format!("{BASE}/orgs/")));
    let schools = app.get("/schools").await;
    assert_eq!(schools.ids("orgs"), ["school-1"]);
    assert_eq!(app.get("/classes/class-7ma1/students").await.total(), 2);
    let district = app.get("/orgs/district-1").await.json();
    assert_eq!(district["org"]["children"][0]["sourcedId"], "school-1");
}

#[tokio::test]
async fn unknown_paths_are_404_with_an_imsx_body() {
    let app = TestApp::new(Roster::default()).await;
    for path in ["/lineItems", "/users/u/results", "/nothing"] {
        assert_imsx(&app.get(path).await, StatusCode::NOT_FOUND, "unknownobject");
    }
    let response = send(&app.router, Request::get("/elsewhere").body(Body::empty()).unwrap()).await;
    assert_imsx(&response, StatusCode::NOT_FOUND, "unknownobject");
}

#[tokio::test]
async fn an_empty_snapshot_serves_empty_collections() {
    let app = TestApp::new(Roster::default()).await;
    let response = app.get("/users?limit=5").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.text(), r#"{"users":[]}"#);
    assert_eq!(response.total(), 0);
}
