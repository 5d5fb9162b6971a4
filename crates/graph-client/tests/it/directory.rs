//! The signed-in user, their directory roles, and the tenant.

use crate::common::{self, user_json};
use serde_json::json;
use wiremock::matchers::{header, path, query_param};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn me_selects_only_what_sync_reads() {
    let server = common::server().await;
    let mut me = user_json(7);
    me["accountEnabled"] = json!(false);
    Mock::given(path("/v1.0/me"))
        .and(query_param("$select", graph_client::models::USER_SELECT))
        .respond_with(ResponseTemplate::new(200).set_body_json(me))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let me = client.me().await.unwrap();
    assert_eq!(me.account_enabled(), Some(false));
    assert_eq!(me.user_principal_name(), Some("pupil7@contoso.example"));
}

#[tokio::test]
async fn my_directory_roles_come_from_transitive_member_of() {
    let server = common::server().await;
    // Graph v1.0 "List transitiveMemberOf" with the directoryRole cast; role template ids from "Microsoft Entra
    // built-in roles".
    Mock::given(path("/v1.0/me/transitiveMemberOf/microsoft.graph.directoryRole"))
        .and(header("ConsistencyLevel", "eventual"))
        .and(query_param("$select", "id,displayName,roleTemplateId"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryRoles",
            "value": [
                {"@odata.type": "#microsoft.graph.directoryRole", "id": "r-1", "displayName": "Application Administrator",
                 "roleTemplateId": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"},
                {"@odata.type": "#microsoft.graph.directoryRole", "id": "r-2", "displayName": "Cloud Application Administrator",
                 "roleTemplateId": "158c047a-c907-4556-b7ef-446551a6b5f7"}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let roles = client.my_directory_roles().await.unwrap();
    let templates: Vec<_> = roles.iter().filter_map(|r| r.role_template_id.as_deref()).collect();
    assert_eq!(templates, ["9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "158c047a-c907-4556-b7ef-446551a6b5f7"]);
}

#[tokio::test]
async fn organization_with_verified_domains() {
    let server = common::server().await;
    // Graph v1.0 "Get organization" example response, trimmed to the selected properties.
    Mock::given(path("/v1.0/organization"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#organization",
            "value": [{
                "id": "84841066-274d-4ec0-a5c1-276be684bdd3",
                "displayName": "Contoso Academy Trust",
                "verifiedDomains": [
                    {"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": true, "isInitial": false,
                     "name": "contoso.example", "type": "Managed"},
                    {"capabilities": "Email", "isDefault": false, "isInitial": true,
                     "name": "contoso.onmicrosoft.com", "type": "Managed"}
                ]
            }]
        })))
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let orgs = client.organization().await.unwrap();
    assert_eq!(orgs[0].display_name.as_deref(), Some("Contoso Academy Trust"));
    assert_eq!(orgs[0].verified_domains.len(), 2);
    assert_eq!(orgs[0].verified_domains[1].is_initial, Some(true));
}
