//! What is retried, how often, and how long to wait.

use std::time::Duration;

/// The retry policy. One value is shared by every request a client makes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included. 1 means no retry. Default 6.
    pub max_attempts: u32,
    /// The first backoff when the server gave no `Retry-After`. Default 500 ms.
    pub initial_backoff: Duration,
    /// The largest backoff between two attempts. Default 30 s.
    pub max_backoff: Duration,
    /// The most time to spend waiting across all retries of one request; a wait that would pass it is not made
    /// and the last answer is returned instead. Default 5 minutes.
    pub max_total_wait: Duration,
    /// HTTP statuses that are retried. 429 is retried even for requests that are not idempotent (the server did
    /// not act on them); the others only for idempotent ones. Default 429, 502, 503, 504.
    pub retry_statuses: Vec<u16>,
    /// Randomise backoffs (between half and all of the computed delay) so that many clients do not retry in
    /// step. Default on.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_total_wait: Duration::from_secs(300),
            retry_statuses: vec![429, 502, 503, 504],
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> RetryPolicy {
        RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }
    }

    /// Sets the number of attempts.
    pub fn max_attempts(mut self, n: u32) -> RetryPolicy {
        self.max_attempts = n.max(1);
        self
    }

    /// Sets the first backoff.
    pub fn initial_backoff(mut self, d: Duration) -> RetryPolicy {
        self.initial_backoff = d;
        self
    }

    /// Sets the largest backoff.
    pub fn max_backoff(mut self, d: Duration) -> RetryPolicy {
        self.max_backoff = d;
        self
    }

    /// Sets the cap on total waiting.
    pub fn max_total_wait(mut self, d: Duration) -> RetryPolicy {
        self.max_total_wait = d;
        self
    }

    /// Turns jitter on or off (off makes backoffs exact, for tests).
    pub fn jitter(mut self, on: bool) -> RetryPolicy {
        self.jitter = on;
        self
    }

    /// Whether a status is retried under this policy.
    pub fn retries_status(&self, status: u16) -> bool {
        self.retry_statuses.contains(&status)
    }

    /// The backoff before retry number `retry` (1 for the first retry): `initial × 2^(retry−1)`, capped, with
    /// jitter if enabled.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(20);
        let base = self.initial_backoff.saturating_mul(1u32 << exp).min(self.max_backoff);
        if self.jitter && !base.is_zero() {
            let half = base / 2;
            let extra = fastrand::u64(0..=half.as_millis().min(u64::MAX as u128) as u64);
            half + Duration::from_millis(extra)
        } else {
            base
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_capped_and_jittered_within_bounds() {
        let p = RetryPolicy::default().jitter(false);
        assert_eq!(p.backoff(1), Duration::from_millis(500));
        assert_eq!(p.backoff(2), Duration::from_secs(1));
        assert_eq!(p.backoff(4), Duration::from_secs(4));
        assert_eq!(p.backoff(30), Duration::from_secs(30));
        let j = RetryPolicy::default();
        for retry in 1..10 {
            let exact = p.backoff(retry);
            let d = j.backoff(retry);
            assert!(d >= exact / 2 && d <= exact, "{d:?} not within [{:?}, {exact:?}]", exact / 2);
        }
    }
}
