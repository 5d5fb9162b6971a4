//! Delta rounds: users over pages with @removed, groups with members@delta merged, 410 → full resync.

use crate::common::{self, user_json};
use futures::TryStreamExt;
use graph_client::DeltaStart;
use serde_json::json;
use wiremock::matchers::{path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn users_delta_over_pages_with_removed_and_a_delta_link() {
    let server = common::server().await;
    let uri = server.uri();
    // Graph v1.0 "user: delta" examples: pages with @odata.nextLink, the last with @odata.deltaLink; a removed
    // user carries only its id and "@removed": {"reason": "changed" | "deleted"}.
    Mock::given(path("/v1.0/users/delta"))
        .and(query_param_is_missing("$skiptoken"))
        .and(query_param_is_missing("$deltatoken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName)",
            "@odata.nextLink": format!("{uri}/v1.0/users/delta?$skiptoken=s1"),
            "value": [user_json(1), user_json(2)]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/users/delta"))
        .and(query_param("$skiptoken", "s1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.deltaLink": format!("{uri}/v1.0/users/delta?$deltatoken=d1"),
            "value": [
                {"id": "00000000-0000-0000-0000-000000000003", "@removed": {"reason": "deleted"}},
                {"id": "00000000-0000-0000-0000-000000000004", "@removed": {"reason": "changed"}}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let pages: Vec<_> = client.users_delta(DeltaStart::Full).try_collect().await.unwrap();
    assert_eq!(pages.len(), 2);
    assert!(pages[0].value.iter().all(|u| u.removed.is_none()));
    assert_eq!(pages[1].value[0].removed.as_ref().unwrap().reason.as_deref(), Some("deleted"));
    assert_eq!(pages[1].value[1].removed.as_ref().unwrap().reason.as_deref(), Some("changed"));
    let link = pages[1].delta_link.clone().unwrap();
    assert!(link.ends_with("$deltatoken=d1"));

    // Next round resumes from the link.
    Mock::given(path("/v1.0/users/delta"))
        .and(query_param("$deltatoken", "d1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.deltaLink": format!("{uri}/v1.0/users/delta?$deltatoken=d2"), "value": []
        })))
        .expect(1)
        .mount(&server)
        .await;
    let pages: Vec<_> = client.users_delta(DeltaStart::Resume(link)).try_collect().await.unwrap();
    assert!(pages[0].delta_link.as_deref().unwrap().ends_with("d2"));
}

#[tokio::test]
async fn delta_token_latest_starts_from_now() {
    let server = common::server().await;
    Mock::given(path("/v1.0/users/delta"))
        .and(query_param("$deltatoken", "latest"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.deltaLink": format!("{}/v1.0/users/delta?$deltatoken=now", server.uri()), "value": []
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let pages: Vec<_> = client.users_delta(DeltaStart::Latest).try_collect().await.unwrap();
    assert!(pages[0].value.is_empty() && pages[0].delta_link.is_some());
}

#[tokio::test]
async fn an_expired_delta_token_requires_a_full_resync() {
    let server = common::server().await;
    // Graph v1.0 "Use delta query": an expired token answers 410 Gone; the error code is syncStateNotFound.
    Mock::given(path("/v1.0/users/delta"))
        .respond_with(ResponseTemplate::new(410).set_body_json(json!({
            "error": {"code": "syncStateNotFound", "message": "The sync state generation is not found.",
                      "innerError": {"request-id": "r-410"}}
        })))
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/groups/delta"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": {"code": "resyncRequired", "message": "Resync required. Replace any local data with a full sync."}
        })))
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let link = format!("{}/v1.0/users/delta?$deltatoken=old", server.uri());
    let err = client.users_delta(DeltaStart::Resume(link)).try_collect::<Vec<_>>().await.unwrap_err();
    assert!(err.is_resync_required(), "{err}");
    let err = client.groups_delta(DeltaStart::Full).await.unwrap_err();
    assert!(err.is_resync_required(), "{err}");
}

#[tokio::test]
async fn groups_delta_merges_members_across_pages() {
    let server = common::server().await;
    let uri = server.uri();
    // Graph v1.0 "group: delta" example with `$select=displayName,members`: members@delta entries, the removed
    // ones with "@removed": {"reason": "deleted"}; one group's members can span pages.
    Mock::given(path("/v1.0/groups/delta"))
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.nextLink": format!("{uri}/v1.0/groups/delta?$skiptoken=p2"),
            "value": [{
                "id": "g-1", "displayName": "Year 7", "mailEnabled": false, "securityEnabled": true, "groupTypes": [],
                "members@delta": [
                    {"@odata.type": "#microsoft.graph.user", "id": "u-1"},
                    {"@odata.type": "#microsoft.graph.user", "id": "u-2"},
                    {"@odata.type": "#microsoft.graph.group", "id": "g-nested"}
                ]
            }]
        })))
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/groups/delta"))
        .and(query_param("$skiptoken", "p2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.deltaLink": format!("{uri}/v1.0/groups/delta?$deltatoken=g1"),
            "value": [
                {"id": "g-1", "members@delta": [
                    {"@odata.type": "#microsoft.graph.user", "id": "u-2", "@removed": {"reason": "deleted"}},
                    {"@odata.type": "#microsoft.graph.user", "id": "u-3"}
                ]},
                {"id": "g-gone", "@removed": {"reason": "deleted"}}
            ]
        })))
        .mount(&server)
        .await;
    let (client, _) = common::client(&server);
    let delta = client.groups_delta(DeltaStart::Full).await.unwrap();
    let g1 = &delta.changes["g-1"];
    assert_eq!(g1.group.display_name.as_deref(), Some("Year 7"), "properties from page 1 survive page 2");
    assert_eq!(g1.users_added.iter().collect::<Vec<_>>(), ["u-1", "u-3"]);
    assert_eq!(g1.users_removed.iter().collect::<Vec<_>>(), ["u-2"]);
    assert_eq!(g1.others_added.iter().collect::<Vec<_>>(), ["g-nested"]);
    assert!(delta.changes["g-gone"].removed.is_some());
    assert!(delta.delta_link.ends_with("g1"));
}
