//! Request and throttling counters for metrics.

use http_retry::{RetryEvent, RetryObserver, RetryReason};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of requests, throttling and retries, to hand to [`crate::DirectoryClientBuilder::observer`].
#[derive(Debug, Default)]
pub struct DirectoryStats {
    requests: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
}

/// A copy of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct DirectoryStatsSnapshot {
    /// Answers received.
    pub requests: u64,
    /// Throttling answers that were retried (429, and 403 `userRateLimitExceeded` / `quotaExceeded`).
    pub throttled: u64,
    /// Retries made.
    pub retries: u64,
}

impl DirectoryStats {
    /// A copy of the counters now.
    pub fn snapshot(&self) -> DirectoryStatsSnapshot {
        DirectoryStatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}

impl RetryObserver for DirectoryStats {
    fn on_response(&self, _method: &Method, _path: &str, _status: StatusCode, _headers: &HeaderMap) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    fn on_retry(&self, event: &RetryEvent) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        if matches!(event.reason, RetryReason::Throttled(_) | RetryReason::Status(429)) {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
    }
}
