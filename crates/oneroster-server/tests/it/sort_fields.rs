//! `sort` + `orderBy`, `fields`, and the password.

use crate::support::*;
use axum::http::StatusCode;
use oneroster_model::User;
use oneroster_model::query::SortSpec;

#[tokio::test]
async fn sort_both_ways() {
    let app = TestApp::new(school_roster()).await;
    for (query, expected) in [
        ("sort=familyName", &["a-1", "s-2", "s-3", "p-1", "s-1", "t-1", "t-2"][..]),
        ("sort=familyName&orderBy=asc", &["a-1", "s-2", "s-3", "p-1", "s-1", "t-1", "t-2"]),
        ("sort=familyName&orderBy=desc", &["t-2", "t-1", "s-1", "p-1", "s-3", "s-2", "a-1"]),
        ("sort=dateLastModified", &["t-1", "t-2", "a-1", "p-1", "s-2", "s-1", "s-3"]),
        ("sort=dateLastModified&orderBy=DESC", &["s-3", "s-1", "s-2", "p-1", "a-1", "t-2", "t-1"]),
        ("orderBy=desc", &["t-2", "t-1", "s-3", "s-2", "s-1", "p-1", "a-1"]),
        ("sort=sourcedId&orderBy=desc", &["t-2", "t-1", "s-3", "s-2", "s-1", "p-1", "a-1"]),
        ("sort=middleName", &["a-1", "p-1", "s-1", "s-2", "s-3", "t-1", "t-2"]),
        ("sort=middleName&orderBy=desc", &["t-2", "t-1", "s-3", "s-2", "s-1", "p-1", "a-1"]),
        ("sort=status&orderBy=desc", &["s-3", "t-2", "t-1", "s-2", "s-1", "p-1", "a-1"]),
        ("sort=role&filter=status%3D%27active%27", &["a-1", "p-1", "s-1", "s-2", "t-1", "t-2"]),
    ] {
        let response = app.get(&format!("/users?{query}")).await;
        assert_eq!(response.status, StatusCode::OK, "{query}: {}", response.text());
        assert_eq!(response.ids("users"), expected, "{query}");
    }
    let page = app.get("/users?sort=familyName&limit=2&offset=2").await;
    assert_eq!(page.ids("users"), ["s-3", "p-1"]);
    assert_eq!(page.total(), 7);
    assert!(page.links()["next"].contains("sort=familyName&limit=2&offset=4"));
    let nested = app.get("/schools/school-1/teachers?sort=familyName&orderBy=desc").await;
    assert_eq!(nested.ids("users"), ["t-2", "t-1"]);
}

#[tokio::test]
async fn large_collections_sort_as_the_model_does() {
    let roster = generated_roster(4_000);
    let mut users = roster.users.clone();
    let app = TestApp::new(roster).await;
    for (sort, order) in [("familyName", "desc"), ("givenName", "asc"), ("dateLastModified", "desc"), ("status", "asc")]
    {
        SortSpec::<User>::parse(sort, Some(order)).unwrap().sort(&mut users);
        let expected: Vec<String> = users.iter().map(|u| u.base.sourced_id.clone()).collect();
        let pulled = app.pull_all(&format!("/users?sort={sort}&orderBy={order}"), "users", 1500).await;
        assert_eq!(pulled, expected, "{sort} {order}");
    }
}

#[tokio::test]
async fn bad_sorts_are_400_invaliddata() {
    let app = TestApp::new(school_roster()).await;
    for query in ["sort=shoeSize", "sort=password", "sort=familyName&orderBy=sideways", "orderBy=up"] {
        assert_imsx(&app.get(&format!("/users?{query}")).await, StatusCode::BAD_REQUEST, "invaliddata");
    }
}

#[tokio::test]
async fn fields_select_top_level_fields() {
    let app = TestApp::new(school_roster()).await;
    let response = app.get("/users?fields=givenName,sourcedId&limit=3").await;
    let json = response.json();
    assert_eq!(json.as_object().unwrap().len(), 1, "no warning: {json}");
    for record in json["users"].as_array().unwrap() {
        let mut keys: Vec<&str> = record.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["givenName", "sourcedId"]);
    }
    // Written in the catalogue's order, whatever the order asked.
    assert!(response.text().starts_with(r#"{"users":[{"sourcedId":"a-1","givenName":"Grace"}"#), "{}", response.text());

    let single = app.get("/users/s-1?fields=orgs,%20role").await.json();
    assert_eq!(single["user"]["role"], "student");
    assert_eq!(single["user"]["orgs"][0]["href"], format!("{BASE}/orgs/school-1"));
    assert_eq!(single["user"].as_object().unwrap().len(), 2);

    let repeated = app.get("/users?fields=sourcedId&fields=role&limit=1").await.json();
    assert_eq!(repeated["users"][0], serde_json::json!({"sourcedId": "a-1", "role": "administrator"}));

    let metadata = app.get("/users/s-2?fields=metadata").await.json();
    assert_eq!(metadata["user"], serde_json::json!({"metadata": {"house": "Heron"}}));
}

#[tokio::test]
async fn unknown_fields_are_ignored_with_a_warning() {
    let app = TestApp::new(school_roster()).await;
    let json = app.get("/users?fields=sourcedId,shoeSize&limit=1").await.json();
    assert_eq!(json["users"][0], serde_json::json!({"sourcedId": "a-1"}));
    let warning = &json["statusInfoSet"][0];
    assert_eq!(warning["imsx_codeMajor"], "success");
    assert_eq!(warning["imsx_severity"], "warning");
    assert_eq!(
        warning["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"],
        "invalid_selection_field"
    );
    assert!(warning["imsx_description"].as_str().unwrap().contains("shoeSize"));

    // Nothing known: every field.
    let json = app.get("/orgs/school-1?fields=shoeSize").await.json();
    assert_eq!(json["org"]["name"], "St Aidan's Primary");
    assert_eq!(json["statusInfoSet"][0]["imsx_severity"], "warning");
}

#[tokio::test]
async fn passwords_are_hidden_unless_turned_on() {
    let app = TestApp::new(school_roster()).await;
    for path in
        ["/users/s-1", "/users", "/students", "/classes/class-ma1/students", "/users/s-1?fields=password,sourcedId"]
    {
        let response = app.get(path).await;
        assert_eq!(response.status, StatusCode::OK);
        assert!(!response.text().contains("hunter2"), "{path}");
        assert!(!response.text().contains("password"), "{path}");
    }
    let json = app.get("/users/s-1").await.json();
    assert_eq!(json["user"]["grades"], serde_json::Value::Null);
    assert_eq!(json["user"]["sourcedId"], "s-1");

    let open = TestApp::with(school_roster(), config().serve_passwords(true)).await;
    assert_eq!(open.get("/users/s-1").await.json()["user"]["password"], "hunter2");
    assert_eq!(open.get("/users/s-1?fields=password").await.json()["user"], serde_json::json!({"password": "hunter2"}));
    assert!(open.get("/users/s-2").await.json()["user"].get("password").is_none());
}
