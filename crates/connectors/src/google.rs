//! Google Workspace organisational units as a source of people.
//!
//! A scope is an organisational unit's full path (`/Northfield Academy/Students`). A selected unit includes every
//! unit under it, whatever `users.list` does: the Directory API documents `orgUnitPath='/X'` as matching "all org
//! unit chains under the target", and the source also asks for each sub-unit none of whose users came back, so
//! that sub-units are included even if a query matched direct members only. Users are kept only if their own
//! `orgUnitPath` lies within the unit, and suspended or archived accounts are reported disabled (the engine then
//! suspends them).

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use google_directory_client::{DirectoryClient, DirectoryError, OrgUnit, User, is_within};
use std::collections::{BTreeMap, BTreeSet};
use sync_engine::model::{ConnectionId, ScopeId, ScopeSelection, SourcePerson};
use sync_engine::source::{IdentitySource, SourceError, SourceSnapshot};

/// The people of selected Google organisational units (and of every unit under each).
#[derive(Debug, Clone)]
pub struct GoogleSource {
    connection: ConnectionId,
    directory: DirectoryClient,
    concurrency: usize,
}

impl GoogleSource {
    /// A source reading through `directory` for `connection`.
    pub fn new(connection: ConnectionId, directory: DirectoryClient) -> GoogleSource {
        GoogleSource { connection, directory, concurrency: 4 }
    }

    /// Units read at once (default 4).
    pub fn with_concurrency(mut self, n: usize) -> GoogleSource {
        self.concurrency = n.max(1);
        self
    }

    /// The Directory client.
    pub fn directory(&self) -> &DirectoryClient {
        &self.directory
    }
}

fn source_error(error: DirectoryError) -> SourceError {
    if error.is_throttled() || error.is_transient() {
        SourceError::Unavailable(error.to_string())
    } else if error.is_unauthorized() || error.is_forbidden() {
        SourceError::Access(error.to_string())
    } else {
        SourceError::Other(error.to_string())
    }
}

/// Maps a Google user to a person: the stable user id, names from `name` (else split from `fullName`), the primary
/// email as email and sign-in name, and suspended or archived accounts as disabled.
pub fn person(user: &User) -> SourcePerson {
    let full = user.name.full_name.clone().unwrap_or_default();
    let (first, last) = match full.trim().rsplit_once(' ') {
        Some((f, l)) => (f.trim().to_owned(), l.trim().to_owned()),
        None => (full.trim().to_owned(), String::new()),
    };
    let given_name = user.name.given_name.clone().filter(|s| !s.trim().is_empty()).unwrap_or(first);
    let family_name = user.name.family_name.clone().filter(|s| !s.trim().is_empty()).unwrap_or(last);
    let email = user.primary_email.clone().filter(|e| e.contains('@'));
    SourcePerson {
        source_id: user.id.clone(),
        given_name,
        family_name,
        email: email.clone(),
        username: email,
        enabled: user.is_active(),
        scopes: Vec::new(),
    }
}

/// The path of a selected unit as the domain spells it (paths are matched without regard to letter case, as the
/// Admin console does), or `None` when there is no such unit. `/` always exists.
pub fn resolve(units: &[OrgUnit], path: &str) -> Option<String> {
    let wanted = path.trim().trim_end_matches('/');
    if wanted.is_empty() {
        return Some("/".to_owned());
    }
    let wanted = if wanted.starts_with('/') { wanted.to_owned() } else { format!("/{wanted}") };
    units
        .iter()
        .find(|u| u.org_unit_path == wanted)
        .or_else(|| units.iter().find(|u| u.org_unit_path.eq_ignore_ascii_case(&wanted)))
        .map(|u| u.org_unit_path.clone())
}

/// Everyone in `path` and under it: the unit's own query, then a query for each sub-unit none of whose users came
/// back (which finds nothing new when the service includes sub-units, as documented, and everything they hold when
/// it does not).
async fn members_of(
    directory: DirectoryClient,
    scope: ScopeId,
    path: String,
    sub_units: Vec<String>,
) -> Result<(ScopeId, Vec<User>), SourceError> {
    let not_found =
        |e: DirectoryError| if e.is_not_found() { SourceError::ScopeNotFound(scope.clone()) } else { source_error(e) };
    let mut users: BTreeMap<String, User> = BTreeMap::new();
    let first: Vec<User> = directory.users_in_org_unit(&path).try_collect().await.map_err(not_found)?;
    let mut seen_units: BTreeSet<String> = BTreeSet::new();
    for user in first {
        if let Some(p) = &user.org_unit_path {
            seen_units.insert(p.to_lowercase());
        }
        users.insert(user.id.clone(), user);
    }
    for unit in sub_units {
        if seen_units.contains(&unit.to_lowercase()) {
            continue;
        }
        let more: Vec<User> = directory.users_in_org_unit(&unit).try_collect().await.map_err(not_found)?;
        for user in more {
            users.entry(user.id.clone()).or_insert(user);
        }
    }
    let within: Vec<User> =
        users.into_values().filter(|u| u.org_unit_path.as_deref().is_none_or(|p| is_within(p, &path))).collect();
    Ok((scope, within))
}

#[async_trait]
impl IdentitySource for GoogleSource {
    fn connection(&self) -> &ConnectionId {
        &self.connection
    }

    async fn snapshot(&self, scopes: &[ScopeSelection]) -> Result<SourceSnapshot, SourceError> {
        // Resolve every unit first, so that a unit that does not exist is reported before anything is read.
        let units = self.directory.org_units().await.map_err(source_error)?;
        let mut work = Vec::new();
        for selection in scopes {
            let path = resolve(&units, selection.scope.as_str())
                .ok_or_else(|| SourceError::ScopeNotFound(selection.scope.clone()))?;
            let sub_units: Vec<String> = units
                .iter()
                .map(|u| u.org_unit_path.clone())
                .filter(|p| is_within(p, &path) && !p.eq_ignore_ascii_case(&path))
                .collect();
            work.push((selection.scope.clone(), path, sub_units));
        }
        let directory = self.directory.clone();
        let members: Vec<(ScopeId, Vec<User>)> = futures::stream::iter(work)
            .map(move |(scope, path, subs)| members_of(directory.clone(), scope, path, subs))
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        let mut people: BTreeMap<String, SourcePerson> = BTreeMap::new();
        let mut counts = BTreeMap::new();
        for (scope, users) in members {
            counts.insert(scope.clone(), users.len());
            for user in users {
                let entry = people.entry(user.id.clone()).or_insert_with(|| person(&user));
                if !entry.scopes.contains(&scope) {
                    entry.scopes.push(scope.clone());
                }
            }
        }
        Ok(SourceSnapshot { people: people.into_values().collect(), scope_counts: counts, cursor: None })
    }
}
