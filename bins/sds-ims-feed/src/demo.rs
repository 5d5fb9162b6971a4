//! `demo`: the bundled sample roster (St Aidan's, a OneRoster 1.1 CSV set) imported into a temporary SQLite
//! database, credentials created, and served with a development certificate on `127.0.0.1`.

use crate::Outcome;
use crate::doctor::{self, DoctorOptions};
use crate::output::Output;
use crate::serve::{self, Running, ServeOptions, Transport};
use crate::tls::Identity;
use anyhow::Context as _;
use oneroster_server::{ClientSecret, DEFAULT_CLIENT_ID};
use roster_store::Store;
use secrecy::SecretString;
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

macro_rules! fixture {
    ($name:literal) => {
        ($name, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/oneroster/csv/st-aidans/", $name)))
    };
}

/// The sample CSV set, embedded in the binary so the demo works anywhere.
pub const SAMPLE: [(&str, &[u8]); 8] = [
    fixture!("manifest.csv"),
    fixture!("academicSessions.csv"),
    fixture!("orgs.csv"),
    fixture!("courses.csv"),
    fixture!("classes.csv"),
    fixture!("users.csv"),
    fixture!("enrollments.csv"),
    fixture!("demographics.csv"),
];

/// Writes the sample set into `dir` (created if missing).
pub fn write_sample(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, bytes) in SAMPLE {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

/// A demo server, running.
#[derive(Debug)]
pub struct Demo {
    /// The server.
    pub server: Running,
    /// The web access URL for SDS.
    pub url: String,
    /// The token URL for SDS.
    pub token_url: String,
    /// The client secret.
    pub secret: ClientSecret,
    /// The development certificate (PEM), to trust in `doctor --ca-cert`.
    pub cert_pem: String,
    /// The certificate's SHA-256 fingerprint.
    pub fingerprint: String,
    /// The temporary folder holding the database and the sample set.
    pub dir: PathBuf,
}

/// Starts the demo in `dir`: imports the sample, rotates credentials, serves on `127.0.0.1:<free port>`.
pub async fn start(dir: &Path) -> anyhow::Result<Demo> {
    let csv = dir.join("st-aidans");
    write_sample(&csv).with_context(|| format!("cannot write the sample roster to {}", csv.display()))?;
    let store = Store::open(&dir.join("demo.db").to_string_lossy()).await.context("cannot open the demo database")?;
    let (mut sink, _) = Output::capture();
    crate::import::run(&store, &csv, false, false, &mut sink).await?;
    let secret = crate::credentials::rotate(&store, DEFAULT_CLIENT_ID).await?;
    let identity = Identity::development()?;
    let cert_pem = identity.pem.clone().unwrap_or_default();
    let fingerprint = identity.fingerprint();
    let server = serve::start(
        store,
        ServeOptions {
            listen: ([127, 0, 0, 1], 0).into(),
            transport: Transport::Tls(identity),
            public_url: None,
            poll: Duration::from_secs(1),
            trust_forwarded: false,
        },
    )
    .await?;
    let origin = format!("https://127.0.0.1:{}", server.addr.port());
    Ok(Demo {
        url: format!("{origin}{}", oneroster_server::BASE_PATH),
        token_url: format!("{origin}{}", oneroster_server::TOKEN_PATH),
        server,
        secret,
        cert_pem,
        fingerprint,
        dir: dir.to_owned(),
    })
}

/// `demo`: starts, prints what to put into SDS, then either runs `doctor` against itself and exits (`once`) or
/// serves until `shutdown`.
pub async fn run(once: bool, out: &mut Output, shutdown: impl Future<Output = ()>) -> anyhow::Result<Outcome> {
    let dir = std::env::temp_dir().join(format!(
        "sds-ims-feed-demo-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    ));
    let demo = start(&dir).await?;
    writeln!(out, "Demo feed (sample roster: St Aidan's) — put these into a School Data Sync OneRoster API profile:")?;
    writeln!(out, "  web access URL: {}", demo.url)?;
    writeln!(out, "  token URL:      {}", demo.token_url)?;
    writeln!(out, "  client id:      {DEFAULT_CLIENT_ID}")?;
    writeln!(out, "  client secret:  {}", demo.secret.expose())?;
    writeln!(out, "  certificate:    self-signed for localhost, SHA-256 {}", demo.fingerprint)?;
    writeln!(
        out,
        "  (SDS cannot reach 127.0.0.1 nor trust this certificate: the demo is for local tools and doctor.)"
    )?;
    let cert_path = dir.join("dev-cert.pem");
    std::fs::write(&cert_path, &demo.cert_pem).context("cannot write the development certificate")?;
    writeln!(out, "  certificate file (for doctor --ca-cert): {}", cert_path.display())?;
    out.flush()?;
    let outcome = if once {
        let options = DoctorOptions {
            url: demo.url.clone(),
            token_url: demo.token_url.clone(),
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: SecretString::from(demo.secret.expose().to_owned()),
            ca_cert_pem: Some(demo.cert_pem.clone().into_bytes()),
            timeout: Duration::from_secs(10),
        };
        writeln!(out, "\nRunning doctor against the demo:")?;
        doctor::run(&options, false, out).await?
    } else {
        writeln!(out, "Serving until Ctrl-C.")?;
        out.flush()?;
        shutdown.await;
        Outcome::Success
    };
    demo.server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(outcome)
}
