//! Integration tests of secure-schools-client against a wiremock server speaking the assumed contract
//! (docs/secure-schools-api.md). Every server refuses, loudly, any request no test expected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod batch;
mod builder;
mod e2e;
mod errors;
mod openapi;
mod organisations;
mod users;

use http_retry::{RetryPolicy, Sleeper};
use secure_schools_client::{ENDPOINTS, SecretString, SecureSchoolsClient, Url};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The token every test client sends; no Debug or Display output may contain it.
pub const TOKEN: &str = "ss-test-token-5f0c2b7e-do-not-print";

/// A mock server plus a client pointed at it whose waits are recorded, not made.
pub struct Fake {
    /// The mock server.
    pub server: MockServer,
    /// A client pointed at it, with the test token.
    pub client: SecureSchoolsClient,
    /// The waits the retrier asked for.
    pub waits: Arc<Mutex<Vec<Duration>>>,
}

impl Fake {
    /// A server whose catch-all (lowest priority, expected never to match) fails the test on any request no mock
    /// was mounted for: it answers 599, which no client call accepts, and the server panics on drop if it was hit.
    pub async fn start() -> Fake {
        Fake::start_with(RetryPolicy::default().jitter(false)).await
    }

    /// The same, with a retry policy of the test's choosing.
    pub async fn start_with(policy: RetryPolicy) -> Fake {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(599).set_body_string("unexpected request: no mock matches it"))
            .with_priority(u8::MAX)
            .named("catch-all: an unexpected request")
            .expect(0)
            .mount(&server)
            .await;
        let waits = Arc::new(Mutex::new(Vec::new()));
        let w = waits.clone();
        let sleeper: Sleeper = Arc::new(move |d| {
            w.lock().unwrap().push(d);
            Box::pin(async {})
        });
        let client = SecureSchoolsClient::builder()
            .base_url(Url::parse(&server.uri()).unwrap())
            .token(SecretString::from(TOKEN))
            .retry_policy(policy)
            .sleeper(sleeper)
            .build()
            .unwrap();
        Fake { server, client, waits }
    }

    /// The waits so far.
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().unwrap().clone()
    }

    /// The requests received, after checking that each is an instance of an endpoint in `ENDPOINTS` and carries
    /// the bearer token: the client sends nothing the contract (and so the OpenAPI file) does not describe.
    pub async fn requests(&self) -> Vec<wiremock::Request> {
        let requests = self.server.received_requests().await.unwrap();
        for r in &requests {
            let method = r.method.as_str();
            let path = r.url.path();
            assert!(
                ENDPOINTS.iter().any(|e| e.matches(method, path)),
                "{method} {path} is not an endpoint of the contract"
            );
            let auth = r.headers.get("authorization").and_then(|v| v.to_str().ok());
            assert_eq!(auth, Some(format!("Bearer {TOKEN}").as_str()), "{method} {path} without the bearer token");
        }
        requests
    }
}

/// A user as the contract shapes it.
pub fn user(id: &str, email: &str) -> Value {
    json!({
        "id": id,
        "email": email,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "role": "staff",
        "status": "active",
        "external_id": format!("entra:{id}"),
        "managed_by_sync": true,
        "updated_at": "2025-09-01T08:30:00Z"
    })
}

/// A contract error body.
pub fn error_body(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

/// A query parameter of a received request, decoded.
pub fn query(r: &wiremock::Request, key: &str) -> Option<String> {
    r.url.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}
