//! The fake Google Directory's documented behaviour, seen over HTTP with a real token from its token endpoint.

use google_directory_client::ServiceAccountKey;
use google_directory_client::auth::{DelegatedServiceAccount, SCOPES, TokenSource};
use serde_json::Value;
use std::time::Duration;
use testkit::google::{FakeGoogle, sample};
use testkit::server::RunningServer;

async fn token(fake: &FakeGoogle, server: &RunningServer, subject: &str) -> String {
    let key = ServiceAccountKey::from_json(&fake.key_json(server)).unwrap();
    DelegatedServiceAccount::new(key, subject, SCOPES).token().await.unwrap().secret().to_owned()
}

async fn get(server: &RunningServer, token: &str, path_and_query: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{}{path_and_query}", server.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn reason(body: &Value) -> &str {
    body["error"]["errors"][0]["reason"].as_str().unwrap_or("")
}

#[tokio::test]
async fn users_list_validates_its_parameters_as_documented() {
    let (fake, domain) = sample::fake();
    let server = fake.start().await.unwrap();
    let t = token(&fake, &server, &domain.admin_email).await;
    let (status, body) = get(&server, &t, "/admin/directory/v1/users?customer=my_customer&maxResults=501").await;
    assert_eq!((status, reason(&body)), (400, "invalid"));
    let (status, _) = get(&server, &t, "/admin/directory/v1/users").await;
    assert_eq!(status, 400, "customer or domain is required");
    let (status, body) = get(&server, &t, "/admin/directory/v1/users?customer=my_customer&fields=users(nope)").await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("Invalid field selection"));
    let (status, body) =
        get(&server, &t, "/admin/directory/v1/users?customer=my_customer&query=orgUnitPath%3D%27%2FNope%27").await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("INVALID_OU_ID"));
}

#[tokio::test]
async fn pages_follow_primary_email_order_and_tokens_belong_to_their_query() {
    let (fake, domain) = sample::fake();
    let server = fake.start().await.unwrap();
    let t = token(&fake, &server, &domain.admin_email).await;
    let (_, first) = get(
        &server,
        &t,
        "/admin/directory/v1/users?customer=my_customer&maxResults=5&fields=nextPageToken,users(primaryEmail)",
    )
    .await;
    let emails: Vec<&str> =
        first["users"].as_array().unwrap().iter().map(|u| u["primaryEmail"].as_str().unwrap()).collect();
    let mut sorted = emails.clone();
    sorted.sort_by_key(|e| e.to_lowercase());
    assert_eq!(emails, sorted);
    assert_eq!(first["users"][0].as_object().unwrap().len(), 1, "fields kept only primaryEmail");
    let next = first["nextPageToken"].as_str().unwrap();
    let (status, second) =
        get(&server, &t, &format!("/admin/directory/v1/users?customer=my_customer&maxResults=5&pageToken={next}"))
            .await;
    assert_eq!(status, 200);
    assert!(second["users"][0]["primaryEmail"].as_str().unwrap().to_lowercase() > emails[4].to_lowercase());
    let (status, _) =
        get(&server, &t, &format!("/admin/directory/v1/users?domain=trust.example.org&maxResults=5&pageToken={next}"))
            .await;
    assert_eq!(status, 400, "a token from another query is refused");
}

#[tokio::test]
async fn tokens_expire_and_the_per_user_rate_limit_answers_403() {
    let (fake, domain) = sample::fake();
    let server = fake.start().await.unwrap();
    let t = token(&fake, &server, &domain.admin_email).await;
    fake.set_user_rate_limit(Some(2));
    let url = "/admin/directory/v1/customer/my_customer/orgunits?type=all";
    assert_eq!(get(&server, &t, url).await.0, 200);
    assert_eq!(get(&server, &t, url).await.0, 200);
    let (status, body) = get(&server, &t, url).await;
    assert_eq!((status, reason(&body)), (403, "userRateLimitExceeded"));
    assert_eq!(fake.rate_limited(), 1);
    fake.advance_clock(Duration::from_secs(30));
    assert_eq!(get(&server, &t, url).await.0, 200, "the bucket refills with time");
    fake.advance_clock(Duration::from_secs(3600));
    let (status, body) = get(&server, &t, url).await;
    assert_eq!((status, reason(&body)), (401, "authError"));
}

#[tokio::test]
async fn orgunits_list_answers_children_by_default_and_everything_with_type_all() {
    let (fake, domain) = sample::fake();
    let server = fake.start().await.unwrap();
    let t = token(&fake, &server, &domain.admin_email).await;
    let (_, children) = get(&server, &t, "/admin/directory/v1/customer/my_customer/orgunits").await;
    let top: Vec<&str> =
        children["organizationUnits"].as_array().unwrap().iter().map(|u| u["orgUnitPath"].as_str().unwrap()).collect();
    assert!(top.iter().all(|p| p.matches('/').count() == 1), "{top:?}");
    let (_, all) = get(&server, &t, "/admin/directory/v1/customer/my_customer/orgunits?type=all").await;
    assert_eq!(all["organizationUnits"].as_array().unwrap().len(), domain.org_units.len());
    let (status, _) = get(&server, &t, "/admin/directory/v1/customer/my_customer/orgunits?orgUnitPath=/Nope").await;
    assert_eq!(status, 404);
}
