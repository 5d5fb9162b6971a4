//! Shared test setup: a wiremock server that fails loudly on unexpected requests, and a client pointed at it.

use graph_client::auth::{AccessToken, AuthError, StaticToken, TokenSource};
use graph_client::{GraphClient, GraphClientBuilder};
use http_retry::{RetryPolicy, Sleeper};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A server whose unmatched requests get 599, which no client treats as success, so a stray request fails the
/// test that made it.
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

pub(crate) fn builder(server: &MockServer) -> GraphClientBuilder {
    GraphClient::builder()
        .base_url(url::Url::parse(&format!("{}/v1.0/", server.uri())).unwrap())
        .token_source(Arc::new(StaticToken::new("test-token".to_owned().into())))
        .retry_policy(RetryPolicy::default().jitter(false))
}

pub(crate) fn client(server: &MockServer) -> (GraphClient, Arc<Mutex<Vec<Duration>>>) {
    let (sleeper, waits) = recording_sleeper();
    (builder(server).sleeper(sleeper).build().unwrap(), waits)
}

/// Hands out `token-1`, then after each invalidation `token-2`, `token-3`…
#[derive(Default)]
pub(crate) struct RotatingToken {
    pub(crate) generation: AtomicUsize,
    pub(crate) invalidations: AtomicUsize,
}

#[async_trait::async_trait]
impl TokenSource for RotatingToken {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        let n = self.generation.load(Ordering::SeqCst) + 1;
        Ok(AccessToken::new(format!("token-{n}").into(), Duration::from_secs(3600)))
    }
    async fn invalidate(&self) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// A user as the Graph v1.0 "List group transitive members" example returns it, with our `$select`.
pub(crate) fn user_json(n: usize) -> serde_json::Value {
    serde_json::json!({
        "@odata.type": "#microsoft.graph.user",
        "id": format!("00000000-0000-0000-0000-{n:012}"),
        "userPrincipalName": format!("pupil{n}@contoso.example"),
        "mail": format!("pupil{n}@contoso.example"),
        "givenName": "Adele",
        "surname": format!("Vance{n}"),
        "displayName": format!("Adele Vance{n}"),
        "accountEnabled": true,
        "jobTitle": null,
        "department": "Year 7",
        "employeeId": format!("E{n}"),
        "onPremisesImmutableId": null,
        "userType": "Member"
    })
}
