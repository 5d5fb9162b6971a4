//! The JWT bearer grant of a service account with domain-wide delegation, against the fake token endpoint that
//! verifies the assertion's signature.

use crate::common::{client, key};
use google_directory_client::ServiceAccountKey;
use google_directory_client::auth::{DelegatedServiceAccount, SCOPES, TokenSource};
use testkit::google::sample;

#[tokio::test]
async fn a_delegated_token_is_granted_and_cached() {
    let (fake, domain) = sample::fake();
    let server = fake.start().await.unwrap();
    let tokens = DelegatedServiceAccount::new(key(&server, &fake), &domain.admin_email, SCOPES);
    let first = tokens.token().await.unwrap();
    let second = tokens.token().await.unwrap();
    assert_eq!(first.secret(), second.secret(), "the cached token is reused");
    assert_eq!(fake.counters().snapshot().endpoint("POST /token"), 1);
    tokens.invalidate().await;
    let third = tokens.token().await.unwrap();
    assert_ne!(first.secret(), third.secret());
}

#[tokio::test]
async fn the_assertion_carries_the_documented_claims() {
    let (fake, domain) = sample::fake();
    let server = fake.start().await.unwrap();
    let key = key(&server, &fake);
    let tokens = DelegatedServiceAccount::new(key.clone(), &domain.admin_email, SCOPES);
    use base64::Engine as _;
    use secrecy::ExposeSecret;
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let jwt = tokens.assertion(now).unwrap();
    let parts: Vec<&str> = jwt.expose_secret().split('.').collect();
    assert_eq!(parts.len(), 3);
    let decode = |s: &str| -> serde_json::Value {
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap()
    };
    let header = decode(parts[0]);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], sample::SERVICE_ACCOUNT_KEY_ID);
    let claims = decode(parts[1]);
    assert_eq!(claims["iss"], sample::SERVICE_ACCOUNT_EMAIL);
    assert_eq!(claims["sub"], domain.admin_email.as_str());
    assert_eq!(claims["aud"], key.token_uri().as_str());
    assert_eq!(claims["scope"], SCOPES.join(" "));
    assert_eq!(claims["iat"], 1_700_000_000u64);
    assert_eq!(claims["exp"], 1_700_003_600u64);
}

#[tokio::test]
async fn a_key_the_service_account_does_not_have_is_refused() {
    let (fake, domain) = sample::fake();
    let server = fake.start().await.unwrap();
    let rogue = ServiceAccountKey::from_json(&sample::key_json(
        &testkit::google::FakeGoogle::token_url(&server),
        sample::ROGUE_KEY_PEM,
    ))
    .unwrap();
    let err = DelegatedServiceAccount::new(rogue, &domain.admin_email, SCOPES).token().await.unwrap_err();
    assert!(err.is_key_refused(), "{err}");
    assert!(err.to_string().contains("Invalid JWT Signature"), "{err}");
}

#[tokio::test]
async fn missing_delegation_and_unknown_subjects_are_told_apart() {
    let (fake, domain) = sample::fake();
    let server = fake.start().await.unwrap();
    let err = DelegatedServiceAccount::new(key(&server, &fake), "nobody@trust.example.org", SCOPES)
        .token()
        .await
        .unwrap_err();
    assert!(err.is_unknown_subject(), "{err}");
    fake.revoke_delegation(sample::SERVICE_ACCOUNT_CLIENT_ID);
    let err = DelegatedServiceAccount::new(key(&server, &fake), &domain.admin_email, SCOPES).token().await.unwrap_err();
    assert!(err.is_delegation_missing(), "{err}");
    // Delegation of the user scope alone does not cover the organisational unit scope.
    fake.authorise_delegation(sample::SERVICE_ACCOUNT_CLIENT_ID, [SCOPES[0]]);
    let err = DelegatedServiceAccount::new(key(&server, &fake), &domain.admin_email, SCOPES).token().await.unwrap_err();
    assert!(err.is_delegation_missing(), "{err}");
}

#[tokio::test]
async fn an_expired_token_is_replaced_after_a_401() {
    let (fake, domain) = sample::fake();
    let server = fake.start().await.unwrap();
    let (client, _) = client(&server, &fake, &domain.admin_email);
    client.org_units().await.unwrap();
    fake.revoke_tokens();
    client.org_units().await.unwrap();
    assert_eq!(fake.counters().snapshot().endpoint("POST /token"), 2);
}

#[test]
fn the_key_never_shows_in_debug_and_bad_keys_name_the_field() {
    let json = sample::key_json("https://oauth2.googleapis.com/token", sample::SERVICE_ACCOUNT_KEY_PEM);
    let key = ServiceAccountKey::from_json(&json).unwrap();
    let debug = format!("{key:?}");
    assert!(!debug.contains("PRIVATE KEY") && !debug.contains("MII"), "{debug}");
    assert!(debug.contains(sample::SERVICE_ACCOUNT_EMAIL));
    assert_eq!(key.client_id(), Some(sample::SERVICE_ACCOUNT_CLIENT_ID));

    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["private_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into();
    let err = ServiceAccountKey::from_json(&v.to_string()).unwrap_err().to_string();
    assert!(err.contains("private_key") && !err.contains("AAAA"), "{err}");
    v["type"] = "authorized_user".into();
    assert!(ServiceAccountKey::from_json(&v.to_string()).unwrap_err().to_string().contains("`type`"));
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v.as_object_mut().unwrap().remove("client_email");
    assert!(ServiceAccountKey::from_json(&v.to_string()).unwrap_err().to_string().contains("client_email"));
}
