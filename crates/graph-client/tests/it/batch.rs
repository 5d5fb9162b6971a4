//! $batch: per-item status, 424 dependents, per-item 429 retried, groups by id, the 20-request limit.

use crate::common;
use graph_client::{BatchRequest, GraphError};
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, Request, ResponseTemplate};

fn group(id: &str) -> serde_json::Value {
    json!({"id": id, "displayName": format!("Group {id}"), "mailEnabled": false, "securityEnabled": true, "groupTypes": []})
}

fn ids_in(request: &Request) -> Vec<String> {
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    body["requests"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn groups_by_id_returns_one_answer_per_id_and_isolates_failures() {
    let server = common::server().await;
    // Graph v1.0 "JSON batching": responses carry id/status/headers/body and may come in any order.
    Mock::given(method("POST"))
        .and(path("/v1.0/$batch"))
        .and(body_partial_json(json!({"requests": [{"id": "0", "method": "GET"}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "responses": [
                {"id": "1", "status": 404, "headers": {"Content-Type": "application/json"},
                 "body": {"error": {"code": "Request_ResourceNotFound", "message": "Resource 'missing' does not exist."}}},
                {"id": "0", "status": 200, "headers": {"Content-Type": "application/json"}, "body": group("a")},
                {"id": "2", "status": 200, "body": group("c")}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let ids = vec!["a".to_owned(), "missing".to_owned(), "c".to_owned()];
    let results = client.groups_by_id(&ids).await.unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap().id, "a");
    assert!(results[1].as_ref().unwrap_err().is_not_found());
    assert_eq!(results[2].as_ref().unwrap().id, "c");
    let sent = server.received_requests().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(
        body["requests"][1]["url"],
        format!("/groups/missing?%24select={}", graph_client::models::GROUP_SELECT.replace(',', "%2C"))
    );
}

#[tokio::test]
async fn throttled_items_are_retried_alone_after_their_retry_after() {
    let server = common::server().await;
    // First batch: item 1 throttled with its own Retry-After (Graph v1.0 "JSON batching": "Throttling and
    // dependencies"), item 2 depends on it (424).
    Mock::given(path("/v1.0/$batch"))
        .and(|r: &Request| ids_in(r).len() == 3)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "responses": [
                {"id": "0", "status": 200, "body": group("a")},
                {"id": "1", "status": 429, "headers": {"Retry-After": "4"},
                 "body": {"error": {"code": "TooManyRequests", "message": "Too many requests"}}},
                {"id": "2", "status": 424, "body": {"error": {"code": "FailedDependency", "message": "dependency failed"}}}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/$batch"))
        .and(|r: &Request| ids_in(r) == ["1", "2"])
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "responses": [{"id": "1", "status": 200, "body": group("b")}, {"id": "2", "status": 200, "body": group("c")}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (client, waits) = common::client(&server);
    let mut second = BatchRequest::get("2", "/groups/c");
    second.depends_on = vec!["1".into()];
    let requests = vec![BatchRequest::get("0", "/groups/a"), BatchRequest::get("1", "/groups/b"), second];
    let answers = client.batch(&requests).await.unwrap();
    assert_eq!(answers.iter().map(|a| a.status).collect::<Vec<_>>(), [200, 200, 200]);
    assert_eq!(*waits.lock().unwrap(), vec![Duration::from_secs(4)]);
}

#[tokio::test]
async fn item_failures_that_are_not_transient_are_returned_not_retried() {
    let server = common::server().await;
    Mock::given(path("/v1.0/$batch"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "responses": [{"id": "0", "status": 403, "body": {"error": {"code": "Authorization_RequestDenied", "message": "no"}}}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let answers = client.batch(&[BatchRequest::get("0", "/groups/a")]).await.unwrap();
    let err = answers[0].clone().into_result::<serde_json::Value>().unwrap_err();
    assert!(err.is_forbidden());
}

#[tokio::test]
async fn more_than_twenty_requests_are_refused_before_sending() {
    let server = common::server().await;
    let (client, _) = common::client(&server);
    let requests: Vec<_> = (0..21).map(|i| BatchRequest::get(i.to_string(), "/groups/x")).collect();
    assert!(matches!(client.batch(&requests).await, Err(GraphError::InvalidInput(_))));
    assert!(server.received_requests().await.unwrap().is_empty());
}
