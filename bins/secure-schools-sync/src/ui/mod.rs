//! The admin web UI of `secure-schools-sync daemon`, under `/ui/` (see docs/ui.md).
//!
//! Server-rendered HTML (maud) with one small vendored script ([`assets`]) that only adds live updates: every
//! page and form works without it. Pages: user sync (per organisation: last and next run, counts, state, *Sync
//! all*, held runs to approve, live progress), run details, connections (create with a method picker, test,
//! sign in, delete), connection groups (create, edit, delete) and doctor.
//!
//! The UI calls the same functions as the CLI ([`crate::commands`], [`crate::doctor`], the store); it edits the
//! connections and connection groups kept in the store ([`crate::stored`]) and shows the configuration file's
//! read-only. After a change it reloads the daemon's app ([`crate::daemon::Daemon::reload`]).
//!
//! Security: every page and action but the sign-in form and the two static assets needs a signed-in session
//! (signed out, a page redirects to the sign-in form and an action is refused with 403); every POST must carry
//! the session's CSRF token (403 otherwise) and, when the browser sends an `Origin`, come from this host; the
//! session cookie is `HttpOnly; SameSite=Strict; Path=/ui` (and `Secure` behind a TLS-terminating proxy that says
//! `X-Forwarded-Proto: https`); pages send a strict Content-Security-Policy (no inline script or style), deny
//! framing, and are not cached.

mod assets;
pub mod auth;
mod connections;
mod doctor;
mod groups;
mod layout;
mod sync;

pub use auth::{AdminSetup, MIN_PASSWORD_LEN, hash_password, setup_admin, verify_password};

use crate::daemon::Daemon;
use auth::{COOKIE, Flash, Session, Sessions};
use axum::Router;
use axum::body::Body;
use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// The largest form body accepted.
const MAX_FORM_BYTES: usize = 1 << 20;

/// How long a long-poll (`…/wait`, `…/live`) waits for a change before answering "nothing new".
pub const LONG_POLL: std::time::Duration = std::time::Duration::from_secs(25);

/// The web UI's state inside the daemon: sessions and the device-code sign-ins in progress.
#[derive(Debug)]
pub struct UiState {
    sessions: Sessions,
    sign_ins: Mutex<connections::SignIns>,
    stopping: watch::Sender<bool>,
}

impl Default for UiState {
    fn default() -> Self {
        UiState {
            sessions: Sessions::default(),
            sign_ins: Mutex::new(connections::SignIns::new()),
            stopping: watch::Sender::new(false),
        }
    }
}

impl UiState {
    /// Ends the long-polls at once (the daemon is shutting down, and waits for open requests).
    pub fn stop(&self) {
        self.stopping.send_replace(true);
        connections::cancel_all(&self.sign_ins);
    }

    /// Resolves when [`UiState::stop`] was called.
    pub(crate) async fn stopped(&self) {
        let mut rx = self.stopping.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// The signed-in request's session, put in the request by the auth layer.
#[derive(Debug, Clone)]
pub(crate) struct Admin {
    token: String,
    session: Session,
}

impl Admin {
    pub(crate) fn csrf(&self) -> &str {
        &self.session.csrf
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Admin>().cloned().ok_or_else(|| (StatusCode::FORBIDDEN, "sign in first").into_response())
    }
}

/// An error page: the status and a message for the admin. Internal failures are logged in full and shown as the
/// chain of causes (as the CLI prints them; no secret is ever in them).
#[derive(Debug)]
pub(crate) struct UiError {
    status: StatusCode,
    message: String,
}

impl UiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> UiError {
        UiError { status, message: message.into() }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> UiError {
        UiError::new(StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> UiError {
        UiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<anyhow::Error> for UiError {
    fn from(e: anyhow::Error) -> UiError {
        tracing::error!(error = format!("{e:#}"), "web UI request failed");
        UiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
    }
}

impl From<roster_store::StoreError> for UiError {
    fn from(e: roster_store::StoreError) -> UiError {
        UiError::from(anyhow::Error::from(e))
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let title = match self.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::BAD_REQUEST => "That did not work",
            StatusCode::FORBIDDEN => "Refused",
            _ => "Something went wrong",
        };
        let body = layout::bare(
            title,
            maud::html! {
                p role="alert" { (self.message) }
                p { a href="/ui/sync" { "Back to user sync" } }
            },
        );
        (self.status, html(body)).into_response()
    }
}

pub(crate) type UiResult<T = Response> = Result<T, UiError>;

/// An HTML answer.
pub(crate) fn html(markup: Markup) -> Response {
    axum::response::Html(markup.into_string()).into_response()
}

/// Renders a page for a signed-in admin (navigation, sign-out form, the one-time message).
pub(crate) fn page(d: &Daemon, admin: &Admin, current: layout::Nav, title: &str, content: Markup) -> Response {
    let flash = d.ui().sessions.take_flash(&admin.token);
    html(layout::page(current, title, admin.csrf(), flash.as_ref(), content))
}

/// Redirects after an action, with a one-time message for the next page.
pub(crate) fn done(d: &Daemon, admin: &Admin, to: &str, ok: bool, text: impl Into<String>) -> Response {
    d.ui().sessions.set_flash(&admin.token, Flash { ok, text: text.into() });
    Redirect::to(to).into_response()
}

/// The web UI's routes (the daemon merges them into its router).
pub fn router(daemon: Arc<Daemon>) -> Router {
    let pages = Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/sync") }))
        .route("/ui/", get(|| async { Redirect::to("/ui/sync") }))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/assets/ui.css", get(assets::css))
        .route("/ui/assets/ui.js", get(assets::js))
        .merge(sync::routes())
        .merge(connections::routes())
        .merge(groups::routes())
        .merge(doctor::routes());
    pages
        .layer(middleware::from_fn_with_state(daemon.clone(), guard))
        .layer(middleware::from_fn(security_headers))
        .with_state(daemon)
}

/// The cookie token of a request, if it has one.
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether the request reached us over HTTPS (through a TLS-terminating proxy that says so).
fn over_https(headers: &HeaderMap) -> bool {
    let forwarded_proto =
        headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get(header::FORWARDED)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"));
    forwarded_proto || forwarded
}

/// The `Set-Cookie` value of a session token.
fn session_cookie(token: &str, headers: &HeaderMap) -> HeaderValue {
    let secure = if over_https(headers) { "; Secure" } else { "" };
    let value = format!("{COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("ssync_session=; Path=/ui"))
}

fn clear_cookie(headers: &HeaderMap) -> HeaderValue {
    let secure = if over_https(headers) { "; Secure" } else { "" };
    let value = format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("ssync_session=; Path=/ui"))
}

/// Whether a path is open without signing in.
fn is_public(path: &str) -> bool {
    path == "/ui/login" || path.starts_with("/ui/assets/")
}

/// Whether a request's `Origin`, when a browser sends one, is this host (requests without one, from scripts, pass).
pub fn same_origin(headers: &HeaderMap) -> bool {
    origin_ok(headers)
}

/// A browser's `Origin`, when it sends one, must be this host (a second line behind SameSite and the token).
fn origin_ok(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else { return false };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|rest| rest.trim_end_matches('/').eq_ignore_ascii_case(host))
}

fn refused(message: &str) -> Response {
    UiError::new(StatusCode::FORBIDDEN, message).into_response()
}

/// The `csrf` field of a form body.
fn form_csrf(body: &[u8]) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    pairs.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v)
}

/// Authentication and CSRF for every UI route.
async fn guard(State(d): State<Arc<Daemon>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let token = cookie_token(request.headers());
    let session = token.as_deref().and_then(|t| d.ui().sessions.get(t));
    let unsafe_method = !matches!(method, Method::GET | Method::HEAD);
    if is_public(&path) && !unsafe_method {
        return next.run(request).await;
    }
    let signed_in = session.as_ref().is_some_and(|s| s.signed_in);
    if !signed_in && !is_public(&path) {
        if unsafe_method {
            return refused("Sign in first: this action needs a signed-in admin.");
        }
        let wanted = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
        let next_param = serde_urlencoded::to_string([("next", wanted.as_str())]).unwrap_or_default();
        return Redirect::to(&format!("/ui/login?{next_param}")).into_response();
    }
    let mut request = request;
    if unsafe_method {
        if !origin_ok(request.headers()) {
            return refused("This form was sent from another site.");
        }
        let Some(session) = &session else {
            return refused("The form has expired: reload the page and try again.");
        };
        let (parts, body) = request.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(_) => return UiError::new(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response(),
        };
        let valid = form_csrf(&bytes).is_some_and(|t| auth::csrf_matches(session, &t));
        if !valid {
            return refused("The form has expired or did not come from this site: reload the page and try again.");
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    if let (Some(token), Some(session)) = (token, session)
        && session.signed_in
    {
        request.extensions_mut().insert(Admin { token, session });
    }
    next.run(request).await
}

/// Headers every UI answer carries.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // `same-origin`, not `no-referrer`: with `no-referrer` browsers send `Origin: null` on our own forms.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[derive(Debug, serde::Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

/// Only a path of the UI itself (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/ui/") && !n.starts_with("//") && !n.contains('\\') && n != "/ui/login" => {
            n.to_owned()
        }
        _ => "/ui/sync".to_owned(),
    }
}

async fn login_form(
    State(d): State<Arc<Daemon>>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<LoginQuery>,
) -> UiResult {
    let existing = cookie_token(&headers).and_then(|t| d.ui().sessions.get(&t));
    if existing.as_ref().is_some_and(|s| s.signed_in) {
        return Ok(Redirect::to(&safe_next(q.next.as_deref())).into_response());
    }
    let configured = d.app().store().admin_credential(auth::ADMIN).await?.is_some();
    // A signed-out session that is still valid keeps its token (several tabs of this page all work).
    if let Some(session) = existing {
        return Ok(html(layout::login(&session.csrf, &safe_next(q.next.as_deref()), None, configured)));
    }
    let (token, session) = d.ui().sessions.create(false);
    let body = layout::login(&session.csrf, &safe_next(q.next.as_deref()), None, configured);
    let mut response = html(body);
    response.headers_mut().insert(header::SET_COOKIE, session_cookie(&token, &headers));
    Ok(response)
}

#[derive(serde::Deserialize)]
struct LoginForm {
    password: String,
    next: Option<String>,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm").field("password", &"[redacted]").field("next", &self.next).finish()
    }
}

async fn login(State(d): State<Arc<Daemon>>, headers: HeaderMap, Form(form): Form<LoginForm>) -> UiResult {
    let next = safe_next(form.next.as_deref());
    let stored = d.app().store().admin_credential(auth::ADMIN).await?;
    let again = |message: &str, status: StatusCode| {
        // A fresh signed-out session for the next attempt.
        let (token, session) = d.ui().sessions.create(false);
        let mut response =
            (status, html(layout::login(&session.csrf, &next, Some(message), stored.is_some()))).into_response();
        response.headers_mut().insert(header::SET_COOKIE, session_cookie(&token, &headers));
        response
    };
    if let Some(old) = cookie_token(&headers) {
        d.ui().sessions.remove(&old);
    }
    let Some(stored) = &stored else {
        return Ok(again("No admin password is set yet; see below.", StatusCode::FORBIDDEN));
    };
    if d.ui().sessions.locked_out() {
        tracing::warn!("web UI sign-in refused: too many failed attempts");
        return Ok(again(
            "Too many failed sign-ins: sign-in is paused for a few minutes.",
            StatusCode::TOO_MANY_REQUESTS,
        ));
    }
    let password = form.password;
    let hash = stored.password_hash.clone();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
    if !ok {
        d.ui().sessions.failed();
        tracing::warn!("web UI sign-in failed: wrong password");
        return Ok(again("That password is not right.", StatusCode::UNAUTHORIZED));
    }
    // A new session id at sign-in (no session fixation).
    let (token, _) = d.ui().sessions.create(true);
    tracing::info!("admin signed in to the web UI");
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().insert(header::SET_COOKIE, session_cookie(&token, &headers));
    Ok(response)
}

async fn logout(State(d): State<Arc<Daemon>>, headers: HeaderMap, admin: Admin) -> Response {
    d.ui().sessions.remove(&admin.token);
    tracing::info!("admin signed out of the web UI");
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().insert(header::SET_COOKIE, clear_cookie(&headers));
    response
}
