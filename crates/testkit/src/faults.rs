//! Fault injection, scriptable per test: latency, error statuses (429 bursts with `Retry-After`, 5xx), a
//! connection reset in the middle of a body, malformed JSON, and requests held at a [`Gate`] (served, then their
//! answer held back) so a test can act at an exact point of a client's run — e.g. kill it mid-apply.
//!
//! ```
//! use testkit::faults::{Fault, Faults};
//! use std::time::Duration;
//!
//! let faults = Faults::default();
//! // The next three GETs under /v1.0/users are throttled, then things go back to normal.
//! faults.on("GET", "/v1.0/users").times(3).inject(Fault::throttle(2));
//! // The second batch POST gets a 503.
//! faults.on("POST", "/organisations/").after(1).times(1).inject(Fault::status(503));
//! // Every request is slow.
//! faults.on_any().inject(Fault::Latency(Duration::from_millis(50)));
//! ```

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What goes wrong.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// Wait, then answer normally.
    Latency(Duration),
    /// Answer this status instead of the real answer, with an optional `Retry-After` and JSON body.
    Status {
        /// The status.
        status: u16,
        /// `Retry-After`, as sent (seconds or an HTTP date).
        retry_after: Option<String>,
        /// The body; `None` sends the service's usual error body for the status where the fake knows one.
        body: Option<serde_json::Value>,
    },
    /// Answer normally, but drop the connection after half the body.
    ResetMidBody,
    /// Answer normally, but with the body's JSON cut short (still `200`, still `application/json`).
    MalformedJson,
    /// Serve the request (its effects happen), tell the [`Gate`] it arrived, then hold the answer back until the
    /// gate is opened. A client that dies meanwhile never learns whether its request was applied.
    Hold(Gate),
}

/// Where [`Fault::Hold`] requests wait, and how a test learns that they arrived. Clones share one gate.
#[derive(Debug, Clone)]
pub struct Gate {
    /// (requests arrived, open).
    state: Arc<tokio::sync::watch::Sender<(u32, bool)>>,
}

impl Default for Gate {
    fn default() -> Gate {
        Gate::new()
    }
}

impl PartialEq for Gate {
    fn eq(&self, other: &Gate) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Gate {
        Gate { state: Arc::new(tokio::sync::watch::Sender::new((0, false))) }
    }

    /// How many requests have arrived at the gate.
    pub fn arrived(&self) -> u32 {
        self.state.borrow().0
    }

    /// Waits until `n` requests have arrived (returns at once if they have).
    pub async fn wait_for(&self, n: u32) {
        let mut rx = self.state.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = rx.wait_for(|(arrived, _)| *arrived >= n).await;
    }

    /// Opens the gate: held answers go out, and later requests pass.
    pub fn open(&self) {
        self.state.send_modify(|(_, open)| *open = true);
    }

    async fn pass(&self) {
        self.state.send_modify(|(arrived, _)| *arrived += 1);
        let mut rx = self.state.subscribe();
        let _ = rx.wait_for(|(_, open)| *open).await;
    }
}

impl Fault {
    /// `429` with `Retry-After: <seconds>`.
    pub fn throttle(retry_after_seconds: u64) -> Fault {
        Fault::Status { status: 429, retry_after: Some(retry_after_seconds.to_string()), body: None }
    }

    /// A bare status.
    pub fn status(status: u16) -> Fault {
        Fault::Status { status, retry_after: None, body: None }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    method: Option<String>,
    path_prefix: String,
    skip: u32,
    remaining: Option<u32>,
    fault: Fault,
}

/// The fault script of one fake. Clones share the script.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    rules: Arc<Mutex<Vec<Rule>>>,
    error_body: Option<fn(u16) -> serde_json::Value>,
}

/// Builds one rule; see [`Faults::on`].
#[derive(Debug)]
#[must_use = "a rule does nothing until `inject` is called"]
pub struct RuleBuilder<'a> {
    faults: &'a Faults,
    rule: Rule,
}

impl RuleBuilder<'_> {
    /// Lets the first `n` matching requests through untouched.
    pub fn after(mut self, n: u32) -> Self {
        self.rule.skip = n;
        self
    }

    /// Applies to `n` matching requests, then stops (default: every matching request).
    pub fn times(mut self, n: u32) -> Self {
        self.rule.remaining = Some(n);
        self
    }

    /// Adds the rule.
    pub fn inject(mut self, fault: Fault) {
        self.rule.fault = fault;
        if let Ok(mut rules) = self.faults.rules.lock() {
            rules.push(self.rule);
        }
    }
}

impl Faults {
    /// A script whose status faults carry the service's error body for the status (e.g. Graph's
    /// `{"error":{"code":"TooManyRequests",…}}`).
    pub fn with_error_body(error_body: fn(u16) -> serde_json::Value) -> Faults {
        Faults { rules: Arc::default(), error_body: Some(error_body) }
    }

    /// A rule for requests with this method whose path starts with `path_prefix`.
    pub fn on(&self, method: &str, path_prefix: &str) -> RuleBuilder<'_> {
        RuleBuilder {
            faults: self,
            rule: Rule {
                method: Some(method.to_ascii_uppercase()),
                path_prefix: path_prefix.to_owned(),
                skip: 0,
                remaining: None,
                fault: Fault::Latency(Duration::ZERO),
            },
        }
    }

    /// A rule for every request.
    pub fn on_any(&self) -> RuleBuilder<'_> {
        RuleBuilder {
            faults: self,
            rule: Rule {
                method: None,
                path_prefix: String::new(),
                skip: 0,
                remaining: None,
                fault: Fault::Latency(Duration::ZERO),
            },
        }
    }

    /// Removes every rule.
    pub fn clear(&self) {
        if let Ok(mut rules) = self.rules.lock() {
            rules.clear();
        }
    }

    /// The fault for this request, if a rule applies; consumes one use of that rule.
    pub fn take(&self, method: &str, path: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().ok()?;
        let index = rules.iter().position(|r| {
            r.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
                && path.starts_with(&r.path_prefix)
                && r.remaining != Some(0)
        })?;
        let rule = &mut rules[index];
        if rule.skip > 0 {
            rule.skip -= 1;
            return None;
        }
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
        }
        let fault = rule.fault.clone();
        rules.retain(|r| r.remaining != Some(0));
        Some(fault)
    }

    fn status_response(&self, status: u16, retry_after: Option<String>, body: Option<serde_json::Value>) -> Response {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = body.or_else(|| self.error_body.map(|f| f(status)));
        let mut response = match body {
            Some(json) => (code, axum::Json(json)).into_response(),
            None => code.into_response(),
        };
        if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// axum middleware: `axum::middleware::from_fn_with_state(faults, inject)`.
pub async fn inject(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    let fault = faults.take(request.method().as_str(), request.uri().path());
    match fault {
        None => next.run(request).await,
        Some(Fault::Latency(d)) => {
            tokio::time::sleep(d).await;
            next.run(request).await
        }
        Some(Fault::Status { status, retry_after, body }) => faults.status_response(status, retry_after, body),
        Some(Fault::ResetMidBody) => {
            let (mut parts, body) = next.run(request).await.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
            let half = bytes.slice(..bytes.len() / 2);
            parts.headers.remove(header::CONTENT_LENGTH);
            // Half the body, then (after giving the server a turn to flush it) an error that makes hyper drop the
            // connection. The client may still see the reset before the half body; either way it gets a
            // transport error mid-answer.
            let stream = futures::stream::unfold(Some(half), |state| async move {
                match state {
                    Some(half) => Some((Ok::<_, std::io::Error>(half), None)),
                    None => {
                        tokio::task::yield_now().await;
                        Some((
                            Err(std::io::Error::new(
                                std::io::ErrorKind::ConnectionReset,
                                "fault injection: connection reset",
                            )),
                            None,
                        ))
                    }
                }
            });
            Response::from_parts(parts, Body::from_stream(stream.take(2)))
        }
        Some(Fault::Hold(gate)) => {
            let response = next.run(request).await;
            gate.pass().await;
            response
        }
        Some(Fault::MalformedJson) => {
            let (mut parts, body) = next.run(request).await.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
            // Cut the JSON two thirds of the way in (at least one byte short), so no parser can accept it.
            let cut = (bytes.len() * 2 / 3).min(bytes.len().saturating_sub(1));
            let truncated = bytes.slice(..cut);
            parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(truncated.len()));
            parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Response::from_parts(parts, Body::from(truncated))
        }
    }
}
