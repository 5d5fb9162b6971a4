//! The retry policy on Graph requests: 429 with Retry-After as seconds and as a date, 503 then success, metrics.

use crate::common::{self, user_json};
use futures::TryStreamExt;
use graph_client::ThrottleStats;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wiremock::matchers::{path, query_param};
use wiremock::{Mock, ResponseTemplate};

/// Graph v1.0 "Microsoft Graph throttling guidance": 429 Too Many Requests with Retry-After and an error body.
fn throttled(retry_after: &str) -> ResponseTemplate {
    ResponseTemplate::new(429).insert_header("Retry-After", retry_after).set_body_json(json!({
        "error": {"code": "TooManyRequests", "message": "Too many requests.", "innerError": {"request-id": "r-429"}}
    }))
}

#[tokio::test]
async fn a_429_on_a_next_page_waits_retry_after_seconds_then_continues() {
    let server = common::server().await;
    let uri = server.uri();
    Mock::given(path("/v1.0/groups/g/transitiveMembers/microsoft.graph.user"))
        .and(query_param("$skiptoken", "2"))
        .respond_with(throttled("3"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/groups/g/transitiveMembers/microsoft.graph.user"))
        .and(query_param("$skiptoken", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [user_json(2)]})))
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/groups/g/transitiveMembers/microsoft.graph.user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [user_json(1)],
            "@odata.nextLink": format!("{uri}/v1.0/groups/g/transitiveMembers/microsoft.graph.user?$skiptoken=2")
        })))
        .with_priority(10)
        .mount(&server)
        .await;
    let (client, waits) = common::client(&server);
    let users: Vec<_> = client.transitive_members("g").try_collect().await.unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(*waits.lock().unwrap(), vec![Duration::from_secs(3)]);
}

#[tokio::test]
async fn a_429_with_an_http_date_is_honoured_and_no_request_comes_before_it() {
    let server = common::server().await;
    let when = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    Mock::given(path("/v1.0/me")).respond_with(throttled(&when)).up_to_n_times(1).mount(&server).await;
    Mock::given(path("/v1.0/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json(1)))
        .mount(&server)
        .await;
    // The real sleeper: the second request must not come before the date.
    let client = common::builder(&server).build().unwrap();
    let start = Instant::now();
    client.me().await.unwrap();
    // HTTP dates have one-second resolution, so the wait is at least 1 s.
    assert!(start.elapsed() >= Duration::from_secs(1), "retried after {:?}", start.elapsed());
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_503_then_success() {
    let server = common::server().await;
    Mock::given(path("/v1.0/organization"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({
            "error": {"code": "serviceNotAvailable", "message": "Service unavailable"}
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/organization"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [{"id": "t", "verifiedDomains": []}]})))
        .mount(&server)
        .await;
    let (client, waits) = common::client(&server);
    assert_eq!(client.organization().await.unwrap()[0].id, "t");
    assert_eq!(*waits.lock().unwrap(), vec![Duration::from_millis(500)], "backoff when there is no Retry-After");
}

#[tokio::test]
async fn persistent_throttling_surfaces_as_a_throttled_error_with_retry_after() {
    let server = common::server().await;
    Mock::given(path("/v1.0/me")).respond_with(throttled("1")).mount(&server).await;
    let (sleeper, _) = common::recording_sleeper();
    let client = common::builder(&server)
        .sleeper(sleeper)
        .retry_policy(http_retry::RetryPolicy::default().max_attempts(3))
        .build()
        .unwrap();
    let err = client.me().await.unwrap_err();
    assert!(err.is_throttled() && err.is_transient(), "{err}");
    assert_eq!(err.api().unwrap().retry_after, Some(Duration::from_secs(1)));
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn throttle_stats_count_requests_429s_and_resource_units() {
    let server = common::server().await;
    Mock::given(path("/v1.0/me"))
        .respond_with(
            throttled("1")
                .insert_header("x-ms-resource-unit", "1")
                .insert_header("x-ms-throttle-limit-percentage", "0.98"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/me"))
        .respond_with(ResponseTemplate::new(200).insert_header("x-ms-resource-unit", "1").set_body_json(user_json(1)))
        .mount(&server)
        .await;
    let stats = Arc::new(ThrottleStats::default());
    let (sleeper, _) = common::recording_sleeper();
    let client = common::builder(&server).sleeper(sleeper).observer(stats.clone()).build().unwrap();
    client.me().await.unwrap();
    let s = stats.snapshot();
    assert_eq!((s.requests, s.throttled, s.retries, s.resource_units), (2, 1, 1, 2));
    assert_eq!(s.last_limit_percentage, 1);
}
