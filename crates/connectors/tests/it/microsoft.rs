//! The Microsoft source against the fake Graph (testkit), with the engine's conformance suite.

use connectors::microsoft::{MICROSOFT_365_REFUSAL, MicrosoftSource};
use graph_client::auth::ClientCredentials;
use graph_client::{Cloud, GraphClient, Tenant};
use std::sync::Arc;
use sync_engine::conformance::{SourceFixture, check_source};
use sync_engine::model::{ConnectionId, Role, ScopeId, ScopeSelection};
use sync_engine::source::{Changes, IdentitySource, SourceCursor, SourceError};
use testkit::graph::{FakeGraph, sample};
use testkit::server::RunningServer;
use testkit::synthetic::MemberRef;

fn gid(n: u32) -> String {
    format!("00000000-0000-4000-9000-{n:012}")
}

fn scope(n: u32, name: &str, role: Role) -> ScopeSelection {
    ScopeSelection { scope: ScopeId::new(gid(n)), name: name.into(), role }
}

async fn source(fake: &FakeGraph) -> (MicrosoftSource, RunningServer) {
    let server = fake.start().await.unwrap();
    let cloud = Cloud::Custom { authority: FakeGraph::authority_url(&server), graph: FakeGraph::graph_url(&server) };
    let tokens = ClientCredentials::new(
        cloud.clone(),
        Tenant::new(sample::TENANT_ID).unwrap(),
        sample::CLIENT_ID,
        sample::CLIENT_SECRET.to_owned().into(),
    );
    let graph = GraphClient::builder().cloud(cloud).token_source(Arc::new(tokens)).build().unwrap();
    (MicrosoftSource::new(ConnectionId::new("northfield"), graph), server)
}

#[tokio::test]
async fn conforms_to_the_engine_contract() {
    let fake = sample::fake();
    let (source, _server) = source(&fake).await;
    let fixture = SourceFixture {
        scopes: vec![
            scope(1, "All Staff", Role::Staff),
            scope(4, "Year 7", Role::Student),
            scope(6, "All Pupils", Role::Student),
        ],
        missing_scope: Some(scope(999, "Deleted group", Role::Student)),
        expected_people: Some(5 + 12),
    };
    let violations = check_source(&source, &fixture).await;
    assert!(violations.is_empty(), "{violations:#?}");
}

#[tokio::test]
async fn nested_groups_are_flattened_and_people_carry_every_scope_they_are_in() {
    let fake = sample::fake();
    let (source, _server) = source(&fake).await;
    let snapshot =
        source.snapshot(&[scope(4, "Year 7", Role::Student), scope(6, "All Pupils", Role::Student)]).await.unwrap();
    // Year 7 = 7A + 7B (8 pupils) + Ruth Byrne directly; All Pupils = Year 7 + Year 8 (4 more pupils).
    assert_eq!(snapshot.scope_counts[&ScopeId::new(gid(4))], 9);
    assert_eq!(snapshot.scope_counts[&ScopeId::new(gid(6))], 13);
    let ada = snapshot.people.iter().find(|p| p.given_name == "Ada").unwrap();
    assert_eq!(ada.scopes.len(), 2);
    assert_eq!(ada.email.as_deref(), Some("ada.pupil100@northfield.example"));
    assert!(ada.enabled);
}

#[tokio::test]
async fn a_microsoft_365_group_is_refused_by_name_with_the_reason() {
    let fake = sample::fake();
    let (source, _server) = source(&fake).await;
    let err = source
        .snapshot(&[scope(1, "All Staff", Role::Staff), scope(9, "Maths Department", Role::Staff)])
        .await
        .unwrap_err();
    match err {
        SourceError::UnsupportedScope { scope, reason } => {
            assert_eq!(scope, ScopeId::new(gid(9)));
            assert!(reason.contains("Maths Department"), "{reason}");
            assert!(reason.contains(MICROSOFT_365_REFUSAL), "{reason}");
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn distribution_and_mail_enabled_security_groups_are_accepted() {
    let fake = sample::fake();
    let (source, _server) = source(&fake).await;
    let snapshot = source
        .snapshot(&[scope(7, "Staff Room", Role::Staff), scope(8, "Parents Newsletter", Role::Staff)])
        .await
        .unwrap();
    assert_eq!(snapshot.people.len(), 4);
}

#[tokio::test]
async fn a_blocked_account_is_reported_disabled() {
    let fake = sample::fake();
    fake.set_account_enabled("00000000-0000-4000-8000-000000000010", false).unwrap();
    let (source, _server) = source(&fake).await;
    let snapshot = source.snapshot(&[scope(1, "All Staff", Role::Staff)]).await.unwrap();
    let sam = snapshot.people.iter().find(|p| p.given_name == "Sam").unwrap();
    assert!(!sam.enabled);
}

#[tokio::test]
async fn throttling_and_server_errors_are_absorbed_by_the_retry_policy() {
    let fake = sample::fake();
    fake.faults().on("GET", "/v1.0/groups/").times(3).inject(testkit::faults::Fault::throttle(0));
    fake.faults().on("POST", "/v1.0/$batch").times(1).inject(testkit::faults::Fault::status(503));
    let (source, _server) = source(&fake).await;
    let snapshot = source.snapshot(&[scope(1, "All Staff", Role::Staff)]).await.unwrap();
    assert_eq!(snapshot.people.len(), 5);
    assert_eq!(fake.counters().snapshot().throttled, 3);
}

fn uid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn counts(changes: &Changes) -> Vec<usize> {
    match changes {
        Changes::Changes { scope_counts, .. } => {
            [1, 4, 6].iter().map(|n| scope_counts[&ScopeId::new(gid(*n))]).collect()
        }
        Changes::FullResyncRequired => panic!("a full read was asked for"),
    }
}

/// Upserts as (id, scope ids).
type Upserts = Vec<(String, Vec<String>)>;

/// (upserts, removed ids, next cursor).
fn parts(changes: Changes) -> (Upserts, Vec<String>, SourceCursor) {
    match changes {
        Changes::Changes { upserts, removed, cursor, .. } => (
            upserts
                .into_iter()
                .map(|p| (p.source_id, p.scopes.into_iter().map(|s| s.as_str().to_owned()).collect()))
                .collect(),
            removed,
            cursor,
        ),
        Changes::FullResyncRequired => panic!("a full read was asked for"),
    }
}

fn pupil_scopes() -> Vec<ScopeSelection> {
    vec![scope(1, "All Staff", Role::Staff), scope(4, "Year 7", Role::Student), scope(6, "All Pupils", Role::Student)]
}

#[tokio::test]
async fn delta_follows_membership_through_nested_groups_exactly() {
    let fake = sample::fake();
    let (source, _server) = source(&fake).await;
    let scopes = pupil_scopes();
    let snapshot = source.snapshot(&scopes).await.unwrap();
    let cursor = snapshot.cursor.clone().expect("a full read arms delta");

    // Nothing changed: nothing reported, same counts.
    let nothing = source.changes(&scopes, &cursor).await.unwrap();
    assert_eq!(counts(&nothing), vec![5, 9, 13]);
    let (upserts, removed, cursor) = parts(nothing);
    assert!(upserts.is_empty() && removed.is_empty(), "{upserts:?} {removed:?}");

    // Ivo (Year 8) joins 7A, nested in Year 7: now in Year 7 too, and still in All Pupils.
    fake.add_member(&gid(2), MemberRef::User(uid(108))).unwrap();
    let joined = source.changes(&scopes, &cursor).await.unwrap();
    assert_eq!(counts(&joined), vec![5, 10, 13]);
    let (upserts, removed, cursor) = parts(joined);
    assert_eq!(upserts, vec![(uid(108), vec![gid(4), gid(6)])]);
    assert!(removed.is_empty());

    // Ruth leaves Year 7, where she was a direct member: she is still staff, and leaves All Pupils too.
    fake.remove_member(&gid(4), &MemberRef::User(uid(12))).unwrap();
    let left = source.changes(&scopes, &cursor).await.unwrap();
    assert_eq!(counts(&left), vec![5, 9, 12]);
    let (upserts, removed, cursor) = parts(left);
    assert_eq!(upserts, vec![(uid(12), vec![gid(1)])]);
    assert!(removed.is_empty());

    // Ivo leaves 7A and Year 8: in no selected group any more.
    fake.remove_member(&gid(2), &MemberRef::User(uid(108))).unwrap();
    fake.remove_member(&gid(5), &MemberRef::User(uid(108))).unwrap();
    let gone = source.changes(&scopes, &cursor).await.unwrap();
    assert_eq!(counts(&gone), vec![5, 8, 11]);
    let (upserts, removed, cursor) = parts(gone);
    assert!(upserts.is_empty(), "{upserts:?}");
    assert_eq!(removed, vec![uid(108)]);

    // A renamed member comes with the new name and their scopes; a blocked one as disabled.
    fake.update_user(&uid(10), |u| u.surname = Some("Renamed".into())).unwrap();
    fake.set_account_enabled(&uid(100), false).unwrap();
    let (upserts, removed, _) = parts(source.changes(&scopes, &cursor).await.unwrap());
    assert!(removed.is_empty());
    assert_eq!(upserts, vec![(uid(10), vec![gid(1)]), (uid(100), vec![gid(4), gid(6)])]);
    let again = source.changes(&scopes, &cursor).await.unwrap();
    let Changes::Changes { upserts, .. } = again else { panic!() };
    assert_eq!(upserts[0].family_name, "Renamed");
    assert!(!upserts[1].enabled);
}

#[tokio::test]
async fn a_change_of_nesting_or_an_expired_link_asks_for_a_full_read() {
    let fake = sample::fake();
    let (source, _server) = source(&fake).await;
    let scopes = pupil_scopes();

    let cursor = source.snapshot(&scopes).await.unwrap().cursor.unwrap();
    fake.add_member(&gid(5), MemberRef::Group(gid(3))).unwrap();
    assert_eq!(source.changes(&scopes, &cursor).await.unwrap(), Changes::FullResyncRequired);

    let cursor = source.snapshot(&scopes).await.unwrap().cursor.unwrap();
    fake.expire_delta_tokens();
    assert_eq!(source.changes(&scopes, &cursor).await.unwrap(), Changes::FullResyncRequired);

    // Other groups selected than the cursor was taken for.
    let cursor = source.snapshot(&scopes).await.unwrap().cursor.unwrap();
    assert_eq!(source.changes(&scopes[..2], &cursor).await.unwrap(), Changes::FullResyncRequired);
    // Delta off: no cursor, and changes are not supported.
    let off = source.clone().with_delta(false);
    assert!(off.snapshot(&scopes).await.unwrap().cursor.is_none());
    assert!(matches!(off.changes(&scopes, &cursor).await, Err(SourceError::ChangesUnsupported)));
}
