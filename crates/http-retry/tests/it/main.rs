//! Integration tests of http-retry against local HTTP servers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use http_retry::{Idempotency, Retrier, RetryEvent, RetryObserver, RetryPolicy, RetryReason, Sleeper};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A sleeper that records the waits asked for and returns at once.
fn recording() -> (Sleeper, Arc<Mutex<Vec<Duration>>>) {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let w = waits.clone();
    let sleeper: Sleeper = Arc::new(move |d| {
        w.lock().unwrap().push(d);
        Box::pin(async {})
    });
    (sleeper, waits)
}

fn retrier(policy: RetryPolicy) -> (Retrier, Arc<Mutex<Vec<Duration>>>) {
    let (sleeper, waits) = recording();
    (Retrier::new(policy).with_sleeper(sleeper), waits)
}

#[tokio::test]
async fn retries_503_with_backoff_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/x"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/x"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let (r, waits) = retrier(RetryPolicy::default().jitter(false));
    let http = reqwest::Client::new();
    let reply = r.execute(Idempotency::Idempotent, || http.get(format!("{}/x", server.uri()))).await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(&reply.body[..], b"ok");
    assert_eq!(reply.attempts, 3);
    assert_eq!(*waits.lock().unwrap(), vec![Duration::from_millis(500), Duration::from_secs(1)]);
}

#[tokio::test]
async fn honours_retry_after_in_seconds_and_as_a_date() {
    let server = MockServer::start().await;
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(20));
    Mock::given(path("/s"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/s")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    Mock::given(path("/d"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", date.as_str()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/d")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let (r, waits) = retrier(RetryPolicy::default());
    let http = reqwest::Client::new();
    r.execute(Idempotency::Idempotent, || http.get(format!("{}/s", server.uri()))).await.unwrap();
    r.execute(Idempotency::Idempotent, || http.get(format!("{}/d", server.uri()))).await.unwrap();
    let waits = waits.lock().unwrap();
    assert_eq!(waits[0], Duration::from_secs(7));
    assert!(waits[1] > Duration::from_secs(17) && waits[1] <= Duration::from_secs(20), "{:?}", waits[1]);
}

#[tokio::test]
async fn no_request_is_sent_before_retry_after_is_up() {
    let server = MockServer::start().await;
    Mock::given(path("/t"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/t")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let r = Retrier::new(RetryPolicy::default());
    let http = reqwest::Client::new();
    let start = Instant::now();
    let reply = r.execute(Idempotency::Idempotent, || http.get(format!("{}/t", server.uri()))).await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert!(start.elapsed() >= Duration::from_secs(1), "second request came after {:?}", start.elapsed());
}

#[tokio::test]
async fn non_idempotent_requests_are_retried_only_when_the_server_did_not_act() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/create")).respond_with(ResponseTemplate::new(503)).mount(&server).await;
    Mock::given(method("POST"))
        .and(path("/busy"))
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path("/busy")).respond_with(ResponseTemplate::new(201)).mount(&server).await;
    let (r, _) = retrier(RetryPolicy::default());
    let http = reqwest::Client::new();
    let reply = r.execute(Idempotency::NotIdempotent, || http.post(format!("{}/create", server.uri()))).await.unwrap();
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.attempts, 1);
    let reply = r.execute(Idempotency::NotIdempotent, || http.post(format!("{}/busy", server.uri()))).await.unwrap();
    assert_eq!(reply.status, StatusCode::CREATED);
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.iter().filter(|r| r.url.path() == "/create").count(), 1);
}

#[tokio::test]
async fn gives_up_after_max_attempts_and_returns_the_last_answer() {
    let server = MockServer::start().await;
    Mock::given(path("/x")).respond_with(ResponseTemplate::new(503)).mount(&server).await;
    let (r, waits) = retrier(RetryPolicy::default().max_attempts(3));
    let http = reqwest::Client::new();
    let reply = r.execute(Idempotency::Idempotent, || http.get(format!("{}/x", server.uri()))).await.unwrap();
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.attempts, 3);
    assert_eq!(waits.lock().unwrap().len(), 2);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_wait_beyond_the_total_budget_is_not_made() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .mount(&server)
        .await;
    let (r, waits) = retrier(RetryPolicy::default().max_total_wait(Duration::from_secs(300)));
    let http = reqwest::Client::new();
    let reply = r.execute(Idempotency::Idempotent, || http.get(format!("{}/x", server.uri()))).await.unwrap();
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(waits.lock().unwrap().is_empty());
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    // A port nothing listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (r, waits) = retrier(RetryPolicy::default().max_attempts(3));
    let http = reqwest::Client::new();
    let err =
        r.execute(Idempotency::NotIdempotent, || http.post(format!("http://127.0.0.1:{port}/x"))).await.unwrap_err();
    assert!(err.is_connect(), "{err}");
    assert_eq!(err.attempts, 3);
    assert_eq!(waits.lock().unwrap().len(), 2);
    assert!(err.to_string().contains("could not connect"), "{err}");
}

#[tokio::test]
async fn a_body_cut_off_midway_is_retried() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for i in 0..2 {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            if i == 0 {
                // Promise 100 bytes, send 10, hang up.
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789").await;
            } else {
                let _ =
                    socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nwhole").await;
            }
            let _ = socket.shutdown().await;
        }
    });
    let (r, _) = retrier(RetryPolicy::default());
    let http = reqwest::Client::new();
    let reply = r.execute(Idempotency::Idempotent, || http.get(format!("http://{addr}/page"))).await.unwrap();
    assert_eq!(&reply.body[..], b"whole");
    assert_eq!(reply.attempts, 2);
}

#[derive(Default)]
struct Recorder {
    statuses: Mutex<Vec<u16>>,
    retries: Mutex<Vec<RetryEvent>>,
    resource_units: Mutex<Vec<String>>,
}

impl RetryObserver for Recorder {
    fn on_response(&self, _m: &Method, _p: &str, status: StatusCode, headers: &HeaderMap) {
        self.statuses.lock().unwrap().push(status.as_u16());
        if let Some(v) = headers.get("x-ms-resource-unit") {
            self.resource_units.lock().unwrap().push(v.to_str().unwrap().to_owned());
        }
    }
    fn on_retry(&self, event: &RetryEvent) {
        self.retries.lock().unwrap().push(event.clone());
    }
}

#[tokio::test]
async fn the_observer_sees_every_answer_and_retry() {
    let server = MockServer::start().await;
    Mock::given(path("/v1.0/users"))
        .respond_with(
            ResponseTemplate::new(429).insert_header("Retry-After", "2").insert_header("x-ms-resource-unit", "1"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/users"))
        .respond_with(ResponseTemplate::new(200).insert_header("x-ms-resource-unit", "1"))
        .mount(&server)
        .await;
    let recorder = Arc::new(Recorder::default());
    let (sleeper, _) = recording();
    let r = Retrier::new(RetryPolicy::default()).with_sleeper(sleeper).with_observer(recorder.clone());
    let http = reqwest::Client::new();
    r.execute(Idempotency::Idempotent, || http.get(format!("{}/v1.0/users?$skiptoken=secretish", server.uri())))
        .await
        .unwrap();
    assert_eq!(*recorder.statuses.lock().unwrap(), vec![429, 200]);
    assert_eq!(*recorder.resource_units.lock().unwrap(), vec!["1", "1"]);
    let retries = recorder.retries.lock().unwrap();
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].reason, RetryReason::Status(429));
    assert_eq!(retries[0].path, "/v1.0/users", "the query is left out of events");
    assert!(retries[0].from_retry_after);
}

/// A classifier that reads a Google-style error body (`{"error":{"errors":[{"reason":…}]}}`) for a throttling
/// reason, the way a vendor client plugs its own error format into the shared retrier.
fn google_style_classifier() -> http_retry::ThrottleClassifier {
    Arc::new(|_status, _headers, body: &[u8]| {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else { return false };
        v["error"]["errors"].as_array().is_some_and(|errors| {
            errors.iter().any(|e| e["reason"].as_str().is_some_and(|r| http_retry::THROTTLING_CODES.contains(&r)))
        })
    })
}

#[tokio::test]
async fn a_vendor_throttling_answer_under_403_is_retried_even_when_not_idempotent() {
    let server = MockServer::start().await;
    let body = serde_json::json!({"error": {"code": 403, "message": "Quota exceeded for quota metric",
        "errors": [{"message": "Quota exceeded", "domain": "usageLimits", "reason": "userRateLimitExceeded"}]}});
    Mock::given(path("/admin/directory/v1/users"))
        .respond_with(ResponseTemplate::new(403).set_body_json(body))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(path("/admin/directory/v1/users")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let recorder = Arc::new(Recorder::default());
    let (sleeper, waits) = recording();
    let r = Retrier::new(RetryPolicy::default().jitter(false))
        .with_sleeper(sleeper)
        .with_observer(recorder.clone())
        .with_throttle_classifier(google_style_classifier());
    let http = reqwest::Client::new();
    let reply = r
        .execute(Idempotency::NotIdempotent, || http.post(format!("{}/admin/directory/v1/users", server.uri())))
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.attempts, 3);
    let retries = recorder.retries.lock().unwrap();
    assert_eq!(retries.iter().map(|e| e.reason.clone()).collect::<Vec<_>>(), vec![RetryReason::Throttled(403); 2]);
    assert_eq!(*waits.lock().unwrap(), vec![Duration::from_millis(500), Duration::from_secs(1)], "policy backoff");
}

#[tokio::test]
async fn a_403_that_is_not_throttling_is_returned_at_once() {
    let server = MockServer::start().await;
    let body = serde_json::json!({"error": {"code": 403, "message": "Not Authorized to access this resource/api",
        "errors": [{"message": "Not Authorized to access this resource/api", "domain": "global", "reason": "forbidden"}]}});
    Mock::given(path("/admin/directory/v1/users"))
        .respond_with(ResponseTemplate::new(403).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    let (sleeper, _) = recording();
    let r =
        Retrier::new(RetryPolicy::default()).with_sleeper(sleeper).with_throttle_classifier(google_style_classifier());
    let http = reqwest::Client::new();
    let reply = r
        .execute(Idempotency::Idempotent, || http.get(format!("{}/admin/directory/v1/users", server.uri())))
        .await
        .unwrap();
    assert_eq!(reply.status, 403);
    assert_eq!(reply.attempts, 1);
}
