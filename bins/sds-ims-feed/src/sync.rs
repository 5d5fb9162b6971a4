//! `sync --config FILE`: fills the store from identity sources through the sync engine.
//!
//! 1. The configured orgs and academic sessions are written (only those that differ from what is stored).
//! 2. Each configured source becomes an engine `IdentitySource` ([`build_source`], one match arm per source kind).
//! 3. For each org that reads groups, the engine reads its groups' members (nested membership included), plans
//!    against the org's users in the store, checks the safety policy, and applies through
//!    [`RosterStoreSink`]: creates, updates of changed fields, `tobedeleted` for people who left or whose account
//!    is disabled, reactivations. Runs are recorded in the store.
//!
//! A running `serve` picks the changes up as it picks up imports. A second sync with nothing changed writes
//! nothing, so `dateLastModified` and the roster version stay as they were.

use crate::Outcome;
use crate::config::{SourceConfig, SyncConfig, WondeConfig};
use crate::output::Output;
use anyhow::Context as _;
use connectors::microsoft::MicrosoftSource;
use connectors::roster_store::RosterStoreSink;
use connectors::wonde::roster::{RosterOptions, wonde_roster};
use graph_client::auth::ClientCredentials;
use graph_client::{GraphClient, Tenant};
use http_retry::RetryPolicy;
use oneroster_model::Roster;
use roster_store::{ConnectionRecord, ImportMode, ImportOptions, SecretRef, Store};
use secrecy::SecretString;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::sync::Arc;
use sync_engine::model::{ConnectionId, ConnectionKind};
use sync_engine::plan::PlanOptions;
use sync_engine::safety::Allowance;
use sync_engine::source::IdentitySource;
use sync_engine::{Engine, ExecutorOptions, NoProgress, RunError, RunOptions, RunReport, RunStatus};
use wonde_client::WondeClient;

/// How to sync.
#[derive(Clone, Default)]
pub struct SyncOptions {
    /// Plan only: print what would change, write nothing.
    pub dry_run: bool,
    /// Approve up to this many users becoming `tobedeleted` in each org (beyond the safety policy's limit).
    pub allow_suspensions: Option<usize>,
    /// Client secrets by source name, instead of the environment variables the configuration names (tests).
    pub secrets: BTreeMap<String, SecretString>,
    /// The retry policy of every HTTP client (default: [`RetryPolicy::default`]).
    pub retry_policy: Option<RetryPolicy>,
    /// JSON instead of text.
    pub json: bool,
    /// Read every source in full, even where a change feed could be followed.
    pub full: bool,
}

impl fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncOptions")
            .field("dry_run", &self.dry_run)
            .field("allow_suspensions", &self.allow_suspensions)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("json", &self.json)
            .field("full", &self.full)
            .finish_non_exhaustive()
    }
}

/// What became of one org.
#[derive(Debug, Clone, Serialize)]
pub struct OrgResult {
    /// The org's `sourcedId`.
    pub org: String,
    /// `succeeded`, `partially_failed`, `held`, `dry_run`, `failed` or `busy`.
    pub status: String,
    /// The run's report, when it ran.
    pub report: Option<RunReport>,
    /// People the plan left out, with the reason (dry runs only: a real run counts them in its report).
    pub skipped: Vec<String>,
    /// Why it failed or was held, in words.
    pub message: Option<String>,
}

/// Builds the engine source of one configured source. A new source kind is one more arm here (and one variant of
/// [`SourceConfig`]).
pub fn build_source(source: &SourceConfig, options: &SyncOptions) -> anyhow::Result<Arc<dyn IdentitySource>> {
    match source {
        SourceConfig::Wonde(w) => {
            anyhow::bail!("source `{}`: a Wonde source is imported as a whole school, not read through groups", w.name)
        }
        SourceConfig::Microsoft(m) => {
            let secret = match options.secrets.get(&m.name) {
                Some(secret) => secret.clone(),
                None => std::env::var(&m.client_secret_env)
                    .ok()
                    .filter(|v| !v.trim().is_empty())
                    .map(SecretString::from)
                    .with_context(|| {
                        format!(
                            "source `{}`: the client secret: set the environment variable {}",
                            m.name, m.client_secret_env
                        )
                    })?,
            };
            let tenant = Tenant::new(m.tenant.clone()).with_context(|| format!("source `{}`: tenant", m.name))?;
            let cloud = m.cloud();
            let retry = options.retry_policy.clone().unwrap_or_default();
            let tokens = ClientCredentials::new(cloud.clone(), tenant, m.client_id.clone(), secret)
                .with_retrier(http_retry::Retrier::new(retry.clone()));
            let graph = GraphClient::builder()
                .cloud(cloud)
                .token_source(Arc::new(tokens))
                .retry_policy(retry)
                .build()
                .with_context(|| format!("source `{}`: the Graph client", m.name))?;
            Ok(Arc::new(MicrosoftSource::new(ConnectionId::new(m.name.clone()), graph)))
        }
    }
}

/// Records every configured source as a connection of the store (settings only; the secret stays in the
/// environment variable the configuration names), so that the engine can keep its change-feed cursors there.
pub async fn record_sources(config: &SyncConfig, store: &Store) -> anyhow::Result<()> {
    for source in &config.sources {
        let record = match source {
            // Imported as a whole; the engine keeps no cursor for it.
            SourceConfig::Wonde(_) => continue,
            SourceConfig::Microsoft(m) => ConnectionRecord {
                id: ConnectionId::new(m.name.clone()),
                name: m.name.clone(),
                kind: ConnectionKind::Microsoft,
                settings: serde_json::json!({ "tenant": m.tenant, "client_id": m.client_id, "auth": "app-only" }),
                secret: SecretRef::Env(m.client_secret_env.clone()),
            },
        };
        store
            .save_connection(&record)
            .await
            .with_context(|| format!("recording source `{}` in the store", source.name()))?;
    }
    Ok(())
}

/// Writes the configured orgs and academic sessions that differ from what is stored. Returns how many records
/// were written.
pub async fn write_orgs_and_sessions(config: &SyncConfig, store: &Store) -> anyhow::Result<usize> {
    let roster =
        Roster { orgs: config.org_records(), academic_sessions: config.session_records(), ..Roster::default() };
    let report = store
        .import_changes(&roster, "sync:config", chrono::Utc::now())
        .await
        .context("writing the configured orgs and academic sessions")?;
    Ok(report.map_or(0, |r| {
        let t = r.totals();
        t.created + t.updated + t.deleted
    }))
}

/// The Wonde client of a configured Wonde source (its token from `options.secrets`, else the environment).
pub fn wonde_client(w: &WondeConfig, options: &SyncOptions) -> anyhow::Result<WondeClient> {
    let token = match options.secrets.get(&w.name) {
        Some(secret) => secret.clone(),
        None => {
            std::env::var(&w.token_env).ok().filter(|v| !v.trim().is_empty()).map(SecretString::from).with_context(
                || format!("source `{}`: the Wonde token: set the environment variable {}", w.name, w.token_env),
            )?
        }
    };
    let mut builder = WondeClient::builder()
        .region(w.region())
        .token(token)
        .retry_policy(options.retry_policy.clone().unwrap_or_default());
    if let Some(url) = &w.wonde_url {
        builder = builder.base_url(url.clone());
    }
    builder.build().with_context(|| format!("source `{}`: the Wonde client", w.name))
}

/// Fills the store from the Wonde sources: each school is read whole and turned into a OneRoster roster
/// (`connectors::wonde::roster`), the schools and the configured orgs and sessions are imported together as one bulk
/// import (all or nothing; records no longer there become `tobedeleted`; `dateLastModified` moves only on real
/// change). A dry run reads and reports without writing. One result per school.
pub async fn import_wonde(
    config: &SyncConfig,
    store: &Store,
    options: &SyncOptions,
    out: &mut Output,
) -> anyhow::Result<Vec<OrgResult>> {
    let now = chrono::Utc::now();
    let mut roster =
        Roster { orgs: config.org_records(), academic_sessions: config.session_records(), ..Roster::default() };
    let mut results = Vec::new();
    for w in config.sources.iter().filter_map(|s| match s {
        SourceConfig::Wonde(w) => Some(w),
        SourceConfig::Microsoft(_) => None,
    }) {
        let client = wonde_client(w, options)?;
        let mut roster_options = RosterOptions::at(now);
        roster_options.non_teaching_staff = w.non_teaching_staff().unwrap_or_default();
        let built = match wonde_roster(&client, &w.school_id, &roster_options).await {
            Ok(built) => built,
            Err(e) => {
                // Nothing is imported when one school cannot be read: a partial bulk import would mark the other
                // schools' people `tobedeleted`.
                let message = format!("source `{}`: reading school {} from Wonde: {e}", w.name, w.school_id);
                if !options.json {
                    writeln!(out, "{message}; nothing imported")?;
                }
                results.push(OrgResult {
                    org: w.school_id.clone(),
                    status: "failed".into(),
                    report: None,
                    skipped: vec![],
                    message: Some(message),
                });
                if options.json {
                    out.json(&results)?;
                }
                return Ok(results);
            }
        };
        let r = &built.roster;
        let summary = format!(
            "{} users, {} classes, {} courses, {} enrollments",
            r.users.len(),
            r.classes.len(),
            r.courses.len(),
            r.enrollments.len()
        );
        let org = r.orgs.first().map_or_else(|| w.school_id.clone(), |o| o.base.sourced_id.clone());
        if !options.json {
            writeln!(out, "{org}: read from Wonde ({}): {summary}", w.name)?;
            for note in &built.notes {
                writeln!(out, "  left out: {note}")?;
            }
        }
        results.push(OrgResult {
            org,
            status: if options.dry_run { "dry_run".into() } else { "succeeded".into() },
            report: None,
            skipped: built.notes.clone(),
            message: Some(summary),
        });
        roster.orgs.extend(built.roster.orgs);
        roster.academic_sessions.extend(built.roster.academic_sessions);
        roster.courses.extend(built.roster.courses);
        roster.classes.extend(built.roster.classes);
        roster.users.extend(built.roster.users);
        roster.enrollments.extend(built.roster.enrollments);
        roster.demographics.extend(built.roster.demographics);
    }
    if !options.dry_run {
        let report = store
            .import_roster_with(&roster, &ImportOptions::new(ImportMode::Bulk).source("sync:wonde"), now)
            .await
            .context("importing the schools read from Wonde (nothing was changed)")?;
        let t = report.totals();
        if !options.json {
            writeln!(
                out,
                "imported: {} created, {} updated, {} unchanged, {} tobedeleted",
                t.created, t.updated, t.unchanged, t.deleted
            )?;
        }
    }
    if options.json {
        out.json(&results)?;
    }
    Ok(results)
}

/// The engine over `store`: the roster-store sink, one source per configured source, the store as sync state, the
/// configured safety policy and role precedence, roles that follow the source.
pub fn engine(config: &SyncConfig, store: &Store, options: &SyncOptions) -> anyhow::Result<Engine> {
    let mut engine = Engine::new(Arc::new(RosterStoreSink::new(store.clone())), Arc::new(store.clone()))
        .with_policy(config.safety_policy())
        .with_precedence(config.precedence())
        .with_plan_options(PlanOptions::default().roles_follow_source(true))
        // Each batch is one transaction of the store; they serialise there anyway.
        .with_executor(ExecutorOptions { concurrency: 1 });
    for source in config.sources.iter().filter(|s| !matches!(s, SourceConfig::Wonde(_))) {
        engine = engine.with_source(build_source(source, options)?);
    }
    Ok(engine)
}

/// Syncs every org that reads groups, prints a line per org (or JSON), and returns the results.
pub async fn sync_results(
    config: &SyncConfig,
    store: &Store,
    options: &SyncOptions,
    out: &mut Output,
) -> anyhow::Result<Vec<OrgResult>> {
    if config.sources.iter().any(|s| matches!(s, SourceConfig::Wonde(_))) {
        // The configuration check allows no group-based orgs beside a Wonde source: the import is the whole run.
        return import_wonde(config, store, options, out).await;
    }
    if !options.dry_run {
        record_sources(config, store).await?;
        let written = write_orgs_and_sessions(config, store).await?;
        if !options.json {
            writeln!(out, "orgs and academic sessions: {written} written")?;
        }
    }
    let engine = engine(config, store, options)?;
    let groups = config.connection_groups();
    // Runs follow the sources' change feeds (Graph delta) once a full read has left a cursor; the engine reads in
    // full when there is none, when the configuration changed, and at least daily.
    let run_options = RunOptions {
        dry_run: options.dry_run,
        allowance: options.allow_suspensions.map(|n| Allowance { suspensions: Some(n), empty_scopes: false }),
        full: options.full,
    };
    let mut results = Vec::new();
    for org in config.synced_orgs() {
        let mut skipped = Vec::new();
        if options.dry_run {
            // The plan's details (who is left out, and why) are what a dry run is for.
            if let Ok(planned) = engine.plan(&org, &groups).await {
                skipped = planned.plan.skipped.iter().map(|s| format!("{}: {:?}", s.external_id, s.reason)).collect();
            }
        }
        let result = match engine.run(&org, &groups, &run_options, &NoProgress).await {
            Ok(report) => {
                let status = serde_json::to_value(report.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let message = match report.status {
                    RunStatus::Failed => report.failure.clone(),
                    RunStatus::Held => {
                        Some(report.hold_reasons.iter().map(|r| r.explain()).collect::<Vec<_>>().join("; "))
                    }
                    _ => None,
                };
                OrgResult { org: org.to_string(), status, report: Some(report), skipped, message }
            }
            Err(RunError::Busy(_)) => OrgResult {
                org: org.to_string(),
                status: "busy".into(),
                report: None,
                skipped,
                message: Some("another sync of this org is running; try again when it has finished".into()),
            },
            Err(e) => return Err(anyhow::Error::new(e).context(format!("syncing org `{org}`"))),
        };
        if !options.json {
            print_result(&result, out)?;
        }
        results.push(result);
    }
    if options.json {
        out.json(&results)?;
    }
    Ok(results)
}

fn print_result(result: &OrgResult, out: &mut Output) -> std::io::Result<()> {
    match &result.report {
        Some(r) => {
            let p = &r.planned;
            let a = &r.applied;
            writeln!(
                out,
                "{}: {} — planned {} create, {} update, {} tobedeleted, {} reactivate, {} unchanged, {} skipped; \
                 applied {} create, {} update, {} tobedeleted, {} reactivate; {} error(s)",
                result.org,
                result.status,
                p.creates,
                p.updates,
                p.suspensions,
                p.reactivations,
                p.unchanged,
                p.skipped,
                a.created,
                a.updated,
                a.suspended,
                a.reactivated,
                r.errors.len()
            )?;
            for error in &r.errors {
                writeln!(out, "  error: {} {}: {}", error.operation, error.external_id, error.message)?;
            }
            if p.skipped > 0 && result.skipped.is_empty() {
                writeln!(
                    out,
                    "  {} people were left out (no email, or an email another person has): `sync --dry-run` lists them",
                    p.skipped
                )?;
            }
        }
        None => writeln!(out, "{}: {}", result.org, result.status)?,
    }
    for skip in &result.skipped {
        writeln!(out, "  skipped {skip}")?;
    }
    if let Some(message) = &result.message {
        writeln!(out, "  {message}")?;
    }
    Ok(())
}

/// `sync --config FILE`: syncs and returns the exit outcome: success if every org succeeded (or was planned),
/// held if a run waits for approval, failed otherwise.
pub async fn run(
    config: &SyncConfig,
    store: &Store,
    options: &SyncOptions,
    out: &mut Output,
) -> anyhow::Result<Outcome> {
    let results = sync_results(config, store, options, out).await?;
    let mut outcome = Outcome::Success;
    for r in &results {
        match r.status.as_str() {
            "succeeded" | "dry_run" => {}
            "held" if outcome == Outcome::Success => outcome = Outcome::Held,
            "held" => {}
            _ => outcome = Outcome::Failed,
        }
    }
    Ok(outcome)
}
