//! Access tokens for the Directory API, behind one small trait callers can replace.
//!
//! * [`DelegatedServiceAccount`] — a service account with domain-wide delegation acting as an admin user: the
//!   OAuth 2.0 JWT bearer grant (RFC 7523).
//! * [`StaticToken`] — a fixed token (tests, or a token obtained elsewhere).
//!
//! Protocol: Google Identity, "Using OAuth 2.0 for Server to Server Applications"
//! (<https://developers.google.com/identity/protocols/oauth2/service-account>), "Preparing to make an authorized
//! API call" / "HTTP/REST": a JWT whose header is `{"alg":"RS256","typ":"JWT"}` (with the key's id as `kid`) and
//! whose claim set has `iss` (the service account's email), `scope` (space-delimited), `aud` (the key's
//! `token_uri`, `https://oauth2.googleapis.com/token`), `exp` and `iat` (seconds since the epoch; at most one hour
//! apart) and, for domain-wide delegation, `sub` (the user to act as). It is signed with RSA SHA-256 and posted as
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<jwt>`. The answer is
//! `{"access_token","expires_in","token_type":"Bearer"}`; there is no refresh token, so a new assertion is made when
//! the cached token nears its expiry. Errors are `{"error","error_description"}`: `unauthorized_client` when the
//! client id is not authorised for the scopes under domain-wide delegation, `invalid_grant` for a bad signature, an
//! unknown `sub` ("Invalid email or User ID") or a clock out of step.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_retry::{Idempotency, Retrier};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::key::ServiceAccountKey;

/// The read-only scope for users (`users.list`, `users.get`).
pub const SCOPE_USER_READONLY: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly";
/// The read-only scope for organisational units (`orgunits.list`).
pub const SCOPE_ORGUNIT_READONLY: &str = "https://www.googleapis.com/auth/admin.directory.orgunit.readonly";
/// The scopes this client asks for: read users, read organisational units. An admin authorises exactly these for
/// the service account's client id under "Domain-wide delegation".
pub const SCOPES: [&str; 2] = [SCOPE_USER_READONLY, SCOPE_ORGUNIT_READONLY];

/// The JWT bearer grant type (RFC 7523 §2.1).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long an assertion is valid: Google accepts at most an hour.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);

/// How long before its expiry a cached token is replaced (or half its lifetime, if that is shorter).
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(300);

/// An access token and when it stops working. `Debug` never shows the token.
#[derive(Clone)]
pub struct AccessToken {
    secret: SecretString,
    expires_at: Instant,
    lifetime: Duration,
}

impl AccessToken {
    /// A token valid for `lifetime` from now.
    pub fn new(secret: SecretString, lifetime: Duration) -> AccessToken {
        AccessToken { secret, expires_at: Instant::now() + lifetime, lifetime }
    }

    /// The token text, for an `Authorization: Bearer` header.
    pub fn secret(&self) -> &str {
        self.secret.expose_secret()
    }

    /// The lifetime it was issued with.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Whether it is still good for more than `margin`.
    pub fn is_fresh(&self, margin: Duration) -> bool {
        Instant::now() + margin < self.expires_at
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken").field("secret", &"[redacted]").field("lifetime", &self.lifetime).finish()
    }
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Google refused the grant (`unauthorized_client`, `invalid_grant`, `invalid_scope`, …).
    #[error("Google refused the token request: {error}: {description}")]
    Refused {
        /// The OAuth error code.
        error: String,
        /// Google's explanation.
        description: String,
    },
    /// The assertion could not be signed.
    #[error("the JWT assertion could not be signed with the service account key")]
    Signing,
    /// The token endpoint could not be reached.
    #[error("the Google token endpoint could not be reached: {0}")]
    Transport(#[from] http_retry::TransportError),
    /// The token endpoint answered something that is not an OAuth answer.
    #[error("the Google token endpoint answered HTTP {status} with an unreadable body: {message}")]
    Unreadable {
        /// The HTTP status.
        status: u16,
        /// What could not be read.
        message: String,
    },
}

impl AuthError {
    /// The service account's client id is not authorised for the scopes under domain-wide delegation
    /// (`unauthorized_client`), or delegation is not set up at all.
    pub fn is_delegation_missing(&self) -> bool {
        matches!(self, AuthError::Refused { error, .. } if error == "unauthorized_client")
    }

    /// The user to act as (`sub`) does not exist in the domain (`invalid_grant`, "Invalid email or User ID").
    pub fn is_unknown_subject(&self) -> bool {
        matches!(self, AuthError::Refused { error, description }
            if error == "invalid_grant" && description.to_ascii_lowercase().contains("invalid email or user id"))
    }

    /// The key was refused: a bad signature, a deleted or disabled key or account (`invalid_grant` with a
    /// signature message, `invalid_client`, `disabled_client`).
    pub fn is_key_refused(&self) -> bool {
        matches!(self, AuthError::Refused { error, description }
            if error == "invalid_client" || error == "disabled_client"
                || (error == "invalid_grant" && description.to_ascii_lowercase().contains("signature")))
    }

    /// The assertion's times were refused: this machine's clock is out of step.
    pub fn is_clock_skew(&self) -> bool {
        matches!(self, AuthError::Refused { error, description }
            if error == "invalid_grant" && description.contains("reasonable timeframe"))
    }
}

/// Where access tokens come from. Object safe: the client holds an `Arc<dyn TokenSource>` chosen at run time.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// A token good for at least a few minutes: cached if it is, fetched if not.
    async fn token(&self) -> Result<AccessToken, AuthError>;

    /// The cached token was refused (a 401): forget it, so that the next [`token`](Self::token) fetches a new one.
    async fn invalidate(&self);
}

/// A fixed token that never refreshes.
pub struct StaticToken(SecretString);

impl StaticToken {
    /// Wraps a token.
    pub fn new(token: SecretString) -> StaticToken {
        StaticToken(token)
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticToken([redacted])")
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        Ok(AccessToken::new(self.0.clone(), Duration::from_secs(3600)))
    }

    async fn invalidate(&self) {}
}

/// A service account with domain-wide delegation, acting as an admin user of the domain (the `sub` claim).
///
/// Tokens are cached until shortly before they expire (five minutes, or half the lifetime if shorter); callers that
/// ask at the same time share one request. `Debug` never shows the key.
///
/// ```no_run
/// use google_directory_client::auth::{DelegatedServiceAccount, TokenSource, SCOPES};
/// use google_directory_client::ServiceAccountKey;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let key = ServiceAccountKey::from_file(std::path::Path::new("service-account.json"))?;
/// let tokens = DelegatedServiceAccount::new(key, "it.admin@school.example", SCOPES);
/// let token = tokens.token().await?;
/// # let _ = token; Ok(()) }
/// ```
pub struct DelegatedServiceAccount {
    key: ServiceAccountKey,
    subject: String,
    scope: String,
    http: reqwest::Client,
    retrier: Retrier,
    cache: tokio::sync::Mutex<Option<AccessToken>>,
}

impl fmt::Debug for DelegatedServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelegatedServiceAccount")
            .field("key", &self.key)
            .field("subject", &self.subject)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    sub: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl DelegatedServiceAccount {
    /// Tokens for `key`'s service account acting as `subject` (an admin's email) with `scopes`.
    pub fn new<I, S>(key: ServiceAccountKey, subject: impl Into<String>, scopes: I) -> DelegatedServiceAccount
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scope = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect::<Vec<_>>().join(" ");
        DelegatedServiceAccount {
            key,
            subject: subject.into(),
            scope,
            http: reqwest::Client::new(),
            retrier: Retrier::default(),
            cache: tokio::sync::Mutex::new(None),
        }
    }

    /// Uses this HTTP client (timeouts, proxy) for token requests.
    pub fn with_http(mut self, http: reqwest::Client) -> DelegatedServiceAccount {
        self.http = http;
        self
    }

    /// Uses this retrier (the client's shared retry policy) for token requests.
    pub fn with_retrier(mut self, retrier: Retrier) -> DelegatedServiceAccount {
        self.retrier = retrier;
        self
    }

    /// The key.
    pub fn key(&self) -> &ServiceAccountKey {
        &self.key
    }

    /// The user the service account acts as.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The scopes asked for, space-separated.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The signed JWT assertion for a token request made at `now`.
    pub fn assertion(&self, now: SystemTime) -> Result<SecretString, AuthError> {
        let iat = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let header = Header { alg: "RS256", typ: "JWT", kid: self.key.private_key_id() };
        let claims = Claims {
            iss: self.key.client_email(),
            scope: &self.scope,
            aud: self.key.token_uri().as_str(),
            sub: &self.subject,
            iat,
            exp: iat + ASSERTION_LIFETIME.as_secs(),
        };
        let signing_input = format!("{}.{}", b64_json(&header)?, b64_json(&claims)?);
        let signer = self.key.signer();
        let mut signature = vec![0u8; signer.public().modulus_len()];
        signer
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| AuthError::Signing)?;
        Ok(SecretString::from(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))))
    }

    async fn fetch(&self) -> Result<AccessToken, AuthError> {
        let assertion = self.assertion(SystemTime::now())?;
        let url = self.key.token_uri().clone();
        let form = [("grant_type", JWT_BEARER_GRANT), ("assertion", assertion.expose_secret())];
        // A token request changes nothing at Google, but it is a POST: retried on 429 and connection failures only.
        let reply =
            self.retrier.execute(Idempotency::NotIdempotent, || self.http.post(url.clone()).form(&form)).await?;
        let status = reply.status.as_u16();
        if reply.status.is_success() {
            let parsed: TokenResponse = serde_json::from_slice(&reply.body)
                .map_err(|e| AuthError::Unreadable { status, message: format!("not a token response: {e}") })?;
            let secs = match parsed.expires_in {
                Some(serde_json::Value::Number(n)) => n.as_u64(),
                Some(serde_json::Value::String(s)) => s.parse().ok(),
                _ => None,
            };
            let lifetime = Duration::from_secs(secs.unwrap_or(3600));
            tracing::debug!(
                service_account = %self.key.client_email(),
                subject = %self.subject,
                lifetime_s = lifetime.as_secs(),
                "delegated access token issued"
            );
            return Ok(AccessToken::new(SecretString::from(parsed.access_token), lifetime));
        }
        match serde_json::from_slice::<OAuthError>(&reply.body) {
            Ok(e) => {
                tracing::warn!(
                    service_account = %self.key.client_email(),
                    subject = %self.subject,
                    error = %e.error,
                    "delegated token request refused"
                );
                Err(AuthError::Refused { error: e.error, description: e.error_description.unwrap_or_default() })
            }
            Err(_) => Err(AuthError::Unreadable {
                status,
                message: format!("expected an OAuth error body, got {} bytes", reply.body.len()),
            }),
        }
    }
}

/// A JWT segment: base64url (no padding) of the JSON.
fn b64_json<T: serde::Serialize>(value: &T) -> Result<String, AuthError> {
    serde_json::to_vec(value).map(|bytes| URL_SAFE_NO_PAD.encode(bytes)).map_err(|_| AuthError::Signing)
}

#[async_trait]
impl TokenSource for DelegatedServiceAccount {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        // The lock is held across the request, so callers arriving meanwhile wait for this one answer.
        let mut cached = self.cache.lock().await;
        if let Some(token) = cached.as_ref()
            && token.is_fresh(EXPIRY_MARGIN.min(token.lifetime() / 2))
        {
            return Ok(token.clone());
        }
        let token = self.fetch().await?;
        *cached = Some(token.clone());
        Ok(token)
    }

    async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }
}
