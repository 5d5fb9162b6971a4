//! The client, its builder, and the one path every request takes.

use crate::auth::TokenSource;
use crate::error::{self, DirectoryError};
use http_retry::{HttpReply, Idempotency, Retrier, RetryObserver, RetryPolicy, Sleeper, Transport};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The Directory API's root.
pub const DEFAULT_BASE_URL: &str = "https://admin.googleapis.com/";

/// The customer alias that means "the account of the user the token acts for".
pub const MY_CUSTOMER: &str = "my_customer";

/// Which users a `users.list` covers: the whole Google Workspace account (`customer`), or one of its domains
/// (`domain`). Organisational units always belong to the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    /// A customer id, or [`MY_CUSTOMER`].
    Customer(String),
    /// One domain of the account (users whose primary email is in it).
    Domain(String),
}

impl Default for Account {
    fn default() -> Account {
        Account::Customer(MY_CUSTOMER.to_owned())
    }
}

/// Builds a [`DirectoryClient`].
#[must_use]
pub struct DirectoryClientBuilder {
    base_url: Option<Url>,
    tokens: Option<Arc<dyn TokenSource>>,
    account: Account,
    transport: Transport,
}

impl std::fmt::Debug for DirectoryClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryClientBuilder")
            .field("base_url", &self.base_url)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl DirectoryClientBuilder {
    /// The API root (default `https://admin.googleapis.com/`), e.g. a local fake's URL.
    pub fn base_url(mut self, url: Url) -> Self {
        self.base_url = Some(url);
        self
    }

    /// Where tokens come from (required).
    pub fn token_source(mut self, tokens: Arc<dyn TokenSource>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// The account or domain whose users are listed (default: `my_customer`).
    pub fn account(mut self, account: Account) -> Self {
        self.account = account;
        self
    }

    /// The retry policy for every request (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.transport.policy = policy;
        self
    }

    /// A hook that sees every answer and retry; see [`crate::DirectoryStats`].
    pub fn observer(mut self, observer: Arc<dyn RetryObserver>) -> Self {
        self.transport.observer = Some(observer);
        self
    }

    /// How waits are made (tests record them instead).
    pub fn sleeper(mut self, sleeper: Sleeper) -> Self {
        self.transport.sleeper = Some(sleeper);
        self
    }

    /// The time limit of one request attempt (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.transport.timeout = timeout;
        self
    }

    /// The time limit to connect (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.transport.connect_timeout = timeout;
        self
    }

    /// Uses this HTTP client instead of building one (its own timeouts then apply).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.transport.http = Some(http);
        self
    }

    /// The retrier this builder's settings make (policy, observer, sleeper, Google's throttling classifier), for
    /// a token source that should share them.
    pub fn retrier(&self) -> Retrier {
        self.transport.retrier().with_throttle_classifier(error::throttle_classifier())
    }

    /// Builds the client.
    pub fn build(self) -> Result<DirectoryClient, DirectoryError> {
        let tokens =
            self.tokens.clone().ok_or_else(|| DirectoryError::InvalidInput("a token source is required".into()))?;
        let base = match self.base_url.clone() {
            Some(url) => url,
            None => Url::parse(DEFAULT_BASE_URL).map_err(|e| DirectoryError::InvalidInput(e.to_string()))?,
        };
        let base = http_retry::transport::base_url(base).map_err(DirectoryError::InvalidInput)?;
        let name_ok = |s: &str| !s.trim().is_empty() && !s.contains(['/', '?', '#']);
        match &self.account {
            Account::Customer(id) if !name_ok(id) => {
                return Err(DirectoryError::InvalidInput(format!("`{id}` is not a customer id")));
            }
            Account::Domain(domain) if !name_ok(domain) || !domain.contains('.') => {
                return Err(DirectoryError::InvalidInput(format!("`{domain}` is not a domain name")));
            }
            _ => {}
        }
        let http = self
            .transport
            .http_client(concat!("rosterbridge-google-directory-client/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| DirectoryError::InvalidInput(format!("cannot build the HTTP client: {e}")))?;
        let retrier = self.retrier();
        Ok(DirectoryClient { inner: Arc::new(Inner { http, base, tokens, retrier, account: self.account }) })
    }
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    tokens: Arc<dyn TokenSource>,
    retrier: Retrier,
    account: Account,
}

/// A Google Workspace Admin SDK Directory API client. Cheap to clone; clones share the connection pool and the
/// token source.
///
/// Every request — first pages and next pages alike — goes through the same [`RetryPolicy`] (Google's 403
/// `userRateLimitExceeded`/`quotaExceeded` and 429 `rateLimitExceeded` are throttling, retried with backoff), and
/// a 401 triggers one token refresh and one more try.
#[derive(Clone)]
pub struct DirectoryClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DirectoryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryClient")
            .field("base", &self.inner.base.as_str())
            .field("account", &self.inner.account)
            .finish_non_exhaustive()
    }
}

impl DirectoryClient {
    /// Starts a builder.
    pub fn builder() -> DirectoryClientBuilder {
        DirectoryClientBuilder {
            base_url: None,
            tokens: None,
            account: Account::default(),
            transport: Transport::new(Duration::from_secs(60)),
        }
    }

    /// The API root.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The account or domain whose users are listed.
    pub fn account(&self) -> &Account {
        &self.inner.account
    }

    /// The token source.
    pub fn tokens(&self) -> &Arc<dyn TokenSource> {
        &self.inner.tokens
    }

    /// `base` + path segments (each escaped) + query pairs.
    pub(crate) fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut s) = url.path_segments_mut() {
            s.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends a GET with a token, refreshing the token once on 401, under the retry policy, and decodes the answer.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &Url) -> Result<T, DirectoryError> {
        let reply = self.send(url).await?;
        error::decode(url.path(), &reply.body)
    }

    async fn send(&self, url: &Url) -> Result<HttpReply, DirectoryError> {
        let mut refreshed = false;
        loop {
            let token = self.inner.tokens.token().await?;
            let reply = self
                .inner
                .retrier
                .execute(Idempotency::Idempotent, || self.inner.http.get(url.clone()).bearer_auth(token.secret()))
                .await?;
            if reply.status.is_success() {
                return Ok(reply);
            }
            if reply.status.as_u16() == 401 && !refreshed {
                tracing::debug!(path = url.path(), "Google answered 401; fetching a new token once");
                self.inner.tokens.invalidate().await;
                refreshed = true;
                continue;
            }
            return Err(error::from_reply(reply.status.as_u16(), &reply.headers, &reply.body));
        }
    }
}
