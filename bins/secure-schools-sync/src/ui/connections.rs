//! Connections: the list (the configuration file's read-only, the UI's own), the method picker, the per-kind
//! create form, the device-code sign-in shown inline, "Test" (the doctor's checks of that connection) and delete.
//!
//! **Adding a kind** (Google, Wonde…): give it a [`Method`] entry in [`METHODS`] whose `support` is `Ok` once the
//! configuration and the sync engine can use it, a form in [`kind_form`] and a branch in [`create`] that builds
//! its store record (see `crate::stored`). Until then the picker shows it disabled, with the reason.

use super::layout::{Nav, csrf_field};
use super::{Admin, LONG_POLL, UiError, UiResult, done, page};
use crate::app::App;
use crate::commands;
use crate::config::{AuthMode, CloudName, ConnectionConfig, Origin};
use crate::daemon::Daemon;
use crate::doctor::{self, Status};
use crate::output::Output;
use crate::shutdown::{Shutdown, ShutdownTrigger};
use crate::stored;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use secrecy::SecretString;
use std::sync::Arc;
use sync_engine::model::ConnectionId;
use tokio::sync::watch;

pub(crate) fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/ui/connections", get(list).post(create))
        .route("/ui/connections/new", get(picker))
        .route("/ui/connections/new/{kind}", get(new_form))
        .route("/ui/connections/{name}/sign-in", get(sign_in_page).post(sign_in_start))
        .route("/ui/connections/{name}/sign-in/wait", get(sign_in_wait))
        .route("/ui/connections/{name}/test", get(test))
        .route("/ui/connections/{name}/delete", post(delete))
}

/// A way to connect, as the picker shows it.
pub(crate) struct Method {
    /// The connection kind (`kind` in the configuration).
    pub(crate) kind: &'static str,
    /// Its name.
    pub(crate) label: &'static str,
    /// What it connects to.
    pub(crate) description: &'static str,
    /// Whether this build can sync from it, or why not.
    pub(crate) support: Result<(), &'static str>,
}

/// Every method the picker shows, in order.
pub(crate) const METHODS: [Method; 3] = [
    Method {
        kind: "microsoft",
        label: "Microsoft",
        description: "Microsoft Entra ID (Microsoft 365): Security groups and Distribution groups. An admin signs in \
                      with a code, or the app signs in with its own secret.",
        support: Ok(()),
    },
    Method {
        kind: "google",
        label: "Google",
        description: "Google Workspace: organisational units, with a service account and an admin to act as.",
        support: Err("This version of secure-schools-sync cannot sync from Google Workspace yet: its configuration \
                      and sync engine know only Microsoft connections."),
    },
    Method {
        kind: "wonde",
        label: "Wonde",
        description: "A school's management information system through Wonde, with the school's API token.",
        support: Err("This version of secure-schools-sync cannot sync from Wonde yet: its configuration and sync \
                      engine know only Microsoft connections."),
    },
];

fn method(kind: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.kind == kind)
}

// -------------------------------------------------------------------------------------------------------------
// Device-code sign-in in the background

/// A device-code sign-in of one connection, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignIn {
    /// Asking Entra for a code.
    Starting,
    /// Waiting for the admin to enter the code.
    Waiting {
        /// Entra's instructions.
        message: String,
        /// The code.
        user_code: String,
        /// Where to enter it.
        verification_uri: String,
    },
    /// Signed in.
    Done {
        /// Who.
        account: String,
    },
    /// It did not work.
    Failed {
        /// Why.
        error: String,
    },
}

/// The sign-in state with a version that moves at every change.
pub(crate) type SignInWatch = watch::Sender<(u64, SignIn)>;

/// Starts (or restarts) the device-code sign-in of a connection: `commands::connect_microsoft`, the CLI's
/// `connect microsoft`, runs in the background and reports its prompt and its end on a watch channel.
fn start_sign_in(d: &Arc<Daemon>, name: &str) {
    let (tx, _) = watch::channel((0, SignIn::Starting));
    let tx = Arc::new(tx);
    let (trigger, shutdown) = Shutdown::manual();
    if let Ok(mut map) = d.ui().sign_ins.lock()
        && let Some((_, old)) = map.insert(name.to_owned(), (tx.clone(), trigger))
    {
        old.trigger();
    }
    let app = d.app();
    let name = name.to_owned();
    tokio::spawn(async move {
        let (mut out, _captured) = Output::capture();
        let prompt_tx = tx.clone();
        let on_prompt = move |prompt: &graph_client::auth::DeviceCodePrompt| {
            prompt_tx.send_modify(|(v, s)| {
                *v += 1;
                *s = SignIn::Waiting {
                    message: prompt.message.clone(),
                    user_code: prompt.user_code.clone(),
                    verification_uri: prompt.verification_uri.clone(),
                };
            });
            Ok(None)
        };
        let result = commands::connect_microsoft(&app, &name, &mut out, &shutdown, &on_prompt).await;
        let end = match result {
            Ok(who) => {
                tracing::info!(connection = %name, "device-code sign-in completed in the web UI");
                SignIn::Done {
                    account: format!(
                        "{} <{}>",
                        who.display_name.as_deref().unwrap_or("?"),
                        who.user_principal_name.as_deref().unwrap_or("?")
                    ),
                }
            }
            Err(e) => {
                tracing::warn!(connection = %name, error = format!("{e:#}"), "device-code sign-in failed");
                SignIn::Failed { error: format!("{e:#}") }
            }
        };
        tx.send_modify(|(v, s)| {
            *v += 1;
            *s = end;
        });
    });
}

fn sign_in_watch(d: &Daemon, name: &str) -> Option<Arc<SignInWatch>> {
    d.ui().sign_ins.lock().ok()?.get(name).map(|(tx, _)| tx.clone())
}

/// Cancels every sign-in in progress (the daemon is stopping).
pub(crate) fn cancel_all(sign_ins: &std::sync::Mutex<SignIns>) {
    if let Ok(map) = sign_ins.lock() {
        for (_, trigger) in map.values() {
            trigger.trigger();
        }
    }
}

/// Sign-ins by connection name.
pub(crate) type SignIns = std::collections::BTreeMap<String, (Arc<SignInWatch>, ShutdownTrigger)>;

// -------------------------------------------------------------------------------------------------------------
// The list

fn origin_badge(origin: &Origin) -> Markup {
    match origin {
        Origin::File => {
            html! { span class="badge muted" title="Defined in the configuration file; edit the file to change it" { "Configuration file" } }
        }
        Origin::Store(_) => html! { span class="badge good" { "Created here" } },
    }
}

fn auth_label(c: &ConnectionConfig) -> &'static str {
    match c.auth {
        AuthMode::Delegated => "An admin signs in (device code)",
        AuthMode::AppOnly => "App-only (client secret)",
    }
}

/// The connection groups that use a connection.
fn users_of(app: &App, name: &str) -> Vec<String> {
    app.config().connection_groups.iter().filter(|g| g.connection == name).map(|g| g.name.clone()).collect()
}

async fn list(State(d): State<Arc<Daemon>>, admin: Admin) -> UiResult {
    let app = d.app();
    let mut rows = Vec::new();
    for c in &app.config().connections {
        let signed_in = match c.auth {
            AuthMode::Delegated => match app.store().refresh_token(&ConnectionId::new(c.name.clone())).await {
                Ok(Some(_)) => html! { span class="badge good" { "Signed in" } },
                Ok(None) => html! { span class="badge warn" { "Not signed in" } },
                Err(e) => html! { span class="badge bad" title=(e.to_string()) { "Sign-in unreadable" } },
            },
            AuthMode::AppOnly => match app.microsoft(&c.name) {
                Ok(_) => html! { span class="badge good" { "Secret set" } },
                Err(e) => html! { span class="badge bad" title=(format!("{e:#}")) { "No secret" } },
            },
        };
        rows.push((c.clone(), signed_in, users_of(&app, &c.name)));
    }
    let listed: Vec<&str> = app.config().connections.iter().map(|c| c.name.as_str()).collect();
    // Records of connections that were in the configuration file once (they kept its sign-in) but are not now.
    let leftovers: Vec<_> = app
        .store()
        .list_connections()
        .await?
        .into_iter()
        .filter(|s| !stored::is_ui_managed(&s.settings) && !listed.contains(&s.id.as_str()))
        .collect();
    let csrf = admin.csrf();
    let content = html! {
        div class="actions" { a class="button" href="/ui/connections/new" { "Create a connection" } }
        p class="hint" { "A connection is a reusable link to one tenancy. Connections from the configuration file are shown here but changed in the file." }
        @if rows.is_empty() {
            p { "No connections yet." }
        } @else {
            table {
                caption class="visually-hidden" { "Connections" }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Method" } th scope="col" { "Tenant" }
                    th scope="col" { "Sign-in" } th scope="col" { "Used by" } th scope="col" { "Defined in" }
                    th scope="col" { span class="visually-hidden" { "Actions" } }
                } }
                tbody {
                    @for (c, signed_in, used) in &rows {
                        tr data-connection=(c.name) {
                            th scope="row" { (c.name) }
                            td { "Microsoft" br; span class="hint" { (auth_label(c)) } }
                            td { (c.tenant) }
                            td { (signed_in) }
                            td { @if used.is_empty() { span class="hint" { "no connection group" } } @else { (used.join(", ")) } }
                            td { (origin_badge(&c.origin)) }
                            td {
                                div class="actions" {
                                    a class="button secondary" href=(format!("/ui/connections/{}/test", c.name)) { "Test" span class="visually-hidden" { " " (c.name) } }
                                    @if c.auth == AuthMode::Delegated {
                                        form method="post" action=(format!("/ui/connections/{}/sign-in", c.name)) {
                                            (csrf_field(csrf))
                                            button type="submit" class="secondary" { "Sign in" span class="visually-hidden" { " to " (c.name) } }
                                        }
                                    }
                                    @if !c.origin.is_store() {
                                        button type="button" class="danger" disabled title="Defined in the configuration file: remove it there" { "Delete" }
                                    } @else if !used.is_empty() {
                                        button type="button" class="danger" disabled title=(format!("Used by {}: delete those connection groups first", used.join(", "))) { "Delete" }
                                    } @else {
                                        form method="post" action=(format!("/ui/connections/{}/delete", c.name)) {
                                            (csrf_field(csrf))
                                            button type="submit" class="danger" { "Delete" span class="visually-hidden" { " " (c.name) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !app.left_out().is_empty() || !leftovers.is_empty() {
            h2 { "Not in use" }
            ul {
                @for (name, why) in app.left_out() { li { strong { (name) } ": " (why) } }
                @for s in &leftovers {
                    li {
                        strong { (s.id) } ": kept the sign-in of a connection that is no longer in the configuration file. "
                        form method="post" action=(format!("/ui/connections/{}/delete", s.id)) {
                            (csrf_field(csrf))
                            button type="submit" class="danger" { "Delete its record" }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&d, &admin, Nav::Connections, "Connections", content))
}

// -------------------------------------------------------------------------------------------------------------
// Create

async fn picker(State(d): State<Arc<Daemon>>, admin: Admin) -> Response {
    let content = html! {
        p { "Choose how this connection reaches your people." }
        div class="cards" role="list" {
            @for m in &METHODS {
                div class=(if m.support.is_ok() { "card" } else { "card disabled" }) role="listitem" {
                    h2 { (m.label) }
                    p { (m.description) }
                    @match m.support {
                        Ok(()) => { a class="button" href=(format!("/ui/connections/new/{}", m.kind)) { "Connect " (m.label) } }
                        Err(why) => {
                            p class="hint" id=(format!("why-{}", m.kind)) { (why) }
                            button type="button" disabled aria-describedby=(format!("why-{}", m.kind)) { "Connect " (m.label) }
                        }
                    }
                }
            }
        }
    };
    page(&d, &admin, Nav::Connections, "Create a connection", content)
}

/// The Microsoft form's fields (also what is shown again after an error).
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct MicrosoftForm {
    kind: String,
    name: String,
    tenant: String,
    client_id: String,
    auth: String,
    client_secret: String,
    cloud: String,
    authority_url: String,
    graph_url: String,
}

impl std::fmt::Debug for MicrosoftForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicrosoftForm")
            .field("name", &self.name)
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("auth", &self.auth)
            .field("client_secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

fn text_field(id: &str, label: &str, value: &str, hint: &str, required: bool) -> Markup {
    html! {
        div class="field" {
            label for=(id) { (label) }
            input id=(id) name=(id) type="text" value=(value) required[required] aria-describedby=(format!("{id}-hint"));
            p class="hint" id=(format!("{id}-hint")) { (hint) }
        }
    }
}

/// The form of a kind, or `None` when the kind has none (not supported).
fn kind_form(kind: &str, csrf: &str, v: &MicrosoftForm, error: Option<&str>) -> Option<Markup> {
    if kind != "microsoft" {
        return None;
    }
    let app_only = v.auth == "app-only";
    Some(html! {
        @if let Some(e) = error { div class="flash bad" role="alert" { (e) } }
        form method="post" action="/ui/connections" {
            (csrf_field(csrf))
            input type="hidden" name="kind" value="microsoft";
            (text_field("name", "Name", &v.name, "Letters, digits, - and _. It prefixes every synced user's external id, so it cannot be renamed later.", true))
            (text_field("tenant", "Tenant", &v.tenant, "The tenant id (a GUID) or a verified domain, e.g. northfield.onmicrosoft.com.", true))
            (text_field("client_id", "Application (client) id", &v.client_id, "Of the app registration the sync signs in with.", true))
            fieldset {
                legend { "How it signs in" }
                div {
                    input type="radio" id="auth-delegated" name="auth" value="delegated" checked[!app_only];
                    label for="auth-delegated" { " An admin signs in once with a code (recommended)" }
                    p class="hint" { "After you create it, the code to enter at Microsoft's sign-in page is shown here, and this page waits for the sign-in." }
                }
                div {
                    input type="radio" id="auth-app-only" name="auth" value="app-only" checked[app_only];
                    label for="auth-app-only" { " App-only, with the app's client secret" }
                    p class="hint" { "The app needs the application permissions User.Read.All and GroupMember.Read.All, with admin consent." }
                }
                div class="field" {
                    label for="client_secret" { "Client secret (app-only)" }
                    input id="client_secret" name="client_secret" type="password" autocomplete="off" aria-describedby="client_secret-hint";
                    p class="hint" id="client_secret-hint" { "Stored encrypted; never shown again." }
                }
            }
            div class="field" {
                label for="cloud" { "Cloud" }
                select id="cloud" name="cloud" {
                    @for (value, label) in [("global", "Global"), ("usgov-l4", "US Government L4 (GCC High)"), ("usgov-l5", "US Government L5 (DoD)"), ("china", "China (21Vianet)")] {
                        option value=(value) selected[v.cloud == value] { (label) }
                    }
                }
            }
            details open[!v.authority_url.is_empty() || !v.graph_url.is_empty()] {
                summary { "Advanced: a proxy or test server" }
                (text_field("authority_url", "Sign-in authority URL", &v.authority_url, "Leave empty for the cloud's own (https://login.microsoftonline.com/).", false))
                (text_field("graph_url", "Microsoft Graph URL", &v.graph_url, "Leave empty for the cloud's own (https://graph.microsoft.com/).", false))
            }
            button type="submit" { "Create connection" }
        }
    })
}

async fn new_form(State(d): State<Arc<Daemon>>, admin: Admin, Path(kind): Path<String>) -> UiResult {
    let Some(m) = method(&kind) else {
        return Err(UiError::not_found(format!("There is no connection method `{kind}`.")));
    };
    if let Err(why) = m.support {
        return Err(UiError::new(StatusCode::NOT_FOUND, why));
    }
    let form = kind_form(&kind, admin.csrf(), &MicrosoftForm::default(), None)
        .ok_or_else(|| UiError::not_found(format!("There is no form for `{kind}`.")))?;
    Ok(page(&d, &admin, Nav::Connections, &format!("Connect {}", m.label), form))
}

fn optional_url(text: &str, what: &str) -> Result<Option<url::Url>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let mut url = url::Url::parse(text).map_err(|e| format!("{what} `{text}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(format!("{what} `{text}` must be an https:// URL"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(Some(url))
}

/// Checks the Microsoft form and builds the connection; the message says what is wrong.
fn microsoft_connection(app: &App, v: &MicrosoftForm) -> Result<(ConnectionConfig, Option<SecretString>), String> {
    let name = v.name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!("The name `{name}` must be letters, digits, - or _."));
    }
    if app.config().connection(name).is_some() || app.left_out().iter().any(|(n, _)| n == name) {
        return Err(format!("A connection named `{name}` already exists."));
    }
    let tenant = v.tenant.trim();
    if graph_client::Tenant::new(tenant.to_owned()).is_err() {
        return Err(format!("`{tenant}` is not a tenant id or domain."));
    }
    let client_id = v.client_id.trim();
    if client_id.is_empty() {
        return Err("The application (client) id is missing.".into());
    }
    let auth = match v.auth.as_str() {
        "" | "delegated" => AuthMode::Delegated,
        "app-only" => AuthMode::AppOnly,
        other => return Err(format!("`{other}` is not a sign-in method.")),
    };
    let cloud = match v.cloud.as_str() {
        "" | "global" => CloudName::Global,
        "usgov-l4" => CloudName::UsgovL4,
        "usgov-l5" => CloudName::UsgovL5,
        "china" => CloudName::China,
        other => return Err(format!("`{other}` is not a cloud.")),
    };
    let secret = match auth {
        AuthMode::AppOnly if v.client_secret.trim().is_empty() => {
            return Err("App-only sign-in needs the app's client secret.".into());
        }
        AuthMode::AppOnly => Some(SecretString::from(v.client_secret.trim().to_owned())),
        AuthMode::Delegated => None,
    };
    if !app.store().has_secret_key() {
        return Err("The sign-in and secrets of a connection are stored encrypted, but no key is configured: set \
                    ROSTERBRIDGE_SECRET_KEY (a base64-encoded 32-byte key, e.g. `openssl rand -base64 32`) or \
                    `secret_key_file` and restart the daemon."
            .into());
    }
    let connection = ConnectionConfig {
        name: name.to_owned(),
        kind: "microsoft".into(),
        tenant: tenant.to_owned(),
        client_id: client_id.to_owned(),
        auth,
        client_secret_env: None,
        cloud,
        authority_url: optional_url(&v.authority_url, "The sign-in authority URL")?,
        graph_url: optional_url(&v.graph_url, "The Microsoft Graph URL")?,
        origin: Origin::Store(name.to_owned()),
        ..Default::default()
    };
    Ok((connection, secret))
}

async fn create(State(d): State<Arc<Daemon>>, admin: Admin, Form(v): Form<MicrosoftForm>) -> UiResult {
    let Some(m) = method(&v.kind) else {
        return Err(UiError::bad_request(format!("There is no connection method `{}`.", v.kind)));
    };
    if let Err(why) = m.support {
        return Err(UiError::bad_request(why));
    }
    let app = d.app();
    let (connection, secret) = match microsoft_connection(&app, &v) {
        Ok(c) => c,
        Err(message) => {
            let form = kind_form(&v.kind, admin.csrf(), &v, Some(&message)).unwrap_or_default();
            let mut response = page(&d, &admin, Nav::Connections, &format!("Connect {}", m.label), form);
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(response);
        }
    };
    let record = stored::microsoft_record(&connection, secret);
    app.store().save_connection(&record).await?;
    d.reload().await?;
    tracing::info!(connection = %connection.name, "connection created in the web UI");
    if connection.auth == AuthMode::Delegated {
        start_sign_in(&d, &connection.name);
        return Ok(Redirect::to(&format!("/ui/connections/{}/sign-in", connection.name)).into_response());
    }
    Ok(done(
        &d,
        &admin,
        &format!("/ui/connections/{}/test", connection.name),
        true,
        format!("Connection {} created. Its checks are below.", connection.name),
    ))
}

// -------------------------------------------------------------------------------------------------------------
// Sign-in page

async fn sign_in_start(State(d): State<Arc<Daemon>>, admin: Admin, Path(name): Path<String>) -> UiResult {
    let app = d.app();
    let Some(c) = app.config().connection(&name) else {
        return Err(UiError::not_found(format!("No connection is named `{name}`.")));
    };
    if c.auth != AuthMode::Delegated {
        return Ok(done(
            &d,
            &admin,
            "/ui/connections",
            false,
            format!("{name} signs in app-only: there is nobody to sign in."),
        ));
    }
    start_sign_in(&d, &name);
    Ok(Redirect::to(&format!("/ui/connections/{name}/sign-in")).into_response())
}

async fn sign_in_page(State(d): State<Arc<Daemon>>, admin: Admin, Path(name): Path<String>) -> UiResult {
    let Some(tx) = sign_in_watch(&d, &name) else {
        return Ok(done(&d, &admin, "/ui/connections", false, format!("No sign-in of {name} is in progress.")));
    };
    let (version, state) = tx.borrow().clone();
    let wait = format!("/ui/connections/{name}/sign-in/wait?seen={version}");
    let content = html! {
        @match &state {
            SignIn::Starting => {
                div data-wait-url=(wait) aria-live="polite" { p { "Asking Microsoft for a sign-in code…" } }
                p { a href=(format!("/ui/connections/{name}/sign-in")) { "Check again" } }
            }
            SignIn::Waiting { message, user_code, verification_uri } => {
                div data-wait-url=(wait) aria-live="polite" {
                    ol {
                        li { "On any device, open " a href=(verification_uri) target="_blank" rel="noopener noreferrer" { (verification_uri) } "." }
                        li { "Enter this code: " span class="code" id="user-code" { (user_code) } }
                        li { "Sign in as the Microsoft account that is an Admin of every Secure Schools organisation." }
                    }
                    p class="hint" { (message) }
                    p id="sign-in-state" { span class="badge warn" { "Waiting for the sign-in…" } " This page updates when it is done." }
                }
                p { a href=(format!("/ui/connections/{name}/sign-in")) { "Check again" } }
            }
            SignIn::Done { account } => {
                div class="flash ok" role="status" id="sign-in-state" { "Signed in as " (account) ". The sign-in is stored encrypted and renewed at every use." }
                div class="actions" {
                    a class="button" href=(format!("/ui/connections/{name}/test")) { "Test the connection" }
                    a class="button secondary" href="/ui/groups/new" { "Create a connection group" }
                }
            }
            SignIn::Failed { error } => {
                div class="flash bad" role="alert" id="sign-in-state" { "The sign-in did not complete: " (error) }
                form method="post" action=(format!("/ui/connections/{name}/sign-in")) {
                    (csrf_field(admin.csrf()))
                    button type="submit" { "Try again" }
                }
            }
        }
    };
    Ok(page(&d, &admin, Nav::Connections, &format!("Sign in to {name}"), content))
}

#[derive(Debug, serde::Deserialize)]
struct Seen {
    seen: Option<u64>,
}

/// Answers 200 once the sign-in's state moved past `seen` (204 after [`LONG_POLL`] with no change).
async fn sign_in_wait(
    State(d): State<Arc<Daemon>>,
    _admin: Admin,
    Path(name): Path<String>,
    Query(q): Query<Seen>,
) -> UiResult {
    let Some(tx) = sign_in_watch(&d, &name) else {
        return Err(UiError::not_found(format!("No sign-in of {name} is in progress.")));
    };
    let mut rx = tx.subscribe();
    let seen = q.seen.unwrap_or(0);
    let moved = tokio::select! {
        r = rx.wait_for(|(v, _)| *v > seen) => r.is_ok(),
        () = tokio::time::sleep(LONG_POLL) => false,
        () = d.ui().stopped() => false,
    };
    Ok(if moved { StatusCode::OK.into_response() } else { StatusCode::NO_CONTENT.into_response() })
}

// -------------------------------------------------------------------------------------------------------------
// Test and delete

/// A table of doctor checks.
pub(crate) fn checks_table(checks: &[doctor::Check]) -> Markup {
    html! {
        table {
            caption class="visually-hidden" { "Checks" }
            thead { tr { th scope="col" { "Result" } th scope="col" { "Check" } th scope="col" { "What was found, and what to do" } } }
            tbody {
                @for c in checks {
                    tr data-check=(c.id) data-status=(c.status.label()) {
                        td { @match c.status {
                            Status::Pass => span class="badge good" { "Pass" },
                            Status::Fail => span class="badge bad" { "Fail" },
                            Status::Warn => span class="badge warn" { "Warning" },
                            Status::Skip => span class="badge muted" { "Skipped" },
                        } }
                        th scope="row" { (c.title) @if let Some(conn) = &c.connection { br; span class="hint" { (conn) } } }
                        td {
                            (c.detail)
                            @if let Some(remedy) = &c.remedy { p class="remedy" { strong { "To fix: " } (remedy) } }
                        }
                    }
                }
            }
        }
    }
}

async fn test(State(d): State<Arc<Daemon>>, admin: Admin, Path(name): Path<String>) -> UiResult {
    let app = d.app();
    let Some(checks) = doctor::connection_checks(&app, &name).await else {
        return Err(UiError::not_found(format!("No connection is named `{name}`.")));
    };
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    let content = html! {
        @if failed == 0 {
            p class="flash ok" role="status" { "Every check of " (name) " passed." }
        } @else {
            p class="flash bad" role="alert" { (failed) " check(s) of " (name) " failed; each says what to do." }
        }
        (checks_table(&checks))
        div class="actions" {
            a class="button secondary" href=(format!("/ui/connections/{name}/test")) { "Test again" }
            a class="button secondary" href="/ui/connections" { "All connections" }
        }
    };
    Ok(page(&d, &admin, Nav::Connections, &format!("Test of {name}"), content))
}

async fn delete(State(d): State<Arc<Daemon>>, admin: Admin, Path(name): Path<String>) -> UiResult {
    let app = d.app();
    let id = ConnectionId::new(name.clone());
    if let Some(c) = app.config().connection(&name)
        && !c.origin.is_store()
    {
        return Ok(done(
            &d,
            &admin,
            "/ui/connections",
            false,
            format!("{name} is defined in the configuration file: remove it there."),
        ));
    }
    let used = users_of(&app, &name);
    if !used.is_empty() {
        return Ok(done(
            &d,
            &admin,
            "/ui/connections",
            false,
            format!("{name} is used by {}: delete those connection groups first.", used.join(", ")),
        ));
    }
    match app.store().delete_connection(&id).await {
        Ok(true) => {}
        Ok(false) => return Err(UiError::not_found(format!("No connection is named `{name}`."))),
        Err(e) => return Ok(done(&d, &admin, "/ui/connections", false, format!("{name} could not be deleted: {e}"))),
    }
    if let Ok(mut map) = d.ui().sign_ins.lock()
        && let Some((_, trigger)) = map.remove(&name)
    {
        trigger.trigger();
    }
    d.reload().await?;
    tracing::info!(connection = %name, "connection deleted in the web UI");
    Ok(done(&d, &admin, "/ui/connections", true, format!("Connection {name} deleted, with its stored sign-in.")))
}
