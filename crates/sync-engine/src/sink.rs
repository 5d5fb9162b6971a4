//! Where people go.

use crate::model::{OrganisationId, RecordStatus, Role, SinkRecord};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// The fields the sync writes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Fields {
    /// Email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

impl Fields {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.given_name.is_none() && self.family_name.is_none() && self.role.is_none()
    }
}

/// One change to apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// Create a managed record.
    Create {
        /// `<connection>:<source id>`.
        external_id: String,
        /// All fields.
        fields: Fields,
    },
    /// Change fields of a record; with `adopt`, also mark it managed and set its `external_id`.
    Update {
        /// The sink's id.
        record_id: String,
        /// `<connection>:<source id>`.
        external_id: String,
        /// Only the fields that change.
        fields: Fields,
        /// Take over an existing record that matched by email.
        adopt: bool,
    },
    /// Suspend a record.
    Suspend {
        /// The sink's id.
        record_id: String,
        /// `<connection>:<source id>`.
        external_id: String,
    },
    /// Reactivate a suspended record.
    Reactivate {
        /// The sink's id.
        record_id: String,
        /// `<connection>:<source id>`.
        external_id: String,
    },
}

impl Operation {
    /// The `external_id` the operation is about.
    pub fn external_id(&self) -> &str {
        match self {
            Operation::Create { external_id, .. }
            | Operation::Update { external_id, .. }
            | Operation::Suspend { external_id, .. }
            | Operation::Reactivate { external_id, .. } => external_id,
        }
    }

    /// `create`, `update`, `suspend` or `reactivate`.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Create { .. } => "create",
            Operation::Update { .. } => "update",
            Operation::Suspend { .. } => "suspend",
            Operation::Reactivate { .. } => "reactivate",
        }
    }
}

/// What became of one operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpOutcome {
    /// Done; the record as it now is, when the sink says.
    Applied(Option<SinkRecord>),
    /// Refused for this record only.
    Failed {
        /// A short machine code (`conflict`, `validation_failed`…).
        code: String,
        /// What the sink said.
        message: String,
    },
}

/// Why a whole batch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The sink refused the credentials or lacks permission.
    #[error("the sink refused access: {0}")]
    Access(String),
    /// The organisation does not exist in the sink.
    #[error("organisation `{0}` was not found in the sink")]
    OrganisationNotFound(OrganisationId),
    /// The sink is unavailable (throttling, outage) after the client's retries.
    #[error("the sink is unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// A sink of records: a platform's users of one organisation.
#[async_trait]
pub trait RosterSink: Send + Sync {
    /// Every record of the organisation: managed or not, active or suspended.
    async fn current(&self, organisation: &OrganisationId) -> Result<Vec<SinkRecord>, SinkError>;

    /// Applies a batch (at most [`batch_size`](Self::batch_size) operations) and returns one outcome per operation,
    /// in order. A failure of one record must not fail the others. Applying the same batch again must not
    /// duplicate anything (creates are matched by `external_id`).
    async fn apply(&self, organisation: &OrganisationId, operations: &[Operation])
    -> Result<Vec<OpOutcome>, SinkError>;

    /// The largest batch [`apply`](Self::apply) takes. Default 100.
    fn batch_size(&self) -> usize {
        100
    }
}

/// The status a record has after an operation, for in-memory sinks and tests.
pub fn status_after(op: &Operation, before: RecordStatus) -> RecordStatus {
    match op {
        Operation::Suspend { .. } => RecordStatus::Suspended,
        Operation::Reactivate { .. } | Operation::Create { .. } => RecordStatus::Active,
        Operation::Update { .. } => before,
    }
}
