//! Secrets at rest: connection credentials and refresh tokens are encrypted with ChaCha20-Poly1305 under a 32-byte
//! key that never enters the database, or are held only by reference to an environment variable.
//!
//! A stored value reads `v1:<key fingerprint>:<base64 of nonce ‖ ciphertext ‖ tag>`. Each value has its own random
//! 96-bit nonce, and the row it belongs to (e.g. `connection:contoso`) is bound in as associated data, so a value
//! copied into another row does not decrypt. The fingerprint (a hash of the key, which reveals nothing about it)
//! lets a wrong key be reported as such instead of as damage.

use crate::error::StoreError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

/// The environment variable the key is read from by default: a base64-encoded 32-byte key.
pub const SECRET_KEY_ENV: &str = "ROSTERBRIDGE_SECRET_KEY";

const FORMAT_VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// The key that encrypts secrets at rest. `Debug` shows only its fingerprint.
pub struct SecretKey {
    bytes: SecretBox<[u8; 32]>,
    fingerprint: String,
}

impl SecretKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> SecretKey {
        let mut hasher = Sha256::new();
        hasher.update(b"rosterbridge secret key fingerprint\0");
        hasher.update(bytes);
        let digest = hasher.finalize();
        let fingerprint = hex(&digest[..8]);
        SecretKey { bytes: SecretBox::new(Box::new(bytes)), fingerprint }
    }

    /// A new random key (for `keygen` commands and tests).
    pub fn generate() -> SecretKey {
        let key = ChaCha20Poly1305::generate_key(&mut OsRng);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&key);
        SecretKey::from_bytes(bytes)
    }

    /// Reads a base64-encoded 32-byte key (standard alphabet, padding optional, surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<SecretKey, StoreError> {
        decode_key(text.trim().as_bytes())
            .map_err(|reason| StoreError::SecretKeyInvalid { origin: "the given text".into(), reason })
    }

    /// Reads a key file: base64 text of 32 bytes, or exactly 32 raw bytes.
    pub fn from_file(path: &Path) -> Result<SecretKey, StoreError> {
        let origin = || format!("the key file {}", path.display());
        let content = std::fs::read(path)
            .map_err(|e| StoreError::SecretKeyInvalid { origin: origin(), reason: format!("cannot read it: {e}") })?;
        warn_if_readable_by_others(path);
        let trimmed = content.trim_ascii();
        match decode_key(trimmed) {
            Ok(key) => Ok(key),
            Err(reason) => match <[u8; 32]>::try_from(content.as_slice()) {
                Ok(raw) => Ok(SecretKey::from_bytes(raw)),
                Err(_) => Err(StoreError::SecretKeyInvalid { origin: origin(), reason }),
            },
        }
    }

    /// The key as base64, to write into a key file or an environment variable.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(STANDARD.encode(self.bytes.expose_secret()))
    }

    /// A short, non-secret identifier of the key, stored beside every value it encrypts.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(self.bytes.expose_secret()))
    }

    /// Encrypts `plaintext`, bound to `aad` (the row it belongs to).
    pub(crate) fn encrypt(&self, aad: &str, plaintext: &str, what: &str) -> Result<String, StoreError> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher()
            .encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad: aad.as_bytes() })
            .map_err(|_| StoreError::Invalid { what: "secret", message: format!("{what} could not be encrypted") })?;
        let mut blob = Vec::with_capacity(NONCE_LEN + sealed.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        Ok(format!("{FORMAT_VERSION}:{}:{}", self.fingerprint, STANDARD.encode(blob)))
    }

    /// Decrypts a value [`encrypt`](Self::encrypt) made for the same `aad`.
    pub(crate) fn decrypt(&self, aad: &str, stored: &str, what: &str) -> Result<SecretString, StoreError> {
        let damaged = || StoreError::SecretDecrypt { what: what.to_owned() };
        let mut parts = stored.splitn(3, ':');
        let (Some(FORMAT_VERSION), Some(fingerprint), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(damaged());
        };
        if fingerprint != self.fingerprint {
            return Err(StoreError::SecretKeyMismatch {
                what: what.to_owned(),
                stored_with: fingerprint.to_owned(),
                configured: self.fingerprint.clone(),
            });
        }
        let blob = STANDARD.decode(body).map_err(|_| damaged())?;
        if blob.len() < NONCE_LEN {
            return Err(damaged());
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let plain = self
            .cipher()
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: aad.as_bytes() })
            .map_err(|_| damaged())?;
        let text = String::from_utf8(plain).map_err(|_| damaged())?;
        Ok(SecretString::from(text))
    }
}

impl Clone for SecretKey {
    fn clone(&self) -> SecretKey {
        SecretKey {
            bytes: SecretBox::new(Box::new(*self.bytes.expose_secret())),
            fingerprint: self.fingerprint.clone(),
        }
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey").field("fingerprint", &self.fingerprint).finish_non_exhaustive()
    }
}

fn decode_key(text: &[u8]) -> Result<SecretKey, String> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(text).map_err(|_| "it is not base64 text".to_owned())?;
    let bytes = <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("it decodes to {} bytes, but a key has 32", bytes.len()))?;
    Ok(SecretKey::from_bytes(bytes))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "the secret key file can be read by other users; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Where the store gets its key.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum KeySource {
    /// The environment variable [`SECRET_KEY_ENV`] if it is set (the default). If it is set but unusable, opening
    /// the store fails; if it is unset, the store works without a key until a secret must be encrypted or read.
    #[default]
    Environment,
    /// A key file: base64 text of 32 bytes, or 32 raw bytes. Opening the store fails if it cannot be read.
    File(PathBuf),
    /// This key.
    Key(SecretKey),
    /// No key: stored secrets can be neither saved nor read (secrets held by environment reference still work).
    None,
}

impl KeySource {
    /// Loads the key, if there is one.
    pub(crate) fn load(&self) -> Result<Option<SecretKey>, StoreError> {
        match self {
            KeySource::Environment => match std::env::var(SECRET_KEY_ENV) {
                Ok(text) if !text.trim().is_empty() => decode_key(text.trim().as_bytes())
                    .map(Some)
                    .map_err(|reason| StoreError::SecretKeyInvalid { origin: SECRET_KEY_ENV.into(), reason }),
                Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
                Err(std::env::VarError::NotUnicode(_)) => Err(StoreError::SecretKeyInvalid {
                    origin: SECRET_KEY_ENV.into(),
                    reason: "it is not Unicode text".into(),
                }),
            },
            KeySource::File(path) => SecretKey::from_file(path).map(Some),
            KeySource::Key(key) => Ok(Some(key.clone())),
            KeySource::None => Ok(None),
        }
    }
}

/// A connection's credential as the caller hands it to the store.
///
/// `Debug` never shows a stored secret.
#[derive(Debug, Clone, Default)]
pub enum SecretRef {
    /// The connection has no secret (e.g. a OneRoster CSV folder).
    #[default]
    None,
    /// Store this secret, encrypted with the store's key.
    Stored(SecretString),
    /// Store only the name of the environment variable that holds the secret; it is read when the secret is used.
    Env(String),
}

impl SecretRef {
    /// The secret itself: a stored secret as it is, an environment reference read now. `None` when there is none.
    pub fn resolve(&self) -> Result<Option<SecretString>, StoreError> {
        match self {
            SecretRef::None => Ok(None),
            SecretRef::Stored(secret) => Ok(Some(secret.clone())),
            SecretRef::Env(variable) => match std::env::var(variable) {
                Ok(value) => Ok(Some(SecretString::from(value))),
                Err(_) => {
                    Err(StoreError::SecretEnvMissing { variable: variable.clone(), what: "a connection secret".into() })
                }
            },
        }
    }

    /// How the secret is held, without the secret.
    pub fn source(&self) -> SecretSource {
        match self {
            SecretRef::None => SecretSource::None,
            SecretRef::Stored(_) => SecretSource::Stored,
            SecretRef::Env(variable) => SecretSource::Env(variable.clone()),
        }
    }
}

/// How a connection's secret is held, without the secret: what listings show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// No secret.
    None,
    /// Encrypted in the store.
    Stored,
    /// In this environment variable.
    Env(String),
}

/// Checks an environment variable name: letters, digits and `_`, not starting with a digit.
pub(crate) fn check_env_name(name: &str) -> Result<(), StoreError> {
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            what: "environment variable name",
            message: format!("`{name}` is not a variable name (letters, digits and `_`, not starting with a digit)"),
        })
    }
}

/// Lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let key = SecretKey::generate();
        let stored = key.encrypt("connection:a", "hunter2", "s").unwrap();
        assert!(!stored.contains("hunter2"));
        assert_eq!(key.decrypt("connection:a", &stored, "s").unwrap().expose_secret(), "hunter2");
        // Bound to its row.
        assert!(matches!(key.decrypt("connection:b", &stored, "s"), Err(StoreError::SecretDecrypt { .. })));
        // Two encryptions differ (random nonce).
        assert_ne!(stored, key.encrypt("connection:a", "hunter2", "s").unwrap());
        // Another key is reported as such.
        let other = SecretKey::generate();
        assert!(matches!(other.decrypt("connection:a", &stored, "s"), Err(StoreError::SecretKeyMismatch { .. })));
    }

    #[test]
    fn base64_keys() {
        let key = SecretKey::generate();
        let text = key.to_base64();
        let again = SecretKey::from_base64(text.expose_secret()).unwrap();
        assert_eq!(key.fingerprint(), again.fingerprint());
        assert!(SecretKey::from_base64("c2hvcnQ=").is_err());
        assert!(!format!("{key:?}").contains(text.expose_secret()));
    }
}
