//! Building blocks for following the transitive membership of a few groups with delta queries, in as few round
//! trips as possible: each read is a `$batch` item ([`BatchRequest`]) the caller combines with others, and each
//! answer is finished here (following `@odata.nextLink` when an answer has more pages).
//!
//! * [`nested_groups_item`](GraphClient::nested_groups_item) — the groups nested in a group, at any depth
//!   (`/groups/{id}/transitiveMembers/microsoft.graph.group`, Graph v1.0 "List group transitive members").
//! * [`user_groups_item`](GraphClient::user_groups_item) — the groups a user is in, directly or through nesting
//!   (`/users/{id}/transitiveMemberOf/microsoft.graph.group`, Graph v1.0 "List a user's memberships (direct and
//!   transitive)").
//! * [`users_delta_item`](GraphClient::users_delta_item) and [`groups_delta_item`](GraphClient::groups_delta_item)
//!   — the first page of a delta round (Graph v1.0 "user: delta", "group: delta"; group rounds track `members`
//!   and may be limited to at most [`MAX_DELTA_IDS`] groups with `$filter=id eq '…' or …`).

use crate::batch::{BatchRequest, BatchResponse};
use crate::client::{Call, GraphClient};
use crate::delta::{DeltaGroup, DeltaStart, DeltaUser, GroupDelta};
use crate::error::GraphError;
use crate::models::{GROUP_SELECT, SYNC_USER_SELECT};
use crate::ops::PAGE_SIZE;
use crate::paging::Page;
use futures::TryStreamExt;
use serde::Deserialize;

/// The most groups one delta round may be limited to with `$filter=id eq …` (Graph v1.0 "group: delta":
/// "only supported for … tracking changes on specific objects … up to 50").
pub const MAX_DELTA_IDS: usize = 50;

/// A whole users delta round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsersDelta {
    /// Users changed (or removed) in the round.
    pub users: Vec<DeltaUser>,
    /// The link for the next round.
    pub delta_link: String,
}

#[derive(Debug, Deserialize)]
struct IdOnly {
    id: String,
}

fn eventual(mut request: BatchRequest) -> BatchRequest {
    request.headers.insert("ConsistencyLevel".into(), "eventual".into());
    request
}

fn no_delta_link(path: &str) -> GraphError {
    GraphError::Decode {
        path: path.into(),
        json_path: "@odata.deltaLink".into(),
        message: "the round ended without a delta link".into(),
    }
}

impl GraphClient {
    /// The relative URL of a link Graph gave (a delta or next link), for a batch item. Links to another host are
    /// refused, as when paging.
    fn relative_link(&self, link: &str) -> Result<String, GraphError> {
        let url = self.check_link(link)?;
        let base = self.base_url().as_str();
        Ok(match url.as_str().strip_prefix(base) {
            Some(rest) => format!("/{rest}"),
            None => url.path().to_owned(),
        })
    }

    /// A batch item reading one group (`GET /groups/{id}`).
    pub fn group_item(&self, id: impl Into<String>, group_id: &str) -> BatchRequest {
        BatchRequest::get(id, self.batch_url(&["groups", group_id], &[("$select", GROUP_SELECT)]))
    }

    /// A batch item listing the groups nested in a group at any depth, ids only.
    pub fn nested_groups_item(&self, id: impl Into<String>, group_id: &str) -> BatchRequest {
        let url = self.batch_url(
            &["groups", group_id, "transitiveMembers", "microsoft.graph.group"],
            &[("$select", "id"), ("$top", PAGE_SIZE), ("$count", "true")],
        );
        eventual(BatchRequest::get(id, url))
    }

    /// A batch item reading one user (`GET /users/{id}`).
    pub fn user_item(&self, id: impl Into<String>, user_id: &str) -> BatchRequest {
        BatchRequest::get(id, self.batch_url(&["users", user_id], &[("$select", SYNC_USER_SELECT)]))
    }

    /// A batch item listing the groups a user is in, directly or through nested groups, ids only.
    pub fn user_groups_item(&self, id: impl Into<String>, user_id: &str) -> BatchRequest {
        let url = self.batch_url(
            &["users", user_id, "transitiveMemberOf", "microsoft.graph.group"],
            &[("$select", "id"), ("$top", PAGE_SIZE), ("$count", "true")],
        );
        eventual(BatchRequest::get(id, url))
    }

    /// A batch item starting or resuming a users delta round.
    pub fn users_delta_item(&self, id: impl Into<String>, start: &DeltaStart) -> Result<BatchRequest, GraphError> {
        let url = match start {
            DeltaStart::Full => self.batch_url(&["users", "delta"], &[("$select", SYNC_USER_SELECT)]),
            DeltaStart::Latest => {
                self.batch_url(&["users", "delta"], &[("$select", SYNC_USER_SELECT), ("$deltatoken", "latest")])
            }
            DeltaStart::Resume(link) => self.relative_link(link)?,
        };
        Ok(BatchRequest::get(id, url))
    }

    /// A batch item starting or resuming a groups delta round that tracks `members`, limited to the groups
    /// `ids` (at most [`MAX_DELTA_IDS`]; a resumed round keeps the groups it started with).
    pub fn groups_delta_item(
        &self,
        id: impl Into<String>,
        start: &DeltaStart,
        ids: &[String],
    ) -> Result<BatchRequest, GraphError> {
        if ids.len() > MAX_DELTA_IDS {
            return Err(GraphError::InvalidInput(format!(
                "a groups delta round can follow at most {MAX_DELTA_IDS} groups, not {}",
                ids.len()
            )));
        }
        let select = format!("{GROUP_SELECT},members");
        // OData string literals: a single quote is written as two.
        let filter = ids.iter().map(|g| format!("id eq '{}'", g.replace('\'', "''"))).collect::<Vec<_>>().join(" or ");
        let mut query: Vec<(&str, &str)> = vec![("$select", select.as_str())];
        if !ids.is_empty() {
            query.push(("$filter", filter.as_str()));
        }
        let url = match start {
            DeltaStart::Full => self.batch_url(&["groups", "delta"], &query),
            DeltaStart::Latest => {
                query.push(("$deltatoken", "latest"));
                self.batch_url(&["groups", "delta"], &query)
            }
            DeltaStart::Resume(link) => self.relative_link(link)?,
        };
        Ok(BatchRequest::get(id, url))
    }

    /// The rest of a paged answer: its items and those of every page it links to.
    async fn finish<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        answer: BatchResponse,
        eventual: bool,
    ) -> Result<Vec<Page<T>>, GraphError> {
        let first: Page<T> = answer.into_result()?;
        let next = first.next_link.clone();
        let mut pages = vec![first];
        if let Some(link) = next {
            let call = Call::get(self.check_link(&link)?).eventual(eventual);
            let mut rest = std::pin::pin!(self.pages::<T>(call));
            while let Some(page) = rest.try_next().await? {
                pages.push(page);
            }
        }
        Ok(pages)
    }

    /// The ids of an answer to [`nested_groups_item`](Self::nested_groups_item) or
    /// [`user_groups_item`](Self::user_groups_item), every page.
    pub async fn ids_from(&self, answer: BatchResponse) -> Result<Vec<String>, GraphError> {
        let pages = self.finish::<IdOnly>(answer, true).await?;
        Ok(pages.into_iter().flat_map(|p| p.value).map(|i| i.id).collect())
    }

    /// The whole users delta round an answer to [`users_delta_item`](Self::users_delta_item) starts.
    pub async fn users_delta_from(&self, answer: BatchResponse) -> Result<UsersDelta, GraphError> {
        let mut out = UsersDelta::default();
        for page in self.finish::<DeltaUser>(answer, false).await? {
            out.users.extend(page.value);
            if let Some(link) = page.delta_link {
                out.delta_link = link;
            }
        }
        if out.delta_link.is_empty() {
            return Err(no_delta_link("users/delta"));
        }
        Ok(out)
    }

    /// The whole groups delta round an answer to [`groups_delta_item`](Self::groups_delta_item) starts, member
    /// changes merged across pages.
    pub async fn groups_delta_from(&self, answer: BatchResponse) -> Result<GroupDelta, GraphError> {
        let mut out = GroupDelta::default();
        for page in self.finish::<DeltaGroup>(answer, false).await? {
            out.absorb(page);
        }
        if out.delta_link.is_empty() {
            return Err(no_delta_link("groups/delta"));
        }
        Ok(out)
    }
}
