//! The client, its builder, and the one path every request takes.

use crate::auth::TokenSource;
use crate::cloud::Cloud;
use crate::error::{self, GraphError};
use http_retry::{HttpReply, Idempotency, Retrier, RetryObserver, RetryPolicy, Sleeper, Transport};
use reqwest::Method;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Builds a [`GraphClient`].
#[must_use]
pub struct GraphClientBuilder {
    cloud: Cloud,
    base_url: Option<Url>,
    tokens: Option<Arc<dyn TokenSource>>,
    transport: Transport,
}

impl std::fmt::Debug for GraphClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClientBuilder")
            .field("cloud", &self.cloud)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl GraphClientBuilder {
    /// The cloud (default global). Sets the Graph host unless [`base_url`](Self::base_url) overrides it.
    pub fn cloud(mut self, cloud: Cloud) -> Self {
        self.cloud = cloud;
        self
    }

    /// The Graph v1.0 base URL, e.g. `http://127.0.0.1:8080/v1.0/` for a local fake.
    pub fn base_url(mut self, url: Url) -> Self {
        self.base_url = Some(url);
        self
    }

    /// Where tokens come from (required).
    pub fn token_source(mut self, tokens: Arc<dyn TokenSource>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// The retry policy for every request (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.transport.policy = policy;
        self
    }

    /// A hook that sees every answer (throttling headers) and retry; see [`crate::ThrottleStats`].
    pub fn observer(mut self, observer: Arc<dyn RetryObserver>) -> Self {
        self.transport.observer = Some(observer);
        self
    }

    /// How waits are made (tests record them instead).
    pub fn sleeper(mut self, sleeper: Sleeper) -> Self {
        self.transport.sleeper = Some(sleeper);
        self
    }

    /// The time limit of one request attempt (default 100 s, Graph's own gateway limit).
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
    pub fn build(self) -> Result<GraphClient, GraphError> {
        let tokens = self.tokens.ok_or_else(|| GraphError::InvalidInput("a token source is required".into()))?;
        let base = self.base_url.unwrap_or_else(|| self.cloud.graph_v1());
        let base = http_retry::transport::base_url(base).map_err(GraphError::InvalidInput)?;
        let http = self
            .transport
            .http_client(concat!("rosterbridge-graph-client/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| GraphError::InvalidInput(format!("cannot build the HTTP client: {e}")))?;
        let retrier = self.transport.retrier();
        Ok(GraphClient { inner: Arc::new(Inner { http, base, tokens, retrier }) })
    }
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    tokens: Arc<dyn TokenSource>,
    retrier: Retrier,
}

/// A Microsoft Graph v1.0 client. Cheap to clone; clones share the connection pool and token source.
///
/// Every request — first pages, next pages, delta rounds, `$batch` and its items — goes through the same
/// [`RetryPolicy`], and a 401 triggers one token refresh and one more try.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient").field("base", &self.inner.base.as_str()).finish_non_exhaustive()
    }
}

/// One request to send: its method, absolute URL, whether it needs `ConsistencyLevel: eventual`, and its body.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) eventual: bool,
    pub(crate) body: Option<serde_json::Value>,
}

impl Call {
    pub(crate) fn get(url: Url) -> Call {
        Call { method: Method::GET, url, eventual: false, body: None }
    }

    pub(crate) fn eventual(mut self, on: bool) -> Call {
        self.eventual = on;
        self
    }
}

impl GraphClient {
    /// Starts a builder.
    pub fn builder() -> GraphClientBuilder {
        GraphClientBuilder {
            cloud: Cloud::Global,
            base_url: None,
            tokens: None,
            transport: Transport::new(Duration::from_secs(100)),
        }
    }

    /// The v1.0 base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    pub(crate) fn retrier(&self) -> &Retrier {
        &self.inner.retrier
    }

    /// `base` + a relative path (segments already escaped by the caller) + query pairs.
    pub(crate) fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.inner.base.clone();
        url.set_path(&format!("{}{}", self.inner.base.path(), path.trim_start_matches('/')));
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// `base` + path segments, each escaped.
    pub(crate) fn url_segments(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut s) = url.path_segments_mut() {
            s.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Checks that a link Graph gave (nextLink, deltaLink) points at the same Graph host, so that the bearer token
    /// is never sent elsewhere.
    pub(crate) fn check_link(&self, link: &str) -> Result<Url, GraphError> {
        let url = Url::parse(link).map_err(|e| GraphError::InvalidInput(format!("unreadable paging link: {e}")))?;
        let base = &self.inner.base;
        if url.scheme() != base.scheme()
            || url.host_str() != base.host_str()
            || url.port_or_known_default() != base.port_or_known_default()
        {
            return Err(GraphError::InvalidInput(format!(
                "paging link points to {} instead of {}; not followed",
                url.host_str().unwrap_or("?"),
                base.host_str().unwrap_or("?")
            )));
        }
        Ok(url)
    }

    /// Sends a call with a token, refreshing the token once on 401, under the retry policy. Returns the answer
    /// if it is a success, else the error it carries.
    pub(crate) async fn send(&self, call: &Call, idempotency: Idempotency) -> Result<HttpReply, GraphError> {
        let mut refreshed = false;
        loop {
            let token = self.inner.tokens.token().await?;
            let reply = self
                .inner
                .retrier
                .execute(idempotency, || {
                    let mut rb =
                        self.inner.http.request(call.method.clone(), call.url.clone()).bearer_auth(token.secret());
                    if call.eventual {
                        rb = rb.header("ConsistencyLevel", "eventual");
                    }
                    if let Some(body) = &call.body {
                        rb = rb.json(body);
                    }
                    rb
                })
                .await?;
            if reply.status.is_success() {
                return Ok(reply);
            }
            if reply.status.as_u16() == 401 && !refreshed {
                tracing::debug!(path = call.url.path(), "Graph answered 401; refreshing the token once");
                self.inner.tokens.invalidate().await;
                refreshed = true;
                continue;
            }
            return Err(error::from_reply(reply.status.as_u16(), &reply.headers, &reply.body));
        }
    }

    /// Sends a GET and decodes the JSON answer.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(&self, call: &Call) -> Result<T, GraphError> {
        let reply = self.send(call, Idempotency::Idempotent).await?;
        error::decode(call.url.path(), &reply.body)
    }
}
