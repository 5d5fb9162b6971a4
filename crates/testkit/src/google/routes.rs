//! `users.list` and `orgunits.list` of the Directory API.

use super::auth::authenticate;
use super::fields::{self, Selection};
use super::state::{State, UserRec};
use super::{ApiError, FakeGoogle, within};
use axum::Router;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

const USER_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.user",
];
const ORGUNIT_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/admin.directory.orgunit.readonly",
    "https://www.googleapis.com/auth/admin.directory.orgunit",
];

/// "The page token is only valid for three days" (users.list reference, `pageToken`).
const PAGE_TOKEN_LIFETIME_SECS: u64 = 3 * 24 * 3600;

pub(super) fn router(fake: FakeGoogle) -> Router {
    Router::new()
        .route("/admin/directory/v1/users", get(list_users))
        .route("/admin/directory/v1/customer/{customer}/orgunits", get(list_org_units))
        .with_state(fake)
}

fn error(status: StatusCode, reason: &str, message: &str) -> ApiError {
    ApiError::new(status, reason, message)
}

fn bad(message: &str) -> ApiError {
    error(StatusCode::BAD_REQUEST, "invalid", message)
}

fn params(raw: Option<String>) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect()
}

fn etag(seed: &str) -> String {
    format!("\"{}\"", URL_SAFE_NO_PAD.encode(seed.as_bytes()).chars().take(27).collect::<String>())
}

/// The names of the `users.list` answer and the User resource, for checking `fields`.
fn user_fields(at: &str) -> Option<&'static [&'static str]> {
    const PAGE: &[&str] = &["kind", "etag", "users", "nextPageToken", "trigger_event"];
    const USER: &[&str] = &[
        "kind",
        "id",
        "etag",
        "primaryEmail",
        "name",
        "isAdmin",
        "isDelegatedAdmin",
        "lastLoginTime",
        "creationTime",
        "agreedToTerms",
        "suspended",
        "suspensionReason",
        "archived",
        "changePasswordAtNextLogin",
        "ipWhitelisted",
        "emails",
        "customerId",
        "orgUnitPath",
        "isMailboxSetup",
        "isEnrolledIn2Sv",
        "isEnforcedIn2Sv",
        "includeInGlobalAddressList",
        "thumbnailPhotoUrl",
        "externalIds",
        "organizations",
        "aliases",
        "recoveryEmail",
    ];
    const NAME: &[&str] = &["givenName", "familyName", "fullName", "displayName"];
    match at {
        "" => Some(PAGE),
        "users" => Some(USER),
        "users/name" => Some(NAME),
        _ => None,
    }
}

fn org_unit_fields(at: &str) -> Option<&'static [&'static str]> {
    const LIST: &[&str] = &["kind", "etag", "organizationUnits"];
    const UNIT: &[&str] = &[
        "kind",
        "etag",
        "name",
        "description",
        "orgUnitPath",
        "orgUnitId",
        "parentOrgUnitPath",
        "parentOrgUnitId",
        "blockInheritance",
    ];
    match at {
        "" => Some(LIST),
        "organizationUnits" => Some(UNIT),
        _ => None,
    }
}

fn selection(
    params: &BTreeMap<String, String>,
    known: &dyn Fn(&str) -> Option<&'static [&'static str]>,
) -> Result<Option<Selection>, ApiError> {
    let Some(text) = params.get("fields") else { return Ok(None) };
    let s = fields::parse(text).map_err(|e| bad(&format!("Invalid field selection {e}")))?;
    s.check("", known).map_err(|e| bad(&format!("Invalid field selection {e}")))?;
    Ok(Some(s))
}

fn render_user(st: &State, u: &UserRec) -> Value {
    let mut v = json!({
        "kind": "admin#directory#user",
        "id": u.id,
        "etag": etag(&format!("{}{}{}{}", u.id, u.primary_email, u.suspended, u.org_unit_path)),
        "primaryEmail": u.primary_email,
        "name": {"givenName": u.given_name, "familyName": u.family_name,
                 "fullName": format!("{} {}", u.given_name, u.family_name)},
        "isAdmin": u.is_admin,
        "isDelegatedAdmin": false,
        "lastLoginTime": "1970-01-01T00:00:00.000Z",
        "creationTime": "2021-09-01T08:00:00.000Z",
        "agreedToTerms": true,
        "suspended": u.suspended,
        "archived": u.archived,
        "changePasswordAtNextLogin": false,
        "ipWhitelisted": false,
        "emails": [{"address": u.primary_email, "primary": true}],
        "customerId": st.customer_id,
        "orgUnitPath": u.org_unit_path,
        "isMailboxSetup": true,
        "isEnrolledIn2Sv": false,
        "isEnforcedIn2Sv": false,
        "includeInGlobalAddressList": true,
    });
    if u.suspended {
        v["suspensionReason"] = json!("ADMIN");
    }
    v
}

/// One clause of a `users.list` query.
#[derive(Debug, Clone, PartialEq)]
enum Clause {
    OrgUnit(String),
    Suspended(bool),
    Archived(bool),
    Admin(bool),
    Email(String),
}

/// Splits a query into `field op value` clauses: spaces separate clauses except inside single quotes, and `\'`
/// is a quote inside a quoted value ("Search for users", "Value types").
fn parse_query(text: &str) -> Result<Vec<Clause>, String> {
    let mut clauses = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(clauses);
        }
        let mut field = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ':' || c.is_whitespace() {
                break;
            }
            field.push(c);
            chars.next();
        }
        let op = chars.next().ok_or_else(|| format!("`{field}` has no operator"))?;
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' if chars.peek() == Some(&'\'') => {
                        chars.next();
                        value.push('\'');
                    }
                    '\'' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err("an unterminated quote".into());
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        let boolean = |v: &str| match v {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("`{field}` takes true or false")),
        };
        let clause = match (field.as_str(), op) {
            ("orgUnitPath", '=') => Clause::OrgUnit(value),
            ("isSuspended", '=') => Clause::Suspended(boolean(&value)?),
            ("isArchived", '=') => Clause::Archived(boolean(&value)?),
            ("isAdmin", '=') => Clause::Admin(boolean(&value)?),
            ("email", '=') => Clause::Email(value),
            _ => return Err(format!("`{field}{op}` is not supported by this fake")),
        };
        clauses.push(clause);
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PageToken {
    /// The last primary email returned (lower case): the next page starts after it.
    after: String,
    /// The request it belongs to.
    request: String,
    /// When it was issued (seconds since the epoch on the fake's clock).
    issued: u64,
}

async fn list_users(AxState(fake): AxState<FakeGoogle>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let p = params(raw);
    fake.with_state(|st| users(st, &headers, &p)).unwrap_or_else(IntoResponse::into_response)
}

fn users(st: &mut State, headers: &HeaderMap, p: &BTreeMap<String, String>) -> Result<Response, ApiError> {
    authenticate(st, headers, USER_SCOPES)?;
    let (customer, domain) = (p.get("customer"), p.get("domain"));
    match (customer, domain) {
        (None, None) => return Err(error(StatusCode::BAD_REQUEST, "badRequest", "Bad Request")),
        (Some(c), _) if c != "my_customer" && c != &st.customer_id => {
            return Err(error(StatusCode::BAD_REQUEST, "badRequest", "Bad Request"));
        }
        (None, Some(d)) if !d.eq_ignore_ascii_case(&st.domain) => {
            return Err(error(StatusCode::FORBIDDEN, "forbidden", "Not Authorized to access this resource/api"));
        }
        _ => {}
    }
    let max = match p.get("maxResults") {
        None => 100,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => return Err(bad(&format!("Invalid value '{v}'. Values must be within the range: [1, 500]"))),
        },
    };
    let select = selection(p, &user_fields)?;
    let clauses = match p.get("query") {
        Some(q) => parse_query(q).map_err(|e| bad(&format!("Invalid Input: {e}")))?,
        None => Vec::new(),
    };
    for c in &clauses {
        if let Clause::OrgUnit(path) = c
            && !st.unit_exists(path)
        {
            return Err(bad("Invalid Input: INVALID_OU_ID"));
        }
    }
    let request = format!("{customer:?}|{domain:?}|{:?}", p.get("query"));
    let now = st.now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let after = match p.get("pageToken") {
        None => None,
        Some(token) => {
            let parsed = URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|b| serde_json::from_slice::<PageToken>(&b).ok())
                .filter(|t| t.request == request && now.saturating_sub(t.issued) <= PAGE_TOKEN_LIFETIME_SECS);
            match parsed {
                Some(t) => Some(t.after),
                None => return Err(bad("Invalid Input: pageToken")),
            }
        }
    };
    let sub_units = st.settings.query_includes_sub_units;
    let matches = |u: &UserRec| {
        clauses.iter().all(|c| match c {
            Clause::OrgUnit(path) if sub_units => within(&u.org_unit_path, path),
            Clause::OrgUnit(path) => {
                u.org_unit_path.trim_end_matches('/').eq_ignore_ascii_case(path.trim_end_matches('/'))
                    || (path == "/" && u.org_unit_path == "/")
            }
            Clause::Suspended(b) => u.suspended == *b,
            Clause::Archived(b) => u.archived == *b,
            Clause::Admin(b) => u.is_admin == *b,
            Clause::Email(e) => u.primary_email.eq_ignore_ascii_case(e),
        })
    };
    // "All user primary emails are returned in alphabetical order" (Limits and quotas, maxResults).
    let mut all: Vec<&UserRec> = st.users.values().filter(|u| matches(u)).collect();
    all.sort_by_key(|u| u.primary_email.to_lowercase());
    let rest: Vec<&UserRec> =
        all.into_iter().filter(|u| after.as_ref().is_none_or(|a| u.primary_email.to_lowercase() > *a)).collect();
    let page: Vec<Value> = rest.iter().take(max).map(|u| render_user(st, u)).collect();
    let mut body = json!({"kind": "admin#directory#users", "etag": etag(&format!("{request}{now}"))});
    if !page.is_empty() {
        body["users"] = Value::Array(page);
    }
    if rest.len() > max {
        let last = rest[max - 1].primary_email.to_lowercase();
        let token = PageToken { after: last, request, issued: now };
        let text = serde_json::to_vec(&token).map(|b| URL_SAFE_NO_PAD.encode(b)).unwrap_or_default();
        body["nextPageToken"] = json!(text);
    }
    let body = match select {
        Some(s) => s.apply(body),
        None => body,
    };
    Ok(axum::Json(body).into_response())
}

async fn list_org_units(
    AxState(fake): AxState<FakeGoogle>,
    Path(customer): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = params(raw);
    fake.with_state(|st| org_units(st, &customer, &headers, &p)).unwrap_or_else(IntoResponse::into_response)
}

fn org_units(
    st: &mut State,
    customer: &str,
    headers: &HeaderMap,
    p: &BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    authenticate(st, headers, ORGUNIT_SCOPES)?;
    if customer != "my_customer" && customer != st.customer_id {
        return Err(error(StatusCode::BAD_REQUEST, "badRequest", "Bad Request"));
    }
    let select = selection(p, &org_unit_fields)?;
    let root = p.get("orgUnitPath").cloned().unwrap_or_else(|| "/".into());
    let root = if root.starts_with('/') { root } else { format!("/{root}") };
    if !st.unit_exists(&root) {
        return Err(error(StatusCode::NOT_FOUND, "notFound", "Org unit not found"));
    }
    let kind = p.get("type").map(String::as_str).unwrap_or("children");
    let root_norm = root.trim_end_matches('/').to_lowercase();
    let parent_norm = |u: &super::state::OrgUnitRec| u.parent.trim_end_matches('/').to_lowercase();
    let units: Vec<&super::state::OrgUnitRec> = match kind {
        "all" => {
            st.org_units.values().filter(|u| within(&u.path, &root) && u.path.to_lowercase() != root_norm).collect()
        }
        "allIncludingParent" => st.org_units.values().filter(|u| within(&u.path, &root)).collect(),
        "children" => st.org_units.values().filter(|u| parent_norm(u) == root_norm).collect(),
        other => return Err(bad(&format!("Invalid value '{other}' for type"))),
    };
    let id_of = |path: &str| st.org_units.get(&path.to_lowercase()).map(|u| u.id.clone());
    let rendered: Vec<Value> = units
        .iter()
        .map(|u| {
            json!({
                "kind": "admin#directory#orgUnit",
                "etag": etag(&u.id),
                "name": u.name,
                "description": u.description,
                "orgUnitPath": u.path,
                "orgUnitId": u.id,
                "parentOrgUnitPath": u.parent,
                "parentOrgUnitId": id_of(&u.parent).unwrap_or_else(|| format!("id:{}", st.customer_id)),
            })
        })
        .collect();
    let mut body = json!({"kind": "admin#directory#orgUnits", "etag": etag(&st.customer_id)});
    if !rendered.is_empty() {
        body["organizationUnits"] = Value::Array(rendered);
    }
    let body = match select {
        Some(s) => s.apply(body),
        None => body,
    };
    Ok(axum::Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_split_into_clauses_with_quoted_values() {
        assert_eq!(
            parse_query(r"orgUnitPath='/St Aidan\'s/Students' isSuspended=false").unwrap(),
            vec![Clause::OrgUnit("/St Aidan's/Students".into()), Clause::Suspended(false)]
        );
        assert_eq!(parse_query("orgUnitPath=/IT").unwrap(), vec![Clause::OrgUnit("/IT".into())]);
        assert!(parse_query("orgUnitPath='/open").is_err());
        assert!(parse_query("isSuspended=maybe").is_err());
        assert!(parse_query("givenName:Ada").is_err(), "not modelled: refused rather than ignored");
    }
}
