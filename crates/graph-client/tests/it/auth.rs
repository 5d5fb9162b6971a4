//! The sign-in flows against a local token endpoint. Fixtures follow the example requests and responses of the
//! Microsoft identity platform protocol pages named on each one.

use crate::common::{recording_sleeper, server};
use graph_client::auth::{
    AuthError, ClientCredentials, DeviceCodeFlow, DeviceCodePrompt, MemoryTokenStore, RefreshTokenSource, TokenSource,
    TokenStore,
};
use graph_client::{Cloud, Tenant};
use http_retry::{Retrier, RetryPolicy, Sleeper};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TENANT: &str = "contoso.onmicrosoft.com";
const TOKEN_PATH: &str = "/contoso.onmicrosoft.com/oauth2/v2.0/token";
const DEVICE_CODE_PATH: &str = "/contoso.onmicrosoft.com/oauth2/v2.0/devicecode";
const CLIENT_ID: &str = "535fb089-9ff3-47b6-9bfb-4f1264799865";
const CLIENT_SECRET: &str = "qWgdYAmab0YSkuL1qKv5bPX";
const DEVICE_CODE: &str = "GMMhmHCXhWEzkobqIHGG_EnNYYsAkukHspeYUk9E8";
const DEVICE_MESSAGE: &str = "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and \
                              enter the code FQK5HW3UF to authenticate.";

fn cloud(server: &MockServer) -> Cloud {
    Cloud::Custom {
        authority: Url::parse(&server.uri()).unwrap(),
        graph: Url::parse("https://graph.microsoft.com/").unwrap(),
    }
}

fn tenant() -> Tenant {
    Tenant::new(TENANT).unwrap()
}

fn retrier() -> Retrier {
    Retrier::new(RetryPolicy::none())
}

/// The form fields of a request.
fn form(request: &Request) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&request.body).into_owned().collect()
}

async fn requests_to(server: &MockServer, to: &str) -> Vec<Request> {
    server.received_requests().await.unwrap().into_iter().filter(|r| r.url.path() == to).collect()
}

fn json_answer(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// A token endpoint error answer, shaped like the "Error response" example of "Microsoft identity platform and the
/// OAuth 2.0 client credentials flow" (v2-oauth2-client-creds-grant-flow), which every flow's errors share.
fn oauth_error(error: &str, code: u64, text: &str) -> Value {
    json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {text}\r\nTrace ID: 255d1aef-8c98-452f-ac51-23d051240864\r\n\
             Correlation ID: fb3d2015-bc17-4bb9-bb85-30c5cf1aaaa7\r\nTimestamp: 2016-01-09 02:02:12Z"
        ),
        "error_codes": [code],
        "timestamp": "2016-01-09 02:02:12Z",
        "trace_id": "255d1aef-8c98-452f-ac51-23d051240864",
        "correlation_id": "fb3d2015-bc17-4bb9-bb85-30c5cf1aaaa7"
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Client credentials

/// "Successful response" of "Microsoft identity platform and the OAuth 2.0 client credentials flow"
/// (v2-oauth2-client-creds-grant-flow).
fn app_token(access_token: &str) -> Value {
    json!({ "token_type": "Bearer", "expires_in": 3599, "access_token": access_token })
}

fn client_credentials(server: &MockServer) -> ClientCredentials {
    ClientCredentials::new(cloud(server), tenant(), CLIENT_ID, SecretString::from(CLIENT_SECRET))
        .with_retrier(retrier())
}

#[tokio::test]
async fn client_credentials_sends_the_documented_form_and_returns_the_token() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json_answer(200, app_token("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6Ik1uQ19WWmNBVGZNNXBP")))
        .expect(1)
        .mount(&server)
        .await;
    let source = client_credentials(&server);
    assert_eq!(source.scope(), "https://graph.microsoft.com/.default");

    let token = source.token().await.unwrap();
    assert_eq!(token.secret(), "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6Ik1uQ19WWmNBVGZNNXBP");
    assert_eq!(token.lifetime(), Duration::from_secs(3599));

    let sent = requests_to(&server, TOKEN_PATH).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].headers.get("content-type").unwrap().to_str().unwrap(), "application/x-www-form-urlencoded");
    let fields = form(&sent[0]);
    assert_eq!(fields["grant_type"], "client_credentials");
    assert_eq!(fields["client_id"], CLIENT_ID);
    assert_eq!(fields["client_secret"], CLIENT_SECRET);
    assert_eq!(fields["scope"], "https://graph.microsoft.com/.default");
    assert_eq!(fields.len(), 4, "{fields:?}");
}

#[tokio::test]
async fn client_credentials_reuses_the_cached_token_until_invalidated() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json_answer(200, app_token("first")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json_answer(200, app_token("second")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let source = client_credentials(&server);

    assert_eq!(source.token().await.unwrap().secret(), "first");
    assert_eq!(source.token().await.unwrap().secret(), "first");
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 1, "the second call must come from the cache");

    source.invalidate().await;
    assert_eq!(source.token().await.unwrap().secret(), "second");
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 2);
}

#[tokio::test]
async fn client_credentials_callers_at_the_same_time_share_one_request() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json_answer(200, app_token("shared")).set_delay(Duration::from_millis(50)))
        .expect(1)
        .mount(&server)
        .await;
    let source = Arc::new(client_credentials(&server));
    let tokens = futures::future::join_all((0..5).map(|_| {
        let source = source.clone();
        async move { source.token().await }
    }))
    .await;
    for token in tokens {
        assert_eq!(token.unwrap().secret(), "shared");
    }
}

#[tokio::test]
async fn a_token_answer_without_a_lifetime_is_not_cached_past_its_use() {
    // expires_in 0: the token is never fresh, so every call asks again.
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json_answer(200, json!({ "token_type": "Bearer", "expires_in": 0, "access_token": "x" })))
        .expect(2)
        .mount(&server)
        .await;
    let source = client_credentials(&server);
    source.token().await.unwrap();
    source.token().await.unwrap();
}

#[tokio::test]
async fn invalid_client_is_refused_with_its_codes_and_never_shows_the_secret() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json_answer(
            401,
            oauth_error(
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret \
                 value, not the client secret ID, for a secret added to app '535fb089-9ff3-47b6-9bfb-4f1264799865'.",
            ),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let source = client_credentials(&server);
    let err = source.token().await.unwrap_err();
    match &err {
        AuthError::Refused { error, description, codes, correlation_id } => {
            assert_eq!(error, "invalid_client");
            assert!(description.starts_with("AADSTS7000215: Invalid client secret provided."), "{description}");
            assert_eq!(codes, &vec![7000215]);
            assert_eq!(correlation_id.as_deref(), Some("fb3d2015-bc17-4bb9-bb85-30c5cf1aaaa7"));
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert!(err.to_string().contains("invalid_client"), "{err}");
    for shown in [format!("{err:?}"), err.to_string(), format!("{err:#}"), format!("{source:?}")] {
        assert!(!shown.contains(CLIENT_SECRET), "secret shown in {shown}");
    }
    assert!(format!("{source:?}").contains("[redacted]"));
}

#[tokio::test]
async fn a_body_that_is_not_oauth_is_unreadable() {
    // The catch-all answers 599 with no body: nothing mounted for the token endpoint.
    let server = server().await;
    let err = client_credentials(&server).token().await.unwrap_err();
    assert!(matches!(err, AuthError::Unreadable { status: 599, .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// Device code

/// "Device authorization response" of "Microsoft identity platform and the OAuth 2.0 device authorization grant
/// flow" (v2-oauth2-device-code): the fields its table lists, with Entra's usual values.
fn device_authorization(expires_in: u64, interval: u64) -> Value {
    json!({
        "user_code": "FQK5HW3UF",
        "device_code": DEVICE_CODE,
        "verification_uri": "https://microsoft.com/devicelogin",
        "expires_in": expires_in,
        "interval": interval,
        "message": DEVICE_MESSAGE
    })
}

/// "Successful authentication response" of "Microsoft identity platform and the OAuth 2.0 device authorization
/// grant flow" (v2-oauth2-device-code).
fn device_sign_in() -> Value {
    json!({
        "token_type": "Bearer",
        "scope": "User.Read profile openid email",
        "expires_in": 3599,
        "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6Ik5HVEZ2ZEstZnl0aEV1Q",
        "refresh_token": "AwABAAAAvPM1KaPlrEqdFSBzjqfTGAMxZGUTdM0t4B4",
        "id_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.eyJhdWQiOiIyZDRkMTFhMi1mODE0LTQ2YTctOD"
    })
}

/// "Expected errors" of "Microsoft identity platform and the OAuth 2.0 device authorization grant flow"
/// (v2-oauth2-device-code), in the token endpoint's error shape; the AADSTS codes are the ones Entra sends.
fn pending() -> ResponseTemplate {
    json_answer(
        400,
        oauth_error(
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        ),
    )
}

/// `slow_down` is not in the page's table (Entra rarely sends it) but is part of RFC 8628 §3.5, which the page
/// implements; same error shape.
fn slow_down() -> ResponseTemplate {
    json_answer(400, oauth_error("slow_down", 70016, "OAuth 2.0 device flow error. Polling too fast."))
}

fn device_flow(server: &MockServer, sleeper: Sleeper) -> DeviceCodeFlow {
    let cloud = cloud(server);
    let scopes = vec![cloud.scope("User.Read.All"), cloud.scope("Group.Read.All")];
    DeviceCodeFlow::new(cloud, tenant(), CLIENT_ID, scopes).with_retrier(retrier()).with_sleeper(sleeper)
}

async fn mount_device_authorization(server: &MockServer, expires_in: u64, interval: u64) {
    Mock::given(method("POST"))
        .and(path(DEVICE_CODE_PATH))
        .respond_with(json_answer(200, device_authorization(expires_in, interval)))
        .expect(1)
        .mount(server)
        .await;
}

/// Mounts one answer per poll, in order.
async fn mount_polls(server: &MockServer, answers: Vec<ResponseTemplate>) {
    for answer in answers {
        Mock::given(method("POST")).and(path(TOKEN_PATH)).respond_with(answer).up_to_n_times(1).mount(server).await;
    }
}

#[tokio::test]
async fn start_asks_with_offline_access_and_returns_the_prompt() {
    let server = server().await;
    mount_device_authorization(&server, 900, 5).await;
    let (sleeper, _) = recording_sleeper();
    let flow = device_flow(&server, sleeper);

    let prompt: DeviceCodePrompt = flow.start().await.unwrap();
    assert_eq!(prompt.user_code, "FQK5HW3UF");
    assert_eq!(prompt.verification_uri, "https://microsoft.com/devicelogin");
    assert_eq!(prompt.expires_in, Duration::from_secs(900));
    assert_eq!(prompt.interval, Duration::from_secs(5));
    assert_eq!(prompt.to_string(), DEVICE_MESSAGE);
    assert!(DEVICE_MESSAGE.contains("page https://microsoft.com/devicelogin and enter"));
    let debug = format!("{prompt:?}");
    assert!(!debug.contains(DEVICE_CODE), "{debug}");
    assert!(debug.contains("FQK5HW3UF"), "{debug}");

    let sent = requests_to(&server, DEVICE_CODE_PATH).await;
    let fields = form(&sent[0]);
    assert_eq!(fields["client_id"], CLIENT_ID);
    assert_eq!(
        fields["scope"],
        "https://graph.microsoft.com/User.Read.All https://graph.microsoft.com/Group.Read.All offline_access"
    );
    assert_eq!(fields.len(), 2, "{fields:?}");
}

#[tokio::test]
async fn start_refused_is_typed() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(DEVICE_CODE_PATH))
        .respond_with(json_answer(
            400,
            oauth_error(
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ),
        ))
        .mount(&server)
        .await;
    let (sleeper, _) = recording_sleeper();
    let err = device_flow(&server, sleeper).start().await.unwrap_err();
    assert!(matches!(&err, AuthError::Refused { codes, .. } if codes == &vec![7000218]), "{err:?}");
}

#[tokio::test]
async fn wait_polls_through_pending_and_slow_down_to_the_tokens() {
    let server = server().await;
    mount_device_authorization(&server, 900, 5).await;
    mount_polls(&server, vec![pending(), slow_down(), json_answer(200, device_sign_in())]).await;
    let (sleeper, waits) = recording_sleeper();
    let flow = device_flow(&server, sleeper);

    let prompt = flow.start().await.unwrap();
    let tokens = flow.wait(&prompt).await.unwrap();
    assert_eq!(tokens.access.secret(), "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6Ik5HVEZ2ZEstZnl0aEV1Q");
    assert_eq!(
        tokens.refresh.as_ref().map(|r| r.expose_secret().to_owned()).as_deref(),
        Some("AwABAAAAvPM1KaPlrEqdFSBzjqfTGAMxZGUTdM0t4B4")
    );
    assert_eq!(tokens.scope.as_deref(), Some("User.Read profile openid email"));

    // The first poll goes out at once; then `interval`, then `interval + 5` after slow_down (RFC 8628 §3.5).
    assert_eq!(*waits.lock().unwrap(), vec![Duration::from_secs(5), Duration::from_secs(10)]);
    let polls = requests_to(&server, TOKEN_PATH).await;
    assert_eq!(polls.len(), 3);
    for poll in &polls {
        let fields = form(poll);
        assert_eq!(fields["grant_type"], "urn:ietf:params:oauth:grant-type:device_code");
        assert_eq!(fields["client_id"], CLIENT_ID);
        assert_eq!(fields["device_code"], DEVICE_CODE);
        assert_eq!(fields.len(), 3, "{fields:?}");
    }
}

#[tokio::test]
async fn wait_stops_when_the_user_declines() {
    let server = server().await;
    mount_device_authorization(&server, 900, 5).await;
    let declined = json_answer(
        400,
        oauth_error("authorization_declined", 70000, "The user has declined the authorization request."),
    );
    mount_polls(&server, vec![pending(), declined]).await;
    let (sleeper, waits) = recording_sleeper();
    let flow = device_flow(&server, sleeper);
    let prompt = flow.start().await.unwrap();
    let err = flow.wait(&prompt).await.unwrap_err();
    assert!(matches!(err, AuthError::Declined), "{err:?}");
    assert_eq!(*waits.lock().unwrap(), vec![Duration::from_secs(5)]);
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 2);
}

#[tokio::test]
async fn wait_stops_when_entra_says_the_code_expired() {
    let server = server().await;
    mount_device_authorization(&server, 900, 5).await;
    let expired = json_answer(400, oauth_error("expired_token", 70019, "Verification code expired."));
    mount_polls(&server, vec![pending(), pending(), expired]).await;
    let (sleeper, _) = recording_sleeper();
    let flow = device_flow(&server, sleeper);
    let prompt = flow.start().await.unwrap();
    let err = flow.wait(&prompt).await.unwrap_err();
    assert!(matches!(err, AuthError::CodeExpired), "{err:?}");
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 3);
}

#[tokio::test]
async fn wait_gives_up_once_expires_in_has_passed() {
    let server = server().await;
    // 12 seconds to sign in, polled every 5: polls at 0, 5 and 10 seconds, none after.
    mount_device_authorization(&server, 12, 5).await;
    Mock::given(method("POST")).and(path(TOKEN_PATH)).respond_with(pending()).expect(3).mount(&server).await;
    let (sleeper, waits) = recording_sleeper();
    let flow = device_flow(&server, sleeper);
    let prompt = flow.start().await.unwrap();
    let err = flow.wait(&prompt).await.unwrap_err();
    assert!(matches!(err, AuthError::CodeExpired), "{err:?}");
    assert_eq!(*waits.lock().unwrap(), vec![Duration::from_secs(5), Duration::from_secs(5)]);
}

#[tokio::test]
async fn wait_refuses_a_bad_verification_code() {
    let server = server().await;
    mount_device_authorization(&server, 900, 5).await;
    let bad = json_answer(400, oauth_error("bad_verification_code", 70000, "The device code was not recognized."));
    mount_polls(&server, vec![bad]).await;
    let (sleeper, waits) = recording_sleeper();
    let flow = device_flow(&server, sleeper);
    let prompt = flow.start().await.unwrap();
    let err = flow.wait(&prompt).await.unwrap_err();
    assert!(matches!(&err, AuthError::Refused { error, .. } if error == "bad_verification_code"), "{err:?}");
    assert!(waits.lock().unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------------------------
// Refresh tokens

/// "Refresh the access token" → "Successful response" of "Microsoft identity platform and OAuth 2.0 authorization
/// code flow" (v2-oauth2-auth-code-flow): every answer carries a new refresh token.
fn refreshed(access_token: &str, refresh_token: &str) -> Value {
    json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 3599,
        "scope": "https://graph.microsoft.com/User.Read.All https://graph.microsoft.com/.default",
        "refresh_token": refresh_token,
        "id_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.eyJhdWQiOiIyZDRkMTFhMi1mODE0LTQ2YTctOD"
    })
}

fn refresh_source(server: &MockServer, store: Arc<MemoryTokenStore>) -> RefreshTokenSource {
    let cloud = cloud(server);
    let scopes = vec![cloud.scope("User.Read.All")];
    RefreshTokenSource::new(cloud, tenant(), CLIENT_ID, scopes, store).with_retrier(retrier())
}

async fn stored(store: &MemoryTokenStore) -> Option<String> {
    store.load().await.unwrap().map(|t| t.expose_secret().to_owned())
}

#[tokio::test]
async fn refresh_spends_the_stored_token_and_saves_the_rotated_one() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json_answer(200, refreshed("access-1", "OAAABAAAAiL9Kn2Z27Uub-rotated")))
        .expect(1)
        .mount(&server)
        .await;
    let store = Arc::new(MemoryTokenStore::with(SecretString::from("OAAABAAAAiL9Kn2Z27Uub-original")));
    let source = refresh_source(&server, store.clone());

    let token = source.token().await.unwrap();
    assert_eq!(token.secret(), "access-1");
    assert_eq!(stored(&store).await.as_deref(), Some("OAAABAAAAiL9Kn2Z27Uub-rotated"));
    // Cached: no second request.
    assert_eq!(source.token().await.unwrap().secret(), "access-1");

    let sent = requests_to(&server, TOKEN_PATH).await;
    let fields = form(&sent[0]);
    assert_eq!(fields["grant_type"], "refresh_token");
    assert_eq!(fields["refresh_token"], "OAAABAAAAiL9Kn2Z27Uub-original");
    assert_eq!(fields["client_id"], CLIENT_ID);
    assert_eq!(fields["scope"], "https://graph.microsoft.com/User.Read.All offline_access");
    assert_eq!(fields.len(), 4, "{fields:?}");
    assert!(!format!("{source:?}").contains("OAAABAAAAiL9Kn2Z27Uub"));
}

#[tokio::test]
async fn each_refresh_spends_the_token_the_previous_one_saved() {
    let server = server().await;
    mount_polls(
        &server,
        vec![
            json_answer(200, refreshed("access-1", "refresh-2")),
            json_answer(200, refreshed("access-2", "refresh-3")),
        ],
    )
    .await;
    let store = Arc::new(MemoryTokenStore::with(SecretString::from("refresh-1")));
    let source = refresh_source(&server, store.clone());

    assert_eq!(source.token().await.unwrap().secret(), "access-1");
    source.invalidate().await;
    assert_eq!(source.token().await.unwrap().secret(), "access-2");
    assert_eq!(stored(&store).await.as_deref(), Some("refresh-3"));
    let spent: Vec<String> =
        requests_to(&server, TOKEN_PATH).await.iter().map(|r| form(r)["refresh_token"].clone()).collect();
    assert_eq!(spent, vec!["refresh-1", "refresh-2"]);
}

#[tokio::test]
async fn invalid_grant_means_sign_in_again() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json_answer(
            400,
            oauth_error(
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to inactivity. Send a new \
                 interactive authorization request for this user and resource.",
            ),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let store = Arc::new(MemoryTokenStore::with(SecretString::from("stale-refresh-token")));
    let err = refresh_source(&server, store.clone()).token().await.unwrap_err();
    match &err {
        AuthError::SignInRequired { description } => assert!(description.starts_with("AADSTS70008:"), "{description}"),
        other => panic!("expected SignInRequired, got {other:?}"),
    }
    assert!(!format!("{err:?}{err}").contains("stale-refresh-token"));
    // The refused token is left for an operator to replace; nothing new was saved.
    assert_eq!(stored(&store).await.as_deref(), Some("stale-refresh-token"));
}

#[tokio::test]
async fn no_stored_token_means_not_signed_in_without_a_request() {
    let server = server().await;
    let err = refresh_source(&server, Arc::new(MemoryTokenStore::default())).token().await.unwrap_err();
    assert!(matches!(err, AuthError::NotSignedIn), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json_answer(200, refreshed("access-1", "refresh-2")).set_delay(Duration::from_millis(50)))
        .expect(1)
        .mount(&server)
        .await;
    let store = Arc::new(MemoryTokenStore::with(SecretString::from("refresh-1")));
    let source = Arc::new(refresh_source(&server, store.clone()));

    let (a, b) = tokio::join!(source.token(), source.token());
    assert_eq!(a.unwrap().secret(), "access-1");
    assert_eq!(b.unwrap().secret(), "access-1");
    let more = futures::future::join_all((0..8).map(|_| source.token())).await;
    assert!(more.iter().all(|t| t.as_ref().unwrap().secret() == "access-1"));
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 1);
    assert_eq!(stored(&store).await.as_deref(), Some("refresh-2"));
}

#[tokio::test]
async fn concurrent_callers_on_tasks_share_one_refresh() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json_answer(200, refreshed("access-1", "refresh-2")).set_delay(Duration::from_millis(50)))
        .expect(1)
        .mount(&server)
        .await;
    let store = Arc::new(MemoryTokenStore::with(SecretString::from("refresh-1")));
    let source = Arc::new(refresh_source(&server, store));
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { source.token().await.map(|t| t.secret().to_owned()) })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "access-1");
    }
}

#[tokio::test]
async fn a_device_code_sign_in_hands_over_to_the_refresh_source() {
    let server = server().await;
    mount_device_authorization(&server, 900, 5).await;
    mount_polls(&server, vec![json_answer(200, device_sign_in())]).await;
    let (sleeper, _) = recording_sleeper();
    let flow = device_flow(&server, sleeper);
    let prompt = flow.start().await.unwrap();
    let tokens = flow.wait(&prompt).await.unwrap();

    let store = Arc::new(MemoryTokenStore::default());
    let cloud = cloud(&server);
    let scopes = vec![cloud.scope("User.Read.All")];
    let source = RefreshTokenSource::from_sign_in(tokens, cloud, tenant(), CLIENT_ID, scopes, store.clone())
        .await
        .unwrap()
        .with_retrier(retrier());
    assert_eq!(stored(&store).await.as_deref(), Some("AwABAAAAvPM1KaPlrEqdFSBzjqfTGAMxZGUTdM0t4B4"));
    // The sign-in's access token is served from the cache: the only token request so far is the poll.
    assert_eq!(
        source.token().await.unwrap().secret(),
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6Ik5HVEZ2ZEstZnl0aEV1Q"
    );
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 1);

    // After a 401, the next token comes from the saved refresh token.
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json_answer(200, refreshed("access-2", "refresh-2")))
        .expect(1)
        .mount(&server)
        .await;
    source.invalidate().await;
    assert_eq!(source.token().await.unwrap().secret(), "access-2");
    let polls = requests_to(&server, TOKEN_PATH).await;
    assert_eq!(form(&polls[1])["refresh_token"], "AwABAAAAvPM1KaPlrEqdFSBzjqfTGAMxZGUTdM0t4B4");
    assert_eq!(stored(&store).await.as_deref(), Some("refresh-2"));
}
