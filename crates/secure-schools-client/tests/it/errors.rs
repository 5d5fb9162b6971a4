//! Typed errors: throttling, 401/403, bodies that break the contract, transport failures, and no token anywhere.

use crate::{Fake, TOKEN, error_body, user};
use futures::TryStreamExt;
use http_retry::RetryPolicy;
use secure_schools_client::{Error, SecureSchoolsClient, Url, UsersQuery};
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn a_429_waits_as_long_as_retry_after_says_then_succeeds() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path("/organisations/org-1/users"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "17")
                .set_body_json(error_body("rate_limited", "slow down")),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/organisations/org-1/users"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [user("u1", "a@s.example")], "next_cursor": null})),
        )
        .mount(&fake.server)
        .await;
    let users: Vec<_> = fake.client.users("org-1", UsersQuery::new()).try_collect().await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(fake.waits(), [Duration::from_secs(17)]);
    assert_eq!(fake.requests().await.len(), 2);
}

#[tokio::test]
async fn throttling_that_outlasts_the_policy_is_typed_with_its_retry_after() {
    let fake = Fake::start_with(RetryPolicy::default().jitter(false).max_attempts(2)).await;
    Mock::given(method("GET"))
        .and(path("/me"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "3")
                .insert_header("x-request-id", "req-429")
                .set_body_json(error_body("rate_limited", "slow down")),
        )
        .expect(2)
        .mount(&fake.server)
        .await;
    let err = fake.client.me().await.unwrap_err();
    assert!(err.is_throttled() && err.is_transient(), "{err}");
    let failure = err.api_failure().unwrap();
    assert_eq!(failure.retry_after, Some(Duration::from_secs(3)));
    assert_eq!(failure.request_id.as_deref(), Some("req-429"));
    assert_eq!(failure.code.as_deref(), Some("rate_limited"));
    assert_eq!(fake.waits(), [Duration::from_secs(3)]);
}

#[tokio::test]
async fn unauthorized_and_forbidden_are_typed() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path("/me"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("x-request-id", "req-401")
                .set_body_json(error_body("unauthorized", "token expired")),
        )
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/organisations/org-9/users"))
        .respond_with(ResponseTemplate::new(403).set_body_json(error_body("forbidden", "not an admin of org-9")))
        .expect(1)
        .mount(&fake.server)
        .await;
    let err = fake.client.me().await.unwrap_err();
    assert!(err.is_unauthorized() && !err.is_forbidden() && !err.is_transient(), "{err}");
    assert_eq!(err.to_string(), "GET /me: HTTP 401 unauthorized: token expired (request id req-401)");
    let err = fake.client.users("org-9", UsersQuery::new()).try_collect::<Vec<_>>().await.unwrap_err();
    assert!(err.is_forbidden() && !err.is_unauthorized(), "{err}");
    assert!(fake.waits().is_empty(), "401 and 403 are not retried");
    fake.requests().await;
}

#[tokio::test]
async fn conflict_and_validation_on_single_calls_are_typed_with_details() {
    let fake = Fake::start().await;
    Mock::given(method("PATCH"))
        .and(path("/organisations/org-1/users/u1"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({"error": {
            "code": "validation_failed", "message": "invalid fields", "details": {"email": "must be a valid address"}
        }})))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/organisations/org-1/users"))
        .respond_with(ResponseTemplate::new(409).set_body_json(error_body("conflict", "email already in use")))
        .expect(1)
        .mount(&fake.server)
        .await;
    let patch = secure_schools_client::UserPatch::new().email("nope");
    let err = fake.client.update_user("org-1", "u1", &patch).await.unwrap_err();
    assert!(err.is_validation(), "{err}");
    let Error::Api(api) = &err else { panic!("{err:?}") };
    assert_eq!(api.details, Some(json!({"email": "must be a valid address"})));
    let new = secure_schools_client::NewUser::new("a@s.example", "A", "B", secure_schools_client::UserRole::Staff);
    let err = fake.client.create_user("org-1", &new).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
}

#[tokio::test]
async fn malformed_json_names_the_json_path_and_the_url_path() {
    let fake = Fake::start().await;
    let mut bad = user("u2", "b@s.example");
    bad["updated_at"] = json!("yesterday");
    Mock::given(method("GET"))
        .and(path("/organisations/org-1/users"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [user("u1", "a@s.example"), bad], "next_cursor": null})),
        )
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/me"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"id\": \"p\", \"email\": "))
        .expect(1)
        .mount(&fake.server)
        .await;
    let err = fake.client.users("org-1", UsersQuery::new()).try_collect::<Vec<_>>().await.unwrap_err();
    match &err {
        Error::Decode { method, path, json_path, .. } => {
            assert_eq!(*method, "GET");
            assert_eq!(path, "/organisations/org-1/users");
            assert_eq!(json_path, "data[1].updated_at");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert!(err.to_string().contains("data[1].updated_at"), "{err}");
    let err = fake.client.me().await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn an_error_body_outside_the_contract_is_still_typed_by_status() {
    let fake = Fake::start_with(RetryPolicy::none()).await;
    Mock::given(method("GET"))
        .and(path("/me"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad gateway</html>"))
        .expect(1)
        .mount(&fake.server)
        .await;
    let err = fake.client.me().await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    let failure = err.api_failure().unwrap();
    assert_eq!(failure.code, None);
    assert_eq!(failure.message, "<html>Bad gateway</html>");
}

#[tokio::test]
async fn no_answer_at_all_is_a_transport_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = SecureSchoolsClient::builder()
        .base_url(Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap())
        .token(TOKEN.into())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.me().await.unwrap_err();
    assert!(matches!(err, Error::Transport(ref t) if t.is_connect()), "{err}");
    assert!(err.is_transient());
    assert!(!format!("{err:?}{err}").contains(TOKEN));
}

#[tokio::test]
async fn the_token_appears_in_no_debug_or_display_output() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path("/me"))
        .respond_with(ResponseTemplate::new(401).set_body_json(error_body("unauthorized", "bad token")))
        .mount(&fake.server)
        .await;
    let client_debug = format!("{:?}", fake.client);
    assert!(!client_debug.contains(TOKEN), "{client_debug}");
    assert!(client_debug.contains("[redacted]"), "{client_debug}");
    let builder = SecureSchoolsClient::builder().token(TOKEN.into());
    assert!(!format!("{builder:?}").contains(TOKEN));
    let err = fake.client.me().await.unwrap_err();
    let text = format!("{err:?} {err} {:#?}", std::error::Error::source(&err));
    assert!(!text.contains(TOKEN), "{text}");
}
