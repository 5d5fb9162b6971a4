//! Following the selected groups with Graph delta queries (docs/connectors.md, "Microsoft: delta").
//!
//! Graph's group delta reports a group's *direct* member changes only, and its user delta reports property
//! changes of every user of the tenant. Transitive membership of the selected groups is followed exactly like
//! this:
//!
//! * **A full read arms the feed.** In one `$batch`, each selected group is checked (kind) and the groups nested
//!   in it at any depth are listed. In a second `$batch`, a groups delta link from now (`$deltatoken=latest`)
//!   is taken for the selected *and* nested groups (`$filter=id eq …`, 50 a link), a users delta link from
//!   now, and — after those — the nested groups are listed again. Then the members are read. If the nesting
//!   differs between the two listings (it changed while the links were taken), the read is used but no cursor
//!   is kept, so the next run reads in full again. The cursor holds the links, the nested groups of each
//!   selected group and the ids of its transitive user members.
//! * **An incremental read** follows the links (one `$batch` for all of them). Then:
//!   - a followed group deleted, or a group (or any non-user) added to or removed from a followed group — the
//!     nesting changed — or a selected group that is no longer a Security or Distribution group: a full read;
//!   - every user added to or removed from any followed group (selected or nested) is looked up: the groups they
//!     are in now, transitively (`transitiveMemberOf`), and their properties, 20 to a `$batch`; a user not found
//!     has left. More than `max_lookups` such users: a full read (it is cheaper);
//!   - a user the users delta reports changed (name, email, sign-in name, `accountEnabled`…) who is in a
//!     selected group (per the cursor, after the lookups) is reported with the new properties; one it reports
//!     removed (deleted) has left.
//! * A delta link Graph no longer accepts (410 Gone, `syncStateNotFound`…) means a full read.

use super::{person, source_error, syncable};
use graph_client::{BatchRequest, BatchResponse, DeltaStart, GraphClient, GraphError, MAX_BATCH, MAX_DELTA_IDS, User};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use sync_engine::model::{ScopeId, ScopeSelection, SourcePerson};
use sync_engine::source::{Changes, SourceCursor, SourceError};

/// The version of the cursor's layout.
const VERSION: u32 = 1;

/// What the cursor holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Tracking {
    v: u32,
    scopes: Vec<TrackedScope>,
    groups_links: Vec<String>,
    users_link: String,
}

/// One selected group: the groups nested in it and its transitive user members, both sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TrackedScope {
    id: String,
    nested: Vec<String>,
    members: Vec<String>,
}

/// Delta links taken before a full read's members are read.
#[derive(Debug, Clone)]
pub(super) struct Armed {
    groups_links: Vec<String>,
    users_link: String,
}

impl Armed {
    /// The cursor of a full read: these links, the nesting, and the members read.
    pub(super) fn cursor(
        self,
        scopes: &[ScopeSelection],
        nested: &[Vec<String>],
        members: &[Vec<String>],
    ) -> SourceCursor {
        let scopes = scopes
            .iter()
            .zip(nested)
            .zip(members)
            .map(|((s, n), m)| TrackedScope {
                id: s.scope.as_str().to_owned(),
                nested: sorted(n.iter().cloned()),
                members: sorted(m.iter().cloned()),
            })
            .collect();
        Tracking { v: VERSION, scopes, groups_links: self.groups_links, users_link: self.users_link }.to_cursor()
    }
}

fn sorted(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    ids.into_iter().collect::<BTreeSet<_>>().into_iter().collect()
}

impl Tracking {
    fn parse(cursor: &SourceCursor) -> Option<Tracking> {
        serde_json::from_str::<Tracking>(&cursor.0).ok().filter(|t| t.v == VERSION)
    }

    fn to_cursor(&self) -> SourceCursor {
        SourceCursor(serde_json::to_string(self).unwrap_or_default())
    }
}

/// Sends any number of independent batch items, [`MAX_BATCH`] to a batch; one answer per item, in order.
async fn batch_all(graph: &GraphClient, items: &[BatchRequest]) -> Result<Vec<BatchResponse>, GraphError> {
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(MAX_BATCH) {
        out.extend(graph.batch(chunk).await?);
    }
    Ok(out)
}

/// The followed groups: the selected ones and every group nested in them, each once, sorted.
fn followed(scopes: impl IntoIterator<Item = String>, nested: &[Vec<String>]) -> Vec<String> {
    sorted(scopes.into_iter().chain(nested.iter().flatten().cloned()))
}

/// Checks each selected group (it must exist and be a Security or Distribution group) and, when `with_nested`,
/// lists the groups nested in each: one `$batch` for up to ten groups.
pub(super) async fn check_and_nest(
    graph: &GraphClient,
    scopes: &[ScopeSelection],
    with_nested: bool,
) -> Result<Vec<Vec<String>>, SourceError> {
    let mut items = Vec::with_capacity(scopes.len() * 2);
    for (i, s) in scopes.iter().enumerate() {
        items.push(graph.group_item(format!("g{i}"), s.scope.as_str()));
        if with_nested {
            items.push(graph.nested_groups_item(format!("n{i}"), s.scope.as_str()));
        }
    }
    let mut answers = batch_all(graph, &items).await.map_err(source_error)?.into_iter();
    let mut nested = Vec::with_capacity(scopes.len());
    for selection in scopes {
        let group = answers.next().map(|a| a.into_result::<graph_client::Group>());
        match group {
            Some(Ok(group)) => {
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
            Some(Err(e)) if e.is_not_found() => return Err(SourceError::ScopeNotFound(selection.scope.clone())),
            Some(Err(e)) => return Err(source_error(e)),
            None => return Err(SourceError::Other("$batch: an answer is missing".into())),
        }
        if with_nested {
            let answer = answers.next().ok_or_else(|| SourceError::Other("$batch: an answer is missing".into()))?;
            nested.push(graph.ids_from(answer).await.map_err(source_error)?);
        } else {
            nested.push(Vec::new());
        }
    }
    Ok(nested)
}

/// Takes delta links from now for the selected and nested groups and for users, then lists the nesting again:
/// `None` (with the reason logged) when the feed cannot be armed — the nesting changed meanwhile, too many groups
/// for one `$batch`, or Graph refused.
pub(super) async fn arm(graph: &GraphClient, scopes: &[ScopeSelection], nested: &[Vec<String>]) -> Option<Armed> {
    match try_arm(graph, scopes, nested).await {
        Ok(armed) => armed,
        Err(e) => {
            tracing::warn!(error = %e, "cannot take delta links; the next run reads in full again");
            None
        }
    }
}

async fn try_arm(
    graph: &GraphClient,
    scopes: &[ScopeSelection],
    nested: &[Vec<String>],
) -> Result<Option<Armed>, GraphError> {
    let groups = followed(scopes.iter().map(|s| s.scope.as_str().to_owned()), nested);
    let chunks: Vec<&[String]> = groups.chunks(MAX_DELTA_IDS).collect();
    if chunks.len() + 1 + scopes.len() > MAX_BATCH {
        tracing::info!(groups = groups.len(), "too many groups to follow with delta; every run reads in full");
        return Ok(None);
    }
    let mut items = Vec::with_capacity(chunks.len() + 1 + scopes.len());
    let mut links = Vec::with_capacity(chunks.len() + 1);
    for (k, chunk) in chunks.iter().enumerate() {
        items.push(graph.groups_delta_item(format!("d{k}"), &DeltaStart::Latest, chunk)?);
        links.push(format!("d{k}"));
    }
    items.push(graph.users_delta_item("u", &DeltaStart::Latest)?);
    links.push("u".into());
    for (i, s) in scopes.iter().enumerate() {
        let mut item = graph.nested_groups_item(format!("n{i}"), s.scope.as_str());
        item.depends_on = links.clone();
        items.push(item);
    }
    let mut answers = graph.batch(&items).await?.into_iter();
    let mut groups_links = Vec::with_capacity(chunks.len());
    for _ in &chunks {
        let answer = answers.next().ok_or_else(missing)?;
        groups_links.push(graph.groups_delta_from(answer).await?.delta_link);
    }
    let users_link = graph.users_delta_from(answers.next().ok_or_else(missing)?).await?.delta_link;
    for (scope, before) in scopes.iter().zip(nested) {
        let now = graph.ids_from(answers.next().ok_or_else(missing)?).await?;
        if sorted(now) != sorted(before.iter().cloned()) {
            tracing::info!(group = %scope.scope, "the group's nesting changed while it was read; the next run reads in full");
            return Ok(None);
        }
    }
    Ok(Some(Armed { groups_links, users_link }))
}

fn missing() -> GraphError {
    GraphError::Decode { path: "$batch".into(), json_path: "responses".into(), message: "an answer is missing".into() }
}

fn full(why: &str) -> Result<Changes, SourceError> {
    tracing::info!("{why}; reading in full");
    Ok(Changes::FullResyncRequired)
}

/// What a lookup found about a user whose membership changed.
enum Lookup {
    /// The user is gone from the tenant.
    Gone,
    /// The user, and the selected groups they are in now.
    Found(Box<User>, Vec<ScopeId>),
}

/// The changes since `cursor` (see the module docs for the rules).
pub(super) async fn changes(
    graph: &GraphClient,
    scopes: &[ScopeSelection],
    cursor: &SourceCursor,
    max_lookups: usize,
) -> Result<Changes, SourceError> {
    let Some(mut tracking) = Tracking::parse(cursor) else { return full("the cursor is unreadable") };
    if !tracking.scopes.iter().map(|s| s.id.as_str()).eq(scopes.iter().map(|s| s.scope.as_str())) {
        return full("the selected groups changed");
    }

    // One round of every link, in one batch when they fit.
    let mut items = Vec::with_capacity(tracking.groups_links.len() + 1);
    for (k, link) in tracking.groups_links.iter().enumerate() {
        match graph.groups_delta_item(format!("d{k}"), &DeltaStart::Resume(link.clone()), &[]) {
            Ok(item) => items.push(item),
            Err(e) => return full(&format!("a saved delta link cannot be followed ({e})")),
        }
    }
    match graph.users_delta_item("u", &DeltaStart::Resume(tracking.users_link.clone())) {
        Ok(item) => items.push(item),
        Err(e) => return full(&format!("a saved delta link cannot be followed ({e})")),
    }
    let mut answers = batch_all(graph, &items).await.map_err(source_error)?.into_iter();
    let mut group_changes = BTreeMap::new();
    let mut groups_links = Vec::with_capacity(tracking.groups_links.len());
    for _ in 0..tracking.groups_links.len() {
        let answer = answers.next().ok_or_else(|| source_error(missing()))?;
        match graph.groups_delta_from(answer).await {
            Ok(round) => {
                group_changes.extend(round.changes);
                groups_links.push(round.delta_link);
            }
            Err(e) if e.is_resync_required() => return full(&format!("Graph no longer accepts the delta link ({e})")),
            Err(e) => return Err(source_error(e)),
        }
    }
    let users = match graph.users_delta_from(answers.next().ok_or_else(|| source_error(missing()))?).await {
        Ok(round) => round,
        Err(e) if e.is_resync_required() => return full(&format!("Graph no longer accepts the delta link ({e})")),
        Err(e) => return Err(source_error(e)),
    };

    // Group changes: the nesting must be unchanged; user member changes are looked up.
    let nested: Vec<Vec<String>> = tracking.scopes.iter().map(|s| s.nested.clone()).collect();
    let tracked: HashSet<String> =
        followed(tracking.scopes.iter().map(|s| s.id.clone()), &nested).into_iter().collect();
    let selected: HashSet<&str> = scopes.iter().map(|s| s.scope.as_str()).collect();
    let mut affected: BTreeSet<String> = BTreeSet::new();
    for (id, change) in group_changes {
        if !tracked.contains(&id) {
            continue;
        }
        if change.removed.is_some() {
            return full(&format!("group {id} was deleted"));
        }
        if !change.others_added.is_empty() || !change.others_removed.is_empty() {
            return full(&format!("the nesting of group {id} changed"));
        }
        let kind_known = change.group.security_enabled.is_some() || change.group.mail_enabled.is_some();
        if selected.contains(id.as_str()) && kind_known && syncable(&change.group).is_err() {
            return full(&format!("group {id} changed kind"));
        }
        affected.extend(change.users_added);
        affected.extend(change.users_removed);
    }

    // User changes.
    let mut changed: HashMap<String, User> = HashMap::new();
    let mut deleted: BTreeSet<String> = BTreeSet::new();
    for u in users.users {
        if u.removed.is_some() {
            deleted.insert(u.user.id().to_owned());
        } else {
            changed.insert(u.user.id().to_owned(), u.user);
        }
    }
    let lookups: Vec<String> = affected.into_iter().filter(|u| !deleted.contains(u)).collect();
    if lookups.len() > max_lookups {
        return full(&format!("{} users' memberships changed, more than {max_lookups} to look up", lookups.len()));
    }
    let found = lookup(graph, scopes, &lookups, &changed).await?;

    // Apply to the members of each selected group, and say who changed.
    let mut members: Vec<BTreeSet<String>> =
        tracking.scopes.iter().map(|s| s.members.iter().cloned().collect()).collect();
    let old_scopes = |members: &[BTreeSet<String>], id: &str| -> Vec<ScopeId> {
        scopes.iter().zip(members).filter(|(_, m)| m.contains(id)).map(|(s, _)| s.scope.clone()).collect()
    };
    let mut upserts: BTreeMap<String, SourcePerson> = BTreeMap::new();
    let mut removed: BTreeSet<String> = BTreeSet::new();
    for id in &deleted {
        leave(&mut members, id, &mut removed);
    }
    for (id, lookup) in lookups.iter().zip(found) {
        match lookup {
            Lookup::Gone => leave(&mut members, id, &mut removed),
            Lookup::Found(user, now) => {
                if now.is_empty() {
                    leave(&mut members, id, &mut removed);
                    continue;
                }
                for (s, m) in scopes.iter().zip(members.iter_mut()) {
                    if now.contains(&s.scope) {
                        m.insert(id.clone());
                    } else {
                        m.remove(id);
                    }
                }
                let mut p = person(&user);
                p.scopes = now;
                upserts.insert(id.clone(), p);
            }
        }
    }
    for (id, user) in &changed {
        if upserts.contains_key(id) || removed.contains(id) {
            continue;
        }
        let now = old_scopes(&members, id);
        if now.is_empty() {
            continue; // Not in a selected group: not ours.
        }
        let mut p = person(user);
        p.scopes = now;
        upserts.insert(id.clone(), p);
    }

    let scope_counts = scopes.iter().zip(&members).map(|(s, m)| (s.scope.clone(), m.len())).collect();
    for (t, m) in tracking.scopes.iter_mut().zip(members) {
        t.members = m.into_iter().collect();
    }
    tracking.groups_links = groups_links;
    tracking.users_link = users.delta_link;
    Ok(Changes::Changes {
        upserts: upserts.into_values().collect(),
        removed: removed.into_iter().collect(),
        scope_counts,
        cursor: tracking.to_cursor(),
    })
}

/// Takes a user out of every selected group; records them as removed if they were in one.
fn leave(members: &mut [BTreeSet<String>], id: &str, removed: &mut BTreeSet<String>) {
    let mut was_in = false;
    for m in members.iter_mut() {
        was_in |= m.remove(id);
    }
    if was_in {
        removed.insert(id.to_owned());
    }
}

/// Looks up users whose membership changed: the selected groups they are in now (transitively) and, unless the
/// users delta already has them, their properties. 20 items a `$batch`.
async fn lookup(
    graph: &GraphClient,
    scopes: &[ScopeSelection],
    users: &[String],
    known: &HashMap<String, User>,
) -> Result<Vec<Lookup>, SourceError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let mut items = Vec::with_capacity(users.len() * 2);
    for (j, id) in users.iter().enumerate() {
        items.push(graph.user_groups_item(format!("m{j}"), id));
        if !known.contains_key(id) {
            items.push(graph.user_item(format!("a{j}"), id));
        }
    }
    let mut answers = batch_all(graph, &items).await.map_err(source_error)?.into_iter();
    let mut out = Vec::with_capacity(users.len());
    for id in users {
        let groups = match answers.next() {
            Some(a) => graph.ids_from(a).await,
            None => return Err(source_error(missing())),
        };
        let user = match known.get(id) {
            Some(u) => Ok(u.clone()),
            None => match answers.next() {
                Some(a) => a.into_result::<User>(),
                None => return Err(source_error(missing())),
            },
        };
        out.push(match (groups, user) {
            (Err(e), _) | (_, Err(e)) if e.is_not_found() => Lookup::Gone,
            (Err(e), _) | (_, Err(e)) => return Err(source_error(e)),
            (Ok(groups), Ok(user)) => {
                let groups: HashSet<String> = groups.into_iter().collect();
                let now =
                    scopes.iter().filter(|s| groups.contains(s.scope.as_str())).map(|s| s.scope.clone()).collect();
                Lookup::Found(Box::new(user), now)
            }
        });
    }
    Ok(out)
}
