//! Google's OAuth 2.0 token endpoint for service accounts, and how the Directory API checks a bearer token.
//!
//! The grant follows "Using OAuth 2.0 for Server to Server Applications"
//! (<https://developers.google.com/identity/protocols/oauth2/service-account>), "Preparing to make an authorized
//! API call" → "HTTP/REST": `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`, the JWT
//! header `{"alg":"RS256","typ":"JWT"}`, the claim set `iss`, `scope`, `aud` (the token endpoint), `exp`, `iat`
//! ("a maximum of 1 hour after the issued time") and `sub` for domain-wide delegation. Errors are
//! `{"error","error_description"}`, with the descriptions Google sends: `invalid_grant` "Invalid JWT Signature.",
//! "Invalid email or User ID" (an unknown `sub`), "Invalid JWT: Token must be a short-lived token (60 minutes) and
//! in a reasonable timeframe. Check your iat and exp values in the JWT claim.", and `401 unauthorized_client`
//! "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the
//! scopes requested." when domain-wide delegation does not cover the scopes.

use super::ApiError;
use super::FakeGoogle;
use super::state::{State, TokenRec};
use axum::Router;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::UNIX_EPOCH;

/// The JWT bearer grant type.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Clock skew the endpoint tolerates either way.
const SKEW: u64 = 300;

pub(super) fn router(fake: FakeGoogle) -> Router {
    Router::new().route("/token", post(token)).with_state(fake)
}

/// The DER of the RSA public key of a PKCS #8 PEM private key (`None` if it is not one).
pub(super) fn public_key_der(pem: &str) -> Option<Vec<u8>> {
    let mut reader = pem.as_bytes();
    loop {
        match rustls_pemfile::read_one(&mut reader) {
            Ok(Some(rustls_pemfile::Item::Pkcs8Key(der))) => {
                let pair = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).ok()?;
                return Some(ring::signature::KeyPair::public_key(&pair).as_ref().to_vec());
            }
            Ok(Some(_)) => continue,
            _ => return None,
        }
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({"error": error, "error_description": description}))).into_response()
}

fn invalid_grant(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

fn segment(text: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn token(AxState(fake): AxState<FakeGoogle>, body: axum::body::Bytes) -> Response {
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    match form.get("grant_type").map(String::as_str) {
        Some(JWT_BEARER) => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("Invalid grant_type: {other}"),
            );
        }
        None => {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Missing required parameter: grant_type");
        }
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Missing required parameter: assertion");
    };
    let parts: Vec<&str> = assertion.split('.').collect();
    let [h, c, s] = parts.as_slice() else { return invalid_grant("Invalid JWT: Malformed.") };
    let (Some(header), Some(claims)) = (segment(h), segment(c)) else {
        return invalid_grant("Invalid JWT: Malformed.");
    };
    if header["alg"] != "RS256" {
        return invalid_grant("Invalid JWT Signature.");
    }
    fake.with_state(|st| grant(st, &format!("{h}.{c}"), s, &header, &claims))
}

fn grant(st: &mut State, signed: &str, signature: &str, header: &Value, claims: &Value) -> Response {
    let iss = claims["iss"].as_str().unwrap_or_default().to_lowercase();
    let Some(account) = st.service_accounts.get(&iss).cloned() else {
        return invalid_grant("Invalid grant: account not found");
    };
    // A `kid` that is not the account's key cannot be verified with it.
    if header["kid"].as_str().is_some_and(|kid| kid != account.key_id) {
        return invalid_grant("Invalid JWT Signature.");
    }
    let verified = URL_SAFE_NO_PAD.decode(signature).ok().zip(account.public_key.as_ref()).is_some_and(|(sig, key)| {
        ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
            .verify(signed.as_bytes(), &sig)
            .is_ok()
    });
    if !verified {
        return invalid_grant("Invalid JWT Signature.");
    }
    // The endpoint checks `aud` against its own address; the fake accepts any URL ending in `/token` on this
    // server, as it does not know the address the test reached it by.
    if !claims["aud"].as_str().is_some_and(|a| a.ends_with("/token")) {
        return invalid_grant("Invalid JWT: Failed audience check.");
    }
    let now = st.now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (Some(iat), Some(exp)) = (claims["iat"].as_u64(), claims["exp"].as_u64()) else {
        return invalid_grant("Invalid JWT: iat (issued at) or exp (expiration time) is not set.");
    };
    if exp <= iat || exp - iat > 3600 || iat > now + SKEW || exp + SKEW < now {
        return invalid_grant(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your \
             iat and exp values in the JWT claim.",
        );
    }
    let scopes: BTreeSet<String> =
        claims["scope"].as_str().unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    if scopes.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        );
    }
    let Some(sub) = claims["sub"].as_str() else {
        // Without `sub` the token would be the service account's own, which the Directory API does not accept for
        // user data; the fake issues none so that a missing `sub` is found at once.
        return invalid_grant("Invalid email or User ID");
    };
    let Some(subject) = st.user_by_email(sub).map(|u| u.id.clone()) else {
        return invalid_grant("Invalid email or User ID");
    };
    let authorised = st.delegations.get(&account.client_id).is_some_and(|granted| scopes.is_subset(granted));
    if !authorised {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of \
             the scopes requested.",
        );
    }
    let lifetime = st.settings.token_lifetime;
    let token = format!("ya29.fake-{}", uuid::Uuid::new_v4().simple());
    let expires_at = st.now() + lifetime;
    st.tokens.insert(token.clone(), TokenRec { subject, scopes, expires_at });
    axum::Json(json!({"access_token": token, "expires_in": lifetime.as_secs(), "token_type": "Bearer"})).into_response()
}

/// Checks the bearer token of a Directory API request: 401 `authError` "Invalid Credentials" when missing,
/// unknown or expired; 403 `insufficientPermissions` when its scopes hold none of `accepted`; 403 `forbidden` "Not
/// Authorized to access this resource/api" when the user it acts for is not an administrator; 403
/// `userRateLimitExceeded` beyond the per-user rate. Returns the acting user's id.
pub(super) fn authenticate(st: &mut State, headers: &HeaderMap, accepted: &[&str]) -> Result<String, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let now = st.now();
    let Some(rec) = token.and_then(|t| st.tokens.get(&t).cloned()).filter(|r| r.expires_at > now) else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "authError", "Invalid Credentials"));
    };
    if !accepted.iter().any(|s| rec.scopes.contains(*s)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        ));
    }
    if !st.users.get(&rec.subject).is_some_and(|u| u.is_admin && !u.suspended) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Not Authorized to access this resource/api"));
    }
    if !st.charge(&rec.subject) {
        // Google sends no Retry-After here; "Limits and quotas" asks for exponential backoff.
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "userRateLimitExceeded",
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service \
             'admin.googleapis.com'.",
        ));
    }
    Ok(rec.subject)
}
