//! The desired state of an organisation: the union of its connection groups' members, each person once, with the
//! highest-precedence role of the scopes they are in.

use crate::model::{ConnectionGroup, ConnectionId, Person, PersonKey, Role, RolePrecedence, ScopeId, SourcePerson};
use crate::source::SourceSnapshot;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Who an organisation should have.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DesiredState {
    /// Each person once, sorted by key (connection, then source id).
    pub people: Vec<Person>,
    /// Members per selected scope, per connection, as the sources reported them.
    pub scope_counts: BTreeMap<String, usize>,
}

/// The key under which a scope's count is kept: `<connection>/<scope>`.
pub fn scope_count_key(connection: &ConnectionId, scope: &ScopeId) -> String {
    format!("{connection}/{scope}")
}

impl DesiredState {
    /// Builds the desired state from each connection group and what its source reported.
    ///
    /// A person found through several scopes (of one group or several groups of the same connection) appears once,
    /// with the role that ranks first in `precedence`. People whose reported scopes include none of the group's
    /// selected scopes are ignored.
    pub fn build<'a>(
        inputs: impl IntoIterator<Item = (&'a ConnectionGroup, &'a SourceSnapshot)>,
        precedence: &RolePrecedence,
    ) -> DesiredState {
        let mut people: Vec<Person> = Vec::new();
        let mut scope_counts = BTreeMap::new();
        for (group, snapshot) in inputs {
            let roles: HashMap<&ScopeId, &Role> = group.scopes.iter().map(|s| (&s.scope, &s.role)).collect();
            for (scope, count) in &snapshot.scope_counts {
                if roles.contains_key(scope) {
                    *scope_counts.entry(scope_count_key(&group.connection, scope)).or_insert(0) += count;
                }
            }
            people.reserve(snapshot.people.len());
            for person in &snapshot.people {
                if let Some(role) = best_role(person, &roles, precedence) {
                    people.push(to_person(&group.connection, person, role.clone()));
                }
            }
        }
        people.sort_by(|a, b| a.key.cmp(&b.key));
        // Merge duplicates (the same person through several groups of one connection): keep the best role.
        people.dedup_by(|later, earlier| {
            if later.key == earlier.key {
                if precedence.rank(&later.role) < precedence.rank(&earlier.role) {
                    earlier.role = later.role.clone();
                }
                true
            } else {
                false
            }
        });
        DesiredState { people, scope_counts }
    }

    /// The person with this key.
    pub fn get(&self, key: &PersonKey) -> Option<&Person> {
        self.people.binary_search_by(|p| p.key.cmp(key)).ok().map(|i| &self.people[i])
    }
}

fn best_role<'r>(
    person: &SourcePerson,
    roles: &HashMap<&ScopeId, &'r Role>,
    precedence: &RolePrecedence,
) -> Option<&'r Role> {
    let mut best: Option<&Role> = None;
    for scope in &person.scopes {
        if let Some(role) = roles.get(scope) {
            best = Some(match best {
                Some(current) => precedence.pick(current, role),
                None => role,
            });
        }
    }
    best
}

fn to_person(connection: &ConnectionId, p: &SourcePerson, role: Role) -> Person {
    Person {
        key: PersonKey::new(connection.clone(), p.source_id.clone()),
        given_name: p.given_name.clone(),
        family_name: p.family_name.clone(),
        email: p.email.clone(),
        username: p.username.clone(),
        enabled: p.enabled,
        role,
    }
}
