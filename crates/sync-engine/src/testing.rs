//! In-memory connectors (feature `testing`): a source whose people tests set, and a sink that behaves like the
//! Secure Schools contract (creates matched by `external_id`, unique emails, per-record validation) and can be
//! told to fail.

use crate::model::{
    ConnectionId, OrganisationId, RecordStatus, Role, ScopeId, ScopeSelection, SinkRecord, SourcePerson,
};
use crate::sink::{OpOutcome, Operation, RosterSink, SinkError};
use crate::source::{IdentitySource, SourceError, SourceSnapshot};
use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A source holding people per scope.
#[derive(Debug)]
pub struct MemorySource {
    connection: ConnectionId,
    /// scope → members (source id → person; the person's `scopes` field is filled in on snapshot).
    scopes: Mutex<BTreeMap<ScopeId, BTreeMap<String, SourcePerson>>>,
    fail: Mutex<Option<String>>,
}

impl MemorySource {
    /// An empty source for a connection.
    pub fn new(connection: impl Into<ConnectionId>) -> MemorySource {
        MemorySource { connection: connection.into(), scopes: Mutex::default(), fail: Mutex::default() }
    }

    /// Puts a person into a scope (creating the scope).
    pub fn add(&self, scope: &str, person: SourcePerson) {
        if let Ok(mut s) = self.scopes.lock() {
            s.entry(ScopeId::new(scope)).or_default().insert(person.source_id.clone(), person);
        }
    }

    /// Makes a scope exist, possibly empty.
    pub fn add_scope(&self, scope: &str) {
        if let Ok(mut s) = self.scopes.lock() {
            s.entry(ScopeId::new(scope)).or_default();
        }
    }

    /// Removes a person from a scope.
    pub fn remove(&self, scope: &str, source_id: &str) {
        if let Ok(mut s) = self.scopes.lock()
            && let Some(members) = s.get_mut(&ScopeId::new(scope))
        {
            members.remove(source_id);
        }
    }

    /// Empties a scope (a source fault, as far as the engine can tell).
    pub fn clear_scope(&self, scope: &str) {
        if let Ok(mut s) = self.scopes.lock()
            && let Some(members) = s.get_mut(&ScopeId::new(scope))
        {
            members.clear();
        }
    }

    /// Changes a person everywhere they appear.
    pub fn update(&self, source_id: &str, change: impl Fn(&mut SourcePerson)) {
        if let Ok(mut s) = self.scopes.lock() {
            for members in s.values_mut() {
                if let Some(p) = members.get_mut(source_id) {
                    change(p);
                }
            }
        }
    }

    /// Makes every snapshot fail with this message (or succeed again with `None`).
    pub fn fail_with(&self, message: Option<&str>) {
        if let Ok(mut f) = self.fail.lock() {
            *f = message.map(str::to_owned);
        }
    }
}

/// A person for tests: `given family` with `email`, enabled.
pub fn person(source_id: &str, given: &str, family: &str, email: &str) -> SourcePerson {
    SourcePerson {
        source_id: source_id.to_owned(),
        given_name: given.to_owned(),
        family_name: family.to_owned(),
        email: Some(email.to_owned()),
        username: Some(email.to_owned()),
        enabled: true,
        scopes: Vec::new(),
    }
}

#[async_trait]
impl IdentitySource for MemorySource {
    fn connection(&self) -> &ConnectionId {
        &self.connection
    }

    async fn snapshot(&self, selections: &[ScopeSelection]) -> Result<SourceSnapshot, SourceError> {
        if let Some(message) = self.fail.lock().ok().and_then(|f| f.clone()) {
            return Err(SourceError::Unavailable(message));
        }
        let scopes = self.scopes.lock().map_err(|_| SourceError::Other("lock poisoned".into()))?;
        let mut people: BTreeMap<String, SourcePerson> = BTreeMap::new();
        let mut counts = BTreeMap::new();
        for selection in selections {
            let members =
                scopes.get(&selection.scope).ok_or_else(|| SourceError::ScopeNotFound(selection.scope.clone()))?;
            counts.insert(selection.scope.clone(), members.len());
            for (id, p) in members {
                let entry =
                    people.entry(id.clone()).or_insert_with(|| SourcePerson { scopes: Vec::new(), ..p.clone() });
                entry.scopes.push(selection.scope.clone());
            }
        }
        Ok(SourceSnapshot { people: people.into_values().collect(), scope_counts: counts, cursor: None })
    }
}

#[derive(Debug, Default)]
struct SinkState {
    records: BTreeMap<OrganisationId, BTreeMap<String, SinkRecord>>,
    next_id: u64,
}

/// A sink in memory, behaving like the Secure Schools contract.
#[derive(Debug)]
pub struct MemorySink {
    state: Mutex<SinkState>,
    batch_size: usize,
    /// Batches accepted before the sink "dies" (every later batch fails), if set.
    die_after: Mutex<Option<usize>>,
    batches: AtomicUsize,
    /// Emails whose operations fail validation.
    reject: Mutex<BTreeSet<String>>,
}

impl Default for MemorySink {
    fn default() -> Self {
        MemorySink::new(100)
    }
}

impl MemorySink {
    /// An empty sink taking batches of `batch_size`.
    pub fn new(batch_size: usize) -> MemorySink {
        MemorySink {
            state: Mutex::default(),
            batch_size,
            die_after: Mutex::default(),
            batches: AtomicUsize::new(0),
            reject: Mutex::default(),
        }
    }

    /// Adds a record as if someone had created it in the platform (unmanaged unless `managed`).
    pub fn insert(&self, organisation: &str, record: SinkRecord) {
        if let Ok(mut s) = self.state.lock() {
            s.records.entry(OrganisationId::new(organisation)).or_default().insert(record.id.clone(), record);
        }
    }

    /// The records of an organisation, sorted by id.
    pub fn records(&self, organisation: &str) -> Vec<SinkRecord> {
        self.state
            .lock()
            .map(|s| {
                s.records
                    .get(&OrganisationId::new(organisation))
                    .map(|m| m.values().cloned().collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    /// After `n` more batches, every batch fails (a process killed mid-run, as the engine sees it).
    pub fn die_after(&self, n: Option<usize>) {
        self.batches.store(0, Ordering::SeqCst);
        if let Ok(mut d) = self.die_after.lock() {
            *d = n;
        }
    }

    /// Operations on records with this email fail validation.
    pub fn reject_email(&self, email: &str) {
        if let Ok(mut r) = self.reject.lock() {
            r.insert(email.to_lowercase());
        }
    }

    /// Batches received since the last `die_after`.
    pub fn batches(&self) -> usize {
        self.batches.load(Ordering::SeqCst)
    }
}

fn failed(code: &str, message: impl Into<String>) -> OpOutcome {
    OpOutcome::Failed { code: code.to_owned(), message: message.into() }
}

#[async_trait]
impl RosterSink for MemorySink {
    async fn current(&self, organisation: &OrganisationId) -> Result<Vec<SinkRecord>, SinkError> {
        let s = self.state.lock().map_err(|_| SinkError::Other("lock poisoned".into()))?;
        Ok(s.records.get(organisation).map(|m| m.values().cloned().collect()).unwrap_or_default())
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    async fn apply(
        &self,
        organisation: &OrganisationId,
        operations: &[Operation],
    ) -> Result<Vec<OpOutcome>, SinkError> {
        // A real sink waits for the network here; yielding lets tests cancel a run between batches.
        tokio::task::yield_now().await;
        let n = self.batches.fetch_add(1, Ordering::SeqCst);
        if self.die_after.lock().ok().and_then(|d| *d).is_some_and(|limit| n >= limit) {
            return Err(SinkError::Unavailable("the sink is gone (simulated)".into()));
        }
        let reject = self.reject.lock().map(|r| r.clone()).unwrap_or_default();
        let mut guard = self.state.lock().map_err(|_| SinkError::Other("lock poisoned".into()))?;
        let state = &mut *guard;
        let mut out = Vec::with_capacity(operations.len());
        for op in operations {
            let next_id = state.next_id;
            let records = state.records.entry(organisation.clone()).or_default();
            let outcome = match op {
                Operation::Create { external_id, fields } => {
                    let email = fields.email.clone().unwrap_or_default();
                    if reject.contains(&email.to_lowercase()) || !email.contains('@') {
                        failed("validation_failed", format!("email `{email}` is not valid"))
                    } else if records.values().any(|r| r.external_id.as_deref() == Some(external_id.as_str())) {
                        failed("conflict", format!("a user with external_id {external_id} already exists"))
                    } else if records.values().any(|r| r.email.eq_ignore_ascii_case(&email)) {
                        failed("conflict", format!("a user with email {email} already exists"))
                    } else {
                        let record = SinkRecord {
                            id: format!("u{next_id}"),
                            external_id: Some(external_id.clone()),
                            email,
                            given_name: fields.given_name.clone().unwrap_or_default(),
                            family_name: fields.family_name.clone().unwrap_or_default(),
                            role: fields.role.clone().unwrap_or(Role::Student),
                            status: RecordStatus::Active,
                            managed: true,
                        };
                        state.next_id += 1;
                        records.insert(record.id.clone(), record.clone());
                        OpOutcome::Applied(Some(record))
                    }
                }
                Operation::Update { record_id, external_id, fields, adopt } => {
                    let email_taken = fields.email.as_ref().is_some_and(|e| {
                        records.values().any(|r| &r.id != record_id && r.email.eq_ignore_ascii_case(e))
                    });
                    match records.get_mut(record_id) {
                        None => failed("not_found", format!("no user {record_id}")),
                        Some(r) if reject.contains(&r.email.to_lowercase()) => failed("validation_failed", "rejected"),
                        Some(_) if email_taken => failed("conflict", "email already in use"),
                        Some(r) => {
                            if let Some(v) = &fields.email {
                                r.email = v.clone();
                            }
                            if let Some(v) = &fields.given_name {
                                r.given_name = v.clone();
                            }
                            if let Some(v) = &fields.family_name {
                                r.family_name = v.clone();
                            }
                            if let Some(v) = &fields.role {
                                r.role = v.clone();
                            }
                            if *adopt {
                                r.external_id = Some(external_id.clone());
                                r.managed = true;
                            }
                            OpOutcome::Applied(Some(r.clone()))
                        }
                    }
                }
                Operation::Suspend { record_id, .. } | Operation::Reactivate { record_id, .. } => {
                    match records.get_mut(record_id) {
                        None => failed("not_found", format!("no user {record_id}")),
                        Some(r) if reject.contains(&r.email.to_lowercase()) => failed("validation_failed", "rejected"),
                        Some(r) => {
                            r.status = crate::sink::status_after(op, r.status);
                            OpOutcome::Applied(Some(r.clone()))
                        }
                    }
                }
            };
            out.push(outcome);
        }
        Ok(out)
    }
}
