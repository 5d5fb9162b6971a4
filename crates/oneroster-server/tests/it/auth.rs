//! Authentication of reads: bearer tokens and OAuth 1.0a signatures.

use crate::support::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use oneroster_model::Roster;
use oneroster_server::{
    AppState, ServerConfig, SignatureMethod, SignedTokenStore, Snapshot, SnapshotHandle, StaticClients, app,
    oauth1_authorization, signature_base_string,
};
use std::sync::atomic::{AtomicU32, Ordering};

fn www_authenticate(response: &Resp) -> Vec<String> {
    response.headers.get_all("www-authenticate").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

#[track_caller]
fn assert_unauthorized(response: &Resp) {
    assert_imsx(response, StatusCode::UNAUTHORIZED, "unauthorisedrequest");
    assert!(!www_authenticate(response).is_empty(), "no WWW-Authenticate");
}

#[tokio::test]
async fn a_read_without_credentials_is_401_with_challenges() {
    let app = TestApp::new(school_roster()).await;
    for path in ["/users", "/users/s-1", "/schools/school-1/classes/class-ma1/students", "/users/nobody"] {
        let response = app.get_with(path, None).await;
        assert_unauthorized(&response);
        let challenges = www_authenticate(&response);
        assert_eq!(challenges, [r#"Bearer realm="OneRoster""#, r#"OAuth realm="OneRoster""#]);
        assert!(!response.text().contains("s-1\""), "no data leaks");
    }
}

#[tokio::test]
async fn forged_and_malformed_tokens_are_401() {
    let app = TestApp::new(school_roster()).await;
    let forged = format!("Bearer {}x", app.token);
    for authorization in [&forged[..], "Bearer ", "Bearer not-a-token", "bearer", "Basic d2hvOnNlY3JldA==", "Token abc"]
    {
        let response = app.get_with("/users", Some(authorization)).await;
        assert_unauthorized(&response);
        assert_ne!(response.status, StatusCode::FORBIDDEN);
    }
    let response = app.get_with("/users", Some("Bearer not-a-token")).await;
    assert_eq!(
        www_authenticate(&response),
        [r#"Bearer realm="OneRoster", error="invalid_token", error_description="the access token is not valid""#]
    );
    // The scheme is case-insensitive.
    let response = app.get_with("/users", Some(&format!("bearer {}", app.token))).await;
    assert_eq!(response.status, StatusCode::OK);
}

#[tokio::test]
async fn tokens_expire() {
    let app = TestApp::new(school_roster()).await;
    app.clock.advance(chrono::Duration::seconds(3599));
    assert_eq!(app.get("/users").await.status, StatusCode::OK);
    app.clock.advance(chrono::Duration::seconds(1));
    let response = app.get("/users").await;
    assert_unauthorized(&response);
    assert!(response.status_info().description.unwrap().contains("expired"));
    assert!(www_authenticate(&response)[0].contains("error=\"invalid_token\""));
    // A new token works.
    let token = app.fetch_token().await;
    let response = app.get_with("/users", Some(&format!("Bearer {token}"))).await;
    assert_eq!(response.status, StatusCode::OK);
}

#[tokio::test]
async fn the_token_lifetime_is_configurable() {
    let app = TestApp::with(school_roster(), config().token_ttl(std::time::Duration::from_secs(60))).await;
    let response = app
        .post_token(&format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={SECRET}"), None)
        .await;
    assert_eq!(response.json()["expires_in"], 60);
    app.clock.advance(chrono::Duration::seconds(61));
    assert_unauthorized(&app.get("/users").await);
}

#[tokio::test]
async fn signed_tokens_are_accepted_by_every_server_sharing_the_key() {
    let server = |key: &[u8]| {
        let state = AppState::builder(SnapshotHandle::new(Snapshot::from_roster(1, school_roster()).unwrap()))
            .config(config())
            .clients(StaticClients::new().with_hash(CLIENT_ID, cheap_hash(SECRET)))
            .tokens(SignedTokenStore::new(key))
            .build();
        app(state)
    };
    let (a, b, other) = (server(b"shared key"), server(b"shared key"), server(b"another key"));
    let request = Request::post("/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={SECRET}")))
        .unwrap();
    let token = send(&a, request).await.json()["access_token"].as_str().unwrap().to_owned();
    let read = |token: &str| {
        Request::get("/ims/oneroster/v1p1/users")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&b, read(&token)).await.status, StatusCode::OK);
    assert_eq!(send(&other, read(&token)).await.status, StatusCode::UNAUTHORIZED);
    let mut tampered = token.clone();
    tampered.insert(10, 'A');
    assert_eq!(send(&b, read(&tampered)).await.status, StatusCode::UNAUTHORIZED);
}

static NONCE: AtomicU32 = AtomicU32::new(0);

fn nonce() -> String {
    format!("nonce-{}", NONCE.fetch_add(1, Ordering::Relaxed))
}

impl TestApp {
    async fn get_signed(
        &self,
        path_and_query: &str,
        method: SignatureMethod,
        secret: &str,
        offset: i64,
        nonce: &str,
    ) -> Resp {
        let timestamp = self.clock_now().timestamp() + offset;
        let header = oauth1_authorization(
            "GET",
            &format!("{BASE}{path_and_query}"),
            CONSUMER_KEY,
            secret,
            method,
            timestamp,
            nonce,
        )
        .unwrap();
        self.get_with(path_and_query, Some(&header)).await
    }

    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use oneroster_server::Clock as _;
        self.clock.now()
    }
}

#[tokio::test]
async fn oauth1_hmac_sha1_and_sha256_signatures_are_accepted() {
    let app = TestApp::new(school_roster()).await;
    for method in [SignatureMethod::HmacSha1, SignatureMethod::HmacSha256] {
        for path in [
            "/users",
            "/users/s-1",
            "/users?filter=role%3D%27student%27+AND+status%3D%27active%27&limit=1&fields=sourcedId",
        ] {
            let response = app.get_signed(path, method, CONSUMER_SECRET, 0, &nonce()).await;
            assert_eq!(response.status, StatusCode::OK, "{method:?} {path}: {}", response.text());
        }
    }
    let response = app
        .get_signed(
            "/users?filter=role%3D%27student%27+AND+status%3D%27active%27&limit=1",
            SignatureMethod::HmacSha1,
            CONSUMER_SECRET,
            0,
            &nonce(),
        )
        .await;
    assert_eq!(response.ids("users"), ["s-1"]);
    // The Link header carries no OAuth parameters.
    assert!(!response.header("link").contains("oauth_"));
}

#[tokio::test]
async fn a_bad_oauth1_signature_is_401() {
    let app = TestApp::new(school_roster()).await;
    let response = app.get_signed("/users", SignatureMethod::HmacSha1, "wrong secret", 0, &nonce()).await;
    assert_unauthorized(&response);
    assert_eq!(www_authenticate(&response), [r#"OAuth realm="OneRoster", oauth_problem="signature_invalid""#]);

    // Signed for one URL, sent to another.
    let header = oauth1_authorization(
        "GET",
        &format!("{BASE}/users?limit=1"),
        CONSUMER_KEY,
        CONSUMER_SECRET,
        SignatureMethod::HmacSha256,
        app.clock_now().timestamp(),
        &nonce(),
    )
    .unwrap();
    assert_unauthorized(&app.get_with("/users?limit=2", Some(&header)).await);

    // An unknown consumer is told the same thing as a bad signature.
    let header = oauth1_authorization(
        "GET",
        &format!("{BASE}/users"),
        "stranger",
        CONSUMER_SECRET,
        SignatureMethod::HmacSha1,
        app.clock_now().timestamp(),
        &nonce(),
    )
    .unwrap();
    let response = app.get_with("/users", Some(&header)).await;
    assert_unauthorized(&response);
    assert!(response.status_info().description.unwrap().contains("consumer key or signature"));

    // Malformed and unsupported requests.
    let good = oauth1_authorization(
        "GET",
        &format!("{BASE}/users"),
        CONSUMER_KEY,
        CONSUMER_SECRET,
        SignatureMethod::HmacSha1,
        app.clock_now().timestamp(),
        &nonce(),
    )
    .unwrap();
    for header in [
        good.replace("HMAC-SHA1", "PLAINTEXT"),
        good.replace("oauth_nonce", "oauth_nonsense"),
        good.replace("oauth_version=\"1.0\"", "oauth_version=\"2.0\""),
        good.replace("oauth_timestamp=\"", "oauth_timestamp=\"x"),
        format!("{good}, oauth_nonce=\"again\""),
        "OAuth garbage".to_owned(),
        "OAuth".to_owned(),
    ] {
        assert_unauthorized(&app.get_with("/users", Some(&header)).await);
    }
}

#[tokio::test]
async fn a_replayed_nonce_is_401() {
    let app = TestApp::new(school_roster()).await;
    let header = oauth1_authorization(
        "GET",
        &format!("{BASE}/users"),
        CONSUMER_KEY,
        CONSUMER_SECRET,
        SignatureMethod::HmacSha1,
        app.clock_now().timestamp(),
        "once",
    )
    .unwrap();
    assert_eq!(app.get_with("/users", Some(&header)).await.status, StatusCode::OK);
    app.clock.advance(chrono::Duration::seconds(120));
    let replay = app.get_with("/users", Some(&header)).await;
    assert_unauthorized(&replay);
    assert_eq!(www_authenticate(&replay), [r#"OAuth realm="OneRoster", oauth_problem="nonce_used""#]);
    // The same nonce with another timestamp is another request.
    let other = app.get_signed("/users", SignatureMethod::HmacSha1, CONSUMER_SECRET, 0, "once").await;
    assert_eq!(other.status, StatusCode::OK);
}

#[tokio::test]
async fn a_stale_or_future_timestamp_is_401() {
    let app = TestApp::new(school_roster()).await;
    for offset in [-301, 301, -100_000] {
        let response = app.get_signed("/users", SignatureMethod::HmacSha1, CONSUMER_SECRET, offset, &nonce()).await;
        assert_unauthorized(&response);
        assert_eq!(www_authenticate(&response), [r#"OAuth realm="OneRoster", oauth_problem="timestamp_refused""#]);
    }
    for offset in [-300, 300] {
        let response = app.get_signed("/users", SignatureMethod::HmacSha1, CONSUMER_SECRET, offset, &nonce()).await;
        assert_eq!(response.status, StatusCode::OK, "{offset}");
    }
    let narrow =
        TestApp::with(school_roster(), config().oauth1_timestamp_window(std::time::Duration::from_secs(10))).await;
    let response = narrow.get_signed("/users", SignatureMethod::HmacSha256, CONSUMER_SECRET, -11, &nonce()).await;
    assert_unauthorized(&response);
}

#[tokio::test]
async fn oauth1_parameters_may_travel_in_the_query_string() {
    let app = TestApp::new(school_roster()).await;
    let timestamp = app.clock_now().timestamp().to_string();
    let mut params: Vec<(String, String)> = vec![
        ("limit".into(), "2".into()),
        ("oauth_consumer_key".into(), CONSUMER_KEY.into()),
        ("oauth_nonce".into(), nonce()),
        ("oauth_signature_method".into(), "HMAC-SHA1".into()),
        ("oauth_timestamp".into(), timestamp),
    ];
    let base = signature_base_string("GET", &format!("{BASE}/users"), &params);
    // Computed here independently: key = encoded secret + "&".
    let key =
        format!("{}&", percent_encoding::utf8_percent_encode(CONSUMER_SECRET, percent_encoding::NON_ALPHANUMERIC));
    let key = key.replace("%2D", "-");
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(base.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    params.push(("oauth_signature".into(), signature));
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)))
        .collect();
    let response = app.get_with(&format!("/users?{}", query.join("&")), None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.ids("users"), ["a-1", "p-1"]);
    assert!(!response.links()["next"].contains("oauth_"));
}

#[test]
fn the_signature_base_string_follows_rfc_5849() {
    // RFC 5849 §3.4.1.1.
    let params: Vec<(String, String)> = [
        ("b5", "=%3D"),
        ("a3", "a"),
        ("c@", ""),
        ("a2", "r b"),
        ("oauth_consumer_key", "9djdj82h48djs9d2"),
        ("oauth_token", "kkk9d7dh3k39sjv7"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131201"),
        ("oauth_nonce", "7d8f3e4a"),
        ("c2", ""),
        ("a3", "2 q"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(
        signature_base_string("post", "http://example.com/request", &params),
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D\
         %26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1\
         %26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
    );
}

#[tokio::test]
async fn repeated_oauth1_failures_are_rate_limited() {
    let app = TestApp::new(school_roster()).await;
    for _ in 0..10 {
        let response = app.get_signed("/users", SignatureMethod::HmacSha1, "guess", 0, &nonce()).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    let response = app.get_signed("/users", SignatureMethod::HmacSha1, CONSUMER_SECRET, 0, &nonce()).await;
    assert_imsx(&response, StatusCode::TOO_MANY_REQUESTS, "server_busy");
    assert_eq!(response.header("retry-after"), "60");
    // Bearer tokens are not affected, and the window ends.
    assert_eq!(app.get("/users").await.status, StatusCode::OK);
    app.clock.advance(chrono::Duration::seconds(60));
    let response = app.get_signed("/users", SignatureMethod::HmacSha1, CONSUMER_SECRET, 0, &nonce()).await;
    assert_eq!(response.status, StatusCode::OK);
}

#[tokio::test]
async fn oauth1_is_refused_when_no_consumer_is_configured() {
    let state = AppState::builder(SnapshotHandle::new(Snapshot::from_roster(1, Roster::default()).unwrap()))
        .config(ServerConfig::default())
        .build();
    let router = app(state);
    let header = oauth1_authorization(
        "GET",
        "https://localhost/ims/oneroster/v1p1/users",
        CONSUMER_KEY,
        CONSUMER_SECRET,
        SignatureMethod::HmacSha1,
        chrono::Utc::now().timestamp(),
        "n",
    )
    .unwrap();
    let response = send(
        &router,
        Request::get("/ims/oneroster/v1p1/users").header("authorization", header).body(Body::empty()).unwrap(),
    )
    .await;
    assert_unauthorized(&response);
    assert!(response.status_info().description.unwrap().contains("not enabled"));
}
