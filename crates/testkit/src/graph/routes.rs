//! The Graph v1.0 endpoints the fake serves, and its router.

use super::FakeGraph;
use super::auth::{self, Need, Principal};
use super::odata::{self, ApiError, CollectionRules, Ctx, Listing, Query, Reply};
use super::render::{self, GROUP, ROLE, USER};
use super::state::{MemberKind, State};
use super::{delta, throttle};
use axum::Router;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Authenticates, runs `f` on the state, and renders the answer.
fn run(fake: &FakeGraph, ctx: &Ctx, f: impl FnOnce(&mut State, &Principal) -> Result<Reply, ApiError>) -> Response {
    let result = fake.with_state(|st| {
        let p = auth::authenticate(st, ctx)?;
        f(st, &p)
    });
    ctx.finish(result)
}

/// "/me request is only valid with delegated authentication flow." — the 400 Graph answers an app-only token.
fn me_id(p: &Principal) -> Result<&str, ApiError> {
    p.user.as_deref().ok_or_else(|| {
        ApiError::bad_request("BadRequest", "/me request is only valid with delegated authentication flow.")
    })
}

fn entity(ctx: &Ctx, set: &str, obj: &Map<String, Value>, select: Option<&[String]>, default: &[&str]) -> Reply {
    let mut out = odata::project(obj, select, default);
    let context = match select {
        Some(s) if !s.is_empty() => format!("{}/v1.0/$metadata#{set}({})/$entity", ctx.base, s.join(",")),
        _ => format!("{}/v1.0/$metadata#{set}/$entity", ctx.base),
    };
    out.insert("@odata.context".into(), Value::String(context));
    Reply::json(Value::Object(out))
}

fn live_users(st: &State) -> Listing<'_> {
    Listing {
        ids: st.users.iter().filter(|(_, u)| u.deleted.is_none()).map(|(id, _)| id.as_str()).collect(),
        render: Box::new(move |id| st.users.get(id).map(|u| render::user(&u.user))),
    }
}

fn live_groups(st: &State) -> Listing<'_> {
    Listing {
        ids: st.groups.iter().filter(|(_, g)| g.deleted.is_none()).map(|(id, _)| id.as_str()).collect(),
        render: Box::new(move |id| st.groups.get(id).map(render::group)),
    }
}

/// `GET /me` (Graph v1.0 "Get user": "GET /me", delegated only).
async fn me(AxState(fake): AxState<FakeGraph>, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    run(&fake, &ctx, |st, p| {
        let id = me_id(p)?;
        auth::require(p, Need::Me)?;
        let q = Query::parse(raw.as_deref())?;
        let select = USER.resolve_select(q.select.as_deref())?;
        let user = st.live_user(id).ok_or_else(|| ApiError::not_found(id))?;
        Ok(entity(&ctx, "users", &render::user(&user.user), select.as_deref(), USER.default))
    })
}

/// `GET /users/{id | userPrincipalName}` (Graph v1.0 "Get user").
async fn get_user(
    AxState(fake): AxState<FakeGraph>,
    ctx: Ctx,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    run(&fake, &ctx, |st, p| {
        auth::require(p, Need::Users)?;
        let q = Query::parse(raw.as_deref())?;
        let select = USER.resolve_select(q.select.as_deref())?;
        let user = st.live_user(&id).ok_or_else(|| ApiError::not_found(&id))?;
        Ok(entity(&ctx, "users", &render::user(&user.user), select.as_deref(), USER.default))
    })
}

fn user_rules() -> CollectionRules {
    CollectionRules {
        strict_advanced: false,
        schema: Some(USER),
        searchable: render::USER_SEARCHABLE,
        default_select: USER.default,
    }
}

fn group_rules() -> CollectionRules {
    CollectionRules {
        strict_advanced: false,
        schema: Some(GROUP),
        searchable: render::GROUP_SEARCHABLE,
        default_select: GROUP.default,
    }
}

/// `GET /users` (Graph v1.0 "List users").
async fn list_users(AxState(fake): AxState<FakeGraph>, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    run(&fake, &ctx, |st, p| {
        auth::require(p, Need::Users)?;
        let q = Query::parse(raw.as_deref())?;
        odata::collection(&ctx, &q, "users", live_users(st), st.settings.default_page_size, user_rules())
    })
}

/// `GET /users/$count` (needs `ConsistencyLevel: eventual`).
async fn count_users(AxState(fake): AxState<FakeGraph>, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    run(&fake, &ctx, |st, p| {
        auth::require(p, Need::Users)?;
        let q = Query::parse(raw.as_deref())?;
        odata::count_segment(&ctx, &q, live_users(st))
    })
}

/// `GET /groups/{id}` (Graph v1.0 "Get group").
async fn get_group(
    AxState(fake): AxState<FakeGraph>,
    ctx: Ctx,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    run(&fake, &ctx, |st, p| {
        auth::require(p, Need::Groups)?;
        let q = Query::parse(raw.as_deref())?;
        let select = GROUP.resolve_select(q.select.as_deref())?;
        let group = st.live_group(&id).ok_or_else(|| ApiError::not_found(&id))?;
        Ok(entity(&ctx, "groups", &render::group(group), select.as_deref(), GROUP.default))
    })
}

/// `GET /groups` (Graph v1.0 "List groups").
async fn list_groups(AxState(fake): AxState<FakeGraph>, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    run(&fake, &ctx, |st, p| {
        auth::require(p, Need::Groups)?;
        let q = Query::parse(raw.as_deref())?;
        odata::collection(&ctx, &q, "groups", live_groups(st), st.settings.default_page_size, group_rules())
    })
}

/// `GET /groups/$count`.
async fn count_groups(AxState(fake): AxState<FakeGraph>, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    run(&fake, &ctx, |st, p| {
        auth::require(p, Need::Groups)?;
        let q = Query::parse(raw.as_deref())?;
        odata::count_segment(&ctx, &q, live_groups(st))
    })
}

/// The OData casts Graph accepts on directory object collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cast {
    User,
    Group,
    Role,
    /// A valid directory type the fake holds none of (device, orgContact, servicePrincipal…).
    Other,
}

fn parse_cast(segment: &str) -> Result<Cast, ApiError> {
    let s = segment.to_ascii_lowercase();
    match s.as_str() {
        "microsoft.graph.user" => Ok(Cast::User),
        "microsoft.graph.group" => Ok(Cast::Group),
        "microsoft.graph.directoryrole" => Ok(Cast::Role),
        "microsoft.graph.device"
        | "microsoft.graph.orgcontact"
        | "microsoft.graph.serviceprincipal"
        | "microsoft.graph.application" => Ok(Cast::Other),
        _ => Err(ApiError::bad_request("BadRequest", format!("Resource not found for the segment '{segment}'."))),
    }
}

/// What an object of a `directoryObject` collection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Member(MemberKind),
    Role,
}

impl From<MemberKind> for Kind {
    fn from(k: MemberKind) -> Kind {
        Kind::Member(k)
    }
}

/// Objects as a `directoryObject` collection: users (limited when the token may not read users), groups, and
/// directory roles; `@odata.type` on each unless the collection is cast to one type.
fn object_listing<'a, K: Copy + Into<Kind>>(
    st: &'a State,
    p: &Principal,
    objects: &'a BTreeMap<String, K>,
    cast: Option<Cast>,
) -> Listing<'a> {
    let full_users = auth::can_read_users(p);
    let wanted = move |k: Kind| {
        matches!(
            (cast, k),
            (None, _)
                | (Some(Cast::User), Kind::Member(MemberKind::User))
                | (Some(Cast::Group), Kind::Member(MemberKind::Group))
                | (Some(Cast::Role), Kind::Role)
        )
    };
    Listing {
        ids: objects.iter().filter(|(_, k)| wanted((**k).into())).map(|(id, _)| id.as_str()).collect(),
        render: Box::new(move |id: &str| {
            let (obj, odata_type) = match (*objects.get(id)?).into() {
                Kind::Member(MemberKind::User) => {
                    let u = st.live_user(id)?;
                    let obj = if full_users { render::user(&u.user) } else { render::limited_user(&u.user) };
                    (obj, "#microsoft.graph.user")
                }
                Kind::Member(MemberKind::Group) => (render::group(st.live_group(id)?), "#microsoft.graph.group"),
                Kind::Role => (render::role(st.roles.values().find(|r| r.id == id)?), "#microsoft.graph.directoryRole"),
            };
            Some(if cast.is_none() { render::typed(obj, odata_type) } else { obj })
        }),
    }
}

/// The schema and entity set of a (possibly cast) directory object collection.
fn cast_rules(cast: Option<Cast>) -> (CollectionRules, &'static str) {
    const MIXED_DEFAULT: &[&str] = &[
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
        "description",
        "groupTypes",
        "mailEnabled",
        "securityEnabled",
        "roleTemplateId",
    ];
    let (schema, set, default, searchable) = match cast {
        Some(Cast::User) => (Some(USER), "users", USER.default, render::USER_SEARCHABLE),
        Some(Cast::Group) => (Some(GROUP), "groups", GROUP.default, render::GROUP_SEARCHABLE),
        Some(Cast::Role) => (Some(ROLE), "directoryRoles", ROLE.default, render::OBJECT_SEARCHABLE),
        Some(Cast::Other) | None => (None, "directoryObjects", MIXED_DEFAULT, render::OBJECT_SEARCHABLE),
    };
    (CollectionRules { strict_advanced: true, schema, searchable, default_select: default }, set)
}

/// "To filter the results on the OData type, such as microsoft.graph.user or microsoft.graph.group, you must use
/// the advanced query parameters. That is, the ConsistencyLevel header set to eventual and the $count=true query
/// string" (Graph v1.0 "List group transitive members" and "List group members", optional query parameters,
/// <https://learn.microsoft.com/graph/api/group-list-transitivemembers>).
fn check_cast(ctx: &Ctx, q: &Query, cast: Option<&str>) -> Result<Option<Cast>, ApiError> {
    let Some(segment) = cast else { return Ok(None) };
    let cast = parse_cast(segment)?;
    if !q.advanced(ctx) {
        return Err(ApiError::needs_advanced("The OData cast"));
    }
    Ok(Some(cast))
}

/// The direct or transitive members of a live group (the transitive set is cached until the next change).
fn members_of(st: &mut State, id: &str, transitive: bool) -> Result<Arc<BTreeMap<String, MemberKind>>, ApiError> {
    let group = st.live_group(id).ok_or_else(|| ApiError::not_found(id))?;
    if !transitive {
        return Ok(Arc::new(group.members.iter().map(|(m, (k, _))| (m.clone(), *k)).collect()));
    }
    Ok(st.transitive_members_cached(id))
}

fn members_reply(
    fake: &FakeGraph,
    ctx: &Ctx,
    id: &str,
    cast: Option<&str>,
    transitive: bool,
    raw: Option<&str>,
) -> Response {
    run(fake, ctx, |st, p| {
        auth::require(p, Need::Members)?;
        let q = Query::parse(raw)?;
        let members = members_of(st, id, transitive)?;
        let cast = check_cast(ctx, &q, cast)?;
        let st = &*st;
        let (rules, set) = cast_rules(cast);
        odata::collection(ctx, &q, set, object_listing(st, p, &members, cast), st.settings.default_page_size, rules)
    })
}

fn members_count(fake: &FakeGraph, ctx: &Ctx, id: &str, transitive: bool, raw: Option<&str>) -> Response {
    run(fake, ctx, |st, p| {
        auth::require(p, Need::Members)?;
        let q = Query::parse(raw)?;
        let members = members_of(st, id, transitive)?;
        odata::count_segment(ctx, &q, object_listing(st, p, &members, None))
    })
}

/// `GET /groups/{id}/members` (Graph v1.0 "List group members").
async fn members(
    AxState(fake): AxState<FakeGraph>,
    ctx: Ctx,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    members_reply(&fake, &ctx, &id, None, false, raw.as_deref())
}

/// `GET /groups/{id}/members/{cast}`, e.g. `microsoft.graph.user`.
async fn members_cast(
    AxState(fake): AxState<FakeGraph>,
    ctx: Ctx,
    Path((id, cast)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    members_reply(&fake, &ctx, &id, Some(&cast), false, raw.as_deref())
}

/// `GET /groups/{id}/members/$count`.
async fn members_count_h(
    AxState(fake): AxState<FakeGraph>,
    ctx: Ctx,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    members_count(&fake, &ctx, &id, false, raw.as_deref())
}

/// `GET /groups/{id}/transitiveMembers` (Graph v1.0 "List group transitive members": "a flat list of all nested
/// members"; nested groups are listed as members too, each member once, cycles harmless).
async fn transitive(
    AxState(fake): AxState<FakeGraph>,
    ctx: Ctx,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    members_reply(&fake, &ctx, &id, None, true, raw.as_deref())
}

/// `GET /groups/{id}/transitiveMembers/{cast}`.
async fn transitive_cast(
    AxState(fake): AxState<FakeGraph>,
    ctx: Ctx,
    Path((id, cast)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    members_reply(&fake, &ctx, &id, Some(&cast), true, raw.as_deref())
}

/// `GET /groups/{id}/transitiveMembers/$count`.
async fn transitive_count(
    AxState(fake): AxState<FakeGraph>,
    ctx: Ctx,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    members_count(&fake, &ctx, &id, true, raw.as_deref())
}

/// The groups and directory roles a user belongs to, directly or through nested groups (Graph v1.0 "List a
/// user's memberships (direct and transitive)").
fn member_of_reply(fake: &FakeGraph, ctx: &Ctx, user: Option<&str>, cast: Option<&str>, raw: Option<&str>) -> Response {
    run(fake, ctx, |st, p| {
        let key = match user {
            Some(u) => u.to_owned(),
            None => me_id(p)?.to_owned(),
        };
        auth::require(p, if user.is_none() { Need::Me } else { Need::MemberOf })?;
        let q = Query::parse(raw)?;
        let user = st.live_user(&key).ok_or_else(|| ApiError::not_found(&key))?;
        let cast = check_cast(ctx, &q, cast)?;
        let mut objects: BTreeMap<String, Kind> =
            st.transitive_member_of(&user.user.id).into_iter().map(|g| (g, Kind::Member(MemberKind::Group))).collect();
        for r in st.roles.values().filter(|r| r.members.contains(&user.user.id)) {
            objects.insert(r.id.clone(), Kind::Role);
        }
        let (rules, set) = cast_rules(cast);
        odata::collection(ctx, &q, set, object_listing(st, p, &objects, cast), st.settings.default_page_size, rules)
    })
}

/// `GET /me/transitiveMemberOf`.
async fn my_member_of(AxState(fake): AxState<FakeGraph>, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    member_of_reply(&fake, &ctx, None, None, raw.as_deref())
}

/// `GET /me/transitiveMemberOf/{cast}`, e.g. `microsoft.graph.directoryRole`.
async fn my_member_of_cast(
    AxState(fake): AxState<FakeGraph>,
    ctx: Ctx,
    Path(cast): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    member_of_reply(&fake, &ctx, None, Some(&cast), raw.as_deref())
}

/// `GET /users/{id}/transitiveMemberOf`.
async fn user_member_of(
    AxState(fake): AxState<FakeGraph>,
    ctx: Ctx,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    member_of_reply(&fake, &ctx, Some(&id), None, raw.as_deref())
}

/// `GET /users/{id}/transitiveMemberOf/{cast}`.
async fn user_member_of_cast(
    AxState(fake): AxState<FakeGraph>,
    ctx: Ctx,
    Path((id, cast)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    member_of_reply(&fake, &ctx, Some(&id), Some(&cast), raw.as_deref())
}

/// `GET /directoryRoles` (Graph v1.0 "List directoryRoles": the roles activated in the tenant).
async fn directory_roles(AxState(fake): AxState<FakeGraph>, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    run(&fake, &ctx, |st, p| {
        auth::require(p, Need::Roles)?;
        let q = Query::parse(raw.as_deref())?;
        let mut ids: Vec<&str> = st.roles.values().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        let st = &*st;
        let items =
            Listing { ids, render: Box::new(move |id: &str| st.roles.values().find(|r| r.id == id).map(render::role)) };
        let rules = CollectionRules {
            strict_advanced: false,
            schema: Some(ROLE),
            searchable: &[],
            default_select: ROLE.default,
        };
        odata::collection(&ctx, &q, "directoryRoles", items, st.settings.default_page_size, rules)
    })
}

/// `GET /organization` (Graph v1.0 "List organization").
async fn organization(AxState(fake): AxState<FakeGraph>, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    run(&fake, &ctx, |st, p| {
        auth::require(p, Need::Organization)?;
        let q = Query::parse(raw.as_deref())?;
        let org = render::organization(st);
        let all: Vec<&str> = org.keys().map(String::as_str).collect();
        let obj = odata::project(&org, q.select.as_deref(), &all);
        Ok(Reply::json(json!({
            "@odata.context": odata::context(&ctx, "organization", q.select.as_deref()),
            "value": [obj]
        })))
    })
}

/// Unknown Graph paths: "Resource not found for the segment '…'." (400), as Graph answers.
async fn fallback(ctx: Ctx) -> Response {
    if !ctx.path.starts_with("/v1.0/") {
        return ctx.finish(Err(ApiError::new(StatusCode::NOT_FOUND, "NotFound", "Not found.")));
    }
    let segment = ctx.path.trim_end_matches('/').rsplit('/').next().unwrap_or("").to_owned();
    ctx.finish(Err(ApiError::bad_request("BadRequest", format!("Resource not found for the segment '{segment}'."))))
}

/// A known path with another method: 405 "Specified HTTP method is not allowed for the request target." (Graph
/// v1.0 "Combine multiple HTTP requests using JSON batching", example response).
async fn method_not_allowed(ctx: Ctx) -> Response {
    ctx.finish(Err(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Request_BadRequest",
        "Specified HTTP method is not allowed for the request target.",
    )))
}

/// Every Graph v1.0 route, behind the throttling layer (not the batch endpoint: its items are throttled one by
/// one when they come back through this router).
pub(crate) fn api_router(fake: FakeGraph) -> Router {
    Router::new()
        .route("/v1.0/me", get(me))
        .route("/v1.0/me/transitiveMemberOf", get(my_member_of))
        .route("/v1.0/me/transitiveMemberOf/{cast}", get(my_member_of_cast))
        .route("/v1.0/users", get(list_users))
        .route("/v1.0/users/$count", get(count_users))
        .route("/v1.0/users/delta", get(delta::users_delta))
        .route("/v1.0/users/{id}", get(get_user))
        .route("/v1.0/users/{id}/transitiveMemberOf", get(user_member_of))
        .route("/v1.0/users/{id}/transitiveMemberOf/{cast}", get(user_member_of_cast))
        .route("/v1.0/groups", get(list_groups))
        .route("/v1.0/groups/$count", get(count_groups))
        .route("/v1.0/groups/delta", get(delta::groups_delta))
        .route("/v1.0/groups/{id}", get(get_group))
        .route("/v1.0/groups/{id}/members", get(members))
        .route("/v1.0/groups/{id}/members/$count", get(members_count_h))
        .route("/v1.0/groups/{id}/members/{cast}", get(members_cast))
        .route("/v1.0/groups/{id}/transitiveMembers", get(transitive))
        .route("/v1.0/groups/{id}/transitiveMembers/$count", get(transitive_count))
        .route("/v1.0/groups/{id}/transitiveMembers/{cast}", get(transitive_cast))
        .route("/v1.0/directoryRoles", get(directory_roles))
        .route("/v1.0/organization", get(organization))
        .route_layer(from_fn_with_state(fake.clone(), throttle::layer))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(fake)
}
