//! Members and transitive members: paging, ConsistencyLevel on every page, token expiry mid-paging, decode errors.

use crate::common::{self, RotatingToken, user_json};
use futures::TryStreamExt;
use graph_client::GraphError;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

const MEMBERS: &str = "/v1.0/groups/g-1/transitiveMembers/microsoft.graph.user";

/// Page `i` of `n` (Graph v1.0 "List group transitive members": `@odata.context`, `@odata.count`, `value`,
/// `@odata.nextLink` with a `$skiptoken`).
fn page(server: &str, i: usize, n: usize, per_page: usize) -> serde_json::Value {
    let value: Vec<_> = (0..per_page).map(|k| user_json(i * per_page + k)).collect();
    let mut body = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users",
        "@odata.count": n * per_page,
        "value": value
    });
    if i + 1 < n {
        body["@odata.nextLink"] =
            json!(format!("{server}{MEMBERS}?$select=id&$top=999&$count=true&$skiptoken=page{}", i + 1));
    }
    body
}

#[tokio::test]
async fn transitive_members_follow_next_links_with_consistency_level_on_every_page() {
    let server = common::server().await;
    // First page: the query the client builds.
    Mock::given(method("GET"))
        .and(path(MEMBERS))
        .and(query_param("$top", "999"))
        .and(query_param("$count", "true"))
        .and(query_param("$select", graph_client::models::SYNC_USER_SELECT))
        .and(query_param_is_missing("$skiptoken"))
        .and(header("ConsistencyLevel", "eventual"))
        .and(header("Authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&server.uri(), 0, 3, 2)))
        .expect(1)
        .mount(&server)
        .await;
    for i in 1..3 {
        Mock::given(method("GET"))
            .and(path(MEMBERS))
            .and(query_param("$skiptoken", format!("page{i}")))
            .and(header("ConsistencyLevel", "eventual"))
            .respond_with(ResponseTemplate::new(200).set_body_json(page(&server.uri(), i, 3, 2)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let (client, _) = common::client(&server);
    let users: Vec<_> = client.transitive_members("g-1").try_collect().await.unwrap();
    assert_eq!(users.len(), 6);
    assert_eq!(users[5].id(), "00000000-0000-0000-0000-000000000005");
    assert_eq!(users[0].account_enabled(), Some(true));
    assert_eq!(users[0].department(), Some("Year 7"));
}

#[tokio::test]
async fn direct_members_use_the_user_cast_too() {
    let server = common::server().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/groups/g-2/members/microsoft.graph.user"))
        .and(header("ConsistencyLevel", "eventual"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [user_json(1)]})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let users: Vec<_> = client.members("g-2").try_collect().await.unwrap();
    assert_eq!(users.len(), 1);
}

#[tokio::test]
async fn a_token_that_expires_mid_paging_is_refreshed_once_and_paging_continues() {
    let server = common::server().await;
    Mock::given(path(MEMBERS))
        .and(query_param_is_missing("$skiptoken"))
        .and(header("Authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&server.uri(), 0, 2, 1)))
        .expect(1)
        .mount(&server)
        .await;
    // Graph v1.0 "Microsoft Graph error responses": 401 InvalidAuthenticationToken for an expired token.
    Mock::given(path(MEMBERS))
        .and(query_param("$skiptoken", "page1"))
        .and(header("Authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {"code": "InvalidAuthenticationToken", "message": "Lifetime validation failed, the token is expired.",
                      "innerError": {"date": "2025-09-01T10:00:00", "request-id": "r-401", "client-request-id": "c-401"}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(MEMBERS))
        .and(query_param("$skiptoken", "page1"))
        .and(header("Authorization", "Bearer token-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&server.uri(), 1, 2, 1)))
        .expect(1)
        .mount(&server)
        .await;
    let tokens = Arc::new(RotatingToken::default());
    let client = common::builder(&server).token_source(tokens.clone()).build().unwrap();
    let users: Vec<_> = client.transitive_members("g-1").try_collect().await.unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(tokens.invalidations.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_second_401_is_a_typed_error() {
    let server = common::server().await;
    Mock::given(path(MEMBERS))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {"code": "InvalidAuthenticationToken", "message": "Access token validation failure.",
                      "innerError": {"request-id": "r-1"}}
        })))
        .expect(2)
        .mount(&server)
        .await;
    let tokens = Arc::new(RotatingToken::default());
    let client = common::builder(&server).token_source(tokens.clone()).build().unwrap();
    let err = client.transitive_members("g-1").try_collect::<Vec<_>>().await.unwrap_err();
    assert!(err.is_unauthorized(), "{err}");
    assert_eq!(err.api().unwrap().code.as_deref(), Some("InvalidAuthenticationToken"));
    assert_eq!(err.api().unwrap().request_id.as_deref(), Some("r-1"));
    assert_eq!(tokens.invalidations.load(Ordering::SeqCst), 1);
    assert!(!format!("{err:?}").contains("token-"), "no token in Debug: {err:?}");
}

#[tokio::test]
async fn a_malformed_page_is_a_decode_error_with_the_json_path() {
    let server = common::server().await;
    let mut body = page(&server.uri(), 0, 2, 3);
    body["value"][2]["accountEnabled"] = json!("yes please");
    Mock::given(path(MEMBERS)).respond_with(ResponseTemplate::new(200).set_body_json(body)).mount(&server).await;
    let (client, _) = common::client(&server);
    let err = client.transitive_members("g-1").try_collect::<Vec<_>>().await.unwrap_err();
    match &err {
        GraphError::Decode { json_path, path, .. } => {
            assert_eq!(json_path, "value[2].accountEnabled");
            assert_eq!(path, MEMBERS);
        }
        other => panic!("expected a decode error, got {other}"),
    }
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed() {
    let server = common::server().await;
    let body = json!({"value": [user_json(1)], "@odata.nextLink": "https://evil.example/v1.0/steal?$skiptoken=x"});
    Mock::given(path(MEMBERS)).respond_with(ResponseTemplate::new(200).set_body_json(body)).mount(&server).await;
    let (client, _) = common::client(&server);
    let err = client.transitive_members("g-1").try_collect::<Vec<_>>().await.unwrap_err();
    assert!(matches!(err, GraphError::InvalidInput(ref m) if m.contains("evil.example")), "{err}");
}

#[tokio::test]
async fn group_ids_are_escaped_as_one_path_segment() {
    let server = common::server().await;
    Mock::given(path("/v1.0/groups/a%2Fb%3Fc/transitiveMembers/microsoft.graph.user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let users: Vec<_> = client.transitive_members("a/b?c").try_collect().await.unwrap();
    assert!(users.is_empty());
}
