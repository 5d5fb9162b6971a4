//! How the server behaves: public URL, paging limits, password exposure, token lifetime, OAuth 1.0a window and
//! rate limits.

use crate::error::Error;
use std::time::Duration;
use url::Url;

/// The path every OneRoster 1.1 rostering endpoint lives under.
pub const BASE_PATH: &str = "/ims/oneroster/v1p1";

/// The path of the OAuth 2.0 token endpoint (`POST`, form-encoded, `grant_type=client_credentials`).
pub const TOKEN_PATH: &str = "/oauth/token";

/// The client id `credentials rotate` and School Data Sync use unless told otherwise.
pub const DEFAULT_CLIENT_ID: &str = "WebserviceUser";

/// The configuration of the server. Every setting has a default suitable for production behind TLS; see each
/// method.
///
/// ```
/// use oneroster_server::ServerConfig;
/// use std::time::Duration;
///
/// let config = ServerConfig::default()
///     .public_base_url("https://feed.example")?
///     .max_limit(10_000)
///     .token_ttl(Duration::from_secs(3600));
/// assert_eq!(config.base_url(), Some("https://feed.example/ims/oneroster/v1p1"));
/// assert_eq!(config.token_url().as_deref(), Some("https://feed.example/oauth/token"));
/// # Ok::<(), oneroster_server::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Normalised: no trailing slash, ends with [`BASE_PATH`].
    pub(crate) public_base_url: Option<String>,
    pub(crate) default_limit: usize,
    pub(crate) max_limit: usize,
    pub(crate) serve_passwords: bool,
    pub(crate) token_ttl: Duration,
    pub(crate) oauth1_window: Duration,
    pub(crate) auth_failure_limit: u32,
    pub(crate) auth_failure_window: Duration,
    pub(crate) trust_forwarded_headers: bool,
    pub(crate) default_scheme: &'static str,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            public_base_url: None,
            default_limit: 100,
            max_limit: 10_000,
            serve_passwords: false,
            token_ttl: Duration::from_secs(3600),
            oauth1_window: Duration::from_secs(300),
            auth_failure_limit: 10,
            auth_failure_window: Duration::from_secs(60),
            trust_forwarded_headers: false,
            default_scheme: "https",
        }
    }
}

impl ServerConfig {
    /// The URL clients reach the feed at, used for every `href`, every `Link` header and the OAuth 1.0a signature
    /// base string. Either the origin (`https://feed.example`) or the full base
    /// (`https://feed.example/ims/oneroster/v1p1`); a path prefix added by a reverse proxy is kept
    /// (`https://example.org/feed` serves `https://example.org/feed/ims/oneroster/v1p1/…`).
    ///
    /// Without it, the URL is derived from each request: the `Host` header, and the scheme of
    /// [`default_scheme`](ServerConfig::default_scheme) (or `X-Forwarded-Proto`/`X-Forwarded-Host` when
    /// [`trust_forwarded_headers`](ServerConfig::trust_forwarded_headers) is on). Setting it is recommended: a
    /// `Host` header is whatever the client sent.
    ///
    /// Fails unless the URL is absolute `http` or `https` without query or fragment.
    pub fn public_base_url(mut self, url: &str) -> Result<ServerConfig, Error> {
        let invalid = |message: &str| Error::Config { message: format!("public base URL `{url}`: {message}") };
        let parsed = Url::parse(url.trim()).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(invalid("a host is required"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid("a query or fragment is not allowed"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid("credentials are not allowed"));
        }
        let mut base = parsed.as_str().trim_end_matches('/').to_owned();
        if !base.ends_with(BASE_PATH) {
            base.push_str(BASE_PATH);
        }
        self.public_base_url = Some(base);
        Ok(self)
    }

    /// The normalised public base URL, ending with [`BASE_PATH`], if one is configured.
    pub fn base_url(&self) -> Option<&str> {
        self.public_base_url.as_deref()
    }

    /// The public URL of the token endpoint, if a public base URL is configured: the base URL's origin and prefix
    /// followed by [`TOKEN_PATH`].
    pub fn token_url(&self) -> Option<String> {
        let base = self.public_base_url.as_deref()?;
        Some(format!("{}{TOKEN_PATH}", base.strip_suffix(BASE_PATH).unwrap_or(base)))
    }

    /// The page size when a request has no `limit` (default 100). Raised to 1 if 0; lowered to the maximum.
    pub fn default_limit(mut self, limit: usize) -> ServerConfig {
        self.default_limit = limit.max(1);
        self.max_limit = self.max_limit.max(self.default_limit);
        self
    }

    /// The largest page a request gets (default 10 000): a larger `limit` is served as this many records, and the
    /// `Link` headers say so. Raised to 1 if 0; the default limit is lowered to it if greater.
    pub fn max_limit(mut self, limit: usize) -> ServerConfig {
        self.max_limit = limit.max(1);
        self.default_limit = self.default_limit.min(self.max_limit);
        self
    }

    /// Whether the OneRoster `password` field of users is served (default: no, it is stripped from every
    /// response). Turn it on only if the consumer needs it and the store was told to keep passwords.
    pub fn serve_passwords(mut self, serve: bool) -> ServerConfig {
        self.serve_passwords = serve;
        self
    }

    /// How long a bearer token lives (default one hour; at least one second).
    pub fn token_ttl(mut self, ttl: Duration) -> ServerConfig {
        self.token_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// How far an OAuth 1.0a `oauth_timestamp` may be from the server's clock, either way (default five minutes;
    /// at least one second). Nonces are remembered for as long as their timestamp is inside the window.
    pub fn oauth1_timestamp_window(mut self, window: Duration) -> ServerConfig {
        self.oauth1_window = window.max(Duration::from_secs(1));
        self
    }

    /// How many failed client authentications one client id may make from one address within `window` before
    /// further attempts are refused with `429 Too Many Requests` and `Retry-After` until the window ends (default
    /// 10 per minute). Applies to the token endpoint and to OAuth 1.0a signatures.
    pub fn auth_failure_limit(mut self, failures: u32, window: Duration) -> ServerConfig {
        self.auth_failure_limit = failures.max(1);
        self.auth_failure_window = window.max(Duration::from_secs(1));
        self
    }

    /// Whether `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` are believed (default: no). Turn it
    /// on only behind a reverse proxy that sets them, or clients can choose the address they are rate-limited by.
    pub fn trust_forwarded_headers(mut self, trust: bool) -> ServerConfig {
        self.trust_forwarded_headers = trust;
        self
    }

    /// The scheme of derived URLs when no public base URL is configured (default `https`; `false` gives `http`,
    /// for a server that really serves plain HTTP).
    pub fn default_scheme(mut self, https: bool) -> ServerConfig {
        self.default_scheme = if https { "https" } else { "http" };
        self
    }
}
