//! Serves a OneRoster CSV set over plain HTTP on localhost, for trying the feed with curl:
//!
//! ```text
//! cargo run -p oneroster-server --example serve_csv -- fixtures/oneroster/csv/st-aidans
//! curl -s -d grant_type=client_credentials -u WebserviceUser:<secret> http://127.0.0.1:8080/oauth/token
//! curl -s -H "Authorization: Bearer <token>" 'http://127.0.0.1:8080/ims/oneroster/v1p1/users?limit=2'
//! ```
//!
//! A real deployment serves over TLS (see the `sds-ims-feed` binary).
#![allow(clippy::print_stdout)]

use oneroster_server::{
    AppState, DEFAULT_CLIENT_ID, ServerConfig, Snapshot, SnapshotHandle, StaticClients, app, generate_client_secret,
};
use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: serve_csv <OneRoster CSV folder or zip> [address]")?;
    let address: SocketAddr = std::env::args().nth(2).unwrap_or_else(|| "127.0.0.1:8080".into()).parse()?;
    let roster = oneroster_model::csv::read_roster_only(&dir)?;
    let snapshot = tokio::task::spawn_blocking(move || Snapshot::from_roster(1, roster)).await??;
    let secret = generate_client_secret()?;
    let state = AppState::builder(SnapshotHandle::new(snapshot))
        .config(ServerConfig::default().public_base_url(&format!("http://{address}"))?)
        .clients(StaticClients::new().with_secret(DEFAULT_CLIENT_ID, &secret)?)
        .build();
    println!("serving {dir} at http://{address}/ims/oneroster/v1p1");
    println!("token URL http://{address}/oauth/token, client id {DEFAULT_CLIENT_ID}, secret {}", secret.expose());
    let listener = tokio::net::TcpListener::bind(address).await?;
    axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>()).await?;
    Ok(())
}
