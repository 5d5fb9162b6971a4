//! Delegated sign-in of an admin on another device: the OAuth 2.0 device authorization grant.
//!
//! Protocol: Microsoft identity platform, "Microsoft identity platform and the OAuth 2.0 device authorization grant
//! flow", <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code>, which implements RFC 8628.
//! 1. `POST /{tenant}/oauth2/v2.0/devicecode` with `client_id` and `scope` answers `device_code`, `user_code`,
//!    `verification_uri`, `expires_in`, `interval` and a human-readable `message`.
//! 2. The user opens `verification_uri` elsewhere and enters `user_code`; meanwhile the client polls
//!    `POST /{tenant}/oauth2/v2.0/token` with `grant_type=urn:ietf:params:oauth:grant-type:device_code`, `client_id`
//!    and `device_code` every `interval` seconds. `authorization_pending` means keep polling; `slow_down` means
//!    add five seconds to the interval (RFC 8628 §3.5); `authorization_declined`, `expired_token` and
//!    `bad_verification_code` end the flow.
//!
//! `offline_access` is always asked for, so that the answer carries a refresh token for
//! [`RefreshTokenSource`](super::RefreshTokenSource).

use super::endpoint::{OAuthError, TokenAnswer, post_form, request_tokens};
use super::{AuthError, TokenSet};
use crate::cloud::{Cloud, Tenant};
use http_retry::{Retrier, Sleeper};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The grant type of a device code poll (RFC 8628 §3.4).
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The scope that makes Entra ID issue a refresh token.
const OFFLINE_ACCESS: &str = "offline_access";

/// How much longer to wait between polls after a `slow_down` answer (RFC 8628 §3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// The polling interval when the answer gives none (RFC 8628 §3.2).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// How long a device code lives when the answer does not say (Entra's documented default, 15 minutes).
const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(900);

/// The `scope` parameter for delegated requests: the scopes asked for, space-separated, with `offline_access`
/// added when missing.
pub(crate) fn scope_param(scopes: &[String]) -> String {
    let mut all: Vec<&str> = scopes.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    if !all.iter().any(|s| s.eq_ignore_ascii_case(OFFLINE_ACCESS)) {
        all.push(OFFLINE_ACCESS);
    }
    all.join(" ")
}

fn tokio_sleeper() -> Sleeper {
    Arc::new(|d| Box::pin(tokio::time::sleep(d)))
}

/// The device authorization grant: shows the user a code to enter on another device, then waits for the sign-in.
///
/// ```no_run
/// use graph_client::auth::DeviceCodeFlow;
/// use graph_client::{Cloud, Tenant};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let cloud = Cloud::Global;
/// let scopes = vec![cloud.scope("User.Read.All"), cloud.scope("Group.Read.All")];
/// let tenant = Tenant::new("contoso.onmicrosoft.com")?;
/// let flow = DeviceCodeFlow::new(cloud, tenant, "00001111-aaaa-2222-bbbb-3333cccc4444", scopes);
/// let prompt = flow.start().await?;
/// eprintln!("{prompt}"); // "To sign in, use a web browser to open the page … and enter the code …"
/// let tokens = flow.wait(&prompt).await?;
/// # let _ = tokens; Ok(()) }
/// ```
pub struct DeviceCodeFlow {
    device_code_url: Url,
    token_url: Url,
    client_id: String,
    scope: String,
    http: reqwest::Client,
    retrier: Retrier,
    sleeper: Sleeper,
}

impl DeviceCodeFlow {
    /// A flow for the public client app `client_id` in `tenant` on `cloud`, asking for `scopes` (fully qualified,
    /// e.g. `cloud.scope("User.Read.All")`) plus `offline_access`. Uses a default HTTP client, the default retry
    /// policy and tokio's clock; see the `with_*` methods.
    pub fn new(cloud: Cloud, tenant: Tenant, client_id: impl Into<String>, scopes: Vec<String>) -> DeviceCodeFlow {
        DeviceCodeFlow {
            device_code_url: cloud.device_code_url(&tenant),
            token_url: cloud.token_url(&tenant),
            client_id: client_id.into(),
            scope: scope_param(&scopes),
            http: reqwest::Client::new(),
            retrier: Retrier::default(),
            sleeper: tokio_sleeper(),
        }
    }

    /// Uses this HTTP client (timeouts, proxy) for the requests.
    pub fn with_http(mut self, http: reqwest::Client) -> DeviceCodeFlow {
        self.http = http;
        self
    }

    /// Uses this retrier (the client's shared retry policy) for the requests.
    pub fn with_retrier(mut self, retrier: Retrier) -> DeviceCodeFlow {
        self.retrier = retrier;
        self
    }

    /// Replaces how the wait between polls is made (tests record the waits instead of making them).
    pub fn with_sleeper(mut self, sleeper: Sleeper) -> DeviceCodeFlow {
        self.sleeper = sleeper;
        self
    }

    /// The `scope` parameter sent: the scopes, space-separated, `offline_access` included.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// Asks Entra ID for a device code. Show the prompt to the user (its `Display` is Entra's instructions), then
    /// call [`wait`](Self::wait).
    pub async fn start(&self) -> Result<DeviceCodePrompt, AuthError> {
        let form = [("client_id", self.client_id.as_str()), ("scope", self.scope.as_str())];
        let (status, body) = post_form(&self.http, &self.retrier, &self.device_code_url, &form).await?;
        if (200..300).contains(&status) {
            let answer: DeviceCodeResponse = serde_json::from_slice(&body).map_err(|e| AuthError::Unreadable {
                status,
                message: format!("not a device authorization response: {e}"),
            })?;
            let prompt = answer.into_prompt();
            tracing::info!(
                verification_uri = %prompt.verification_uri,
                expires_in_s = prompt.expires_in.as_secs(),
                interval_s = prompt.interval.as_secs(),
                "device code issued; waiting for the user to sign in"
            );
            return Ok(prompt);
        }
        match serde_json::from_slice::<OAuthError>(&body) {
            Ok(error) => Err(poll_error(error)),
            Err(_) => Err(AuthError::Unreadable {
                status,
                message: format!("expected an OAuth error body, got {} bytes", body.len()),
            }),
        }
    }

    /// Polls the token endpoint until the user has signed in (the tokens, with a refresh token), declined
    /// ([`AuthError::Declined`]), or let the code expire ([`AuthError::CodeExpired`], also returned once the
    /// waits add up to the prompt's `expires_in`). The first poll is made at once, then one every `interval`,
    /// five seconds longer after each `slow_down`. Other answers (`bad_verification_code`, `invalid_client`, …)
    /// are [`AuthError::Refused`].
    pub async fn wait(&self, prompt: &DeviceCodePrompt) -> Result<TokenSet, AuthError> {
        let mut interval = prompt.interval.max(Duration::from_secs(1));
        let mut waited = Duration::ZERO;
        loop {
            let form = [
                ("grant_type", DEVICE_CODE_GRANT),
                ("client_id", self.client_id.as_str()),
                ("device_code", prompt.device_code.expose_secret()),
            ];
            match request_tokens(&self.http, &self.retrier, &self.token_url, &form).await? {
                TokenAnswer::Tokens(tokens) => {
                    if tokens.refresh.is_none() {
                        tracing::warn!("sign-in completed but no refresh token was issued");
                    }
                    tracing::info!(scope = ?tokens.scope, "device code sign-in completed");
                    return Ok(tokens);
                }
                TokenAnswer::Error(error) => match error.error.as_str() {
                    "authorization_pending" => {}
                    "slow_down" => {
                        interval += SLOW_DOWN_STEP;
                        tracing::debug!(interval_s = interval.as_secs(), "asked to slow down polling");
                    }
                    _ => return Err(poll_error(error)),
                },
            }
            if waited + interval > prompt.expires_in {
                tracing::info!(waited_s = waited.as_secs(), "device code expired before the sign-in completed");
                return Err(AuthError::CodeExpired);
            }
            (self.sleeper)(interval).await;
            waited += interval;
        }
    }
}

/// Maps an error answer of the device code flow: only a decline and an expired code have variants of their own;
/// everything else (`bad_verification_code`, `invalid_grant`, `invalid_client`, …) is a refusal.
fn poll_error(error: OAuthError) -> AuthError {
    match error.error.as_str() {
        "authorization_declined" | "access_denied" => AuthError::Declined,
        "expired_token" | "code_expired" => AuthError::CodeExpired,
        _ => AuthError::Refused {
            error: error.error,
            description: error.error_description.unwrap_or_default(),
            codes: error.error_codes,
            correlation_id: error.correlation_id,
        },
    }
}

impl fmt::Debug for DeviceCodeFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodeFlow")
            .field("device_code_url", &self.device_code_url.as_str())
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The device authorization response. `expires_in` and `interval` are numbers in the v2.0 endpoint's answers, but
/// older endpoints and some proxies send them as strings.
#[derive(Deserialize)]
struct DeviceCodeResponse {
    device_code: String,
    user_code: String,
    verification_uri: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    interval: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
}

fn seconds(value: Option<serde_json::Value>) -> Option<Duration> {
    let secs = match value? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    secs.map(Duration::from_secs)
}

impl DeviceCodeResponse {
    fn into_prompt(self) -> DeviceCodePrompt {
        let message = match self.message {
            Some(m) if !m.trim().is_empty() => m,
            _ => format!(
                "To sign in, use a web browser to open the page {} and enter the code {} to authenticate.",
                self.verification_uri, self.user_code
            ),
        };
        DeviceCodePrompt {
            user_code: self.user_code,
            verification_uri: self.verification_uri,
            message,
            expires_in: seconds(self.expires_in).unwrap_or(DEFAULT_EXPIRES_IN),
            interval: seconds(self.interval).unwrap_or(DEFAULT_INTERVAL),
            device_code: SecretString::from(self.device_code),
        }
    }
}

/// What to show the user, and what [`DeviceCodeFlow::wait`] needs to poll. `Display` is Entra's own
/// instructions (`message`); `Debug` never shows the device code.
#[derive(Clone)]
pub struct DeviceCodePrompt {
    /// The short code the user enters, e.g. `FQK5HW3UF`.
    pub user_code: String,
    /// Where the user enters it, e.g. `https://microsoft.com/devicelogin`.
    pub verification_uri: String,
    /// Entra's instructions for the user, naming both.
    pub message: String,
    /// How long the codes stay valid from when they were issued.
    pub expires_in: Duration,
    /// How long to wait between polls.
    pub interval: Duration,
    device_code: SecretString,
}

impl fmt::Display for DeviceCodePrompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for DeviceCodePrompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodePrompt")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("message", &self.message)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .field("device_code", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_access_is_always_asked_for_once() {
        let s = |v: &[&str]| scope_param(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            s(&["https://graph.microsoft.com/User.Read.All"]),
            "https://graph.microsoft.com/User.Read.All offline_access"
        );
        assert_eq!(s(&["Offline_Access", "User.Read"]), "Offline_Access User.Read");
        assert_eq!(s(&[]), "offline_access");
    }

    #[test]
    fn counts_may_be_strings() {
        let r: DeviceCodeResponse = serde_json::from_value(serde_json::json!({
            "device_code": "GMMhmHCXhWEzkobqIHGG_EnNYYsAkukHspeYUk9E8",
            "user_code": "FQK5HW3UF",
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": "900",
            "interval": "5"
        }))
        .unwrap();
        let p = r.into_prompt();
        assert_eq!(p.expires_in, Duration::from_secs(900));
        assert_eq!(p.interval, Duration::from_secs(5));
        assert!(p.to_string().contains("https://microsoft.com/devicelogin"));
        assert!(!format!("{p:?}").contains("GMMhmHCX"));
    }
}
