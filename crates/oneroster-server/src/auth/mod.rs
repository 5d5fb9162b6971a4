//! Authentication: bearer tokens from the OAuth 2.0 client-credentials token endpoint, and OAuth 1.0a HMAC
//! signatures.

pub(crate) mod clients;
pub(crate) mod limits;
pub(crate) mod oauth1;
pub(crate) mod tokens;

use crate::auth::clients::verify_client_secret;
use crate::auth::tokens::TokenStatus;
use crate::error::{AuthFailure, Error, TokenError};
use crate::state::AppState;
use crate::util::form_decode;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::net::SocketAddr;
use std::sync::OnceLock;

/// Who made an authenticated request; handlers find it in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The OAuth 2.0 client id or OAuth 1.0a consumer key.
    pub client_id: String,
}

/// The address a request came from, for rate limits: the first `X-Forwarded-For` entry when forwarding headers
/// are trusted, else the peer address (when the server was started with connect info), else `unknown`.
pub(crate) fn client_ip(state: &AppState, parts: &Parts) -> String {
    if state.config().trust_forwarded_headers
        && let Some(first) = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    {
        return first.to_owned();
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |ConnectInfo(addr)| addr.ip().to_string())
}

/// Middleware: lets a request through only with a valid bearer token or OAuth 1.0a signature.
pub(crate) async fn require_auth(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    match authenticate(&state, &parts) {
        Ok(client_id) => {
            parts.extensions.insert(Authenticated { client_id });
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => e.into_response(),
    }
}

fn authenticate(state: &AppState, parts: &Parts) -> Result<String, Error> {
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        let signed_query = parts.uri.query().is_some_and(|q| q.split('&').any(|p| p.starts_with("oauth_signature=")));
        return if signed_query {
            oauth1::verify(state, parts, None)
        } else {
            Err(Error::Unauthorized(AuthFailure::Missing))
        };
    };
    if values.next().is_some() {
        return Err(Error::Unauthorized(AuthFailure::UnsupportedScheme));
    }
    let value = value.to_str().map_err(|_| Error::Unauthorized(AuthFailure::UnsupportedScheme))?.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        let now = state.clock().now();
        match state.tokens().check(rest.trim(), now) {
            TokenStatus::Valid { client_id } => Ok(client_id),
            TokenStatus::Expired => Err(Error::Unauthorized(AuthFailure::ExpiredToken)),
            TokenStatus::Invalid => Err(Error::Unauthorized(AuthFailure::InvalidToken)),
        }
    } else if scheme.eq_ignore_ascii_case("oauth") {
        let params = oauth1::parse_header(rest).map_err(Error::Unauthorized)?;
        oauth1::verify(state, parts, Some(params))
    } else {
        Err(Error::Unauthorized(AuthFailure::UnsupportedScheme))
    }
}

/// The largest token request body read.
const MAX_TOKEN_BODY: usize = 16 * 1024;

/// `POST` [`TOKEN_PATH`](crate::TOKEN_PATH): the OAuth 2.0 client-credentials grant (RFC 6749 §4.4).
pub(crate) async fn token_endpoint(State(state): State<AppState>, request: Request) -> Response {
    issue_token(&state, request).await.unwrap_or_else(IntoResponse::into_response)
}

fn invalid_request(message: impl Into<String>) -> Error {
    Error::Token(TokenError::InvalidRequest(message.into()))
}

async fn issue_token(state: &AppState, request: Request) -> Result<Response, Error> {
    let (parts, body) = request.into_parts();
    let ip = client_ip(state, &parts);
    let form_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    let body = axum::body::to_bytes(body, MAX_TOKEN_BODY)
        .await
        .map_err(|_| invalid_request("the body is too large or could not be read"))?;
    let body = std::str::from_utf8(&body).map_err(|_| invalid_request("the body is not UTF-8 text"))?;
    let mut form: Vec<(String, String)> = Vec::new();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(name), Some(value)) = (form_decode(name), form_decode(value)) else {
            return Err(invalid_request("a form field is not UTF-8 text"));
        };
        if form.iter().any(|(n, _)| *n == name) {
            return Err(invalid_request(format!("`{name}` is repeated")));
        }
        form.push((name, value));
    }
    let field = |name: &str| form.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());

    let basic = basic_credentials(&parts.headers)?;
    let credentials = match (basic, field("client_id"), field("client_secret")) {
        (Some(_), _, Some(_)) => {
            return Err(invalid_request("authenticate with HTTP Basic or with form fields, not both"));
        }
        (Some((id, _)), Some(form_id), None) if form_id != id => {
            return Err(invalid_request("client_id differs from the HTTP Basic user"));
        }
        (Some(basic), _, None) => Some(basic),
        (None, Some(id), Some(secret)) => Some((id, secret)),
        (None, _, _) => None,
    };
    let now = state.clock().now();
    let client_id = credentials.as_ref().map_or("", |(id, _)| id.as_str());
    let limit_key = format!("oauth2\u{0}{client_id}\u{0}{ip}");
    if let Err(retry_after) = state.failures().check(&limit_key, now) {
        tracing::info!(client_id, ip, "token request refused: too many failed client authentications");
        return Err(Error::Token(TokenError::RateLimited { retry_after }));
    }
    let Some((client_id, secret)) = credentials else {
        state.failures().fail(&limit_key, now);
        return Err(Error::Token(TokenError::InvalidClient));
    };
    match field("grant_type").as_deref() {
        None => return Err(invalid_request("grant_type is required")),
        Some("client_credentials") => {}
        Some(_) => return Err(Error::Token(TokenError::UnsupportedGrantType)),
    }

    let hash = state.clients().secret_hash(&client_id).await?;
    let verified = tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_client_secret(&secret, &hash),
        None => {
            // An unknown client costs as much as a wrong secret, so timing does not tell which client ids exist.
            if let Some(dummy) = dummy_hash() {
                verify_client_secret(&secret, dummy);
            }
            false
        }
    })
    .await
    .map_err(|e| Error::internal(format!("verifying a client secret: {e}")))?;
    if !verified {
        state.failures().fail(&limit_key, now);
        tracing::info!(client_id, ip, "token request refused: client authentication failed");
        return Err(Error::Token(TokenError::InvalidClient));
    }

    let ttl = state.config().token_ttl;
    let expires_at = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(1));
    let token = state.tokens().issue(&client_id, now, expires_at)?;
    tracing::info!(client_id, ip, expires_in = ttl.as_secs(), "issued an access token");
    let body = serde_json::json!({ "access_token": token, "token_type": "bearer", "expires_in": ttl.as_secs() });
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// HTTP Basic client credentials (RFC 6749 §2.3.1: each part form-encoded before base64). `None` without an
/// `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, Error> {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return Ok(None) };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else { return Ok(None) };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let malformed = || invalid_request("the HTTP Basic credentials are malformed");
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(Some((form_decode(id).ok_or_else(malformed)?, form_decode(secret).ok_or_else(malformed)?)))
}

/// A hash to verify against when the client is unknown.
fn dummy_hash() -> Option<&'static str> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    DUMMY.get_or_init(|| clients::hash_client_secret("an unknown client's secret").ok()).as_deref()
}
