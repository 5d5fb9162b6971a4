//! The operations sync needs: the signed-in user, the tenant, groups, members, directory roles.
//!
//! Every request `$select`s only the properties [`crate::models`] reads, and lists ask for the largest page Graph
//! allows (`$top=999`). Member lists use the OData cast (`/microsoft.graph.user`) so only users come back; the
//! cast with `$count=true` is an advanced query, so those requests carry `ConsistencyLevel: eventual` — on every
//! page (Graph v1.0 "Advanced query capabilities on Microsoft Entra ID objects"; "List group transitive members").

use crate::client::{Call, GraphClient};
use crate::error::GraphError;
use crate::models::{
    DirectoryRole, GROUP_SELECT, Group, Organization, ROLE_SELECT, SYNC_USER_SELECT, USER_SELECT, User,
};
use crate::paging::Page;
use futures::{Stream, TryStreamExt};

/// Which groups to list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupQuery {
    /// Every group of the tenant.
    All,
    /// Groups whose display name contains these words (`$search="displayName:…"`, tokenised search; needs
    /// `ConsistencyLevel: eventual`).
    Search(String),
    /// Groups whose display name starts with this text (`$filter=startswith(displayName,'…')`).
    NameStartsWith(String),
}

/// The page size: the largest Graph accepts for directory objects.
pub const PAGE_SIZE: &str = "999";

impl GraphClient {
    /// The signed-in user (`GET /me`). Delegated tokens only.
    pub async fn me(&self) -> Result<User, GraphError> {
        self.get_json(&Call::get(self.url("me", &[("$select", USER_SELECT)]))).await
    }

    /// The tenant (`GET /organization`).
    pub async fn organization(&self) -> Result<Vec<Organization>, GraphError> {
        let url = self.url("organization", &[("$select", "id,displayName,verifiedDomains")]);
        self.items(Call::get(url)).try_collect().await
    }

    /// One group by id.
    pub async fn group(&self, id: &str) -> Result<Group, GraphError> {
        self.get_json(&Call::get(self.url_segments(&["groups", id], &[("$select", GROUP_SELECT)]))).await
    }

    /// Groups, as a stream.
    pub fn groups(&self, query: GroupQuery) -> impl Stream<Item = Result<Group, GraphError>> + Send + 'static {
        let mut params = vec![("$select", GROUP_SELECT.to_owned()), ("$top", PAGE_SIZE.to_owned())];
        let mut eventual = false;
        match query {
            GroupQuery::All => {}
            GroupQuery::Search(text) => {
                // Double quotes delimit the search clause; they cannot be escaped, so they are dropped.
                let words: Vec<&str> =
                    text.split(|c: char| c == '"' || c.is_whitespace()).filter(|w| !w.is_empty()).collect();
                params.push(("$search", format!("\"displayName:{}\"", words.join(" "))));
                params.push(("$count", "true".to_owned()));
                eventual = true;
            }
            GroupQuery::NameStartsWith(prefix) => {
                // OData string literal: a single quote is written as two.
                params.push(("$filter", format!("startswith(displayName,'{}')", prefix.replace('\'', "''"))));
            }
        }
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.items(Call::get(self.url("groups", &pairs)).eventual(eventual))
    }

    fn members_call(&self, group_id: &str, relation: &str) -> Call {
        let url = self.url_segments(
            &["groups", group_id, relation, "microsoft.graph.user"],
            &[("$select", SYNC_USER_SELECT), ("$top", PAGE_SIZE), ("$count", "true")],
        );
        Call::get(url).eventual(true)
    }

    /// The direct members of a group that are users.
    pub fn members(&self, group_id: &str) -> impl Stream<Item = Result<User, GraphError>> + Send + 'static {
        self.items(self.members_call(group_id, "members"))
    }

    /// Every user in a group, directly or through nested groups.
    pub fn transitive_members(&self, group_id: &str) -> impl Stream<Item = Result<User, GraphError>> + Send + 'static {
        self.items(self.members_call(group_id, "transitiveMembers"))
    }

    /// The pages of [`transitive_members`](Self::transitive_members) (for progress and request counting).
    pub fn transitive_member_pages(
        &self,
        group_id: &str,
    ) -> impl Stream<Item = Result<Page<User>, GraphError>> + Send + 'static {
        self.pages(self.members_call(group_id, "transitiveMembers"))
    }

    /// The directory roles the signed-in user holds, directly or through groups
    /// (`/me/transitiveMemberOf/microsoft.graph.directoryRole`).
    pub async fn my_directory_roles(&self) -> Result<Vec<DirectoryRole>, GraphError> {
        let url = self.url_segments(
            &["me", "transitiveMemberOf", "microsoft.graph.directoryRole"],
            &[("$select", ROLE_SELECT), ("$top", PAGE_SIZE), ("$count", "true")],
        );
        self.items(Call::get(url).eventual(true)).try_collect().await
    }
}
