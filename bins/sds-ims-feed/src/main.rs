//! The `sds-ims-feed` command: parses the command line, sets up logging, and calls the library. See `docs/sds.md`.

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use oneroster_model::validate::Profile;
use roster_store::Store;
use sds_ims_feed::config::SyncConfig;
use sds_ims_feed::doctor::DoctorOptions;
use sds_ims_feed::output::Output;
use sds_ims_feed::serve::{ServeOptions, Transport};
use sds_ims_feed::sync::SyncOptions;
use sds_ims_feed::tls::Identity;
use sds_ims_feed::{Outcome, credentials, demo, doctor, import, serve, sync, validate};
use secrecy::SecretString;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The command line.
#[derive(Parser)]
#[command(
    name = "sds-ims-feed",
    version,
    about = "A OneRoster 1.1 provider that Microsoft School Data Sync pulls rosters from.",
    after_help = "Exit status: 0 success; 1 a failure (errors in the data, a failed check, nothing imported); 2 a \
                  usage error; 3 a sync held by the safety policy.\nTry it: sds-ims-feed demo --once. Guide: docs/sds.md"
)]
struct Cli {
    /// Log filter, e.g. `info` or `sds_ims_feed=debug` (default: warn; info for serve and demo).
    #[arg(long, env = "RUST_LOG", global = true)]
    log: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the stored roster over HTTPS until SIGINT/SIGTERM.
    Serve {
        /// The database: a SQLite file path or a postgres:// URL.
        #[arg(long, env = "SDS_IMS_FEED_DB", hide_env_values = true)]
        db: String,
        /// Where to listen.
        #[arg(long, default_value = "0.0.0.0:443")]
        listen: SocketAddr,
        /// The certificate chain (PEM, leaf first).
        #[arg(long, requires = "tls_key", conflicts_with_all = ["dev_tls", "insecure_http"])]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// A self-signed certificate for localhost (development only; its fingerprint is printed).
        #[arg(long, conflicts_with = "insecure_http")]
        dev_tls: bool,
        /// Plain HTTP: ONLY behind a reverse proxy that terminates TLS (SDS requires HTTPS).
        #[arg(long)]
        insecure_http: bool,
        /// The public URL clients use (e.g. https://feed.example.org), for every href.
        #[arg(long)]
        public_url: Option<String>,
        /// Trust X-Forwarded-For/-Proto/-Host (behind a proxy).
        #[arg(long)]
        trust_forwarded: bool,
        /// How often to check the database for a new roster, in seconds.
        #[arg(long, default_value_t = 5)]
        poll_secs: u64,
    },
    /// Imports a OneRoster 1.1 CSV set (folder or zip), all or nothing.
    Import {
        /// The database: a SQLite file path or a postgres:// URL.
        #[arg(long, env = "SDS_IMS_FEED_DB", hide_env_values = true)]
        db: String,
        /// The CSV set: a folder with manifest.csv, or a zip.
        #[arg(long)]
        csv: PathBuf,
        /// Apply every file as a delta (default: as manifest.csv says).
        #[arg(long)]
        delta: bool,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Fills the database from identity sources (Microsoft Entra ID groups) through the sync engine.
    Sync {
        /// The configuration (see docs/sds-ims-feed.example.toml).
        #[arg(long)]
        config: PathBuf,
        /// The database, instead of the configuration's `store`.
        #[arg(long, env = "SDS_IMS_FEED_DB", hide_env_values = true)]
        db: Option<String>,
        /// Plan only: print what would change (and who is left out, and why); write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Approve up to N users becoming tobedeleted in each org, beyond the safety policy's limit.
        #[arg(long, value_name = "N")]
        allow_suspensions: Option<usize>,
        /// Read every source in full instead of following its change feed (Graph delta) from the last run.
        #[arg(long)]
        full: bool,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// OAuth 2.0 client credentials.
    Credentials {
        #[command(subcommand)]
        action: CredentialsAction,
    },
    /// Validates the stored roster (or a CSV set) as SDS would.
    Validate {
        /// The database: a SQLite file path or a postgres:// URL.
        #[arg(long, env = "SDS_IMS_FEED_DB", hide_env_values = true, required_unless_present = "csv")]
        db: Option<String>,
        /// Validate this CSV set instead of the stored roster.
        #[arg(long, conflicts_with = "db")]
        csv: Option<PathBuf>,
        /// Which rules.
        #[arg(long, value_enum, default_value_t = ProfileArg::Sds)]
        profile: ProfileArg,
        /// SDS: the user field people are matched on (email, username, identifier, userIds:<type>).
        #[arg(long, default_value = "email")]
        match_field: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Does what SDS's "Test Connection" does, and explains each failure.
    Doctor {
        /// The web access URL: https://HOST[:PORT] (with or without /ims/oneroster/v1p1).
        #[arg(long)]
        url: String,
        /// The token URL.
        #[arg(long)]
        token_url: String,
        /// The client id.
        #[arg(long, default_value = oneroster_server::DEFAULT_CLIENT_ID)]
        client_id: String,
        /// The environment variable holding the client secret.
        #[arg(long, default_value = "SDS_CLIENT_SECRET")]
        client_secret_env: String,
        /// A PEM certificate to trust (a private CA, or the development certificate).
        #[arg(long)]
        ca_cert: Option<PathBuf>,
        /// Seconds allowed for each step.
        #[arg(long, default_value_t = 10)]
        timeout_secs: u64,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Serves the bundled sample roster on localhost with a development certificate.
    Demo {
        /// Run doctor against the demo and exit (for tests and CI).
        #[arg(long, env = "SDS_IMS_FEED_DEMO_ONCE")]
        once: bool,
    },
}

#[derive(Subcommand)]
enum CredentialsAction {
    /// Creates the client or replaces its secret; prints the new secret once.
    Rotate {
        /// The client id.
        #[arg(long, default_value = oneroster_server::DEFAULT_CLIENT_ID)]
        client_id: String,
        /// The database: a SQLite file path or a postgres:// URL.
        #[arg(long, env = "SDS_IMS_FEED_DB", hide_env_values = true)]
        db: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ProfileArg {
    /// OneRoster 1.1 rules and what School Data Sync rejects.
    Sds,
    /// OneRoster 1.1 rules only.
    Core,
}

fn init_tracing(filter: Option<&str>, default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(filter.unwrap_or(default)).unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if std::io::stderr().is_terminal() {
        builder.pretty().try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default = if matches!(cli.command, Command::Serve { .. } | Command::Demo { .. }) { "info" } else { "warn" };
    init_tracing(cli.log.as_deref(), default);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn open(db: &str) -> anyhow::Result<Store> {
    Store::open(db).await.context("cannot open the database")
}

async fn run(command: Command) -> anyhow::Result<Outcome> {
    let mut out = Output::stdout();
    match command {
        Command::Serve {
            db,
            listen,
            tls_cert,
            tls_key,
            dev_tls,
            insecure_http,
            public_url,
            trust_forwarded,
            poll_secs,
        } => {
            let transport = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Transport::Tls(Identity::from_pem_files(&cert, &key)?),
                _ if dev_tls => {
                    let identity = Identity::development()?;
                    tracing::warn!(
                        fingerprint = identity.fingerprint(),
                        "serving with a self-signed development certificate for localhost: SDS will not trust it"
                    );
                    Transport::Tls(identity)
                }
                _ if insecure_http => {
                    tracing::warn!(
                        "SERVING PLAIN HTTP: bearer tokens and client secrets cross the network unencrypted. Use \
                         --insecure-http ONLY behind a reverse proxy that terminates TLS on the same host or network."
                    );
                    Transport::InsecureHttp
                }
                _ => anyhow::bail!(
                    "give --tls-cert and --tls-key, or --dev-tls, or (behind a TLS proxy) --insecure-http"
                ),
            };
            let store = open(&db).await?;
            let options = ServeOptions {
                listen,
                transport,
                public_url,
                poll: Duration::from_secs(poll_secs.max(1)),
                trust_forwarded,
            };
            serve::serve(store, options, shutdown_signal()).await?;
            Ok(Outcome::Success)
        }
        Command::Import { db, csv, delta, json } => import::run(&open(&db).await?, &csv, delta, json, &mut out).await,
        Command::Sync { config, db, dry_run, allow_suspensions, full, json } => {
            let config = SyncConfig::load(&config)?;
            let db = db
                .or_else(|| config.store.clone())
                .context("no database: give --db (or SDS_IMS_FEED_DB), or set `store` in the configuration")?;
            let options = SyncOptions { dry_run, allow_suspensions, json, full, ..SyncOptions::default() };
            sync::run(&config, &open(&db).await?, &options, &mut out).await
        }
        Command::Credentials { action: CredentialsAction::Rotate { client_id, db } } => {
            credentials::run_rotate(&open(&db).await?, &client_id, &mut out).await?;
            Ok(Outcome::Success)
        }
        Command::Validate { db, csv, profile, match_field, json } => {
            let profile = match profile {
                ProfileArg::Core => Profile::Core,
                ProfileArg::Sds => Profile::Sds(oneroster_model::validate::SdsOptions {
                    match_field: match_field.parse().map_err(anyhow::Error::new)?,
                }),
            };
            match (csv, db) {
                (Some(csv), _) => validate::run(validate::Source::Csv(&csv), profile, json, &mut out).await,
                (None, Some(db)) => {
                    let store = open(&db).await?;
                    validate::run(validate::Source::Store(&store), profile, json, &mut out).await
                }
                (None, None) => anyhow::bail!("give --db or --csv"),
            }
        }
        Command::Doctor { url, token_url, client_id, client_secret_env, ca_cert, timeout_secs, json } => {
            let secret = std::env::var(&client_secret_env)
                .with_context(|| format!("the client secret: environment variable {client_secret_env} is not set"))?;
            let ca_cert_pem = match ca_cert {
                Some(path) => Some(std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?),
                None => None,
            };
            let options = DoctorOptions {
                url,
                token_url,
                client_id,
                client_secret: SecretString::from(secret),
                ca_cert_pem,
                timeout: Duration::from_secs(timeout_secs.max(1)),
            };
            doctor::run(&options, json, &mut out).await
        }
        Command::Demo { once } => demo::run(once, &mut out, shutdown_signal()).await,
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
