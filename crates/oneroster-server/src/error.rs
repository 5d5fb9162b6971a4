//! The one error type of the crate, and how it answers HTTP requests.
//!
//! Read endpoints answer errors with an `imsx_StatusInfo` body (OneRoster 1.1); the token endpoint answers with
//! the RFC 6749 §5.2 body (`{"error": …, "error_description": …}`). Internals (store failures, bugs) are logged
//! with `tracing` and answered with a generic message: the client learns only what it can act on.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oneroster_model::CodeMinorValue;
use oneroster_model::EntityKind;
use oneroster_model::json::StatusInfo;
use oneroster_model::query::QueryError;
use std::fmt;
use std::time::Duration;

/// The realm named in `WWW-Authenticate` challenges.
pub(crate) const REALM: &str = "OneRoster";

/// Everything that can go wrong in the server, from a bad query to a store that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `filter`, `sort`, `orderBy` or `fields` value that cannot be used (400; the code minor comes from
    /// [`QueryError::code_minor`]).
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Another query parameter that cannot be used, such as a negative `limit` (400, `invaliddata`).
    #[error("invalid `{parameter}`: {message}")]
    InvalidParameter {
        /// The parameter, e.g. `limit`.
        parameter: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A single-record read of a record that does not exist (404, `unknownobject`).
    #[error("no {kind} has the sourcedId `{id}`")]
    NotFound {
        /// What was looked for, as the endpoint names it (`student`, `term`, `org`, …).
        kind: &'static str,
        /// The `sourcedId` asked for.
        id: String,
    },
    /// A read without valid credentials (401, `unauthorisedrequest`, with `WWW-Authenticate`).
    #[error("unauthorised request: {0}")]
    Unauthorized(AuthFailure),
    /// Too many failed OAuth 1.0a authentications from one consumer and address (429, `server_busy`, with
    /// `Retry-After`).
    #[error("too many failed authentications; retry in {} s", retry_after_secs(*.retry_after))]
    TooManyFailures {
        /// How long until attempts are accepted again.
        retry_after: Duration,
    },
    /// A token request refused (RFC 6749 §5.2).
    #[error("token request refused: {0}")]
    Token(TokenError),
    /// The configuration cannot be used.
    #[error("invalid configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// The roster store failed.
    #[error("the roster store failed")]
    Store(#[from] roster_store::StoreError),
    /// A roster too large to index (more than `u32::MAX` records of one kind).
    #[error("the roster is too large to serve: {what}")]
    TooLarge {
        /// Which kind overflowed.
        what: String,
    },
    /// Anything else that is the server's fault (500).
    #[error("internal error: {message}")]
    Internal {
        /// What went wrong; logged, never shown to clients.
        message: String,
    },
}

impl Error {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Query(_) | Error::InvalidParameter { .. } => StatusCode::BAD_REQUEST,
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::TooManyFailures { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Token(e) => e.status(),
            Error::Config { .. } | Error::Store(_) | Error::TooLarge { .. } | Error::Internal { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Whether the request lacked valid credentials (or the token request had a bad client).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Unauthorized(_) | Error::Token(TokenError::InvalidClient))
    }

    /// Whether a record was not found.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Whether the client was throttled (429).
    pub fn is_throttled(&self) -> bool {
        matches!(self, Error::TooManyFailures { .. } | Error::Token(TokenError::RateLimited { .. }))
    }

    /// Whether trying again later may succeed: throttling, or a store failure.
    pub fn is_transient(&self) -> bool {
        self.is_throttled() || matches!(self, Error::Store(_))
    }

    /// The `imsx_codeMinorFieldValue` of the `imsx_StatusInfo` body.
    pub fn code_minor(&self) -> CodeMinorValue {
        match self {
            Error::Query(e) => e.code_minor(),
            Error::InvalidParameter { .. } => CodeMinorValue::InvalidData,
            Error::NotFound { .. } => CodeMinorValue::UnknownObject,
            Error::Unauthorized(_) | Error::Token(TokenError::InvalidClient) => CodeMinorValue::UnauthorisedRequest,
            Error::TooManyFailures { .. } | Error::Token(TokenError::RateLimited { .. }) => CodeMinorValue::ServerBusy,
            Error::Token(_) => CodeMinorValue::InvalidData,
            Error::Config { .. } | Error::Store(_) | Error::TooLarge { .. } | Error::Internal { .. } => {
                CodeMinorValue::InternalServerError
            }
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Error {
        Error::Internal { message: message.into() }
    }

    pub(crate) fn not_found(kind: &'static str, id: &str) -> Error {
        Error::NotFound { kind, id: id.to_owned() }
    }

    pub(crate) fn invalid(parameter: &'static str, message: impl Into<String>) -> Error {
        Error::InvalidParameter { parameter, message: message.into() }
    }

    /// What the client is told: the message for its own mistakes, a generic one for the server's.
    fn public_description(&self) -> String {
        if self.status().is_server_error() { "internal server error".to_owned() } else { self.to_string() }
    }
}

/// Why a read request was not authenticated. The messages are safe to show the client: they never say whether a
/// consumer key exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// No `Authorization` header and no OAuth 1.0a query parameters.
    Missing,
    /// An `Authorization` scheme other than `Bearer` and `OAuth`.
    UnsupportedScheme,
    /// A bearer token this server did not issue (or has forgotten).
    InvalidToken,
    /// A bearer token that has expired.
    ExpiredToken,
    /// OAuth 1.0a is not enabled: no consumer secrets are configured.
    OAuth1Disabled,
    /// An OAuth 1.0a request that lacks a parameter or is not well formed.
    Malformed(&'static str),
    /// An `oauth_signature_method` other than `HMAC-SHA1` and `HMAC-SHA256`.
    UnsupportedSignatureMethod,
    /// An `oauth_timestamp` outside the window around the server's clock.
    StaleTimestamp,
    /// An `oauth_nonce` already used with this consumer key and timestamp.
    ReplayedNonce,
    /// An unknown consumer key or a signature that does not verify (deliberately not told apart).
    BadSignature,
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthFailure::Missing => {
                f.write_str("no credentials: send `Authorization: Bearer <token>` or an OAuth 1.0a signature")
            }
            AuthFailure::UnsupportedScheme => f.write_str("unsupported authorization scheme: use Bearer or OAuth"),
            AuthFailure::InvalidToken => f.write_str("the access token is not valid"),
            AuthFailure::ExpiredToken => f.write_str("the access token has expired"),
            AuthFailure::OAuth1Disabled => f.write_str("OAuth 1.0a is not enabled on this server"),
            AuthFailure::Malformed(what) => write!(f, "malformed OAuth 1.0a request: {what}"),
            AuthFailure::UnsupportedSignatureMethod => {
                f.write_str("oauth_signature_method must be HMAC-SHA1 or HMAC-SHA256")
            }
            AuthFailure::StaleTimestamp => f.write_str("oauth_timestamp is outside the allowed window"),
            AuthFailure::ReplayedNonce => f.write_str("oauth_nonce has already been used"),
            AuthFailure::BadSignature => f.write_str("invalid OAuth 1.0a consumer key or signature"),
        }
    }
}

impl AuthFailure {
    /// The `WWW-Authenticate` challenges for this failure: RFC 6750 for bearer tokens, the OAuth 1.0a
    /// problem-reporting extension for signatures, both when nothing was sent.
    fn challenges(self) -> Vec<String> {
        let bearer = format!("Bearer realm=\"{REALM}\"");
        let oauth = format!("OAuth realm=\"{REALM}\"");
        let problem = |p: &str| format!("OAuth realm=\"{REALM}\", oauth_problem=\"{p}\"");
        match self {
            AuthFailure::Missing | AuthFailure::UnsupportedScheme => vec![bearer, oauth],
            AuthFailure::InvalidToken | AuthFailure::ExpiredToken => {
                vec![format!("{bearer}, error=\"invalid_token\", error_description=\"{self}\"")]
            }
            AuthFailure::OAuth1Disabled => vec![bearer],
            AuthFailure::Malformed(_) => vec![problem("parameter_absent")],
            AuthFailure::UnsupportedSignatureMethod => vec![problem("signature_method_rejected")],
            AuthFailure::StaleTimestamp => vec![problem("timestamp_refused")],
            AuthFailure::ReplayedNonce => vec![problem("nonce_used")],
            AuthFailure::BadSignature => vec![problem("signature_invalid")],
        }
    }
}

/// A token request refused, with its RFC 6749 §5.2 error code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// `invalid_request` (400): a missing or repeated parameter, two authentication methods, a wrong content type.
    InvalidRequest(String),
    /// `invalid_client` (401, with `WWW-Authenticate: Basic`): unknown client, wrong secret, or no client
    /// authentication.
    InvalidClient,
    /// `unsupported_grant_type` (400): anything but `client_credentials`.
    UnsupportedGrantType,
    /// Too many failed client authentications (429, with `Retry-After`).
    RateLimited {
        /// How long until attempts are accepted again.
        retry_after: Duration,
    },
}

impl TokenError {
    fn status(&self) -> StatusCode {
        match self {
            TokenError::InvalidRequest(_) | TokenError::UnsupportedGrantType => StatusCode::BAD_REQUEST,
            TokenError::InvalidClient => StatusCode::UNAUTHORIZED,
            TokenError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The RFC 6749 `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::InvalidRequest(_) => "invalid_request",
            TokenError::InvalidClient => "invalid_client",
            TokenError::UnsupportedGrantType => "unsupported_grant_type",
            TokenError::RateLimited { .. } => "temporarily_unavailable",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::InvalidRequest(message) => f.write_str(message),
            TokenError::InvalidClient => f.write_str("client authentication failed"),
            TokenError::UnsupportedGrantType => f.write_str("only grant_type=client_credentials is supported"),
            TokenError::RateLimited { retry_after } => {
                write!(f, "too many failed client authentications; retry in {} s", retry_after_secs(*retry_after))
            }
        }
    }
}

/// Whole seconds to wait, rounded up, at least 1.
pub(crate) fn retry_after_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

/// The error and its causes, for logs.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

pub(crate) fn json_response(status: StatusCode, body: String, headers: HeaderMap) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().extend(headers);
    response
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %chain(&self), "request failed");
        } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS {
            tracing::info!(status = status.as_u16(), reason = %self, "request refused");
        } else {
            tracing::debug!(status = status.as_u16(), reason = %self, "request refused");
        }
        let mut headers = HeaderMap::new();
        if let Error::Token(token) = &self {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            match token {
                TokenError::InvalidClient => {
                    if let Ok(value) = HeaderValue::from_str(&format!("Basic realm=\"{REALM}\"")) {
                        headers.insert(header::WWW_AUTHENTICATE, value);
                    }
                }
                TokenError::RateLimited { retry_after } => {
                    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(*retry_after)));
                }
                _ => {}
            }
            let body = serde_json::json!({ "error": token.code(), "error_description": token.to_string() });
            return json_response(status, body.to_string(), headers);
        }
        match &self {
            Error::Unauthorized(failure) => {
                for challenge in failure.challenges() {
                    if let Ok(value) = HeaderValue::from_str(&challenge) {
                        headers.append(header::WWW_AUTHENTICATE, value);
                    }
                }
            }
            Error::TooManyFailures { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(*retry_after)));
            }
            _ => {}
        }
        let info = StatusInfo::failure(self.code_minor(), self.public_description());
        let body = serde_json::to_string(&info).unwrap_or_default();
        json_response(status, body, headers)
    }
}

/// The kind names used in `NotFound` for each entity kind.
pub(crate) fn kind_name(kind: EntityKind) -> &'static str {
    kind.single_key()
}
