//! The conformance suite, run against the in-memory connectors (which must pass it), and shown to catch a
//! source that breaks the contract.

use async_trait::async_trait;
use sync_engine::conformance::{SourceFixture, check_sink, check_source};
use sync_engine::model::{ConnectionId, OrganisationId, Role, ScopeId, ScopeSelection};
use sync_engine::source::{IdentitySource, SourceError, SourceSnapshot};
use sync_engine::testing::{MemorySink, MemorySource, person};

fn fixture() -> SourceFixture {
    SourceFixture {
        scopes: vec![
            ScopeSelection { scope: ScopeId::new("a"), name: "A".into(), role: Role::Staff },
            ScopeSelection { scope: ScopeId::new("b"), name: "B".into(), role: Role::Student },
        ],
        missing_scope: Some(ScopeSelection { scope: ScopeId::new("zzz"), name: "Z".into(), role: Role::Student }),
        expected_people: Some(3),
    }
}

#[tokio::test]
async fn the_memory_connectors_conform() {
    let source = MemorySource::new("conn");
    source.add("a", person("1", "A", "A", "1@x.org"));
    source.add("a", person("2", "B", "B", "2@x.org"));
    source.add("b", person("2", "B", "B", "2@x.org"));
    source.add("b", person("3", "C", "C", "3@x.org"));
    assert_eq!(check_source(&source, &fixture()).await, Vec::<String>::new());
    let sink = MemorySink::new(10);
    assert_eq!(check_sink(&sink, &OrganisationId::new("o"), "not-an-email").await, Vec::<String>::new());
}

/// A source that lists a person twice and answers an unknown group with nobody.
struct Sloppy(ConnectionId);

#[async_trait]
impl IdentitySource for Sloppy {
    fn connection(&self) -> &ConnectionId {
        &self.0
    }
    async fn snapshot(&self, scopes: &[ScopeSelection]) -> Result<SourceSnapshot, SourceError> {
        let mut p = person("1", "A", "A", "a@x.org");
        p.scopes = vec![scopes[0].scope.clone()];
        let people = if scopes[0].scope.as_str() == "zzz" { vec![] } else { vec![p.clone(), p] };
        Ok(SourceSnapshot { people, ..SourceSnapshot::default() })
    }
}

#[tokio::test]
async fn the_suite_catches_a_source_that_breaks_the_contract() {
    let violations = check_source(&Sloppy(ConnectionId::new("bad:id")), &fixture()).await;
    let text = violations.join("\n");
    assert!(text.contains("contain no ':'"), "{text}");
    assert!(text.contains("appears more than once"), "{text}");
    assert!(text.contains("scope_counts"), "{text}");
    assert!(text.contains("instead of an error"), "{text}");
}
