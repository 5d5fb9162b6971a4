//! App-only access with a client secret: the OAuth 2.0 client credentials grant.
//!
//! Protocol: Microsoft identity platform, "Microsoft identity platform and the OAuth 2.0 client credentials flow",
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow> ("First case: Access
//! token request with a shared secret"). The request is `grant_type=client_credentials`, `client_id`,
//! `client_secret` and `scope=<graph root>/.default`; no refresh token is ever issued, so a new access token is
//! simply requested again when the cached one nears its expiry.

use super::endpoint::{TokenAnswer, request_tokens};
use super::{AccessToken, AuthError, Cache, TokenSource, margin_for};
use crate::cloud::{Cloud, Tenant};
use async_trait::async_trait;
use http_retry::Retrier;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use url::Url;

/// App-only tokens for Graph from an app registration's client secret (the client credentials grant).
///
/// The token is cached until shortly before it expires (five minutes, or half its lifetime if that is shorter);
/// callers that ask at the same time share one request. Only client secrets are supported for now; certificate
/// assertions (`client_assertion`) and federated credentials are not.
///
/// `Debug` never shows the secret.
///
/// ```no_run
/// use graph_client::auth::{ClientCredentials, TokenSource};
/// use graph_client::{Cloud, Tenant};
/// use secrecy::SecretString;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let tenant = Tenant::new("contoso.onmicrosoft.com")?;
/// let source = ClientCredentials::new(
///     Cloud::Global,
///     tenant,
///     "00001111-aaaa-2222-bbbb-3333cccc4444",
///     SecretString::from(std::env::var("GRAPH_CLIENT_SECRET")?),
/// );
/// let token = source.token().await?;
/// # let _ = token; Ok(()) }
/// ```
pub struct ClientCredentials {
    token_url: Url,
    client_id: String,
    client_secret: SecretString,
    scope: String,
    http: reqwest::Client,
    retrier: Retrier,
    cache: Cache,
}

impl ClientCredentials {
    /// A source for the app `client_id` in `tenant` on `cloud`, asking for `cloud.default_scope()` (all the
    /// application permissions granted to the app on that cloud's Graph). Uses a default HTTP client and the
    /// default retry policy; see [`with_http`](Self::with_http) and [`with_retrier`](Self::with_retrier).
    pub fn new(
        cloud: Cloud,
        tenant: Tenant,
        client_id: impl Into<String>,
        client_secret: SecretString,
    ) -> ClientCredentials {
        ClientCredentials {
            token_url: cloud.token_url(&tenant),
            client_id: client_id.into(),
            client_secret,
            scope: cloud.default_scope(),
            http: reqwest::Client::new(),
            retrier: Retrier::default(),
            cache: Cache::default(),
        }
    }

    /// Uses this HTTP client (timeouts, proxy) for token requests.
    pub fn with_http(mut self, http: reqwest::Client) -> ClientCredentials {
        self.http = http;
        self
    }

    /// Uses this retrier (the client's shared retry policy) for token requests.
    pub fn with_retrier(mut self, retrier: Retrier) -> ClientCredentials {
        self.retrier = retrier;
        self
    }

    /// The app (client) id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The scope asked for, e.g. `https://graph.microsoft.com/.default`.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The token endpoint asked.
    pub fn token_url(&self) -> &Url {
        &self.token_url
    }

    async fn fetch(&self) -> Result<AccessToken, AuthError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
            ("scope", self.scope.as_str()),
        ];
        match request_tokens(&self.http, &self.retrier, &self.token_url, &form).await? {
            TokenAnswer::Tokens(tokens) => {
                tracing::debug!(
                    client_id = %self.client_id,
                    lifetime_s = tokens.access.lifetime().as_secs(),
                    "app-only access token issued"
                );
                Ok(tokens.access)
            }
            TokenAnswer::Error(error) => {
                tracing::warn!(
                    client_id = %self.client_id,
                    error = %error.error,
                    codes = ?error.error_codes,
                    "app-only token request refused"
                );
                Err(error.into_auth_error())
            }
        }
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TokenSource for ClientCredentials {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        // The lock is held across the request, so callers arriving meanwhile wait for this one answer.
        let mut cached = self.cache.lock().await;
        if let Some(token) = cached.as_ref()
            && token.is_fresh(margin_for(token.lifetime()))
        {
            return Ok(token.clone());
        }
        let token = self.fetch().await?;
        *cached = Some(token.clone());
        Ok(token)
    }

    async fn invalidate(&self) {
        self.cache.clear().await;
    }
}
