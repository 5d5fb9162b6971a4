//! Failed-authentication rate limits and the OAuth 1.0a nonce cache.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Counts failed authentications per key (client id and address) in fixed windows.
pub(crate) struct RateLimiter {
    max_failures: u32,
    window: chrono::Duration,
    windows: Mutex<HashMap<String, (DateTime<Utc>, u32)>>,
}

impl RateLimiter {
    pub(crate) fn new(max_failures: u32, window: Duration) -> RateLimiter {
        RateLimiter {
            max_failures: max_failures.max(1),
            window: chrono::Duration::from_std(window).unwrap_or(chrono::Duration::minutes(1)),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` if `key` has used up its failures in the current window.
    pub(crate) fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), Duration> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get(key) {
            Some(&(start, failures)) if failures >= self.max_failures && now < start + self.window => {
                Err((start + self.window - now).to_std().unwrap_or(Duration::from_secs(1)))
            }
            _ => Ok(()),
        }
    }

    /// Records a failure of `key`.
    pub(crate) fn fail(&self, key: &str, now: DateTime<Utc>) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= 10_000 {
            let window = self.window;
            windows.retain(|_, (start, _)| now < *start + window);
        }
        let entry = windows.entry(key.to_owned()).or_insert((now, 0));
        if now >= entry.0 + self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

/// OAuth 1.0a nonces seen recently, by consumer key, timestamp and nonce, each kept until its timestamp leaves the
/// window.
#[derive(Default)]
pub(crate) struct NonceCache {
    seen: Mutex<HashMap<(String, i64, String), DateTime<Utc>>>,
}

/// How many nonces are remembered at most; beyond that, requests are refused until some expire.
const MAX_NONCES: usize = 1_000_000;

impl NonceCache {
    /// Remembers a nonce; `false` if it was already seen (a replay) or the cache is full.
    pub(crate) fn insert(&self, key: (String, i64, String), forget_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= 4096 && seen.len().is_power_of_two() || seen.len() >= MAX_NONCES {
            seen.retain(|_, forget| *forget > now);
        }
        if seen.len() >= MAX_NONCES {
            tracing::warn!("the OAuth 1.0a nonce cache is full; refusing signed requests until nonces expire");
            return false;
        }
        match seen.get(&key) {
            Some(forget) if *forget > now => false,
            _ => {
                seen.insert(key, forget_at);
                true
            }
        }
    }
}
