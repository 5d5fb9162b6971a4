//! Running one logical request under the policy.

use crate::policy::RetryPolicy;
use crate::retry_after::retry_after_from_headers;
use futures::future::BoxFuture;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Whether repeating a request can do harm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Repeating it is harmless: GET, PUT, DELETE, or a POST carrying an idempotency key.
    Idempotent,
    /// Repeating it may act twice (a plain POST that creates). Retried only when the server cannot have acted:
    /// a 429, or a connection that was never made.
    NotIdempotent,
}

/// A complete answer: status, headers and the whole body.
///
/// Bodies are read inside the retry loop, so a connection reset in the middle of a body is retried like any other
/// transport failure.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: bytes::Bytes,
    /// How many attempts it took (1 when the first succeeded).
    pub attempts: u32,
}

/// Why a retry is made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryReason {
    /// The server answered with a retryable status (429, 503, …).
    Status(u16),
    /// The connection could not be made.
    Connect,
    /// The request or its body timed out or broke off.
    Transport,
    /// The server said it is throttling with a status the policy does not list, recognised by the retrier's
    /// [`ThrottleClassifier`] (Google answers 403 with `userRateLimitExceeded` or `quotaExceeded`).
    Throttled(u16),
}

/// One retry about to happen, for logs and metrics.
#[derive(Debug, Clone)]
pub struct RetryEvent {
    /// The method.
    pub method: Method,
    /// The URL's path (the query is left out: it may carry paging tokens).
    pub path: String,
    /// Why.
    pub reason: RetryReason,
    /// Which attempt failed (1 for the first).
    pub attempt: u32,
    /// How long the retrier will wait.
    pub delay: Duration,
    /// Whether the delay is the server's `Retry-After`.
    pub from_retry_after: bool,
}

/// Sees every answer and every retry: the hook for metrics and throttling signals.
pub trait RetryObserver: Send + Sync {
    /// Every answer received, retried or not (headers carry signals such as `x-ms-resource-unit`).
    fn on_response(&self, _method: &Method, _path: &str, _status: StatusCode, _headers: &HeaderMap) {}
    /// A retry about to be made.
    fn on_retry(&self, _event: &RetryEvent) {}
}

/// How the retrier waits; replaced in tests to record waits without waiting.
pub type Sleeper = Arc<dyn Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync>;

/// Recognises, from a whole answer (status, headers, body), that a server is throttling although the status is not
/// one the policy retries: some vendors say "slow down" in the body of a 403 (Google's `userRateLimitExceeded`,
/// `rateLimitExceeded`, `quotaExceeded`). Such an answer is retried like a 429 — whatever the idempotency, as the
/// server did not act on the request — with `Retry-After` if given, else the policy's backoff.
pub type ThrottleClassifier = Arc<dyn Fn(StatusCode, &HeaderMap, &[u8]) -> bool + Send + Sync>;

/// A request that failed below HTTP (no answer at all) after the retries the policy allows.
#[derive(Debug, thiserror::Error)]
#[error("{method} {path}: {kind} after {attempts} attempt(s): {source}")]
pub struct TransportError {
    /// The method.
    pub method: Method,
    /// The URL's path.
    pub path: String,
    /// `could not connect`, `timed out`, `broke off`.
    pub kind: &'static str,
    /// Attempts made.
    pub attempts: u32,
    /// The cause.
    #[source]
    pub source: reqwest::Error,
}

impl TransportError {
    /// Whether no connection could be made (DNS, refused, TLS).
    pub fn is_connect(&self) -> bool {
        self.source.is_connect()
    }
    /// Whether it timed out.
    pub fn is_timeout(&self) -> bool {
        self.source.is_timeout()
    }
}

/// Runs requests under a [`RetryPolicy`].
#[derive(Clone)]
pub struct Retrier {
    policy: RetryPolicy,
    observer: Option<Arc<dyn RetryObserver>>,
    sleeper: Sleeper,
    throttle: Option<ThrottleClassifier>,
}

impl std::fmt::Debug for Retrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retrier")
            .field("policy", &self.policy)
            .field("observer", &self.observer.is_some())
            .field("throttle_classifier", &self.throttle.is_some())
            .finish()
    }
}

impl Default for Retrier {
    fn default() -> Retrier {
        Retrier::new(RetryPolicy::default())
    }
}

fn tokio_sleep() -> Sleeper {
    Arc::new(|d| Box::pin(tokio::time::sleep(d)))
}

impl Retrier {
    /// A retrier that sleeps on tokio.
    pub fn new(policy: RetryPolicy) -> Retrier {
        Retrier { policy, observer: None, sleeper: tokio_sleep(), throttle: None }
    }

    /// Adds an observer (metrics).
    pub fn with_observer(mut self, observer: Arc<dyn RetryObserver>) -> Retrier {
        self.observer = Some(observer);
        self
    }

    /// Replaces how waiting is done (tests record the waits instead of making them).
    pub fn with_sleeper(mut self, sleeper: Sleeper) -> Retrier {
        self.sleeper = sleeper;
        self
    }

    /// Adds a classifier of vendor throttling answers whose status the policy does not retry (see
    /// [`ThrottleClassifier`]).
    pub fn with_throttle_classifier(mut self, classifier: ThrottleClassifier) -> Retrier {
        self.throttle = Some(classifier);
        self
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Waits as the retrier waits (used by clients that retry items inside a batch under the same policy).
    pub async fn sleep(&self, d: Duration) {
        (self.sleeper)(d).await;
    }

    /// Sends the request `make` builds, again as the policy allows, and returns the last complete answer —
    /// success or not. `make` is called once per attempt, so it must build the same request each time (same
    /// idempotency key, same body).
    ///
    /// An answer is retried when its status is in the policy's list (429 always; the others only for idempotent
    /// requests) and the wait fits in the remaining budget; the wait is the server's `Retry-After` if it gave one,
    /// else the policy's backoff. A request with no answer is retried when the connection was never made, or,
    /// for idempotent requests, when it timed out or broke off.
    pub async fn execute<F>(&self, idempotency: Idempotency, mut make: F) -> Result<HttpReply, TransportError>
    where
        F: FnMut() -> reqwest::RequestBuilder,
    {
        let mut waited = Duration::ZERO;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let builder = make();
            let (client, request) = builder.build_split();
            let request = match request {
                Ok(r) => r,
                Err(source) => {
                    return Err(TransportError {
                        method: Method::GET,
                        path: String::new(),
                        kind: "could not be built",
                        attempts: attempt,
                        source,
                    });
                }
            };
            let method = request.method().clone();
            let path = request.url().path().to_owned();
            let outcome = match client.execute(request).await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    match response.bytes().await {
                        Ok(body) => Ok(HttpReply { status, headers, body, attempts: attempt }),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };

            let exhausted =
                |delay: Duration| attempt >= self.policy.max_attempts || waited + delay > self.policy.max_total_wait;
            let (reason, delay, from_retry_after) = match outcome {
                Ok(reply) => {
                    if let Some(observer) = &self.observer {
                        observer.on_response(&method, &path, reply.status, &reply.headers);
                    }
                    let code = reply.status.as_u16();
                    let by_status =
                        self.policy.retries_status(code) && (code == 429 || idempotency == Idempotency::Idempotent);
                    // A vendor's "slow down" under another status: the server did not act, so it is retried
                    // whatever the idempotency, like a 429.
                    let vendor_throttled = !by_status
                        && !reply.status.is_success()
                        && self.throttle.as_ref().is_some_and(|f| f(reply.status, &reply.headers, &reply.body));
                    if !by_status && !vendor_throttled {
                        return Ok(reply);
                    }
                    let (delay, from_retry_after) = match retry_after_from_headers(&reply.headers, SystemTime::now()) {
                        Some(wait) => (wait, true),
                        None => (self.policy.backoff(attempt), false),
                    };
                    if exhausted(delay) {
                        tracing::debug!(%method, %path, attempt, status = code, "giving up: retry budget spent");
                        return Ok(reply);
                    }
                    let reason =
                        if vendor_throttled { RetryReason::Throttled(code) } else { RetryReason::Status(code) };
                    (reason, delay, from_retry_after)
                }
                Err(error) => {
                    let connect = error.is_connect();
                    let delay = self.policy.backoff(attempt);
                    if (!connect && idempotency == Idempotency::NotIdempotent) || exhausted(delay) {
                        return Err(transport(method, path, attempt, error));
                    }
                    (if connect { RetryReason::Connect } else { RetryReason::Transport }, delay, false)
                }
            };

            let event = RetryEvent { method, path, reason, attempt, delay, from_retry_after };
            tracing::warn!(
                method = %event.method,
                path = %event.path,
                reason = ?event.reason,
                attempt = event.attempt,
                delay_ms = event.delay.as_millis() as u64,
                from_retry_after = event.from_retry_after,
                "retrying request"
            );
            if let Some(observer) = &self.observer {
                observer.on_retry(&event);
            }
            self.sleep(delay).await;
            waited += delay;
        }
    }
}

fn transport(method: Method, path: String, attempts: u32, source: reqwest::Error) -> TransportError {
    let kind = if source.is_connect() {
        "could not connect"
    } else if source.is_timeout() {
        "timed out"
    } else {
        "broke off"
    };
    TransportError { method, path, kind, attempts, source }
}
