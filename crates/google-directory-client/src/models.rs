//! The resources this client reads, with the fields user sync uses (Admin SDK Directory API reference: "Resource:
//! User", <https://developers.google.com/workspace/admin/directory/reference/rest/v1/users>, and "Resource:
//! OrgUnit", <https://developers.google.com/workspace/admin/directory/reference/rest/v1/orgunits>).

use serde::{Deserialize, Serialize};

/// A user's name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserName {
    /// First name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub family_name: Option<String>,
    /// Full name (given and family name, as Google forms it).
    #[serde(default)]
    pub full_name: Option<String>,
}

/// A user of the domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The stable, unique id (it does not change when the email does).
    pub id: String,
    /// The primary email address.
    #[serde(default)]
    pub primary_email: Option<String>,
    /// The name.
    #[serde(default)]
    pub name: UserName,
    /// Whether the account is suspended.
    #[serde(default)]
    pub suspended: Option<bool>,
    /// Whether the account is archived.
    #[serde(default)]
    pub archived: Option<bool>,
    /// The full path of the user's organisational unit (`/` for the top).
    #[serde(default)]
    pub org_unit_path: Option<String>,
}

impl User {
    /// Whether the account can be used: neither suspended nor archived.
    pub fn is_active(&self) -> bool {
        self.suspended != Some(true) && self.archived != Some(true)
    }
}

/// An organisational unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgUnit {
    /// The unique id, e.g. `id:03ph8a2z1xyz`.
    #[serde(default)]
    pub org_unit_id: Option<String>,
    /// The full path, e.g. `/Northfield/Students/Year 7`.
    pub org_unit_path: String,
    /// Its own name (the last segment of the path).
    #[serde(default)]
    pub name: Option<String>,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
    /// The parent's path (`/` for a unit at the top).
    #[serde(default)]
    pub parent_org_unit_path: Option<String>,
}

/// One page of `users.list`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersPage {
    /// The users (absent from the JSON when there are none).
    #[serde(default)]
    pub users: Vec<User>,
    /// The next page, when there is one.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// The answer of `orgunits.list` (not paged: "the organizational unit resources do not use response pagination").
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrgUnits {
    #[serde(default)]
    pub(crate) organization_units: Vec<OrgUnit>,
}

/// Whether `path` is `ancestor` or lies under it (`/A/B` is under `/A`, `/AB` is not; everything is under `/`).
/// Organisational unit paths are compared without regard to letter case, as the Admin console treats them.
pub fn is_within(path: &str, ancestor: &str) -> bool {
    let path = path.trim_end_matches('/');
    let ancestor = ancestor.trim_end_matches('/');
    if ancestor.is_empty() {
        return true;
    }
    let (p, a) = (path.to_lowercase(), ancestor.to_lowercase());
    p == a || (p.starts_with(&a) && p[a.len()..].starts_with('/'))
}

/// The `users.list` query clause that selects an organisational unit and everything under it
/// (`orgUnitPath='/A/B'`): the value is quoted, and single quotes in it escaped with `\'` (Directory API "Search
/// for users", <https://developers.google.com/workspace/admin/directory/v1/guides/search-users>, "Value types").
pub fn org_unit_query(path: &str) -> String {
    format!("orgUnitPath='{}'", path.replace('\'', "\\'"))
}
