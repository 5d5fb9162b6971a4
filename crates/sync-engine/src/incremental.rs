//! Incremental runs: what the engine keeps per connection group between runs, and how a source's changes become
//! a desired state the ordinary planner can diff.
//!
//! The rule that keeps incremental runs equivalent to full ones: a person the changes do not mention is taken to
//! be exactly as the organisation's record shows them (a synthetic person equal to the record, so the planner
//! finds nothing to change). Only people the changes mention are compared with the source's data. The planner,
//! the safety policy and the executor are the same code as for a full run.

use crate::desired::DesiredState;
use crate::model::{
    ConnectionGroup, Person, PersonKey, RecordStatus, RolePrecedence, ScopeId, SinkRecord, SourcePerson,
};
use crate::source::{SourceCursor, SourceSnapshot};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// The version of [`StoredCursor`]'s layout.
const VERSION: u32 = 1;

/// What the engine saves per connection group: the source's cursor, when the last full read was, and the
/// configuration it was read for. A cursor saved for another configuration (scopes, roles, precedence, the
/// organisation's other groups) is not used: the next run reads in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredCursor {
    pub(crate) v: u32,
    pub(crate) fingerprint: String,
    pub(crate) full_at: DateTime<Utc>,
    pub(crate) cursor: SourceCursor,
}

impl StoredCursor {
    pub(crate) fn new(fingerprint: String, full_at: DateTime<Utc>, cursor: SourceCursor) -> StoredCursor {
        StoredCursor { v: VERSION, fingerprint, full_at, cursor }
    }

    /// Reads a saved cursor; `None` if it is unreadable or of another version (then the run reads in full).
    pub(crate) fn parse(text: &str) -> Option<StoredCursor> {
        serde_json::from_str::<StoredCursor>(text).ok().filter(|c| c.v == VERSION)
    }

    pub(crate) fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The key a connection group's cursor is saved under.
pub(crate) fn cursor_key(group: &ConnectionGroup) -> String {
    format!("connection-group/{}", group.id)
}

/// Everything about an organisation's configuration that changes who it should have: its connection groups
/// (connection, scopes and their roles) and the role precedence.
pub(crate) fn fingerprint(groups: &[&ConnectionGroup], precedence: &RolePrecedence) -> String {
    let mut parts: Vec<serde_json::Value> = groups
        .iter()
        .map(|g| {
            serde_json::json!({
                "id": g.id,
                "connection": g.connection,
                "scopes": g.scopes.iter().map(|s| (s.scope.as_str(), s.role.as_str())).collect::<Vec<_>>(),
            })
        })
        .collect();
    parts.sort_by_key(|v| v.to_string());
    serde_json::json!({ "groups": parts, "precedence": precedence.0 }).to_string()
}

/// One connection group's changes.
pub(crate) struct GroupChanges<'a> {
    pub(crate) group: &'a ConnectionGroup,
    pub(crate) upserts: Vec<SourcePerson>,
    pub(crate) removed: Vec<String>,
    pub(crate) scope_counts: BTreeMap<ScopeId, usize>,
    pub(crate) cursor: SourceCursor,
    /// When the group was last read in full.
    pub(crate) full_at: DateTime<Utc>,
}

/// Whether two groups of the organisation read the same connection: then a person's scopes are split across
/// two change feeds, and the engine reads in full rather than merge them.
pub(crate) fn shares_connection(groups: &[&ConnectionGroup]) -> bool {
    let mut seen = HashSet::new();
    groups.iter().any(|g| !seen.insert(&g.connection))
}

/// The members per scope the changes report, keyed like a full read's.
pub(crate) fn scope_counts(changes: &[GroupChanges<'_>]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for c in changes {
        let selected: HashSet<&ScopeId> = c.group.scopes.iter().map(|s| &s.scope).collect();
        for (scope, n) in &c.scope_counts {
            if selected.contains(scope) {
                *out.entry(crate::desired::scope_count_key(&c.group.connection, scope)).or_insert(0) += n;
            }
        }
    }
    out
}

/// The desired state of an incremental run: the people the changes mention, as the source has them now (those
/// no longer in a selected scope are left out, so the planner suspends their records), plus, for every active
/// managed record the changes do not mention, a person equal to the record (so nothing changes for it).
///
/// Suspended records the changes do not mention get no person: they stay as they are (the planner only
/// suspends active records), and a new person may take one over by email as in a full run.
pub(crate) fn desired(
    changes: &[GroupChanges<'_>],
    current: &[SinkRecord],
    precedence: &RolePrecedence,
) -> DesiredState {
    let snapshots: Vec<(&ConnectionGroup, SourceSnapshot)> = changes
        .iter()
        .map(|c| {
            let snapshot =
                SourceSnapshot { people: c.upserts.clone(), scope_counts: c.scope_counts.clone(), cursor: None };
            (c.group, snapshot)
        })
        .collect();
    let mut state = DesiredState::build(snapshots.iter().map(|(g, s)| (*g, s)), precedence);
    let mut touched: HashSet<(&str, &str)> = HashSet::new();
    for c in changes {
        let connection = c.group.connection.as_str();
        touched.extend(c.upserts.iter().map(|p| (connection, p.source_id.as_str())));
        touched.extend(c.removed.iter().map(|id| (connection, id.as_str())));
    }
    for record in current {
        if !record.managed || record.status != RecordStatus::Active {
            continue;
        }
        let Some(key) = record.external_id.as_deref().and_then(PersonKey::from_external_id) else { continue };
        if touched.contains(&(key.connection.as_str(), key.source_id.as_str())) {
            continue;
        }
        state.people.push(Person {
            key,
            given_name: record.given_name.clone(),
            family_name: record.family_name.clone(),
            email: Some(record.email.clone()),
            username: None,
            enabled: true,
            role: record.role.clone(),
        });
    }
    state.people.sort_by(|a, b| a.key.cmp(&b.key));
    // Two active records claiming one identity (which a full run would also see): keep one person.
    state.people.dedup_by(|later, earlier| later.key == earlier.key);
    state.scope_counts = scope_counts(changes);
    state
}
