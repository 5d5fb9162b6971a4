//! The one error type of this crate.

use crate::auth::AuthError;
use http_retry::{ApiFailure, TransportError};

/// Why a Graph call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// Graph answered with an error (`{"error":{"code","message","innerError":{"request-id","date"}}}`).
    #[error("Microsoft Graph: {0}")]
    Api(ApiFailure),
    /// No access token could be had.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Graph could not be reached.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Graph answered JSON this client cannot read.
    #[error("Microsoft Graph answered {path} with JSON that does not fit at `{json_path}`: {message}")]
    Decode {
        /// The request's URL path.
        path: String,
        /// Where in the JSON, e.g. `value[3].accountEnabled`.
        json_path: String,
        /// What is wrong there.
        message: String,
    },
    /// A delta link is no longer valid (410 Gone, `syncStateNotFound`, `resyncRequired`…): start again with a
    /// full delta round.
    #[error("the delta token is no longer valid ({code}); a full resync is required")]
    ResyncRequired {
        /// Graph's code.
        code: String,
    },
    /// The call was not sent because its input is wrong (a batch of more than 20, a paging link to another host).
    #[error("invalid request: {0}")]
    InvalidInput(String),
}

impl GraphError {
    /// The API failure, when Graph answered with an error.
    pub fn api(&self) -> Option<&ApiFailure> {
        match self {
            GraphError::Api(f) => Some(f),
            _ => None,
        }
    }

    /// Trying again later may succeed (throttling, 5xx, network).
    pub fn is_transient(&self) -> bool {
        match self {
            GraphError::Api(f) => f.is_transient(),
            GraphError::Transport(_) => true,
            GraphError::Auth(AuthError::Transport(_)) => true,
            _ => false,
        }
    }

    /// Graph is throttling this app or tenant.
    pub fn is_throttled(&self) -> bool {
        self.api().is_some_and(ApiFailure::is_throttled)
    }

    /// The object does not exist (404).
    pub fn is_not_found(&self) -> bool {
        self.api().is_some_and(|f| f.status == 404)
    }

    /// The token was refused even after one refresh (401), or no token could be had.
    pub fn is_unauthorized(&self) -> bool {
        self.api().is_some_and(ApiFailure::is_unauthorized) || matches!(self, GraphError::Auth(_))
    }

    /// The signed-in account or app lacks a permission or role (403).
    pub fn is_forbidden(&self) -> bool {
        self.api().is_some_and(ApiFailure::is_forbidden)
    }

    /// A delta round must start again from scratch.
    pub fn is_resync_required(&self) -> bool {
        matches!(self, GraphError::ResyncRequired { .. })
    }
}

/// Graph's error body.
#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "innerError", alias = "innererror")]
    inner: Option<InnerError>,
}

#[derive(serde::Deserialize)]
struct InnerError {
    #[serde(default, rename = "request-id")]
    request_id: Option<String>,
}

/// Delta error codes that mean "start again" (Graph v1.0 "Use delta query to track changes": a 410 Gone, or
/// `syncStateNotFound` / `syncStateInvalid` / `resyncRequired`).
const RESYNC_CODES: &[&str] = &["syncStateNotFound", "syncStateInvalid", "resyncRequired", "resyncApplicationRequired"];

/// Turns a non-success answer into an error.
pub(crate) fn from_reply(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> GraphError {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let (code, message, inner_id) = match parsed {
        Some(b) => (b.error.code, b.error.message, b.error.inner.and_then(|i| i.request_id)),
        None => (None, None, None),
    };
    if status == 410 || code.as_deref().is_some_and(|c| RESYNC_CODES.contains(&c)) {
        return GraphError::ResyncRequired { code: code.unwrap_or_else(|| "410 Gone".into()) };
    }
    let header_id = headers.get("request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let message = message.unwrap_or_else(|| {
        reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("error").to_owned()
    });
    let mut failure = ApiFailure::new(status, message)
        .with_retry_after(http_retry::retry_after_from_headers(headers, std::time::SystemTime::now()));
    if let Some(code) = code {
        failure = failure.with_code(code);
    }
    if let Some(id) = inner_id.or(header_id) {
        failure = failure.with_request_id(id);
    }
    GraphError::Api(failure)
}

/// Decodes JSON fast, and on failure decodes again to say where it failed.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, GraphError> {
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(first) => {
            let de = &mut serde_json::Deserializer::from_slice(body);
            match serde_path_to_error::deserialize::<_, T>(de) {
                Err(e) => Err(GraphError::Decode {
                    path: path.to_owned(),
                    json_path: e.path().to_string(),
                    message: e.inner().to_string(),
                }),
                // Cannot happen (same input, same type), but if it did the first error is the answer.
                Ok(_) => {
                    Err(GraphError::Decode { path: path.to_owned(), json_path: ".".into(), message: first.to_string() })
                }
            }
        }
    }
}
