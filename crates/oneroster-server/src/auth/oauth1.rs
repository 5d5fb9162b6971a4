//! OAuth 1.0a (RFC 5849) HMAC-SHA1 and HMAC-SHA256 signatures, two-legged: a consumer key and secret, no token.

use crate::auth::client_ip;
use crate::error::{AuthFailure, Error};
use crate::state::AppState;
use crate::util::{encode, form_decode};
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// An OAuth 1.0a signature method this server verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureMethod {
    /// `HMAC-SHA1`, what RFC 5849 defines and most OneRoster 1.1 consumers send.
    HmacSha1,
    /// `HMAC-SHA256`.
    HmacSha256,
}

impl SignatureMethod {
    /// The `oauth_signature_method` value.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureMethod::HmacSha1 => "HMAC-SHA1",
            SignatureMethod::HmacSha256 => "HMAC-SHA256",
        }
    }

    /// Reads an `oauth_signature_method` value (exactly as RFC 5849 spells it).
    pub fn parse(text: &str) -> Option<SignatureMethod> {
        match text {
            "HMAC-SHA1" => Some(SignatureMethod::HmacSha1),
            "HMAC-SHA256" => Some(SignatureMethod::HmacSha256),
            _ => None,
        }
    }

    fn sign(self, consumer_secret: &str, base_string: &str) -> Result<Vec<u8>, Error> {
        // RFC 5849 §3.4.2: the key is the encoded consumer secret, "&", and the (empty) encoded token secret.
        let key = format!("{}&", encode(consumer_secret));
        let fail = |e: hmac::digest::InvalidLength| Error::internal(format!("an HMAC key: {e}"));
        Ok(match self {
            SignatureMethod::HmacSha1 => {
                let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key.as_bytes()).map_err(fail)?;
                mac.update(base_string.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            SignatureMethod::HmacSha256 => {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).map_err(fail)?;
                mac.update(base_string.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
        })
    }
}

/// The signature base string of RFC 5849 §3.4.1: the method, the base string URI and the normalised parameters,
/// each encoded and joined by `&`. `params` are decoded names and values (query parameters and `oauth_*`
/// protocol parameters, without `oauth_signature` and `realm`).
pub fn signature_base_string(method: &str, base_uri: &str, params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    encoded.sort();
    let normalized = encoded.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    format!("{}&{}&{}", method.to_ascii_uppercase(), encode(base_uri), encode(&normalized))
}

/// Signs a request as a two-legged OAuth 1.0a consumer and returns the `Authorization` header value: what a
/// client (or `doctor`, or a test) sends. `url` is the full URL including its query; `timestamp` is in seconds
/// since the epoch and `nonce` must be unique per timestamp.
///
/// ```
/// use oneroster_server::{SignatureMethod, oauth1_authorization};
///
/// let header = oauth1_authorization(
///     "GET",
///     "https://feed.example/ims/oneroster/v1p1/users?limit=5",
///     "consumer",
///     "secret",
///     SignatureMethod::HmacSha256,
///     1_700_000_000,
///     "b4b8d0a2",
/// )?;
/// assert!(header.starts_with("OAuth oauth_consumer_key=\"consumer\""));
/// # Ok::<(), oneroster_server::Error>(())
/// ```
pub fn oauth1_authorization(
    method: &str,
    url: &str,
    consumer_key: &str,
    consumer_secret: &str,
    signature_method: SignatureMethod,
    timestamp: i64,
    nonce: &str,
) -> Result<String, Error> {
    let parsed = url::Url::parse(url).map_err(|e| Error::Config { message: format!("URL `{url}`: {e}") })?;
    let base_uri = format!("{}{}", parsed.origin().ascii_serialization(), parsed.path());
    let protocol = [
        ("oauth_consumer_key", consumer_key.to_owned()),
        ("oauth_nonce", nonce.to_owned()),
        ("oauth_signature_method", signature_method.as_str().to_owned()),
        ("oauth_timestamp", timestamp.to_string()),
        ("oauth_version", "1.0".to_owned()),
    ];
    let mut params = query_params(parsed.query());
    params.extend(protocol.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let base = signature_base_string(method, &base_uri, &params);
    let signature = STANDARD.encode(signature_method.sign(consumer_secret, &base)?);
    let mut header = String::from("OAuth ");
    for (i, (name, value)) in
        protocol.iter().map(|(k, v)| (*k, v.as_str())).chain([("oauth_signature", signature.as_str())]).enumerate()
    {
        if i > 0 {
            header.push_str(", ");
        }
        header.push_str(&format!("{name}=\"{}\"", encode(value)));
    }
    Ok(header)
}

/// The parameters of a query string, decoded as `application/x-www-form-urlencoded` (RFC 5849 §3.4.1.3.1).
fn query_params(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                form_decode(name).unwrap_or_else(|| name.to_owned()),
                form_decode(value).unwrap_or_else(|| value.to_owned()),
            )
        })
        .collect()
}

/// Reads the parameters of an `Authorization: OAuth …` header (after the scheme): `name="value"` pairs separated
/// by commas, values percent-encoded.
pub(crate) fn parse_header(rest: &str) -> Result<Vec<(String, String)>, AuthFailure> {
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| AuthFailure::Malformed("a parameter is not UTF-8 text"))
    };
    let mut params = Vec::new();
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').ok_or(AuthFailure::Malformed("a parameter has no value"))?;
        let value = value
            .trim()
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or(AuthFailure::Malformed("a parameter value is not quoted"))?;
        params.push((decode(name.trim())?, decode(value)?));
    }
    Ok(params)
}

/// Verifies an OAuth 1.0a signed request; returns the consumer key. `header` holds the parameters of the
/// `Authorization` header, or `None` when the protocol parameters are in the query string.
pub(crate) fn verify(state: &AppState, parts: &Parts, header: Option<Vec<(String, String)>>) -> Result<String, Error> {
    let unauthorized = |f: AuthFailure| Error::Unauthorized(f);
    let Some(consumers) = state.consumers() else { return Err(unauthorized(AuthFailure::OAuth1Disabled)) };
    let query = query_params(parts.uri.query());
    let protocol: Vec<(String, String)> = match &header {
        Some(params) => params.iter().filter(|(k, _)| k != "realm").cloned().collect(),
        None => query.iter().filter(|(k, _)| k.starts_with("oauth_")).cloned().collect(),
    };
    let mut names: Vec<&str> = protocol.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w.first() == w.get(1)) {
        return Err(unauthorized(AuthFailure::Malformed("a protocol parameter is repeated")));
    }
    let get = |name: &str| protocol.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let missing = |what: &'static str| unauthorized(AuthFailure::Malformed(what));
    let consumer_key = get("oauth_consumer_key").ok_or_else(|| missing("oauth_consumer_key is missing"))?;
    let signature = get("oauth_signature").ok_or_else(|| missing("oauth_signature is missing"))?;
    let nonce = get("oauth_nonce").filter(|n| !n.is_empty()).ok_or_else(|| missing("oauth_nonce is missing"))?;
    let timestamp: i64 = get("oauth_timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| missing("oauth_timestamp is missing or not a number"))?;
    if get("oauth_version").is_some_and(|v| v != "1.0") {
        return Err(missing("oauth_version must be 1.0"));
    }
    let method = get("oauth_signature_method")
        .ok_or_else(|| missing("oauth_signature_method is missing"))
        .and_then(|m| SignatureMethod::parse(m).ok_or(unauthorized(AuthFailure::UnsupportedSignatureMethod)))?;

    let now = state.clock().now();
    let limit_key = format!("oauth1\u{0}{consumer_key}\u{0}{}", client_ip(state, parts));
    if let Err(retry_after) = state.failures().check(&limit_key, now) {
        return Err(Error::TooManyFailures { retry_after });
    }
    let fail = |failure: AuthFailure| {
        state.failures().fail(&limit_key, now);
        tracing::info!(consumer_key, reason = %failure, "OAuth 1.0a authentication failed");
        unauthorized(failure)
    };
    let window = i64::try_from(state.config().oauth1_window.as_secs()).unwrap_or(i64::MAX);
    if (now.timestamp().saturating_sub(timestamp)).abs() > window {
        return Err(fail(AuthFailure::StaleTimestamp));
    }

    let mut params: Vec<(String, String)> =
        query.into_iter().filter(|(k, _)| header.is_some() || k != "oauth_signature").collect();
    if header.is_some() {
        params.extend(protocol.iter().filter(|(k, _)| k != "oauth_signature").cloned());
    }
    let base_uri = state.public_url(&parts.headers, &parts.uri);
    let base = signature_base_string(parts.method.as_str(), &base_uri, &params);
    let secret = consumers.consumer_secret(consumer_key);
    // An unknown consumer costs the same work as a wrong signature.
    let expected = method.sign(secret.as_ref().map_or("", |s| s.expose()), &base)?;
    let provided = STANDARD.decode(signature).unwrap_or_default();
    let valid = provided.len() == expected.len() && bool::from(expected.ct_eq(&provided));
    if secret.is_none() || !valid {
        tracing::debug!(base_string = %base, "OAuth 1.0a signature base string of a failed request");
        return Err(fail(AuthFailure::BadSignature));
    }
    let forget_at =
        chrono::DateTime::from_timestamp(timestamp.saturating_add(window).saturating_add(1), 0).unwrap_or(now);
    if !state.nonces().insert((consumer_key.to_owned(), timestamp, nonce.to_owned()), forget_at.max(now), now) {
        return Err(fail(AuthFailure::ReplayedNonce));
    }
    Ok(consumer_key.to_owned())
}
