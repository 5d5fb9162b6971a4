//! The state every handler shares.

use crate::auth::clients::{ClientStore, ConsumerSecrets, StaticClients};
use crate::auth::limits::{NonceCache, RateLimiter};
use crate::auth::tokens::{MemoryTokenStore, TokenStore};
use crate::clock::{Clock, SystemClock};
use crate::config::{BASE_PATH, ServerConfig};
use crate::snapshot::SnapshotHandle;
use axum::http::{HeaderMap, Uri};
use std::fmt;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Everything the [`app`](crate::app) router needs: the snapshot to serve, the configuration, where client
/// credentials and tokens live, and the clock. Cheap to clone.
///
/// ```
/// use oneroster_server::{AppState, ServerConfig, SnapshotHandle, StaticClients};
///
/// let state = AppState::builder(SnapshotHandle::default())
///     .config(ServerConfig::default().public_base_url("https://feed.example")?)
///     .clients(StaticClients::new().with_hash("WebserviceUser", "$argon2id$v=19$m=19456,t=2,p=1$…"))
///     .build();
/// assert_eq!(state.snapshots().version(), 0);
/// # Ok::<(), oneroster_server::Error>(())
/// ```
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: ServerConfig,
    snapshots: SnapshotHandle,
    clients: Arc<dyn ClientStore>,
    tokens: Arc<dyn TokenStore>,
    consumers: Option<Arc<dyn ConsumerSecrets>>,
    clock: Arc<dyn Clock>,
    failures: RateLimiter,
    nonces: NonceCache,
    heavy: Arc<Semaphore>,
}

impl AppState {
    /// Starts a state serving `snapshots`; see [`AppStateBuilder`] for the defaults.
    pub fn builder(snapshots: SnapshotHandle) -> AppStateBuilder {
        AppStateBuilder {
            config: ServerConfig::default(),
            snapshots,
            clients: None,
            tokens: None,
            consumers: None,
            clock: None,
        }
    }

    /// The snapshot handle: swap a new snapshot in after an import.
    pub fn snapshots(&self) -> &SnapshotHandle {
        &self.0.snapshots
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    pub(crate) fn clients(&self) -> &dyn ClientStore {
        &*self.0.clients
    }

    pub(crate) fn tokens(&self) -> &dyn TokenStore {
        &*self.0.tokens
    }

    pub(crate) fn consumers(&self) -> Option<&dyn ConsumerSecrets> {
        self.0.consumers.as_deref()
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.0.clock
    }

    pub(crate) fn failures(&self) -> &RateLimiter {
        &self.0.failures
    }

    pub(crate) fn nonces(&self) -> &NonceCache {
        &self.0.nonces
    }

    pub(crate) fn heavy(&self) -> &Arc<Semaphore> {
        &self.0.heavy
    }

    /// The scheme and authority clients reach the server at: the configured public base URL's, else from the
    /// request (trusted forwarding headers, the URI, the `Host` header).
    pub(crate) fn public_origin(&self, headers: &HeaderMap, uri: &Uri) -> String {
        if let Some(base) = self.config().public_base_url.as_deref()
            && let Ok(url) = url::Url::parse(base)
        {
            return url.origin().ascii_serialization();
        }
        let trusted = |name: &str| {
            self.config()
                .trust_forwarded_headers
                .then(|| headers.get(name)?.to_str().ok()?.split(',').next().map(|v| v.trim().to_owned()))
                .flatten()
        };
        let scheme = trusted("x-forwarded-proto")
            .map(|s| s.to_ascii_lowercase())
            .filter(|s| s == "http" || s == "https")
            .or_else(|| uri.scheme_str().map(str::to_owned))
            .unwrap_or_else(|| self.config().default_scheme.to_owned());
        let host = trusted("x-forwarded-host")
            .or_else(|| headers.get(axum::http::header::HOST)?.to_str().ok().map(str::to_owned))
            .or_else(|| uri.authority().map(|a| a.to_string()))
            .map(|h| h.to_ascii_lowercase())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b)))
            .unwrap_or_else(|| "localhost".to_owned());
        let host = match (scheme.as_str(), host.rsplit_once(':')) {
            ("https", Some((name, "443"))) | ("http", Some((name, "80"))) => name.to_owned(),
            _ => host,
        };
        format!("{scheme}://{host}")
    }

    /// The public base URL for a request, ending with [`BASE_PATH`].
    pub(crate) fn public_base(&self, headers: &HeaderMap, uri: &Uri) -> String {
        match self.config().public_base_url.as_deref() {
            Some(base) => base.to_owned(),
            None => format!("{}{BASE_PATH}", self.public_origin(headers, uri)),
        }
    }

    /// The public URL of a request without its query, for OAuth 1.0a signature base strings.
    pub(crate) fn public_url(&self, headers: &HeaderMap, uri: &Uri) -> String {
        let path = uri.path();
        match (self.config().public_base_url.as_deref(), path.find(BASE_PATH)) {
            (Some(base), Some(at)) => format!("{base}{}", &path[at + BASE_PATH.len()..]),
            _ => format!("{}{path}", self.public_origin(headers, uri)),
        }
    }
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.0.config)
            .field("snapshots", &self.0.snapshots)
            .field("oauth1", &self.0.consumers.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds an [`AppState`].
pub struct AppStateBuilder {
    config: ServerConfig,
    snapshots: SnapshotHandle,
    clients: Option<Arc<dyn ClientStore>>,
    tokens: Option<Arc<dyn TokenStore>>,
    consumers: Option<Arc<dyn ConsumerSecrets>>,
    clock: Option<Arc<dyn Clock>>,
}

impl AppStateBuilder {
    /// The configuration (default: [`ServerConfig::default`]).
    pub fn config(mut self, config: ServerConfig) -> AppStateBuilder {
        self.config = config;
        self
    }

    /// Where the token endpoint finds client secret hashes: a [`roster_store::Store`], a [`StaticClients`], or
    /// your own [`ClientStore`] (default: no clients, so no token is ever issued).
    pub fn clients(mut self, clients: impl ClientStore) -> AppStateBuilder {
        self.clients = Some(Arc::new(clients));
        self
    }

    /// Where bearer tokens live (default: [`MemoryTokenStore`], right for one server; several servers behind a
    /// load balancer share a [`SignedTokenStore`](crate::SignedTokenStore) key instead).
    pub fn tokens(mut self, tokens: impl TokenStore) -> AppStateBuilder {
        self.tokens = Some(Arc::new(tokens));
        self
    }

    /// Enables OAuth 1.0a HMAC signatures, with the consumer secrets they are verified with (default: disabled,
    /// and `Authorization: OAuth …` is answered 401). OAuth 1.0a needs the plain secret, so it cannot be checked
    /// against the argon2 hashes the token endpoint uses.
    pub fn oauth1_consumers(mut self, consumers: impl ConsumerSecrets) -> AppStateBuilder {
        self.consumers = Some(Arc::new(consumers));
        self
    }

    /// The clock for token expiry, the OAuth 1.0a timestamp window and rate limits (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> AppStateBuilder {
        self.clock = Some(clock);
        self
    }

    /// The state.
    pub fn build(self) -> AppState {
        let failures = RateLimiter::new(self.config.auth_failure_limit, self.config.auth_failure_window);
        let heavy = std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1));
        AppState(Arc::new(Inner {
            failures,
            nonces: NonceCache::default(),
            heavy: Arc::new(Semaphore::new(heavy)),
            clients: self.clients.unwrap_or_else(|| Arc::new(StaticClients::new())),
            tokens: self.tokens.unwrap_or_else(|| Arc::new(MemoryTokenStore::new())),
            consumers: self.consumers,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            config: self.config,
            snapshots: self.snapshots,
        }))
    }
}

impl fmt::Debug for AppStateBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppStateBuilder").field("config", &self.config).finish_non_exhaustive()
    }
}
