//! `GET /me` and `GET /organisations`, with paging.

use crate::{Fake, query};
use futures::{StreamExt, TryStreamExt};
use secure_schools_client::{Error, MembershipRole, Organisation};
use serde_json::json;
use wiremock::matchers::{bearer_token, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn me_is_typed_and_unknown_roles_do_not_fail_decoding() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path("/me"))
        .and(bearer_token(crate::TOKEN))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "p-1",
            "email": "it.admin@trust.example",
            "name": "IT Admin",
            "memberships": [
                {"organisation_id": "org-1", "role": "admin"},
                {"organisation_id": "org-2", "role": "member"},
                {"organisation_id": "org-3", "role": "owner"}
            ],
            "a_field_added_later": true
        })))
        .expect(1)
        .mount(&fake.server)
        .await;
    let me = fake.client.me().await.unwrap();
    assert_eq!(me.email, "it.admin@trust.example");
    assert!(me.is_admin_of("org-1"));
    assert!(!me.is_admin_of("org-2"));
    assert_eq!(me.role_in("org-3"), Some(&MembershipRole::Other("owner".into())));
    assert_eq!(me.role_in("org-4"), None);
    fake.requests().await;
}

fn org(id: &str) -> serde_json::Value {
    json!({"id": id, "name": format!("School {id}"), "urn": format!("1{id}")})
}

/// Three pages; the cursors hold characters that must be encoded in a query and come back exactly. The last page
/// is expected `last` times.
async fn three_pages(fake: &Fake, last: u64) {
    Mock::given(method("GET"))
        .and(path("/organisations"))
        .and(query_param_is_missing("cursor"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [org("1"), org("2")], "next_cursor": "c2+/=&x y"})),
        )
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/organisations"))
        .and(query_param("cursor", "c2+/=&x y"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [org("3")], "next_cursor": "page-3"})))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/organisations"))
        .and(query_param("cursor", "page-3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [org("4")], "next_cursor": null})))
        .expect(last)
        .mount(&fake.server)
        .await;
}

#[tokio::test]
async fn organisations_stream_follows_every_cursor_exactly_until_null() {
    let fake = Fake::start().await;
    three_pages(&fake, 1).await;
    let orgs: Vec<Organisation> = fake.client.organisations().try_collect().await.unwrap();
    assert_eq!(orgs.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["1", "2", "3", "4"]);
    assert_eq!(orgs[0].urn, "11");
    let requests = fake.requests().await;
    let cursors: Vec<Option<String>> = requests.iter().map(|r| query(r, "cursor")).collect();
    assert_eq!(cursors, [None, Some("c2+/=&x y".to_owned()), Some("page-3".to_owned())]);
}

#[tokio::test]
async fn organisation_pages_are_also_available_as_pages() {
    let fake = Fake::start().await;
    three_pages(&fake, 2).await;
    let pages: Vec<_> = fake.client.organisation_pages().try_collect().await.unwrap();
    assert_eq!(pages.iter().map(|p| p.data.len()).collect::<Vec<_>>(), [2, 1, 1]);
    assert_eq!(pages[0].next_cursor.as_deref(), Some("c2+/=&x y"));
    assert_eq!(pages[2].next_cursor, None);
    // One page by hand, from a cursor.
    let page = fake.client.organisations_page(Some("page-3")).await.unwrap();
    assert_eq!(page.data[0].id, "4");
}

#[tokio::test]
async fn every_page_request_goes_through_the_retrier() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path("/organisations"))
        .and(query_param_is_missing("cursor"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [org("1")], "next_cursor": "n"})))
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/organisations"))
        .and(query_param("cursor", "n"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/organisations"))
        .and(query_param("cursor", "n"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [org("2")], "next_cursor": null})))
        .mount(&fake.server)
        .await;
    let orgs: Vec<_> = fake.client.organisations().try_collect().await.unwrap();
    assert_eq!(orgs.len(), 2);
    assert_eq!(fake.waits().len(), 2, "the second page was retried twice");
    assert_eq!(fake.requests().await.len(), 4);
}

#[tokio::test]
async fn a_cursor_that_repeats_ends_the_stream_with_an_error_instead_of_looping() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path("/organisations"))
        .and(query_param_is_missing("cursor"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [org("1")], "next_cursor": "same"})))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/organisations"))
        .and(query_param("cursor", "same"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [org("2")], "next_cursor": "same"})))
        .expect(1)
        .mount(&fake.server)
        .await;
    let items: Vec<Result<Organisation, Error>> = fake.client.organisations().collect().await;
    assert_eq!(items.len(), 3, "two organisations, then the error: {items:?}");
    let err = items[2].as_ref().unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err}");
    assert!(err.to_string().contains("repeats"), "{err}");
}
