//! The one error type of this crate.
//!
//! The Directory API answers errors in Google's JSON error format (Admin SDK Directory API, "Limits and quotas",
//! <https://developers.google.com/workspace/admin/directory/v1/limits>, and Google Cloud API design guide,
//! "Errors", <https://cloud.google.com/apis/design/errors>):
//! `{"error":{"code":403,"message":"…","errors":[{"message":"…","domain":"usageLimits","reason":"userRateLimitExceeded"}],"status":"PERMISSION_DENIED"}}`.
//! The `reason` of the first item is the vendor code an [`ApiFailure`] carries.

use crate::auth::AuthError;
use http_retry::{ApiFailure, THROTTLING_CODES, ThrottleClassifier, TransportError};
use std::sync::Arc;

/// Why a Directory API call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// The Directory API answered with an error.
    #[error("Google Directory API: {0}")]
    Api(ApiFailure),
    /// No access token could be had.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Google could not be reached.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Google answered JSON this client cannot read.
    #[error("the Google Directory API answered {path} with JSON that does not fit at `{json_path}`: {message}")]
    Decode {
        /// The request's URL path.
        path: String,
        /// Where in the JSON, e.g. `users[3].suspended`.
        json_path: String,
        /// What is wrong there.
        message: String,
    },
    /// The call was not sent because its input is wrong.
    #[error("invalid request: {0}")]
    InvalidInput(String),
}

impl DirectoryError {
    /// The API failure, when Google answered with an error.
    pub fn api(&self) -> Option<&ApiFailure> {
        match self {
            DirectoryError::Api(f) => Some(f),
            _ => None,
        }
    }

    /// Trying again later may succeed (throttling, 5xx, network).
    pub fn is_transient(&self) -> bool {
        match self {
            DirectoryError::Api(f) => f.is_transient(),
            DirectoryError::Transport(_) | DirectoryError::Auth(AuthError::Transport(_)) => true,
            _ => false,
        }
    }

    /// Google is throttling (429, or 403 `userRateLimitExceeded` / `quotaExceeded` / `rateLimitExceeded`).
    pub fn is_throttled(&self) -> bool {
        self.api().is_some_and(ApiFailure::is_throttled)
    }

    /// The thing asked for does not exist (404, or 400 `INVALID_OU_ID` for an organisational unit that does not
    /// exist).
    pub fn is_not_found(&self) -> bool {
        self.api().is_some_and(|f| f.status == 404 || (f.status == 400 && f.message.contains("INVALID_OU_ID")))
    }

    /// The token was refused even after one refresh (401), or no token could be had.
    pub fn is_unauthorized(&self) -> bool {
        self.api().is_some_and(ApiFailure::is_unauthorized) || matches!(self, DirectoryError::Auth(_))
    }

    /// The acting user or the token's scopes lack permission (403 that is not throttling).
    pub fn is_forbidden(&self) -> bool {
        self.api().is_some_and(ApiFailure::is_forbidden)
    }
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Vec<ErrorItem>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(serde::Deserialize)]
struct ErrorItem {
    #[serde(default)]
    reason: Option<String>,
}

/// The `reason` of an error answer (or its `status` when it has no `errors` list).
fn reason(body: &[u8]) -> Option<(Option<String>, Option<String>)> {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok()?;
    let code = parsed.error.errors.into_iter().find_map(|e| e.reason).or(parsed.error.status);
    Some((code, parsed.error.message))
}

/// The retrier's classifier for Google: a 403 or 429 whose reason means "slow down" (Directory API "Limits and
/// quotas": 403 `userRateLimitExceeded`, 403 `quotaExceeded`, 429 `rateLimitExceeded`).
pub fn throttle_classifier() -> ThrottleClassifier {
    Arc::new(|status, _headers, body: &[u8]| {
        matches!(status.as_u16(), 403 | 429)
            && reason(body).and_then(|(code, _)| code).is_some_and(|c| THROTTLING_CODES.contains(&c.as_str()))
    })
}

/// Turns a non-success answer into an error.
pub(crate) fn from_reply(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> DirectoryError {
    let (code, message) = reason(body).unwrap_or((None, None));
    let message = message.unwrap_or_else(|| {
        reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("error").to_owned()
    });
    let mut failure = ApiFailure::new(status, message)
        .with_retry_after(http_retry::retry_after_from_headers(headers, std::time::SystemTime::now()));
    if let Some(code) = code {
        failure = failure.with_code(code);
    }
    DirectoryError::Api(failure)
}

/// Decodes JSON fast, and on failure decodes again to say where it failed.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, DirectoryError> {
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(first) => {
            let de = &mut serde_json::Deserializer::from_slice(body);
            match serde_path_to_error::deserialize::<_, T>(de) {
                Err(e) => Err(DirectoryError::Decode {
                    path: path.to_owned(),
                    json_path: e.path().to_string(),
                    message: e.inner().to_string(),
                }),
                Ok(_) => Err(DirectoryError::Decode {
                    path: path.to_owned(),
                    json_path: ".".into(),
                    message: first.to_string(),
                }),
            }
        }
    }
}
