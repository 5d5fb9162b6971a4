use oneroster_model::Roster;
use oneroster_model::csv::{ReadOptions, read_roster};
use sds_ims_feed::demo::write_sample;
use sds_ims_feed::serve::{self, Running, ServeOptions, Transport};
use sds_ims_feed::tls::Identity;
use std::path::PathBuf;
use std::time::Duration;

/// The sample set written into a fresh temporary folder.
pub(crate) fn sample_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("set");
    write_sample(&csv).unwrap();
    (dir, csv)
}

pub(crate) fn sample_roster() -> Roster {
    let (_dir, csv) = sample_dir();
    read_roster(&csv, &ReadOptions::default()).unwrap().roster
}

pub(crate) async fn store(dir: &tempfile::TempDir) -> roster_store::Store {
    roster_store::Store::open(&dir.path().join("feed.db").to_string_lossy()).await.unwrap()
}

/// Serves `store` over TLS with `identity` on 127.0.0.1:<free port>.
pub(crate) async fn serve_tls(store: roster_store::Store, identity: Identity) -> Running {
    serve::start(
        store,
        ServeOptions {
            listen: ([127, 0, 0, 1], 0).into(),
            transport: Transport::Tls(identity),
            public_url: None,
            poll: Duration::from_millis(20),
            trust_forwarded: false,
        },
    )
    .await
    .unwrap()
}

/// A reqwest client trusting `pem`.
pub(crate) fn client(pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap()
}

pub(crate) async fn token(client: &reqwest::Client, origin: &str, secret: &str) -> reqwest::Response {
    client
        .post(format!("{origin}/oauth/token"))
        .basic_auth("WebserviceUser", Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}
