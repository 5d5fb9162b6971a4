//! `secure-schools-sync`: keeps the users of Secure Schools organisations in step with Microsoft Entra ID groups.
//!
//! The binary (`main.rs`) only parses the command line, sets up logging and calls into this library, so that
//! everything a command does can be tested in-process against the testkit fakes:
//!
//! * [`config`] — the TOML configuration (secrets come from the environment; errors name the key and the line);
//! * [`app`] — builds the store, the Secure Schools client, a Graph client per connection with the right token
//!   source (a stored, rotating delegated sign-in or app-only client credentials) and the sync engine;
//! * [`commands`] — `connect`, `groups`, `plan`, `sync`, `runs`;
//! * [`doctor`] — every prerequisite, checked and explained with its remedy;
//! * [`daemon`] — the scheduler and the local HTTP endpoint (health, Prometheus [`metrics`], runs, triggers);
//! * [`demo`] — the whole job against in-process fakes, with no credentials and no network;
//! * [`stored`] — connections and connection groups the web UI keeps in the store, merged with the file's;
//! * [`ui`] — the admin web UI the daemon serves (sign-in, connections, connection groups, sync, runs, doctor);
//! * [`output`] — tables, JSON and progress bars; [`shutdown`] — SIGINT/SIGTERM handling.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use secure_schools_sync::{app::{App, AppOptions, Secrets}, commands, config::Config, output::Output};
//! use secure_schools_sync::shutdown::Shutdown;
//!
//! let config = Config::load(std::path::Path::new("secure-schools-sync.toml"))?;
//! let app = App::open(config, Secrets::default(), AppOptions::default()).await?;
//! let mut out = Output::stdout();
//! let outcome = commands::sync(&app, commands::SyncTarget::All, None, false, &mut out, &Shutdown::on_signals()).await?;
//! std::process::exit(outcome.code().into());
//! # }
//! ```

pub mod app;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod doctor;
pub mod metrics;
pub mod output;
pub mod shutdown;
pub mod stored;
pub mod ui;

/// How a command ended, and so the program's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Everything worked (exit 0).
    Success,
    /// A run was held by the safety policy and waits for approval (exit 3).
    Held,
    /// Something failed: a run, a check, a record (exit 1).
    Failed,
    /// Stopped by SIGINT/SIGTERM before it finished (exit 130).
    Interrupted,
}

impl Outcome {
    /// The exit status.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Failed => 1,
            Outcome::Held => 3,
            Outcome::Interrupted => 130,
        }
    }

    /// The more serious of two outcomes (interrupted > failed > held > success).
    pub fn worst(self, other: Outcome) -> Outcome {
        self.max(other)
    }
}
