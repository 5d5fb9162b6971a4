//! Shared test setup: a wiremock server that fails loudly on unexpected requests, and a client pointed at it.

use http_retry::{RetryPolicy, Sleeper};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};
use wonde_client::{WondeClient, WondeClientBuilder};

/// A server whose unmatched requests get 599, which no client treats as success.
pub(crate) async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599).set_body_string("unexpected request"))
        .with_priority(u8::MAX)
        .named("catch-all: unexpected request")
        .mount(&server)
        .await;
    server
}

/// Waits the retrier asked for, recorded instead of slept.
pub(crate) fn recording_sleeper() -> (Sleeper, Arc<Mutex<Vec<Duration>>>) {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let w = waits.clone();
    let sleeper: Sleeper = Arc::new(move |d| {
        w.lock().unwrap().push(d);
        Box::pin(async {})
    });
    (sleeper, waits)
}

pub(crate) const TOKEN: &str = "7e76896f9aca62569048c667db292d72dd84f224";

pub(crate) fn builder(server: &MockServer) -> WondeClientBuilder {
    WondeClient::builder()
        .base_url(url::Url::parse(&format!("{}/v1.0/", server.uri())).unwrap())
        .token(TOKEN.to_owned().into())
        .retry_policy(RetryPolicy::default().jitter(false))
}

pub(crate) fn client(server: &MockServer) -> (WondeClient, Arc<Mutex<Vec<Duration>>>) {
    let (sleeper, waits) = recording_sleeper();
    (builder(server).sleeper(sleeper).build().unwrap(), waits)
}

/// A Wonde date object.
pub(crate) fn date(text: &str) -> serde_json::Value {
    serde_json::json!({"date": format!("{text}.000000"), "timezone_type": 3, "timezone": "Europe/London"})
}

/// A student shaped as the Wonde documentation's "Students" example, with `contact_details` and `year` included.
pub(crate) fn student_json(n: usize) -> serde_json::Value {
    serde_json::json!({
        "id": format!("A{n:09}"),
        "upi": format!("upi{n:029}"),
        "mis_id": n,
        "initials": "AB",
        "surname": format!("Bennet{n}"),
        "forename": "Lizzy",
        "middle_names": null,
        "legal_surname": format!("Bennet{n}"),
        "legal_forename": "Elizabeth",
        "gender": "F",
        "date_of_birth": date("2012-04-07 00:00:00"),
        "restored_at": null,
        "created_at": date("2016-04-07 11:21:47"),
        "updated_at": date("2024-09-02 08:00:00"),
        "contact_details": {"data": {"id": format!("C{n}"), "emails": {"email": format!("lizzy{n}@school.example"),
            "primary": null, "home": "lizzy@home.example", "work": null}}},
        "year": {"data": {"id": "Y7", "code": "7", "name": "Year 7", "description": "Year 7"}}
    })
}
