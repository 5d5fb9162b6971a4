//! The OAuth 2.0 token endpoint of Microsoft Entra ID (`/{tenant}/oauth2/v2.0/token`), shared by every flow.
//!
//! Success: `{"token_type":"Bearer","scope":"…","expires_in":3599,"access_token":"…","refresh_token":"…"}`.
//! Failure: `{"error":"invalid_grant","error_description":"AADSTS70008: …","error_codes":[70008],
//! "timestamp":"…","trace_id":"…","correlation_id":"…"}` (Microsoft identity platform, "OAuth 2.0 client
//! credentials flow" / "device authorization grant flow" / "refresh the access token" error responses).

use super::{AccessToken, AuthError, TokenSet};
use http_retry::{Idempotency, Retrier};
use secrecy::SecretString;
use serde::Deserialize;
use std::time::Duration;
use url::Url;

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

/// An OAuth error answer.
#[derive(Debug, Deserialize)]
pub(crate) struct OAuthError {
    pub(crate) error: String,
    #[serde(default)]
    pub(crate) error_description: Option<String>,
    #[serde(default)]
    pub(crate) error_codes: Vec<u64>,
    #[serde(default)]
    pub(crate) correlation_id: Option<String>,
}

impl OAuthError {
    pub(crate) fn into_auth_error(self) -> AuthError {
        let description = self.error_description.unwrap_or_default();
        match self.error.as_str() {
            "authorization_declined" | "access_denied" => AuthError::Declined,
            "expired_token" | "code_expired" => AuthError::CodeExpired,
            "invalid_grant" => AuthError::SignInRequired { description },
            _ => AuthError::Refused {
                error: self.error,
                description,
                codes: self.error_codes,
                correlation_id: self.correlation_id,
            },
        }
    }
}

/// What the token endpoint said.
pub(crate) enum TokenAnswer {
    Tokens(TokenSet),
    Error(OAuthError),
}

/// `expires_in` is a number in the v2.0 endpoint's answers, but some proxies send it as a string.
fn lifetime(value: Option<serde_json::Value>) -> Duration {
    let secs = match value {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    Duration::from_secs(secs.unwrap_or(3600))
}

/// Posts a form to a token (or device code) endpoint. Token requests are retried on 429 and connection failures
/// only (they are not idempotent: a device code poll or a refresh with rotation must not be repeated blindly).
pub(crate) async fn post_form(
    http: &reqwest::Client,
    retrier: &Retrier,
    url: &Url,
    form: &[(&str, &str)],
) -> Result<(u16, bytes::Bytes), AuthError> {
    let reply = retrier.execute(Idempotency::NotIdempotent, || http.post(url.clone()).form(form)).await?;
    Ok((reply.status.as_u16(), reply.body))
}

/// Requests tokens and reads the answer.
pub(crate) async fn request_tokens(
    http: &reqwest::Client,
    retrier: &Retrier,
    url: &Url,
    form: &[(&str, &str)],
) -> Result<TokenAnswer, AuthError> {
    let (status, body) = post_form(http, retrier, url, form).await?;
    if (200..300).contains(&status) {
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| AuthError::Unreadable { status, message: format!("not a token response: {e}") })?;
        let lifetime = lifetime(parsed.expires_in);
        return Ok(TokenAnswer::Tokens(TokenSet {
            access: AccessToken::new(SecretString::from(parsed.access_token), lifetime),
            refresh: parsed.refresh_token.map(SecretString::from),
            scope: parsed.scope,
        }));
    }
    match serde_json::from_slice::<OAuthError>(&body) {
        Ok(error) => Ok(TokenAnswer::Error(error)),
        Err(_) => Err(AuthError::Unreadable {
            status,
            message: format!("expected an OAuth error body, got {} bytes", body.len()),
        }),
    }
}
