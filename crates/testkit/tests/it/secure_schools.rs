//! The Secure Schools fake against docs/secure-schools-api.md, at the protocol level (reqwest, no client).

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use testkit::faults::Fault;
use testkit::secure_schools::{FakeSecureSchools, Identity, NewUser, Organisation, UserRole, UserStatus};
use testkit::server::RunningServer;

const ADMIN: &str = "admin-token";
const MEMBER: &str = "member-token";
const ORG: &str = "org_st_aidans";
const OTHER: &str = "org_st_bedes";

struct Env {
    fake: FakeSecureSchools,
    server: RunningServer,
    http: reqwest::Client,
}

impl Env {
    async fn start() -> Env {
        let fake = FakeSecureSchools::new();
        fake.add_organisation(Organisation::new(ORG, "St Aidan's Primary School", "100000")).unwrap();
        fake.add_organisation(Organisation::new(OTHER, "St Bede's Academy", "100001")).unwrap();
        fake.add_identity(
            ADMIN,
            Identity::new("p_1", "it.admin@trust.example", "IT Admin").admin_of(ORG).admin_of(OTHER),
        );
        fake.add_identity(MEMBER, Identity::new("p_2", "teacher@trust.example", "Teacher").member_of(ORG));
        let server = fake.start().await.unwrap();
        Env { fake, server, http: reqwest::Client::new() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let r = self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self.http.request(method, self.url(path)).bearer_auth(ADMIN).json(&body).send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn batch(&self, key: Option<&str>, body: &Value) -> (StatusCode, Value, String) {
        let mut request = self.http.post(self.url(&format!("/organisations/{ORG}/users/batch"))).bearer_auth(ADMIN);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let r = request.json(body).send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null), text)
    }

    /// Every user of ORG through the API, following cursors; returns the users and the number of pages.
    async fn all_users(&self, query: &str) -> (Vec<Value>, usize) {
        let mut users = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut url = reqwest::Url::parse(&self.url(&format!("/organisations/{ORG}/users?{query}"))).unwrap();
            if let Some(c) = &cursor {
                url.query_pairs_mut().append_pair("cursor", c);
            }
            let r = self.http.get(url.clone()).bearer_auth(ADMIN).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{url}: {}", r.text().await.unwrap());
            let page: Value = r.json().await.unwrap();
            pages += 1;
            users.extend(page["data"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => {
                    assert_ne!(Some(next), cursor.as_deref(), "a cursor never repeats");
                    cursor = Some(next.to_owned());
                }
                None => return (users, pages),
            }
        }
    }
}

/// Whether the answer to a request breaks off: the reset may come before the client has read the headers (a short
/// body goes out in one write) or while it reads the body.
async fn broken(request: reqwest::RequestBuilder) -> bool {
    match request.send().await {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    }
}

fn seed_users(fake: &FakeSecureSchools, n: usize) {
    fake.add_users(
        ORG,
        (0..n).map(|i| NewUser::new(format!("user{i}@st-aidans.example"), "Zoë", "O'Brien", UserRole::Student)),
    )
    .unwrap();
}

fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

fn create_body(email: &str, external_id: &str) -> Value {
    json!({"email": email, "first_name": "Ada", "last_name": "Lovelace", "role": "staff",
           "external_id": external_id, "managed_by_sync": true})
}

#[tokio::test]
async fn me_answers_the_identity_and_its_memberships() {
    let env = Env::start().await;
    let (status, me) = env.get("/me", MEMBER).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        me,
        json!({"id": "p_2", "email": "teacher@trust.example", "name": "Teacher",
               "memberships": [{"organisation_id": ORG, "role": "member"}]})
    );
}

#[tokio::test]
async fn a_missing_or_unknown_token_is_401_and_a_member_is_403() {
    let env = Env::start().await;
    let r = env.http.get(env.url("/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_error(&r.json().await.unwrap(), "unauthorized");
    let (status, body) = env.get("/me", "nope").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "unauthorized");
    let (status, body) = env.get(&format!("/organisations/{ORG}/users"), MEMBER).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "forbidden");
    let (status, body) = env.get("/organisations/org_nowhere/users", ADMIN).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
    env.fake.revoke_token(ADMIN);
    let (status, _) = env.get("/me", ADMIN).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked token");
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_unknown_paths_answer_the_contract_error() {
    let env = Env::start().await;
    let r = env.http.get(env.url("/nothing/here")).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers().get("x-request-id").is_some());
    assert_error(&r.json().await.unwrap(), "not_found");
}

#[tokio::test]
async fn organisations_page_by_cursor_and_show_only_the_identitys_organisations() {
    let env = Env::start().await;
    for i in 0..5 {
        env.fake.add_organisation(Organisation::new(format!("org_z{i}"), format!("School {i}"), "1")).unwrap();
    }
    env.fake.add_identity("many", {
        let mut id = Identity::new("p_3", "x@trust.example", "X").member_of(ORG);
        for i in 0..5 {
            id = id.admin_of(format!("org_z{i}"));
        }
        id
    });
    env.fake.set_organisation_page_size(2);
    let mut seen = Vec::new();
    let mut path = "/organisations".to_owned();
    loop {
        let (status, page) = env.get(&path, "many").await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(page["data"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/organisations?cursor={}", urlencode(c)),
            None => break,
        }
    }
    assert_eq!(seen, [ORG, "org_z0", "org_z1", "org_z2", "org_z3", "org_z4"], "not OTHER: no membership there");
    let (_, page) = env.get("/organisations", MEMBER).await;
    assert_eq!(
        page,
        json!({"data": [{"id": ORG, "name": "St Aidan's Primary School", "urn": "100000"}],
                            "next_cursor": null})
    );
}

fn urlencode(s: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", [("c", s)]).unwrap().query().unwrap()[2..].to_owned()
}

#[tokio::test]
async fn users_page_with_cursors_over_several_pages_in_a_stable_order() {
    let env = Env::start().await;
    seed_users(&env.fake, 1200);
    let (users, pages) = env.all_users("limit=500").await;
    assert_eq!(pages, 3);
    assert_eq!(users.len(), 1200);
    let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
    let truth: Vec<String> = env.fake.users(ORG).into_iter().map(|u| u.id).collect();
    assert_eq!(ids, truth, "every user once, in the fake's order");
    // Default page size is 100.
    let (_, pages) = env.all_users("").await;
    assert_eq!(pages, 12);
    // An exact multiple: the last full page has no next cursor (no empty page after it).
    let (users, pages) = env.all_users("limit=400").await;
    assert_eq!((users.len(), pages), (1200, 3));
    // The user shape is exactly the contract's.
    let u = &users[0];
    let mut keys: Vec<&str> = u.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["email", "external_id", "first_name", "id", "last_name", "managed_by_sync", "role", "status", "updated_at"]
    );
    assert_eq!(u["external_id"], Value::Null);
    assert_eq!(u["managed_by_sync"], false);
    assert_eq!(u["updated_at"], "2025-09-01T08:00:00Z");
}

#[tokio::test]
async fn users_created_during_a_traversal_do_not_disturb_it() {
    let env = Env::start().await;
    seed_users(&env.fake, 10);
    let (status, first) = env.get(&format!("/organisations/{ORG}/users?limit=4"), ADMIN).await;
    assert_eq!(status, StatusCode::OK);
    seed_users_named(&env.fake, "late", 3);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (status, second) =
        env.get(&format!("/organisations/{ORG}/users?limit=4&cursor={}", urlencode(cursor)), ADMIN).await;
    assert_eq!(status, StatusCode::OK);
    let first_ids: Vec<&Value> = first["data"].as_array().unwrap().iter().map(|u| &u["id"]).collect();
    assert!(second["data"].as_array().unwrap().iter().all(|u| !first_ids.contains(&&u["id"])));
}

fn seed_users_named(fake: &FakeSecureSchools, prefix: &str, n: usize) {
    fake.add_users(ORG, (0..n).map(|i| NewUser::new(format!("{prefix}{i}@s.example"), "A", "B", UserRole::Staff)))
        .unwrap();
}

#[tokio::test]
async fn limit_out_of_range_bad_updated_since_and_bad_cursors_are_422() {
    let env = Env::start().await;
    seed_users(&env.fake, 3);
    for query in ["limit=0", "limit=501", "limit=ten", "limit=-1", "updated_since=yesterday", "cursor=bm9wZQ%3D%3D"] {
        let (status, body) = env.get(&format!("/organisations/{ORG}/users?{query}"), ADMIN).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_error(&body, "validation_failed");
        assert!(body["error"]["details"].is_object(), "{query}: {body}");
    }
    for query in ["limit=1", "limit=500"] {
        let (status, _) = env.get(&format!("/organisations/{ORG}/users?{query}"), ADMIN).await;
        assert_eq!(status, StatusCode::OK, "{query}");
    }
    // A cursor of another collection is unknown here.
    let (_, page) = env.get(&format!("/organisations/{ORG}/users?limit=1"), ADMIN).await;
    let cursor = urlencode(page["next_cursor"].as_str().unwrap());
    let (status, _) = env.get(&format!("/organisations/{OTHER}/users?cursor={cursor}"), ADMIN).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Expired cursors: start again.
    env.fake.expire_cursors();
    let (status, body) = env.get(&format!("/organisations/{ORG}/users?limit=1&cursor={cursor}"), ADMIN).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"]["cursor"], "is unknown or has expired");
}

#[tokio::test]
async fn updated_since_keeps_users_changed_at_or_after_the_instant() {
    let env = Env::start().await;
    seed_users(&env.fake, 5);
    env.fake.advance_clock(Duration::from_secs(3600));
    let at = env.fake.now();
    let victim = env.fake.users(ORG)[2].id.clone();
    let (status, _) = env
        .send(reqwest::Method::PATCH, &format!("/organisations/{ORG}/users/{victim}"), json!({"last_name": "King"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    env.fake.advance_clock(Duration::from_millis(1500));
    let (status, created) = env
        .send(reqwest::Method::POST, &format!("/organisations/{ORG}/users"), create_body("new@s.example", "entra:9"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["updated_at"], "2025-09-01T09:00:01.500Z");
    let (users, _) = env.all_users("updated_since=2025-09-01T09:00:00Z&limit=1").await;
    let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [victim.as_str(), created["id"].as_str().unwrap()]);
    assert_eq!(at.to_rfc3339(), "2025-09-01T09:00:00+00:00");
    let (users, _) = env.all_users("updated_since=2025-09-01T09:00:01Z").await;
    assert_eq!(users.len(), 1);
    // A patch that changes nothing does not move updated_at.
    env.fake.advance_clock(Duration::from_secs(60));
    let (_, same) = env
        .send(reqwest::Method::PATCH, &format!("/organisations/{ORG}/users/{victim}"), json!({"last_name": "King"}))
        .await;
    assert_eq!(same["updated_at"], "2025-09-01T09:00:00Z");
}

#[tokio::test]
async fn create_validates_fields_and_refuses_duplicates_with_409() {
    let env = Env::start().await;
    let path = format!("/organisations/{ORG}/users");
    let (status, user) = env.send(reqwest::Method::POST, &path, create_body("ada@s.example", "entra:1")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(user["status"], "active");
    assert_eq!(user["external_id"], "entra:1");
    assert_eq!(user["managed_by_sync"], true);
    assert_eq!(env.fake.user(ORG, user["id"].as_str().unwrap()).unwrap().email, "ada@s.example");

    let (status, body) = env.send(reqwest::Method::POST, &path, create_body("ADA@S.EXAMPLE", "entra:2")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "conflict");
    assert_eq!(body["error"]["details"]["existing_user_id"], user["id"]);
    let (status, body) = env.send(reqwest::Method::POST, &path, create_body("other@s.example", "entra:1")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["details"]["field"], "external_id");

    let (status, body) = env
        .send(reqwest::Method::POST, &path, json!({"email": "not an address", "first_name": "", "role": "caretaker"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "validation_failed");
    let details = body["error"]["details"].as_object().unwrap();
    for field in ["email", "first_name", "last_name", "role", "managed_by_sync"] {
        assert!(details.contains_key(field), "{field}: {body}");
    }
    let r = env.http.post(env.url(&path)).bearer_auth(ADMIN).body("{not json").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Names with apostrophes, diacritics and other scripts are fine.
    let body = json!({"email": "zoe@s.example", "first_name": "Zoë", "last_name": "O'Brien-李", "role": "student",
                      "managed_by_sync": false});
    let (status, user) = env.send(reqwest::Method::POST, &path, body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(user["last_name"], "O'Brien-李");
    assert_eq!(env.fake.users(ORG).len(), 2);
}

#[tokio::test]
async fn patch_changes_only_what_it_names_and_delete_is_204_then_404() {
    let env = Env::start().await;
    let user = env
        .fake
        .add_user(ORG, NewUser::new("ada@s.example", "Ada", "Lovelace", UserRole::Staff).managed("e:1"))
        .unwrap();
    env.fake.add_user(ORG, NewUser::new("bob@s.example", "Bob", "B", UserRole::Staff).managed("e:2")).unwrap();
    let path = format!("/organisations/{ORG}/users/{}", user.id);
    let (status, after) = env.send(reqwest::Method::PATCH, &path, json!({"last_name": "King", "role": "admin"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (after["first_name"].as_str(), after["last_name"].as_str(), after["role"].as_str()),
        (Some("Ada"), Some("King"), Some("admin"))
    );
    let (_, after) = env.send(reqwest::Method::PATCH, &path, json!({"external_id": null})).await;
    assert_eq!(after["external_id"], Value::Null);
    let (status, same) = env.send(reqwest::Method::PATCH, &path, json!({})).await;
    assert_eq!((status, &same), (StatusCode::OK, &after), "an empty patch answers the user");
    let (status, body) = env.send(reqwest::Method::PATCH, &path, json!({"email": "BOB@s.example"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "conflict");
    let (status, body) = env.send(reqwest::Method::PATCH, &path, json!({"status": "gone"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"]["status"], "must be one of active, suspended");
    let (status, _) =
        env.send(reqwest::Method::PATCH, &format!("/organisations/{ORG}/users/u_missing"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let r = env.http.delete(env.url(&path)).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = env.http.delete(env.url(&path)).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(env.fake.users(ORG).len(), 1);
    // The deleted user's email is free again.
    let (status, _) = env
        .send(reqwest::Method::POST, &format!("/organisations/{ORG}/users"), create_body("ada@s.example", "e:1"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

fn batch_body() -> Value {
    json!({"operations": [
        {"op": "create", "external_id": "entra:new", "fields": {"email": "grace@s.example", "first_name": "Grace",
            "last_name": "Hopper", "role": "student", "managed_by_sync": true}},
        {"op": "create", "external_id": "entra:dup", "fields": {"email": "ADA@s.example", "first_name": "Ada",
            "last_name": "L", "role": "staff", "managed_by_sync": true}},
        {"op": "create", "external_id": "entra:bad", "fields": {"email": "nope", "first_name": "X",
            "last_name": "Y", "role": "staff", "managed_by_sync": true}},
        {"op": "suspend", "user_id": "u_missing", "external_id": "entra:gone"},
        {"op": "teleport", "external_id": "entra:x"}
    ]})
}

#[tokio::test]
async fn a_batch_reports_per_item_results_without_failing_the_others() {
    let env = Env::start().await;
    let ada = env.fake.add_user(ORG, NewUser::new("ada@s.example", "Ada", "Lovelace", UserRole::Staff)).unwrap();
    let elsewhere = env.fake.add_user(OTHER, NewUser::new("e@s.example", "E", "E", UserRole::Staff)).unwrap();
    let mut body = batch_body();
    let ops = body["operations"].as_array_mut().unwrap();
    ops.push(json!({"op": "update", "user_id": ada.id, "external_id": "entra:ada",
                    "fields": {"external_id": "entra:ada", "managed_by_sync": true}}));
    ops.push(json!({"op": "suspend", "user_id": ada.id, "external_id": "entra:ada"}));
    ops.push(json!({"op": "suspend", "user_id": ada.id, "external_id": "entra:ada"}));
    ops.push(json!({"op": "suspend", "user_id": elsewhere.id, "external_id": "entra:e"}));
    ops.push(json!({"op": "update", "user_id": ada.id, "external_id": "entra:ada"}));
    let (status, answer, _) = env.batch(Some("key-1"), &body).await;
    assert_eq!(status, StatusCode::OK);
    let results = answer["results"].as_array().unwrap();
    let statuses: Vec<(u64, u64)> =
        results.iter().map(|r| (r["index"].as_u64().unwrap(), r["status"].as_u64().unwrap())).collect();
    assert_eq!(
        statuses,
        [(0, 201), (1, 409), (2, 422), (3, 404), (4, 422), (5, 200), (6, 200), (7, 200), (8, 422), (9, 422)]
    );
    assert_eq!(results[0]["user"]["external_id"], "entra:new");
    assert_eq!(results[0]["user"]["email"], "grace@s.example");
    assert_error(&json!({"error": results[1]["error"]}), "conflict");
    assert_eq!(results[1]["error"]["details"]["existing_user_id"], ada.id);
    assert!(results[1].get("user").is_none());
    assert_eq!(results[2]["error"]["details"]["fields.email"], "must be a valid address");
    assert_eq!(results[3]["error"]["code"], "not_found");
    assert_eq!(results[4]["error"]["details"]["op"], "must be one of create, update, suspend, reactivate");
    assert_eq!(results[6]["user"]["status"], "suspended");
    assert_eq!(results[7]["user"]["status"], "suspended", "suspending a suspended user succeeds");
    assert_eq!(results[8]["error"]["details"]["user_id"], "is not a user of this organisation");
    assert_eq!(results[9]["error"]["details"]["fields"], "is required");
    // The ground truth: Grace created, Ada adopted and suspended, nobody else.
    let users = env.fake.users(ORG);
    assert_eq!(users.len(), 2);
    let ada = env.fake.user(ORG, &ada.id).unwrap();
    assert_eq!(
        (ada.status, ada.managed_by_sync, ada.external_id.as_deref()),
        (UserStatus::Suspended, true, Some("entra:ada"))
    );
    assert_eq!(env.fake.user(OTHER, &elsewhere.id).unwrap().status, UserStatus::Active);
}

#[tokio::test]
async fn a_repeated_key_replays_the_stored_answer_and_applies_once() {
    let env = Env::start().await;
    env.fake.add_user(ORG, NewUser::new("ada@s.example", "Ada", "Lovelace", UserRole::Staff)).unwrap();
    let (status, first, first_text) = env.batch(Some("key-1"), &batch_body()).await;
    assert_eq!(status, StatusCode::OK);
    env.fake.advance_clock(Duration::from_secs(60));
    let (status, again, again_text) = env.batch(Some("key-1"), &batch_body()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first, again);
    assert_eq!(first_text, again_text, "the same bytes");
    assert_eq!(env.fake.users(ORG).len(), 2, "Grace once, not twice");
    let stats = env.fake.batch_stats();
    assert_eq!((stats.applied, stats.replayed), (1, 1));
    // A key is per organisation and token: the same key elsewhere is a new batch.
    let r = env
        .http
        .post(env.url(&format!("/organisations/{OTHER}/users/batch")))
        .bearer_auth(ADMIN)
        .header("Idempotency-Key", "key-1")
        .json(&batch_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(env.fake.users(OTHER).len(), 2, "Grace and the second create (no Ada there)");
    // After 24 hours the key is forgotten and the batch applies again (Grace now conflicts with herself).
    env.fake.advance_clock(Duration::from_secs(24 * 3600));
    let (_, later, _) = env.batch(Some("key-1"), &batch_body()).await;
    assert_eq!(later["results"][0]["status"], 409);
}

#[tokio::test]
async fn a_key_reused_with_a_different_body_is_422_and_changes_nothing() {
    let env = Env::start().await;
    let (status, _, _) = env.batch(Some("key-1"), &batch_body()).await;
    assert_eq!(status, StatusCode::OK);
    let before = env.fake.users(ORG);
    let mut other = batch_body();
    other["operations"][0]["fields"]["email"] = json!("someone.else@s.example");
    let (status, body, _) = env.batch(Some("key-1"), &other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "validation_failed");
    assert_eq!(env.fake.users(ORG), before);
    // Same JSON with keys in another order is the same body.
    let reordered: Value = serde_json::from_str(&batch_body().to_string().replace(
        r#"{"email":"grace@s.example","first_name":"Grace","last_name":"Hopper","managed_by_sync":true,"role":"student"}"#,
        r#"{"role":"student","managed_by_sync":true,"last_name":"Hopper","first_name":"Grace","email":"grace@s.example"}"#,
    ))
    .unwrap();
    let (status, _, _) = env.batch(Some("key-1"), &reordered).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_key_still_in_progress_is_409() {
    let env = Env::start().await;
    env.fake.set_batch_delay(Duration::from_millis(300));
    let body = batch_body();
    let (a, b) = tokio::join!(env.batch(Some("slow"), &body), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        env.batch(Some("slow"), &body).await
    });
    assert_eq!(a.0, StatusCode::OK);
    assert_eq!(b.0, StatusCode::CONFLICT);
    assert_error(&b.1, "conflict");
    assert_eq!(env.fake.users(ORG).len(), 2);
}

#[tokio::test]
async fn whole_batch_refusals_are_422() {
    let env = Env::start().await;
    let (status, body, _) = env.batch(None, &batch_body()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no Idempotency-Key");
    assert_eq!(body["error"]["details"]["Idempotency-Key"], "is required");
    let too_many: Vec<Value> =
        (0..101).map(|i| json!({"op": "suspend", "user_id": format!("u{i}"), "external_id": "e"})).collect();
    let (status, body, _) = env.batch(Some("k2"), &json!({"operations": too_many})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "101 operations");
    assert_error(&body, "validation_failed");
    let hundred: Vec<Value> =
        (0..100).map(|i| json!({"op": "suspend", "user_id": format!("u{i}"), "external_id": "e"})).collect();
    let (status, body, _) = env.batch(Some("k3"), &json!({"operations": hundred})).await;
    assert_eq!(status, StatusCode::OK, "100 is allowed");
    assert_eq!(body["results"].as_array().unwrap().len(), 100);
    for bad in [json!({}), json!({"operations": []}), json!({"operations": "x"}), json!([1])] {
        let (status, _, _) = env.batch(Some("k4"), &bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let r = env
        .http
        .post(env.url(&format!("/organisations/{ORG}/users/batch")))
        .bearer_auth(MEMBER)
        .header("Idempotency-Key", "k5")
        .json(&batch_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(env.fake.users(ORG).is_empty());
}

#[tokio::test]
async fn injected_faults_answer_in_the_contracts_shape_and_are_counted() {
    let env = Env::start().await;
    seed_users(&env.fake, 3);
    env.fake.faults().on("GET", "/organisations/").times(2).inject(Fault::throttle(7));
    let path = format!("/organisations/{ORG}/users");
    let r = env.http.get(env.url(&path)).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "7");
    assert!(r.headers().get("x-request-id").is_some());
    assert_error(&r.json().await.unwrap(), "rate_limited");
    let (status, _) = env.get(&path, ADMIN).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = env.get(&path, ADMIN).await;
    assert_eq!(status, StatusCode::OK);

    env.fake.faults().on("GET", "/me").times(1).inject(Fault::status(503));
    let (status, body) = env.get("/me", ADMIN).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_error(&body, "internal");

    env.fake.faults().on("GET", "/me").times(1).inject(Fault::MalformedJson);
    let r = env.http.get(env.url("/me")).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).is_err());

    env.fake.faults().on("GET", "/organisations/").times(1).inject(Fault::ResetMidBody);
    assert!(broken(env.http.get(env.url(&path)).bearer_auth(ADMIN)).await, "the connection breaks mid-body");

    let counts = env.fake.counters().snapshot();
    assert_eq!(counts.endpoint("GET /organisations/{org}/users"), 4);
    assert_eq!(counts.endpoint("GET /me"), 2);
    assert_eq!(counts.throttled, 2);
    assert!(counts.bytes_out > 0);
}

#[tokio::test]
async fn a_batch_whose_answer_was_lost_is_replayed_on_retry_not_applied_twice() {
    let env = Env::start().await;
    env.fake.faults().on("POST", "/organisations/").times(1).inject(Fault::ResetMidBody);
    let url = env.url(&format!("/organisations/{ORG}/users/batch"));
    let request = || env.http.post(&url).bearer_auth(ADMIN).header("Idempotency-Key", "lost").json(&batch_body());
    assert!(broken(request()).await);
    assert_eq!(env.fake.users(ORG).len(), 2, "the batch was applied before the connection broke");
    let retried: Value = request().send().await.unwrap().json().await.unwrap();
    assert_eq!(retried["results"][0]["status"], 201, "the stored answer, not a 409 from applying again");
    assert_eq!(env.fake.users(ORG).len(), 2);
    assert_eq!(env.fake.batch_stats().applied, 1);
}
