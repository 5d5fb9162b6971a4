//! The endpoints of the fake Wonde, and how its objects are rendered.

use super::FakeWonde;
use super::model::Access;
use super::state::{MAX_PER_PAGE, Rec, SchoolState, State};
use axum::Json;
use axum::extract::{Path, RawQuery, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn error(status: StatusCode, code: &str, text: impl Into<String>) -> Response {
    Fail { status, code: code.to_owned(), text: text.into() }.into_response()
}

/// An error answer, as data until it is sent.
struct Fail {
    status: StatusCode,
    code: String,
    text: String,
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": self.code, "error_description": self.text}))).into_response()
    }
}

/// The token of a request: `Authorization: Bearer <token>`, or Basic with the token as the user name and an empty
/// password (docs, "Authentication": `curl https://api.wonde.com/v1.0 -u <token>:`).
fn token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_owned()).filter(|t| !t.is_empty());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, _password) = text.split_once(':')?;
        return Some(user.to_owned()).filter(|t| !t.is_empty());
    }
    None
}

fn unauthorized() -> Fail {
    Fail {
        status: StatusCode::UNAUTHORIZED,
        code: "unauthorized".into(),
        text: "The access token is missing or not valid.".into(),
    }
}

/// axum middleware on the routes: charges every request of a known token to its bucket; 429 with `Retry-After`
/// when it is empty.
pub(crate) async fn throttle(AxState(fake): AxState<FakeWonde>, request: Request, next: Next) -> Response {
    if let Some(t) = token(request.headers()) {
        let charged = fake.with_state(|st| if st.token_known(&t) { st.charge(&t) } else { Ok(()) });
        if let Err(wait) = charged {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "Too many requests; retry after the number of seconds in Retry-After.",
            );
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
    }
    next.run(request).await
}

/// Unknown paths: 404.
pub(crate) async fn fallback() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "Not found.")
}

/// The date object Wonde writes.
fn date(at: DateTime<Utc>) -> Value {
    json!({"date": at.format("%Y-%m-%d %H:%M:%S%.6f").to_string(), "timezone_type": 3, "timezone": "UTC"})
}

fn school_json(s: &SchoolState) -> Value {
    let w = &s.school;
    json!({
        "id": w.id,
        "name": w.name,
        "establishment_number": w.establishment_number,
        "urn": w.urn,
        "phase_of_education": w.phase_of_education,
        "la_code": w.la_code,
        "timezone": w.timezone,
        "mis": w.mis,
        "address": {"address_line_1": null, "address_town": null, "address_postcode": null},
        "region": {
            "code": w.region_code,
            "domain": w.domain,
            "school_url": format!("https://{}/v1.0/schools/{}", w.domain, w.id),
        },
    })
}

/// Checks the token: `Ok(token)`, or the 401 answer.
fn authenticate(st: &State, headers: &HeaderMap) -> Result<String, Fail> {
    match token(headers) {
        Some(t) if st.token_known(&t) => Ok(t),
        _ => Err(unauthorized()),
    }
}

/// `GET /v1.0/schools/{id}`.
pub(crate) async fn school(AxState(fake): AxState<FakeWonde>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    fake.with_state(|st| {
        let token = match authenticate(st, &headers) {
            Ok(t) => t,
            Err(r) => return r.into_response(),
        };
        let Some(school) = st.schools.get(&id) else {
            return error(StatusCode::NOT_FOUND, "not_found", format!("School {id} not found."));
        };
        match st.access.get(&(token, id.clone())) {
            Some(Access::Approved) => Json(json!({"data": school_json(school)})).into_response(),
            _ => error(StatusCode::FORBIDDEN, "forbidden", format!("School {id} has not approved access.")),
        }
    })
}

/// `GET /v1.0/schools/pending`.
pub(crate) async fn pending(
    AxState(fake): AxState<FakeWonde>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    fake.with_state(|st| {
        let token = match authenticate(st, &headers) {
            Ok(t) => t,
            Err(r) => return r.into_response(),
        };
        let q = match ListParams::parse(raw.as_deref(), st.default_per_page) {
            Ok(q) => q,
            Err(r) => return r.into_response(),
        };
        let items: Vec<Value> = st
            .schools
            .values()
            .filter(|s| st.access.get(&(token.clone(), s.school.id.clone())) == Some(&Access::Pending))
            .map(school_json)
            .collect();
        page(&headers, "/v1.0/schools/pending", &q, items)
    })
}

/// The query of a list endpoint.
struct ListParams {
    includes: Vec<String>,
    per_page: usize,
    page: usize,
    updated_after: Option<DateTime<Utc>>,
    kind: Option<String>,
    /// Every pair as given, to build the next and previous links from.
    pairs: Vec<(String, String)>,
}

impl ListParams {
    fn parse(raw: Option<&str>, default_per_page: usize) -> Result<ListParams, Fail> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()).map(|(k, v)| (k.into(), v.into())).collect();
        let get = |name: &str| pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned());
        let bad = |text: String| Fail { status: StatusCode::BAD_REQUEST, code: "bad_request".into(), text };
        let per_page = match get("per_page") {
            None => default_per_page,
            Some(v) => v.parse::<usize>().map_err(|_| bad(format!("per_page `{v}` is not a number")))?,
        }
        .clamp(1, MAX_PER_PAGE);
        let page = match get("page") {
            None => 1,
            Some(v) => {
                v.parse::<usize>().ok().filter(|p| *p >= 1).ok_or_else(|| bad(format!("page `{v}` is not valid")))?
            }
        };
        let updated_after = match get("updated_after") {
            None => None,
            Some(v) => Some(
                NaiveDateTime::parse_from_str(&v, "%Y-%m-%d %H:%M:%S")
                    .map_err(|_| bad(format!("updated_after `{v}` is not a date in the format Y-m-d H:i:s")))?
                    .and_utc(),
            ),
        };
        let includes = get("include")
            .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        Ok(ListParams { includes, per_page, page, updated_after, kind: get("type"), pairs })
    }

    fn has(&self, include: &str) -> bool {
        self.includes.iter().any(|i| i == include)
    }

    fn after(&self, at: DateTime<Utc>) -> bool {
        self.updated_after.is_none_or(|t| at > t)
    }

    fn link(&self, headers: &HeaderMap, path: &str, page: usize) -> String {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.pairs.iter().filter(|(k, _)| k != "page") {
            ser.append_pair(k, v);
        }
        ser.append_pair("page", &page.to_string());
        format!("http://{host}{path}?{}", ser.finish())
    }
}

/// One page of `items`, with `meta.pagination` (next/previous as absolute links, `null` at the ends).
fn page(headers: &HeaderMap, path: &str, q: &ListParams, items: Vec<Value>) -> Response {
    let start = (q.page - 1).saturating_mul(q.per_page);
    let total = items.len();
    let data: Vec<Value> = items.into_iter().skip(start).take(q.per_page).collect();
    let more = start + data.len() < total;
    let next = more.then(|| q.link(headers, path, q.page + 1));
    let previous = (q.page > 1).then(|| q.link(headers, path, q.page - 1));
    Json(json!({
        "data": data,
        "meta": {
            "pagination": {
                "next": next,
                "previous": previous,
                "more": more,
                "per_page": q.per_page,
                "current_page": q.page,
            },
            "includes": q.includes,
        }
    }))
    .into_response()
}

fn student_json(s: &SchoolState, r: &Rec<super::WondeStudent>, q: Option<&ListParams>) -> Value {
    let v = &r.value;
    let initials: String =
        [&v.forename, &v.surname].iter().filter_map(|n| n.chars().next()).collect::<String>().to_uppercase();
    let mut o = json!({
        "id": v.id,
        "upi": v.upi,
        "mis_id": v.mis_id,
        "initials": initials,
        "surname": v.surname,
        "forename": v.forename,
        "middle_names": null,
        "legal_surname": v.legal_surname,
        "legal_forename": v.legal_forename,
        "gender": null,
        "date_of_birth": null,
        "restored_at": null,
        "created_at": date(r.created_at),
        "updated_at": date(r.updated_at),
    });
    let Some(q) = q else { return o };
    if q.has("contact_details") {
        o["contact_details"] = json!({"data": {
            "id": format!("{}-cd", v.id),
            "salutation": null,
            "emails": {"email": v.email, "primary": null, "home": v.home_email, "work": null},
            "telephones": {"phone": null, "primary": null, "home": null, "work": null, "mobile": null},
        }});
    }
    if q.has("year") {
        let year = v.year.as_ref().and_then(|y| s.years.get(y));
        o["year"] = json!({"data": year.map(|y| json!({
            "id": y.id, "code": y.code, "name": y.name, "description": y.name, "type": "YEAR"
        }))});
    }
    if q.has("classes") {
        let classes: Vec<Value> =
            s.classes.values().filter(|c| c.value.students.contains(&v.id)).map(|c| class_json(s, c, None)).collect();
        o["classes"] = json!({"data": classes});
    }
    if q.has("groups") {
        let groups: Vec<Value> =
            s.groups.values().filter(|g| g.value.students.contains(&v.id)).map(|g| group_json(s, g, None)).collect();
        o["groups"] = json!({"data": groups});
    }
    o
}

fn employee_json(s: &SchoolState, r: &Rec<super::WondeEmployee>, q: Option<&ListParams>) -> Value {
    let v = &r.value;
    let initials: String =
        [&v.forename, &v.surname].iter().filter_map(|n| n.chars().next()).collect::<String>().to_uppercase();
    let mut o = json!({
        "id": v.id,
        "upi": v.upi,
        "mis_id": v.mis_id,
        "title": v.title,
        "initials": initials,
        "surname": v.surname,
        "forename": v.forename,
        "middle_names": null,
        "legal_surname": v.surname,
        "legal_forename": v.forename,
        "gender": null,
        "date_of_birth": null,
        "restored_at": null,
        "created_at": date(r.created_at),
        "updated_at": date(r.updated_at),
    });
    let Some(q) = q else { return o };
    if q.has("contact_details") {
        o["contact_details"] = json!({"data": {
            "id": format!("{}-cd", v.id),
            "salutation": v.title,
            "emails": {"email": null, "primary": null, "home": null, "work": v.email},
            "telephones": {"phone": null, "primary": null, "home": null, "work": null, "mobile": null},
        }});
    }
    if q.has("classes") {
        let classes: Vec<Value> =
            s.classes.values().filter(|c| c.value.employees.contains(&v.id)).map(|c| class_json(s, c, None)).collect();
        o["classes"] = json!({"data": classes});
    }
    o
}

fn class_json(s: &SchoolState, r: &Rec<super::WondeClass>, q: Option<&ListParams>) -> Value {
    let v = &r.value;
    let mut o = json!({
        "id": v.id,
        "mis_id": v.mis_id,
        "name": v.name,
        "code": v.code,
        "description": v.description,
        "subject": v.subject,
        "alternative": false,
        "priority": null,
        "created_at": date(r.created_at),
        "updated_at": date(r.updated_at),
    });
    let Some(q) = q else { return o };
    if q.has("subject") {
        let subject = v.subject.as_ref().and_then(|id| s.subjects.get(id));
        o["subject"] = json!({"data": subject.map(|x| json!({"id": x.id, "code": x.code, "name": x.name}))});
    }
    if q.has("students") {
        let list: Vec<Value> =
            v.students.iter().filter_map(|id| s.students.get(id)).map(|st| student_json(s, st, None)).collect();
        o["students"] = json!({"data": list});
    }
    if q.has("employees") {
        let list: Vec<Value> =
            v.employees.iter().filter_map(|id| s.employees.get(id)).map(|e| employee_json(s, e, None)).collect();
        o["employees"] = json!({"data": list});
    }
    o
}

fn group_json(s: &SchoolState, r: &Rec<super::WondeGroup>, q: Option<&ListParams>) -> Value {
    let v = &r.value;
    let mut o = json!({
        "id": v.id,
        "mis_id": v.id,
        "name": v.name,
        "code": v.code,
        "type": v.kind,
        "description": v.name,
        "created_at": date(r.created_at),
        "updated_at": date(r.updated_at),
    });
    let Some(q) = q else { return o };
    if q.has("students") {
        let list: Vec<Value> =
            v.students.iter().filter_map(|id| s.students.get(id)).map(|st| student_json(s, st, None)).collect();
        o["students"] = json!({"data": list});
    }
    if q.has("employees") {
        let list: Vec<Value> =
            v.employees.iter().filter_map(|id| s.employees.get(id)).map(|e| employee_json(s, e, None)).collect();
        o["employees"] = json!({"data": list});
    }
    o
}

fn filtered<'a, T: 'a>(map: &'a BTreeMap<String, Rec<T>>, q: &'a ListParams) -> impl Iterator<Item = &'a Rec<T>> + 'a {
    map.values().filter(move |r| q.after(r.updated_at))
}

/// `GET /v1.0/schools/{id}/{resource}`.
pub(crate) async fn list(
    AxState(fake): AxState<FakeWonde>,
    Path((id, resource)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    fake.with_state(|st| {
        let token = match authenticate(st, &headers) {
            Ok(t) => t,
            Err(r) => return r.into_response(),
        };
        let Some(s) = st.schools.get(&id) else {
            return error(StatusCode::NOT_FOUND, "not_found", format!("School {id} not found."));
        };
        if st.access.get(&(token, id.clone())) != Some(&Access::Approved) {
            return error(StatusCode::FORBIDDEN, "forbidden", format!("School {id} has not approved access."));
        }
        let q = match ListParams::parse(raw.as_deref(), st.default_per_page) {
            Ok(q) => q,
            Err(r) => return r.into_response(),
        };
        let path = format!("/v1.0/schools/{id}/{resource}");
        // "Using the wrong domain for a school will return no data."
        let wrong_domain = !s.school.domain.eq_ignore_ascii_case(&st.domain);
        let items: Vec<Value> = if wrong_domain {
            Vec::new()
        } else {
            match resource.as_str() {
                "students" => filtered(&s.students, &q).map(|r| student_json(s, r, Some(&q))).collect(),
                "students-leaver" => filtered(&s.leavers, &q).map(|r| student_json(s, r, Some(&q))).collect(),
                "employees" => filtered(&s.employees, &q).map(|r| employee_json(s, r, Some(&q))).collect(),
                "classes" => filtered(&s.classes, &q).map(|r| class_json(s, r, Some(&q))).collect(),
                "groups" => filtered(&s.groups, &q).map(|r| group_json(s, r, Some(&q))).collect(),
                "deletions" => s
                    .deletions
                    .iter()
                    .filter(|d| q.after(d.at) && q.kind.as_deref().is_none_or(|k| k.eq_ignore_ascii_case(d.kind)))
                    .map(|d| json!({"id": d.id, "type": d.kind, "deleted_at": date(d.at), "restored_at": null}))
                    .collect(),
                _ => return error(StatusCode::NOT_FOUND, "not_found", format!("Unknown endpoint {resource}.")),
            }
        };
        page(&headers, &path, &q, items)
    })
}
