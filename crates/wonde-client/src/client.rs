//! The client, its builder, and the one path every request takes.

use crate::error::{self, WondeError};
use crate::region::Region;
use http_retry::{HttpReply, Idempotency, Retrier, RetryObserver, RetryPolicy, Sleeper, Transport};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Builds a [`WondeClient`].
#[must_use]
pub struct WondeClientBuilder {
    region: Region,
    base_url: Option<Url>,
    token: Option<SecretString>,
    transport: Transport,
}

impl std::fmt::Debug for WondeClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WondeClientBuilder")
            .field("region", &self.region)
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl WondeClientBuilder {
    /// The school's region (default UK, `api.wonde.com`). Sets the API domain unless
    /// [`base_url`](Self::base_url) overrides it.
    pub fn region(mut self, region: Region) -> Self {
        self.region = region;
        self
    }

    /// The v1.0 base URL, e.g. `http://127.0.0.1:8080/v1.0/` for a local fake.
    pub fn base_url(mut self, url: Url) -> Self {
        self.base_url = Some(url);
        self
    }

    /// The API access token (required). Sent as `Authorization: Bearer <token>`, never logged.
    pub fn token(mut self, token: SecretString) -> Self {
        self.token = Some(token);
        self
    }

    /// The retry policy for every request (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.transport.policy = policy;
        self
    }

    /// A hook that sees every answer and retry (metrics).
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

    /// Builds the client.
    pub fn build(self) -> Result<WondeClient, WondeError> {
        let token = self.token.ok_or_else(|| WondeError::InvalidInput("a Wonde API token is required".into()))?;
        if token.expose_secret().trim().is_empty() {
            return Err(WondeError::InvalidInput("the Wonde API token is empty".into()));
        }
        let base = match self.base_url {
            Some(url) => url,
            None => self.region.base_url().map_err(|e| WondeError::InvalidInput(e.to_string()))?,
        };
        let base = http_retry::transport::base_url(base).map_err(WondeError::InvalidInput)?;
        let http = self
            .transport
            .http_client(concat!("rosterbridge-wonde-client/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| WondeError::InvalidInput(format!("cannot build the HTTP client: {e}")))?;
        let retrier = self.transport.retrier();
        Ok(WondeClient { inner: Arc::new(Inner { http, base, token, retrier }) })
    }
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    token: SecretString,
    retrier: Retrier,
}

/// A Wonde API v1.0 client for one token. Cheap to clone; clones share the connection pool.
///
/// Every request — first pages and next pages alike — goes through the same [`RetryPolicy`] (429 and 5xx with
/// `Retry-After` or backoff; a connection reset mid-body is retried like any transport failure).
#[derive(Clone)]
pub struct WondeClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WondeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WondeClient").field("base", &self.inner.base.as_str()).finish_non_exhaustive()
    }
}

impl WondeClient {
    /// Starts a builder.
    pub fn builder() -> WondeClientBuilder {
        WondeClientBuilder {
            region: Region::default(),
            base_url: None,
            token: None,
            transport: Transport::new(Duration::from_secs(60)),
        }
    }

    /// The v1.0 base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// `base` + path segments, each escaped, + query pairs.
    pub(crate) fn url(&self, segments: &[&str], query: &[(String, String)]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut s) = url.path_segments_mut() {
            s.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Checks that a link Wonde gave (`meta.pagination.next`) points at the same host, so that the token is never
    /// sent elsewhere.
    pub(crate) fn check_link(&self, link: &str) -> Result<Url, WondeError> {
        let url = Url::parse(link).map_err(|e| WondeError::InvalidInput(format!("unreadable paging link: {e}")))?;
        let base = &self.inner.base;
        if url.scheme() != base.scheme()
            || url.host_str() != base.host_str()
            || url.port_or_known_default() != base.port_or_known_default()
        {
            return Err(WondeError::InvalidInput(format!(
                "paging link points to {} instead of {}; not followed",
                url.host_str().unwrap_or("?"),
                base.host_str().unwrap_or("?")
            )));
        }
        Ok(url)
    }

    /// Sends a GET with the token under the retry policy; returns the answer if it is a success, else the error it
    /// carries.
    pub(crate) async fn get(&self, url: &Url) -> Result<HttpReply, WondeError> {
        let reply = self
            .inner
            .retrier
            .execute(Idempotency::Idempotent, || {
                self.inner
                    .http
                    .get(url.clone())
                    .bearer_auth(self.inner.token.expose_secret())
                    .header(reqwest::header::ACCEPT, "application/json")
            })
            .await?;
        if reply.status.is_success() {
            return Ok(reply);
        }
        Err(error::from_reply(reply.status.as_u16(), &reply.headers, &reply.body))
    }

    /// Sends a GET and decodes the JSON answer.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &Url) -> Result<T, WondeError> {
        let reply = self.get(url).await?;
        error::decode(url.path(), &reply.body)
    }
}
