//! `sds-ims-feed`: a OneRoster 1.1 provider that Microsoft School Data Sync (SDS) pulls rosters from.
//!
//! The binary (`main.rs`) only parses the command line, sets up logging and calls into this library, so that every
//! command can be tested in-process:
//!
//! * [`sync`] — fills the store from identity sources (Microsoft Entra ID groups) through the sync engine, as
//!   its [`config`] file says;
//! * [`import`] — reads a OneRoster CSV set (folder or zip) and imports it all-or-nothing into a
//!   [`roster_store::Store`];
//! * [`credentials`] — rotates the OAuth 2.0 client secret (shown once, stored as an argon2 hash);
//! * [`validate`] — the model's validation (core or SDS profile) of the stored roster or of a CSV set;
//! * [`serve`] — the [`oneroster_server`] router over TLS ([`tls`]), with an access log, `/healthz`,
//!   Prometheus [`metrics`], snapshot reloads when the store changes, and graceful shutdown;
//! * [`doctor`] — what SDS's "Test Connection" does, step by step, each failure with its likely cause;
//! * [`demo`] — the bundled sample roster served on localhost with a development certificate.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use sds_ims_feed::{import, output::Output};
//! let store = roster_store::Store::open("feed.db").await?;
//! let mut out = Output::stdout();
//! let outcome = import::run(&store, std::path::Path::new("export.zip"), false, false, &mut out).await?;
//! std::process::exit(outcome.code().into());
//! # }
//! ```

pub mod config;
pub mod credentials;
pub mod demo;
pub mod doctor;
pub mod import;
pub mod metrics;
pub mod output;
pub mod serve;
pub mod sync;
pub mod tls;
pub mod validate;

/// How a command ended, and so the program's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything worked (exit 0).
    Success,
    /// A check failed, the data has errors, or nothing was imported (exit 1).
    Failed,
    /// A sync run was held by the safety policy and waits for approval (exit 3).
    Held,
}

impl Outcome {
    /// The exit status.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Failed => 1,
            Outcome::Held => 3,
        }
    }
}
