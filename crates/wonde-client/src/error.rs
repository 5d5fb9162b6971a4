//! The one error type of this crate.

use http_retry::{ApiFailure, TransportError};

/// Why a Wonde call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WondeError {
    /// Wonde answered with an error status.
    #[error("Wonde: {0}")]
    Api(ApiFailure),
    /// Wonde could not be reached.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Wonde answered JSON this client cannot read.
    #[error("Wonde answered {path} with JSON that does not fit at `{json_path}`: {message}")]
    Decode {
        /// The request's URL path.
        path: String,
        /// Where in the JSON, e.g. `data[3].upi`.
        json_path: String,
        /// What is wrong there.
        message: String,
    },
    /// The call was not sent because its input is wrong (a bad school id, a paging link to another host).
    #[error("invalid request: {0}")]
    InvalidInput(String),
}

impl WondeError {
    /// The API failure, when Wonde answered with an error.
    pub fn api(&self) -> Option<&ApiFailure> {
        match self {
            WondeError::Api(f) => Some(f),
            _ => None,
        }
    }

    /// Trying again later may succeed (throttling, 5xx, network).
    pub fn is_transient(&self) -> bool {
        match self {
            WondeError::Api(f) => f.is_transient(),
            WondeError::Transport(_) => true,
            _ => false,
        }
    }

    /// Wonde is throttling this token.
    pub fn is_throttled(&self) -> bool {
        self.api().is_some_and(ApiFailure::is_throttled)
    }

    /// The school or record does not exist for this token (404).
    pub fn is_not_found(&self) -> bool {
        self.api().is_some_and(|f| f.status == 404)
    }

    /// The token was refused (401).
    pub fn is_unauthorized(&self) -> bool {
        self.api().is_some_and(ApiFailure::is_unauthorized)
    }

    /// The token is valid but may not read this (403): typically a school that has not approved access.
    pub fn is_forbidden(&self) -> bool {
        self.api().is_some_and(ApiFailure::is_forbidden)
    }
}

/// An error body, read leniently. The stored copy of the Wonde documentation does not show its error body, so
/// the common shapes are all accepted: `{"error": "code", "error_description": "…"}` (OAuth style),
/// `{"error": {"code": "…", "message": "…"}}` and `{"message": "…"}`. Classification never depends on the body:
/// it hangs on the HTTP status.
#[derive(serde::Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Turns a non-success answer into an error.
pub(crate) fn from_reply(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> WondeError {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let (mut code, mut message) = (None, None);
    if let Some(b) = parsed {
        match b.error {
            Some(serde_json::Value::String(s)) => code = Some(s),
            Some(serde_json::Value::Object(o)) => {
                code = o.get("code").and_then(|v| v.as_str()).map(str::to_owned);
                message = o.get("message").and_then(|v| v.as_str()).map(str::to_owned);
            }
            _ => {}
        }
        message = message.or(b.error_description).or(b.message);
    }
    let message = message.unwrap_or_else(|| {
        reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("error").to_owned()
    });
    let mut failure = ApiFailure::new(status, message)
        .with_retry_after(http_retry::retry_after_from_headers(headers, std::time::SystemTime::now()));
    if let Some(code) = code {
        failure = failure.with_code(code);
    }
    if let Some(id) = headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
        failure = failure.with_request_id(id);
    }
    WondeError::Api(failure)
}

/// Decodes JSON fast, and on failure decodes again to say where it failed.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, WondeError> {
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(first) => {
            let de = &mut serde_json::Deserializer::from_slice(body);
            match serde_path_to_error::deserialize::<_, T>(de) {
                Err(e) => Err(WondeError::Decode {
                    path: path.to_owned(),
                    json_path: e.path().to_string(),
                    message: e.inner().to_string(),
                }),
                Ok(_) => {
                    Err(WondeError::Decode { path: path.to_owned(), json_path: ".".into(), message: first.to_string() })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_of_every_common_shape_are_read() {
        let h = reqwest::header::HeaderMap::new();
        let e = from_reply(401, &h, br#"{"error":"invalid_token","error_description":"The token is not valid"}"#);
        let f = e.api().unwrap();
        assert_eq!((f.code.as_deref(), f.message.as_str()), (Some("invalid_token"), "The token is not valid"));
        assert!(e.is_unauthorized());
        let e = from_reply(403, &h, br#"{"error":{"code":"forbidden","message":"No access"}}"#);
        assert!(e.is_forbidden() && e.api().unwrap().message == "No access");
        let e = from_reply(503, &h, b"<html>down</html>");
        assert!(e.is_transient());
        assert_eq!(e.api().unwrap().message, "Service Unavailable");
    }
}
