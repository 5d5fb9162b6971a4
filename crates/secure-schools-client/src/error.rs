//! The client's one error type.

use crate::endpoints::Endpoint;
use crate::models::ErrorBody;
use http_retry::{ApiFailure, HttpReply, TransportError};
use std::time::SystemTime;

/// Everything that can go wrong calling Secure Schools.
///
/// Retry and sync decisions hang on [`is_transient`](Error::is_transient), [`is_throttled`](Error::is_throttled),
/// [`is_not_found`](Error::is_not_found), [`is_unauthorized`](Error::is_unauthorized),
/// [`is_forbidden`](Error::is_forbidden) and [`is_conflict`](Error::is_conflict). Nothing here ever holds the
/// token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error status (after the retries the policy allows).
    #[error(transparent)]
    Api(Box<ApiError>),
    /// No answer at all: the connection could not be made, timed out or broke off (after retries).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A success answer whose body does not match the contract.
    #[error("{method} {path}: the answer does not match the contract at `{json_path}`: {source}")]
    Decode {
        /// The endpoint's method.
        method: &'static str,
        /// The request's URL path (no query).
        path: String,
        /// Where in the JSON it failed, e.g. `data[3].updated_at` (`.` for the whole body).
        json_path: String,
        /// What was wrong there.
        #[source]
        source: serde_json::Error,
    },
    /// A success answer that breaks a rule of the contract its JSON shape cannot express (a paging cursor that
    /// repeats, a batch result for an operation that was not sent, …).
    #[error("{method} {path}: the answer breaks the contract: {message}")]
    InvalidResponse {
        /// The endpoint's method.
        method: &'static str,
        /// The request's URL path (no query).
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The caller asked for something the contract does not allow; nothing was sent.
    #[error(transparent)]
    InvalidInput(#[from] InvalidInput),
    /// A request body could not be written as JSON (the contract's types always can; kept so that nothing
    /// panics).
    #[error("the request body could not be written as JSON: {0}")]
    Encode(#[source] serde_json::Error),
    /// The HTTP client could not be set up (e.g. the TLS backend failed to initialise).
    #[error("the HTTP client could not be built: {0}")]
    HttpClient(#[source] reqwest::Error),
}

/// An error answer from the server: the shared [`ApiFailure`] (status, code, message, request id, `Retry-After`)
/// plus where it came from and the contract's optional `details`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{method} {path}: {failure}")]
#[non_exhaustive]
pub struct ApiError {
    /// The endpoint's method.
    pub method: &'static str,
    /// The request's URL path (no query).
    pub path: String,
    /// Status, code, message, request id, `Retry-After`.
    pub failure: ApiFailure,
    /// The error body's `details`, if any (validation errors name the fields here).
    pub details: Option<serde_json::Value>,
}

/// Input refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidInput {
    /// The builder was not given a base URL; there is no built-in host.
    #[error("no base URL was configured (the Secure Schools client has no built-in host)")]
    MissingBaseUrl,
    /// The builder was not given a token.
    #[error("no token was configured")]
    MissingToken,
    /// The base URL cannot be used.
    #[error("the base URL cannot be used: {reason}")]
    BaseUrl {
        /// Why.
        reason: &'static str,
    },
    /// A path parameter (an organisation or user id) is empty, `.` or `..`, so it cannot name one path segment.
    #[error("`{name}` must be a non-empty id other than `.` and `..` (got {value:?})")]
    PathParameter {
        /// The parameter, as named in the path template (`org`, `id`).
        name: &'static str,
        /// The value given.
        value: String,
    },
    /// A page size outside 1 to [`MAX_PAGE_LIMIT`](crate::MAX_PAGE_LIMIT).
    #[error("limit must be between 1 and {max} (got {limit})")]
    LimitOutOfRange {
        /// The value given.
        limit: u32,
        /// The largest allowed.
        max: u32,
    },
    /// More operations than one batch may carry.
    #[error("a batch carries at most {max} operations (got {len}); split it")]
    BatchTooLarge {
        /// Operations given.
        len: usize,
        /// The most allowed.
        max: usize,
    },
    /// An idempotency key that cannot be sent as a header value.
    #[error("an idempotency key must be 1 to 255 visible ASCII characters")]
    IdempotencyKey,
}

impl Error {
    /// The server's error answer, if this is one.
    pub fn api_failure(&self) -> Option<&ApiFailure> {
        match self {
            Error::Api(e) => Some(&e.failure),
            _ => None,
        }
    }

    /// Trying again later may succeed: throttling, a 5xx, or no answer at all.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Api(e) => e.failure.is_transient(),
            Error::Transport(_) => true,
            _ => false,
        }
    }

    /// The server is throttling (429 / `rate_limited`).
    pub fn is_throttled(&self) -> bool {
        self.api_failure().is_some_and(ApiFailure::is_throttled)
    }

    /// The organisation or user does not exist (404 / `not_found`).
    pub fn is_not_found(&self) -> bool {
        self.api_failure().is_some_and(ApiFailure::is_not_found)
    }

    /// The token was refused (401 / `unauthorized`).
    pub fn is_unauthorized(&self) -> bool {
        self.api_failure().is_some_and(ApiFailure::is_unauthorized)
    }

    /// The token is valid but may not do this (403 / `forbidden`), e.g. not an admin of the organisation.
    pub fn is_forbidden(&self) -> bool {
        self.api_failure().is_some_and(ApiFailure::is_forbidden)
    }

    /// The change conflicts with existing data (409 / `conflict`).
    pub fn is_conflict(&self) -> bool {
        self.api_failure().is_some_and(|f| f.status == 409 || f.code.as_deref() == Some("conflict"))
    }

    /// The request's fields were refused (422 / `validation_failed`).
    pub fn is_validation(&self) -> bool {
        self.api_failure().is_some_and(|f| f.status == 422 || f.code.as_deref() == Some("validation_failed"))
    }
}

/// Longest stretch of a non-contract error body quoted in a message.
const BODY_EXCERPT: usize = 200;

impl ApiError {
    /// Reads an error answer: the contract's `{"error":{"code","message","details"?}}` if the body is that, else
    /// an excerpt of the body; plus `x-request-id` and `Retry-After`.
    pub(crate) fn from_reply(endpoint: Endpoint, path: String, reply: &HttpReply) -> ApiError {
        let status = reply.status.as_u16();
        let (code, message, details) = match serde_json::from_slice::<ErrorBody>(&reply.body) {
            Ok(body) => (Some(body.error.code), body.error.message, body.error.details),
            Err(_) => {
                let text = String::from_utf8_lossy(&reply.body);
                let text = text.trim();
                let message = if text.is_empty() {
                    reply.status.canonical_reason().unwrap_or("no message").to_owned()
                } else {
                    text.chars().take(BODY_EXCERPT).collect()
                };
                (None, message, None)
            }
        };
        let mut failure = ApiFailure::new(status, message)
            .with_retry_after(http_retry::retry_after_from_headers(&reply.headers, SystemTime::now()));
        if let Some(code) = code {
            failure = failure.with_code(code);
        }
        if let Some(id) = reply.headers.get(crate::REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()) {
            failure = failure.with_request_id(id);
        }
        ApiError { method: endpoint.method.as_str(), path, failure, details }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Error {
        Error::Api(Box::new(e))
    }
}
