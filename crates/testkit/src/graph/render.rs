//! JSON of the resources, shaped as Graph v1.0 documents them, and their schemas for `$select` and `$filter`.

use super::odata::Schema;
use super::state::{GroupRec, RoleRec, State};
use crate::synthetic::model::{DirectoryGroupKind, DirectoryUser};
use serde_json::{Map, Value, json};

/// `microsoft.graph.user`: the properties the fake serves. Without `$select`, only the documented default set
/// comes back: "businessPhones, displayName, givenName, id, jobTitle, mail, mobilePhone, officeLocation,
/// preferredLanguage, surname, and userPrincipalName" (Graph v1.0 "List users", optional query parameters,
/// <https://learn.microsoft.com/graph/api/user-list>) — so `accountEnabled` must be selected.
pub(crate) const USER: Schema = Schema {
    type_name: "microsoft.graph.user",
    resource: "User",
    all: &[
        "id",
        "accountEnabled",
        "businessPhones",
        "createdDateTime",
        "deletedDateTime",
        "department",
        "displayName",
        "employeeId",
        "givenName",
        "jobTitle",
        "mail",
        "mailNickname",
        "mobilePhone",
        "officeLocation",
        "onPremisesImmutableId",
        "onPremisesSyncEnabled",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
        "userType",
    ],
    default: &[
        "businessPhones",
        "displayName",
        "givenName",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
    ],
    filterable: &[
        "id",
        "accountEnabled",
        "department",
        "displayName",
        "employeeId",
        "givenName",
        "jobTitle",
        "mail",
        "mailNickname",
        "surname",
        "userPrincipalName",
        "userType",
    ],
};

/// `microsoft.graph.group`; without `$select` every property listed here comes back.
pub(crate) const GROUP: Schema = Schema {
    type_name: "microsoft.graph.group",
    resource: "Group",
    all: &[
        "id",
        "classification",
        "createdDateTime",
        "deletedDateTime",
        "description",
        "displayName",
        "groupTypes",
        "mail",
        "mailEnabled",
        "mailNickname",
        "membershipRule",
        "membershipRuleProcessingState",
        "onPremisesSyncEnabled",
        "proxyAddresses",
        "securityEnabled",
        "visibility",
    ],
    default: &[
        "classification",
        "createdDateTime",
        "deletedDateTime",
        "description",
        "displayName",
        "groupTypes",
        "mail",
        "mailEnabled",
        "mailNickname",
        "membershipRule",
        "membershipRuleProcessingState",
        "onPremisesSyncEnabled",
        "proxyAddresses",
        "securityEnabled",
        "visibility",
    ],
    filterable: &["id", "displayName", "groupTypes", "mail", "mailEnabled", "mailNickname", "securityEnabled"],
};

/// `microsoft.graph.directoryRole`.
pub(crate) const ROLE: Schema = Schema {
    type_name: "microsoft.graph.directoryRole",
    resource: "DirectoryRole",
    all: &["id", "deletedDateTime", "description", "displayName", "roleTemplateId"],
    default: &["deletedDateTime", "description", "displayName", "roleTemplateId"],
    filterable: &["id", "displayName", "roleTemplateId"],
};

/// Searchable properties of directory objects (`$search`, tokenized).
pub(crate) const USER_SEARCHABLE: &[&str] = &["displayName", "mail", "userPrincipalName", "givenName", "surname"];
pub(crate) const GROUP_SEARCHABLE: &[&str] = &["displayName", "description", "mail"];
pub(crate) const OBJECT_SEARCHABLE: &[&str] = &["displayName", "description"];

fn opt(s: &Option<String>) -> Value {
    s.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

fn nickname(mail: Option<&str>, fallback: &str) -> String {
    match mail.and_then(|m| m.split('@').next()) {
        Some(local) if !local.is_empty() => local.to_owned(),
        _ => fallback.chars().filter(|c| c.is_ascii_alphanumeric()).collect(),
    }
}

/// Every property of a user.
pub(crate) fn user(u: &DirectoryUser) -> Map<String, Value> {
    let v = json!({
        "id": u.id,
        "accountEnabled": u.account_enabled,
        "businessPhones": [],
        "createdDateTime": null,
        "deletedDateTime": null,
        "department": opt(&u.department),
        "displayName": u.display_name,
        "employeeId": opt(&u.employee_id),
        "givenName": opt(&u.given_name),
        "jobTitle": opt(&u.job_title),
        "mail": opt(&u.mail),
        "mailNickname": nickname(u.mail.as_deref(), &u.user_principal_name),
        "mobilePhone": null,
        "officeLocation": null,
        "onPremisesImmutableId": null,
        "onPremisesSyncEnabled": null,
        "preferredLanguage": null,
        "surname": opt(&u.surname),
        "userPrincipalName": u.user_principal_name,
        "userType": u.user_type,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A user as an inaccessible member object: "only the @odata.type property for the object type and the id is
/// returned, while other properties are indicated as null" (Graph v1.0 "Limited information returned for
/// inaccessible member objects", <https://learn.microsoft.com/graph/permissions-overview#limited-information-returned-for-inaccessible-member-objects>).
pub(crate) fn limited_user(u: &DirectoryUser) -> Map<String, Value> {
    let mut m = user(u);
    for (k, v) in m.iter_mut() {
        if k != "id" {
            *v = Value::Null;
        }
    }
    m
}

/// `groupTypes`, `mailEnabled` and `securityEnabled` for each kind of group, per the table in Graph v1.0
/// "Working with groups in Microsoft Graph" (<https://learn.microsoft.com/graph/api/resources/groups-overview>):
/// Microsoft 365 `["Unified"]`, mail-enabled, not security-enabled; security `[]`, false, true; mail-enabled
/// security `[]`, true, true; distribution `[]`, true, false. Dynamic groups add `DynamicMembership` to
/// `groupTypes` and carry their `membershipRule` (the fake stores the rule but never evaluates it: membership is
/// whatever the test put in the group).
pub(crate) fn group(g: &GroupRec) -> Map<String, Value> {
    let (mut types, mail_enabled, security_enabled): (Vec<&str>, bool, bool) = match g.kind {
        DirectoryGroupKind::Microsoft365 => (vec!["Unified"], true, false),
        DirectoryGroupKind::Security => (vec![], false, true),
        DirectoryGroupKind::MailEnabledSecurity => (vec![], true, true),
        DirectoryGroupKind::Distribution => (vec![], true, false),
    };
    if g.membership_rule.is_some() {
        types.push("DynamicMembership");
    }
    let mail = if mail_enabled { g.mail.clone() } else { None };
    let v = json!({
        "id": g.id,
        "classification": null,
        "createdDateTime": null,
        "deletedDateTime": null,
        "description": opt(&g.description),
        "displayName": g.display_name,
        "groupTypes": types,
        "mail": opt(&mail),
        "mailEnabled": mail_enabled,
        "mailNickname": nickname(mail.as_deref(), &g.display_name),
        "membershipRule": opt(&g.membership_rule),
        "membershipRuleProcessingState": if g.membership_rule.is_some() { json!("On") } else { Value::Null },
        "onPremisesSyncEnabled": null,
        "proxyAddresses": mail.iter().map(|m| format!("SMTP:{m}")).collect::<Vec<_>>(),
        "securityEnabled": security_enabled,
        "visibility": if g.kind == DirectoryGroupKind::Microsoft365 { json!("Private") } else { Value::Null },
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A directory role (Graph v1.0 "directoryRole resource type").
pub(crate) fn role(r: &RoleRec) -> Map<String, Value> {
    let v = json!({
        "id": r.id,
        "deletedDateTime": null,
        "description": format!("{} role", r.display_name),
        "displayName": r.display_name,
        "roleTemplateId": r.template_id,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The tenant (Graph v1.0 "organization resource type"), with its default and initial verified domains.
pub(crate) fn organization(st: &State) -> Map<String, Value> {
    let initial = st.initial_domain();
    let mut domains = vec![json!({
        "capabilities": "Email, OfficeCommunicationsOnline",
        "isDefault": st.domain.eq_ignore_ascii_case(&initial),
        "isInitial": true,
        "name": initial,
        "type": "Managed"
    })];
    if !st.domain.eq_ignore_ascii_case(&initial) {
        domains.push(json!({
            "capabilities": "Email, OfficeCommunicationsOnline",
            "isDefault": true,
            "isInitial": false,
            "name": st.domain,
            "type": "Managed"
        }));
    }
    let v = json!({
        "id": st.tenant_id,
        "displayName": st.tenant_name,
        "tenantType": "AAD",
        "verifiedDomains": domains,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Adds `@odata.type`, as members of `directoryObject` collections carry it.
pub(crate) fn typed(mut m: Map<String, Value>, odata_type: &str) -> Map<String, Value> {
    m.insert("@odata.type".into(), Value::String(odata_type.to_owned()));
    m
}
