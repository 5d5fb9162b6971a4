//! `users.list` and `orgunits.list` against the fake, and the exact request shape against wiremock.

use crate::common::{client, fast_retry};
use futures::TryStreamExt;
use google_directory_client::auth::StaticToken;
use google_directory_client::{Account, DirectoryClient, USER_FIELDS, UserQuery, org_unit_query};
use std::collections::BTreeSet;
use std::sync::Arc;
use testkit::faults::Fault;
use testkit::google::{self, sample};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn a_parent_unit_includes_its_sub_units() {
    let (fake, domain) = sample::fake();
    let server = fake.start().await.unwrap();
    let (client, _) = client(&server, &fake, &domain.admin_email);
    let school = &domain.schools[0];
    let users: Vec<_> = client.users_in_org_unit(&school.students_path).try_collect().await.unwrap();
    let want: BTreeSet<_> = domain.users_under(&school.students_path).iter().map(|u| u.id.clone()).collect();
    let got: BTreeSet<_> = users.iter().map(|u| u.id.clone()).collect();
    assert_eq!(got, want);
    assert!(users.iter().any(|u| u.org_unit_path.as_deref() == Some(school.year_paths[0].as_str())));
    let suspended = users.iter().filter(|u| !u.is_active()).count();
    assert_eq!(suspended, 2, "one suspended, one archived pupil");
}

#[tokio::test]
async fn every_page_is_followed_and_pages_are_retried_when_throttled() {
    let (fake, domain) = sample::fake();
    let server = fake.start().await.unwrap();
    let (client, stats) = client(&server, &fake, &domain.admin_email);
    fake.faults().on("GET", "/admin/directory/v1/users").after(1).times(2).inject(google::user_rate_limit_fault());
    fake.faults().on("GET", "/admin/directory/v1/users").after(2).times(1).inject(google::quota_exceeded_fault());
    fake.faults().on("GET", "/admin/directory/v1/users").after(3).times(1).inject(Fault::status(503));
    let query = UserQuery::org_unit(&domain.schools[0].path).max_results(4);
    let pages: Vec<_> = client.user_pages(query).try_collect().await.unwrap();
    let total: usize = pages.iter().map(|p| p.users.len()).sum();
    assert_eq!(total, domain.users_under(&domain.schools[0].path).len());
    assert!(pages.len() > 3);
    let s = stats.snapshot();
    assert_eq!(s.throttled, 3, "{s:?}");
    assert_eq!(s.retries, 4, "{s:?}");
}

#[tokio::test]
async fn a_reset_mid_page_is_retried_and_a_malformed_page_names_the_json_path() {
    let (fake, domain) = sample::fake();
    let server = fake.start().await.unwrap();
    let (client, _) = client(&server, &fake, &domain.admin_email);
    fake.faults().on("GET", "/admin/directory/v1/users").after(1).times(1).inject(Fault::ResetMidBody);
    let users: Vec<_> =
        client.users(UserQuery::org_unit(&domain.schools[0].path).max_results(5)).try_collect().await.unwrap();
    assert_eq!(users.len(), domain.users_under(&domain.schools[0].path).len());

    fake.faults().on("GET", "/admin/directory/v1/users").times(1).inject(Fault::MalformedJson);
    let err = client.users_in_org_unit("/").try_collect::<Vec<_>>().await.unwrap_err();
    assert!(matches!(err, google_directory_client::DirectoryError::Decode { .. }), "{err}");
}

#[tokio::test]
async fn org_units_are_listed_and_a_missing_unit_is_not_found() {
    let (fake, domain) = sample::fake();
    let server = fake.start().await.unwrap();
    let (client, _) = client(&server, &fake, &domain.admin_email);
    let units = client.org_units().await.unwrap();
    let paths: BTreeSet<_> = units.iter().map(|u| u.org_unit_path.clone()).collect();
    let want: BTreeSet<_> = domain.org_units.iter().map(|u| u.path.clone()).collect();
    assert_eq!(paths, want);
    let year7 = units.iter().find(|u| u.org_unit_path == domain.schools[0].year_paths[0]).unwrap();
    assert_eq!(year7.parent_org_unit_path.as_deref(), Some(domain.schools[0].students_path.as_str()));
    let err = client.users_in_org_unit("/No Such School").try_collect::<Vec<_>>().await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn an_admin_without_rights_is_forbidden_not_throttled() {
    let (fake, domain) = sample::fake();
    let server = fake.start().await.unwrap();
    let governor = domain.users.iter().find(|u| u.org_unit_path == "/Governors").unwrap();
    let (client, _) = client(&server, &fake, &governor.primary_email);
    let err = client.org_units().await.unwrap_err();
    assert!(err.is_forbidden() && !err.is_throttled(), "{err}");
}

#[tokio::test]
async fn requests_carry_customer_page_size_query_fields_and_page_token() {
    let server = MockServer::start().await;
    let page1 = serde_json::json!({"users": [{"id": "1", "primaryEmail": "a@x.org", "name": {"givenName": "A"},
        "suspended": false, "orgUnitPath": "/S/Year 7"}], "nextPageToken": "tok-2"});
    let page2 = serde_json::json!({"users": [{"id": "2", "primaryEmail": "b@x.org", "archived": true}]});
    Mock::given(method("GET"))
        .and(path("/admin/directory/v1/users"))
        .and(query_param("domain", "x.org"))
        .and(query_param("maxResults", "500"))
        .and(query_param("query", "orgUnitPath='/St Aidan\\'s/Students'"))
        .and(query_param("fields", USER_FIELDS))
        .and(query_param("pageToken", "tok-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page2))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/admin/directory/v1/users"))
        .and(query_param("domain", "x.org"))
        .and(query_param("maxResults", "500"))
        .and(query_param("query", "orgUnitPath='/St Aidan\\'s/Students'"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page1))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any()).respond_with(ResponseTemplate::new(418)).expect(0).mount(&server).await;
    let client = DirectoryClient::builder()
        .base_url(url::Url::parse(&server.uri()).unwrap())
        .account(Account::Domain("x.org".into()))
        .retry_policy(fast_retry())
        .token_source(Arc::new(StaticToken::new("t".to_owned().into())))
        .build()
        .unwrap();
    let users: Vec<_> = client.users_in_org_unit("/St Aidan's/Students").try_collect().await.unwrap();
    assert_eq!(users.len(), 2);
    assert!(users[0].is_active() && !users[1].is_active());
    assert_eq!(org_unit_query("/St Aidan's/Students"), "orgUnitPath='/St Aidan\\'s/Students'");
}

#[tokio::test]
async fn a_wrong_type_in_a_page_names_its_json_path() {
    let server = MockServer::start().await;
    Mock::given(path("/admin/directory/v1/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"users": [
            {"id": "1"}, {"id": "2", "suspended": "yes"}]})))
        .mount(&server)
        .await;
    let client = DirectoryClient::builder()
        .base_url(url::Url::parse(&server.uri()).unwrap())
        .token_source(Arc::new(StaticToken::new("t".to_owned().into())))
        .build()
        .unwrap();
    let err = client.users_in_org_unit("/").try_collect::<Vec<_>>().await.unwrap_err();
    match err {
        google_directory_client::DirectoryError::Decode { json_path, .. } => {
            assert_eq!(json_path, "users[1].suspended")
        }
        other => panic!("{other}"),
    }
}
