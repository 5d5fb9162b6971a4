//! The planner: a pure function from who an organisation should have and who it has to what must change.
//!
//! Rules (the sync contract):
//!
//! * A person is matched to a sink record by identity (`external_id = <connection>:<source id>`), never by email.
//! * On first contact, a person with no record is matched to an existing record with the same email (ignoring
//!   letter case) that the sync does not manage, and **adopts** it; a managed record whose person has gone from
//!   the source is **relinked** the same way (an account deleted and recreated at the source keeps its record).
//! * Creates, updates (only the fields that differ), suspensions (managed records whose person is gone from the
//!   source or disabled there) and reactivations (managed suspended records whose person is back and enabled).
//! * Records the sync did not create or adopt are never changed otherwise, and never suspended.
//! * An administrator is never demoted, and a role the engine does not know is left as it is.
//! * Two people with the same email cannot both have a record: the second is skipped, with the reason.
//! * Everything is sorted by `external_id`, so the same inputs always give the same plan.

use crate::desired::DesiredState;
use crate::model::{OrganisationId, Person, PersonKey, RecordStatus, Role, SinkRecord};
use crate::sink::{Fields, Operation};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashMap;

/// A record to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Create {
    /// `<connection>:<source id>`.
    pub external_id: String,
    /// Its fields.
    pub fields: Fields,
}

/// One field that changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// `email`, `given_name`, `family_name` or `role`.
    pub field: String,
    /// The sink's value.
    pub from: String,
    /// The source's value.
    pub to: String,
}

/// Why a record is updated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateReason {
    /// Fields changed at the source.
    Changed,
    /// An unmanaged record with the person's email is taken over on first contact.
    Adopted,
    /// A managed record whose person is gone from the source is taken over by a new identity with its email.
    Relinked {
        /// The identity it had.
        previous_external_id: String,
    },
}

/// A record to update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// The sink's id.
    pub record_id: String,
    /// `<connection>:<source id>`.
    pub external_id: String,
    /// The fields that change.
    pub changes: Vec<FieldChange>,
    /// Why.
    pub reason: UpdateReason,
}

/// Why a record is suspended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspendReason {
    /// The person is no longer in any selected scope (or no longer exists).
    GoneFromSource,
    /// The person's account is blocked or suspended at the source.
    DisabledAtSource,
}

/// A record to suspend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    /// The sink's id.
    pub record_id: String,
    /// Its `external_id`.
    pub external_id: String,
    /// Its email, for people reading the plan.
    pub email: String,
    /// Why.
    pub reason: SuspendReason,
}

/// A record to reactivate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reactivation {
    /// The sink's id.
    pub record_id: String,
    /// Its `external_id`.
    pub external_id: String,
    /// Its email.
    pub email: String,
}

/// Why a person gets no record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The source has no email for them, and the sink needs one.
    NoEmail,
    /// Another person of this run already has their email.
    DuplicateEmail {
        /// The person who keeps it.
        kept: String,
    },
    /// A record with their email is managed for another person who is still in the source.
    EmailTaken {
        /// That record's `external_id`.
        record_external_id: String,
    },
}

/// A person left out, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skip {
    /// `<connection>:<source id>`.
    pub external_id: String,
    /// Why.
    pub reason: SkipReason,
}

/// What a run would change in one organisation. Serialisable: `--dry-run` prints it, and nothing is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The organisation.
    pub organisation: OrganisationId,
    /// Records to create.
    pub creates: Vec<Create>,
    /// Records to update (including adoptions).
    pub updates: Vec<Update>,
    /// Records to suspend.
    pub suspensions: Vec<Suspension>,
    /// Records to reactivate.
    pub reactivations: Vec<Reactivation>,
    /// People left out.
    pub skipped: Vec<Skip>,
    /// Managed records before the run (the base of the suspension threshold).
    pub managed_before: usize,
    /// People already right.
    pub unchanged: usize,
}

impl Plan {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.creates.is_empty()
            && self.updates.is_empty()
            && self.suspensions.is_empty()
            && self.reactivations.is_empty()
    }

    /// Number of changes.
    pub fn len(&self) -> usize {
        self.creates.len() + self.updates.len() + self.suspensions.len() + self.reactivations.len()
    }

    /// The operations to send, phase after phase (see [`phases`](Self::phases)), flattened.
    pub fn operations(&self) -> Vec<Operation> {
        self.phases().into_iter().flatten().collect()
    }

    /// The operations in three phases, each to finish before the next starts: updates (adoptions included) and
    /// reactivations, so that emails being changed away are free; then creates; then suspensions, last, so that
    /// a run cut short leaves people active rather than locked out.
    pub fn phases(&self) -> [Vec<Operation>; 3] {
        let mut first = Vec::with_capacity(self.updates.len() + self.reactivations.len());
        first.extend(self.updates.iter().map(|u| Operation::Update {
            record_id: u.record_id.clone(),
            external_id: u.external_id.clone(),
            fields: fields_of(&u.changes),
            adopt: !matches!(u.reason, UpdateReason::Changed),
        }));
        first.extend(
            self.reactivations
                .iter()
                .map(|r| Operation::Reactivate { record_id: r.record_id.clone(), external_id: r.external_id.clone() }),
        );
        let creates = self
            .creates
            .iter()
            .map(|c| Operation::Create { external_id: c.external_id.clone(), fields: c.fields.clone() })
            .collect();
        let suspensions = self
            .suspensions
            .iter()
            .map(|s| Operation::Suspend { record_id: s.record_id.clone(), external_id: s.external_id.clone() })
            .collect();
        [first, creates, suspensions]
    }
}

fn fields_of(changes: &[FieldChange]) -> Fields {
    let mut f = Fields::default();
    for c in changes {
        match c.field.as_str() {
            "email" => f.email = Some(c.to.clone()),
            "given_name" => f.given_name = Some(c.to.clone()),
            "family_name" => f.family_name = Some(c.to.clone()),
            "role" => f.role = Some(Role::parse(&c.to)),
            _ => {}
        }
    }
    f
}

/// Planner options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PlanOptions {
    /// The roles of managed records follow the source in every case: an administrator is demoted when the source
    /// says so, and a role the engine does not name ([`Role::Other`]) is changed like any other. For sinks whose
    /// every role is written by the sync (a roster store, where "administrator" and "aide" are roles groups map
    /// to). Off by default: a platform's administrators are appointed there, never by the source.
    pub roles_follow_source: bool,
}

impl PlanOptions {
    /// Sets [`roles_follow_source`](Self::roles_follow_source).
    pub fn roles_follow_source(mut self, on: bool) -> PlanOptions {
        self.roles_follow_source = on;
        self
    }
}

fn key_of(record: &SinkRecord) -> Option<(&str, &str)> {
    record.external_id.as_deref().and_then(|e| e.split_once(':'))
}

fn cmp_key(person: &PersonKey, record: (&str, &str)) -> Ordering {
    (person.connection.as_str(), person.source_id.as_str()).cmp(&record)
}

fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

fn same_email(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// The changes that make `record` match `person` (an admin is never demoted and unknown roles are left alone,
/// unless roles follow the source).
fn field_changes(person: &Person, record: &SinkRecord, options: &PlanOptions) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let mut push = |field: &str, from: &str, to: &str| {
        changes.push(FieldChange { field: field.to_owned(), from: from.to_owned(), to: to.to_owned() })
    };
    if let Some(email) = &person.email
        && !same_email(email, &record.email)
    {
        push("email", &record.email, email.trim());
    }
    if person.given_name != record.given_name {
        push("given_name", &record.given_name, &person.given_name);
    }
    if person.family_name != record.family_name {
        push("family_name", &record.family_name, &person.family_name);
    }
    let keep_role = !options.roles_follow_source && matches!(record.role, Role::Admin | Role::Other(_));
    if !keep_role && person.role != record.role {
        push("role", record.role.as_str(), person.role.as_str());
    }
    changes
}

fn create_fields(person: &Person, email: &str) -> Fields {
    Fields {
        email: Some(email.trim().to_owned()),
        given_name: Some(person.given_name.clone()),
        family_name: Some(person.family_name.clone()),
        role: Some(person.role.clone()),
    }
}

/// Plans one organisation. Pure and deterministic.
pub fn plan(
    organisation: &OrganisationId,
    desired: &DesiredState,
    current: &[SinkRecord],
    options: &PlanOptions,
) -> Plan {
    let mut out = Plan {
        organisation: organisation.clone(),
        creates: Vec::new(),
        updates: Vec::new(),
        suspensions: Vec::new(),
        reactivations: Vec::new(),
        skipped: Vec::new(),
        managed_before: current.iter().filter(|r| r.managed).count(),
        unchanged: 0,
    };

    // Managed records with an identity, sorted by it (borrowed: no copies of 1,000,000 ids).
    let mut managed: Vec<u32> = (0..current.len() as u32)
        .filter(|&i| current[i as usize].managed && key_of(&current[i as usize]).is_some())
        .collect();
    managed.sort_unstable_by(|&a, &b| key_of(&current[a as usize]).cmp(&key_of(&current[b as usize])));

    // Merge-join people (sorted by key) with managed records (sorted by key).
    let people = &desired.people;
    let mut matched_record = vec![u32::MAX; people.len()];
    let mut record_matched = vec![false; current.len()];
    let mut record_person = vec![u32::MAX; current.len()];
    let (mut i, mut j) = (0usize, 0usize);
    while i < people.len() && j < managed.len() {
        let rec = managed[j] as usize;
        let Some(rec_key) = key_of(&current[rec]) else {
            j += 1;
            continue;
        };
        match cmp_key(&people[i].key, rec_key) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                matched_record[i] = rec as u32;
                record_matched[rec] = true;
                record_person[rec] = i as u32;
                i += 1;
                j += 1;
            }
        }
    }

    // Emails already held by managed records whose people are still present: a new person cannot take them.
    // Emails of records that can be taken over: unmanaged ones (adopt), and managed ones whose person is gone
    // (relink). Only the emails of new people are looked up, so this costs little when few people are new.
    let mut wanted: HashMap<String, usize> = HashMap::new();
    let mut claimed: HashMap<String, String> = HashMap::new();
    for (idx, person) in people.iter().enumerate() {
        if matched_record[idx] != u32::MAX {
            continue;
        }
        if !person.enabled {
            continue;
        }
        match person.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            None => out.skipped.push(Skip { external_id: person.key.external_id(), reason: SkipReason::NoEmail }),
            Some(email) => {
                let key = email_key(email);
                match claimed.get(&key) {
                    Some(kept) => out.skipped.push(Skip {
                        external_id: person.key.external_id(),
                        reason: SkipReason::DuplicateEmail { kept: kept.clone() },
                    }),
                    None => {
                        claimed.insert(key.clone(), person.key.external_id());
                        wanted.insert(key, idx);
                    }
                }
            }
        }
    }
    // Records a new person can take over: an unmanaged one with their email (adopt) or, failing that, a managed
    // one whose person is gone (relink). A managed record whose person is still here blocks the email.
    let mut adopt: HashMap<usize, usize> = HashMap::new();
    let mut relink: HashMap<usize, usize> = HashMap::new();
    let mut blocked: HashMap<usize, String> = HashMap::new();
    if !wanted.is_empty() {
        for (rec_idx, record) in current.iter().enumerate() {
            let Some(&person_idx) = wanted.get(&email_key(&record.email)) else { continue };
            if !record.managed {
                adopt.entry(person_idx).or_insert(rec_idx);
            } else if !record_matched[rec_idx] {
                relink.entry(person_idx).or_insert(rec_idx);
            } else {
                // Held by a person who is still here: blocked, unless that person's email is changing away from
                // it (their update runs before creates, see `Plan::phases`).
                let holder = &people[record_person[rec_idx] as usize];
                let keeps = holder.email.as_deref().is_none_or(|e| same_email(e, &record.email));
                if keeps {
                    blocked.entry(person_idx).or_insert_with(|| record.external_id.clone().unwrap_or_default());
                }
            }
        }
    }
    let mut takeover = relink;
    takeover.extend(adopt);

    let mut taken = vec![false; current.len()];
    for (idx, person) in people.iter().enumerate() {
        let external_id = || person.key.external_id();
        let rec = matched_record[idx];
        if rec != u32::MAX {
            let record = &current[rec as usize];
            if !person.enabled {
                if record.status == RecordStatus::Active {
                    out.suspensions.push(Suspension {
                        record_id: record.id.clone(),
                        external_id: external_id(),
                        email: record.email.clone(),
                        reason: SuspendReason::DisabledAtSource,
                    });
                } else {
                    out.unchanged += 1;
                }
                continue;
            }
            let changes = field_changes(person, record, options);
            let reactivate = record.status == RecordStatus::Suspended;
            if reactivate {
                out.reactivations.push(Reactivation {
                    record_id: record.id.clone(),
                    external_id: external_id(),
                    email: record.email.clone(),
                });
            }
            if changes.is_empty() {
                if !reactivate {
                    out.unchanged += 1;
                }
            } else {
                out.updates.push(Update {
                    record_id: record.id.clone(),
                    external_id: external_id(),
                    changes,
                    reason: UpdateReason::Changed,
                });
            }
            continue;
        }
        if !person.enabled {
            continue; // Disabled and not in the sink: nothing to do.
        }
        let Some(email) = person.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) else { continue };
        if wanted.get(&email_key(email)).is_none_or(|&w| w != idx) {
            continue; // Skipped above as a duplicate.
        }
        if let Some(holder) = blocked.get(&idx)
            && !takeover.contains_key(&idx)
        {
            out.skipped.push(Skip {
                external_id: external_id(),
                reason: SkipReason::EmailTaken { record_external_id: holder.clone() },
            });
            continue;
        }
        match takeover.get(&idx).copied().filter(|&r| !taken[r]) {
            Some(rec_idx) => {
                taken[rec_idx] = true;
                let record = &current[rec_idx];
                let reason = if record.managed {
                    UpdateReason::Relinked { previous_external_id: record.external_id.clone().unwrap_or_default() }
                } else {
                    UpdateReason::Adopted
                };
                out.updates.push(Update {
                    record_id: record.id.clone(),
                    external_id: external_id(),
                    changes: field_changes(person, record, options),
                    reason,
                });
                if record.status == RecordStatus::Suspended {
                    out.reactivations.push(Reactivation {
                        record_id: record.id.clone(),
                        external_id: external_id(),
                        email: record.email.clone(),
                    });
                }
            }
            None => out.creates.push(Create { external_id: external_id(), fields: create_fields(person, email) }),
        }
    }

    // Managed records whose person is gone (and that no new identity took over): suspend.
    for (rec_idx, record) in current.iter().enumerate() {
        if record.managed && !record_matched[rec_idx] && !taken[rec_idx] && record.status == RecordStatus::Active {
            out.suspensions.push(Suspension {
                record_id: record.id.clone(),
                external_id: record.external_id.clone().unwrap_or_default(),
                email: record.email.clone(),
                reason: SuspendReason::GoneFromSource,
            });
        }
    }

    out.creates.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    out.updates.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    out.suspensions.sort_by(|a, b| a.external_id.cmp(&b.external_id).then_with(|| a.record_id.cmp(&b.record_id)));
    out.reactivations.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    out.skipped.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    out
}
