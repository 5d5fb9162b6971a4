//! Microsoft Entra ID groups as a source of people: full reads of the selected groups' transitive members, and
//! incremental reads through Graph delta queries ([`delta`] explains how transitive membership is followed).

mod delta;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use graph_client::{GraphClient, GraphError, Group, GroupKind, User};
use std::collections::BTreeMap;
use sync_engine::model::{ConnectionId, ScopeId, ScopeSelection, SourcePerson};
use sync_engine::source::{Changes, IdentitySource, SourceCursor, SourceError, SourceSnapshot};

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

/// The people of selected Microsoft groups (transitive members that are users), read in full or, after a full
/// read, incrementally through Graph delta queries.
#[derive(Debug, Clone)]
pub struct MicrosoftSource {
    connection: ConnectionId,
    graph: GraphClient,
    concurrency: usize,
    delta: bool,
    max_lookups: usize,
}

/// The default of [`MicrosoftSource::with_max_lookups`].
pub const DEFAULT_MAX_LOOKUPS: usize = 1000;

impl MicrosoftSource {
    /// A source reading through `graph` for `connection`, with delta on.
    pub fn new(connection: ConnectionId, graph: GraphClient) -> MicrosoftSource {
        MicrosoftSource { connection, graph, concurrency: 4, delta: true, max_lookups: DEFAULT_MAX_LOOKUPS }
    }

    /// Whether full reads take delta links so that later runs can read only the changes (default on). Off, every
    /// run reads in full.
    pub fn with_delta(mut self, on: bool) -> MicrosoftSource {
        self.delta = on;
        self
    }

    /// The most users whose group membership changed that an incremental read looks up one by one (20 a
    /// `$batch`); above it, a full read is cheaper and is asked for instead. Default [`DEFAULT_MAX_LOOKUPS`].
    pub fn with_max_lookups(mut self, n: usize) -> MicrosoftSource {
        self.max_lookups = n;
        self
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
        // Check every group first, so that one unsyncable group is reported before anything is read; list the
        // groups nested in each at the same time, and take delta links before reading members (see `delta`).
        let nested = delta::check_and_nest(&self.graph, scopes, self.delta).await?;
        let armed = if self.delta { delta::arm(&self.graph, scopes, &nested).await } else { None };
        let wanted: Vec<ScopeId> = scopes.iter().map(|s| s.scope.clone()).collect();
        let graph = self.graph.clone();
        let members: Vec<(ScopeId, Vec<User>)> = futures::stream::iter(wanted)
            .map(move |scope| members_of(graph.clone(), scope))
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        let cursor = armed.map(|armed| {
            let ids: Vec<Vec<String>> =
                members.iter().map(|(_, users)| users.iter().map(|u| u.id().to_owned()).collect()).collect();
            armed.cursor(scopes, &nested, &ids)
        });
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
        Ok(SourceSnapshot { people: people.into_values().collect(), scope_counts: counts, cursor })
    }

    async fn changes(&self, scopes: &[ScopeSelection], cursor: &SourceCursor) -> Result<Changes, SourceError> {
        if !self.delta {
            return Err(SourceError::ChangesUnsupported);
        }
        delta::changes(&self.graph, scopes, cursor, self.max_lookups).await
    }
}
