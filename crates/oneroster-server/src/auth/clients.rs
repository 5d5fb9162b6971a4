//! Client credentials: secrets, their argon2 hashes, and where the server looks them up.

use crate::error::Error;
use crate::util::random_bytes;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::fmt;

/// A client secret in plain text. `Debug` never shows it; call [`expose`](ClientSecret::expose) only to hand it
/// on (print it once, hash it, sign with it).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> ClientSecret {
        ClientSecret(secret.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

impl From<String> for ClientSecret {
    fn from(secret: String) -> ClientSecret {
        ClientSecret(secret)
    }
}

/// A new client secret: 32 bytes from the operating system's random source, base64url without padding (43
/// characters, safe in URLs, forms and shells).
pub fn generate_client_secret() -> Result<ClientSecret, Error> {
    Ok(ClientSecret(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)))
}

/// Hashes a client secret with argon2id (the `argon2` crate's defaults: 19 MiB, 2 passes, 1 lane; a random
/// 16-byte salt) into a PHC string, the form [`roster_store::Store::save_api_client`] keeps.
pub fn hash_client_secret(secret: &str) -> Result<String, Error> {
    let salt =
        SaltString::encode_b64(&random_bytes::<16>()?).map_err(|e| Error::internal(format!("encoding a salt: {e}")))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::internal(format!("hashing a client secret: {e}")))
}

/// Whether `secret` matches a PHC hash made by [`hash_client_secret`] (or any argon2 PHC string: its own
/// parameters are used). Takes tens of milliseconds by design; call it off the async runtime. A hash that does
/// not parse never matches.
pub fn verify_client_secret(secret: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok(),
        Err(e) => {
            tracing::warn!(error = %e, "a stored client secret hash is not a PHC string");
            false
        }
    }
}

/// Where the token endpoint finds the argon2 hash of a client's secret.
///
/// Implemented for [`roster_store::Store`] (its `api_clients` table, filled by `credentials rotate`) and for
/// [`StaticClients`].
pub trait ClientStore: Send + Sync + 'static {
    /// The PHC hash of the secret of `client_id`, or `None` if there is no such client.
    fn secret_hash<'a>(&'a self, client_id: &'a str) -> BoxFuture<'a, Result<Option<String>, Error>>;
}

impl ClientStore for roster_store::Store {
    fn secret_hash<'a>(&'a self, client_id: &'a str) -> BoxFuture<'a, Result<Option<String>, Error>> {
        Box::pin(async move { Ok(self.api_client(client_id).await?.map(|client| client.secret_hash)) })
    }
}

/// Clients held in memory: for tests, demos and configuration files.
#[derive(Clone, Default)]
pub struct StaticClients {
    hashes: HashMap<String, String>,
}

impl StaticClients {
    /// No clients.
    pub fn new() -> StaticClients {
        StaticClients::default()
    }

    /// Adds (or replaces) a client by the PHC hash of its secret.
    pub fn with_hash(mut self, client_id: impl Into<String>, hash: impl Into<String>) -> StaticClients {
        self.hashes.insert(client_id.into(), hash.into());
        self
    }

    /// Adds (or replaces) a client by its secret, which is hashed with [`hash_client_secret`].
    pub fn with_secret(self, client_id: impl Into<String>, secret: &ClientSecret) -> Result<StaticClients, Error> {
        Ok(self.with_hash(client_id, hash_client_secret(secret.expose())?))
    }
}

impl fmt::Debug for StaticClients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&str> = self.hashes.keys().map(String::as_str).collect();
        ids.sort_unstable();
        f.debug_struct("StaticClients").field("client_ids", &ids).finish()
    }
}

impl ClientStore for StaticClients {
    fn secret_hash<'a>(&'a self, client_id: &'a str) -> BoxFuture<'a, Result<Option<String>, Error>> {
        let hash = self.hashes.get(client_id).cloned();
        Box::pin(async move { Ok(hash) })
    }
}

/// Where OAuth 1.0a signatures find the consumer secret of a consumer key. HMAC needs the plain secret, so it is
/// kept apart from the argon2 hashes of OAuth 2.0 clients: load it from an environment variable or an encrypted
/// store when the server starts.
pub trait ConsumerSecrets: Send + Sync + 'static {
    /// The secret of `consumer_key`, if it is a known consumer.
    fn consumer_secret(&self, consumer_key: &str) -> Option<ClientSecret>;
}

/// Consumer secrets held in memory.
#[derive(Clone, Default)]
pub struct StaticConsumers {
    secrets: HashMap<String, ClientSecret>,
}

impl StaticConsumers {
    /// No consumers.
    pub fn new() -> StaticConsumers {
        StaticConsumers::default()
    }

    /// Adds (or replaces) a consumer.
    pub fn with(mut self, consumer_key: impl Into<String>, secret: ClientSecret) -> StaticConsumers {
        self.secrets.insert(consumer_key.into(), secret);
        self
    }
}

impl fmt::Debug for StaticConsumers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<&str> = self.secrets.keys().map(String::as_str).collect();
        keys.sort_unstable();
        f.debug_struct("StaticConsumers").field("consumer_keys", &keys).finish()
    }
}

impl ConsumerSecrets for StaticConsumers {
    fn consumer_secret(&self, consumer_key: &str) -> Option<ClientSecret> {
        self.secrets.get(consumer_key).cloned()
    }
}
