//! Run reports and held runs.

use crate::executor::{OpCounts, RecordError};
use crate::model::OrganisationId;
use crate::plan::Plan;
use crate::safety::{Allowance, HoldReason};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Everything planned was applied.
    Succeeded,
    /// Applied, but some records failed (see `errors`).
    PartiallyFailed,
    /// Held by the safety policy: nothing applied.
    Held,
    /// Planned only (`--dry-run`).
    DryRun,
    /// Could not run (a source or the sink failed before anything was applied).
    Failed,
}

/// How a run read its sources.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadMode {
    /// A full snapshot of every selected scope (the first run, a periodic reconciliation, or when the change feed
    /// could not be used).
    #[default]
    Full,
    /// Only what changed since the last run (e.g. Graph delta).
    Incremental,
}

impl ReadMode {
    /// `full` or `incremental`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadMode::Full => "full",
            ReadMode::Incremental => "incremental",
        }
    }
}

/// Planned changes, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedCounts {
    /// How the sources were read.
    #[serde(default)]
    pub read: ReadMode,
    /// Creates.
    pub creates: usize,
    /// Updates, including adoptions.
    pub updates: usize,
    /// Suspensions.
    pub suspensions: usize,
    /// Reactivations.
    pub reactivations: usize,
    /// People left out.
    pub skipped: usize,
    /// People already right.
    pub unchanged: usize,
}

impl PlannedCounts {
    /// The counts of a plan.
    pub fn of(plan: &Plan) -> PlannedCounts {
        PlannedCounts {
            read: ReadMode::Full,
            creates: plan.creates.len(),
            updates: plan.updates.len(),
            suspensions: plan.suspensions.len(),
            reactivations: plan.reactivations.len(),
            skipped: plan.skipped.len(),
            unchanged: plan.unchanged,
        }
    }
}

/// The record of one run of one organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// Unique id.
    pub id: String,
    /// The organisation.
    pub organisation: OrganisationId,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// How it ended.
    pub status: RunStatus,
    /// What was planned.
    pub planned: PlannedCounts,
    /// What was applied.
    pub applied: OpCounts,
    /// Records that failed.
    pub errors: Vec<RecordError>,
    /// Why it was held, if it was.
    pub hold_reasons: Vec<HoldReason>,
    /// The held run to approve, if it was held.
    pub held_run: Option<String>,
    /// Why it failed, if it did.
    pub failure: Option<String>,
}

/// A run the safety policy held, waiting for approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRun {
    /// Id to approve it by.
    pub id: String,
    /// The organisation.
    pub organisation: OrganisationId,
    /// When it was held.
    pub held_at: DateTime<Utc>,
    /// Why.
    pub reasons: Vec<HoldReason>,
    /// The plan it would have applied.
    pub plan: Plan,
}

impl HeldRun {
    /// What approving it allows the next run to do.
    pub fn allowance(&self) -> Allowance {
        let mut allowance = Allowance::default();
        for reason in &self.reasons {
            match reason {
                HoldReason::TooManySuspensions { planned, .. } => allowance.suspensions = Some(*planned),
                HoldReason::EmptyScopes { .. } => allowance.empty_scopes = true,
            }
        }
        allowance
    }
}
