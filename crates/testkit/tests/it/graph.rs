//! The fake Microsoft Graph against Microsoft's documented behaviour, at the HTTP level (raw reqwest, no client of
//! ours): sign-in flows and their errors, paging, query options, nested membership, delta, throttling, `$batch`,
//! and fault injection.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use testkit::faults::Fault;
use testkit::graph::{AppRegistration, FakeGraph, ThrottleLimit, sample};
use testkit::server::RunningServer;
use testkit::synthetic::model::{DirectoryUser, MemberRef};

const ALL_STAFF: &str = "00000000-0000-4000-9000-000000000001";
const SEVEN_A: &str = "00000000-0000-4000-9000-000000000002";
const YEAR_7: &str = "00000000-0000-4000-9000-000000000004";
const ALL_PUPILS: &str = "00000000-0000-4000-9000-000000000006";

fn uid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

struct Env {
    fake: FakeGraph,
    server: RunningServer,
    http: reqwest::Client,
    token: String,
}

impl Env {
    async fn new() -> Env {
        Env::with(sample::fake()).await
    }

    async fn with(fake: FakeGraph) -> Env {
        let server = fake.start().await.unwrap();
        let http = reqwest::Client::new();
        let mut env = Env { fake, server, http, token: String::new() };
        env.token = env.app_token(sample::CLIENT_ID, sample::CLIENT_SECRET).await;
        env
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let r = self.http.post(self.url(path)).form(form).send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap())
    }

    async fn app_token(&self, client_id: &str, secret: &str) -> String {
        let (status, body) = self
            .post_form(
                &format!("/{}/oauth2/v2.0/token", self.fake.tenant_id()),
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("client_secret", secret),
                    ("scope", "https://graph.microsoft.com/.default"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn get_with(&self, path: &str, token: Option<&str>, eventual: bool) -> (StatusCode, HeaderMap, Value) {
        let url = if path.starts_with("http") { path.to_owned() } else { self.url(path) };
        let mut rb = self.http.get(url);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if eventual {
            rb = rb.header("ConsistencyLevel", "eventual");
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, HeaderMap, Value) {
        self.get_with(path, Some(&self.token), false).await
    }

    async fn get_eventual(&self, path: &str) -> (StatusCode, HeaderMap, Value) {
        self.get_with(path, Some(&self.token), true).await
    }

    /// Follows `@odata.nextLink` to the end; returns every page.
    async fn pages(&self, first: &str, eventual: bool) -> Vec<Value> {
        let mut pages = Vec::new();
        let mut next = Some(first.to_owned());
        while let Some(link) = next {
            let (status, _, body) = self.get_with(&link, Some(&self.token), eventual).await;
            assert_eq!(status, 200, "{link}: {body}");
            next = body["@odata.nextLink"].as_str().map(str::to_owned);
            pages.push(body);
            assert!(pages.len() < 100, "paging does not end");
        }
        pages
    }
}

fn ids(pages: &[Value]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p["value"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_owned()))
        .collect()
}

/// Graph's error shape (Graph v1.0 "Microsoft Graph error responses").
fn assert_graph_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    let inner = &body["error"]["innerError"];
    for field in ["date", "request-id", "client-request-id"] {
        assert!(inner[field].as_str().is_some_and(|v| !v.is_empty()), "innerError.{field} missing: {body}");
    }
}

// ---- sign-in --------------------------------------------------------------------------------------------------

#[tokio::test]
async fn client_credentials_answers_as_the_identity_platform_documents() {
    let env = Env::new().await;
    let token_path = format!("/{}/oauth2/v2.0/token", sample::directory().domain);
    let (status, body) = env
        .post_form(
            &token_path,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", sample::CLIENT_ID),
                ("client_secret", sample::CLIENT_SECRET),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert!(body.get("refresh_token").is_none(), "client credentials never issue a refresh token");

    // A wrong secret: invalid_client, 401, the documented error fields.
    let (status, body) = env
        .post_form(
            &token_path,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", sample::CLIENT_ID),
                ("client_secret", "wrong"),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"], json!([7000215]));
    assert!(body["error_description"].as_str().unwrap().starts_with("AADSTS7000215: "));
    for field in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(body[field].is_string(), "{field} missing: {body}");
    }

    // A scope without /.default, an unknown app, an unknown tenant.
    let (status, body) = env
        .post_form(
            &token_path,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", sample::CLIENT_ID),
                ("client_secret", sample::CLIENT_SECRET),
                ("scope", "https://graph.microsoft.com/User.Read.All"),
            ],
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")));
    let (_, body) = env
        .post_form(
            &token_path,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "nope"),
                ("client_secret", "x"),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    assert_eq!(body["error"], "unauthorized_client");
    assert_eq!(body["error_codes"], json!([700016]));
    let (status, body) =
        env.post_form("/other.example/oauth2/v2.0/token", &[("grant_type", "client_credentials")]).await;
    assert_eq!((status, body["error_codes"].clone()), (StatusCode::BAD_REQUEST, json!([90002])));
}

async fn start_device_code(env: &Env) -> (String, String, u64) {
    let (status, body) = env
        .post_form(
            &format!("/{}/oauth2/v2.0/devicecode", env.fake.tenant_id()),
            &[
                ("client_id", sample::PUBLIC_CLIENT_ID),
                ("scope", "https://graph.microsoft.com/User.Read offline_access"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for field in ["device_code", "user_code", "verification_uri", "message"] {
        assert!(body[field].is_string(), "{field}: {body}");
    }
    assert_eq!(body["expires_in"], 900, "15 minutes by default");
    (
        body["device_code"].as_str().unwrap().to_owned(),
        body["user_code"].as_str().unwrap().to_owned(),
        body["interval"].as_u64().unwrap(),
    )
}

async fn poll(env: &Env, device_code: &str) -> (StatusCode, Value) {
    env.post_form(
        &format!("/{}/oauth2/v2.0/token", env.fake.tenant_id()),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", sample::PUBLIC_CLIENT_ID),
            ("device_code", device_code),
        ],
    )
    .await
}

#[tokio::test]
async fn device_code_pending_then_approved_gives_tokens_and_refresh_rotates() {
    let env = Env::new().await;
    let (device_code, user_code, interval) = start_device_code(&env).await;
    assert_eq!(env.fake.pending_user_codes(), vec![user_code.clone()]);

    let (status, body) = poll(&env, &device_code).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("authorization_pending")));
    assert_eq!(body["error_codes"], json!([70016]));
    // Polling again before `interval` has passed: slow_down (RFC 8628 §3.5), and the interval grows by 5 s.
    let (_, body) = poll(&env, &device_code).await;
    assert_eq!(body["error"], "slow_down");
    env.fake.advance_clock(Duration::from_secs(interval + 5));
    let (_, body) = poll(&env, &device_code).await;
    assert_eq!(body["error"], "authorization_pending");

    env.fake.approve_device_code(&user_code, "admin@northfield.example").unwrap();
    env.fake.advance_clock(Duration::from_secs(interval + 5));
    let (status, tokens) = poll(&env, &device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["refresh_token"].is_string(), "offline_access was asked for");
    let access = tokens["access_token"].as_str().unwrap();

    // The delegated token reads /me and the roles the admin holds.
    let (status, _, me) = env.get_with("/v1.0/me?$select=id,userPrincipalName", Some(access), false).await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], sample::ADMIN_ID);
    let (status, _, roles) =
        env.get_with("/v1.0/me/transitiveMemberOf/microsoft.graph.directoryRole?$count=true", Some(access), true).await;
    assert_eq!(status, 200, "{roles}");
    let templates: BTreeSet<&str> =
        roles["value"].as_array().unwrap().iter().map(|r| r["roleTemplateId"].as_str().unwrap()).collect();
    assert_eq!(templates, BTreeSet::from([sample::APPLICATION_ADMINISTRATOR, sample::CLOUD_APPLICATION_ADMINISTRATOR]));

    // The code is spent.
    let (_, body) = poll(&env, &device_code).await;
    assert_eq!(body["error"], "invalid_grant");

    // Refresh with rotation: a new pair; the spent refresh token is refused.
    let old_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |rt: String| {
        let env = &env;
        async move {
            env.post_form(
                &format!("/{}/oauth2/v2.0/token", env.fake.tenant_id()),
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", sample::PUBLIC_CLIENT_ID),
                    ("refresh_token", &rt),
                    ("scope", "https://graph.microsoft.com/User.Read offline_access"),
                ],
            )
            .await
        }
    };
    let (status, refreshed) = refresh(old_refresh.clone()).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["refresh_token"].as_str().unwrap(), old_refresh);
    let (status, again) = refresh(old_refresh).await;
    assert_eq!((status, again["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));

    // Revocation: the access token answers 401, the refresh token invalid_grant (AADSTS50173).
    let new_access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(env.get_with("/v1.0/me", Some(new_access), false).await.0, 200);
    env.fake.revoke_tokens();
    let (status, headers, body) = env.get_with("/v1.0/me", Some(new_access), false).await;
    assert_eq!(status, 401);
    assert_graph_error(&body, "InvalidAuthenticationToken");
    assert!(headers.contains_key("www-authenticate"));
    let (_, body) = refresh(refreshed["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!((body["error"].as_str(), body["error_codes"].clone()), (Some("invalid_grant"), json!([50173])));
}

#[tokio::test]
async fn device_code_declined_and_expired() {
    let env = Env::new().await;
    let (device_code, user_code, _) = start_device_code(&env).await;
    env.fake.decline_device_code(&user_code).unwrap();
    let (_, body) = poll(&env, &device_code).await;
    assert_eq!(body["error"], "authorization_declined");

    let (device_code, user_code, _) = start_device_code(&env).await;
    env.fake.advance_clock(Duration::from_secs(901));
    let (_, body) = poll(&env, &device_code).await;
    assert_eq!((body["error"].as_str(), body["error_codes"].clone()), (Some("expired_token"), json!([70019])));
    assert!(env.fake.approve_device_code(&user_code, sample::ADMIN_ID).is_err());

    let (_, body) = poll(&env, "not-a-device-code").await;
    assert_eq!(body["error"], "bad_verification_code");

    // A blocked admin cannot approve.
    let (_, user_code, _) = start_device_code(&env).await;
    env.fake.set_account_enabled(sample::ADMIN_ID, false).unwrap();
    assert!(env.fake.approve_device_code(&user_code, sample::ADMIN_ID).is_err());
}

// ---- errors -----------------------------------------------------------------------------------------------------

#[tokio::test]
async fn tokens_and_permissions_are_checked_as_graph_does() {
    let env = Env::new().await;
    let (status, headers, body) = env.get_with("/v1.0/users", None, false).await;
    assert_eq!(status, 401);
    assert_graph_error(&body, "InvalidAuthenticationToken");
    assert!(headers.contains_key("request-id"));
    assert_eq!(env.get_with("/v1.0/users", Some("garbage"), false).await.0, 401);

    // Expiry follows the fake's clock.
    env.fake.advance_clock(Duration::from_secs(3600));
    let (status, _, body) = env.get("/v1.0/users").await;
    assert_eq!(status, 401);
    assert!(body["error"]["message"].as_str().unwrap().contains("expired"), "{body}");

    // An app without the permission the call needs: 403 Authorization_RequestDenied.
    env.fake.register_app(
        AppRegistration::confidential("weak-app", "s").with_application_permissions(["Organization.Read.All"]),
    );
    let weak = env.app_token("weak-app", "s").await;
    let (status, _, body) = env.get_with("/v1.0/users", Some(&weak), false).await;
    assert_eq!(status, 403);
    assert_graph_error(&body, "Authorization_RequestDenied");
    assert_eq!(env.get_with("/v1.0/organization", Some(&weak), false).await.0, 200);

    // GroupMember.Read.All alone: members that are users come back with limited information.
    env.fake.register_app(
        AppRegistration::confidential("members-only", "s").with_application_permissions(["GroupMember.Read.All"]),
    );
    let members_only = env.app_token("members-only", "s").await;
    let (status, _, body) = env
        .get_with(&format!("/v1.0/groups/{ALL_STAFF}/members?$select=id,displayName"), Some(&members_only), false)
        .await;
    assert_eq!(status, 200);
    let first = &body["value"][0];
    assert_eq!(first["@odata.type"], "#microsoft.graph.user");
    assert!(first["id"].is_string() && first["displayName"].is_null(), "{first}");

    // /me with an app-only token, an unknown id, an unknown segment.
    let fresh = env.app_token(sample::CLIENT_ID, sample::CLIENT_SECRET).await;
    let (status, _, body) = env.get_with("/v1.0/me", Some(&fresh), false).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["message"], "/me request is only valid with delegated authentication flow.");
    let (status, _, body) = env.get_with("/v1.0/groups/no-such-group", Some(&fresh), false).await;
    assert_eq!(status, 404);
    assert_graph_error(&body, "Request_ResourceNotFound");
    assert_eq!(env.get_with("/v1.0/groups/no-such-group/transitiveMembers", Some(&fresh), false).await.0, 404);
    let (status, _, body) = env.get_with("/v1.0/nothing", Some(&fresh), false).await;
    assert_eq!(status, 400);
    assert_graph_error(&body, "BadRequest");
}

// ---- query options ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn pages_follow_next_links_in_a_stable_order_that_survives_changes() {
    let env = Env::new().await;
    let pages = env.pages("/v1.0/users?$top=5&$select=id,displayName", false).await;
    assert_eq!(pages.iter().map(|p| p["value"].as_array().unwrap().len()).collect::<Vec<_>>(), [5, 5, 5, 2]);
    let all = ids(&pages);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "stable order");
    assert!(pages[0]["@odata.nextLink"].as_str().unwrap().contains("$skiptoken="));
    assert!(pages[0]["@odata.nextLink"].as_str().unwrap().starts_with(&env.server.url()));
    assert!(pages[3].get("@odata.nextLink").is_none());

    // Changes between pages: nothing served twice, nothing that stayed is skipped.
    let (_, _, first) = env.get("/v1.0/users?$top=5").await;
    let served: Vec<String> = ids(std::slice::from_ref(&first));
    env.fake.delete_user(&served[0]).unwrap();
    env.fake.delete_user(&uid(100)).unwrap();
    let rest = env.pages(first["@odata.nextLink"].as_str().unwrap(), false).await;
    let rest_ids = ids(&rest);
    assert!(rest_ids.iter().all(|id| !served.contains(id)));
    assert!(!rest_ids.contains(&uid(100)));
    assert_eq!(served.len() + rest_ids.len(), 16);
}

#[tokio::test]
async fn top_must_be_between_1_and_999() {
    let env = Env::new().await;
    for top in ["0", "1000", "-1"] {
        let (status, _, body) = env.get(&format!("/v1.0/users?$top={top}")).await;
        assert_eq!(status, 400, "$top={top}");
        assert_graph_error(&body, "Request_UnsupportedQuery");
    }
    let (_, _, body) = env.get("/v1.0/users?$top=1000").await;
    assert_eq!(body["error"]["message"], "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.");
    assert_eq!(env.get("/v1.0/users?$top=999").await.0, 200);
    assert_eq!(env.get("/v1.0/users?$top=abc").await.0, 400);
}

#[tokio::test]
async fn count_needs_consistency_level_eventual() {
    let env = Env::new().await;
    // "$count=true" without the header is silently ignored on directory objects (Graph v1.0 "Advanced query
    // capabilities", error handling).
    let (status, _, body) = env.get("/v1.0/users?$count=true").await;
    assert_eq!(status, 200);
    assert!(body.get("@odata.count").is_none(), "{body}");
    let (_, _, body) = env.get_eventual("/v1.0/users?$count=true&$top=2").await;
    assert_eq!(body["@odata.count"], 17, "the total, not the page");
    // The /$count segment without the header is an error.
    let (status, _, body) = env.get("/v1.0/users/$count").await;
    assert_eq!(status, 400);
    assert_graph_error(&body, "Request_BadRequest");
    assert_eq!(body["error"]["message"], "$count is not currently supported.");
    let (status, headers, body) = env.get_eventual("/v1.0/groups/$count").await;
    assert_eq!((status, body), (StatusCode::OK, json!(10)));
    assert_eq!(headers["content-type"], "text/plain");
}

#[tokio::test]
async fn the_odata_cast_search_and_filter_on_members_need_advanced_query_parameters() {
    let env = Env::new().await;
    let path = format!("/v1.0/groups/{ALL_PUPILS}/transitiveMembers/microsoft.graph.user");
    let (status, _, body) = env.get(&path).await;
    assert_eq!(status, 400);
    assert_graph_error(&body, "Request_UnsupportedQuery");
    assert_eq!(env.get_eventual(&path).await.0, 400, "the header alone is not enough");
    assert_eq!(env.get(&format!("{path}?$count=true")).await.0, 400, "$count alone is not enough");
    let (status, _, body) = env.get_eventual(&format!("{path}?$count=true")).await;
    assert_eq!(status, 200);
    assert_eq!(body["@odata.count"], 13);
    assert!(body["value"][0].get("@odata.type").is_none(), "a cast collection is of one type");
    assert_eq!(env.get_eventual(&format!("{path}/../microsoft.graph.nonsense?$count=true")).await.0, 400);

    // $search: ConsistencyLevel required on /groups; tokenized.
    let (status, _, body) = env.get("/v1.0/groups?$search=\"displayName:year\"").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'"
    );
    let (_, _, body) = env.get_eventual("/v1.0/groups?$search=\"displayName:year\"&$select=displayName").await;
    let names: BTreeSet<&str> =
        body["value"].as_array().unwrap().iter().map(|g| g["displayName"].as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["Year 7", "Year 8", "Year 8 (dynamic)"]));

    // $filter: a supported subset by default; endsWith only in advanced queries; unknown properties refused.
    let (_, _, body) = env.get("/v1.0/groups?$filter=startswith(displayName,'7')").await;
    assert_eq!(body["value"].as_array().unwrap().len(), 2);
    assert_eq!(env.get("/v1.0/users?$filter=endswith(mail,'@northfield.example')").await.0, 400);
    let (status, _, body) =
        env.get_eventual("/v1.0/users?$filter=endswith(mail,'@northfield.example')&$count=true").await;
    assert_eq!((status, body["@odata.count"].clone()), (StatusCode::OK, json!(17)));
    let (status, _, body) = env.get("/v1.0/users?$filter=city eq 'Leeds'").await;
    assert_eq!(status, 400);
    assert_graph_error(&body, "Request_UnsupportedQuery");
    let (_, _, body) = env.get(&format!("/v1.0/users?$filter=id eq '{}'", uid(10))).await;
    assert_eq!(ids(&[body]), [uid(10)]);
}

#[tokio::test]
async fn select_returns_only_what_was_asked_and_the_documented_defaults_otherwise() {
    let env = Env::new().await;
    let (_, _, body) = env.get("/v1.0/users?$select=accountEnabled&$top=1").await;
    let keys: BTreeSet<&str> = body["value"][0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["accountEnabled", "id"]));
    assert!(body["@odata.context"].as_str().unwrap().ends_with("#users(accountEnabled)"));
    let (_, _, body) = env.get("/v1.0/users?$top=1").await;
    let user = body["value"][0].as_object().unwrap();
    assert!(user.contains_key("userPrincipalName") && user.contains_key("businessPhones"));
    assert!(!user.contains_key("accountEnabled"), "not in the default set");
    let (status, _, body) = env.get("/v1.0/users?$select=favouriteColour").await;
    assert_eq!(status, 400);
    assert_graph_error(&body, "BadRequest");
}

#[tokio::test]
async fn groups_of_every_kind_have_the_documented_flags() {
    let env = Env::new().await;
    let pages = env
        .pages("/v1.0/groups?$select=displayName,groupTypes,mailEnabled,securityEnabled,membershipRule", false)
        .await;
    let by_name = |name: &str| -> Value {
        pages
            .iter()
            .flat_map(|p| p["value"].as_array().unwrap().clone())
            .find(|g| g["displayName"] == name)
            .unwrap_or_else(|| panic!("no group {name}"))
    };
    let flags = |g: Value| (g["groupTypes"].clone(), g["mailEnabled"].clone(), g["securityEnabled"].clone());
    assert_eq!(flags(by_name("All Staff")), (json!([]), json!(false), json!(true)));
    assert_eq!(flags(by_name("Staff Room")), (json!([]), json!(true), json!(true)));
    assert_eq!(flags(by_name("Parents Newsletter")), (json!([]), json!(true), json!(false)));
    assert_eq!(flags(by_name("Maths Department")), (json!(["Unified"]), json!(true), json!(false)));
    let dynamic = by_name("Year 8 (dynamic)");
    assert_eq!(dynamic["groupTypes"], json!(["DynamicMembership"]));
    assert!(dynamic["membershipRule"].as_str().unwrap().contains("Year 8"));
}

#[tokio::test]
async fn transitive_members_expand_nesting_once_and_survive_cycles() {
    let env = Env::new().await;
    let (_, _, direct) = env.get(&format!("/v1.0/groups/{ALL_PUPILS}/members")).await;
    let types: BTreeSet<&str> =
        direct["value"].as_array().unwrap().iter().map(|m| m["@odata.type"].as_str().unwrap()).collect();
    assert_eq!(types, BTreeSet::from(["#microsoft.graph.group"]), "All Pupils holds only groups");

    let users = |pages: Vec<Value>| -> Vec<String> {
        let mut v = ids(&pages);
        v.sort();
        v
    };
    let path =
        format!("/v1.0/groups/{ALL_PUPILS}/transitiveMembers/microsoft.graph.user?$count=true&$top=4&$select=id");
    let before = users(env.pages(&path, true).await);
    let expected: Vec<String> = std::iter::once(uid(12)).chain((100..112).map(uid)).collect();
    assert_eq!(before, expected);

    // The whole tree, nested groups included.
    let (_, _, all) = env.get(&format!("/v1.0/groups/{ALL_PUPILS}/transitiveMembers?$top=999")).await;
    assert_eq!(all["value"].as_array().unwrap().len(), 13 + 4);

    // A cycle (All Pupils inside 7A) and a user reachable twice change nothing.
    env.fake.add_member(SEVEN_A, MemberRef::Group(ALL_PUPILS.into())).unwrap();
    env.fake.add_member(ALL_PUPILS, MemberRef::User(uid(100))).unwrap();
    assert_eq!(users(env.pages(&path, true).await), expected);
    let (_, _, count) = env.get_eventual(&format!("/v1.0/groups/{YEAR_7}/transitiveMembers/$count")).await;
    assert_eq!(count, json!(13 + 4), "Year 7 now reaches everything through 7A, All Pupils included");
}

// ---- delta ------------------------------------------------------------------------------------------------------

/// Runs one delta round from `link`; returns its pages and the delta link.
async fn round(env: &Env, link: &str) -> (Vec<Value>, String) {
    let pages = env.pages(link, false).await;
    let delta = pages.last().unwrap()["@odata.deltaLink"].as_str().expect("a round ends with a delta link").to_owned();
    for p in &pages[..pages.len() - 1] {
        assert!(p.get("@odata.deltaLink").is_none());
    }
    (pages, delta)
}

fn items(pages: &[Value]) -> Vec<Value> {
    pages.iter().flat_map(|p| p["value"].as_array().unwrap().clone()).collect()
}

#[tokio::test]
async fn users_delta_reports_changes_since_the_token_and_only_once() {
    let env = Env::new().await;
    env.fake.set_delta_page_size(5, 100);
    let select = "id,displayName,department,accountEnabled";
    let (pages, link) = round(&env, &format!("/v1.0/users/delta?$select={select}")).await;
    assert_eq!(pages.len(), 4, "17 users, 5 per page");
    assert_eq!(items(&pages).len(), 17);
    assert!(items(&pages).iter().all(|u| u.get("@removed").is_none()));
    assert!(link.contains("$deltatoken="));

    // Nothing changed: an empty round.
    let (pages, link) = round(&env, &link).await;
    assert!(items(&pages).is_empty());

    // Changes: an update, a soft delete, a permanent delete, a new user, and a change to an untracked property.
    env.fake.update_user(&uid(10), |u| u.department = Some("Science".into())).unwrap();
    env.fake.set_account_enabled(&uid(11), false).unwrap();
    env.fake.delete_user(&uid(100)).unwrap();
    env.fake.purge_user(&uid(101)).unwrap();
    env.fake.update_user(&uid(102), |u| u.job_title = Some("Prefect".into())).unwrap();
    let mut new_user = env.fake.user(&uid(103)).unwrap();
    new_user.id = uid(500);
    new_user.user_principal_name = "new.pupil@northfield.example".into();
    env.fake.add_user(new_user);

    let (pages, link) = round(&env, &link).await;
    let changed = items(&pages);
    let by_id = |id: &str| changed.iter().find(|u| u["id"] == id).cloned();
    assert_eq!(changed.len(), 5, "{changed:#?}");
    assert_eq!(by_id(&uid(10)).unwrap()["department"], "Science");
    assert_eq!(by_id(&uid(10)).unwrap()["displayName"], "Sam Patel", "selected properties come whether changed or not");
    assert_eq!(by_id(&uid(11)).unwrap()["accountEnabled"], false);
    assert_eq!(by_id(&uid(100)).unwrap()["@removed"], json!({"reason": "changed"}));
    assert_eq!(by_id(&uid(101)).unwrap()["@removed"], json!({"reason": "deleted"}));
    assert!(by_id(&uid(102)).is_none(), "jobTitle is not tracked by this $select");
    assert!(by_id(&uid(500)).is_some());

    // ...and only once.
    let (pages, _) = round(&env, &link).await;
    assert!(items(&pages).is_empty());
}

#[tokio::test]
async fn groups_delta_spreads_members_over_pages_and_reports_member_changes() {
    let env = Env::new().await;
    env.fake.set_delta_page_size(10, 3);
    let (pages, link) = round(&env, "/v1.0/groups/delta?$select=displayName,members").await;
    // All Staff has 5 members: it fills a page with 3 and comes again with the other 2, same properties.
    let staff_parts: Vec<Value> = items(&pages).into_iter().filter(|g| g["id"] == ALL_STAFF).collect();
    assert!(staff_parts.len() >= 2, "{pages:#?}");
    assert!(staff_parts.iter().all(|g| g["displayName"] == "All Staff"));
    let members: BTreeSet<String> = staff_parts
        .iter()
        .flat_map(|g| g["members@delta"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(members, BTreeSet::from([uid(1), uid(10), uid(11), uid(12), uid(13)]));
    for page in &pages {
        let n: usize =
            page["value"].as_array().unwrap().iter().map(|g| g["members@delta"].as_array().map_or(0, Vec::len)).sum();
        assert!(n <= 3, "at most 3 member entries per page");
    }
    let all = items(&pages);
    let group_ids: BTreeSet<&str> = all.iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert_eq!(group_ids.len(), 10, "every group in the first round");

    // Member changes show up in the next round, removed ones with @removed.
    env.fake.remove_member(ALL_STAFF, &MemberRef::User(uid(13))).unwrap();
    env.fake.add_member(ALL_STAFF, MemberRef::User(uid(110))).unwrap();
    env.fake.update_group(YEAR_7, |g| g.description = Some("KS3".into())).unwrap();
    let (pages, _) = round(&env, &link).await;
    let changed = items(&pages);
    assert_eq!(changed.len(), 1, "the description is not tracked by this $select: {changed:#?}");
    let staff = &changed[0];
    assert_eq!(staff["id"], ALL_STAFF);
    assert_eq!(staff["displayName"], "All Staff");
    assert_eq!(
        staff["members@delta"],
        json!([
            {"@odata.type": "#microsoft.graph.user", "id": uid(13), "@removed": {"reason": "deleted"}},
            {"@odata.type": "#microsoft.graph.user", "id": uid(110)}
        ])
    );
}

#[tokio::test]
async fn deleted_groups_are_removed_changed_or_deleted_by_kind() {
    let env = Env::new().await;
    let (_, link) = round(&env, "/v1.0/groups/delta").await;
    env.fake.delete_group("00000000-0000-4000-9000-000000000009").unwrap(); // Microsoft 365: restorable
    env.fake.delete_group("00000000-0000-4000-9000-000000000008").unwrap(); // distribution: gone
    let (pages, _) = round(&env, &link).await;
    let removed: Vec<(String, String)> = items(&pages)
        .iter()
        .filter_map(|g| Some((g["id"].as_str()?.to_owned(), g["@removed"]["reason"].as_str()?.to_owned())))
        .collect();
    assert_eq!(
        removed,
        [
            ("00000000-0000-4000-9000-000000000008".to_owned(), "deleted".to_owned()),
            ("00000000-0000-4000-9000-000000000009".to_owned(), "changed".to_owned())
        ]
    );
}

#[tokio::test]
async fn delta_latest_then_expiry_answers_410_sync_state_not_found() {
    let env = Env::new().await;
    let (status, _, body) = env.get("/v1.0/users/delta?$deltatoken=latest").await;
    assert_eq!(status, 200);
    assert_eq!(body["value"], json!([]));
    let link = body["@odata.deltaLink"].as_str().unwrap().to_owned();
    env.fake.update_user(&uid(10), |u| u.display_name = "Samuel Patel".into()).unwrap();
    let (pages, link) = round(&env, &link).await;
    assert_eq!(ids(&pages), [uid(10)]);

    env.fake.expire_delta_tokens();
    let (status, headers, body) = env.get(&link).await;
    assert_eq!(status, 410);
    assert_graph_error(&body, "syncStateNotFound");
    let location = headers["location"].to_str().unwrap();
    assert!(location.ends_with("/v1.0/users/delta?$deltatoken="), "{location}");
    // The Location starts a full round again.
    let (pages, link) = round(&env, location).await;
    assert_eq!(items(&pages).len(), 17);

    // Tokens older than the seven days directory objects keep them expire too.
    env.fake.advance_clock(Duration::from_secs(7 * 24 * 3600));
    let token = env.app_token(sample::CLIENT_ID, sample::CLIENT_SECRET).await;
    assert_eq!(env.get_with(&link, Some(&token), false).await.0, 410);
}

// ---- throttling -------------------------------------------------------------------------------------------------

#[tokio::test]
async fn resource_units_are_charged_per_the_documented_costs() {
    let env = Env::new().await;
    let cost = |h: &HeaderMap| h["x-ms-resource-unit"].to_str().unwrap().parse::<u32>().unwrap();
    assert_eq!(cost(&env.get("/v1.0/users").await.1), 2);
    assert_eq!(cost(&env.get("/v1.0/users?$select=id").await.1), 1);
    assert_eq!(cost(&env.get(&format!("/v1.0/groups/{ALL_STAFF}/members")).await.1), 3);
    assert_eq!(cost(&env.get(&format!("/v1.0/groups/{ALL_STAFF}/transitiveMembers")).await.1), 5);
    assert_eq!(cost(&env.get(&format!("/v1.0/groups/{ALL_STAFF}/transitiveMembers?$top=10")).await.1), 4);
    assert_eq!(cost(&env.get(&format!("/v1.0/groups/{ALL_STAFF}")).await.1), 1);
    assert_eq!(cost(&env.get("/v1.0/users/delta").await.1), 1);
}

#[tokio::test]
async fn an_empty_bucket_answers_429_with_retry_after_until_it_refills() {
    let env = Env::new().await;
    // 4 units per 10 s: 0.4 units a second.
    env.fake.set_throttle_limit(ThrottleLimit::Custom { units: 4, per: Duration::from_secs(10) });
    let (status, headers, _) = env.get("/v1.0/users").await;
    assert_eq!(status, 200);
    assert!(!headers.contains_key("x-ms-throttle-limit-percentage"), "half used");
    let (status, headers, _) = env.get("/v1.0/users").await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-ms-throttle-limit-percentage"], "1.00", "sent above 0.8");
    let (status, headers, body) = env.get("/v1.0/users").await;
    assert_eq!(status, 429);
    assert_graph_error(&body, "TooManyRequests");
    assert_eq!(headers["retry-after"], "5", "2 units at 0.4 a second");
    assert_eq!(headers["x-ms-resource-unit"], "2");
    assert!(headers["x-ms-throttle-scope"].to_str().unwrap().starts_with("Tenant_Application/ReadWrite/"));
    // Not yet refilled...
    env.fake.advance_clock(Duration::from_secs(4));
    assert_eq!(env.get("/v1.0/users").await.0, 429);
    // ...now it is.
    env.fake.advance_clock(Duration::from_secs(1));
    assert_eq!(env.get("/v1.0/users").await.0, 200);
    assert_eq!(env.fake.counters().snapshot().throttled, 2);
    // Buckets are per app: another app is not throttled.
    env.fake.register_app(AppRegistration::confidential("other", "s").with_application_permissions(["User.Read.All"]));
    let other = env.app_token("other", "s").await;
    assert_eq!(env.get_with("/v1.0/users", Some(&other), false).await.0, 200);
}

// ---- $batch -----------------------------------------------------------------------------------------------------

#[tokio::test]
async fn batch_items_are_answered_one_by_one_and_dependents_of_a_failure_get_424() {
    let env = Env::new().await;
    let body = json!({"requests": [
        {"id": "1", "method": "GET", "url": format!("/groups/{ALL_STAFF}?$select=id,displayName")},
        {"id": "2", "method": "GET", "url": "/groups/missing"},
        {"id": "3", "method": "GET", "url": "/users?$select=id", "dependsOn": ["2"]},
        {"id": "4", "method": "GET", "url": "users?$count=true&$top=1", "headers": {"ConsistencyLevel": "eventual"}}
    ]});
    let r = env.http.post(env.url("/v1.0/$batch")).bearer_auth(&env.token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    let responses = answer["responses"].as_array().unwrap();
    let by_id = |id: &str| responses.iter().find(|r| r["id"] == id).unwrap();
    assert_eq!(by_id("1")["status"], 200);
    assert_eq!(by_id("1")["body"]["displayName"], "All Staff");
    assert_eq!(by_id("1")["headers"]["x-ms-resource-unit"], "1", "items are charged one by one");
    assert_eq!(by_id("2")["status"], 404);
    assert_graph_error(&by_id("2")["body"], "Request_ResourceNotFound");
    assert_eq!(by_id("3")["status"], 424);
    assert_eq!(by_id("4")["status"], 200);
    assert_eq!(by_id("4")["body"]["@odata.count"], 17, "the item's own ConsistencyLevel header applies");

    // More than 20 requests, or duplicate ids: the whole batch is a 400.
    let many: Vec<Value> = (0..21).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users"})).collect();
    let r = env
        .http
        .post(env.url("/v1.0/$batch"))
        .bearer_auth(&env.token)
        .json(&json!({"requests": many}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let dup = json!({"requests": [{"id": "a", "method": "GET", "url": "/users"}, {"id": "A", "method": "GET", "url": "/users"}]});
    let r = env.http.post(env.url("/v1.0/$batch")).bearer_auth(&env.token).json(&dup).send().await.unwrap();
    assert_eq!(r.status(), 400);
    // No token: 401 for the batch itself.
    let r = env.http.post(env.url("/v1.0/$batch")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

// ---- faults and counters ----------------------------------------------------------------------------------------

#[tokio::test]
async fn faults_are_observable_by_a_raw_client_and_counted() {
    let mut env = Env::new().await;
    // No connection reuse: a connection reset mid-body must not leak into the next request.
    env.http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let faults = env.fake.faults();
    faults.on("GET", "/v1.0/users").times(1).inject(Fault::ResetMidBody);
    // The reset can reach the client before or after the status line (hyper may not flush the half body it
    // buffered before the connection is dropped); either way the answer never arrives whole.
    let outcome = match env.http.get(env.url("/v1.0/users")).bearer_auth(&env.token).send().await {
        Ok(r) => r.bytes().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(outcome.is_err(), "the connection is reset mid-answer");

    faults.on("GET", "/v1.0/users").times(1).inject(Fault::MalformedJson);
    let r = env.http.get(env.url("/v1.0/users")).bearer_auth(&env.token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.is_err(), "the JSON is cut short");

    faults.on("GET", "/v1.0/groups").times(1).inject(Fault::status(503));
    let (status, _, body) = env.get("/v1.0/groups").await;
    assert_eq!(status, 503);
    assert_graph_error(&body, "serviceNotAvailable");
    assert_eq!(env.get("/v1.0/groups").await.0, 200, "the fault was for one request");

    faults.on("GET", "/v1.0/organization").times(1).inject(Fault::throttle(7));
    let (status, headers, body) = env.get("/v1.0/organization").await;
    assert_eq!((status, headers["retry-after"].to_str().unwrap()), (StatusCode::TOO_MANY_REQUESTS, "7"));
    assert_graph_error(&body, "TooManyRequests");

    let counts = env.fake.counters().snapshot();
    assert_eq!(counts.endpoint("GET /v1.0/users"), 2);
    assert_eq!(counts.endpoint("GET /v1.0/groups"), 2);
    assert_eq!(counts.endpoint("POST /{tenant}/oauth2/v2.0/token"), 1);
    assert_eq!(counts.throttled, 1);
    assert!(counts.bytes_out > 0);
}

#[tokio::test]
async fn organization_lists_the_tenant_and_its_verified_domains() {
    let env = Env::new().await;
    let (status, _, body) = env.get("/v1.0/organization?$select=id,displayName,verifiedDomains").await;
    assert_eq!(status, 200);
    let org = &body["value"][0];
    assert_eq!(org["id"], sample::TENANT_ID);
    let domains: Vec<&str> =
        org["verifiedDomains"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert!(domains.contains(&"northfield.example"));
    assert!(domains.iter().any(|d| d.ends_with(".onmicrosoft.com")));
}

#[tokio::test]
async fn a_fake_from_a_synthetic_trust_serves_it() {
    let trust = testkit::synthetic::TrustSpec::small().generate();
    let fake = FakeGraph::from_directory(&trust.directory);
    fake.register_app(
        AppRegistration::confidential(sample::CLIENT_ID, sample::CLIENT_SECRET)
            .with_application_permissions(["Directory.Read.All"]),
    );
    let env = Env::with(fake).await;
    let (_, _, body) = env.get_eventual("/v1.0/users?$count=true&$top=1").await;
    assert_eq!(body["@odata.count"], trust.directory.users.len());
    let extra = DirectoryUser { id: "x".into(), ..trust.directory.users[0].clone() };
    env.fake.add_user(extra);
    let (_, _, body) = env.get_eventual("/v1.0/users?$count=true&$top=1").await;
    assert_eq!(body["@odata.count"], trust.directory.users.len() + 1);
}
