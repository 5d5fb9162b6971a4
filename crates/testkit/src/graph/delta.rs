//! Users and groups delta with real change tracking.
//!
//! Follows Graph v1.0 "Use delta query to track changes in Microsoft Graph data"
//! (<https://learn.microsoft.com/graph/delta-query-overview>), "user: delta", "group: delta" and "Get incremental
//! changes for groups" (<https://learn.microsoft.com/graph/delta-query-groups>):
//!
//! * A round is one or more pages linked by `@odata.nextLink` (a `$skiptoken`); its last page carries
//!   `@odata.deltaLink` (a `$deltatoken`) that starts the next round. Tokens are opaque and carry the round's
//!   `$select`, so later requests need not repeat it.
//! * The first round returns every object that exists (deleted ones are not returned); later rounds return the
//!   objects changed since the token, with the selected properties (changed or not; properties never set are left
//!   out), and removed objects as `{"id", "@removed": {"reason": "changed" | "deleted"}}` — `changed` when the
//!   object can still be restored from deleted items, `deleted` when it is gone for good.
//! * With `$select`, only changes to the selected properties make an object show up.
//! * Group rounds that track `members` (no `$select`, `$select` including `members`, or `$expand=members`) carry
//!   `members@delta`: the members in the first round, then the members added, and removed ones with
//!   `@removed: {"reason": "deleted"}`. When one group's member list is longer than a page holds, the group
//!   fills the page and comes again, same properties, with the rest of its members on the following pages.
//! * `$deltatoken=latest` answers no objects and a delta link from now ("sync from now").
//! * `$filter` only as `id eq '…'` (joined by `or`, at most 50).
//! * "In case of an expired token, the service should respond with a 40X-series error with error codes such as
//!   syncStateNotFound", and a reset is "a response code of 410 (gone) and a Location header containing a request
//!   URL with an empty $deltaToken (same as the initial query)": the fake answers an expired token (older than
//!   the seven days directory objects keep them, or any token outstanding when
//!   [`FakeGraph::expire_delta_tokens`](super::FakeGraph::expire_delta_tokens) is called) with exactly that: 410,
//!   code `syncStateNotFound`, and that `Location`.
//!
//! Delta says nothing of nested membership: a user added to a nested group changes only that group's members.
//!
//! A round limited by `$filter` looks only at those ids, and a resumed users round only at the users the change
//! log has in its range, so a round with nothing to report costs the fake little, however large the tenant.

use super::FakeGraph;
use super::auth::{self, Need};
use super::odata::{self, ApiError, Ctx, Query, Reply, decode_token, encode_token};
use super::render::{self, GROUP, USER};
use super::state::{MemberKind, State};
use axum::extract::{RawQuery, State as AxState};
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::ops::Bound;

/// Where a round stands; serialized into the opaque `$skiptoken` / `$deltatoken`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Round {
    /// `users` or `groups`.
    r: String,
    /// The delta epoch the token was issued in.
    e: u32,
    /// When the token was issued (seconds on the fake's clock).
    t: u64,
    /// Changes after this sequence number are reported; `None` for a first (full) round.
    f: Option<u64>,
    /// …up to and including this one.
    u: u64,
    /// The tracked properties (`None`: the default set).
    s: Option<Vec<String>>,
    /// Whether group members are tracked.
    m: bool,
    /// Only these ids (`$filter=id eq …`).
    i: Option<Vec<String>>,
    /// The last object fully served.
    c: Option<String>,
    /// A group whose members continue on the next page: (group id, last member served).
    p: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Users,
    Groups,
}

impl Resource {
    fn name(self) -> &'static str {
        match self {
            Resource::Users => "users",
            Resource::Groups => "groups",
        }
    }
}

/// 410 Gone, `syncStateNotFound`, and a `Location` to start again from.
fn expired(ctx: &Ctx, res: Resource) -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "syncStateNotFound",
        "The delta token is no longer valid (it expired or the sync state was reset). Start again with a full \
         synchronization.",
    )
    .with_header(header::LOCATION, format!("{}/v1.0/{}/delta?$deltatoken=", ctx.base, res.name()))
}

fn decode_round(st: &State, ctx: &Ctx, res: Resource, token: &str) -> Result<Round, ApiError> {
    let round: Round = decode_token(token)
        .and_then(|v| serde_json::from_value(v).ok())
        .filter(|r: &Round| r.r == res.name())
        .ok_or_else(|| ApiError::bad_request("BadRequest", "The specified delta or skip token is not valid."))?;
    let age = st.clock.now().as_secs().saturating_sub(round.t);
    if round.e != st.delta_epoch || age >= st.settings.delta_token_retention.as_secs() {
        return Err(expired(ctx, res));
    }
    Ok(round)
}

/// The tracked properties and whether members are tracked, from `$select` / `$expand`.
fn tracking(res: Resource, q: &Query) -> Result<(Option<Vec<String>>, bool), ApiError> {
    match res {
        Resource::Users => Ok((USER.resolve_select(q.select.as_deref())?, false)),
        Resource::Groups => {
            let expand_members = q.expand.as_deref().is_some_and(|e| e.trim().eq_ignore_ascii_case("members"));
            match q.select.as_deref() {
                None => Ok((None, true)),
                Some(sel) => {
                    let members = sel.iter().any(|s| s.eq_ignore_ascii_case("members"));
                    let props: Vec<String> =
                        sel.iter().filter(|s| !s.eq_ignore_ascii_case("members")).cloned().collect();
                    Ok((GROUP.resolve_select(Some(&props))?, members || expand_members))
                }
            }
        }
    }
}

fn filter_ids(q: &Query) -> Result<Option<Vec<String>>, ApiError> {
    let Some(text) = q.filter.as_deref() else { return Ok(None) };
    let unsupported = || {
        ApiError::bad_request(
            "Request_UnsupportedQuery",
            "The only supported $filter expression on delta is tracking changes on specific objects: id eq '{value}', \
             joined by 'or', for at most 50 objects.",
        )
    };
    let ids = odata::parse_filter(text).ok().and_then(|f| f.only_ids()).ok_or_else(unsupported)?;
    if ids.len() > 50 {
        return Err(unsupported());
    }
    Ok(Some(ids))
}

enum Start {
    Page(Round),
    Latest(Round),
}

fn start(st: &State, ctx: &Ctx, res: Resource, q: &Query) -> Result<Start, ApiError> {
    let now = st.clock.now().as_secs();
    if let Some(skip) = q.skiptoken.as_deref() {
        return Ok(Start::Page(decode_round(st, ctx, res, skip)?));
    }
    let fresh = |f: Option<u64>, s, m, i| Round {
        r: res.name().into(),
        e: st.delta_epoch,
        t: now,
        f,
        u: st.seq,
        s,
        m,
        i,
        c: None,
        p: None,
    };
    match q.deltatoken.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("latest") => {
            let (s, m) = tracking(res, q)?;
            Ok(Start::Latest(fresh(None, s, m, filter_ids(q)?)))
        }
        Some(t) if !t.is_empty() => {
            let prev = decode_round(st, ctx, res, t)?;
            // "$select and $deltaLink … so that customers can change the properties they want to track".
            let (s, m) = if q.select.is_some() { tracking(res, q)? } else { (prev.s.clone(), prev.m) };
            let i = if q.filter.is_some() { filter_ids(q)? } else { prev.i.clone() };
            Ok(Start::Page(fresh(Some(prev.u), s, m, i)))
        }
        _ => {
            let (s, m) = tracking(res, q)?;
            Ok(Start::Page(fresh(None, s, m, filter_ids(q)?)))
        }
    }
}

fn link(ctx: &Ctx, res: Resource, kind: &str, round: &Round) -> String {
    let value = serde_json::to_value(round).unwrap_or(Value::Null);
    format!("{}/v1.0/{}/delta?${kind}={}", ctx.base, res.name(), encode_token(&value))
}

/// Selected properties, without the ones never set.
fn delta_object(obj: &Map<String, Value>, select: Option<&[String]>, default: &[&str]) -> Map<String, Value> {
    let mut out = odata::project(obj, select, default);
    out.retain(|k, v| k == "id" || !v.is_null());
    out
}

fn removed(id: &str, reason: &str) -> Value {
    json!({"id": id, "@removed": {"reason": reason}})
}

fn in_range(seq: u64, round: &Round) -> bool {
    round.f.is_none_or(|f| seq > f) && seq <= round.u
}

/// What a round says about one user, if anything.
fn user_item(st: &State, round: &Round, id: &str) -> Option<Value> {
    if round.i.as_ref().is_some_and(|ids| !ids.iter().any(|i| i == id)) {
        return None;
    }
    let tracked: Vec<String> = match &round.s {
        Some(s) => s.clone(),
        None => USER.default.iter().map(|s| (*s).to_owned()).collect(),
    };
    if let Some(seq) = st.user_tombstones.get(id) {
        return (round.f.is_some() && in_range(*seq, round)).then(|| removed(id, "deleted"));
    }
    let rec = st.users.get(id)?;
    if let Some(seq) = rec.deleted {
        return (round.f.is_some() && in_range(seq, round)).then(|| removed(id, "changed"));
    }
    let include = match round.f {
        None => rec.created <= round.u,
        Some(_) => in_range(rec.last_change(Some(&tracked)), round),
    };
    include.then(|| Value::Object(delta_object(&render::user(&rec.user), round.s.as_deref(), USER.default)))
}

/// A group's part of a round: its properties (or removal) and its member entries, sorted by member id.
enum GroupItem {
    Removed(Value),
    Present(Map<String, Value>, Vec<(String, Value)>),
}

fn group_item(st: &State, round: &Round, id: &str) -> Option<GroupItem> {
    if round.i.as_ref().is_some_and(|ids| !ids.iter().any(|i| i == id)) {
        return None;
    }
    if let Some(seq) = st.group_tombstones.get(id) {
        return (round.f.is_some() && in_range(*seq, round)).then(|| GroupItem::Removed(removed(id, "deleted")));
    }
    let g = st.groups.get(id)?;
    if let Some(seq) = g.deleted {
        return (round.f.is_some() && in_range(seq, round)).then(|| GroupItem::Removed(removed(id, "changed")));
    }
    let tracked: Vec<String> = match &round.s {
        Some(s) => s.clone(),
        None => GROUP.default.iter().map(|s| (*s).to_owned()).collect(),
    };
    let entry = |mid: &str, kind: MemberKind, added: bool| {
        let mut v = json!({"@odata.type": kind.odata_type(), "id": mid});
        if !added {
            v["@removed"] = json!({"reason": "deleted"});
        }
        (mid.to_owned(), v)
    };
    let (include, members): (bool, Vec<(String, Value)>) = match round.f {
        None => {
            let members = if round.m {
                g.members
                    .iter()
                    .filter(|(_, (_, added))| *added <= round.u)
                    .map(|(mid, (kind, _))| entry(mid, *kind, true))
                    .collect()
            } else {
                Vec::new()
            };
            (g.created <= round.u, members)
        }
        Some(from) => {
            let mut net: BTreeMap<&str, (MemberKind, bool)> = BTreeMap::new();
            if round.m {
                for (seq, mid, kind, added) in &g.member_log {
                    if *seq > from && *seq <= round.u {
                        net.insert(mid.as_str(), (*kind, *added));
                    }
                }
            }
            let members: Vec<(String, Value)> = net.into_iter().map(|(mid, (k, a))| entry(mid, k, a)).collect();
            (in_range(g.last_change(Some(&tracked)), round) || !members.is_empty(), members)
        }
    };
    include.then(|| GroupItem::Present(delta_object(&render::group(g), round.s.as_deref(), GROUP.default), members))
}

/// The ids of live, soft-deleted and permanently deleted objects after `after`, in order, without collecting them
/// (a page of a large tenant's round costs O(page), not O(tenant)).
fn ids_after<'a>(st: &'a State, res: Resource, after: Option<&'a str>) -> Merge<'a> {
    fn keys<'a, V>(map: &'a BTreeMap<String, V>, after: Option<&'a str>) -> Keys<'a> {
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let it: Box<dyn Iterator<Item = &'a String> + 'a> =
            Box::new(map.range::<str, _>((lower, Bound::Unbounded)).map(|(k, _)| k));
        it.peekable()
    }
    match res {
        Resource::Users => Merge { a: keys(&st.users, after), b: keys(&st.user_tombstones, after) },
        Resource::Groups => Merge { a: keys(&st.groups, after), b: keys(&st.group_tombstones, after) },
    }
}

/// The ids a page of `round` may report, in order, after `after`: only the ids of `$filter=id eq …` when the
/// round has one; only the users changed in the round's range for a resumed users round (from the change log);
/// otherwise every id.
fn candidates<'a>(
    st: &'a State,
    res: Resource,
    round: &Round,
    after: Option<&'a str>,
) -> Box<dyn Iterator<Item = &'a String> + 'a> {
    let keep = move |id: &&'a String| after.is_none_or(|a| id.as_str() > a);
    if let Some(ids) = &round.i {
        let (live, gone) = match res {
            Resource::Users => (&st.users as &dyn Lookup, &st.user_tombstones as &dyn Lookup),
            Resource::Groups => (&st.groups as &dyn Lookup, &st.group_tombstones as &dyn Lookup),
        };
        let set: std::collections::BTreeSet<&'a String> =
            ids.iter().filter_map(|id| live.key(id).or_else(|| gone.key(id))).collect();
        return Box::new(set.into_iter().filter(keep));
    }
    if let (Resource::Users, Some(from)) = (res, round.f) {
        if from >= round.u {
            return Box::new(std::iter::empty());
        }
        let set: std::collections::BTreeSet<&'a String> =
            st.user_log.range(from + 1..=round.u).map(|(_, id)| id).collect();
        return Box::new(set.into_iter().filter(keep));
    }
    Box::new(ids_after(st, res, after))
}

/// The stored key of an id in a map of the state.
trait Lookup {
    fn key<'a>(&'a self, id: &str) -> Option<&'a String>;
}

impl<V> Lookup for BTreeMap<String, V> {
    fn key<'a>(&'a self, id: &str) -> Option<&'a String> {
        self.get_key_value(id).map(|(k, _)| k)
    }
}

type Keys<'a> = std::iter::Peekable<Box<dyn Iterator<Item = &'a String> + 'a>>;

/// Two ascending key sequences merged into one (an id in both comes once).
struct Merge<'a> {
    a: Keys<'a>,
    b: Keys<'a>,
}

impl<'a> Iterator for Merge<'a> {
    type Item = &'a String;

    fn next(&mut self) -> Option<&'a String> {
        match (self.a.peek(), self.b.peek()) {
            (Some(x), Some(y)) if x == y => {
                self.b.next();
                self.a.next()
            }
            (Some(x), Some(y)) if x < y => self.a.next(),
            (Some(_), Some(_)) | (None, _) => self.b.next(),
            (Some(_), None) => self.a.next(),
        }
    }
}

/// One page of a round, and the round's state after it (`None` when the round is over).
fn page(st: &State, res: Resource, mut round: Round) -> (Vec<Value>, Option<Round>) {
    let page_size = st.settings.delta_page_size.max(1);
    let member_budget = st.settings.delta_members_per_page.max(1);
    let mut value = Vec::new();
    let mut members_on_page = 0usize;
    // A group whose members continue from the previous page comes first; everything up to it was served.
    let partial = round.p.take();
    let after = partial.as_ref().map(|(g, _)| g.clone()).or_else(|| round.c.clone());
    let mut iter = candidates(st, res, &round, after.as_deref());
    let mut pending: Vec<String> = partial.iter().map(|(g, _)| g.clone()).collect();
    loop {
        let id = match pending.pop() {
            Some(id) => id,
            None => match iter.next() {
                Some(id) => id.clone(),
                None => return (value, None),
            },
        };
        match res {
            Resource::Users => {
                let Some(item) = user_item(st, &round, &id) else { continue };
                value.push(item);
                round.c = Some(id);
            }
            Resource::Groups => {
                let Some(item) = group_item(st, &round, &id) else { continue };
                match item {
                    GroupItem::Removed(v) => {
                        value.push(v);
                        round.c = Some(id);
                    }
                    GroupItem::Present(mut obj, members) => {
                        let from_member = partial.as_ref().filter(|(g, _)| *g == id).map(|(_, m)| m.clone());
                        let members: Vec<(String, Value)> = members
                            .into_iter()
                            .filter(|(mid, _)| from_member.as_ref().is_none_or(|f| mid > f))
                            .collect();
                        let room = member_budget - members_on_page;
                        if members.len() <= room {
                            members_on_page += members.len();
                            if !members.is_empty() {
                                obj.insert(
                                    "members@delta".into(),
                                    Value::Array(members.into_iter().map(|(_, v)| v).collect()),
                                );
                            }
                            value.push(Value::Object(obj));
                            round.c = Some(id);
                        } else if value.is_empty() {
                            // The group fills the page; the rest of its members come on the next ones.
                            let part: Vec<(String, Value)> = members.into_iter().take(room).collect();
                            let last = part.last().map(|(m, _)| m.clone()).unwrap_or_default();
                            obj.insert(
                                "members@delta".into(),
                                Value::Array(part.into_iter().map(|(_, v)| v).collect()),
                            );
                            value.push(Value::Object(obj));
                            round.p = Some((id, last));
                            return (value, Some(round));
                        } else {
                            // Not enough room left on this page: the group starts the next one.
                            return (value, Some(round));
                        }
                    }
                }
            }
        }
        if value.len() >= page_size {
            // Look ahead: is anything left for this round?
            let more = iter.any(|id| match res {
                Resource::Users => user_item(st, &round, id).is_some(),
                Resource::Groups => group_item(st, &round, id).is_some(),
            });
            return (value, more.then_some(round));
        }
    }
}

fn delta_reply(st: &mut State, ctx: &Ctx, res: Resource, raw: Option<&str>) -> Result<Reply, ApiError> {
    let p = auth::authenticate(st, ctx)?;
    auth::require(&p, if res == Resource::Users { Need::Users } else { Need::Groups })?;
    let q = Query::parse(raw)?;
    let now = st.clock.now().as_secs();
    let mut body = Map::new();
    let (value, next_link, delta_link, select) = match start(st, ctx, res, &q)? {
        Start::Latest(round) => (Vec::new(), None, Some(link(ctx, res, "deltatoken", &round)), round.s.clone()),
        Start::Page(round) => {
            let select = round.s.clone();
            let upto = round.u;
            let (value, next) = page(st, res, round.clone());
            match next {
                Some(mut next) => {
                    next.t = now;
                    (value, Some(link(ctx, res, "skiptoken", &next)), None, select)
                }
                None => {
                    let done = Round { f: None, u: upto, c: None, p: None, t: now, ..round };
                    (value, None, Some(link(ctx, res, "deltatoken", &done)), select)
                }
            }
        }
    };
    body.insert("@odata.context".into(), Value::String(odata::context(ctx, res.name(), select.as_deref())));
    if let Some(l) = next_link {
        body.insert("@odata.nextLink".into(), Value::String(l));
    }
    if let Some(l) = delta_link {
        body.insert("@odata.deltaLink".into(), Value::String(l));
    }
    body.insert("value".into(), Value::Array(value));
    Ok(Reply::json(Value::Object(body)))
}

/// `GET /users/delta`.
pub(crate) async fn users_delta(AxState(fake): AxState<FakeGraph>, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    let result = fake.with_state(|st| delta_reply(st, &ctx, Resource::Users, raw.as_deref()));
    ctx.finish(result)
}

/// `GET /groups/delta`.
pub(crate) async fn groups_delta(AxState(fake): AxState<FakeGraph>, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    let result = fake.with_state(|st| delta_reply(st, &ctx, Resource::Groups, raw.as_deref()));
    ctx.finish(result)
}
