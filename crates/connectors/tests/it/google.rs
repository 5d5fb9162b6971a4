//! The Google source against the fake Google Directory (testkit), with the engine's conformance suite.

use connectors::google::GoogleSource;
use google_directory_client::auth::{DelegatedServiceAccount, SCOPES};
use google_directory_client::{DirectoryClient, ServiceAccountKey};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use sync_engine::conformance::{SourceFixture, check_source};
use sync_engine::model::{ConnectionId, Role, ScopeId, ScopeSelection};
use sync_engine::source::{IdentitySource, SourceError};
use testkit::faults::Fault;
use testkit::google::sample::{self, GoogleDomain};
use testkit::google::{self as fake_google, FakeGoogle};
use testkit::server::RunningServer;

fn scope(path: &str, role: Role) -> ScopeSelection {
    ScopeSelection { scope: ScopeId::new(path), name: path.into(), role }
}

async fn source(fake: &FakeGoogle, domain: &GoogleDomain) -> (GoogleSource, RunningServer) {
    let server = fake.start().await.unwrap();
    let policy = http_retry::RetryPolicy::default()
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(2))
        .jitter(false);
    let builder = DirectoryClient::builder()
        .base_url(url::Url::parse(&FakeGoogle::base_url(&server)).unwrap())
        .retry_policy(policy);
    let key = ServiceAccountKey::from_json(&fake.key_json(&server)).unwrap();
    let tokens = DelegatedServiceAccount::new(key, &domain.admin_email, SCOPES).with_retrier(builder.retrier());
    let client = builder.token_source(Arc::new(tokens)).build().unwrap();
    (GoogleSource::new(ConnectionId::new("trust-google"), client), server)
}

fn ids(domain: &GoogleDomain, path: &str) -> BTreeSet<String> {
    domain.users_under(path).iter().map(|u| u.id.clone()).collect()
}

#[tokio::test]
async fn conforms_to_the_engine_contract() {
    let (fake, domain) = sample::fake();
    let (source, _server) = source(&fake, &domain).await;
    let school = &domain.schools[0];
    let fixture = SourceFixture {
        scopes: vec![
            scope(&school.staff_path, Role::Staff),
            scope(&school.students_path, Role::Student),
            scope(&school.year_paths[0], Role::Student),
        ],
        missing_scope: Some(scope("/No Such School/Students", Role::Student)),
        expected_people: Some(ids(&domain, &school.staff_path).len() + ids(&domain, &school.students_path).len()),
    };
    let violations = check_source(&source, &fixture).await;
    assert!(violations.is_empty(), "{violations:#?}");
}

#[tokio::test]
async fn a_parent_unit_includes_its_sub_units_even_if_the_query_matched_direct_members_only() {
    let (fake, domain) = sample::fake();
    let (source, _server) = source(&fake, &domain).await;
    let school = &domain.schools[1];
    let want = ids(&domain, &school.path);
    for includes in [true, false] {
        fake.set_org_unit_query_includes_sub_units(includes);
        let snapshot = source.snapshot(&[scope(&school.path, Role::Student)]).await.unwrap();
        let got: BTreeSet<String> = snapshot.people.iter().map(|p| p.source_id.clone()).collect();
        assert_eq!(got, want, "query includes sub-units: {includes}");
        assert_eq!(snapshot.scope_counts[&ScopeId::new(&school.path)], want.len());
    }
}

#[tokio::test]
async fn suspended_and_archived_accounts_are_disabled_and_paths_match_without_case() {
    let (fake, domain) = sample::fake();
    let (source, _server) = source(&fake, &domain).await;
    let school = &domain.schools[0];
    let snapshot = source.snapshot(&[scope(&school.students_path.to_uppercase(), Role::Student)]).await.unwrap();
    let disabled: BTreeSet<String> =
        snapshot.people.iter().filter(|p| !p.enabled).map(|p| p.source_id.clone()).collect();
    let want: BTreeSet<String> =
        domain.users_under(&school.students_path).iter().filter(|u| !u.is_active()).map(|u| u.id.clone()).collect();
    assert_eq!(disabled, want);
    assert_eq!(want.len(), 2);
    let p = &snapshot.people[0];
    assert!(p.email.as_deref().is_some_and(|e| e.ends_with("@trust.example.org")));
    assert!(!p.given_name.is_empty() && !p.family_name.is_empty());
}

#[tokio::test]
async fn throttling_and_server_errors_are_absorbed_by_the_retry_policy() {
    let (fake, domain) = sample::fake();
    let (source, _server) = source(&fake, &domain).await;
    fake.faults().on("GET", "/admin/directory/v1/users").times(3).inject(fake_google::user_rate_limit_fault());
    fake.faults().on("GET", "/admin/directory/v1/customer/").times(1).inject(Fault::status(503));
    let school = &domain.schools[0];
    let snapshot = source.snapshot(&[scope(&school.staff_path, Role::Staff)]).await.unwrap();
    assert_eq!(snapshot.people.len(), ids(&domain, &school.staff_path).len());
}

#[tokio::test]
async fn a_refused_delegation_is_an_access_error() {
    let (fake, domain) = sample::fake();
    let (source, _server) = source(&fake, &domain).await;
    fake.revoke_delegation(sample::SERVICE_ACCOUNT_CLIENT_ID);
    let err = source.snapshot(&[scope("/", Role::Staff)]).await.unwrap_err();
    assert!(matches!(err, SourceError::Access(_)), "{err}");
}
