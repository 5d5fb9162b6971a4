//! Running a sync of one organisation: read the sources and the sink, plan, check the safety policy, apply,
//! record.

use crate::clock::{Clock, SystemClock};
use crate::desired::DesiredState;
use crate::executor::{ExecutorOptions, OpCounts, Progress, execute};
use crate::incremental::{self, GroupChanges, StoredCursor, cursor_key};
use crate::model::{ConnectionGroup, ConnectionId, OrganisationId, RolePrecedence, SinkRecord};
use crate::plan::{Plan, PlanOptions, plan};
use crate::report::{HeldRun, PlannedCounts, ReadMode, RunReport, RunStatus};
use crate::safety::{Allowance, SafetyPolicy, Verdict, check};
use crate::sink::{RosterSink, SinkError};
use crate::source::{Changes, IdentitySource, SourceCursor, SourceError, SourceSnapshot};
use crate::state::{StateError, StateStore};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why a run could not even start or be recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Another worker is syncing this organisation.
    #[error("organisation `{0}` is being synced by another worker")]
    Busy(OrganisationId),
    /// The sync state could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Why reading failed (recorded in a failed run report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// No source is configured for a connection a group uses.
    #[error("no source is configured for connection `{0}`")]
    NoSource(ConnectionId),
    /// A source failed.
    #[error("connection `{connection}`: {error}")]
    Source {
        /// The connection.
        connection: ConnectionId,
        /// What failed.
        error: SourceError,
    },
    /// The sink failed.
    #[error("the sink: {0}")]
    Sink(#[from] SinkError),
}

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Plan only; apply and record nothing. A dry run always reads in full and leaves the change feeds where
    /// they are.
    pub dry_run: bool,
    /// Read every source in full even where its change feed could be used (the periodic reconciliation).
    pub full: bool,
    /// An explicit approval given for this run (e.g. `--allow-suspensions N`).
    pub allowance: Option<Allowance>,
}

/// A plan and what the safety policy says of it.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    /// The plan.
    pub plan: Plan,
    /// The verdict.
    pub verdict: Verdict,
    /// Members per scope this time.
    pub scope_counts: BTreeMap<String, usize>,
}

/// The sync engine: sources by connection, one sink, the state store, the policy.
pub struct Engine {
    sink: Arc<dyn RosterSink>,
    sources: BTreeMap<ConnectionId, Arc<dyn IdentitySource>>,
    state: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    policy: SafetyPolicy,
    precedence: RolePrecedence,
    plan_options: PlanOptions,
    executor: ExecutorOptions,
    owner: String,
    lock_ttl: chrono::Duration,
    full_every: chrono::Duration,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("sources", &self.sources.keys().collect::<Vec<_>>())
            .field("policy", &self.policy)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine writing to `sink` and remembering in `state`, with default policy, precedence and clock.
    pub fn new(sink: Arc<dyn RosterSink>, state: Arc<dyn StateStore>) -> Engine {
        Engine {
            sink,
            sources: BTreeMap::new(),
            state,
            clock: Arc::new(SystemClock),
            policy: SafetyPolicy::default(),
            precedence: RolePrecedence::default(),
            plan_options: PlanOptions::default(),
            executor: ExecutorOptions::default(),
            owner: format!("worker-{}", uuid::Uuid::new_v4()),
            lock_ttl: chrono::Duration::hours(2),
            full_every: chrono::Duration::hours(24),
        }
    }

    /// Sets how old the last full read of a connection group may be before a run reads it in full again instead
    /// of following its change feed (default 24 hours).
    pub fn with_full_every(mut self, full_every: chrono::Duration) -> Engine {
        self.full_every = full_every;
        self
    }

    /// Adds the source of a connection.
    pub fn with_source(mut self, source: Arc<dyn IdentitySource>) -> Engine {
        self.sources.insert(source.connection().clone(), source);
        self
    }

    /// Sets the safety policy.
    pub fn with_policy(mut self, policy: SafetyPolicy) -> Engine {
        self.policy = policy;
        self
    }

    /// Sets the role precedence.
    pub fn with_precedence(mut self, precedence: RolePrecedence) -> Engine {
        self.precedence = precedence;
        self
    }

    /// Sets the planner's options (e.g. roles that follow the source, for a roster-store sink).
    pub fn with_plan_options(mut self, options: PlanOptions) -> Engine {
        self.plan_options = options;
        self
    }

    /// Sets how plans are applied.
    pub fn with_executor(mut self, options: ExecutorOptions) -> Engine {
        self.executor = options;
        self
    }

    /// Sets the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Engine {
        self.clock = clock;
        self
    }

    /// Sets this worker's name for the organisation lock, and how long a lock lasts if a worker dies holding it.
    pub fn with_owner(mut self, owner: impl Into<String>, lock_ttl: chrono::Duration) -> Engine {
        self.owner = owner.into();
        self.lock_ttl = lock_ttl;
        self
    }

    async fn read(&self, groups: &[&ConnectionGroup]) -> Result<(DesiredState, Vec<Option<SourceCursor>>), ReadError> {
        let mut snapshots: Vec<(&ConnectionGroup, SourceSnapshot)> = Vec::with_capacity(groups.len());
        for group in groups {
            let source =
                self.sources.get(&group.connection).ok_or_else(|| ReadError::NoSource(group.connection.clone()))?;
            let snapshot = source
                .snapshot(&group.scopes)
                .await
                .map_err(|error| ReadError::Source { connection: group.connection.clone(), error })?;
            snapshots.push((group, snapshot));
        }
        let desired = DesiredState::build(snapshots.iter().map(|(g, s)| (*g, s)), &self.precedence);
        Ok((desired, snapshots.into_iter().map(|(_, s)| s.cursor).collect()))
    }

    /// The changes of every connection group since its saved cursor, or `None` when the run must read in full:
    /// a group has no usable cursor (none yet, another configuration, its last full read older than
    /// `full_every`), its source does not track changes or asks for a full read, or two groups read the same
    /// connection.
    async fn read_changes<'a>(
        &self,
        groups: &[&'a ConnectionGroup],
        fingerprint: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Vec<GroupChanges<'a>>>, ReadError> {
        if groups.is_empty() || incremental::shares_connection(groups) {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(groups.len());
        for group in groups {
            let source =
                self.sources.get(&group.connection).ok_or_else(|| ReadError::NoSource(group.connection.clone()))?;
            let stored = match self.state.cursor(&group.connection, &cursor_key(group)).await {
                Ok(text) => text.as_deref().and_then(StoredCursor::parse),
                Err(e) => {
                    tracing::warn!(group = %group.id, error = %e, "cannot read the saved cursor; reading in full");
                    None
                }
            };
            let Some(stored) = stored else {
                tracing::debug!(group = %group.id, "no usable cursor; reading in full");
                return Ok(None);
            };
            if stored.fingerprint != fingerprint {
                tracing::info!(group = %group.id, "the organisation's configuration changed; reading in full");
                return Ok(None);
            }
            if now - stored.full_at >= self.full_every {
                tracing::info!(group = %group.id, last_full = %stored.full_at, "full reconciliation due");
                return Ok(None);
            }
            match source.changes(&group.scopes, &stored.cursor).await {
                Ok(Changes::Changes { upserts, removed, scope_counts, cursor }) => {
                    out.push(GroupChanges { group, upserts, removed, scope_counts, cursor, full_at: stored.full_at })
                }
                Ok(Changes::FullResyncRequired) | Err(SourceError::ChangesUnsupported) => {
                    tracing::info!(group = %group.id, "the source asks for a full read");
                    return Ok(None);
                }
                Err(error) => return Err(ReadError::Source { connection: group.connection.clone(), error }),
            }
        }
        Ok(Some(out))
    }

    /// Saves (after a clean run) or forgets (after a full run that did not finish cleanly, so the next run reads
    /// in full again) the groups' cursors. A cursor that cannot be saved only costs the next run a full read.
    async fn settle_cursors(&self, cursors: &[Settle<'_>], fingerprint: &str, clean: bool) {
        for settle in cursors {
            let (group, outcome) = match settle {
                Settle::Save { group, full_at, cursor } => {
                    if !clean {
                        continue;
                    }
                    let text = StoredCursor::new(fingerprint.to_owned(), *full_at, cursor.clone()).to_text();
                    (group, self.state.save_cursor(&group.connection, &cursor_key(group), &text).await)
                }
                Settle::FullRead { group, full_at, cursor } => match cursor {
                    Some(cursor) if clean => {
                        let text = StoredCursor::new(fingerprint.to_owned(), *full_at, cursor.clone()).to_text();
                        (group, self.state.save_cursor(&group.connection, &cursor_key(group), &text).await)
                    }
                    _ => (group, self.state.delete_cursor(&group.connection, &cursor_key(group)).await),
                },
            };
            if let Err(e) = outcome {
                tracing::warn!(group = %group.id, error = %e, "cannot save the cursor; the next run reads in full");
            }
        }
    }

    /// Reads everything and plans, applying nothing.
    pub async fn plan(
        &self,
        organisation: &OrganisationId,
        groups: &[ConnectionGroup],
    ) -> Result<PlannedRun, ReadError> {
        let mine: Vec<&ConnectionGroup> = groups.iter().filter(|g| &g.organisation == organisation).collect();
        let (desired, _) = self.read(&mine).await?;
        let current = self.sink.current(organisation).await?;
        let plan = plan(organisation, &desired, &current, &self.plan_options);
        let previous = self.state.scope_counts(organisation).await.unwrap_or_default();
        let verdict = check(&self.policy, &plan, &desired.scope_counts, &previous, None);
        Ok(PlannedRun { plan, verdict, scope_counts: desired.scope_counts })
    }

    /// Syncs one organisation from the connection groups that target it: reads, plans, checks the policy, applies
    /// (unless held or a dry run), and records the run. A source or sink failure is a recorded `Failed` run, not an
    /// error; only a busy organisation or a broken state store is an error.
    pub async fn run(
        &self,
        organisation: &OrganisationId,
        groups: &[ConnectionGroup],
        options: &RunOptions,
        progress: &dyn Progress,
    ) -> Result<RunReport, RunError> {
        let started_at = self.clock.now();
        if options.dry_run {
            return self.run_locked(organisation, groups, options, progress, started_at).await;
        }
        if !self.state.try_lock(organisation, &self.owner, started_at + self.lock_ttl).await? {
            return Err(RunError::Busy(organisation.clone()));
        }
        // If this future is dropped mid-run (a cancelled task, a shutdown), the guard still releases the lock, so
        // the next run need not wait for it to expire.
        let mut guard = LockGuard {
            state: self.state.clone(),
            organisation: organisation.clone(),
            owner: self.owner.clone(),
            armed: true,
        };
        let result = self.run_locked(organisation, groups, options, progress, started_at).await;
        guard.armed = false;
        self.state.unlock(organisation, &self.owner).await?;
        result
    }

    async fn run_locked(
        &self,
        organisation: &OrganisationId,
        groups: &[ConnectionGroup],
        options: &RunOptions,
        progress: &dyn Progress,
        started_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<RunReport, RunError> {
        let mut report = RunReport {
            id: uuid::Uuid::new_v4().to_string(),
            organisation: organisation.clone(),
            started_at,
            finished_at: started_at,
            status: RunStatus::Failed,
            planned: PlannedCounts::default(),
            applied: OpCounts::default(),
            errors: Vec::new(),
            hold_reasons: Vec::new(),
            held_run: None,
            failure: None,
        };
        let mine: Vec<&ConnectionGroup> = groups.iter().filter(|g| &g.organisation == organisation).collect();
        let fingerprint = incremental::fingerprint(&mine, &self.precedence);
        let read = async {
            if !options.dry_run
                && !options.full
                && let Some(changes) = self.read_changes(&mine, &fingerprint, started_at).await?
            {
                return self.incremental_input(organisation, changes).await;
            }
            let (desired, cursors) = self.read(&mine).await?;
            let current = self.sink.current(organisation).await?;
            let settle = mine
                .iter()
                .zip(cursors)
                .map(|(group, cursor)| Settle::FullRead { group, full_at: started_at, cursor })
                .collect();
            Ok::<_, ReadError>(Input { desired, current, mode: ReadMode::Full, settle })
        };
        let Input { desired, current, mode, settle } = match read.await {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(organisation = %organisation, error = %e, "sync run failed before applying anything");
                report.failure = Some(e.to_string());
                report.finished_at = self.clock.now();
                if !options.dry_run {
                    self.state.save_run(&report).await?;
                }
                return Ok(report);
            }
        };
        tracing::info!(organisation = %organisation, read = mode.as_str(), people = desired.people.len(), "sources read");
        let plan = plan(organisation, &desired, &current, &self.plan_options);
        drop(current);
        report.planned = PlannedCounts { read: mode, ..PlannedCounts::of(&plan) };
        let previous = self.state.scope_counts(organisation).await?;
        let stored = if options.dry_run { None } else { self.state.take_allowance(organisation).await? };
        let allowance = merge(options.allowance.as_ref(), stored.as_ref());
        let verdict = check(&self.policy, &plan, &desired.scope_counts, &previous, allowance.as_ref());
        if let Verdict::Hold(reasons) = verdict {
            report.status = RunStatus::Held;
            report.hold_reasons = reasons.clone();
            report.finished_at = self.clock.now();
            if !options.dry_run {
                let held = HeldRun {
                    id: report.id.clone(),
                    organisation: organisation.clone(),
                    held_at: report.finished_at,
                    reasons,
                    plan,
                };
                self.state.save_held(&held).await?;
                report.held_run = Some(held.id.clone());
                self.state.save_run(&report).await?;
                self.settle_cursors(&settle, &fingerprint, false).await;
            }
            for reason in &report.hold_reasons {
                tracing::warn!(organisation = %organisation, "run held: {}", reason.explain());
            }
            return Ok(report);
        }
        if options.dry_run {
            report.status = RunStatus::DryRun;
            report.finished_at = self.clock.now();
            return Ok(report);
        }
        for phase in plan.phases() {
            if phase.is_empty() {
                continue;
            }
            let outcome = execute(self.sink.as_ref(), organisation, &phase, &self.executor, progress).await;
            report.applied.add_all(&outcome.applied);
            report.errors.extend(outcome.errors);
        }
        report.status = if report.errors.is_empty() { RunStatus::Succeeded } else { RunStatus::PartiallyFailed };
        self.state.save_scope_counts(organisation, &desired.scope_counts).await?;
        // Only a clean run moves the change feeds on: after failed records, the next run sees the same changes
        // again (an incremental run) or reads in full (a full one), so the failures are retried either way.
        self.settle_cursors(&settle, &fingerprint, report.errors.is_empty()).await;
        report.finished_at = self.clock.now();
        self.state.save_run(&report).await?;
        Ok(report)
    }
}

/// What a run read: who the organisation should have, who it has, how it was read, and what to do with each
/// group's cursor once the run is over.
struct Input<'a> {
    desired: DesiredState,
    current: Vec<SinkRecord>,
    mode: ReadMode,
    settle: Vec<Settle<'a>>,
}

/// What to do with a group's cursor after the run.
enum Settle<'a> {
    /// An incremental read: save the cursor it ended at if the run is clean; otherwise keep the old one, so the
    /// same changes are seen again.
    Save { group: &'a ConnectionGroup, full_at: chrono::DateTime<chrono::Utc>, cursor: SourceCursor },
    /// A full read: save its cursor if the run is clean (or forget the old one if the snapshot has none);
    /// otherwise forget the old one, so the next run reads in full again.
    FullRead { group: &'a ConnectionGroup, full_at: chrono::DateTime<chrono::Utc>, cursor: Option<SourceCursor> },
}

impl Engine {
    /// The input of an incremental run. When nothing changed, the sink is not even read: the plan is empty.
    async fn incremental_input<'a>(
        &self,
        organisation: &OrganisationId,
        changes: Vec<GroupChanges<'a>>,
    ) -> Result<Input<'a>, ReadError> {
        let unchanged = changes.iter().all(|c| c.upserts.is_empty() && c.removed.is_empty());
        let (desired, current) = if unchanged {
            let desired = DesiredState { people: Vec::new(), scope_counts: incremental::scope_counts(&changes) };
            (desired, Vec::new())
        } else {
            let current = self.sink.current(organisation).await?;
            (incremental::desired(&changes, &current, &self.precedence), current)
        };
        let settle = changes
            .into_iter()
            .map(|c| Settle::Save { group: c.group, full_at: c.full_at, cursor: c.cursor })
            .collect();
        Ok(Input { desired, current, mode: ReadMode::Incremental, settle })
    }
}

/// Releases an organisation's lock when a run is dropped before it could release it itself.
struct LockGuard {
    state: Arc<dyn StateStore>,
    organisation: OrganisationId,
    owner: String,
    armed: bool,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (state, organisation, owner) = (self.state.clone(), self.organisation.clone(), self.owner.clone());
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if let Err(e) = state.unlock(&organisation, &owner).await {
                        tracing::warn!(organisation = %organisation, error = %e, "could not release the lock of a cancelled run");
                    }
                });
            }
            Err(_) => {
                tracing::warn!(organisation = %organisation, "a cancelled run's lock is left to expire (no runtime)")
            }
        }
    }
}

fn merge(a: Option<&Allowance>, b: Option<&Allowance>) -> Option<Allowance> {
    match (a, b) {
        (None, None) => None,
        (Some(x), None) | (None, Some(x)) => Some(x.clone()),
        (Some(x), Some(y)) => Some(Allowance {
            suspensions: x.suspensions.max(y.suspensions),
            empty_scopes: x.empty_scopes || y.empty_scopes,
        }),
    }
}
