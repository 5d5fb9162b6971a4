//! The Secure Schools platform as a sink (the contract in docs/secure-schools-api.md).

use async_trait::async_trait;
use futures::TryStreamExt;
use secure_schools_client::{
    BatchItemError, BatchOperation, Error, NewUser, SecureSchoolsClient, User, UserPatch, UserRole, UserStatus,
    UsersQuery,
};
use sync_engine::model::{OrganisationId, RecordStatus, Role, SinkRecord};
use sync_engine::sink::{Fields, OpOutcome, Operation, RosterSink, SinkError};

/// The users of Secure Schools organisations.
#[derive(Debug, Clone)]
pub struct SecureSchoolsSink {
    client: SecureSchoolsClient,
    batch_size: usize,
}

impl SecureSchoolsSink {
    /// A sink writing through `client`, in batches of 100 (the contract's maximum).
    pub fn new(client: SecureSchoolsClient) -> SecureSchoolsSink {
        SecureSchoolsSink { client, batch_size: secure_schools_client::MAX_BATCH_OPERATIONS }
    }

    /// Smaller batches (1 to 100).
    pub fn with_batch_size(mut self, size: usize) -> SecureSchoolsSink {
        self.batch_size = size.clamp(1, secure_schools_client::MAX_BATCH_OPERATIONS);
        self
    }

    /// The client.
    pub fn client(&self) -> &SecureSchoolsClient {
        &self.client
    }
}

fn role_to_sink(role: &Role) -> UserRole {
    match role {
        Role::Admin => UserRole::Admin,
        Role::Staff => UserRole::Staff,
        Role::Governor => UserRole::Governor,
        Role::Student => UserRole::Student,
        Role::Other(s) => UserRole::from(s.as_str()),
    }
}

fn role_from_sink(role: &UserRole) -> Role {
    Role::parse(role.as_str())
}

/// A Secure Schools user as a sink record.
pub fn record(user: &User) -> SinkRecord {
    SinkRecord {
        id: user.id.clone(),
        external_id: user.external_id.clone(),
        email: user.email.clone(),
        given_name: user.first_name.clone(),
        family_name: user.last_name.clone(),
        role: role_from_sink(&user.role),
        status: if user.status == UserStatus::Suspended { RecordStatus::Suspended } else { RecordStatus::Active },
        managed: user.managed_by_sync,
    }
}

fn patch(fields: &Fields) -> UserPatch {
    let mut p = UserPatch::new();
    if let Some(v) = &fields.email {
        p = p.email(v.clone());
    }
    if let Some(v) = &fields.given_name {
        p = p.first_name(v.clone());
    }
    if let Some(v) = &fields.family_name {
        p = p.last_name(v.clone());
    }
    if let Some(v) = &fields.role {
        p = p.role(role_to_sink(v));
    }
    p
}

fn to_batch(op: &Operation) -> BatchOperation {
    match op {
        Operation::Create { external_id, fields } => BatchOperation::create(
            external_id.clone(),
            NewUser::new(
                fields.email.clone().unwrap_or_default(),
                fields.given_name.clone().unwrap_or_default(),
                fields.family_name.clone().unwrap_or_default(),
                fields.role.as_ref().map(role_to_sink).unwrap_or(UserRole::Student),
            )
            .managed_by_sync(true),
        ),
        Operation::Update { record_id, external_id, fields, adopt } => {
            let mut p = patch(fields);
            if *adopt {
                // Adoption: the user becomes the sync's, under this identity.
                p = p.external_id(Some(external_id.clone())).managed_by_sync(true);
            }
            BatchOperation::update(record_id.clone(), external_id.clone(), p)
        }
        Operation::Suspend { record_id, external_id } => {
            BatchOperation::suspend(record_id.clone(), external_id.clone())
        }
        Operation::Reactivate { record_id, external_id } => {
            BatchOperation::reactivate(record_id.clone(), external_id.clone())
        }
    }
}

fn item_code(error: &BatchItemError) -> &str {
    match error {
        BatchItemError::Conflict { .. } => "conflict",
        BatchItemError::Validation { .. } => "validation_failed",
        BatchItemError::Other { code, .. } if !code.is_empty() => code,
        _ => "failed",
    }
}

fn sink_error(error: Error, organisation: &OrganisationId) -> SinkError {
    if error.is_unauthorized() || error.is_forbidden() {
        SinkError::Access(error.to_string())
    } else if error.is_not_found() {
        SinkError::OrganisationNotFound(organisation.clone())
    } else if error.is_transient() {
        SinkError::Unavailable(error.to_string())
    } else {
        SinkError::Other(error.to_string())
    }
}

#[async_trait]
impl RosterSink for SecureSchoolsSink {
    async fn current(&self, organisation: &OrganisationId) -> Result<Vec<SinkRecord>, SinkError> {
        let query = UsersQuery::new().limit(secure_schools_client::MAX_PAGE_LIMIT);
        self.client
            .users(organisation.as_str(), query)
            .map_ok(|u| record(&u))
            .try_collect()
            .await
            .map_err(|e| sink_error(e, organisation))
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    async fn apply(
        &self,
        organisation: &OrganisationId,
        operations: &[Operation],
    ) -> Result<Vec<OpOutcome>, SinkError> {
        let batch: Vec<BatchOperation> = operations.iter().map(to_batch).collect();
        let report = self.client.batch(organisation.as_str(), &batch).await.map_err(|e| sink_error(e, organisation))?;
        Ok((0..operations.len())
            .map(|i| match report.outcome(i) {
                Some(Ok(user)) => OpOutcome::Applied(user.map(record)),
                Some(Err(e)) => OpOutcome::Failed { code: item_code(&e).to_owned(), message: e.to_string() },
                None => OpOutcome::Failed {
                    code: "no_result".into(),
                    message: "the platform returned no result for this operation".into(),
                },
            })
            .collect())
    }
}
