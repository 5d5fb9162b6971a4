//! Users of an organisation: paging, query parameters, create, update, delete, path escaping.

use crate::{Fake, error_body, query, user};
use chrono::{TimeZone, Utc};
use futures::{StreamExt, TryStreamExt};
use secure_schools_client::{Error, InvalidInput, NewUser, User, UserPatch, UserRole, UserStatus, UsersQuery};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn users_stream_pages_with_updated_since_and_limit_on_every_page() {
    let fake = Fake::start().await;
    let since = Utc.with_ymd_and_hms(2025, 9, 1, 6, 0, 0).unwrap();
    let pages = [
        (None, vec![user("u1", "a@s.example"), user("u2", "b@s.example")], Some("eyJvZmZzZXQiOjJ9")),
        (Some("eyJvZmZzZXQiOjJ9"), vec![user("u3", "c@s.example")], Some("opaque/3?x=1")),
        (Some("opaque/3?x=1"), vec![user("u4", "d@s.example")], None),
    ];
    for (cursor, data, next) in pages {
        let mock = Mock::given(method("GET"))
            .and(path("/organisations/org-1/users"))
            .and(query_param("limit", "2"))
            .and(query_param("updated_since", "2025-09-01T06:00:00Z"));
        let mock = match cursor {
            None => mock.and(query_param_is_missing("cursor")),
            Some(c) => mock.and(query_param("cursor", c)),
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": data, "next_cursor": next})))
            .expect(1)
            .mount(&fake.server)
            .await;
    }
    let users: Vec<User> =
        fake.client.users("org-1", UsersQuery::new().updated_since(since).limit(2)).try_collect().await.unwrap();
    assert_eq!(users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), ["u1", "u2", "u3", "u4"]);
    let u = &users[0];
    assert_eq!(u.role, UserRole::Staff);
    assert_eq!(u.status, UserStatus::Active);
    assert_eq!(u.external_id.as_deref(), Some("entra:u1"));
    assert!(u.managed_by_sync);
    assert_eq!(u.updated_at, Utc.with_ymd_and_hms(2025, 9, 1, 8, 30, 0).unwrap());
    let cursors: Vec<_> = fake.requests().await.iter().map(|r| query(r, "cursor")).collect();
    assert_eq!(cursors, [None, Some("eyJvZmZzZXQiOjJ9".into()), Some("opaque/3?x=1".into())]);
}

#[tokio::test]
async fn without_a_query_no_parameters_are_sent_and_nullable_fields_may_be_null() {
    let fake = Fake::start().await;
    let mut u = user("u1", "a@s.example");
    u["external_id"] = json!(null);
    u["role"] = json!("volunteer");
    Mock::given(method("GET"))
        .and(path("/organisations/org-1/users"))
        .and(query_param_is_missing("limit"))
        .and(query_param_is_missing("updated_since"))
        .and(query_param_is_missing("cursor"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [u], "next_cursor": null})))
        .expect(1)
        .mount(&fake.server)
        .await;
    let page = fake.client.users_page("org-1", &UsersQuery::new(), None).await.unwrap();
    assert_eq!(page.data[0].external_id, None);
    assert_eq!(page.data[0].role, UserRole::Other("volunteer".into()));
    assert_eq!(page.next_cursor, None);
}

#[tokio::test]
async fn a_limit_out_of_range_is_refused_before_anything_is_sent() {
    let fake = Fake::start().await;
    for limit in [0, 501] {
        let items: Vec<_> = fake.client.users("org-1", UsersQuery::new().limit(limit)).collect().await;
        assert_eq!(items.len(), 1);
        assert!(
            matches!(
                items[0],
                Err(Error::InvalidInput(InvalidInput::LimitOutOfRange { limit: l, max: 500 })) if l == limit
            ),
            "{items:?}"
        );
        let err = fake.client.users_page("org-1", &UsersQuery::new().limit(limit), None).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    }
    assert!(fake.requests().await.is_empty());
}

#[tokio::test]
async fn create_user_posts_the_contract_body_and_returns_the_user() {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path("/organisations/org-1/users"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "email": "new@s.example", "first_name": "Ada", "last_name": "Lovelace", "role": "student",
            "external_id": "entra:9", "managed_by_sync": true
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(user("u9", "new@s.example")))
        .expect(1)
        .mount(&fake.server)
        .await;
    let new = NewUser::new("new@s.example", "Ada", "Lovelace", UserRole::Student).external_id("entra:9");
    let created = fake.client.create_user("org-1", &new).await.unwrap();
    assert_eq!(created.id, "u9");
    fake.requests().await;
}

#[tokio::test]
async fn create_user_is_not_retried_after_a_5xx_because_it_may_have_created() {
    let fake = Fake::start().await;
    Mock::given(method("POST"))
        .and(path("/organisations/org-1/users"))
        .respond_with(ResponseTemplate::new(503).set_body_json(error_body("internal", "try later")))
        .expect(1)
        .mount(&fake.server)
        .await;
    let new = NewUser::new("new@s.example", "Ada", "Lovelace", UserRole::Student);
    let err = fake.client.create_user("org-1", &new).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(fake.waits().is_empty());
}

#[tokio::test]
async fn update_user_patches_only_the_changed_fields() {
    let fake = Fake::start().await;
    Mock::given(method("PATCH"))
        .and(path("/organisations/org-1/users/u1"))
        .and(body_json(json!({"last_name": "Byron", "status": "suspended", "external_id": null})))
        .respond_with(ResponseTemplate::new(200).set_body_json(user("u1", "a@s.example")))
        .expect(1)
        .mount(&fake.server)
        .await;
    let patch = UserPatch::new().last_name("Byron").status(UserStatus::Suspended).external_id(None);
    let updated = fake.client.update_user("org-1", "u1", &patch).await.unwrap();
    assert_eq!(updated.id, "u1");
    fake.requests().await;
}

#[tokio::test]
async fn delete_user_and_its_not_found() {
    let fake = Fake::start().await;
    Mock::given(method("DELETE"))
        .and(path("/organisations/org-1/users/u1"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/organisations/org-1/users/gone"))
        .respond_with(ResponseTemplate::new(404).set_body_json(error_body("not_found", "no such user")))
        .expect(1)
        .mount(&fake.server)
        .await;
    fake.client.delete_user("org-1", "u1").await.unwrap();
    let err = fake.client.delete_user("org-1", "gone").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.api_failure().unwrap().code.as_deref(), Some("not_found"));
    fake.requests().await;
}

#[tokio::test]
async fn a_404_after_a_retried_delete_means_an_earlier_attempt_deleted_it() {
    let fake = Fake::start().await;
    Mock::given(method("DELETE"))
        .and(path("/organisations/org-1/users/u1"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/organisations/org-1/users/u1"))
        .respond_with(ResponseTemplate::new(404).set_body_json(error_body("not_found", "no such user")))
        .mount(&fake.server)
        .await;
    fake.client.delete_user("org-1", "u1").await.unwrap();
    assert_eq!(fake.requests().await.len(), 2);
}

#[tokio::test]
async fn ids_are_escaped_so_each_stays_one_path_segment() {
    let fake = Fake::start().await;
    Mock::given(method("PATCH"))
        .and(path("/organisations/trust%2Fschool%3Fa=1/users/u%231%2F..%25"))
        .respond_with(ResponseTemplate::new(200).set_body_json(user("u#1/..%", "a@s.example")))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/organisations/o%20x/users/batch"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&fake.server)
        .await;
    let updated =
        fake.client.update_user("trust/school?a=1", "u#1/..%", &UserPatch::new().first_name("A")).await.unwrap();
    assert_eq!(updated.id, "u#1/..%");
    // A user whose id is the literal word `batch` is still a user, addressed with DELETE.
    fake.client.delete_user("o x", "batch").await.unwrap();
    let requests = fake.requests().await;
    assert_eq!(requests[0].url.query(), None, "nothing of the id leaked into the query");
    for bad in ["", ".", ".."] {
        let err = fake.client.delete_user("org-1", bad).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput(InvalidInput::PathParameter { name: "id", .. })), "{err}");
    }
    assert_eq!(fake.requests().await.len(), 2);
}

#[tokio::test]
async fn a_base_url_with_a_path_prefixes_every_endpoint() {
    let fake = Fake::start().await;
    let client = secure_schools_client::SecureSchoolsClient::builder()
        .base_url(secure_schools_client::Url::parse(&format!("{}/api/v1/", fake.server.uri())).unwrap())
        .token(crate::TOKEN.into())
        .build()
        .unwrap();
    Mock::given(method("GET"))
        .and(path("/api/v1/organisations/org-1/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [], "next_cursor": null})))
        .expect(1)
        .mount(&fake.server)
        .await;
    let users: Vec<User> = client.users("org-1", UsersQuery::new()).try_collect().await.unwrap();
    assert!(users.is_empty());
}
