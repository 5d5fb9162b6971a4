//! Paging by `meta.pagination.next`, includes, and decode errors that name the JSON path.

use crate::common::{self, TOKEN, student_json};
use futures::TryStreamExt;
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};
use wonde_client::{ListQuery, WondeError};

fn page(data: Vec<serde_json::Value>, next: Option<String>, current: u32) -> serde_json::Value {
    json!({
        "data": data,
        "meta": {"pagination": {"next": next, "previous": null, "more": next.is_some(), "per_page": 2,
            "current_page": current}, "includes": ["contact_details", "year"]}
    })
}

#[tokio::test]
async fn follows_next_exactly_as_given_with_the_bearer_token_and_includes() {
    let server = common::server().await;
    let uri = server.uri();
    // The next link carries an opaque cursor the client must not rebuild.
    Mock::given(path("/v1.0/schools/A1930499544/students"))
        .and(query_param("cursor", "opaque-xyz"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(vec![student_json(3)], None, 2)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/schools/A1930499544/students"))
        .and(query_param("include", "contact_details,year"))
        .and(query_param("per_page", "2"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            vec![student_json(1), student_json(2)],
            Some(format!("{uri}/v1.0/schools/A1930499544/students?cursor=opaque-xyz&per_page=2")),
            1,
        )))
        .with_priority(10)
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let query = ListQuery::new().include(["contact_details", "year"]).per_page(2);
    let students: Vec<_> = client.students("A1930499544", &query).try_collect().await.unwrap();
    assert_eq!(students.len(), 3);
    assert_eq!(students[2].upi(), Some("upi00000000000000000000000000003"));
    assert_eq!(students[0].email(), Some("lizzy1@school.example"));
    assert_eq!(students[0].year_group().and_then(|y| y.code.as_deref()), Some("7"));
    assert_eq!(students[0].given_name(), "Lizzy");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed() {
    let server = common::server().await;
    Mock::given(path("/v1.0/schools/A1/employees"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            vec![],
            Some("https://elsewhere.example/v1.0/schools/A1/employees?page=2".into()),
            1,
        )))
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let err = client.employees("A1", &ListQuery::new()).try_collect::<Vec<_>>().await.unwrap_err();
    assert!(matches!(&err, WondeError::InvalidInput(m) if m.contains("elsewhere.example")), "{err}");
}

#[tokio::test]
async fn a_record_of_the_wrong_shape_names_its_json_path() {
    let server = common::server().await;
    let mut bad = student_json(2);
    bad["upi"] = json!(["not", "a", "string"]);
    Mock::given(path("/v1.0/schools/A1/students"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(vec![student_json(1), bad], None, 1)))
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let err = client.students("A1", &ListQuery::new()).try_collect::<Vec<_>>().await.unwrap_err();
    match err {
        WondeError::Decode { path, json_path, .. } => {
            assert_eq!(path, "/v1.0/schools/A1/students");
            assert_eq!(json_path, "data[1].upi");
        }
        other => panic!("expected a decode error, got {other}"),
    }
}

#[tokio::test]
async fn a_page_that_links_to_itself_stops_with_an_error_instead_of_looping() {
    let server = common::server().await;
    let uri = server.uri();
    Mock::given(path("/v1.0/schools/A1/groups"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            vec![json!({"id": "G1", "name": "7A", "type": "REGISTRATION"})],
            Some(format!("{uri}/v1.0/schools/A1/groups?per_page=200")),
            1,
        )))
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let err = client.groups("A1", &ListQuery::new()).try_collect::<Vec<_>>().await.unwrap_err();
    assert!(err.to_string().contains("instead of looping"), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}
