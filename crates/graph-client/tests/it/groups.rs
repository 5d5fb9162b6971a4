//! Groups: listing, search, kinds, one group, not found.

use crate::common;
use futures::TryStreamExt;
use graph_client::{GroupKind, GroupQuery};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

/// The four group kinds as the Graph v1.0 "group resource type" and "Working with groups in Microsoft Graph"
/// pages describe them, plus a dynamic security group.
fn groups_page() -> serde_json::Value {
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#groups",
        "value": [
            {"id": "g-sec", "displayName": "Year 7 Students", "description": null, "mail": null,
             "mailEnabled": false, "securityEnabled": true, "groupTypes": [], "membershipRule": null},
            {"id": "g-mes", "displayName": "All Staff", "description": "Staff", "mail": "staff@contoso.example",
             "mailEnabled": true, "securityEnabled": true, "groupTypes": [], "membershipRule": null},
            {"id": "g-dl", "displayName": "Parents Newsletter", "mail": "parents@contoso.example",
             "mailEnabled": true, "securityEnabled": false, "groupTypes": []},
            {"id": "g-365", "displayName": "Maths Department", "mail": "maths@contoso.example",
             "mailEnabled": true, "securityEnabled": false, "groupTypes": ["Unified"]},
            {"id": "g-dyn", "displayName": "All Pupils (dynamic)", "mailEnabled": false, "securityEnabled": true,
             "groupTypes": ["DynamicMembership"], "membershipRule": "user.department -eq \"Pupils\""}
        ]
    })
}

#[tokio::test]
async fn lists_groups_with_their_kinds() {
    let server = common::server().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/groups"))
        .and(query_param("$top", "999"))
        .and(query_param("$select", graph_client::models::GROUP_SELECT))
        .respond_with(ResponseTemplate::new(200).set_body_json(groups_page()))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let groups: Vec<_> = client.groups(GroupQuery::All).try_collect().await.unwrap();
    let kinds: Vec<_> = groups.iter().map(|g| g.kind()).collect();
    assert_eq!(
        kinds,
        [
            GroupKind::Security,
            GroupKind::MailEnabledSecurity,
            GroupKind::Distribution,
            GroupKind::Microsoft365,
            GroupKind::Security
        ]
    );
    assert!(groups[4].is_dynamic());
    assert!(!groups[0].is_dynamic());
}

#[tokio::test]
async fn search_sends_consistency_level_and_a_quoted_clause() {
    let server = common::server().await;
    Mock::given(path("/v1.0/groups"))
        .and(query_param("$search", "\"displayName:Year 7\""))
        .and(query_param("$count", "true"))
        .and(header("ConsistencyLevel", "eventual"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/groups"))
        .and(query_param("$filter", "startswith(displayName,'St Mary''s')"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let _: Vec<_> = client.groups(GroupQuery::Search("Year \"7".into())).try_collect().await.unwrap();
    let _: Vec<_> = client.groups(GroupQuery::NameStartsWith("St Mary's".into())).try_collect().await.unwrap();
}

#[tokio::test]
async fn a_missing_group_is_not_found() {
    let server = common::server().await;
    // Graph v1.0 "Microsoft Graph error responses and resource types": Request_ResourceNotFound.
    Mock::given(path("/v1.0/groups/nope"))
        .respond_with(ResponseTemplate::new(404).insert_header("request-id", "hdr-1").set_body_json(json!({
            "error": {"code": "Request_ResourceNotFound",
                      "message": "Resource 'nope' does not exist or one of its queried reference-property objects are not present.",
                      "innerError": {"date": "2025-09-01T10:00:00", "request-id": "req-404", "client-request-id": "c"}}
        })))
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let err = client.group("nope").await.unwrap_err();
    assert!(err.is_not_found());
    assert!(!err.is_transient());
    let api = err.api().unwrap();
    assert_eq!(api.code.as_deref(), Some("Request_ResourceNotFound"));
    assert_eq!(api.request_id.as_deref(), Some("req-404"));
    assert!(err.to_string().contains("Request_ResourceNotFound"), "{err}");
}

#[tokio::test]
async fn forbidden_is_typed() {
    let server = common::server().await;
    Mock::given(path("/v1.0/groups/g"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation."}
        })))
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let err = client.group("g").await.unwrap_err();
    assert!(err.is_forbidden() && !err.is_unauthorized() && !err.is_throttled());
}
