//! Where a delegated sign-in's refresh token is kept between runs.

use async_trait::async_trait;
use secrecy::SecretString;

/// A refresh token could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
#[error("token store: {0}")]
pub struct TokenStoreError(pub String);

/// Keeps one refresh token. Entra ID rotates refresh tokens: each refresh answer carries a new one that must
/// replace the old, so [`save`](Self::save) is called after every refresh. Implementations must not log tokens.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// The stored refresh token, if any.
    async fn load(&self) -> Result<Option<SecretString>, TokenStoreError>;
    /// Replaces the stored refresh token.
    async fn save(&self, refresh_token: &SecretString) -> Result<(), TokenStoreError>;
}

/// A store in memory (tests, and one-shot runs).
#[derive(Default)]
pub struct MemoryTokenStore(tokio::sync::Mutex<Option<SecretString>>);

impl MemoryTokenStore {
    /// A store holding `token`.
    pub fn with(token: SecretString) -> MemoryTokenStore {
        MemoryTokenStore(tokio::sync::Mutex::new(Some(token)))
    }
}

impl std::fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryTokenStore([redacted])")
    }
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self) -> Result<Option<SecretString>, TokenStoreError> {
        Ok(self.0.lock().await.clone())
    }

    async fn save(&self, refresh_token: &SecretString) -> Result<(), TokenStoreError> {
        *self.0.lock().await = Some(refresh_token.clone());
        Ok(())
    }
}
