//! Delta queries: what changed since the last round (Graph v1.0 "Use delta query to track changes in Microsoft
//! Graph data", "user: delta", "group: delta").
//!
//! A round follows `@odata.nextLink` until a page carries `@odata.deltaLink`; that link starts the next round.
//! Objects that left the scope carry `@removed` (`changed`: soft-deleted or out of scope; `deleted`: gone for
//! good). Group rounds that select `members` carry `members@delta`, and one group's member changes can be spread
//! over several pages, so they are merged. An expired or invalid delta link answers 410 Gone (or
//! `syncStateNotFound`): the call fails with [`GraphError::ResyncRequired`] and the caller starts a full round.
//! Delta does not report changes to nested membership: a group's round reports its direct members only, so a
//! caller that follows transitive membership tracks the nested groups too (see [`crate::tracking`]).

use crate::client::{Call, GraphClient};
use crate::error::GraphError;
use crate::models::{GROUP_SELECT, Group, Removed, SYNC_USER_SELECT, User};
use crate::paging::Page;
use futures::{Stream, StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where a delta round starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeltaStart {
    /// From nothing: every object, then a delta link.
    Full,
    /// From now: no objects, only a delta link (`$deltatoken=latest`).
    Latest,
    /// From a delta link a previous round returned.
    Resume(String),
}

/// A user in a delta round. It decodes as fast as a [`User`] does (one allocation per user), reading `@removed`
/// alongside the user's properties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeltaUser {
    /// The user (only `id` is certain for removed users).
    #[serde(flatten)]
    pub user: User,
    /// Set when the user left the scope.
    #[serde(default, rename = "@removed", skip_serializing_if = "Option::is_none")]
    pub removed: Option<Removed>,
}

impl<'de> Deserialize<'de> for DeltaUser {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<DeltaUser, D::Error> {
        let (user, removed) = crate::models::deserialize_delta_user(deserializer)?;
        Ok(DeltaUser { user, removed })
    }
}

/// One member change of a group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct MemberChange {
    #[serde(default, rename = "@odata.type")]
    odata_type: Option<String>,
    id: String,
    #[serde(default, rename = "@removed")]
    removed: Option<Removed>,
}

/// A group in a delta round page.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DeltaGroup {
    #[serde(flatten)]
    group: Group,
    #[serde(default, rename = "@removed")]
    removed: Option<Removed>,
    #[serde(default, rename = "members@delta")]
    members: Vec<MemberChange>,
}

/// What changed about one group in a round, merged across pages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GroupChange {
    /// The group's latest properties seen in the round.
    pub group: Group,
    /// Set when the group was deleted or left the scope.
    pub removed: Option<Removed>,
    /// User members added.
    pub users_added: BTreeSet<String>,
    /// User members removed.
    pub users_removed: BTreeSet<String>,
    /// Nested groups (and other non-user members) added; their users are not expanded by delta.
    pub others_added: BTreeSet<String>,
    /// Nested groups (and other non-user members) removed.
    pub others_removed: BTreeSet<String>,
}

/// The result of a whole group delta round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GroupDelta {
    /// Changes per group id.
    pub changes: BTreeMap<String, GroupChange>,
    /// The link for the next round.
    pub delta_link: String,
}

impl GroupDelta {
    /// Merges one page of a round.
    pub(crate) fn absorb(&mut self, page: Page<DeltaGroup>) {
        for item in page.value {
            let change = self.changes.entry(item.group.id.clone()).or_default();
            merge_group(&mut change.group, item.group);
            if item.removed.is_some() {
                change.removed = item.removed;
            }
            for member in item.members {
                let (added, removed) = if is_user(&member.odata_type) {
                    (&mut change.users_added, &mut change.users_removed)
                } else {
                    (&mut change.others_added, &mut change.others_removed)
                };
                // The latest statement about a member in the round wins.
                if member.removed.is_some() {
                    added.remove(&member.id);
                    removed.insert(member.id);
                } else {
                    removed.remove(&member.id);
                    added.insert(member.id);
                }
            }
        }
        if let Some(link) = page.delta_link {
            self.delta_link = link;
        }
    }
}

fn merge_group(into: &mut Group, from: Group) {
    macro_rules! take {
        ($($f:ident),*) => {$( if from.$f.is_some() { into.$f = from.$f; } )*};
    }
    take!(display_name, description, mail, mail_enabled, security_enabled, membership_rule);
    if !from.group_types.is_empty() {
        into.group_types = from.group_types;
    }
    into.id = from.id;
}

fn is_user(odata_type: &Option<String>) -> bool {
    odata_type.as_deref().is_none_or(|t| t.eq_ignore_ascii_case("#microsoft.graph.user"))
}

impl GraphClient {
    fn delta_call(&self, resource: &str, select: &str, start: &DeltaStart) -> Result<Call, GraphError> {
        Ok(match start {
            DeltaStart::Full => Call::get(self.url(&format!("{resource}/delta"), &[("$select", select)])),
            DeltaStart::Latest => {
                Call::get(self.url(&format!("{resource}/delta"), &[("$select", select), ("$deltatoken", "latest")]))
            }
            DeltaStart::Resume(link) => Call::get(self.check_link(link)?),
        })
    }

    /// A users delta round, page by page; the last page carries the `delta_link` for the next round.
    pub fn users_delta(
        &self,
        start: DeltaStart,
    ) -> impl Stream<Item = Result<Page<DeltaUser>, GraphError>> + Send + 'static {
        match self.delta_call("users", SYNC_USER_SELECT, &start) {
            Ok(call) => self.pages::<DeltaUser>(call).boxed(),
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        }
    }

    /// A whole groups delta round with member changes, merged across pages.
    pub async fn groups_delta(&self, start: DeltaStart) -> Result<GroupDelta, GraphError> {
        let select = format!("{GROUP_SELECT},members");
        let call = self.delta_call("groups", &select, &start)?;
        let mut result = GroupDelta::default();
        let mut pages = std::pin::pin!(self.pages::<DeltaGroup>(call));
        while let Some(page) = pages.try_next().await? {
            result.absorb(page);
        }
        if result.delta_link.is_empty() {
            return Err(GraphError::Decode {
                path: "groups/delta".into(),
                json_path: "@odata.deltaLink".into(),
                message: "the round ended without a delta link".into(),
            });
        }
        Ok(result)
    }
}
