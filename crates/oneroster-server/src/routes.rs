//! The OneRoster 1.1 rostering read endpoints.

use crate::config::BASE_PATH;
use crate::error::{Error, json_response, kind_name};
use crate::page::{self, Source};
use crate::query::Params;
use crate::render::{Output, close_collection, open_collection};
use crate::snapshot::Snapshot;
use crate::snapshot::kind::Kind;
use crate::state::AppState;
use axum::extract::{FromRequestParts, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use oneroster_model::json::StatusInfo;
use oneroster_model::{
    AcademicSession, Class, CodeMinorValue, Course, Demographics, Enrollment, EntityKind, Org, User,
};
use std::sync::Arc;

/// The collection endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    AcademicSessions,
    GradingPeriods,
    Terms,
    TermClasses,
    TermGradingPeriods,
    Classes,
    ClassStudents,
    ClassTeachers,
    Courses,
    CourseClasses,
    Demographics,
    Enrollments,
    Orgs,
    Schools,
    SchoolClasses,
    SchoolEnrollments,
    SchoolStudents,
    SchoolTeachers,
    SchoolTerms,
    SchoolCourses,
    SchoolClassEnrollments,
    SchoolClassStudents,
    SchoolClassTeachers,
    Students,
    StudentClasses,
    Teachers,
    TeacherClasses,
    Users,
    UserClasses,
}

impl Route {
    /// The kind of record the endpoint returns.
    fn kind(self) -> EntityKind {
        use Route::*;
        match self {
            AcademicSessions | GradingPeriods | Terms | TermGradingPeriods | SchoolTerms => EntityKind::AcademicSession,
            TermClasses | Classes | CourseClasses | SchoolClasses | StudentClasses | TeacherClasses | UserClasses => {
                EntityKind::Class
            }
            ClassStudents | ClassTeachers | SchoolStudents | SchoolTeachers | SchoolClassStudents
            | SchoolClassTeachers | Students | Teachers | Users => EntityKind::User,
            Courses | SchoolCourses => EntityKind::Course,
            Demographics => EntityKind::Demographics,
            Enrollments | SchoolEnrollments | SchoolClassEnrollments => EntityKind::Enrollment,
            Orgs | Schools => EntityKind::Org,
        }
    }
}

/// A collection request: the endpoint and the ids in its path.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    route: Route,
    parent: String,
    child: String,
}

impl Endpoint {
    /// The records the endpoint covers, in `sourcedId` order. An unknown parent covers none.
    pub(crate) fn source<'s>(&self, s: &'s Snapshot) -> Source<'s> {
        use Route::*;
        let ix = &s.index;
        let org = || s.orgs.find(&self.parent);
        let session = || s.academic_sessions.find(&self.parent);
        let class = || s.classes.find(&self.parent);
        let user = || s.users.find(&self.parent);
        let slice = |found: Option<&'s [u32]>| Source::Slice(found.unwrap_or(&[]));
        match self.route {
            AcademicSessions => Source::All(s.academic_sessions.len()),
            GradingPeriods => Source::Slice(&ix.grading_periods),
            Terms => Source::Slice(&ix.terms),
            TermClasses => slice(session().map(|p| ix.session_classes.get(p))),
            TermGradingPeriods => slice(session().map(|p| ix.session_grading_periods.get(p))),
            Classes => Source::All(s.classes.len()),
            ClassStudents => slice(class().map(|p| ix.class_students.get(p))),
            ClassTeachers => slice(class().map(|p| ix.class_teachers.get(p))),
            Courses => Source::All(s.courses.len()),
            CourseClasses => slice(s.courses.find(&self.parent).map(|p| ix.course_classes.get(p))),
            Demographics => Source::All(s.demographics.len()),
            Enrollments => Source::All(s.enrollments.len()),
            Orgs => Source::All(s.orgs.len()),
            Schools => Source::Slice(&ix.schools),
            SchoolClasses => slice(org().map(|p| ix.org_classes.get(p))),
            SchoolEnrollments => slice(org().map(|p| ix.org_enrollments.get(p))),
            SchoolStudents => slice(org().map(|p| ix.org_students.get(p))),
            SchoolTeachers => slice(org().map(|p| ix.org_teachers.get(p))),
            SchoolTerms => slice(org().map(|p| ix.org_terms.get(p))),
            SchoolCourses => slice(org().map(|p| ix.org_courses.get(p))),
            SchoolClassEnrollments | SchoolClassStudents | SchoolClassTeachers => {
                // The class must belong to the school.
                let class = s
                    .classes
                    .find(&self.child)
                    .filter(|&c| org().is_some_and(|school| ix.class_school.get(c as usize) == Some(&school)));
                let groups = match self.route {
                    SchoolClassEnrollments => &ix.class_enrollments,
                    SchoolClassStudents => &ix.class_students,
                    _ => &ix.class_teachers,
                };
                slice(class.map(|c| groups.get(c)))
            }
            Students => Source::Slice(&ix.students),
            StudentClasses => slice(user().map(|p| ix.student_classes.get(p))),
            Teachers => Source::Slice(&ix.teachers),
            TeacherClasses => slice(user().map(|p| ix.teacher_classes.get(p))),
            Users => Source::All(s.users.len()),
            UserClasses => slice(user().map(|p| ix.user_classes.get(p))),
        }
    }
}

/// The single-record endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum One {
    AcademicSession,
    GradingPeriod,
    Term,
    Class,
    Course,
    Demographics,
    Enrollment,
    Org,
    School,
    Student,
    Teacher,
    User,
}

impl One {
    fn kind(self) -> EntityKind {
        match self {
            One::AcademicSession | One::GradingPeriod | One::Term => EntityKind::AcademicSession,
            One::Class => EntityKind::Class,
            One::Course => EntityKind::Course,
            One::Demographics => EntityKind::Demographics,
            One::Enrollment => EntityKind::Enrollment,
            One::Org | One::School => EntityKind::Org,
            One::Student | One::Teacher | One::User => EntityKind::User,
        }
    }

    /// What a 404 calls the record.
    fn name(self) -> &'static str {
        match self {
            One::GradingPeriod => "gradingPeriod",
            One::Term => "term",
            One::School => "school",
            One::Student => "student",
            One::Teacher => "teacher",
            other => kind_name(other.kind()),
        }
    }

    /// Whether record `index` of the kind is one this endpoint serves.
    fn admits(self, s: &Snapshot, index: u32) -> bool {
        let subset: &[u32] = match self {
            One::GradingPeriod => &s.index.grading_periods,
            One::Term => &s.index.terms,
            One::School => &s.index.schools,
            One::Student => &s.index.students,
            One::Teacher => &s.index.teachers,
            _ => return true,
        };
        subset.binary_search(&index).is_ok()
    }
}

/// What every read handler needs from the request: its query, its public URL, and the ids in its path.
pub(crate) struct RequestCtx {
    /// The public base URL for this request, ending with [`BASE_PATH`].
    pub(crate) base: String,
    /// The path after [`BASE_PATH`], e.g. `/schools/s1/classes`, as sent (still encoded).
    pub(crate) rest: String,
    /// The raw query string.
    pub(crate) query: Option<String>,
    /// The path parameters, decoded, in order.
    ids: Vec<String>,
}

impl FromRequestParts<AppState> for RequestCtx {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<RequestCtx, Error> {
        let ids = match RawPathParams::from_request_parts(parts, state).await {
            Ok(params) => params
                .iter()
                .map(|(_, raw)| {
                    percent_encoding::percent_decode_str(raw)
                        .decode_utf8()
                        .map(|id| id.into_owned())
                        .map_err(|_| Error::invalid("sourcedId", "the path is not UTF-8 text once decoded"))
                })
                .collect::<Result<Vec<_>, _>>()?,
            Err(_) => Vec::new(),
        };
        let path = parts.uri.path();
        let rest = path.find(BASE_PATH).map_or(path, |at| &path[at + BASE_PATH.len()..]).to_owned();
        Ok(RequestCtx {
            base: state.public_base(&parts.headers, &parts.uri),
            rest,
            query: parts.uri.query().map(str::to_owned),
            ids,
        })
    }
}

static X_TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");

/// The read routes, under [`BASE_PATH`].
pub(crate) fn routes() -> axum::Router<AppState> {
    let mut router = axum::Router::new();
    for (path, method) in table() {
        router = router.route(&format!("{BASE_PATH}{path}"), method);
    }
    router
}

fn table() -> Vec<(&'static str, MethodRouter<AppState>)> {
    use Route as R;
    vec![
        ("/academicSessions", list(R::AcademicSessions)),
        ("/academicSessions/{id}", one(One::AcademicSession)),
        ("/gradingPeriods", list(R::GradingPeriods)),
        ("/gradingPeriods/{id}", one(One::GradingPeriod)),
        ("/terms", list(R::Terms)),
        ("/terms/{id}", one(One::Term)),
        ("/terms/{id}/classes", list(R::TermClasses)),
        ("/terms/{id}/gradingPeriods", list(R::TermGradingPeriods)),
        ("/classes", list(R::Classes)),
        ("/classes/{id}", one(One::Class)),
        ("/classes/{id}/students", list(R::ClassStudents)),
        ("/classes/{id}/teachers", list(R::ClassTeachers)),
        ("/courses", list(R::Courses)),
        ("/courses/{id}", one(One::Course)),
        ("/courses/{id}/classes", list(R::CourseClasses)),
        ("/demographics", list(R::Demographics)),
        ("/demographics/{id}", one(One::Demographics)),
        ("/enrollments", list(R::Enrollments)),
        ("/enrollments/{id}", one(One::Enrollment)),
        ("/orgs", list(R::Orgs)),
        ("/orgs/{id}", one(One::Org)),
        ("/schools", list(R::Schools)),
        ("/schools/{id}", one(One::School)),
        ("/schools/{id}/classes", list(R::SchoolClasses)),
        ("/schools/{id}/enrollments", list(R::SchoolEnrollments)),
        ("/schools/{id}/students", list(R::SchoolStudents)),
        ("/schools/{id}/teachers", list(R::SchoolTeachers)),
        ("/schools/{id}/terms", list(R::SchoolTerms)),
        ("/schools/{id}/courses", list(R::SchoolCourses)),
        ("/schools/{school}/classes/{class}/enrollments", list(R::SchoolClassEnrollments)),
        ("/schools/{school}/classes/{class}/students", list(R::SchoolClassStudents)),
        ("/schools/{school}/classes/{class}/teachers", list(R::SchoolClassTeachers)),
        ("/students", list(R::Students)),
        ("/students/{id}", one(One::Student)),
        ("/students/{id}/classes", list(R::StudentClasses)),
        ("/teachers", list(R::Teachers)),
        ("/teachers/{id}", one(One::Teacher)),
        ("/teachers/{id}/classes", list(R::TeacherClasses)),
        ("/users", list(R::Users)),
        ("/users/{id}", one(One::User)),
        ("/users/{id}/classes", list(R::UserClasses)),
    ]
}

/// The paths of [`table`].
pub(crate) fn paths() -> Vec<&'static str> {
    table().into_iter().map(|(path, _)| path).collect()
}

fn list(route: Route) -> MethodRouter<AppState> {
    get(move |State(state): State<AppState>, ctx: RequestCtx| async move {
        serve_list(state, ctx, route).await.unwrap_or_else(IntoResponse::into_response)
    })
}

fn one(one: One) -> MethodRouter<AppState> {
    get(move |State(state): State<AppState>, ctx: RequestCtx| async move {
        serve_one(state, ctx, one).unwrap_or_else(IntoResponse::into_response)
    })
}

async fn serve_list(state: AppState, mut ctx: RequestCtx, route: Route) -> Result<Response, Error> {
    let params = Params::parse(ctx.query.as_deref(), state.config())?;
    let snapshot = state.snapshots().load();
    let mut ids = std::mem::take(&mut ctx.ids).into_iter();
    let endpoint = Endpoint { route, parent: ids.next().unwrap_or_default(), child: ids.next().unwrap_or_default() };
    match route.kind() {
        EntityKind::Org => list_of::<Org>(&state, &snapshot, &endpoint, &params, &ctx).await,
        EntityKind::AcademicSession => list_of::<AcademicSession>(&state, &snapshot, &endpoint, &params, &ctx).await,
        EntityKind::Course => list_of::<Course>(&state, &snapshot, &endpoint, &params, &ctx).await,
        EntityKind::Class => list_of::<Class>(&state, &snapshot, &endpoint, &params, &ctx).await,
        EntityKind::User => list_of::<User>(&state, &snapshot, &endpoint, &params, &ctx).await,
        EntityKind::Enrollment => list_of::<Enrollment>(&state, &snapshot, &endpoint, &params, &ctx).await,
        EntityKind::Demographics => list_of::<Demographics>(&state, &snapshot, &endpoint, &params, &ctx).await,
    }
}

async fn list_of<E: Kind>(
    state: &AppState,
    snapshot: &Arc<Snapshot>,
    endpoint: &Endpoint,
    params: &Params,
    ctx: &RequestCtx,
) -> Result<Response, Error> {
    let bound = params.bind::<E>()?;
    let ordered = page::order(snapshot, endpoint, bound.filter, bound.sort, state.heavy()).await?;
    let table = E::table(snapshot);
    let total = ordered.len();
    let start = params.offset.min(total);
    let end = start.saturating_add(params.limit).min(total);

    let output = Output { base: &ctx.base, passwords: state.config().serve_passwords, fields: bound.fields.as_ref() };
    let mut body = Vec::with_capacity(64 + (end - start) * 512);
    let mut scratch = Vec::new();
    open_collection(&mut body, E::KIND.collection_key());
    for pos in start..end {
        let Some(record) = ordered.get(pos).and_then(|i| table.record(i)) else { continue };
        if pos > start {
            body.push(b',');
        }
        output.record(&mut body, record, &mut scratch);
    }
    let warnings: Vec<StatusInfo> = bound
        .fields_warning
        .iter()
        .map(|w| StatusInfo::warning(CodeMinorValue::InvalidSelectionField, format!("{w}; ignored")))
        .collect();
    close_collection(&mut body, &warnings);

    let mut headers = HeaderMap::new();
    headers.insert(X_TOTAL_COUNT.clone(), HeaderValue::from(total));
    if let Ok(link) = HeaderValue::from_str(&links(ctx, params, total)) {
        headers.insert(header::LINK, link);
    }
    Ok(respond(body, headers))
}

/// The RFC 8288 (5988) `Link` header: next, last, prev, first.
fn links(ctx: &RequestCtx, params: &Params, total: usize) -> String {
    let (limit, offset) = (params.limit.max(1), params.offset);
    let url = |offset: usize| {
        let mut url = format!("{}{}?", ctx.base, ctx.rest);
        for pair in &params.passthrough {
            url.push_str(pair);
            url.push('&');
        }
        url.push_str(&format!("limit={limit}&offset={offset}"));
        url
    };
    let last = if total == 0 { 0 } else { (total - 1) / limit * limit };
    let mut links = Vec::with_capacity(4);
    if offset.saturating_add(limit) < total {
        links.push(format!("<{}>; rel=\"next\"", url(offset + limit)));
    }
    links.push(format!("<{}>; rel=\"last\"", url(last)));
    if offset > 0 {
        links.push(format!("<{}>; rel=\"prev\"", url(offset.saturating_sub(limit).min(last))));
    }
    links.push(format!("<{}>; rel=\"first\"", url(0)));
    links.join(", ")
}

fn serve_one(state: AppState, ctx: RequestCtx, one: One) -> Result<Response, Error> {
    let params = Params::parse(ctx.query.as_deref(), state.config())?;
    let snapshot = state.snapshots().load();
    let id = ctx.ids.first().map_or("", String::as_str);
    match one.kind() {
        EntityKind::Org => one_of::<Org>(&state, &snapshot, one, id, &params, &ctx),
        EntityKind::AcademicSession => one_of::<AcademicSession>(&state, &snapshot, one, id, &params, &ctx),
        EntityKind::Course => one_of::<Course>(&state, &snapshot, one, id, &params, &ctx),
        EntityKind::Class => one_of::<Class>(&state, &snapshot, one, id, &params, &ctx),
        EntityKind::User => one_of::<User>(&state, &snapshot, one, id, &params, &ctx),
        EntityKind::Enrollment => one_of::<Enrollment>(&state, &snapshot, one, id, &params, &ctx),
        EntityKind::Demographics => one_of::<Demographics>(&state, &snapshot, one, id, &params, &ctx),
    }
}

fn one_of<E: Kind>(
    state: &AppState,
    snapshot: &Snapshot,
    one: One,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> Result<Response, Error> {
    let table = E::table(snapshot);
    let record = table
        .find(id)
        .filter(|&i| one.admits(snapshot, i))
        .and_then(|i| table.record(i))
        .ok_or_else(|| Error::not_found(one.name(), id))?;
    let bound = params.bind::<E>()?;
    let output = Output { base: &ctx.base, passwords: state.config().serve_passwords, fields: bound.fields.as_ref() };
    let mut body = Vec::with_capacity(record.json.len() + 320);
    body.extend_from_slice(b"{\"");
    body.extend_from_slice(E::KIND.single_key().as_bytes());
    body.extend_from_slice(b"\":");
    output.record(&mut body, record, &mut Vec::new());
    if let Some(warning) = &bound.fields_warning {
        let info = StatusInfo::warning(CodeMinorValue::InvalidSelectionField, format!("{warning}; ignored"));
        if let Ok(json) = serde_json::to_vec(&[info]) {
            body.extend_from_slice(b",\"statusInfoSet\":");
            body.extend_from_slice(&json);
        }
    }
    body.push(b'}');
    Ok(respond(body, HeaderMap::new()))
}

fn respond(body: Vec<u8>, headers: HeaderMap) -> Response {
    let mut response = (StatusCode::OK, headers, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The answer to any path that is not an endpoint.
pub(crate) async fn fallback() -> Response {
    let info = StatusInfo::failure(CodeMinorValue::UnknownObject, "no such endpoint");
    json_response(StatusCode::NOT_FOUND, serde_json::to_string(&info).unwrap_or_default(), HeaderMap::new())
}
