//! What the engine remembers between runs, behind a trait: roster-store implements it on SQLite and PostgreSQL;
//! [`MemoryState`] keeps it in memory.

use crate::model::{ConnectionId, OrganisationId};
use crate::report::{HeldRun, RunReport};
use crate::safety::Allowance;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The state store failed.
#[derive(Debug, thiserror::Error)]
#[error("sync state: {0}")]
pub struct StateError(pub String);

/// Sync state: scope counts for the empty-scope guard, runs, held runs and approvals, the per-organisation
/// single-flight lock, and where each connection group's change feed stands (cursors).
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Members per scope at the organisation's last applied run.
    async fn scope_counts(&self, organisation: &OrganisationId) -> Result<BTreeMap<String, usize>, StateError>;
    /// Replaces them.
    async fn save_scope_counts(
        &self,
        organisation: &OrganisationId,
        counts: &BTreeMap<String, usize>,
    ) -> Result<(), StateError>;
    /// Records a run.
    async fn save_run(&self, report: &RunReport) -> Result<(), StateError>;
    /// Records a held run.
    async fn save_held(&self, held: &HeldRun) -> Result<(), StateError>;
    /// Approves a held run: its organisation's next run may do what it would have done.
    async fn approve_held(&self, held_id: &str) -> Result<Option<HeldRun>, StateError>;
    /// Takes (and so consumes) the approval waiting for an organisation's next run.
    async fn take_allowance(&self, organisation: &OrganisationId) -> Result<Option<Allowance>, StateError>;
    /// Takes the organisation's lock for `owner` until `until`, unless someone else holds it; true if taken.
    async fn try_lock(
        &self,
        organisation: &OrganisationId,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StateError>;
    /// Releases the lock if `owner` holds it.
    async fn unlock(&self, organisation: &OrganisationId, owner: &str) -> Result<(), StateError>;

    /// The cursor saved under `key` for a connection (the engine keeps one per connection group). The default
    /// keeps no cursors, so every run reads full snapshots.
    async fn cursor(&self, _connection: &ConnectionId, _key: &str) -> Result<Option<String>, StateError> {
        Ok(None)
    }

    /// Saves a cursor, replacing the one before.
    async fn save_cursor(&self, _connection: &ConnectionId, _key: &str, _cursor: &str) -> Result<(), StateError> {
        Ok(())
    }

    /// Forgets a cursor.
    async fn delete_cursor(&self, _connection: &ConnectionId, _key: &str) -> Result<(), StateError> {
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Inner {
    counts: BTreeMap<OrganisationId, BTreeMap<String, usize>>,
    runs: Vec<RunReport>,
    held: BTreeMap<String, HeldRun>,
    allowances: BTreeMap<OrganisationId, Allowance>,
    locks: BTreeMap<OrganisationId, (String, DateTime<Utc>)>,
    cursors: BTreeMap<(ConnectionId, String), String>,
}

/// Sync state in memory (tests, dry runs).
#[derive(Debug, Default)]
pub struct MemoryState {
    inner: Mutex<Inner>,
    clock_now: Mutex<Option<DateTime<Utc>>>,
}

impl MemoryState {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, StateError> {
        self.inner.lock().map_err(|_| StateError("state lock poisoned".into()))
    }

    /// Every recorded run, oldest first.
    pub fn runs(&self) -> Vec<RunReport> {
        self.lock().map(|i| i.runs.clone()).unwrap_or_default()
    }

    /// Every held run.
    pub fn held_runs(&self) -> Vec<HeldRun> {
        self.lock().map(|i| i.held.values().cloned().collect()).unwrap_or_default()
    }

    /// Every saved cursor: (connection, key) → cursor.
    pub fn cursors(&self) -> BTreeMap<(ConnectionId, String), String> {
        self.lock().map(|i| i.cursors.clone()).unwrap_or_default()
    }

    /// Sets the time used to judge lock expiry (defaults to the system clock).
    pub fn set_now(&self, now: DateTime<Utc>) {
        if let Ok(mut n) = self.clock_now.lock() {
            *n = Some(now);
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock_now.lock().ok().and_then(|n| *n).unwrap_or_else(Utc::now)
    }
}

#[async_trait]
impl StateStore for MemoryState {
    async fn scope_counts(&self, organisation: &OrganisationId) -> Result<BTreeMap<String, usize>, StateError> {
        Ok(self.lock()?.counts.get(organisation).cloned().unwrap_or_default())
    }

    async fn save_scope_counts(
        &self,
        organisation: &OrganisationId,
        counts: &BTreeMap<String, usize>,
    ) -> Result<(), StateError> {
        self.lock()?.counts.insert(organisation.clone(), counts.clone());
        Ok(())
    }

    async fn save_run(&self, report: &RunReport) -> Result<(), StateError> {
        self.lock()?.runs.push(report.clone());
        Ok(())
    }

    async fn save_held(&self, held: &HeldRun) -> Result<(), StateError> {
        self.lock()?.held.insert(held.id.clone(), held.clone());
        Ok(())
    }

    async fn approve_held(&self, held_id: &str) -> Result<Option<HeldRun>, StateError> {
        let mut inner = self.lock()?;
        let Some(held) = inner.held.remove(held_id) else { return Ok(None) };
        inner.allowances.insert(held.organisation.clone(), held.allowance());
        Ok(Some(held))
    }

    async fn take_allowance(&self, organisation: &OrganisationId) -> Result<Option<Allowance>, StateError> {
        Ok(self.lock()?.allowances.remove(organisation))
    }

    async fn try_lock(
        &self,
        organisation: &OrganisationId,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StateError> {
        let now = self.now();
        let mut inner = self.lock()?;
        match inner.locks.get(organisation) {
            Some((holder, expires)) if holder != owner && *expires > now => Ok(false),
            _ => {
                inner.locks.insert(organisation.clone(), (owner.to_owned(), until));
                Ok(true)
            }
        }
    }

    async fn unlock(&self, organisation: &OrganisationId, owner: &str) -> Result<(), StateError> {
        let mut inner = self.lock()?;
        if inner.locks.get(organisation).is_some_and(|(holder, _)| holder == owner) {
            inner.locks.remove(organisation);
        }
        Ok(())
    }

    async fn cursor(&self, connection: &ConnectionId, key: &str) -> Result<Option<String>, StateError> {
        Ok(self.lock()?.cursors.get(&(connection.clone(), key.to_owned())).cloned())
    }

    async fn save_cursor(&self, connection: &ConnectionId, key: &str, cursor: &str) -> Result<(), StateError> {
        self.lock()?.cursors.insert((connection.clone(), key.to_owned()), cursor.to_owned());
        Ok(())
    }

    async fn delete_cursor(&self, connection: &ConnectionId, key: &str) -> Result<(), StateError> {
        self.lock()?.cursors.remove(&(connection.clone(), key.to_owned()));
        Ok(())
    }
}
