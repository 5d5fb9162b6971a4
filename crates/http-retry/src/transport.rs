//! The HTTP side every vendor client's builder shares: the retry policy with its observer and sleeper, the
//! timeouts, an optional caller-supplied `reqwest::Client`, and the base-URL checks. Each client's builder keeps
//! its own setters (its public API) and hands them to one [`Transport`], so building the HTTP client and the
//! [`Retrier`] happens in one place.

use crate::{Retrier, RetryObserver, RetryPolicy, Sleeper};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Transport settings of a client builder.
#[derive(Clone)]
pub struct Transport {
    /// The retry policy of every request.
    pub policy: RetryPolicy,
    /// Sees every answer and retry (metrics).
    pub observer: Option<Arc<dyn RetryObserver>>,
    /// How waits are made (tests record them instead).
    pub sleeper: Option<Sleeper>,
    /// The time limit of one request attempt.
    pub timeout: Duration,
    /// The time limit to connect.
    pub connect_timeout: Duration,
    /// A caller's HTTP client, used instead of building one (its own timeouts then apply).
    pub http: Option<reqwest::Client>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// The default policy, `timeout` per attempt, 10 s to connect, a client built on demand.
    pub fn new(timeout: Duration) -> Transport {
        Transport {
            policy: RetryPolicy::default(),
            observer: None,
            sleeper: None,
            timeout,
            connect_timeout: Duration::from_secs(10),
            http: None,
        }
    }

    /// The caller's HTTP client, or one built with the timeouts and `user_agent`.
    pub fn http_client(&self, user_agent: &str) -> Result<reqwest::Client, reqwest::Error> {
        match &self.http {
            Some(http) => Ok(http.clone()),
            None => reqwest::Client::builder()
                .timeout(self.timeout)
                .connect_timeout(self.connect_timeout)
                .user_agent(user_agent)
                .build(),
        }
    }

    /// A retrier with the policy, observer and sleeper.
    pub fn retrier(&self) -> Retrier {
        let mut retrier = Retrier::new(self.policy.clone());
        if let Some(observer) = &self.observer {
            retrier = retrier.with_observer(observer.clone());
        }
        if let Some(sleeper) = &self.sleeper {
            retrier = retrier.with_sleeper(sleeper.clone());
        }
        retrier
    }
}

/// A base URL ready to have relative paths joined to it: its path ends with `/`. Errs (with why) when the URL
/// cannot be a base, e.g. `mailto:`.
pub fn base_url(mut url: Url) -> Result<Url, String> {
    if url.cannot_be_a_base() {
        return Err(format!("`{url}` cannot be a base URL"));
    }
    if !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_end_with_a_slash_and_non_bases_are_refused() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(base_url(url("http://127.0.0.1:1/v1.0")).unwrap().as_str(), "http://127.0.0.1:1/v1.0/");
        assert_eq!(
            base_url(url("https://graph.microsoft.com/v1.0/")).unwrap().as_str(),
            "https://graph.microsoft.com/v1.0/"
        );
        assert!(base_url(url("mailto:someone@example.com")).unwrap_err().contains("cannot be a base URL"));
    }
}
