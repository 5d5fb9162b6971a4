//! What the fake knows: organisations, identities, users, stored batch answers, the clock. Every rule about users
//! (uniqueness, what a change touches) lives here, shared by the HTTP handlers and the state API.

use super::model::{Identity, NewUser, Organisation, User, UserPatch, UserStatus};
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Why a change to the fake's state was refused. The HTTP API answers the matching contract error; the state API
/// returns it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// No organisation has this id.
    #[error("no organisation {0:?}")]
    NoSuchOrganisation(String),
    /// No user of the organisation has this id.
    #[error("no user {0:?} in the organisation")]
    NoSuchUser(String),
    /// Another user of the organisation already has this email (case-insensitively) or external id (409 `conflict`).
    #[error("a user with this {field} already exists ({existing_user_id})")]
    Conflict {
        /// `email` or `external_id`.
        field: &'static str,
        /// The user that has it.
        existing_user_id: String,
    },
    /// An organisation with this id exists already.
    #[error("organisation {0:?} exists already")]
    DuplicateOrganisation(String),
}

/// The fake clock's start: every fake begins at this instant, so answers are the same run after run.
pub(crate) fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 1, 8, 0, 0).single().unwrap_or_default()
}

/// The users of one organisation, with the indexes that enforce the contract's uniqueness rules.
#[derive(Debug, Clone)]
pub(crate) struct OrgState {
    pub(crate) organisation: Organisation,
    /// By id; ids are issued in increasing order, so this is also creation order and the paging order.
    pub(crate) users: BTreeMap<String, User>,
    /// Lower-cased email → user id ("email … unique in the organisation (case-insensitive)").
    by_email: HashMap<String, String>,
    /// External id → user id ("unique in the organisation when set").
    by_external_id: HashMap<String, String>,
}

impl OrgState {
    fn new(organisation: Organisation) -> OrgState {
        OrgState { organisation, users: BTreeMap::new(), by_email: HashMap::new(), by_external_id: HashMap::new() }
    }

    fn email_owner(&self, email: &str) -> Option<&String> {
        self.by_email.get(&email.to_lowercase())
    }

    /// A user with this email, case-insensitively.
    pub(crate) fn user_by_email(&self, email: &str) -> Option<&User> {
        self.email_owner(email).and_then(|id| self.users.get(id))
    }

    /// A user with this external id.
    pub(crate) fn user_by_external_id(&self, external_id: &str) -> Option<&User> {
        self.by_external_id.get(external_id).and_then(|id| self.users.get(id))
    }

    /// Adds a user under a fresh id, refusing a taken email or external id.
    pub(crate) fn create(&mut self, id: String, new: NewUser, now: DateTime<Utc>) -> Result<User, StateError> {
        if let Some(existing) = self.email_owner(&new.email) {
            return Err(StateError::Conflict { field: "email", existing_user_id: existing.clone() });
        }
        if let Some(existing) = new.external_id.as_ref().and_then(|x| self.by_external_id.get(x)) {
            return Err(StateError::Conflict { field: "external_id", existing_user_id: existing.clone() });
        }
        let user = User {
            id,
            email: new.email,
            first_name: new.first_name,
            last_name: new.last_name,
            role: new.role,
            status: new.status,
            external_id: new.external_id,
            managed_by_sync: new.managed_by_sync,
            updated_at: now,
        };
        self.by_email.insert(user.email.to_lowercase(), user.id.clone());
        if let Some(x) = &user.external_id {
            self.by_external_id.insert(x.clone(), user.id.clone());
        }
        self.users.insert(user.id.clone(), user.clone());
        Ok(user)
    }

    /// Applies the fields a patch sets. `updated_at` moves only when a field actually changes, so an empty or
    /// repeated patch leaves the user exactly as it was ("Applying the same patch twice leaves the same user").
    pub(crate) fn patch(&mut self, id: &str, patch: UserPatch, now: DateTime<Utc>) -> Result<User, StateError> {
        let current = self.users.get(id).ok_or_else(|| StateError::NoSuchUser(id.to_owned()))?;
        let mut user = current.clone();
        if let Some(v) = patch.email {
            user.email = v;
        }
        if let Some(v) = patch.first_name {
            user.first_name = v;
        }
        if let Some(v) = patch.last_name {
            user.last_name = v;
        }
        if let Some(v) = patch.role {
            user.role = v;
        }
        if let Some(v) = patch.status {
            user.status = v;
        }
        if let Some(v) = patch.external_id {
            user.external_id = v;
        }
        if let Some(v) = patch.managed_by_sync {
            user.managed_by_sync = v;
        }
        self.replace(user, now)
    }

    /// Stores a changed user, refusing an email or external id another user has, keeping the indexes right, and
    /// moving `updated_at` only if something changed.
    pub(crate) fn replace(&mut self, mut user: User, now: DateTime<Utc>) -> Result<User, StateError> {
        let Some(old) = self.users.get(&user.id) else {
            return Err(StateError::NoSuchUser(user.id));
        };
        user.updated_at = old.updated_at;
        if *old == user {
            return Ok(user);
        }
        let (old_email, new_email) = (old.email.to_lowercase(), user.email.to_lowercase());
        if old_email != new_email
            && let Some(owner) = self.by_email.get(&new_email)
        {
            return Err(StateError::Conflict { field: "email", existing_user_id: owner.clone() });
        }
        if old.external_id != user.external_id
            && let Some(owner) = user.external_id.as_ref().and_then(|x| self.by_external_id.get(x))
        {
            return Err(StateError::Conflict { field: "external_id", existing_user_id: owner.clone() });
        }
        if old_email != new_email {
            self.by_email.remove(&old_email);
            self.by_email.insert(new_email, user.id.clone());
        }
        if old.external_id != user.external_id {
            if let Some(x) = &old.external_id {
                self.by_external_id.remove(x);
            }
            if let Some(x) = &user.external_id {
                self.by_external_id.insert(x.clone(), user.id.clone());
            }
        }
        user.updated_at = now;
        self.users.insert(user.id.clone(), user.clone());
        Ok(user)
    }

    /// Sets the status (`suspend` / `reactivate`); succeeds when the user is already in that state ("Objects" →
    /// `BatchOperation`).
    pub(crate) fn set_status(&mut self, id: &str, status: UserStatus, now: DateTime<Utc>) -> Result<User, StateError> {
        self.patch(id, UserPatch { status: Some(status), ..UserPatch::default() }, now)
    }

    /// Deletes a user.
    pub(crate) fn delete(&mut self, id: &str) -> Result<User, StateError> {
        let user = self.users.remove(id).ok_or_else(|| StateError::NoSuchUser(id.to_owned()))?;
        self.by_email.remove(&user.email.to_lowercase());
        if let Some(x) = &user.external_id {
            self.by_external_id.remove(x);
        }
        Ok(user)
    }
}

/// Where a stored batch is: being applied, or answered (with the exact bytes of the answer).
#[derive(Debug, Clone)]
pub(crate) enum BatchState {
    InProgress,
    Done(Bytes),
}

/// A batch remembered under its key ("Batches and idempotency": once per key, per organisation and token).
#[derive(Debug, Clone)]
pub(crate) struct StoredBatch {
    /// The request body as parsed JSON: "the same body" means the same JSON value.
    pub(crate) body: serde_json::Value,
    pub(crate) state: BatchState,
    pub(crate) stored_at: DateTime<Utc>,
}

/// `(organisation id, token, Idempotency-Key)`.
pub(crate) type BatchKey = (String, String, String);

/// How long a batch answer is kept: the contract promises "at least 24 hours"; the fake keeps it exactly that long
/// on its own clock, so a test can advance the clock past it.
pub(crate) const BATCH_RETENTION: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Batches applied and answered from the store, so tests can tell "applied once" from "answered twice".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BatchStats {
    /// Batches whose operations were applied.
    pub applied: u64,
    /// Requests answered with a stored answer (a key repeated with the same body), changing nothing.
    pub replayed: u64,
    /// Requests refused because their key was reused with a different body (422).
    pub key_reused: u64,
    /// Requests refused because their key's first request was still being processed (409).
    pub in_progress: u64,
}

/// The whole state of one fake.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) orgs: BTreeMap<String, OrgState>,
    /// Token → identity.
    pub(crate) identities: HashMap<String, Identity>,
    pub(crate) now: DateTime<Utc>,
    next_user: u64,
    pub(crate) cursor_epoch: u64,
    pub(crate) organisation_page_size: usize,
    pub(crate) batch_delay: Duration,
    pub(crate) batches: HashMap<BatchKey, StoredBatch>,
    pub(crate) batch_stats: BatchStats,
    pub(crate) next_request: u64,
}

impl Default for State {
    fn default() -> State {
        State {
            orgs: BTreeMap::new(),
            identities: HashMap::new(),
            now: epoch(),
            next_user: 0,
            cursor_epoch: 1,
            organisation_page_size: 100,
            batch_delay: Duration::ZERO,
            batches: HashMap::new(),
            batch_stats: BatchStats::default(),
            next_request: 0,
        }
    }
}

/// Crockford's base 32: its digits sort in ASCII order, so fixed-width ids sort in the order they were issued.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl State {
    /// A fresh user id, `u_` and ten base-32 digits, in increasing order (shaped like the contract's `u_01J8ZK3Q`).
    pub(crate) fn next_user_id(&mut self) -> String {
        self.next_user += 1;
        let mut n = self.next_user;
        let mut digits = [b'0'; 10];
        for d in digits.iter_mut().rev() {
            *d = CROCKFORD[(n % 32) as usize];
            n /= 32;
        }
        let mut id = String::with_capacity(12);
        id.push_str("u_");
        id.extend(digits.iter().map(|&b| char::from(b)));
        id
    }

    pub(crate) fn org(&self, id: &str) -> Result<&OrgState, StateError> {
        self.orgs.get(id).ok_or_else(|| StateError::NoSuchOrganisation(id.to_owned()))
    }

    pub(crate) fn org_mut(&mut self, id: &str) -> Result<&mut OrgState, StateError> {
        self.orgs.get_mut(id).ok_or_else(|| StateError::NoSuchOrganisation(id.to_owned()))
    }

    pub(crate) fn add_organisation(&mut self, organisation: Organisation) -> Result<(), StateError> {
        if self.orgs.contains_key(&organisation.id) {
            return Err(StateError::DuplicateOrganisation(organisation.id));
        }
        self.orgs.insert(organisation.id.clone(), OrgState::new(organisation));
        Ok(())
    }

    /// Creates a user in an organisation under a fresh id.
    pub(crate) fn create_user(&mut self, org: &str, new: NewUser) -> Result<User, StateError> {
        let now = self.now;
        // Check the organisation before spending an id.
        self.org(org)?;
        let id = self.next_user_id();
        self.org_mut(org)?.create(id, new, now)
    }

    /// Whether a user id exists in an organisation other than `org` (a batch names it "not a user of this
    /// organisation", 422, as the contract's batch example does, rather than 404).
    pub(crate) fn user_elsewhere(&self, org: &str, id: &str) -> bool {
        self.orgs.iter().any(|(o, s)| o != org && s.users.contains_key(id))
    }

    /// Forgets stored batch answers older than the retention on the fake clock.
    pub(crate) fn purge_batches(&mut self) {
        let now = self.now;
        self.batches.retain(|_, b| matches!(b.state, BatchState::InProgress) || b.stored_at + BATCH_RETENTION > now);
    }
}
