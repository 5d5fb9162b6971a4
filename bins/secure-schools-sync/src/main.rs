//! The `secure-schools-sync` command: parses the command line, loads the configuration, sets up logging, and
//! calls the library. See `docs/secure-schools-sync.md`.

use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;
use secure_schools_sync::app::{App, AppOptions, Secrets};
use secure_schools_sync::commands::{self, SyncTarget};
use secure_schools_sync::config::Config;
use secure_schools_sync::output::Output;
use secure_schools_sync::shutdown::Shutdown;
use secure_schools_sync::{Outcome, daemon, demo, doctor};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// The command line.
#[derive(Parser)]
#[command(
    name = "secure-schools-sync",
    version,
    about = "Keeps the users of Secure Schools organisations in step with Microsoft Entra ID groups or Google Workspace \
             organisational units.",
    after_help = "Exit status: 0 success; 1 a failure (a run, a check, a record, the configuration); 2 a usage \
                  error; 3 a run held by the safety policy (approve it with `runs approve`); 130 interrupted.\n\
                  Try it without a tenant: secure-schools-sync demo. Guide: docs/secure-schools-sync.md"
)]
struct Cli {
    /// The configuration file (see docs/secure-schools-sync.example.toml).
    #[arg(long, short, env = "SECURE_SCHOOLS_SYNC_CONFIG", default_value = "secure-schools-sync.toml", global = true)]
    config: PathBuf,

    /// The Secure Schools admin's API token (prefer the environment variable; the configuration may name
    /// another variable with `secure_schools.token_env`).
    #[arg(long, env = "SECURE_SCHOOLS_TOKEN", hide_env_values = true, global = true)]
    secure_schools_token: Option<String>,

    /// The key that encrypts stored sign-ins: base64 of 32 bytes (prefer the environment variable).
    #[arg(long, env = "ROSTERBRIDGE_SECRET_KEY", hide_env_values = true, global = true)]
    secret_key: Option<String>,

    /// The daemon's web UI admin password: stored (hashed) at the first start; a different one later replaces it
    /// (prefer the environment variable; at least 12 characters).
    #[arg(long, env = "SECURE_SCHOOLS_SYNC_ADMIN_PASSWORD", hide_env_values = true, global = true)]
    admin_password: Option<String>,

    /// Log filter, e.g. `info` or `secure_schools_sync=debug` (default: warn; info for the daemon).
    #[arg(long, env = "RUST_LOG", global = true)]
    log: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Signs an admin in to a tenant (device code) and stores the sign-in encrypted.
    Connect {
        #[command(subcommand)]
        provider: Provider,
    },
    /// Lists a tenant's groups (or a Google connection's organisational units), their kind, and whether they can be
    /// synced.
    Groups {
        /// The connection (its `name` in the configuration).
        #[arg(long)]
        connection: String,
        /// Only groups whose name contains these words.
        #[arg(long)]
        search: Option<String>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Shows what a sync would change in each organisation, applying nothing.
    Plan {
        /// One organisation only.
        #[arg(long)]
        org: Option<String>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Syncs now.
    Sync {
        #[command(subcommand)]
        target: SyncCommand,
    },
    /// Checks every prerequisite and explains how to fix what fails.
    Doctor {
        /// JSON instead of a list.
        #[arg(long)]
        json: bool,
    },
    /// Runs the scheduler, the local HTTP endpoint (health, metrics, runs, triggers) and the admin web UI
    /// (http://127.0.0.1:8787/ui/ by default) until SIGINT/SIGTERM.
    Daemon,
    /// The run history; `runs show ID`, `runs approve ID`.
    Runs(RunsArgs),
    /// Shows the whole job against in-process fakes: no credentials, no network.
    Demo,
}

#[derive(Subcommand)]
enum Provider {
    /// Microsoft Entra ID.
    Microsoft {
        /// The connection (its `name` in the configuration).
        #[arg(long)]
        connection: String,
    },
}

#[derive(Args)]
struct SyncOptions {
    /// Approve up to N suspensions for this run (beyond the safety policy's limit).
    #[arg(long, value_name = "N")]
    allow_suspensions: Option<usize>,
    /// JSON instead of a summary table.
    #[arg(long)]
    json: bool,
    /// Read every group in full instead of only what changed since the last run (a full reconciliation also
    /// happens by itself when the last one is older than `[schedule] full_every_hours`).
    #[arg(long)]
    full: bool,
}

#[derive(Subcommand)]
enum SyncCommand {
    /// Every organisation that has a connection group.
    All(SyncOptions),
    /// One organisation.
    Org {
        /// The Secure Schools organisation id.
        id: String,
        #[command(flatten)]
        options: SyncOptions,
    },
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct RunsArgs {
    /// One organisation only.
    #[arg(long)]
    org: Option<String>,
    /// How many runs.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    action: Option<RunsAction>,
}

#[derive(Subcommand)]
enum RunsAction {
    /// One run with its per-record errors.
    Show {
        /// The run id.
        id: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Approves a held run: the organisation's next run may do what it would have done.
    Approve {
        /// The held run's id.
        id: String,
    },
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
    let mut cli = Cli::parse();
    let default_level = if matches!(cli.command, Command::Daemon) { "info" } else { "warn" };
    init_tracing(cli.log.as_deref(), default_level);
    let secrets = Secrets {
        secure_schools_token: cli.secure_schools_token.take().map(SecretString::from),
        secret_key: cli.secret_key.take().map(SecretString::from),
        admin_password: cli.admin_password.take().map(SecretString::from),
        ..Secrets::default()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, secrets)) {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(e) => {
            tracing::debug!(error = format!("{e:#}"), "command failed");
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, secrets: Secrets) -> anyhow::Result<Outcome> {
    let mut out = Output::stdout();
    if let Command::Demo = cli.command {
        return demo::run(&mut out).await;
    }
    let config = Config::load(&cli.config)?;
    let app = App::open(config, secrets, AppOptions::default()).await?;
    // Commands that change things stop cleanly on SIGINT/SIGTERM; the others keep the default (stop at once).
    let shutdown = match cli.command {
        Command::Connect { .. } | Command::Sync { .. } | Command::Daemon => Shutdown::on_signals(),
        _ => Shutdown::manual().1,
    };
    match cli.command {
        Command::Connect { provider: Provider::Microsoft { connection } } => {
            commands::connect_microsoft(&app, &connection, &mut out, &shutdown, &|_| Ok(None)).await?;
            Ok(Outcome::Success)
        }
        Command::Groups { connection, search, json } => {
            commands::groups(&app, &connection, search.as_deref(), json, &mut out).await
        }
        Command::Plan { org, json } => commands::plan(&app, org.as_deref(), json, &mut out).await,
        Command::Sync { target } => {
            let (target, options) = match target {
                SyncCommand::All(options) => (SyncTarget::All, options),
                SyncCommand::Org { id, options } => (SyncTarget::Organisation(id), options),
            };
            let run = commands::run_options(options.allow_suspensions, options.full);
            commands::sync_with(&app, target, &run, options.json, &mut out, &shutdown).await
        }
        Command::Doctor { json } => doctor::doctor(&app, json, &mut out).await,
        Command::Daemon => daemon::serve(app, shutdown).await,
        Command::Runs(args) => match args.action {
            None => commands::runs(&app, args.org.as_deref(), args.limit, args.json, &mut out).await,
            Some(RunsAction::Show { id, json }) => commands::show_run(&app, &id, json || args.json, &mut out).await,
            Some(RunsAction::Approve { id }) => commands::approve(&app, &id, &mut out).await,
        },
        Command::Demo => demo::run(&mut out).await,
    }
}
