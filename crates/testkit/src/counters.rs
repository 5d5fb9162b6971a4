//! Request counters, so tests and benchmarks can report requests made against their lower bound.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What a fake has served.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CountersSnapshot {
    /// Requests in all.
    pub requests: u64,
    /// Requests per endpoint, keyed `METHOD /route/{param}` (the route template, not the concrete path).
    pub by_endpoint: BTreeMap<String, u64>,
    /// Answers with status 429.
    pub throttled: u64,
    /// Answers with any other 4xx or 5xx status.
    pub errors: u64,
    /// Response body bytes, as announced by `Content-Length` (bodies without one are not counted).
    pub bytes_out: u64,
}

impl CountersSnapshot {
    /// Requests to one endpoint (`"GET /v1.0/users"`).
    pub fn endpoint(&self, key: &str) -> u64 {
        self.by_endpoint.get(key).copied().unwrap_or(0)
    }
}

/// Shared counters; clones count into the same totals.
#[derive(Debug, Clone, Default)]
pub struct Counters(Arc<Mutex<CountersSnapshot>>);

impl Counters {
    /// A copy of the counts now.
    pub fn snapshot(&self) -> CountersSnapshot {
        self.0.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Sets every count back to zero.
    pub fn reset(&self) {
        if let Ok(mut c) = self.0.lock() {
            *c = CountersSnapshot::default();
        }
    }

    fn record(&self, key: String, status: u16, bytes: u64) {
        if let Ok(mut c) = self.0.lock() {
            c.requests += 1;
            *c.by_endpoint.entry(key).or_default() += 1;
            if status == 429 {
                c.throttled += 1;
            } else if status >= 400 {
                c.errors += 1;
            }
            c.bytes_out += bytes;
        }
    }
}

/// axum middleware: `axum::middleware::from_fn_with_state(counters, count)`. Put it outermost so that answers
/// made by fault injection and throttling are counted too.
pub async fn count(State(counters): State<Counters>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| request.uri().path().to_owned());
    let key = format!("{} {route}", request.method());
    let response = next.run(request).await;
    let bytes = response
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    counters.record(key, response.status().as_u16(), bytes);
    response
}
