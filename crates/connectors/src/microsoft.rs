//! Microsoft Entra ID groups as a source of people.

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use graph_client::{GraphClient, GraphError, Group, GroupKind, User};
use std::collections::BTreeMap;
use sync_engine::model::{ConnectionId, ScopeId, ScopeSelection, SourcePerson};
use sync_engine::source::{IdentitySource, SourceError, SourceSnapshot};

/// Why a group of this kind cannot be synced, in words for an admin (the product's help article: only Security
/// and Distribution groups can be synced).
pub const MICROSOFT_365_REFUSAL: &str = "it is a Microsoft 365 group; only Security groups and Distribution groups can be \
     synced. Create a Security group with the same members (or use the Microsoft 365 group's members in a Security \
     group) and select that instead";

/// Whether a group can be synced, and if not, why.
pub fn syncable(group: &Group) -> Result<(), String> {
    match group.kind() {
        GroupKind::Security | GroupKind::MailEnabledSecurity | GroupKind::Distribution => Ok(()),
        GroupKind::Microsoft365 => Err(MICROSOFT_365_REFUSAL.to_owned()),
        GroupKind::Other => Err("it is neither a Security group nor a Distribution group".to_owned()),
    }
}

/// The people of selected Microsoft groups (transitive members that are users).
#[derive(Debug, Clone)]
pub struct MicrosoftSource {
    connection: ConnectionId,
    graph: GraphClient,
    concurrency: usize,
}

impl MicrosoftSource {
    /// A source reading through `graph` for `connection`.
    pub fn new(connection: ConnectionId, graph: GraphClient) -> MicrosoftSource {
        MicrosoftSource { connection, graph, concurrency: 4 }
    }

    /// Groups read at once (default 4).
    pub fn with_concurrency(mut self, n: usize) -> MicrosoftSource {
        self.concurrency = n.max(1);
        self
    }

    /// The Graph client.
    pub fn graph(&self) -> &GraphClient {
        &self.graph
    }
}

fn source_error(error: GraphError) -> SourceError {
    if error.is_unauthorized() || error.is_forbidden() {
        SourceError::Access(error.to_string())
    } else if error.is_transient() {
        SourceError::Unavailable(error.to_string())
    } else {
        SourceError::Other(error.to_string())
    }
}

/// Maps a Graph user to a person: names from `givenName`/`surname` (else split from `displayName`), email from
/// `mail` (else the UPN), blocked sign-in (`accountEnabled = false`) as disabled.
pub fn person(user: &User) -> SourcePerson {
    let display = user.display_name().unwrap_or_default();
    let (first, last) = match display.trim().rsplit_once(' ') {
        Some((f, l)) => (f.trim().to_owned(), l.trim().to_owned()),
        None => (display.trim().to_owned(), String::new()),
    };
    let given_name = user.given_name().filter(|s| !s.trim().is_empty()).map_or(first, str::to_owned);
    let family_name = user.surname().filter(|s| !s.trim().is_empty()).map_or(last, str::to_owned);
    let upn = user.user_principal_name();
    let email = user
        .mail()
        .filter(|m| m.contains('@'))
        .or_else(|| upn.filter(|u| u.contains('@') && !u.contains("#EXT#")))
        .map(str::to_owned);
    SourcePerson {
        source_id: user.id().to_owned(),
        given_name,
        family_name,
        email,
        username: upn.map(str::to_owned),
        enabled: user.account_enabled() != Some(false),
        scopes: Vec::new(),
    }
}

async fn members_of(graph: GraphClient, scope: ScopeId) -> Result<(ScopeId, Vec<User>), SourceError> {
    let users: Vec<User> = graph
        .transitive_members(scope.as_str())
        .try_collect()
        .await
        .map_err(|e| if e.is_not_found() { SourceError::ScopeNotFound(scope.clone()) } else { source_error(e) })?;
    Ok((scope, users))
}

#[async_trait]
impl IdentitySource for MicrosoftSource {
    fn connection(&self) -> &ConnectionId {
        &self.connection
    }

    async fn snapshot(&self, scopes: &[ScopeSelection]) -> Result<SourceSnapshot, SourceError> {
        // Check every group first, so that one unsyncable group is reported before anything is read.
        let ids: Vec<String> = scopes.iter().map(|s| s.scope.as_str().to_owned()).collect();
        let groups = self.graph.groups_by_id(&ids).await.map_err(source_error)?;
        for (selection, group) in scopes.iter().zip(groups) {
            match group {
                Ok(group) => {
                    if let Err(reason) = syncable(&group) {
                        return Err(SourceError::UnsupportedScope {
                            scope: selection.scope.clone(),
                            reason: format!(
                                "group `{}` cannot be synced: {reason}",
                                group.display_name.as_deref().unwrap_or(&selection.name)
                            ),
                        });
                    }
                }
                Err(e) if e.is_not_found() => return Err(SourceError::ScopeNotFound(selection.scope.clone())),
                Err(e) => return Err(source_error(e)),
            }
        }
        let wanted: Vec<ScopeId> = scopes.iter().map(|s| s.scope.clone()).collect();
        let graph = self.graph.clone();
        let members: Vec<(ScopeId, Vec<User>)> = futures::stream::iter(wanted)
            .map(move |scope| members_of(graph.clone(), scope))
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        let mut people: BTreeMap<String, SourcePerson> = BTreeMap::new();
        let mut counts = BTreeMap::new();
        for (scope, users) in members {
            counts.insert(scope.clone(), users.len());
            for user in users {
                let entry = people.entry(user.id().to_owned()).or_insert_with(|| person(&user));
                if !entry.scopes.contains(&scope) {
                    entry.scopes.push(scope.clone());
                }
            }
        }
        Ok(SourceSnapshot { people: people.into_values().collect(), scope_counts: counts, cursor: None })
    }
}
