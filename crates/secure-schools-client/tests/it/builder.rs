//! Building the client: required settings, base URL checks, the shared retrier and its observer.

use crate::{TOKEN, user};
use http_retry::{Retrier, RetryEvent, RetryObserver, RetryPolicy, Sleeper};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secure_schools_client::{Error, InvalidInput, SecretString, SecureSchoolsClient, Url};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn invalid(result: Result<SecureSchoolsClient, Error>) -> InvalidInput {
    match result {
        Err(Error::InvalidInput(e)) => e,
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[test]
fn the_base_url_and_the_token_are_required() {
    let no_url = SecureSchoolsClient::builder().token(SecretString::from(TOKEN)).build();
    assert_eq!(invalid(no_url), InvalidInput::MissingBaseUrl);
    let url = Url::parse("https://secureschools.example/api/v1/").unwrap();
    let no_token = SecureSchoolsClient::builder().base_url(url.clone()).build();
    assert_eq!(invalid(no_token), InvalidInput::MissingToken);
    let blank = SecureSchoolsClient::builder().base_url(url.clone()).token(SecretString::from("  ")).build();
    assert_eq!(invalid(blank), InvalidInput::MissingToken);
    let client = SecureSchoolsClient::builder().base_url(url.clone()).token(TOKEN.into()).build().unwrap();
    assert_eq!(client.base_url(), &url);
}

#[test]
fn base_urls_that_cannot_work_are_refused() {
    for bad in [
        "ftp://secureschools.example/",
        "mailto:admin@school.example",
        "https://s.example/api?x=1",
        "https://s.example/#f",
    ] {
        let result = SecureSchoolsClient::builder().base_url(Url::parse(bad).unwrap()).token(TOKEN.into()).build();
        assert!(matches!(invalid(result), InvalidInput::BaseUrl { .. }), "{bad}");
    }
}

#[derive(Default)]
struct Recorder {
    statuses: Mutex<Vec<u16>>,
    retries: Mutex<Vec<RetryEvent>>,
}

impl RetryObserver for Recorder {
    fn on_response(&self, _m: &Method, _p: &str, status: StatusCode, _h: &HeaderMap) {
        self.statuses.lock().unwrap().push(status.as_u16());
    }
    fn on_retry(&self, event: &RetryEvent) {
        self.retries.lock().unwrap().push(event.clone());
    }
}

#[tokio::test]
async fn a_shared_retrier_with_an_observer_sees_every_answer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/organisations/org-1/users"))
        .respond_with(ResponseTemplate::new(504))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/organisations/org-1/users"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [user("u1", "a@s.example")], "next_cursor": null})),
        )
        .mount(&server)
        .await;
    Mock::given(any()).respond_with(ResponseTemplate::new(599)).with_priority(u8::MAX).expect(0).mount(&server).await;
    let recorder = Arc::new(Recorder::default());
    let sleeper: Sleeper = Arc::new(|_| Box::pin(async {}));
    let retrier = Retrier::new(RetryPolicy::default().initial_backoff(Duration::from_millis(1)))
        .with_observer(recorder.clone())
        .with_sleeper(sleeper);
    let client = SecureSchoolsClient::builder()
        .base_url(Url::parse(&server.uri()).unwrap())
        .token(TOKEN.into())
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(2))
        .retrier(retrier)
        .build()
        .unwrap();
    let page = client.users_page("org-1", &Default::default(), None).await.unwrap();
    assert_eq!(page.data.len(), 1);
    assert_eq!(*recorder.statuses.lock().unwrap(), [504, 200]);
    let retries = recorder.retries.lock().unwrap();
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].path, "/organisations/org-1/users");
}
