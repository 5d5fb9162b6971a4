//! limit, offset, X-Total-Count and Link.

use crate::support::*;
use axum::http::StatusCode;

#[tokio::test]
async fn limit_one_walks_every_record_in_order() {
    let app = TestApp::new(school_roster()).await;
    let ids = app.pull_all("/users", "users", 1).await;
    assert_eq!(ids, ["a-1", "p-1", "s-1", "s-2", "s-3", "t-1", "t-2"]);
    let first = app.get("/users?limit=1").await;
    assert_eq!(first.ids("users"), ["a-1"]);
    assert_eq!(first.total(), 7);
}

#[tokio::test]
async fn offset_past_the_end_answers_an_empty_array_with_the_total() {
    let app = TestApp::new(school_roster()).await;
    for query in ["?offset=7", "?offset=1000&limit=5", "?offset=99999999999999999999999"] {
        let response = app.get(&format!("/users{query}")).await;
        assert_eq!(response.status, StatusCode::OK, "{query}: {}", response.text());
        assert_eq!(response.ids("users"), Vec::<String>::new(), "{query}");
        assert_eq!(response.total(), 7, "{query}");
        assert!(!response.links().contains_key("next"), "{query}");
    }
}

#[tokio::test]
async fn limit_10000_and_the_default_of_100() {
    let app = TestApp::new(generated_roster(12_345)).await;
    let page = app.get("/users?limit=10000").await;
    assert_eq!(page.ids("users").len(), 10_000);
    assert_eq!(page.total(), 12_345);
    let next = app.get("/users?limit=10000&offset=10000").await;
    assert_eq!(next.ids("users").len(), 2_345);
    assert_eq!(next.ids("users")[0], "u-10000");

    let default = app.get("/users").await;
    assert_eq!(default.ids("users").len(), 100);
    // Above the maximum, the maximum is served, and the links say so.
    let capped = app.get("/users?limit=50000").await;
    assert_eq!(capped.ids("users").len(), 10_000);
    assert!(capped.links()["next"].contains("limit=10000&offset=10000"));

    // A full pull with limit=5000 sees every user once.
    let all = app.pull_all("/users", "users", 5000).await;
    assert_eq!(all.len(), 12_345);
    assert!(all.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn the_max_limit_is_configurable() {
    let app = TestApp::with(school_roster(), config().max_limit(2)).await;
    assert_eq!(app.get("/users?limit=5").await.ids("users").len(), 2);
    assert_eq!(app.get("/users").await.ids("users").len(), 2);
    let app = TestApp::with(school_roster(), config().default_limit(3)).await;
    assert_eq!(app.get("/users").await.ids("users").len(), 3);
}

#[tokio::test]
async fn bad_limits_and_offsets_are_400_invaliddata() {
    let app = TestApp::new(school_roster()).await;
    for query in ["limit=-1", "limit=ten", "limit=0", "offset=-5", "offset=1.5", "limit=1e3", "limit=%FF"] {
        let response = app.get(&format!("/users?{query}")).await;
        assert_imsx(&response, StatusCode::BAD_REQUEST, "invaliddata");
        let description = response.status_info().description.unwrap();
        assert!(description.contains("limit") || description.contains("offset"), "{query}: {description}");
    }
    // Blank values mean the default.
    assert_eq!(app.get("/users?limit=&offset=").await.ids("users").len(), 7);
}

#[tokio::test]
async fn link_headers_name_next_last_prev_first_and_keep_other_parameters() {
    let app = TestApp::new(generated_roster(25)).await;
    let response = app.get("/users?filter=status%3D%27active%27&limit=5&offset=5&shoe=9").await;
    assert_eq!(response.total(), 20);
    let links = response.links();
    let base = format!("{BASE}/users?filter=status%3D%27active%27&shoe=9&");
    assert_eq!(links["next"], format!("{base}limit=5&offset=10"));
    assert_eq!(links["prev"], format!("{base}limit=5&offset=0"));
    assert_eq!(links["first"], format!("{base}limit=5&offset=0"));
    assert_eq!(links["last"], format!("{base}limit=5&offset=15"));
    assert_eq!(
        response.header("link").split(", ").map(|l| l.rsplit('"').nth(1).unwrap()).collect::<Vec<_>>(),
        ["next", "last", "prev", "first"]
    );

    let last = app.get("/users?filter=status%3D%27active%27&limit=5&offset=15").await;
    assert!(!last.links().contains_key("next"));
    let first = app.get("/users?limit=5").await;
    assert!(!first.links().contains_key("prev"));
    assert_eq!(first.links()["last"], format!("{BASE}/users?limit=5&offset=20"));

    // Nested endpoints link to themselves.
    let nested = app.get("/schools/school-1/students?limit=2").await;
    assert_eq!(nested.links()["next"], format!("{BASE}/schools/school-1/students?limit=2&offset=2"));

    let empty = app.get("/users?filter=status%3D%27nope%27").await;
    assert_eq!(empty.total(), 0);
    assert_eq!(empty.links().len(), 2);
}

#[tokio::test]
async fn pages_of_a_filtered_large_collection_are_consistent() {
    // Large enough for the cached path; the pages of a filtered pull equal the filter over the whole collection.
    let app = TestApp::new(generated_roster(9_000)).await;
    let all = app.pull_all("/users?filter=status='active'", "users", 1000).await;
    assert_eq!(all.len(), 9_000 - 9_000 / 5);
    assert!(all.windows(2).all(|w| w[0] < w[1]));
    let small = app.pull_all("/students?filter=status='active'", "users", 700).await;
    assert_eq!(small.len(), (0..9_000).filter(|i| i % 3 != 0 && i % 5 != 0).count());
}
