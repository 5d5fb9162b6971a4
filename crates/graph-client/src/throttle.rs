//! Throttling signals for metrics.
//!
//! Graph reports its throttling state in response headers (Graph v1.0 "Microsoft Graph throttling guidance" and
//! "service-specific throttling limits"): `x-ms-resource-unit` (the cost of the request in resource units),
//! `x-ms-throttle-limit-percentage` (how close the app is to its limit, sent from 80 %), and 429 with
//! `Retry-After` when the limit is reached.

use http_retry::{RetryEvent, RetryObserver};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of requests and throttling, to hand to [`crate::GraphClientBuilder::observer`] and read from metrics.
#[derive(Debug, Default)]
pub struct ThrottleStats {
    requests: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
    resource_units: AtomicU64,
    limit_percentage: AtomicU64,
}

/// A copy of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ThrottleSnapshot {
    /// Answers received.
    pub requests: u64,
    /// 429 answers.
    pub throttled: u64,
    /// Retries made.
    pub retries: u64,
    /// Sum of `x-ms-resource-unit`.
    pub resource_units: u64,
    /// The last `x-ms-throttle-limit-percentage` seen (0 when none).
    pub last_limit_percentage: u64,
}

impl ThrottleStats {
    /// A copy of the counters now.
    pub fn snapshot(&self) -> ThrottleSnapshot {
        ThrottleSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            resource_units: self.resource_units.load(Ordering::Relaxed),
            last_limit_percentage: self.limit_percentage.load(Ordering::Relaxed),
        }
    }
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    let text = headers.get(name)?.to_str().ok()?;
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).map(|v| v.round() as u64)
}

impl RetryObserver for ThrottleStats {
    fn on_response(&self, _method: &Method, _path: &str, status: StatusCode, headers: &HeaderMap) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(units) = header_number(headers, "x-ms-resource-unit") {
            self.resource_units.fetch_add(units, Ordering::Relaxed);
        }
        if let Some(pct) = header_number(headers, "x-ms-throttle-limit-percentage") {
            self.limit_percentage.store(pct, Ordering::Relaxed);
        }
    }

    fn on_retry(&self, _event: &RetryEvent) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
}
