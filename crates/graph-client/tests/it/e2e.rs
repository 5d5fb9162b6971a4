//! End to end against testkit's fake Microsoft Graph: our sign-in flows, paging, delta, `$batch` and retry policy
//! meet a server that behaves as Microsoft documents, with state, throttling and faults. Waits are never slept:
//! the retrier's sleeper records them and moves the fake's clock instead.

use futures::TryStreamExt;
use graph_client::auth::{
    AuthError, ClientCredentials, DeviceCodeFlow, MemoryTokenStore, RefreshTokenSource, TokenSource, TokenStore,
};
use graph_client::{Cloud, DeltaStart, GraphClient, GroupQuery, Tenant};
use http_retry::{RetryPolicy, Sleeper};
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::faults::Fault;
use testkit::graph::{FakeGraph, ThrottleLimit, sample};
use testkit::server::RunningServer;
use testkit::synthetic::model::{DirectoryGroup, DirectoryGroupKind, DirectoryUser, MemberRef};

const ALL_STAFF: &str = "00000000-0000-4000-9000-000000000001";
const YEAR_7: &str = "00000000-0000-4000-9000-000000000004";

fn uid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn cloud(server: &RunningServer) -> Cloud {
    Cloud::Custom { authority: FakeGraph::authority_url(server), graph: FakeGraph::graph_url(server) }
}

fn tenant(fake: &FakeGraph) -> Tenant {
    Tenant::new(fake.tenant_id()).unwrap()
}

/// A sleeper that records each wait and moves the fake's clock by it, so Retry-After and polling intervals pass
/// instantly and deterministically.
fn clock_sleeper(fake: &FakeGraph) -> (Sleeper, Arc<Mutex<Vec<Duration>>>) {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let (w, f) = (waits.clone(), fake.clone());
    let sleeper: Sleeper = Arc::new(move |d| {
        w.lock().unwrap().push(d);
        f.advance_clock(d);
        Box::pin(async {})
    });
    (sleeper, waits)
}

fn app_tokens(fake: &FakeGraph, server: &RunningServer) -> Arc<ClientCredentials> {
    Arc::new(ClientCredentials::new(
        cloud(server),
        tenant(fake),
        sample::CLIENT_ID,
        SecretString::from(sample::CLIENT_SECRET.to_owned()),
    ))
}

fn client_with(server: &RunningServer, tokens: Arc<dyn TokenSource>, sleeper: Sleeper) -> GraphClient {
    GraphClient::builder()
        .cloud(cloud(server))
        .token_source(tokens)
        .retry_policy(RetryPolicy::default().jitter(false))
        .sleeper(sleeper)
        .build()
        .unwrap()
}

async fn setup() -> (FakeGraph, RunningServer, GraphClient, Arc<Mutex<Vec<Duration>>>) {
    let fake = sample::fake();
    let server = fake.start().await.unwrap();
    let (sleeper, waits) = clock_sleeper(&fake);
    let client = client_with(&server, app_tokens(&fake, &server), sleeper);
    (fake, server, client, waits)
}

/// 1,300 users in two overlapping groups nested in a third: more than one page of 999 transitive members.
fn add_big_group(fake: &FakeGraph) -> String {
    let user = |n: u32| DirectoryUser {
        id: format!("10000000-0000-4000-8000-{n:012}"),
        user_principal_name: format!("pupil{n}@northfield.example"),
        mail: Some(format!("pupil{n}@northfield.example")),
        given_name: Some("Pupil".into()),
        surname: Some(n.to_string()),
        display_name: format!("Pupil {n}"),
        account_enabled: true,
        job_title: None,
        department: Some("Year 9".into()),
        employee_id: None,
        user_type: "Member".into(),
    };
    for n in 0..1300 {
        fake.add_user(user(n));
    }
    let group = |id: &str, name: &str, members: Vec<MemberRef>| DirectoryGroup {
        id: id.into(),
        display_name: name.into(),
        description: None,
        mail: None,
        kind: DirectoryGroupKind::Security,
        membership_rule: None,
        members,
    };
    let u = |n: u32| MemberRef::User(format!("10000000-0000-4000-8000-{n:012}"));
    fake.add_group(group("big-b", "Year 9 Band B", (0..700).map(u).collect()));
    fake.add_group(group("big-c", "Year 9 Band C", (600..1300).map(u).collect()));
    fake.add_group(group(
        "big-a",
        "Year 9",
        vec![MemberRef::Group("big-b".into()), MemberRef::Group("big-c".into()), u(5)],
    ));
    "big-a".into()
}

#[tokio::test]
async fn client_credentials_sign_in_at_the_fake_token_endpoint() {
    let (fake, server, client, _) = setup().await;
    let tokens = app_tokens(&fake, &server);
    assert!(!tokens.token().await.unwrap().secret().is_empty());
    let org = client.organization().await.unwrap();
    assert_eq!(org[0].id, sample::TENANT_ID);
    assert!(org[0].verified_domains.iter().any(|d| d.name == "northfield.example"));

    // A wrong secret is refused with the identity platform's codes.
    let wrong =
        ClientCredentials::new(cloud(&server), tenant(&fake), sample::CLIENT_ID, SecretString::from("nope".to_owned()));
    match wrong.token().await.unwrap_err() {
        AuthError::Refused { error, codes, .. } => {
            assert_eq!(error, "invalid_client");
            assert_eq!(codes, [7000215]);
        }
        other => panic!("expected a refusal, got {other}"),
    }
}

#[tokio::test]
async fn transitive_members_of_a_nested_group_over_several_pages() {
    let (fake, _server, client, _) = setup().await;
    let big = add_big_group(&fake);
    let pages: Vec<_> = client.transitive_member_pages(&big).try_collect().await.unwrap();
    assert_eq!(pages.iter().map(|p| p.value.len()).collect::<Vec<_>>(), [999, 301]);
    assert_eq!(pages[0].count, Some(1300), "@odata.count: the client sends $count with ConsistencyLevel");
    let ids: BTreeSet<String> = pages.iter().flat_map(|p| p.value.iter().map(|u| u.id().to_owned())).collect();
    assert_eq!(ids.len(), 1300, "each user once, though two groups hold some of them");
    assert!(pages.iter().flat_map(|p| &p.value).all(|u| u.account_enabled() == Some(true)));
    let counts = fake.counters().snapshot();
    assert_eq!(counts.endpoint("GET /v1.0/groups/{id}/transitiveMembers/{cast}"), 2, "the lower bound: 2 pages");
    assert_eq!(counts.endpoint("POST /{tenant}/oauth2/v2.0/token"), 1, "one token for every page");

    // The sample's nesting, through the typed stream.
    let year7: BTreeSet<String> =
        client.transitive_members(YEAR_7).map_ok(|u| u.id().to_owned()).try_collect().await.unwrap();
    assert_eq!(year7, (100..108).map(uid).chain([uid(12)]).collect());
}

#[tokio::test]
async fn a_revoked_token_mid_paging_is_recovered_by_one_refresh() {
    let (fake, _server, client, _) = setup().await;
    let big = add_big_group(&fake);
    let mut pages = std::pin::pin!(client.transitive_member_pages(&big));
    let first = pages.try_next().await.unwrap().unwrap();
    assert_eq!(first.value.len(), 999);
    fake.revoke_tokens();
    let second = pages.try_next().await.unwrap().unwrap();
    assert_eq!(second.value.len(), 301);
    assert!(pages.try_next().await.unwrap().is_none());
    let counts = fake.counters().snapshot();
    assert_eq!(counts.endpoint("POST /{tenant}/oauth2/v2.0/token"), 2, "one new token");
    assert_eq!(counts.endpoint("GET /v1.0/groups/{id}/transitiveMembers/{cast}"), 3, "one page asked twice");
    assert_eq!(counts.errors, 1, "one 401");
}

#[tokio::test]
async fn users_delta_round_then_a_change_then_the_next_round() {
    let (fake, _server, client, _) = setup().await;
    fake.set_delta_page_size(5, 100);
    let pages: Vec<_> = client.users_delta(DeltaStart::Full).try_collect().await.unwrap();
    assert_eq!(pages.len(), 4);
    assert_eq!(pages.iter().map(|p| p.value.len()).sum::<usize>(), 17);
    let link = pages.last().unwrap().delta_link.clone().unwrap();

    fake.update_user(&uid(10), |u| u.given_name = Some("Samuel".into())).unwrap();
    // Not a property the round selects (`SYNC_USER_SELECT`): not reported.
    fake.update_user(&uid(13), |u| u.job_title = Some("Head of Maths".into())).unwrap();
    fake.set_account_enabled(&uid(11), false).unwrap();
    fake.delete_user(&uid(100)).unwrap();
    fake.purge_user(&uid(101)).unwrap();

    let pages: Vec<_> = client.users_delta(DeltaStart::Resume(link)).try_collect().await.unwrap();
    let changed: Vec<_> = pages.iter().flat_map(|p| p.value.clone()).collect();
    assert_eq!(changed.len(), 4);
    let find = |id: &str| changed.iter().find(|u| u.user.id() == id).unwrap();
    assert_eq!(find(&uid(10)).user.given_name(), Some("Samuel"));
    assert_eq!(find(&uid(11)).user.account_enabled(), Some(false));
    assert_eq!(find(&uid(100)).removed.as_ref().unwrap().reason.as_deref(), Some("changed"));
    assert_eq!(find(&uid(101)).removed.as_ref().unwrap().reason.as_deref(), Some("deleted"));

    // From now: nothing, then only what happens next.
    let pages: Vec<_> = client.users_delta(DeltaStart::Latest).try_collect().await.unwrap();
    assert!(pages[0].value.is_empty());
    fake.update_user(&uid(12), |u| u.surname = Some("Byrne-Jones".into())).unwrap();
    let next: Vec<_> =
        client.users_delta(DeltaStart::Resume(pages[0].delta_link.clone().unwrap())).try_collect().await.unwrap();
    assert_eq!(next.iter().flat_map(|p| &p.value).map(|u| u.user.id().to_owned()).collect::<Vec<_>>(), [uid(12)]);
}

#[tokio::test]
async fn groups_delta_merges_members_spread_over_pages_and_reports_member_changes() {
    let (fake, _server, client, _) = setup().await;
    fake.set_delta_page_size(4, 3);
    let first = client.groups_delta(DeltaStart::Full).await.unwrap();
    assert_eq!(first.changes.len(), 10);
    let staff = &first.changes[ALL_STAFF];
    assert_eq!(staff.group.display_name.as_deref(), Some("All Staff"));
    assert_eq!(staff.users_added, [1, 10, 11, 12, 13].into_iter().map(uid).collect(), "5 members over 2 pages");
    let year7 = &first.changes[YEAR_7];
    assert_eq!(year7.others_added.len(), 2, "nested groups are reported, not expanded");
    assert!(
        first.changes["00000000-0000-4000-9000-000000000009"].group.kind() == graph_client::GroupKind::Microsoft365
    );

    fake.remove_member(ALL_STAFF, &MemberRef::User(uid(13))).unwrap();
    fake.add_member(ALL_STAFF, MemberRef::User(uid(110))).unwrap();
    fake.delete_group("00000000-0000-4000-9000-000000000008").unwrap();
    let next = client.groups_delta(DeltaStart::Resume(first.delta_link)).await.unwrap();
    assert_eq!(next.changes.len(), 2, "{:?}", next.changes.keys());
    let staff = &next.changes[ALL_STAFF];
    assert_eq!(staff.users_added, BTreeSet::from([uid(110)]));
    assert_eq!(staff.users_removed, BTreeSet::from([uid(13)]));
    assert_eq!(
        next.changes["00000000-0000-4000-9000-000000000008"].removed.as_ref().unwrap().reason.as_deref(),
        Some("deleted")
    );
}

#[tokio::test]
async fn an_expired_delta_link_requires_a_resync() {
    let (fake, _server, client, _) = setup().await;
    let pages: Vec<_> = client.users_delta(DeltaStart::Full).try_collect().await.unwrap();
    let link = pages.last().unwrap().delta_link.clone().unwrap();
    fake.expire_delta_tokens();
    let err = client.users_delta(DeltaStart::Resume(link)).try_collect::<Vec<_>>().await.unwrap_err();
    assert!(err.is_resync_required(), "{err}");
    let groups = client.groups_delta(DeltaStart::Full).await.unwrap();
    fake.advance_clock(Duration::from_secs(8 * 24 * 3600));
    let err = client.groups_delta(DeltaStart::Resume(groups.delta_link)).await.unwrap_err();
    assert!(err.is_resync_required(), "{err}");
}

#[tokio::test]
async fn a_burst_of_429s_is_absorbed_by_the_retry_policy() {
    let (fake, _server, client, waits) = setup().await;
    fake.faults().on("GET", "/v1.0/groups/").times(3).inject(Fault::throttle(2));
    let group = client.group(ALL_STAFF).await.unwrap();
    assert_eq!(group.display_name.as_deref(), Some("All Staff"));
    assert_eq!(fake.counters().snapshot().throttled, 3);
    assert_eq!(*waits.lock().unwrap(), vec![Duration::from_secs(2); 3], "Retry-After honoured");
}

#[tokio::test]
async fn the_resource_unit_bucket_throttles_and_the_client_waits_it_out() {
    let (fake, _server, client, waits) = setup().await;
    // 10 units per 10 s; a GET group with $select costs 1 unit.
    fake.set_throttle_limit(ThrottleLimit::Custom { units: 10, per: Duration::from_secs(10) });
    for _ in 0..15 {
        client.group(ALL_STAFF).await.unwrap();
    }
    let throttled = fake.counters().snapshot().throttled;
    assert_eq!(throttled, 5, "one unit a second refills one request per wait");
    assert_eq!(*waits.lock().unwrap(), vec![Duration::from_secs(1); 5]);
}

#[tokio::test]
async fn device_code_sign_in_with_a_scripted_approval_then_refresh_with_rotation() {
    let fake = sample::fake();
    let server = fake.start().await.unwrap();
    let cloud = cloud(&server);
    let scopes = vec![cloud.scope("User.Read"), cloud.scope("Directory.Read.All")];
    // The "user" approves on the other device while the client waits for the first interval.
    let (sleeper, waits) = {
        let waits = Arc::new(Mutex::new(Vec::new()));
        let (w, f) = (waits.clone(), fake.clone());
        let sleeper: Sleeper = Arc::new(move |d| {
            w.lock().unwrap().push(d);
            f.advance_clock(d);
            for code in f.pending_user_codes() {
                f.approve_device_code(&code, "admin@northfield.example").unwrap();
            }
            Box::pin(async {})
        });
        (sleeper, waits)
    };
    let flow = DeviceCodeFlow::new(cloud.clone(), tenant(&fake), sample::PUBLIC_CLIENT_ID, scopes.clone())
        .with_sleeper(sleeper);
    let prompt = flow.start().await.unwrap();
    assert!(prompt.to_string().contains(&prompt.user_code));
    assert_eq!(prompt.interval, Duration::from_secs(5));
    let signed_in = flow.wait(&prompt).await.unwrap();
    assert_eq!(*waits.lock().unwrap(), vec![Duration::from_secs(5)], "pending once, then the tokens");
    let first_refresh = signed_in.refresh.as_ref().unwrap().expose_secret().to_owned();

    let store = Arc::new(MemoryTokenStore::default());
    let source = Arc::new(
        RefreshTokenSource::from_sign_in(
            signed_in,
            cloud.clone(),
            tenant(&fake),
            sample::PUBLIC_CLIENT_ID,
            scopes.clone(),
            store.clone(),
        )
        .await
        .unwrap(),
    );
    let (sleeper, _) = clock_sleeper(&fake);
    let client = client_with(&server, source, sleeper);
    let me = client.me().await.unwrap();
    assert_eq!(me.id(), sample::ADMIN_ID);
    let roles: BTreeSet<String> =
        client.my_directory_roles().await.unwrap().into_iter().filter_map(|r| r.role_template_id).collect();
    assert_eq!(
        roles,
        BTreeSet::from([
            sample::APPLICATION_ADMINISTRATOR.to_owned(),
            sample::CLOUD_APPLICATION_ADMINISTRATOR.to_owned()
        ])
    );

    // An hour later the fake refuses the access token; the client refreshes once (rotating the refresh token)
    // and carries on.
    fake.advance_clock(Duration::from_secs(3600));
    assert_eq!(client.me().await.unwrap().id(), sample::ADMIN_ID);
    let rotated = store.load().await.unwrap().unwrap().expose_secret().to_owned();
    assert_ne!(rotated, first_refresh);
    assert_eq!(fake.counters().snapshot().endpoint("POST /{tenant}/oauth2/v2.0/token"), 3, "two polls, one refresh");

    // The spent refresh token no longer works: sign in again.
    let stale = RefreshTokenSource::new(
        cloud,
        tenant(&fake),
        sample::PUBLIC_CLIENT_ID,
        scopes,
        Arc::new(MemoryTokenStore::with(SecretString::from(first_refresh))),
    );
    assert!(matches!(stale.token().await.unwrap_err(), AuthError::SignInRequired { .. }));
}

#[tokio::test]
async fn a_declined_device_code_sign_in_is_typed() {
    let fake = sample::fake();
    let server = fake.start().await.unwrap();
    let f = fake.clone();
    let sleeper: Sleeper = Arc::new(move |d| {
        f.advance_clock(d);
        for code in f.pending_user_codes() {
            f.decline_device_code(&code).unwrap();
        }
        Box::pin(async {})
    });
    let flow = DeviceCodeFlow::new(cloud(&server), tenant(&fake), sample::PUBLIC_CLIENT_ID, vec!["User.Read".into()])
        .with_sleeper(sleeper);
    let prompt = flow.start().await.unwrap();
    assert!(matches!(flow.wait(&prompt).await.unwrap_err(), AuthError::Declined));
}

#[tokio::test]
async fn groups_by_id_in_a_batch_with_a_missing_id() {
    let (fake, _server, client, _) = setup().await;
    let ids = vec![ALL_STAFF.to_owned(), "missing".to_owned(), YEAR_7.to_owned()];
    let results = client.groups_by_id(&ids).await.unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap().display_name.as_deref(), Some("All Staff"));
    assert!(results[1].as_ref().unwrap_err().is_not_found());
    assert_eq!(results[2].as_ref().unwrap().id, YEAR_7);
    assert_eq!(fake.counters().snapshot().endpoint("POST /v1.0/$batch"), 1);
}

#[tokio::test]
async fn group_queries_search_and_filter() {
    let (_fake, _server, client, _) = setup().await;
    let found: BTreeSet<String> = client
        .groups(GroupQuery::Search("year".into()))
        .map_ok(|g| g.display_name.unwrap_or_default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(found, BTreeSet::from(["Year 7".to_owned(), "Year 8".to_owned(), "Year 8 (dynamic)".to_owned()]));
    let found: Vec<_> = client.groups(GroupQuery::NameStartsWith("7".into())).try_collect().await.unwrap();
    assert_eq!(found.len(), 2);
    let all: Vec<_> = client.groups(GroupQuery::All).try_collect().await.unwrap();
    assert!(all.iter().any(|g| g.is_dynamic()));
}
