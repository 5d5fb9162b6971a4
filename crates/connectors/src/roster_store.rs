//! The OneRoster tables of a [`roster_store::Store`] as a sink: the users of one org of the SDS IMS feed.
//!
//! How engine records map to OneRoster users:
//!
//! * **Organisation** = an org's `sourcedId`. A user belongs to it when the org is in the user's `orgs`. The org
//!   must be stored before anything is applied to it (the `sds-ims-feed sync` command writes the configured orgs
//!   first); until then it has no users.
//! * **Identity**: a created user's `sourcedId` and `identifier` are the person's source id (a Graph object id, a
//!   Wonde `upi`); the engine's `external_id` (`<connection>:<source id>`) is kept in the user's `metadata` under
//!   [`EXTERNAL_ID_KEY`]. A user that has it is *managed*; users imported from CSV are not, and the engine only
//!   adopts them (by email) or leaves them alone.
//! * **Fields**: `givenName`, `familyName`, `email`, `role`. `username` is set to the email on create, and follows
//!   the email when it changes as long as it was equal to it (a username imported from CSV is left alone): the
//!   engine carries no separate sign-in name. `enabledUser` is `true` while the user is active.
//! * **Roles**: OneRoster's `student`, `teacher`, `administrator` map to the engine's student, staff, admin; any
//!   other OneRoster role (`aide`, `proctor`, …) is carried as [`Role::Other`] with its OneRoster name. Run the
//!   engine with [`PlanOptions::roles_follow_source`](sync_engine::plan::PlanOptions) so that every role follows
//!   the source.
//! * **Suspend** (the person left every selected group of this org, or their account is disabled at the source):
//!   if the user still belongs to other orgs, this org is taken out of `orgs`; otherwise the user becomes
//!   `status = tobedeleted` with `enabledUser = false`. `tobedeleted` is what OneRoster 1.1 defines for a record
//!   that has gone ("safe to delete") and the only one of the two that School Data Sync acts on: SDS reads
//!   `/users?filter=status='active'`, so the user drops out of its next full sync, and its delta sync
//!   (`dateLastModified>…`) sees the change. `enabledUser = false` alone would leave the user, with their classes,
//!   in SDS. **Reactivate** makes the user `active` and enabled again, in this org.
//! * **Writes** go through [`Store::import_changes`]: one delta import per batch, of only the users that really
//!   change, so `dateLastModified` moves only on a real change, a run that changes nothing writes nothing (no new
//!   roster version for feed servers to reload), and a batch is all-or-nothing.

use async_trait::async_trait;
use oneroster_model::validate::is_plausible_email;
use oneroster_model::{Base, GuidRef, GuidType, Org, RoleType, Status, User};
use roster_store::Store;
use std::collections::{BTreeMap, HashMap};
use sync_engine::model::{OrganisationId, PersonKey, RecordStatus, Role, SinkRecord};
use sync_engine::sink::{Fields, OpOutcome, Operation, RosterSink, SinkError};

/// The `metadata` key under which a managed user keeps the engine's `external_id`.
pub const EXTERNAL_ID_KEY: &str = "rosterbridge.externalId";

/// The engine's role for a OneRoster role.
pub fn engine_role(role: &RoleType) -> Role {
    match role {
        RoleType::Student => Role::Student,
        RoleType::Teacher => Role::Staff,
        RoleType::Administrator => Role::Admin,
        other => Role::Other(other.as_str().to_owned()),
    }
}

/// The OneRoster role for an engine role, or `None` for one OneRoster has no word for (`governor`).
pub fn oneroster_role(role: &Role) -> Option<RoleType> {
    match role {
        Role::Student => Some(RoleType::Student),
        Role::Staff => Some(RoleType::Teacher),
        Role::Admin => Some(RoleType::Administrator),
        Role::Governor => None,
        Role::Other(name) => Some(RoleType::parse(name)).filter(RoleType::is_allowed),
    }
}

/// The users of a roster store's orgs, as an engine sink. See the module docs.
#[derive(Clone)]
pub struct RosterStoreSink {
    store: Store,
    batch_size: usize,
    clock: std::sync::Arc<dyn sync_engine::Clock>,
}

impl std::fmt::Debug for RosterStoreSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RosterStoreSink").field("store", &self.store).field("batch_size", &self.batch_size).finish()
    }
}

impl RosterStoreSink {
    /// A sink writing to `store`, 500 operations a batch, stamping changes with the system clock.
    pub fn new(store: Store) -> RosterStoreSink {
        RosterStoreSink { store, batch_size: 500, clock: std::sync::Arc::new(sync_engine::SystemClock) }
    }

    /// Operations per batch (each batch is one import).
    pub fn with_batch_size(mut self, n: usize) -> RosterStoreSink {
        self.batch_size = n.max(1);
        self
    }

    /// The clock whose time becomes `dateLastModified` of what changes.
    pub fn with_clock(mut self, clock: std::sync::Arc<dyn sync_engine::Clock>) -> RosterStoreSink {
        self.clock = clock;
        self
    }

    async fn org_exists(&self, organisation: &OrganisationId) -> Result<(), SinkError> {
        let orgs: Vec<Org> = self.store.records(&[organisation.as_str()]).await.map_err(store_error)?;
        if orgs.is_empty() { Err(SinkError::OrganisationNotFound(organisation.clone())) } else { Ok(()) }
    }
}

fn store_error(e: roster_store::StoreError) -> SinkError {
    SinkError::Unavailable(format!("the roster store: {e}"))
}

/// The engine's `external_id` of a user, if the sync manages it.
pub fn external_id(user: &User) -> Option<&str> {
    user.base.metadata.get(EXTERNAL_ID_KEY).and_then(|v| v.as_str())
}

fn in_org(user: &User, organisation: &OrganisationId) -> bool {
    user.orgs.iter().any(|o| o.sourced_id == organisation.as_str())
}

/// A user as the engine sees it.
pub fn sink_record(user: &User) -> SinkRecord {
    let external = external_id(user).map(str::to_owned);
    SinkRecord {
        id: user.base.sourced_id.clone(),
        managed: external.is_some(),
        external_id: external,
        email: user.email.clone().unwrap_or_default(),
        given_name: user.given_name.clone(),
        family_name: user.family_name.clone(),
        role: engine_role(&user.role),
        status: if user.base.status == Status::ToBeDeleted || !user.enabled_user {
            RecordStatus::Suspended
        } else {
            RecordStatus::Active
        },
    }
}

fn failed(code: &str, message: impl Into<String>) -> OpOutcome {
    OpOutcome::Failed { code: code.to_owned(), message: message.into() }
}

/// Applies `fields` to `user`; an error message if a value cannot be stored.
fn apply_fields(user: &mut User, fields: &Fields) -> Result<(), String> {
    if let Some(email) = &fields.email {
        let email = email.trim();
        if !is_plausible_email(email) {
            return Err(format!("`{email}` is not a valid email address"));
        }
        let old = user.email.as_deref().unwrap_or_default();
        if user.username.is_empty() || user.username.eq_ignore_ascii_case(old) {
            user.username = email.to_owned();
        }
        user.email = Some(email.to_owned());
    }
    if let Some(given) = &fields.given_name {
        user.given_name = given.clone();
    }
    if let Some(family) = &fields.family_name {
        user.family_name = family.clone();
    }
    if let Some(role) = &fields.role {
        user.role = oneroster_role(role).ok_or_else(|| format!("role `{role}` has no OneRoster equivalent"))?;
    }
    Ok(())
}

fn join_org(user: &mut User, organisation: &OrganisationId) {
    if !in_org(user, organisation) {
        user.orgs.push(GuidRef::new(GuidType::Org, organisation.as_str()));
    }
}

fn activate(user: &mut User, organisation: &OrganisationId) {
    user.base.status = Status::Active;
    user.enabled_user = true;
    join_org(user, organisation);
}

/// A new user for a create.
fn new_user(
    source_id: &str,
    external_id: &str,
    organisation: &OrganisationId,
    fields: &Fields,
) -> Result<User, String> {
    let mut base = Base::new(source_id);
    base.metadata.insert(EXTERNAL_ID_KEY.to_owned(), serde_json::Value::String(external_id.to_owned()));
    let mut user = User {
        base,
        username: String::new(),
        user_ids: Vec::new(),
        enabled_user: true,
        given_name: String::new(),
        family_name: String::new(),
        middle_name: None,
        role: RoleType::Student,
        identifier: Some(source_id.to_owned()),
        email: None,
        sms: None,
        phone: None,
        agents: Vec::new(),
        orgs: vec![GuidRef::new(GuidType::Org, organisation.as_str())],
        grades: Vec::new(),
        password: None,
    };
    if fields.email.is_none() {
        return Err("a user needs an email".into());
    }
    apply_fields(&mut user, fields)?;
    Ok(user)
}

#[async_trait]
impl RosterSink for RosterStoreSink {
    /// The org's users. An org that is not stored (yet) has none: a dry run before the first sync plans to
    /// create everyone; applying to it is refused.
    async fn current(&self, organisation: &OrganisationId) -> Result<Vec<SinkRecord>, SinkError> {
        let users: Vec<User> = self.store.records_of_kind().await.map_err(store_error)?;
        Ok(users.iter().filter(|u| in_org(u, organisation)).map(sink_record).collect())
    }

    async fn apply(
        &self,
        organisation: &OrganisationId,
        operations: &[Operation],
    ) -> Result<Vec<OpOutcome>, SinkError> {
        self.org_exists(organisation).await?;
        // The users the batch touches, as stored.
        let ids: Vec<String> = operations
            .iter()
            .filter_map(|op| match op {
                Operation::Create { external_id, .. } => PersonKey::from_external_id(external_id).map(|k| k.source_id),
                Operation::Update { record_id, .. }
                | Operation::Suspend { record_id, .. }
                | Operation::Reactivate { record_id, .. } => Some(record_id.clone()),
            })
            .collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let stored: Vec<User> = self.store.records(&refs).await.map_err(store_error)?;
        let mut users: HashMap<String, User> = stored.into_iter().map(|u| (u.base.sourced_id.clone(), u)).collect();
        // What each touched user becomes, in the order first touched (later operations see earlier ones).
        let mut touched: BTreeMap<String, ()> = BTreeMap::new();
        let mut outcomes = Vec::with_capacity(operations.len());
        for op in operations {
            let outcome = match op {
                Operation::Create { external_id, fields } => {
                    match PersonKey::from_external_id(external_id) {
                        None => failed("validation_failed", format!("`{external_id}` is not <connection>:<id>")),
                        Some(key) => match users.get_mut(&key.source_id) {
                            Some(user) if external_id_matches(user, external_id) => {
                                // A create retried, or the person joining this org from another: one record.
                                let mut next = user.clone();
                                activate(&mut next, organisation);
                                match apply_fields(&mut next, fields) {
                                    Ok(()) => {
                                        *user = next;
                                        touched.insert(key.source_id.clone(), ());
                                        OpOutcome::Applied(Some(sink_record(user)))
                                    }
                                    Err(message) => failed("validation_failed", message),
                                }
                            }
                            Some(_) => failed(
                                "conflict",
                                format!(
                                    "a user with sourcedId `{}` exists and is not managed by `{}`",
                                    key.source_id, key.connection
                                ),
                            ),
                            None => match new_user(&key.source_id, external_id, organisation, fields) {
                                Ok(user) => {
                                    let record = sink_record(&user);
                                    users.insert(key.source_id.clone(), user);
                                    touched.insert(key.source_id.clone(), ());
                                    OpOutcome::Applied(Some(record))
                                }
                                Err(message) => failed("validation_failed", message),
                            },
                        },
                    }
                }
                Operation::Update { record_id, external_id, fields, adopt } => match users.get_mut(record_id) {
                    None => failed("not_found", format!("no user `{record_id}`")),
                    Some(user) => {
                        let mut next = user.clone();
                        if *adopt {
                            next.base
                                .metadata
                                .insert(EXTERNAL_ID_KEY.to_owned(), serde_json::Value::String(external_id.clone()));
                        }
                        match apply_fields(&mut next, fields) {
                            Ok(()) => {
                                *user = next;
                                touched.insert(record_id.clone(), ());
                                OpOutcome::Applied(Some(sink_record(user)))
                            }
                            Err(message) => failed("validation_failed", message),
                        }
                    }
                },
                Operation::Suspend { record_id, .. } => match users.get_mut(record_id) {
                    None => failed("not_found", format!("no user `{record_id}`")),
                    Some(user) => {
                        if user.orgs.iter().any(|o| o.sourced_id != organisation.as_str()) {
                            // Still in other schools: only this one lets them go.
                            user.orgs.retain(|o| o.sourced_id != organisation.as_str());
                        } else {
                            user.base.status = Status::ToBeDeleted;
                            user.enabled_user = false;
                        }
                        touched.insert(record_id.clone(), ());
                        OpOutcome::Applied(Some(sink_record(user)))
                    }
                },
                Operation::Reactivate { record_id, .. } => match users.get_mut(record_id) {
                    None => failed("not_found", format!("no user `{record_id}`")),
                    Some(user) => {
                        activate(user, organisation);
                        touched.insert(record_id.clone(), ());
                        OpOutcome::Applied(Some(sink_record(user)))
                    }
                },
            };
            outcomes.push(outcome);
        }
        let changed = oneroster_model::Roster {
            users: touched.keys().filter_map(|id| users.remove(id)).collect(),
            ..oneroster_model::Roster::default()
        };
        if !changed.users.is_empty() {
            self.store
                .import_changes(&changed, &format!("sync:{organisation}"), self.clock.now())
                .await
                .map_err(store_error)?;
        }
        Ok(outcomes)
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }
}

fn external_id_matches(user: &User, external: &str) -> bool {
    external_id(user) == Some(external)
}
