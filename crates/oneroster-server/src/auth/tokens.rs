//! Bearer tokens: issued by the token endpoint, checked on every read.

use crate::error::Error;
use crate::util::random_bytes;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use subtle::ConstantTimeEq;

/// What a token check found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenStatus {
    /// A live token, issued to this client.
    Valid {
        /// The client the token was issued to.
        client_id: String,
    },
    /// A token that was valid but has expired.
    Expired,
    /// Not a token this store issued (or one it has forgotten).
    Invalid,
}

/// Issues and checks bearer tokens.
pub trait TokenStore: Send + Sync + 'static {
    /// A new token for `client_id`, valid until `expires_at`; `now` lets the store forget expired tokens.
    fn issue(&self, client_id: &str, now: DateTime<Utc>, expires_at: DateTime<Utc>) -> Result<String, Error>;
    /// Checks a presented token. Implementations compare secrets in constant time.
    fn check(&self, token: &str, now: DateTime<Utc>) -> TokenStatus;
}

/// A new random token: 32 bytes, base64url without padding.
fn random_token() -> Result<String, Error> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// Tokens kept in this process's memory, as SHA-256 hashes (a memory dump does not reveal usable tokens).
///
/// Right for one server. Behind a load balancer every server must accept every token: use
/// [`SignedTokenStore`] with a shared key, or sticky sessions.
pub struct MemoryTokenStore {
    inner: Mutex<MemoryInner>,
    max_tokens: usize,
}

struct MemoryInner {
    tokens: HashMap<[u8; 32], (String, DateTime<Utc>)>,
    /// Forget expired tokens when the map reaches this size.
    prune_at: usize,
}

impl MemoryTokenStore {
    /// An empty store holding at most 100 000 live tokens (beyond that, the soonest to expire are dropped).
    pub fn new() -> MemoryTokenStore {
        MemoryTokenStore::with_capacity(100_000)
    }

    /// An empty store holding at most `max_tokens` live tokens (at least 1).
    pub fn with_capacity(max_tokens: usize) -> MemoryTokenStore {
        MemoryTokenStore {
            inner: Mutex::new(MemoryInner { tokens: HashMap::new(), prune_at: 1024 }),
            max_tokens: max_tokens.max(1),
        }
    }

    /// How many tokens are held (expired ones included until they are pruned).
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).tokens.len()
    }

    /// Whether no token is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryTokenStore {
    fn default() -> MemoryTokenStore {
        MemoryTokenStore::new()
    }
}

impl fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTokenStore").field("tokens", &self.len()).field("max_tokens", &self.max_tokens).finish()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl TokenStore for MemoryTokenStore {
    fn issue(&self, client_id: &str, now: DateTime<Utc>, expires_at: DateTime<Utc>) -> Result<String, Error> {
        let token = random_token()?;
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.tokens.len() >= inner.prune_at.min(self.max_tokens) {
            inner.tokens.retain(|_, (_, expiry)| *expiry > now);
            if inner.tokens.len() >= self.max_tokens {
                // Drop the tenth that expires soonest.
                let mut expiries: Vec<DateTime<Utc>> = inner.tokens.values().map(|(_, e)| *e).collect();
                let nth = expiries.len() / 10;
                expiries.select_nth_unstable(nth);
                if let Some(&cutoff) = expiries.get(nth) {
                    inner.tokens.retain(|_, (_, expiry)| *expiry > cutoff);
                }
            }
            inner.prune_at = (inner.tokens.len() * 2).max(1024);
        }
        inner.tokens.insert(digest(&token), (client_id.to_owned(), expires_at));
        Ok(token)
    }

    fn check(&self, token: &str, now: DateTime<Utc>) -> TokenStatus {
        let presented = digest(token);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // The map finds the entry by the hash; the hash is then compared again in constant time, so that no
        // comparison of secret material ever exits early.
        let Some((stored, (client_id, expires_at))) = inner.tokens.get_key_value(&presented) else {
            return TokenStatus::Invalid;
        };
        if !bool::from(stored.ct_eq(&presented)) {
            return TokenStatus::Invalid;
        }
        if *expires_at <= now {
            inner.tokens.remove(&presented);
            return TokenStatus::Expired;
        }
        TokenStatus::Valid { client_id: client_id.clone() }
    }
}

/// Self-contained tokens: 32 random bytes, the expiry and the client id, authenticated with HMAC-SHA256 under a
/// key every server of a deployment shares. Nothing is stored, so any server accepts a token any other issued.
/// Tokens cannot be revoked before they expire; rotating the key revokes them all.
pub struct SignedTokenStore {
    key: [u8; 32],
}

/// The prefix of every signed token.
const SIGNED_PREFIX: &str = "ort1.";

impl SignedTokenStore {
    /// A store signing with `key` (use at least 32 random bytes, e.g. [`generate_client_secret`]'s output; it is
    /// hashed to 32 bytes).
    ///
    /// [`generate_client_secret`]: crate::generate_client_secret
    pub fn new(key: &[u8]) -> SignedTokenStore {
        SignedTokenStore { key: Sha256::digest(key).into() }
    }

    fn mac(&self, payload: &[u8]) -> Result<[u8; 32], Error> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .map_err(|e| Error::internal(format!("an HMAC key: {e}")))?;
        mac.update(payload);
        Ok(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for SignedTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignedTokenStore([redacted])")
    }
}

impl TokenStore for SignedTokenStore {
    fn issue(&self, client_id: &str, _now: DateTime<Utc>, expires_at: DateTime<Utc>) -> Result<String, Error> {
        let mut payload = random_bytes::<32>()?.to_vec();
        payload.extend_from_slice(&expires_at.timestamp().to_be_bytes());
        payload.extend_from_slice(client_id.as_bytes());
        let mac = self.mac(&payload)?;
        Ok(format!("{SIGNED_PREFIX}{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(mac)))
    }

    fn check(&self, token: &str, now: DateTime<Utc>) -> TokenStatus {
        let Some((payload, mac)) = token.strip_prefix(SIGNED_PREFIX).and_then(|t| t.split_once('.')) else {
            return TokenStatus::Invalid;
        };
        let (Ok(payload), Ok(mac)) = (URL_SAFE_NO_PAD.decode(payload), URL_SAFE_NO_PAD.decode(mac)) else {
            return TokenStatus::Invalid;
        };
        let Ok(expected) = self.mac(&payload) else { return TokenStatus::Invalid };
        if mac.len() != expected.len() || !bool::from(expected.ct_eq(mac.as_slice())) {
            return TokenStatus::Invalid;
        }
        let (Some(expiry), Some(client)) = (payload.get(32..40), payload.get(40..)) else {
            return TokenStatus::Invalid;
        };
        let expires_at = <[u8; 8]>::try_from(expiry).map(i64::from_be_bytes).unwrap_or(i64::MIN);
        let Ok(client_id) = String::from_utf8(client.to_vec()) else { return TokenStatus::Invalid };
        if expires_at <= now.timestamp() {
            return TokenStatus::Expired;
        }
        TokenStatus::Valid { client_id }
    }
}
