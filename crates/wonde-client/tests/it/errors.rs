//! Errors, retries and secrecy: 429 with Retry-After on a next page, 503 then success, 401 and 403 classified,
//! the token never shown.

use crate::common::{self, TOKEN, student_json};
use futures::TryStreamExt;
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{path, query_param};
use wiremock::{Mock, ResponseTemplate};
use wonde_client::{ListQuery, Region, WondeClient};

#[tokio::test]
async fn a_429_on_a_next_page_waits_retry_after_then_continues() {
    let server = common::server().await;
    let uri = server.uri();
    let next = format!("{uri}/v1.0/schools/A1/students?page=2&per_page=200");
    Mock::given(path("/v1.0/schools/A1/students"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "7")
                .set_body_json(json!({"error": "too_many_requests"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/schools/A1/students"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [student_json(2)], "meta": {"pagination": {"next": null}}})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/schools/A1/students"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [student_json(1)], "meta": {"pagination": {"next": next}}})),
        )
        .with_priority(10)
        .mount(&server)
        .await;
    let (client, waits) = common::client(&server);
    let all: Vec<_> = client.students("A1", &ListQuery::new()).try_collect().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(*waits.lock().unwrap(), vec![Duration::from_secs(7)]);
}

#[tokio::test]
async fn a_503_then_success_uses_backoff() {
    let server = common::server().await;
    Mock::given(path("/v1.0/schools/A1"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/schools/A1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"id": "A1", "name": "Northfield",
            "urn": 100123, "region": {"code": "GBR", "domain": "api.wonde.com"}}})))
        .mount(&server)
        .await;
    let (client, waits) = common::client(&server);
    let school = client.school("A1").await.unwrap();
    assert_eq!((school.name.as_str(), school.urn.as_deref()), ("Northfield", Some("100123")));
    assert_eq!(school.region.unwrap().domain.as_deref(), Some("api.wonde.com"));
    assert_eq!(*waits.lock().unwrap(), vec![Duration::from_millis(500)]);
}

#[tokio::test]
async fn refused_tokens_and_unapproved_schools_are_classified_and_not_retried() {
    let server = common::server().await;
    Mock::given(path("/v1.0/schools/A1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "unauthorized"})))
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/schools/A2"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": "forbidden",
            "error_description": "School A2 has not approved access."})))
        .mount(&server)
        .await;
    let (client, waits) = common::client(&server);
    let e = client.school("A1").await.unwrap_err();
    assert!(e.is_unauthorized() && !e.is_transient(), "{e}");
    let e = client.school("A2").await.unwrap_err();
    assert!(e.is_forbidden(), "{e}");
    assert!(e.to_string().contains("has not approved access"), "{e}");
    assert!(waits.lock().unwrap().is_empty());
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn the_token_is_never_shown() {
    let server = common::server().await;
    Mock::given(path("/v1.0/schools/A1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "unauthorized"})))
        .mount(&server)
        .await;
    let builder = common::builder(&server);
    assert!(!format!("{builder:?}").contains(TOKEN));
    let client = builder.build().unwrap();
    assert!(!format!("{client:?}").contains(TOKEN));
    let e = client.school("A1").await.unwrap_err();
    assert!(!format!("{e:?} {e}").contains(TOKEN));
}

#[test]
fn a_missing_or_empty_token_and_a_bad_school_id_are_refused_before_sending() {
    assert!(WondeClient::builder().build().unwrap_err().to_string().contains("token is required"));
    assert!(WondeClient::builder().token(" ".to_owned().into()).build().unwrap_err().to_string().contains("empty"));
    let client =
        WondeClient::builder().region(Region::AustraliaNewZealand).token("t".to_owned().into()).build().unwrap();
    assert_eq!(client.base_url().as_str(), "https://api-ap-southeast-2.wonde.com/v1.0/");
}
