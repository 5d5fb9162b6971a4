//! Access tokens for Graph, behind one small trait callers can replace.
//!
//! * [`ClientCredentials`] — app-only, with a client secret.
//! * [`DeviceCodeFlow`] — delegated sign-in of an admin on another device; yields a refresh token.
//! * [`RefreshTokenSource`] — delegated access from a stored refresh token, persisting each rotated refresh token
//!   through a [`TokenStore`].
//! * [`StaticToken`] — a fixed token (tests, or a token obtained elsewhere).
//!
//! Every source caches its access token until shortly before it expires. When Graph answers 401, the client
//! calls [`TokenSource::invalidate`] and asks once more; a second 401 is returned as an error.

mod client_credentials;
mod device_code;
mod endpoint;
mod refresh;
mod store;

pub use client_credentials::ClientCredentials;
pub use device_code::{DeviceCodeFlow, DeviceCodePrompt};
pub use refresh::RefreshTokenSource;
pub use store::{MemoryTokenStore, TokenStore, TokenStoreError};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::time::{Duration, Instant};

/// How long before its expiry a cached token is replaced.
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

    /// The token text, to put in an `Authorization` header.
    pub fn secret(&self) -> &str {
        self.secret.expose_secret()
    }

    /// When it expires.
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// The lifetime it was issued with (`expires_in`); the sources derive from it how early the token is replaced.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Whether it is still good for at least `margin` (a token about to expire is replaced early, but a token
    /// whose whole lifetime is shorter than twice the margin is used for half of it).
    pub fn is_fresh(&self, margin: Duration) -> bool {
        let now = Instant::now();
        now + margin < self.expires_at
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken").field("secret", &"[redacted]").field("expires_at", &self.expires_at).finish()
    }
}

/// What a sign-in or refresh yields: an access token and, for delegated flows with `offline_access`, a refresh
/// token. `Debug` never shows either.
#[derive(Clone)]
pub struct TokenSet {
    /// The access token.
    pub access: AccessToken,
    /// The refresh token, when one was issued.
    pub refresh: Option<SecretString>,
    /// The scopes granted, space-separated.
    pub scope: Option<String>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access", &self.access)
            .field("refresh", &self.refresh.as_ref().map(|_| "[redacted]"))
            .field("scope", &self.scope)
            .finish()
    }
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The user declined the sign-in (`authorization_declined`).
    #[error("the sign-in was declined by the user")]
    Declined,
    /// The device code expired before the user finished signing in (`expired_token`).
    #[error("the sign-in code expired before the sign-in was completed; start again")]
    CodeExpired,
    /// The stored refresh token is no longer accepted (`invalid_grant`: revoked, expired, password changed,
    /// or consent withdrawn): an admin must sign in again.
    #[error("the stored sign-in is no longer valid ({description}); sign in again")]
    SignInRequired {
        /// Entra's explanation (its `AADSTS` code and text).
        description: String,
    },
    /// There is no stored refresh token at all.
    #[error("no stored sign-in: sign in first")]
    NotSignedIn,
    /// Entra ID refused the request (`invalid_client`, `unauthorized_client`, `invalid_scope`, …).
    #[error("Microsoft Entra ID refused the token request: {error}: {description}")]
    Refused {
        /// The OAuth error code.
        error: String,
        /// Entra's explanation.
        description: String,
        /// Entra's `AADSTS` error codes.
        codes: Vec<u64>,
        /// The correlation id for a support ticket.
        correlation_id: Option<String>,
    },
    /// The token endpoint could not be reached.
    #[error("the sign-in service could not be reached: {0}")]
    Transport(#[from] http_retry::TransportError),
    /// The token endpoint answered something that is not an OAuth answer.
    #[error("the sign-in service answered HTTP {status} with an unreadable body: {message}")]
    Unreadable {
        /// The HTTP status.
        status: u16,
        /// What could not be read.
        message: String,
    },
    /// The refresh token could not be loaded or saved.
    #[error(transparent)]
    Store(#[from] TokenStoreError),
}

/// Where access tokens come from. Object safe: clients hold an `Arc<dyn TokenSource>` chosen at run time.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// A token good for at least a few minutes: cached if it is, fetched if not.
    async fn token(&self) -> Result<AccessToken, AuthError>;

    /// The cached token was refused (a 401): forget it, so that the next [`token`](Self::token) fetches a new one.
    async fn invalidate(&self);
}

/// A fixed token that never refreshes. For tests, and for tokens obtained by other means.
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

/// A one-slot token cache shared by the sources.
#[derive(Debug, Default)]
pub(crate) struct Cache(tokio::sync::Mutex<Option<AccessToken>>);

impl Cache {
    pub(crate) async fn lock(&self) -> tokio::sync::MutexGuard<'_, Option<AccessToken>> {
        self.0.lock().await
    }

    pub(crate) async fn clear(&self) {
        *self.0.lock().await = None;
    }
}

/// The freshness margin for a token of a given lifetime: five minutes, or half the lifetime if that is shorter.
pub(crate) fn margin_for(lifetime: Duration) -> Duration {
    EXPIRY_MARGIN.min(lifetime / 2)
}
