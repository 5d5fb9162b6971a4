//! Connections: the list (the configuration file's read-only, the UI's own), the method picker, the per-kind
//! create form, the device-code sign-in shown inline, "Test" (the doctor's checks of that connection) and delete.
//!
//! Microsoft, Google and Wonde are supported: each kind's secret (an app-only client secret, a service account key,
//! a Wonde token) is stored encrypted with the connection and never shown again.
//!
//! **Adding a kind**: give it a [`Method`] entry in [`METHODS`] whose `support` is `Ok` once the configuration and
//! the sync engine can use it, a form in [`kind_form`], a branch in [`create`] that builds its store record and a
//! branch in `crate::stored::load` that reads it back. Until then the picker shows it disabled, with the reason.

use super::layout::{Nav, csrf_field};
use super::{Admin, LONG_POLL, UiError, UiResult, done, page};
use crate::app::App;
use crate::commands;
use crate::config::{AuthMode, CloudName, ConnectionConfig, KIND_GOOGLE, KIND_MICROSOFT, Origin, WONDE};
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
        description: "Google Workspace: organisational units, with a service account (domain-wide delegation) acting \
                      as an admin.",
        support: Ok(()),
    },
    Method {
        kind: "wonde",
        label: "Wonde",
        description: "A school's management information system through Wonde, with the school's API token. Its \
                      connection group is made automatically: the school's students and staff.",
        support: Ok(()),
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

/// The method column: the kind and how it signs in.
fn method_label(c: &ConnectionConfig) -> (&'static str, String) {
    if c.is_google() {
        return ("Google", format!("Service account acting as {}", c.admin_subject.as_deref().unwrap_or("?")));
    }
    if c.is_wonde() {
        return ("Wonde", "School API token".to_owned());
    }
    let how = match c.auth {
        AuthMode::Delegated => "An admin signs in (device code)",
        AuthMode::AppOnly => "App-only (client secret)",
    };
    ("Microsoft", how.to_owned())
}

/// The account column: the Microsoft tenant, the Google account (customer or domain), the Wonde school.
fn account_label(c: &ConnectionConfig) -> String {
    if c.is_google() {
        return match (&c.domain, &c.customer) {
            (Some(domain), _) => format!("domain {domain}"),
            (None, Some(customer)) => format!("customer {customer}"),
            (None, None) => "the admin's own account".to_owned(),
        };
    }
    if c.is_wonde() {
        return format!("school {} ({})", c.school_id.as_deref().unwrap_or("?"), c.wonde_region().domain());
    }
    c.tenant.clone()
}

/// The sign-in column: whether the connection can sign in, as far as can be told without asking the vendor.
async fn sign_in_badge(app: &App, c: &ConnectionConfig) -> Markup {
    if c.is_google() {
        return match app.google(&c.name) {
            Ok(g) => {
                html! { span class="badge good" title=(format!("service account {}", g.tokens.key().client_email())) { "Key set" } }
            }
            Err(e) => html! { span class="badge bad" title=(format!("{e:#}")) { "No usable key" } },
        };
    }
    if c.is_wonde() {
        return match app.wonde(&c.name) {
            Ok(_) => html! { span class="badge good" { "Token set" } },
            Err(e) => html! { span class="badge bad" title=(format!("{e:#}")) { "No token" } },
        };
    }
    match c.auth {
        AuthMode::Delegated => match app.store().refresh_token(&ConnectionId::new(c.name.clone())).await {
            Ok(Some(_)) => html! { span class="badge good" { "Signed in" } },
            Ok(None) => html! { span class="badge warn" { "Not signed in" } },
            Err(e) => html! { span class="badge bad" title=(e.to_string()) { "Sign-in unreadable" } },
        },
        AuthMode::AppOnly => match app.microsoft(&c.name) {
            Ok(_) => html! { span class="badge good" { "Secret set" } },
            Err(e) => html! { span class="badge bad" title=(format!("{e:#}")) { "No secret" } },
        },
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
        rows.push((c.clone(), sign_in_badge(&app, c).await, users_of(&app, &c.name)));
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
                    th scope="col" { "Name" } th scope="col" { "Method" } th scope="col" { "Tenant, account or school" }
                    th scope="col" { "Sign-in" } th scope="col" { "Used by" } th scope="col" { "Defined in" }
                    th scope="col" { span class="visually-hidden" { "Actions" } }
                } }
                tbody {
                    @for (c, signed_in, used) in &rows {
                        tr data-connection=(c.name) {
                            th scope="row" { (c.name) }
                            @let (kind, how) = method_label(c);
                            td { (kind) br; span class="hint" { (how) } }
                            td { (account_label(c)) }
                            td { (signed_in) }
                            td {
                                @if let Some(own) = c.wonde_group() {
                                    "its own connection group, into " (own.organisation)
                                } @else if used.is_empty() { span class="hint" { "no connection group" } } @else { (used.join(", ")) }
                            }
                            td { (origin_badge(&c.origin)) }
                            td {
                                div class="actions" {
                                    a class="button secondary" href=(format!("/ui/connections/{}/test", c.name)) { "Test" span class="visually-hidden" { " " (c.name) } }
                                    @if c.is_microsoft() && c.auth == AuthMode::Delegated {
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

/// The create form's fields, for every kind (also what is shown again after an error; a secret never is).
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct ConnectionForm {
    kind: String,
    name: String,
    // Microsoft
    tenant: String,
    client_id: String,
    auth: String,
    client_secret: String,
    cloud: String,
    authority_url: String,
    graph_url: String,
    // Google
    service_account_key: String,
    admin_subject: String,
    customer: String,
    domain: String,
    directory_url: String,
    // Wonde
    school_id: String,
    organisation: String,
    region: String,
    token: String,
    wonde_url: String,
}

impl std::fmt::Debug for ConnectionForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionForm")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("auth", &self.auth)
            .field("client_secret", &"[redacted]")
            .field("service_account_key", &"[redacted]")
            .field("admin_subject", &self.admin_subject)
            .field("school_id", &self.school_id)
            .field("organisation", &self.organisation)
            .field("token", &"[redacted]")
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

/// The Secure Schools organisations, by id, and why the list is empty when it could not be read.
type Organisations = (std::collections::BTreeMap<String, String>, Option<String>);

/// The form of a kind, or `None` when the kind has none (not supported). `orgs` is used by the Wonde form.
fn kind_form(kind: &str, csrf: &str, v: &ConnectionForm, error: Option<&str>, orgs: &Organisations) -> Option<Markup> {
    let fields = match kind {
        "microsoft" => microsoft_fields(v),
        "google" => google_fields(v),
        "wonde" => wonde_fields(v, orgs),
        _ => return None,
    };
    Some(html! {
        @if let Some(e) = error {
            div class="flash bad" role="alert" {
                (e)
                @if kind != "microsoft" || v.auth == "app-only" { " The secret you entered is not kept after an error: enter it again." }
            }
        }
        form method="post" action="/ui/connections" {
            (csrf_field(csrf))
            input type="hidden" name="kind" value=(kind);
            (text_field("name", "Name", &v.name, "Letters, digits, - and _. It prefixes every synced user's external id, so it cannot be renamed later.", true))
            (fields)
            button type="submit" { "Create connection" }
        }
    })
}

fn microsoft_fields(v: &ConnectionForm) -> Markup {
    let app_only = v.auth == "app-only";
    html! {
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
    }
}

fn google_fields(v: &ConnectionForm) -> Markup {
    html! {
        div class="field" {
            label for="service_account_key" { "Service account key (JSON)" }
            textarea id="service_account_key" name="service_account_key" rows="8" required autocomplete="off" spellcheck="false" aria-describedby="service_account_key-hint" {}
            p class="hint" id="service_account_key-hint" {
                "Google Cloud console → IAM & Admin → Service accounts → the sync's account → Keys → Add key → JSON. "
                "Open the downloaded file and paste all of it here. Stored encrypted; never shown again."
            }
        }
        (text_field("admin_subject", "Admin to act as", &v.admin_subject, "The email of a Google Workspace admin who can read users and organisational units; the service account acts as this admin.", true))
        details open {
            summary { "Domain-wide delegation (in the Google Admin console)" }
            p {
                "Security → Access and data control → API controls → Manage domain-wide delegation → Add new: the service account's client id (the key's "
                code { "client_id" } ") with these OAuth scopes, comma-separated:"
            }
            ul { @for scope in google_directory_client::auth::SCOPES { li { code { (scope) } } } }
        }
        fieldset {
            legend { "Which users (optional)" }
            p class="hint" { "Leave both empty for every user of the admin's own account. Fill in at most one." }
            (text_field("customer", "Customer id", &v.customer, "Another account's customer id (Admin console → Account → Account settings), e.g. C03az79cb.", false))
            (text_field("domain", "Domain", &v.domain, "Only the users of this one domain of the account, e.g. northfield.sch.uk.", false))
        }
        details open[!v.directory_url.is_empty()] {
            summary { "Advanced: a proxy or test server" }
            (text_field("directory_url", "Directory API URL", &v.directory_url, "Leave empty for Google's own (https://admin.googleapis.com/).", false))
        }
    }
}

/// Wonde's regions as the form offers them: the value the configuration takes, and its name.
const WONDE_REGIONS: [(&str, &str); 4] = [
    ("uk", "UK and the rest of the world (api.wonde.com)"),
    ("anz", "Australia and New Zealand (api-ap-southeast-2.wonde.com)"),
    ("za", "South Africa (api-af-south-1.wonde.com)"),
    ("us", "United States (api-us-west-2.wonde.com)"),
];

fn wonde_fields(v: &ConnectionForm, (orgs, orgs_error): &Organisations) -> Markup {
    html! {
        div class="field" {
            label for="token" { "Wonde API token" }
            input id="token" name="token" type="password" required autocomplete="off" aria-describedby="token-hint";
            p class="hint" id="token-hint" { "Of the Wonde app the school approved (Wonde portal → your app → API token). Stored encrypted; never shown again." }
        }
        (text_field("school_id", "School's Wonde id", &v.school_id, "Letters and digits, e.g. A1930499544 (the school's page in the Wonde portal).", true))
        div class="field" {
            label for="region" { "Region" }
            select id="region" name="region" aria-describedby="region-hint" {
                @for (value, label) in WONDE_REGIONS { option value=(value) selected[v.region == value] { (label) } }
            }
            p class="hint" id="region-hint" { "Where the school's data lives; Wonde answers no data from the wrong region." }
        }
        div class="field" {
            label for="organisation" { "Secure Schools organisation" }
            @if orgs.is_empty() {
                input id="organisation" name="organisation" type="text" value=(v.organisation) required aria-describedby="organisation-hint";
            } @else {
                select id="organisation" name="organisation" required aria-describedby="organisation-hint" {
                    @for (id, name) in orgs { option value=(id) selected[v.organisation == *id] { (name) " (" (id) ")" } }
                }
            }
            p class="hint" id="organisation-hint" {
                "The school syncs into it. Its connection group is made automatically: the school's students as students and its employees as staff."
                @if let Some(e) = orgs_error { " Type the organisation's id (the list could not be loaded: " (e) ")." }
            }
        }
        details open[!v.wonde_url.is_empty()] {
            summary { "Advanced: a proxy or test server" }
            (text_field("wonde_url", "Wonde API URL", &v.wonde_url, "Leave empty for the region's own (https://api.wonde.com/v1.0/).", false))
        }
    }
}

async fn new_form(State(d): State<Arc<Daemon>>, admin: Admin, Path(kind): Path<String>) -> UiResult {
    let Some(m) = method(&kind) else {
        return Err(UiError::not_found(format!("There is no connection method `{kind}`.")));
    };
    if let Err(why) = m.support {
        return Err(UiError::new(StatusCode::NOT_FOUND, why));
    }
    let orgs = organisations_for(&d.app(), &kind).await;
    let form = kind_form(&kind, admin.csrf(), &ConnectionForm::default(), None, &orgs)
        .ok_or_else(|| UiError::not_found(format!("There is no form for `{kind}`.")))?;
    Ok(page(&d, &admin, Nav::Connections, &format!("Connect {}", m.label), form))
}

/// The organisations a kind's form offers (only Wonde's asks for one).
async fn organisations_for(app: &App, kind: &str) -> Organisations {
    if kind == "wonde" { super::groups::organisation_names(app).await } else { Default::default() }
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

/// Checks a new connection's name: the characters, and that no connection has it.
fn check_name<'a>(app: &App, name: &'a str) -> Result<&'a str, String> {
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!("The name `{name}` must be letters, digits, - or _."));
    }
    if app.config().connection(name).is_some() || app.left_out().iter().any(|(n, _)| n == name) {
        return Err(format!("A connection named `{name}` already exists."));
    }
    Ok(name)
}

/// Secrets are stored encrypted: refuses when the store has no key.
fn check_secret_key(app: &App) -> Result<(), String> {
    if app.store().has_secret_key() {
        return Ok(());
    }
    Err("The sign-in and secrets of a connection are stored encrypted, but no key is configured: set \
         ROSTERBRIDGE_SECRET_KEY (a base64-encoded 32-byte key, e.g. `openssl rand -base64 32`) or \
         `secret_key_file` and restart the daemon."
        .into())
}

/// Checks the Microsoft form and builds the connection; the message says what is wrong.
fn microsoft_connection(app: &App, v: &ConnectionForm) -> Result<(ConnectionConfig, Option<SecretString>), String> {
    let name = check_name(app, &v.name)?;
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
    check_secret_key(app)?;
    let connection = ConnectionConfig {
        name: name.to_owned(),
        kind: KIND_MICROSOFT.into(),
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

fn optional_text(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Checks the Google form and builds the connection with its service account key (the JSON, checked to be a
/// usable key); the message says what is wrong and never holds key material.
fn google_connection(app: &App, v: &ConnectionForm) -> Result<(ConnectionConfig, SecretString), String> {
    let name = check_name(app, &v.name)?;
    let json = v.service_account_key.trim();
    if json.is_empty() {
        return Err("Paste the service account key: the whole JSON file Google Cloud gave you.".into());
    }
    let key = google_directory_client::ServiceAccountKey::from_json(json)
        .map_err(|e| format!("The service account key cannot be used: {e}. Paste the whole JSON key file again."))?;
    let subject = v.admin_subject.trim();
    if subject.is_empty() || !subject.contains('@') || subject.contains(char::is_whitespace) {
        return Err(format!(
            "`{subject}` is not an admin's email: the service account acts as this admin (domain-wide delegation)."
        ));
    }
    let customer = optional_text(&v.customer);
    let domain = optional_text(&v.domain);
    if customer.is_some() && domain.is_some() {
        return Err("Fill in the customer id or the domain, not both.".into());
    }
    if let Some(domain) = &domain
        && (!domain.contains('.') || domain.contains(['/', '@', ' ']))
    {
        return Err(format!("`{domain}` is not a domain name."));
    }
    if let Some(customer) = &customer
        && !customer.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(format!("`{customer}` is not a customer id (letters and digits, e.g. C03az79cb)."));
    }
    check_secret_key(app)?;
    tracing::debug!(connection = %name, service_account = %key.client_email(), "Google service account key read");
    let connection = ConnectionConfig {
        name: name.to_owned(),
        kind: KIND_GOOGLE.into(),
        admin_subject: Some(subject.to_owned()),
        customer,
        domain,
        directory_url: optional_url(&v.directory_url, "The Directory API URL")?,
        origin: Origin::Store(name.to_owned()),
        ..Default::default()
    };
    Ok((connection, SecretString::from(json.to_owned())))
}

/// Checks the Wonde form and builds the connection with its token; the organisation must be one the Secure
/// Schools API lists (when the list could be read).
fn wonde_connection(
    app: &App,
    v: &ConnectionForm,
    (orgs, _): &Organisations,
) -> Result<(ConnectionConfig, SecretString), String> {
    let name = check_name(app, &v.name)?;
    let token = v.token.trim();
    if token.is_empty() {
        return Err("The Wonde API token is missing: paste the token of the Wonde app the school approved.".into());
    }
    let school = v.school_id.trim();
    if school.is_empty() || !school.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!("`{school}` is not a Wonde school id (letters and digits, e.g. A1930499544)."));
    }
    let region = match v.region.trim() {
        "" => "uk",
        other => other,
    };
    region.parse::<wonde_client::Region>().map_err(|e| format!("{e}."))?;
    let organisation = v.organisation.trim();
    if organisation.is_empty() {
        return Err("Choose the Secure Schools organisation the school syncs into.".into());
    }
    if !orgs.is_empty() && !orgs.contains_key(organisation) {
        return Err(format!("`{organisation}` is not an organisation of this Secure Schools account."));
    }
    check_secret_key(app)?;
    let connection = ConnectionConfig {
        name: name.to_owned(),
        kind: WONDE.into(),
        school_id: Some(school.to_owned()),
        organisation: Some(organisation.to_owned()),
        region: Some(region.to_owned()),
        wonde_url: optional_url(&v.wonde_url, "The Wonde API URL")?,
        origin: Origin::Store(name.to_owned()),
        ..Default::default()
    };
    Ok((connection, SecretString::from(token.to_owned())))
}

async fn create(State(d): State<Arc<Daemon>>, admin: Admin, Form(v): Form<ConnectionForm>) -> UiResult {
    let Some(m) = method(&v.kind) else {
        return Err(UiError::bad_request(format!("There is no connection method `{}`.", v.kind)));
    };
    if let Err(why) = m.support {
        return Err(UiError::bad_request(why));
    }
    let app = d.app();
    let orgs = organisations_for(&app, m.kind).await;
    let built = match m.kind {
        "google" => google_connection(&app, &v).map(|(c, key)| {
            let record = stored::google_record(&c, key);
            (c, record)
        }),
        "wonde" => wonde_connection(&app, &v, &orgs).map(|(c, token)| {
            let record = stored::wonde_record(&c, token);
            (c, record)
        }),
        _ => microsoft_connection(&app, &v).map(|(c, secret)| {
            let record = stored::microsoft_record(&c, secret);
            (c, record)
        }),
    };
    let (connection, record) = match built {
        Ok(built) => built,
        Err(message) => {
            let form = kind_form(m.kind, admin.csrf(), &v, Some(&message), &orgs).unwrap_or_default();
            let mut response = page(&d, &admin, Nav::Connections, &format!("Connect {}", m.label), form);
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(response);
        }
    };
    app.store().save_connection(&record).await?;
    d.reload().await?;
    tracing::info!(connection = %connection.name, kind = %connection.kind, "connection created in the web UI");
    if connection.is_microsoft() && connection.auth == AuthMode::Delegated {
        start_sign_in(&d, &connection.name);
        return Ok(Redirect::to(&format!("/ui/connections/{}/sign-in", connection.name)).into_response());
    }
    let message = match connection.wonde_group() {
        Some(group) => format!(
            "Connection {} created, with its connection group: school {} into {}. It syncs at its next turn, or \
             now from User sync. Its checks are below.",
            connection.name,
            connection.school_id.as_deref().unwrap_or(""),
            group.organisation
        ),
        None if connection.is_google() => format!(
            "Connection {} created. Its checks are below; then create a connection group to choose its \
             organisational units.",
            connection.name
        ),
        None => format!("Connection {} created. Its checks are below.", connection.name),
    };
    Ok(done(&d, &admin, &format!("/ui/connections/{}/test", connection.name), true, message))
}

// -------------------------------------------------------------------------------------------------------------
// Sign-in page

async fn sign_in_start(State(d): State<Arc<Daemon>>, admin: Admin, Path(name): Path<String>) -> UiResult {
    let app = d.app();
    let Some(c) = app.config().connection(&name) else {
        return Err(UiError::not_found(format!("No connection is named `{name}`.")));
    };
    if !c.is_microsoft() || c.auth != AuthMode::Delegated {
        let how = if c.is_google() {
            "with its service account key"
        } else if c.is_wonde() {
            "with its Wonde API token"
        } else {
            "app-only"
        };
        return Ok(done(
            &d,
            &admin,
            "/ui/connections",
            false,
            format!("{name} signs in {how}: there is nobody to sign in."),
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
    let own_group = app.config().connection(&name).and_then(ConnectionConfig::wonde_group);
    d.reload().await?;
    tracing::info!(connection = %name, "connection deleted in the web UI");
    let message = match own_group {
        Some(group) if d.app().config().organisations().contains(&group.organisation) => format!(
            "Connection {name} deleted, with its stored token and its connection group. {} stays synced from its \
             other connection groups: users who came only from this school are suspended (not deleted) at its next \
             sync, held for approval if that is many.",
            group.organisation
        ),
        Some(group) => format!(
            "Connection {name} deleted, with its stored token and its connection group: {} is no longer synced. \
             Its users stay exactly as they are (nobody is suspended or deleted).",
            group.organisation
        ),
        None => format!("Connection {name} deleted, with its stored sign-in."),
    };
    Ok(done(&d, &admin, "/ui/connections", true, message))
}
