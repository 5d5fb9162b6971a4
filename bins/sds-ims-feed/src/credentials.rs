//! `credentials rotate`: a new OAuth 2.0 client secret, printed once; only its argon2 hash is stored.

use crate::output::Output;
use anyhow::Context as _;
use oneroster_server::{ClientSecret, generate_client_secret, hash_client_secret};
use roster_store::Store;
use std::io::Write as _;

/// Creates `client_id` or replaces its secret, and returns the new secret (the caller shows it once). The store
/// keeps only the argon2id hash; tokens issued with the old secret stay valid until they expire, but the old
/// secret gets no new token.
pub async fn rotate(store: &Store, client_id: &str) -> anyhow::Result<ClientSecret> {
    let secret = generate_client_secret().context("cannot generate a secret")?;
    let for_hash = secret.clone();
    let hash = tokio::task::spawn_blocking(move || hash_client_secret(for_hash.expose()))
        .await
        .context("the hashing task stopped unexpectedly")?
        .context("cannot hash the secret")?;
    store.save_api_client(client_id, &hash, chrono::Utc::now()).await.context("cannot store the client")?;
    Ok(secret)
}

/// `credentials rotate`: rotates and prints the secret once (the secret alone on stdout's last line, so scripts
/// can capture it).
pub async fn run_rotate(store: &Store, client_id: &str, out: &mut Output) -> anyhow::Result<()> {
    let secret = rotate(store, client_id).await?;
    tracing::info!(client_id, "client secret rotated");
    writeln!(out, "client id: {client_id}")?;
    writeln!(out, "New client secret (shown once; only its hash is stored). Put it into SDS now:")?;
    writeln!(out, "{}", secret.expose())?;
    Ok(())
}
