//! The HTTP side of the fake: one handler per endpoint of docs/secure-schools-api.md ("Endpoints").
//!
//! Checks come in the order a client can act on: the token (401), then the organisation (404), then the right to
//! manage it (403), then the request itself (422), then conflicts with existing data (409).

use super::FakeSecureSchools;
use super::cursor::Cursor;
use super::model::{BatchResult, ErrorDetail, Identity, NewUser, Organisation, User, UserStatus};
use super::state::{BatchKey, BatchState, State, StateError, StoredBatch};
use super::validate::{self, FieldErrors};
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::ops::Bound;

/// Users per page when `limit` is absent ("`GET /organisations/{org}/users`": default 100).
pub(crate) const DEFAULT_USER_PAGE: usize = 100;
/// The largest `limit` (500).
pub(crate) const MAX_USER_PAGE: usize = 500;
/// The most operations a batch may carry (100).
pub(crate) const MAX_BATCH_OPERATIONS: usize = 100;
/// The header a batch's key comes in.
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A contract error answer ("Errors"): status plus `{"error":{"code","message","details"?}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    detail: ErrorDetail,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        let detail = ErrorDetail {
            code: super::model::error_code(status.as_u16()).to_owned(),
            message: message.into(),
            details: None,
        };
        ApiError { status, detail }
    }

    fn with_details(mut self, details: Value) -> ApiError {
        self.detail.details = Some(details);
        self
    }

    fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }

    /// `422 validation_failed` with field name → message details.
    fn validation(message: &str, fields: FieldErrors) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message).with_details(json!(fields))
    }

    fn validation_field(message: &str, field: &str, problem: &str) -> ApiError {
        ApiError::validation(message, FieldErrors::from([(field.to_owned(), problem.to_owned())]))
    }

    fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> ApiError {
        let (status, detail) = state_error(&e);
        ApiError { status, detail }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &json!({"error": self.detail}))
    }
}

/// The status and error object for a refused change, as an answer or as a batch item's `error`.
fn state_error(e: &StateError) -> (StatusCode, ErrorDetail) {
    let (status, message, details) = match e {
        StateError::NoSuchOrganisation(_) => (StatusCode::NOT_FOUND, "no such organisation".to_owned(), None),
        StateError::NoSuchUser(_) => (StatusCode::NOT_FOUND, "no such user".to_owned(), None),
        StateError::Conflict { field, existing_user_id } => (
            StatusCode::CONFLICT,
            format!("a user with this {field} already exists"),
            Some(json!({"existing_user_id": existing_user_id, "field": field})),
        ),
        StateError::DuplicateOrganisation(_) => (StatusCode::CONFLICT, e.to_string(), None),
    };
    let detail = ErrorDetail { code: super::model::error_code(status.as_u16()).to_owned(), message, details };
    (status, detail)
}

/// A JSON answer with `Content-Length` set, so that the byte counters see its size.
pub(crate) fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => bytes_response(status, Bytes::from(bytes)),
        Err(e) => {
            tracing::error!(error = %e, "the fake could not serialise its answer");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn bytes_response(status: StatusCode, bytes: Bytes) -> Response {
    let len = bytes.len();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    response
}

type Answer = Result<Response, ApiError>;

/// The bearer token of a request ("Basics" → Authentication: `Authorization: Bearer <token>`).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The identity behind the token: `401 unauthorized` when the token is missing, unknown or revoked.
fn authenticate<'s>(state: &'s State, headers: &HeaderMap) -> Result<(String, &'s Identity), ApiError> {
    let token = bearer(headers).ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
    let identity =
        state.identities.get(token).ok_or_else(|| ApiError::unauthorized("the token is invalid or has expired"))?;
    Ok((token.to_owned(), identity))
}

/// The token, when its identity is an `admin` of an existing organisation: else 401, 404 (no such organisation) or
/// 403 (valid token without the right).
fn authorise(state: &State, headers: &HeaderMap, org: &str) -> Result<String, ApiError> {
    let (token, identity) = authenticate(state, headers)?;
    state.org(org)?;
    if !identity.is_admin_of(org) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "not an admin of this organisation"));
    }
    Ok(token)
}

/// The query's parameters; for a repeated name the first value counts.
fn query_params(query: Option<&str>) -> HashMap<String, String> {
    let mut params = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        params.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    params
}

/// The position a `cursor` parameter names in `scope`: `None` for the first page, `422 validation_failed` for a
/// cursor this fake did not issue for this collection, or issued before the cursors were expired ("Paging").
fn cursor_position(state: &State, cursor: Option<&String>, scope: &str) -> Result<Option<String>, ApiError> {
    let Some(text) = cursor else {
        return Ok(None);
    };
    match Cursor::decode(text) {
        Some(c) if c.scope == scope && c.epoch == state.cursor_epoch => Ok(Some(c.after)),
        _ => Err(ApiError::validation_field(
            "unknown or expired cursor; start again from the first page",
            "cursor",
            "is unknown or has expired",
        )),
    }
}

#[derive(Serialize)]
struct PageOut<'a, T> {
    data: Vec<&'a T>,
    next_cursor: Option<String>,
}

/// One page of `items` (already after the cursor and filtered), with a `next_cursor` when more follow.
fn page<'a, T: 'a>(
    state: &State,
    scope: &str,
    items: impl Iterator<Item = &'a T>,
    limit: usize,
    key: impl Fn(&T) -> &str,
) -> PageOut<'a, T> {
    let mut items = items.peekable();
    let data: Vec<&T> = items.by_ref().take(limit).collect();
    let next_cursor = match (items.peek(), data.last()) {
        (Some(_), Some(last)) => {
            Some(Cursor { epoch: state.cursor_epoch, scope: scope.to_owned(), after: key(last).to_owned() }.encode())
        }
        _ => None,
    };
    PageOut { data, next_cursor }
}

/// Everything after `after` in a map ordered by key.
fn after<'m, V>(
    map: &'m std::collections::BTreeMap<String, V>,
    after: Option<&str>,
) -> std::collections::btree_map::Range<'m, String, V> {
    match after {
        Some(a) => map.range::<str, _>((Bound::Excluded(a), Bound::Unbounded)),
        None => map.range::<str, _>((Bound::Unbounded, Bound::Unbounded)),
    }
}

/// The body as JSON, or `422 validation_failed` ("invalid fields" covers a body that is not JSON at all).
fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|_| ApiError::validation_field("malformed body", "body", "is not valid JSON"))
}

/// `GET /me` ("Endpoints" → `GET /me`).
pub(crate) async fn me(
    axum::extract::State(fake): axum::extract::State<FakeSecureSchools>,
    headers: HeaderMap,
) -> Answer {
    let state = fake.lock();
    let (_, identity) = authenticate(&state, &headers)?;
    Ok(json_response(StatusCode::OK, identity))
}

/// `GET /organisations?cursor=`: the organisations the identity is a member of (either role), ordered by id, in
/// pages of the configured size ("Endpoints" → `GET /organisations`; "Paging").
pub(crate) async fn organisations(
    axum::extract::State(fake): axum::extract::State<FakeSecureSchools>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Answer {
    let state = fake.lock();
    let (_, identity) = authenticate(&state, &headers)?;
    let params = query_params(query.as_deref());
    let scope = format!("orgs:{}", identity.id);
    let position = cursor_position(&state, params.get("cursor"), &scope)?;
    let visible = after(&state.orgs, position.as_deref())
        .filter(|(id, _)| identity.role_in(id).is_some())
        .map(|(_, o)| &o.organisation);
    let out: PageOut<'_, Organisation> = page(&state, &scope, visible, state.organisation_page_size, |o| &o.id);
    Ok(json_response(StatusCode::OK, &out))
}

/// `GET /organisations/{org}/users?cursor=&limit=&updated_since=` ("Endpoints"; "Paging"): users ordered by id,
/// `limit` 1–500 (default 100), `updated_since` keeps users whose `updated_at` is at or after it. Deleted users are
/// not listed.
pub(crate) async fn list_users(
    axum::extract::State(fake): axum::extract::State<FakeSecureSchools>,
    headers: HeaderMap,
    Path(org): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let state = fake.lock();
    authorise(&state, &headers, &org)?;
    let params = query_params(query.as_deref());
    let limit = match params.get("limit") {
        None => DEFAULT_USER_PAGE,
        Some(text) => text.parse::<usize>().ok().filter(|n| (1..=MAX_USER_PAGE).contains(n)).ok_or_else(|| {
            ApiError::validation_field("limit out of range", "limit", "must be an integer from 1 to 500")
        })?,
    };
    let since = match params.get("updated_since") {
        None => None,
        Some(text) => {
            Some(chrono::DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&chrono::Utc)).map_err(|_| {
                ApiError::validation_field("bad updated_since", "updated_since", "must be an RFC 3339 instant")
            })?)
        }
    };
    let scope = format!("users:{org}");
    let position = cursor_position(&state, params.get("cursor"), &scope)?;
    let org_state = state.org(&org)?;
    let users = after(&org_state.users, position.as_deref())
        .map(|(_, u)| u)
        .filter(|u| since.is_none_or(|since| u.updated_at >= since));
    let out: PageOut<'_, User> = page(&state, &scope, users, limit, |u| &u.id);
    Ok(json_response(StatusCode::OK, &out))
}

fn invalid_fields(fields: FieldErrors) -> ApiError {
    ApiError::validation("invalid fields", fields)
}

/// `POST /organisations/{org}/users`: 201 with the new user (status `active`), 422 for invalid fields, 409 when
/// the email (case-insensitively) or external id is taken in the organisation. Not idempotent.
pub(crate) async fn create_user(
    axum::extract::State(fake): axum::extract::State<FakeSecureSchools>,
    headers: HeaderMap,
    Path(org): Path<String>,
    body: Bytes,
) -> Answer {
    let mut state = fake.lock();
    authorise(&state, &headers, &org)?;
    let new: NewUser = validate::new_user(&json_body(&body)?, None).map_err(invalid_fields)?;
    let user = state.create_user(&org, new)?;
    Ok(json_response(StatusCode::CREATED, &user))
}

/// `PATCH /organisations/{org}/users/{id}`: changes the fields present; `"external_id": null` clears it; an empty
/// patch answers the user unchanged.
pub(crate) async fn update_user(
    axum::extract::State(fake): axum::extract::State<FakeSecureSchools>,
    headers: HeaderMap,
    Path((org, id)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let mut state = fake.lock();
    authorise(&state, &headers, &org)?;
    let now = state.now;
    let org_state = state.org_mut(&org)?;
    if !org_state.users.contains_key(&id) {
        return Err(StateError::NoSuchUser(id).into());
    }
    let patch = validate::patch(&json_body(&body)?).map_err(invalid_fields)?;
    let user = org_state.patch(&id, patch, now)?;
    Ok(json_response(StatusCode::OK, &user))
}

/// `DELETE /organisations/{org}/users/{id}`: 204 without a body; 404 for a user that does not exist.
pub(crate) async fn delete_user(
    axum::extract::State(fake): axum::extract::State<FakeSecureSchools>,
    headers: HeaderMap,
    Path((org, id)): Path<(String, String)>,
) -> Answer {
    let mut state = fake.lock();
    authorise(&state, &headers, &org)?;
    state.org_mut(&org)?.delete(&id)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    Ok(response)
}

/// Removes a batch's in-progress mark if its request is dropped before it was answered (the client went away
/// during [`FakeSecureSchools::set_batch_delay`]), so that the key can be used again.
struct InProgress {
    fake: FakeSecureSchools,
    key: Option<BatchKey>,
}

impl Drop for InProgress {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut state = self.fake.lock();
            if matches!(state.batches.get(&key), Some(b) if matches!(b.state, BatchState::InProgress)) {
                state.batches.remove(&key);
            }
        }
    }
}

/// `POST /organisations/{org}/users/batch` ("Batches and idempotency").
///
/// The whole batch is refused with 422 for a missing or malformed `Idempotency-Key`, a body that is not
/// `{"operations":[…]}`, no operations, or more than 100. A key seen before (per organisation and token, kept 24 h
/// on the fake clock) answers the stored answer byte for byte when the body is the same JSON, changing nothing;
/// `422` when the body differs; `409` while the first request with it is still being processed. Otherwise every
/// operation is applied in order, each on its own, and the batch answers 200 with one result per operation.
pub(crate) async fn batch(
    axum::extract::State(fake): axum::extract::State<FakeSecureSchools>,
    headers: HeaderMap,
    Path(org): Path<String>,
    body: Bytes,
) -> Answer {
    let (key, body, delay) = {
        let mut state = fake.lock();
        let token = authorise(&state, &headers, &org)?;
        let key = idempotency_key(&headers)?;
        let body = json_body(&body)?;
        let count = match body.get("operations").and_then(Value::as_array) {
            Some(operations) => operations.len(),
            None => {
                return Err(ApiError::validation_field("malformed body", "operations", "must be an array"));
            }
        };
        if count == 0 {
            return Err(ApiError::validation_field("empty batch", "operations", "must not be empty"));
        }
        if count > MAX_BATCH_OPERATIONS {
            return Err(ApiError::validation_field(
                "batch too large",
                "operations",
                "at most 100 operations per batch",
            ));
        }
        state.purge_batches();
        let store_key: BatchKey = (org.clone(), token, key);
        if let Some(stored) = state.batches.get(&store_key) {
            let same = stored.body == body;
            match (&stored.state, same) {
                (BatchState::Done(answer), true) => {
                    let answer = answer.clone();
                    state.batch_stats.replayed += 1;
                    return Ok(bytes_response(StatusCode::OK, answer));
                }
                (_, false) => {
                    state.batch_stats.key_reused += 1;
                    return Err(ApiError::validation_field(
                        "idempotency key reused with a different body",
                        "Idempotency-Key",
                        "was used before with a different body",
                    ));
                }
                (BatchState::InProgress, true) => {
                    state.batch_stats.in_progress += 1;
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "a batch with this idempotency key is still being processed; retry later",
                    ));
                }
            }
        }
        let stored_at = state.now;
        state
            .batches
            .insert(store_key.clone(), StoredBatch { body: body.clone(), state: BatchState::InProgress, stored_at });
        (store_key, body, state.batch_delay)
    };
    let mut guard = InProgress { fake: fake.clone(), key: Some(key.clone()) };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut state = fake.lock();
    let operations = body.get("operations").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let results: Vec<BatchResult> =
        operations.iter().enumerate().map(|(index, op)| apply_operation(&mut state, &key.0, index, op)).collect();
    let answer = serde_json::to_vec(&json!({"results": results}))
        .map_err(|e| ApiError::internal(format!("could not write the answer: {e}")))?;
    let answer = Bytes::from(answer);
    let now = state.now;
    state.batches.insert(key, StoredBatch { body, state: BatchState::Done(answer.clone()), stored_at: now });
    state.batch_stats.applied += 1;
    guard.key = None;
    drop(state);
    Ok(bytes_response(StatusCode::OK, answer))
}

/// The `Idempotency-Key` header: required, 1 to 255 visible ASCII characters (the OpenAPI `IdempotencyKey`
/// parameter); else the whole batch answers 422.
fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let refuse = |problem: &str| ApiError::validation_field("bad Idempotency-Key", "Idempotency-Key", problem);
    let value = headers.get(IDEMPOTENCY_KEY).ok_or_else(|| refuse("is required"))?;
    let key = value.to_str().map_err(|_| refuse("must be visible ASCII"))?;
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(refuse("must be 1 to 255 visible ASCII characters"));
    }
    Ok(key.to_owned())
}

fn item_error(index: usize, status: StatusCode, detail: ErrorDetail) -> BatchResult {
    BatchResult { index, status: status.as_u16(), user: None, error: Some(detail) }
}

fn item_invalid(index: usize, fields: FieldErrors) -> BatchResult {
    item_error(
        index,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorDetail {
            code: "validation_failed".to_owned(),
            message: "invalid operation".to_owned(),
            details: Some(json!(fields)),
        },
    )
}

fn item_state_error(index: usize, e: &StateError) -> BatchResult {
    let (status, detail) = state_error(e);
    item_error(index, status, detail)
}

fn item_done(index: usize, status: StatusCode, user: User) -> BatchResult {
    BatchResult { index, status: status.as_u16(), user: Some(user), error: None }
}

/// Applies one batch operation ("Objects" → `BatchOperation`, `BatchResult`): `create` → 201 with the user;
/// `update`, `suspend`, `reactivate` → 200 with the user (suspending a suspended user succeeds); a malformed
/// operation → 422 naming the fields; a `user_id` of another organisation → 422 "is not a user of this
/// organisation"; an unknown `user_id` → 404; a taken email or external id → 409 with `existing_user_id`.
fn apply_operation(state: &mut State, org: &str, index: usize, op: &Value) -> BatchResult {
    let mut fields = FieldErrors::new();
    let Some(object) = op.as_object() else {
        fields.insert("operation".to_owned(), "must be a JSON object".to_owned());
        return item_invalid(index, fields);
    };
    let kind = match object.get("op").map(|v| v.as_str()) {
        None => {
            fields.insert("op".to_owned(), "is required".to_owned());
            None
        }
        Some(Some(k @ ("create" | "update" | "suspend" | "reactivate"))) => Some(k),
        Some(_) => {
            fields.insert("op".to_owned(), "must be one of create, update, suspend, reactivate".to_owned());
            None
        }
    };
    let external_id = match object.get("external_id") {
        None => {
            fields.insert("external_id".to_owned(), "is required".to_owned());
            None
        }
        Some(v) => {
            validate::external_id(v).map_err(|problem| fields.insert("external_id".to_owned(), problem.to_owned())).ok()
        }
    };
    let user_id = match (kind, object.get("user_id")) {
        (Some("create"), Some(_)) => {
            fields.insert("user_id".to_owned(), "must be absent for create".to_owned());
            None
        }
        (Some("create") | None, _) => None,
        (Some(_), None) => {
            fields.insert("user_id".to_owned(), "is required".to_owned());
            None
        }
        (Some(_), Some(Value::String(id))) if !id.is_empty() => Some(id.clone()),
        (Some(_), Some(_)) => {
            fields.insert("user_id".to_owned(), "must be a non-empty string".to_owned());
            None
        }
    };
    let body = object.get("fields");
    match (kind, body) {
        (Some("create" | "update"), None) => {
            fields.insert("fields".to_owned(), "is required".to_owned());
        }
        (Some("suspend" | "reactivate"), Some(_)) => {
            fields.insert("fields".to_owned(), "must be absent for suspend and reactivate".to_owned());
        }
        _ => {}
    }
    if !fields.is_empty() {
        return item_invalid(index, fields);
    }
    let (Some(kind), Some(external_id)) = (kind, external_id) else {
        return item_invalid(index, fields);
    };
    let now = state.now;
    if kind == "create" {
        let new = match validate::new_user(body.unwrap_or(&Value::Null), Some(&external_id)) {
            Ok(new) => new,
            Err(errors) => {
                return item_invalid(index, errors.into_iter().map(|(k, v)| (format!("fields.{k}"), v)).collect());
            }
        };
        return match state.create_user(org, new) {
            Ok(user) => item_done(index, StatusCode::CREATED, user),
            Err(e) => item_state_error(index, &e),
        };
    }
    let Some(user_id) = user_id else {
        return item_invalid(index, fields);
    };
    let exists = state.org(org).is_ok_and(|o| o.users.contains_key(&user_id));
    if !exists {
        if state.user_elsewhere(org, &user_id) {
            fields.insert("user_id".to_owned(), "is not a user of this organisation".to_owned());
            return item_invalid(index, fields);
        }
        return item_state_error(index, &StateError::NoSuchUser(user_id));
    }
    let outcome = match kind {
        "update" => match validate::patch(body.unwrap_or(&Value::Null)) {
            Ok(patch) => state.org_mut(org).and_then(|o| o.patch(&user_id, patch, now)),
            Err(errors) => {
                return item_invalid(index, errors.into_iter().map(|(k, v)| (format!("fields.{k}"), v)).collect());
            }
        },
        "suspend" => state.org_mut(org).and_then(|o| o.set_status(&user_id, UserStatus::Suspended, now)),
        _ => state.org_mut(org).and_then(|o| o.set_status(&user_id, UserStatus::Active, now)),
    };
    match outcome {
        Ok(user) => item_done(index, StatusCode::OK, user),
        Err(e) => item_state_error(index, &e),
    }
}

/// Any path the contract does not have: `404 not_found` in the contract's shape.
pub(crate) async fn fallback() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint").into_response()
}
