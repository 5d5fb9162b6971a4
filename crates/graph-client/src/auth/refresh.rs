//! Delegated access from a stored refresh token, with rotation.
//!
//! Protocol: Microsoft identity platform, "Microsoft identity platform and OAuth 2.0 authorization code flow",
//! section "Refresh the access token",
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token>,
//! and "Refresh tokens in the Microsoft identity platform",
//! <https://learn.microsoft.com/entra/identity-platform/refresh-tokens>. The request is `grant_type=refresh_token`,
//! `refresh_token`, `client_id` and `scope` (no secret: the app is a public client, signed in with the device code
//! flow). Refresh tokens "replace themselves with a fresh token upon every use": each answer carries a new one,
//! which is saved to the [`TokenStore`] before the access token is handed out. `invalid_grant` means the stored
//! sign-in is no longer accepted (expired, revoked, password changed, consent withdrawn) and an admin must sign in
//! again.

use super::device_code::scope_param;
use super::endpoint::{TokenAnswer, request_tokens};
use super::{AccessToken, AuthError, Cache, TokenSet, TokenSource, TokenStore, margin_for};
use crate::cloud::{Cloud, Tenant};
use async_trait::async_trait;
use http_retry::Retrier;
use secrecy::ExposeSecret;
use std::fmt;
use std::sync::Arc;
use url::Url;

/// Delegated tokens for Graph from the refresh token kept in a [`TokenStore`].
///
/// The access token is cached until shortly before it expires. A refresh holds the cache's lock from loading the
/// refresh token to saving its replacement, so callers that ask at the same time share one refresh and the same
/// refresh token is never spent twice.
///
/// ```no_run
/// use graph_client::auth::{DeviceCodeFlow, MemoryTokenStore, RefreshTokenSource, TokenSource};
/// use graph_client::{Cloud, Tenant};
/// use std::sync::Arc;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let cloud = Cloud::Global;
/// let tenant = Tenant::new("contoso.onmicrosoft.com")?;
/// let client_id = "00001111-aaaa-2222-bbbb-3333cccc4444";
/// let scopes = vec![cloud.scope("User.Read.All")];
/// let flow = DeviceCodeFlow::new(cloud.clone(), tenant.clone(), client_id, scopes.clone());
/// let prompt = flow.start().await?;
/// eprintln!("{prompt}");
/// let signed_in = flow.wait(&prompt).await?;
/// let store = Arc::new(MemoryTokenStore::default());
/// let source = RefreshTokenSource::from_sign_in(signed_in, cloud, tenant, client_id, scopes, store).await?;
/// let token = source.token().await?;
/// # let _ = token; Ok(()) }
/// ```
pub struct RefreshTokenSource {
    token_url: Url,
    client_id: String,
    scope: String,
    store: Arc<dyn TokenStore>,
    http: reqwest::Client,
    retrier: Retrier,
    cache: Cache,
}

impl RefreshTokenSource {
    /// A source for the public client app `client_id` in `tenant` on `cloud`, asking for `scopes` (fully
    /// qualified, as given to [`DeviceCodeFlow`](super::DeviceCodeFlow); `offline_access` is added) with the
    /// refresh token in `store`. Uses a default HTTP client and the default retry policy; see the `with_*` methods.
    pub fn new(
        cloud: Cloud,
        tenant: Tenant,
        client_id: impl Into<String>,
        scopes: Vec<String>,
        store: Arc<dyn TokenStore>,
    ) -> RefreshTokenSource {
        RefreshTokenSource {
            token_url: cloud.token_url(&tenant),
            client_id: client_id.into(),
            scope: scope_param(&scopes),
            store,
            http: reqwest::Client::new(),
            retrier: Retrier::default(),
            cache: Cache::default(),
        }
    }

    /// A source that starts from a completed sign-in (what [`DeviceCodeFlow::wait`](super::DeviceCodeFlow::wait)
    /// returns): saves its refresh token to `store` and caches its access token, so the first
    /// [`token`](TokenSource::token) needs no request. A sign-in without a refresh token leaves the store as it
    /// was; once the access token expires, [`token`](TokenSource::token) then refreshes from whatever it holds.
    pub async fn from_sign_in(
        tokens: TokenSet,
        cloud: Cloud,
        tenant: Tenant,
        client_id: impl Into<String>,
        scopes: Vec<String>,
        store: Arc<dyn TokenStore>,
    ) -> Result<RefreshTokenSource, AuthError> {
        let source = RefreshTokenSource::new(cloud, tenant, client_id, scopes, store);
        match &tokens.refresh {
            Some(refresh) => source.store.save(refresh).await?,
            None => tracing::warn!("the sign-in carried no refresh token; nothing saved to the token store"),
        }
        *source.cache.lock().await = Some(tokens.access);
        Ok(source)
    }

    /// Uses this HTTP client (timeouts, proxy) for token requests.
    pub fn with_http(mut self, http: reqwest::Client) -> RefreshTokenSource {
        self.http = http;
        self
    }

    /// Uses this retrier (the client's shared retry policy) for token requests.
    pub fn with_retrier(mut self, retrier: Retrier) -> RefreshTokenSource {
        self.retrier = retrier;
        self
    }

    /// The `scope` parameter sent: the scopes, space-separated, `offline_access` included.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// Spends the stored refresh token for a new access token, saving the new refresh token that comes with it.
    async fn refresh(&self) -> Result<AccessToken, AuthError> {
        let Some(refresh_token) = self.store.load().await? else {
            return Err(AuthError::NotSignedIn);
        };
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
            ("client_id", self.client_id.as_str()),
            ("scope", self.scope.as_str()),
        ];
        match request_tokens(&self.http, &self.retrier, &self.token_url, &form).await? {
            TokenAnswer::Tokens(tokens) => {
                match &tokens.refresh {
                    Some(rotated) => self.store.save(rotated).await?,
                    // Entra ID always rotates; should an answer lack one, the stored token stays valid.
                    None => tracing::debug!("refresh answer carried no new refresh token; keeping the stored one"),
                }
                tracing::debug!(lifetime_s = tokens.access.lifetime().as_secs(), "delegated access token refreshed");
                Ok(tokens.access)
            }
            TokenAnswer::Error(error) => {
                tracing::warn!(error = %error.error, codes = ?error.error_codes, "refresh token refused");
                Err(error.into_auth_error())
            }
        }
    }
}

impl fmt::Debug for RefreshTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokenSource")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TokenSource for RefreshTokenSource {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        // Held across load, request and save: a second caller waits and then finds the fresh token.
        let mut cached = self.cache.lock().await;
        if let Some(token) = cached.as_ref()
            && token.is_fresh(margin_for(token.lifetime()))
        {
            return Ok(token.clone());
        }
        let token = self.refresh().await?;
        *cached = Some(token.clone());
        Ok(token)
    }

    async fn invalidate(&self) {
        self.cache.clear().await;
    }
}
