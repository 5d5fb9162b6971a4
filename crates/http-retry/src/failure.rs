//! API failures as data.

use std::fmt;
use std::time::Duration;

/// Vendor error codes that mean "slow down", whatever the HTTP status (Google answers throttling with 403
/// `userRateLimitExceeded`/`rateLimitExceeded`/`quotaExceeded`; Secure Schools with `rate_limited`).
pub const THROTTLING_CODES: &[&str] = &[
    "rate_limited",
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "quotaExceeded",
    "TooManyRequests",
    "activityLimitReached",
];

/// An error answer from an HTTP API, as data. Every client's error type carries one of these for API failures.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiFailure {
    /// The HTTP status.
    pub status: u16,
    /// The vendor's error code, e.g. Graph's `Request_ResourceNotFound`.
    pub code: Option<String>,
    /// The vendor's message (or a description of the status when the body had none).
    pub message: String,
    /// The vendor's request id, for support tickets.
    pub request_id: Option<String>,
    /// How long the server asked the client to wait, when it said.
    pub retry_after: Option<Duration>,
}

impl ApiFailure {
    /// A failure with a status and message only.
    pub fn new(status: u16, message: impl Into<String>) -> ApiFailure {
        ApiFailure { status, code: None, message: message.into(), request_id: None, retry_after: None }
    }

    /// Sets the vendor code.
    pub fn with_code(mut self, code: impl Into<String>) -> ApiFailure {
        self.code = Some(code.into());
        self
    }

    /// Sets the request id.
    pub fn with_request_id(mut self, id: impl Into<String>) -> ApiFailure {
        self.request_id = Some(id.into());
        self
    }

    /// Sets `Retry-After`.
    pub fn with_retry_after(mut self, wait: Option<Duration>) -> ApiFailure {
        self.retry_after = wait;
        self
    }

    /// The server is throttling: 429, or a vendor code that means the same.
    pub fn is_throttled(&self) -> bool {
        self.status == 429 || self.code.as_deref().is_some_and(|c| THROTTLING_CODES.contains(&c))
    }

    /// Trying again later may succeed: throttling, or a server-side failure (500, 502, 503, 504).
    pub fn is_transient(&self) -> bool {
        self.is_throttled() || matches!(self.status, 500 | 502 | 503 | 504)
    }

    /// The thing asked for does not exist (404, or 410 Gone).
    pub fn is_not_found(&self) -> bool {
        matches!(self.status, 404 | 410)
    }

    /// The credentials were refused or have expired (401).
    pub fn is_unauthorized(&self) -> bool {
        self.status == 401
    }

    /// The credentials are fine but lack permission (403 that is not throttling).
    pub fn is_forbidden(&self) -> bool {
        self.status == 403 && !self.is_throttled()
    }
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        if let Some(wait) = self.retry_after {
            write!(f, " (retry after {}s)", wait.as_secs())?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiFailure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(ApiFailure::new(429, "x").is_throttled());
        assert!(ApiFailure::new(403, "x").with_code("userRateLimitExceeded").is_throttled());
        assert!(!ApiFailure::new(403, "x").with_code("userRateLimitExceeded").is_forbidden());
        assert!(ApiFailure::new(403, "x").with_code("Authorization_RequestDenied").is_forbidden());
        assert!(ApiFailure::new(503, "x").is_transient());
        assert!(!ApiFailure::new(400, "x").is_transient());
        assert!(ApiFailure::new(404, "x").is_not_found());
        assert!(ApiFailure::new(401, "x").is_unauthorized());
    }

    #[test]
    fn display_has_everything_an_operator_needs() {
        let f = ApiFailure::new(404, "Resource 'x' does not exist")
            .with_code("Request_ResourceNotFound")
            .with_request_id("abc-123");
        assert_eq!(
            f.to_string(),
            "HTTP 404 Request_ResourceNotFound: Resource 'x' does not exist (request id abc-123)"
        );
    }
}
