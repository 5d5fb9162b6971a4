//! Applying a plan: batches of the sink's size, a few at a time, one failed record never stopping the others.
//!
//! Cancellation-safe by construction: every operation is keyed by `external_id` and planned from the sink's
//! current state, so a run stopped at any point and started again plans only what is still missing — no
//! duplicate creates.

use crate::model::OrganisationId;
use crate::sink::{OpOutcome, Operation, RosterSink, SinkError};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

/// How a plan is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecutorOptions {
    /// Batches in flight at once (default 4).
    pub concurrency: usize,
}

impl Default for ExecutorOptions {
    fn default() -> Self {
        ExecutorOptions { concurrency: 4 }
    }
}

/// Progress of a run, for progress bars and logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// Applying starts.
    Started {
        /// The organisation.
        organisation: OrganisationId,
        /// Operations to apply.
        total: usize,
    },
    /// A batch finished.
    Batch {
        /// The organisation.
        organisation: OrganisationId,
        /// Operations done so far (applied or failed).
        done: usize,
        /// Operations in all.
        total: usize,
        /// Failed so far.
        failed: usize,
    },
}

/// Receives progress events.
pub trait Progress: Send + Sync {
    /// One event.
    fn event(&self, event: &ProgressEvent);
}

/// Ignores progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _event: &ProgressEvent) {}
}

/// One record that could not be changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordError {
    /// The record's `external_id`.
    pub external_id: String,
    /// `create`, `update`, `suspend`, `reactivate`.
    pub operation: String,
    /// A short code (`conflict`, `validation_failed`, `unavailable`…).
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// Counts of applied operations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpCounts {
    /// Created.
    pub created: usize,
    /// Updated (including adopted).
    pub updated: usize,
    /// Suspended.
    pub suspended: usize,
    /// Reactivated.
    pub reactivated: usize,
}

impl OpCounts {
    fn add(&mut self, op: &Operation) {
        match op {
            Operation::Create { .. } => self.created += 1,
            Operation::Update { .. } => self.updated += 1,
            Operation::Suspend { .. } => self.suspended += 1,
            Operation::Reactivate { .. } => self.reactivated += 1,
        }
    }

    /// Adds another count.
    pub fn add_all(&mut self, other: &OpCounts) {
        self.created += other.created;
        self.updated += other.updated;
        self.suspended += other.suspended;
        self.reactivated += other.reactivated;
    }

    /// All operations counted.
    pub fn total(&self) -> usize {
        self.created + self.updated + self.suspended + self.reactivated
    }
}

/// What applying did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyOutcome {
    /// What was applied.
    pub applied: OpCounts,
    /// What failed, record by record.
    pub errors: Vec<RecordError>,
}

fn batch_error_code(error: &SinkError) -> &'static str {
    match error {
        SinkError::Access(_) => "access",
        SinkError::OrganisationNotFound(_) => "organisation_not_found",
        SinkError::Unavailable(_) => "unavailable",
        _ => "sink_error",
    }
}

/// Applies operations to a sink in batches of its size, `concurrency` batches at a time.
pub async fn execute(
    sink: &dyn RosterSink,
    organisation: &OrganisationId,
    operations: &[Operation],
    options: &ExecutorOptions,
    progress: &dyn Progress,
) -> ApplyOutcome {
    let total = operations.len();
    progress.event(&ProgressEvent::Started { organisation: organisation.clone(), total });
    let size = sink.batch_size().max(1);
    let mut outcome = ApplyOutcome::default();
    let mut done = 0usize;
    let mut batches = futures::stream::iter(operations.chunks(size))
        .map(|batch| async move { (batch, sink.apply(organisation, batch).await) })
        .buffer_unordered(options.concurrency.max(1));
    while let Some((batch, result)) = batches.next().await {
        match result {
            Ok(results) => {
                for (i, op) in batch.iter().enumerate() {
                    match results.get(i) {
                        Some(OpOutcome::Applied(_)) => outcome.applied.add(op),
                        Some(OpOutcome::Failed { code, message }) => outcome.errors.push(RecordError {
                            external_id: op.external_id().to_owned(),
                            operation: op.name().to_owned(),
                            code: code.clone(),
                            message: message.clone(),
                        }),
                        None => outcome.errors.push(RecordError {
                            external_id: op.external_id().to_owned(),
                            operation: op.name().to_owned(),
                            code: "no_result".into(),
                            message: "the sink returned no result for this operation".into(),
                        }),
                    }
                }
            }
            Err(error) => {
                tracing::warn!(organisation = %organisation, error = %error, size = batch.len(), "a batch failed");
                let code = batch_error_code(&error);
                for op in batch {
                    outcome.errors.push(RecordError {
                        external_id: op.external_id().to_owned(),
                        operation: op.name().to_owned(),
                        code: code.into(),
                        message: error.to_string(),
                    });
                }
            }
        }
        done += batch.len();
        progress.event(&ProgressEvent::Batch {
            organisation: organisation.clone(),
            done,
            total,
            failed: outcome.errors.len(),
        });
    }
    outcome.errors.sort_by(|a, b| a.external_id.cmp(&b.external_id).then_with(|| a.operation.cmp(&b.operation)));
    outcome
}
