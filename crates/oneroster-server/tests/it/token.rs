//! The OAuth 2.0 token endpoint and the credential helpers.

use crate::support::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use oneroster_server::{generate_client_secret, hash_client_secret, verify_client_secret};

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

#[track_caller]
fn assert_oauth_error(response: &Resp, status: StatusCode, error: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.json()["error"], error, "{}", response.text());
    assert!(response.json()["error_description"].is_string());
    assert_eq!(response.header("cache-control"), "no-store");
}

#[tokio::test]
async fn form_credentials_get_a_bearer_token() {
    let app = TestApp::new(school_roster()).await;
    let response = app
        .post_token(
            &format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={SECRET}&scope=x"),
            None,
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.header("content-type"), "application/json");
    assert_eq!(response.header("cache-control"), "no-store");
    assert_eq!(response.header("pragma"), "no-cache");
    let json = response.json();
    assert_eq!(json["token_type"], "bearer");
    assert_eq!(json["expires_in"], 3600);
    let token = json["access_token"].as_str().unwrap();
    assert!(token.len() >= 43, "{token}");
    assert_ne!(token, app.token, "every token is new");
    assert_eq!(app.get_with("/orgs", Some(&format!("Bearer {token}"))).await.status, StatusCode::OK);
}

#[tokio::test]
async fn http_basic_credentials_get_a_bearer_token() {
    let app = TestApp::new(school_roster()).await;
    let response = app.post_token("grant_type=client_credentials", Some(&basic(CLIENT_ID, SECRET))).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let token = response.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get_with("/users", Some(&format!("Bearer {token}"))).await.status, StatusCode::OK);
    // A client_id field that agrees with Basic is allowed; the scheme name is case-insensitive.
    let response = app
        .post_token(
            &format!("grant_type=client_credentials&client_id={CLIENT_ID}"),
            Some(&basic(CLIENT_ID, SECRET).replace("Basic", "basic")),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
}

#[tokio::test]
async fn a_wrong_secret_or_unknown_client_is_invalid_client() {
    let app = TestApp::new(school_roster()).await;
    for response in [
        app.post_token(&format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret=nope"), None).await,
        app.post_token("grant_type=client_credentials&client_id=Stranger&client_secret=nope", None).await,
        app.post_token("grant_type=client_credentials", Some(&basic(CLIENT_ID, "nope"))).await,
        app.post_token("grant_type=client_credentials", None).await,
        app.post_token(&format!("grant_type=client_credentials&client_id={CLIENT_ID}"), None).await,
    ] {
        assert_oauth_error(&response, StatusCode::UNAUTHORIZED, "invalid_client");
        assert_eq!(response.header("www-authenticate"), r#"Basic realm="OneRoster""#);
        assert!(!response.text().contains(SECRET));
    }
}

#[tokio::test]
async fn malformed_token_requests_are_invalid_request_or_unsupported_grant_type() {
    let app = TestApp::new(school_roster()).await;
    let creds = format!("client_id={CLIENT_ID}&client_secret={SECRET}");
    assert_oauth_error(&app.post_token(&creds, None).await, StatusCode::BAD_REQUEST, "invalid_request");
    assert_oauth_error(
        &app.post_token(&format!("grant_type=password&{creds}"), None).await,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
    );
    assert_oauth_error(
        &app.post_token(&format!("grant_type=client_credentials&grant_type=client_credentials&{creds}"), None).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    // Two authentication methods at once.
    assert_oauth_error(
        &app.post_token(
            &format!("grant_type=client_credentials&client_secret={SECRET}"),
            Some(&basic(CLIENT_ID, SECRET)),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    assert_oauth_error(
        &app.post_token("grant_type=client_credentials&client_id=Other", Some(&basic(CLIENT_ID, SECRET))).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    assert_oauth_error(
        &app.post_token("grant_type=client_credentials", Some("Basic !!!not-base64")).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    // Not a form.
    let request = Request::post("/oauth/token")
        .header("content-type", "application/json")
        .body(Body::from(format!(r#"{{"grant_type":"client_credentials","client_id":"{CLIENT_ID}"}}"#)))
        .unwrap();
    assert_oauth_error(&send(&app.router, request).await, StatusCode::BAD_REQUEST, "invalid_request");
    // Only POST.
    let request = Request::get("/oauth/token").body(Body::empty()).unwrap();
    assert_eq!(send(&app.router, request).await.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn failed_client_authentications_are_rate_limited() {
    let app = TestApp::new(school_roster()).await;
    let wrong = format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret=guess");
    for _ in 0..10 {
        assert_eq!(app.post_token(&wrong, None).await.status, StatusCode::UNAUTHORIZED);
    }
    // Even the right secret is refused now, for this client from this address.
    let right = format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={SECRET}");
    let response = app.post_token(&right, None).await;
    assert_oauth_error(&response, StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable");
    assert_eq!(response.header("retry-after"), "60");
    app.clock.advance(chrono::Duration::seconds(45));
    assert_eq!(app.post_token(&right, None).await.header("retry-after"), "15");
    // Another client id is counted apart.
    let other = app.post_token("grant_type=client_credentials&client_id=Other&client_secret=x", None).await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
    // Issued tokens keep working, and the window ends.
    assert_eq!(app.get("/users").await.status, StatusCode::OK);
    app.clock.advance(chrono::Duration::seconds(15));
    assert_eq!(app.post_token(&right, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_failure_limit_is_configurable() {
    let app = TestApp::with(school_roster(), config().auth_failure_limit(2, std::time::Duration::from_secs(300))).await;
    let wrong = format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret=guess");
    for _ in 0..2 {
        assert_eq!(app.post_token(&wrong, None).await.status, StatusCode::UNAUTHORIZED);
    }
    let response = app.post_token(&wrong, None).await;
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.header("retry-after"), "300");
}

#[test]
fn secrets_are_random_base64url_and_hash_with_argon2id() {
    let a = generate_client_secret().unwrap();
    let b = generate_client_secret().unwrap();
    assert_ne!(a, b);
    assert_eq!(a.expose().len(), 43);
    assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    assert_eq!(format!("{a:?}"), "ClientSecret([redacted])");

    let hash = hash_client_secret(a.expose()).unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(verify_client_secret(a.expose(), &hash));
    assert!(!verify_client_secret(b.expose(), &hash));
    assert!(!verify_client_secret(a.expose(), "not a hash"));
    assert!(verify_client_secret(SECRET, &cheap_hash(SECRET)));
}
