//! The one retry policy every rosterbridge HTTP client applies to every request — first pages, next pages and
//! batch items alike — and the classification of API failures that retry and sync decisions hang on.
//!
//! * [`RetryPolicy`]: which responses are retried, how many times, how long to wait (honouring `Retry-After` given
//!   as seconds or as an HTTP date; otherwise exponential backoff with jitter), and caps on attempts and total wait.
//! * [`Retrier`]: runs one logical request under the policy. Requests that are not idempotent are retried only
//!   when the server cannot have acted on them (a 429, a vendor's throttling answer recognised by a
//!   [`ThrottleClassifier`] such as Google's 403 `userRateLimitExceeded`, or a connection that was never made). Sleeping is done on
//!   tokio and can be replaced for tests. A [`RetryObserver`] sees every response and every retry, for metrics.
//! * [`ApiFailure`]: an HTTP API error as data — status, vendor code, message, request id, `Retry-After` — with
//!   `is_transient()`, `is_throttled()`, `is_not_found()`, `is_unauthorized()` and `is_forbidden()`.
//!
//! ```no_run
//! use http_retry::{Idempotency, Retrier, RetryPolicy};
//!
//! # async fn run() -> Result<(), http_retry::TransportError> {
//! let http = reqwest::Client::new();
//! let retrier = Retrier::new(RetryPolicy::default());
//! let reply = retrier
//!     .execute(Idempotency::Idempotent, || http.get("https://graph.example/v1.0/users"))
//!     .await?;
//! if reply.status.is_success() {
//!     println!("{} bytes", reply.body.len());
//! }
//! # Ok(()) }
//! ```

mod failure;
mod policy;
mod retrier;
mod retry_after;
pub mod transport;

pub use failure::{ApiFailure, THROTTLING_CODES};
pub use policy::RetryPolicy;
pub use retrier::{
    HttpReply, Idempotency, Retrier, RetryEvent, RetryObserver, RetryReason, Sleeper, ThrottleClassifier,
    TransportError,
};
pub use retry_after::{parse_retry_after, retry_after_from_headers};
pub use transport::Transport;
