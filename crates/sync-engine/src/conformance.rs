//! The connector conformance suite (feature `testing`): checks that a source or a sink honours the contract the
//! engine relies on. Run it from a connector's own tests, against a fake or a test tenant:
//!
//! ```
//! # async fn demo() {
//! use sync_engine::conformance::{SourceFixture, check_source};
//! use sync_engine::testing::{MemorySource, person};
//! use sync_engine::model::{Role, ScopeSelection, ScopeId};
//!
//! let source = MemorySource::new("contoso");
//! source.add("staff", person("1", "Ada", "Lovelace", "ada@example.org"));
//! let fixture = SourceFixture {
//!     scopes: vec![ScopeSelection { scope: ScopeId::new("staff"), name: "Staff".into(), role: Role::Staff }],
//!     missing_scope: Some(ScopeSelection { scope: ScopeId::new("no-such-group"), name: "Gone".into(), role: Role::Staff }),
//!     expected_people: Some(1),
//! };
//! let violations = check_source(&source, &fixture).await;
//! assert!(violations.is_empty(), "{violations:#?}");
//! # }
//! ```
//!
//! Each check returns the list of violations (empty when the connector conforms), so a test can print them all.

use crate::model::{OrganisationId, RecordStatus, Role, ScopeSelection};
use crate::sink::{Fields, OpOutcome, Operation, RosterSink};
use crate::source::{Changes, IdentitySource, SourceError};
use std::collections::{BTreeMap, BTreeSet};

/// What the source under test holds.
#[derive(Debug, Clone)]
pub struct SourceFixture {
    /// Scopes that exist and have members.
    pub scopes: Vec<ScopeSelection>,
    /// A scope that does not exist, to check that it is an error rather than an empty result.
    pub missing_scope: Option<ScopeSelection>,
    /// How many distinct people the scopes hold, if known.
    pub expected_people: Option<usize>,
}

/// Checks the `IdentitySource` contract: each person once, with non-empty stable ids, only selected scopes, scope
/// counts that agree with the people, repeatable snapshots, a missing scope reported as an error (not as an empty
/// scope — the engine would read that as everyone leaving), and `changes` either supported or declined cleanly.
pub async fn check_source(source: &dyn IdentitySource, fixture: &SourceFixture) -> Vec<String> {
    let mut v = Vec::new();
    let connection = source.connection().clone();
    if connection.as_str().is_empty() || connection.as_str().contains(':') {
        v.push(format!("connection id `{connection}` must be non-empty and contain no ':' (it prefixes external ids)"));
    }
    let first = match source.snapshot(&fixture.scopes).await {
        Ok(s) => s,
        Err(e) => return vec![format!("snapshot of existing scopes failed: {e}")],
    };
    let selected: BTreeSet<_> = fixture.scopes.iter().map(|s| &s.scope).collect();
    let mut seen = BTreeSet::new();
    let mut per_scope: BTreeMap<_, usize> = BTreeMap::new();
    for p in &first.people {
        if p.source_id.trim().is_empty() {
            v.push("a person has an empty source id".into());
        }
        if !seen.insert(p.source_id.clone()) {
            v.push(format!("person `{}` appears more than once", p.source_id));
        }
        if p.scopes.is_empty() {
            v.push(format!("person `{}` has no scopes", p.source_id));
        }
        for s in &p.scopes {
            if !selected.contains(s) {
                v.push(format!("person `{}` lists scope `{s}` that was not selected", p.source_id));
            }
            *per_scope.entry(s.clone()).or_default() += 1;
        }
    }
    for s in &fixture.scopes {
        let reported = first.scope_counts.get(&s.scope).copied();
        let counted = per_scope.get(&s.scope).copied().unwrap_or(0);
        if reported != Some(counted) {
            v.push(format!("scope `{}`: scope_counts says {reported:?}, people list it {counted} times", s.scope));
        }
    }
    if let Some(n) = fixture.expected_people
        && first.people.len() != n
    {
        v.push(format!("expected {n} people, got {}", first.people.len()));
    }
    match source.snapshot(&fixture.scopes).await {
        Ok(second) => {
            let a: BTreeSet<_> = first.people.iter().map(|p| &p.source_id).collect();
            let b: BTreeSet<_> = second.people.iter().map(|p| &p.source_id).collect();
            if a != b {
                v.push("two snapshots with nothing changed returned different people".into());
            }
        }
        Err(e) => v.push(format!("a second snapshot failed: {e}")),
    }
    if let Some(missing) = &fixture.missing_scope {
        match source.snapshot(std::slice::from_ref(missing)).await {
            Ok(s) => v.push(format!(
                "a scope that does not exist (`{}`) was answered with {} people instead of an error",
                missing.scope,
                s.people.len()
            )),
            Err(SourceError::ScopeNotFound(_) | SourceError::UnsupportedScope { .. }) => {}
            Err(e) => v.push(format!("a missing scope should be ScopeNotFound or UnsupportedScope, got: {e}")),
        }
    }
    if let Some(cursor) = &first.cursor {
        match source.changes(&fixture.scopes, cursor).await {
            Ok(Changes::Changes { removed, .. }) if !removed.is_empty() => {
                v.push("changes right after a snapshot, with nothing changed, report removals".into())
            }
            Ok(_) => {}
            Err(e) => v.push(format!("changes from the snapshot's own cursor failed: {e}")),
        }
    }
    v
}

/// Checks the `RosterSink` contract on an organisation the test may write to: creates are managed and findable by
/// `external_id`; applying the same create twice never makes two records; one bad operation does not fail the
/// others; outcomes come one per operation; update, suspend and reactivate do what they say.
/// `bad_email` must be an address the sink rejects.
pub async fn check_sink(sink: &dyn RosterSink, organisation: &OrganisationId, bad_email: &str) -> Vec<String> {
    let mut v = Vec::new();
    if sink.batch_size() == 0 {
        v.push("batch_size is 0".into());
    }
    let stamp = uuid::Uuid::new_v4().simple().to_string();
    let external = |n: u32| format!("conformance:{stamp}-{n}");
    let fields = |n: u32, email: &str| Fields {
        email: Some(email.to_owned()),
        given_name: Some(format!("Given{n}")),
        family_name: Some(format!("Family{n}")),
        role: Some(Role::Student),
    };
    let ok_email = |n: u32| format!("conformance-{stamp}-{n}@example.org");
    let creates = vec![
        Operation::Create { external_id: external(1), fields: fields(1, &ok_email(1)) },
        Operation::Create { external_id: external(2), fields: fields(2, bad_email) },
        Operation::Create { external_id: external(3), fields: fields(3, &ok_email(3)) },
    ];
    let outcomes = match sink.apply(organisation, &creates).await {
        Ok(o) => o,
        Err(e) => return vec![format!("a batch with one bad record failed as a whole: {e}")],
    };
    if outcomes.len() != creates.len() {
        v.push(format!("{} operations gave {} outcomes", creates.len(), outcomes.len()));
    }
    if !matches!(outcomes.first(), Some(OpOutcome::Applied(_)))
        || !matches!(outcomes.get(2), Some(OpOutcome::Applied(_)))
    {
        v.push("good records next to a bad one were not applied".into());
    }
    if !matches!(outcomes.get(1), Some(OpOutcome::Failed { .. })) {
        v.push(format!("the record with email `{bad_email}` was not rejected"));
    }
    // The same create again (a retried batch) must not make a second record.
    let _ = sink.apply(organisation, &creates[..1]).await;
    let current = match sink.current(organisation).await {
        Ok(c) => c,
        Err(e) => {
            return {
                v.push(format!("current failed: {e}"));
                v
            };
        }
    };
    let mine: Vec<_> = current.iter().filter(|r| r.external_id.as_deref() == Some(external(1).as_str())).collect();
    if mine.len() != 1 {
        v.push(format!("after a create applied twice there are {} records with its external_id", mine.len()));
    }
    let Some(record) = mine.first() else { return v };
    if !record.managed {
        v.push("a created record is not marked managed".into());
    }
    if record.status != RecordStatus::Active {
        v.push("a created record is not active".into());
    }
    let id = record.id.clone();
    let steps = [
        (
            Operation::Update {
                record_id: id.clone(),
                external_id: external(1),
                fields: Fields { family_name: Some("Changed".into()), ..Fields::default() },
                adopt: false,
            },
            "update",
        ),
        (Operation::Suspend { record_id: id.clone(), external_id: external(1) }, "suspend"),
        (Operation::Reactivate { record_id: id.clone(), external_id: external(1) }, "reactivate"),
    ];
    for (op, name) in steps {
        match sink.apply(organisation, std::slice::from_ref(&op)).await {
            Ok(o) if matches!(o.first(), Some(OpOutcome::Applied(_))) => {}
            Ok(o) => v.push(format!("{name} was not applied: {o:?}")),
            Err(e) => v.push(format!("{name} failed: {e}")),
        }
        let now = sink.current(organisation).await.unwrap_or_default();
        let r = now.iter().find(|r| r.id == id);
        let ok = match (name, r) {
            ("update", Some(r)) => r.family_name == "Changed",
            ("suspend", Some(r)) => r.status == RecordStatus::Suspended,
            ("reactivate", Some(r)) => r.status == RecordStatus::Active,
            _ => false,
        };
        if !ok {
            v.push(format!("after {name} the record is {r:?}"));
        }
    }
    v
}
