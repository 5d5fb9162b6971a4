//! `doctor`: every prerequisite of the sync, checked and explained with its remedy (DESIGN.md "Preflight").
//!
//! The known failure modes, each a check of its own so that a report names exactly what is wrong:
//!
//! | id | what |
//! | --- | --- |
//! | `store.secret_key` | a key to encrypt the stored sign-in is configured |
//! | `microsoft.sign_in` | a Microsoft token can be had (stored delegated sign-in, or app-only client secret) |
//! | `microsoft.account` | the signed-in account exists (Graph `/me`) |
//! | `microsoft.account_enabled` | it is not blocked from sign-in (`accountEnabled = false`) |
//! | `microsoft.read_users` | users can be read (a 403 names the missing permission / consent) |
//! | `microsoft.read_groups` | groups and their members can be read |
//! | `microsoft.roles` | the account holds Application Administrator and Cloud Application Administrator |
//! | `microsoft.app_permissions` | app-only: the token's application permissions (`roles` claim) suffice |
//! | `secure_schools.token` | the Secure Schools token works (`/me`) |
//! | `identity.same_account` | the Secure Schools identity is exactly the Microsoft account (no alias) |
//! | `secure_schools.admin` | it is an Admin in every organisation that has a connection group |
//! | `groups.selected` | every selected group exists and can be synced (Microsoft 365 groups cannot) |
//! | `google.key` | Google: the service account key can be read |
//! | `google.delegation` | Google: the token grant works, i.e. domain-wide delegation is set up for the scopes |
//! | `google.read_org_units` | Google: the admin can list the organisational units |
//! | `google.read_users` | Google: the admin can list the users of each selected unit (`groups.selected` for units) |
//! | `wonde.token` | a Wonde connection's API token is set and accepted |
//! | `wonde.school_access` | the school exists for the token and has approved access (not pending, not revoked) |
//! | `wonde.region` | the school's data lives on the connection's region (Wonde answers no data from another) |

mod google;

use crate::Outcome;
use crate::app::{App, Microsoft};
use crate::config::AuthMode;
use crate::output::{Output, Style};
use base64::Engine as _;
use futures::TryStreamExt;
use graph_client::auth::AuthError;
use graph_client::{BatchRequest, User};
use secure_schools_client::{Me, MembershipRole};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;

/// Application Administrator (role template id).
pub const APPLICATION_ADMINISTRATOR: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";
/// Cloud Application Administrator (role template id).
pub const CLOUD_APPLICATION_ADMINISTRATOR: &str = "158c047a-c907-4556-b7ef-446551a6b5f7";

/// The directory roles the syncing account must hold: template id and name.
pub const REQUIRED_ROLES: [(&str, &str); 2] = [
    (APPLICATION_ADMINISTRATOR, "Application Administrator"),
    (CLOUD_APPLICATION_ADMINISTRATOR, "Cloud Application Administrator"),
];

/// Application permissions that let an app read users in full.
const USER_PERMISSIONS: &[&str] =
    &["User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];
/// Application permissions that let an app read groups and their members.
const GROUP_PERMISSIONS: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
];

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Fine.
    Pass,
    /// Not fine: the sync will fail or do the wrong thing until the remedy is applied.
    Fail,
    /// Could not be fully checked; worth a look.
    Warn,
    /// Not checked, because something it needs failed (or it does not apply).
    Skip,
}

impl Status {
    /// `PASS`, `FAIL`, `WARN` or `SKIP`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Warn => "WARN",
            Status::Skip => "SKIP",
        }
    }
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// A stable id, e.g. `microsoft.roles` (see the module docs).
    pub id: String,
    /// The connection it is about, if any.
    pub connection: Option<String>,
    /// What is checked, in words.
    pub title: String,
    /// How it came out.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do, when it did not pass.
    pub remedy: Option<String>,
}

/// Every check, in order.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The checks.
    pub checks: Vec<Check>,
    /// Whether none failed.
    pub passed: bool,
}

impl DoctorReport {
    /// The checks with an id (one per connection for the per-connection checks).
    pub fn find(&self, id: &str) -> Vec<&Check> {
        self.checks.iter().filter(|c| c.id == id).collect()
    }

    /// The checks that failed.
    pub fn failures(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail).collect()
    }
}

pub(crate) struct Checks {
    list: Vec<Check>,
    connection: Option<String>,
}

impl Checks {
    pub(crate) fn push(
        &mut self,
        id: &str,
        title: &str,
        status: Status,
        detail: impl Into<String>,
        remedy: Option<String>,
    ) {
        self.list.push(Check {
            id: id.to_owned(),
            connection: self.connection.clone(),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            remedy,
        });
    }

    pub(crate) fn pass(&mut self, id: &str, title: &str, detail: impl Into<String>) {
        self.push(id, title, Status::Pass, detail, None);
    }

    pub(crate) fn fail(&mut self, id: &str, title: &str, detail: impl Into<String>, remedy: impl Into<String>) {
        self.push(id, title, Status::Fail, detail, Some(remedy.into()));
    }

    pub(crate) fn skip(&mut self, id: &str, title: &str, detail: impl Into<String>) {
        self.push(id, title, Status::Skip, detail, None);
    }
}

const T_KEY: &str = "A key to encrypt stored sign-ins is configured";
const T_SIGN_IN: &str = "Microsoft sign-in works";
const T_ACCOUNT: &str = "The signed-in Microsoft account exists (Graph /me)";
const T_ENABLED: &str = "The Microsoft account is not blocked from sign-in";
const T_USERS: &str = "Can read users";
const T_GROUPS: &str = "Can read groups and their members";
const T_ROLES: &str = "Holds Application Administrator and Cloud Application Administrator";
const T_APP_PERMS: &str = "The app holds the application permissions to read users and groups";
const T_SS_TOKEN: &str = "The Secure Schools token works (/me)";
const T_SAME: &str = "The Secure Schools admin is exactly the Microsoft account";
const T_ADMIN: &str = "Admin in every organisation that has a connection group";
pub(crate) const T_GROUPS_SELECTED: &str = "Every selected group exists and can be synced";

/// The first line of an Entra error description (the rest is trace and correlation ids).
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text).trim()
}

/// The `roles` claim of a JWT access token (its application permissions), read from the payload without checking
/// the signature (the token is not trusted for anything; it only tells what was granted). `None` when the token is
/// not a JWT. The token itself is never logged or shown.
pub fn token_roles(token: &str) -> Option<Vec<String>> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let roles = claims
        .get("roles")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect::<Vec<_>>());
    Some(roles.unwrap_or_default())
}

fn has_any(granted: &[String], accepted: &[&str]) -> bool {
    granted.iter().any(|g| accepted.iter().any(|a| a.eq_ignore_ascii_case(g)))
}

/// Runs every check.
pub async fn run(app: &App) -> DoctorReport {
    let mut checks = Checks { list: Vec::new(), connection: None };
    let delegated = app.config().connections.iter().any(|c| c.is_microsoft() && c.auth == AuthMode::Delegated);
    if delegated {
        if app.store().has_secret_key() {
            checks.pass("store.secret_key", T_KEY, "the delegated sign-in is stored encrypted with the configured key");
        } else {
            checks.fail(
                "store.secret_key",
                T_KEY,
                "no key is configured, so the stored sign-in can be neither saved nor read",
                "set ROSTERBRIDGE_SECRET_KEY to a base64-encoded 32-byte key (`openssl rand -base64 32`) or set \
                 `secret_key_file` in the configuration; keep the key: a sign-in stored with it cannot be read \
                 without it",
            );
        }
    }
    let mut graph_accounts: BTreeMap<String, User> = BTreeMap::new();
    for connection in &app.config().connections {
        checks.connection = Some(connection.name.clone());
        if let Some(me) = connection_checks_into(app, connection, &mut checks).await {
            graph_accounts.insert(connection.name.clone(), me);
        }
    }
    checks.connection = None;
    let ss_me = check_secure_schools(app, &mut checks).await;
    check_same_account(app, ss_me.as_ref(), &graph_accounts, &mut checks);
    check_admin(app, ss_me.as_ref(), &mut checks).await;
    let passed = !checks.list.iter().any(|c| c.status == Status::Fail);
    DoctorReport { checks: checks.list, passed }
}

/// The checks of one connection only (the web UI's "Test"): sign-in, account, reads, roles or application
/// permissions, and the groups selected from it. `None` when no connection has that name.
pub async fn connection_checks(app: &App, name: &str) -> Option<Vec<Check>> {
    let connection = app.config().connection(name)?;
    let mut checks = Checks { list: Vec::new(), connection: Some(name.to_owned()) };
    connection_checks_into(app, connection, &mut checks).await;
    Some(checks.list)
}

async fn connection_checks_into(
    app: &App,
    connection: &crate::config::ConnectionConfig,
    checks: &mut Checks,
) -> Option<User> {
    if connection.is_google() {
        google::check_connection(app, connection, checks).await;
        return None;
    }
    if connection.is_wonde() {
        check_wonde(app, connection, checks).await;
        return None;
    }
    match app.microsoft(&connection.name) {
        Err(e) => {
            let remedy = match &connection.client_secret_env {
                Some(var) if connection.auth == AuthMode::AppOnly => {
                    format!("set the environment variable {var} to the app registration's client secret value")
                }
                _ if connection.origin.is_store() => {
                    "delete the connection in the web UI and create it again".to_owned()
                }
                _ => "fix the connection in the configuration".to_owned(),
            };
            checks.fail("microsoft.sign_in", T_SIGN_IN, format!("{e:#}"), remedy);
            for (id, title) in [("microsoft.read_users", T_USERS), ("microsoft.read_groups", T_GROUPS)] {
                checks.skip(id, title, "needs a working Microsoft sign-in");
            }
            None
        }
        Ok(m) => check_connection(app, m, checks).await,
    }
}

/// The checks of one connection. Returns the signed-in account of a delegated connection, when it could be read.
async fn check_connection(app: &App, m: &Arc<Microsoft>, checks: &mut Checks) -> Option<User> {
    let name = m.config.name.clone();
    let delegated = m.is_delegated();
    let token = match m.tokens.token().await {
        Ok(token) => {
            let detail = if delegated {
                "the stored delegated sign-in gives access tokens (it is renewed, and stored again, at every use)"
                    .to_owned()
            } else {
                format!("app-only access token issued to the app {}", m.config.client_id)
            };
            checks.pass("microsoft.sign_in", T_SIGN_IN, detail);
            Some(token)
        }
        Err(e) => {
            let blocked = sign_in_failure(&name, m, &e, checks);
            if blocked {
                checks.fail(
                    "microsoft.account_enabled",
                    T_ENABLED,
                    "Microsoft Entra ID refused the sign-in because the account is blocked from sign-in \
                     (accountEnabled = false, AADSTS50057)",
                    unblock_remedy(&name, None),
                );
            }
            let mut rest = vec![("microsoft.read_users", T_USERS), ("microsoft.read_groups", T_GROUPS)];
            if delegated {
                rest.insert(0, ("microsoft.account", T_ACCOUNT));
                rest.push(("microsoft.roles", T_ROLES));
            } else {
                rest.push(("microsoft.app_permissions", T_APP_PERMS));
            }
            rest.push(("groups.selected", T_GROUPS_SELECTED));
            for (id, title) in rest {
                checks.skip(id, title, "needs a working Microsoft sign-in");
            }
            return None;
        }
    };
    let mut account = None;
    if delegated {
        match m.graph.me().await {
            Ok(me) => {
                let upn = me.user_principal_name().unwrap_or_default();
                checks.pass(
                    "microsoft.account",
                    T_ACCOUNT,
                    format!("signed in as {} <{upn}> (object id {})", me.display_name().unwrap_or("?"), me.id()),
                );
                if me.account_enabled() == Some(false) {
                    checks.fail(
                        "microsoft.account_enabled",
                        T_ENABLED,
                        format!("{upn} has accountEnabled = false: it is blocked from sign-in"),
                        unblock_remedy(&name, Some(upn)),
                    );
                } else {
                    checks.pass("microsoft.account_enabled", T_ENABLED, format!("{upn} may sign in"));
                }
                account = Some(me);
            }
            Err(e) => {
                checks.fail(
                    "microsoft.account",
                    T_ACCOUNT,
                    format!("GET /me failed: {e}"),
                    format!(
                        "sign in again with `secure-schools-sync connect microsoft --connection {name}` using the \
                         admin account"
                    ),
                );
                checks.skip("microsoft.account_enabled", T_ENABLED, "needs the account (Graph /me)");
            }
        }
    }
    check_reads(m, checks).await;
    if delegated {
        check_roles(m, account.as_ref(), checks).await;
    } else if let Some(token) = token {
        check_app_permissions(token.secret(), checks);
    }
    check_groups(app, m, checks).await;
    account
}

fn unblock_remedy(connection: &str, upn: Option<&str>) -> String {
    format!(
        "unblock the account: Microsoft Entra admin center → Users → {} → Edit properties → Settings → tick \
         \"Account enabled\" (PowerShell: Update-MgUser -UserId <upn> -AccountEnabled:$true); then sign in again \
         with `secure-schools-sync connect microsoft --connection {connection}`",
        upn.unwrap_or("the syncing admin")
    )
}

/// Reports a failed sign-in; returns whether the account is blocked from sign-in.
fn sign_in_failure(name: &str, m: &Microsoft, error: &AuthError, checks: &mut Checks) -> bool {
    let connect = format!("secure-schools-sync connect microsoft --connection {name}");
    let var = m.config.client_secret_env.clone().unwrap_or_default();
    match error {
        AuthError::NotSignedIn => {
            checks.fail(
                "microsoft.sign_in",
                T_SIGN_IN,
                "nobody has signed in for this connection yet",
                format!("run `{connect}` and sign in as the admin account"),
            );
            false
        }
        AuthError::SignInRequired { description } => {
            let blocked =
                description.contains("AADSTS50057") || description.to_lowercase().contains("account is disabled");
            let detail = format!("the stored sign-in was refused: {}", first_line(description));
            let remedy = if blocked {
                format!("the account is blocked from sign-in; unblock it, then run `{connect}`")
            } else {
                format!(
                    "sign in again with `{connect}` (a stored sign-in ends when the password changes, sessions are \
                     revoked, consent is withdrawn, or it is unused for 90 days)"
                )
            };
            checks.fail("microsoft.sign_in", T_SIGN_IN, detail, remedy);
            blocked
        }
        AuthError::Store(e) => {
            checks.fail(
                "microsoft.sign_in",
                T_SIGN_IN,
                format!("the stored sign-in cannot be read: {e}"),
                "configure the secret key the sign-in was stored with (ROSTERBRIDGE_SECRET_KEY or secret_key_file), \
                 or sign in again",
            );
            false
        }
        AuthError::Refused { error, description, .. } => {
            let remedy = match error.as_str() {
                "invalid_client" if !m.is_delegated() => format!(
                    "the client secret is wrong or expired: create a new client secret in the app registration \
                     (Certificates & secrets) and put its value (not its id) in {var}"
                ),
                "invalid_client" => "in the app registration, Authentication → \"Allow public client flows\" must be \
                                     Yes for the device-code sign-in"
                    .to_owned(),
                "unauthorized_client" => format!(
                    "the app {} is not registered in tenant {}: check `client_id` and `tenant` in the configuration",
                    m.config.client_id, m.config.tenant
                ),
                "invalid_scope" => "the app lacks the permissions asked for: add them in the app registration and \
                                    grant admin consent"
                    .to_owned(),
                _ => format!("check the app registration, then `{connect}`"),
            };
            checks.fail(
                "microsoft.sign_in",
                T_SIGN_IN,
                format!("Microsoft Entra ID refused: {error}: {}", first_line(description)),
                remedy,
            );
            false
        }
        AuthError::Transport(e) => {
            checks.fail(
                "microsoft.sign_in",
                T_SIGN_IN,
                format!("the sign-in service could not be reached: {e}"),
                "check the network, proxy and firewall (login.microsoftonline.com, or your cloud's authority), and \
                 `cloud` / `authority_url` in the configuration",
            );
            false
        }
        other => {
            checks.fail("microsoft.sign_in", T_SIGN_IN, other.to_string(), format!("run `{connect}`"));
            false
        }
    }
}

/// Reads one user and one group in a `$batch`: a 403 names the missing permission.
async fn check_reads(m: &Microsoft, checks: &mut Checks) {
    let name = &m.config.name;
    let requests = [
        BatchRequest::get("users", "/users?$top=1&$select=id"),
        BatchRequest::get("groups", "/groups?$top=1&$select=id"),
    ];
    let answers = match m.graph.batch(&requests).await {
        Ok(a) => a,
        Err(e) => {
            let detail = format!("the read test failed: {e}");
            checks.fail("microsoft.read_users", T_USERS, detail.clone(), "check the network and Graph URL");
            checks.fail("microsoft.read_groups", T_GROUPS, detail, "check the network and Graph URL");
            return;
        }
    };
    for answer in answers {
        let (id, title, permission) = if answer.id == "users" {
            ("microsoft.read_users", T_USERS, "User.Read.All")
        } else {
            ("microsoft.read_groups", T_GROUPS, "GroupMember.Read.All (or Group.Read.All)")
        };
        let status = answer.status;
        match answer.into_result::<serde_json::Value>() {
            Ok(_) => checks.pass(id, title, "Graph answered the read"),
            Err(e) if status == 403 => {
                let remedy = if m.is_delegated() {
                    format!(
                        "in the app registration ({}), API permissions → add the delegated Microsoft Graph \
                         permission {permission} → \"Grant admin consent\"; then sign in again with \
                         `secure-schools-sync connect microsoft --connection {name}` so the token carries it",
                        m.config.client_id
                    )
                } else {
                    format!(
                        "in the app registration ({}), API permissions → add the application Microsoft Graph \
                         permission {permission} → \"Grant admin consent\"",
                        m.config.client_id
                    )
                };
                checks.fail(
                    id,
                    title,
                    format!("Graph refused the read (403): the token lacks {permission}: {e}"),
                    remedy,
                );
            }
            Err(e) => checks.fail(id, title, format!("the read failed: {e}"), "see the error; run doctor again"),
        }
    }
}

async fn check_roles(m: &Microsoft, account: Option<&User>, checks: &mut Checks) {
    let upn = account.and_then(User::user_principal_name).unwrap_or("the syncing admin");
    match m.graph.my_directory_roles().await {
        Ok(roles) => {
            let held: BTreeSet<String> =
                roles.iter().filter_map(|r| r.role_template_id.as_deref()).map(str::to_lowercase).collect();
            let missing: Vec<&(&str, &str)> = REQUIRED_ROLES.iter().filter(|(id, _)| !held.contains(*id)).collect();
            if missing.is_empty() {
                checks.pass("microsoft.roles", T_ROLES, format!("{upn} holds both roles"));
            } else {
                let names: Vec<String> = missing.iter().map(|(id, n)| format!("{n} ({id})")).collect();
                let plain: Vec<&str> = missing.iter().map(|(_, n)| *n).collect();
                checks.fail(
                    "microsoft.roles",
                    T_ROLES,
                    format!("{upn} does not hold: {}", names.join(", ")),
                    format!(
                        "Microsoft Entra admin center → Roles & admins → {} → Add assignments → {upn} (an active \
                         assignment; with Privileged Identity Management, an eligible role must be activated \
                         whenever the sync runs)",
                        plain.join(" / ")
                    ),
                );
            }
        }
        Err(e) if e.is_forbidden() => checks.fail(
            "microsoft.roles",
            T_ROLES,
            format!("the account's directory roles could not be read (403): {e}"),
            "grant the delegated permission User.Read with admin consent, then sign in again",
        ),
        Err(e) => checks.fail(
            "microsoft.roles",
            T_ROLES,
            format!("reading the directory roles failed: {e}"),
            "run doctor again",
        ),
    }
}

fn check_app_permissions(token: &str, checks: &mut Checks) {
    match token_roles(token) {
        None => checks.push(
            "microsoft.app_permissions",
            T_APP_PERMS,
            Status::Warn,
            "the access token is not a JWT, so its application permissions cannot be read; the read checks show \
             whether they suffice",
            None,
        ),
        Some(roles) => {
            let mut missing = Vec::new();
            if !has_any(&roles, USER_PERMISSIONS) {
                missing.push("User.Read.All");
            }
            if !has_any(&roles, GROUP_PERMISSIONS) {
                missing.push("GroupMember.Read.All (or Group.Read.All / Directory.Read.All)");
            }
            let granted = if roles.is_empty() { "none".to_owned() } else { roles.join(", ") };
            if missing.is_empty() {
                checks.pass("microsoft.app_permissions", T_APP_PERMS, format!("granted: {granted}"));
            } else {
                checks.fail(
                    "microsoft.app_permissions",
                    T_APP_PERMS,
                    format!("the token's application permissions ({granted}) lack {}", missing.join(" and ")),
                    format!(
                        "app registration → API permissions → Add a permission → Microsoft Graph → Application \
                         permissions → {} → \"Grant admin consent\"",
                        missing.join(", ")
                    ),
                );
            }
        }
    }
}

async fn check_groups(app: &App, m: &Microsoft, checks: &mut Checks) {
    let name = &m.config.name;
    let mut selected: Vec<(String, String, String, String)> = Vec::new();
    for cg in app.config().connection_groups.iter().filter(|g| &g.connection == name) {
        for g in &cg.groups {
            selected.push((g.id.clone(), g.name.clone(), cg.organisation.clone(), g.role.clone()));
        }
    }
    if selected.is_empty() {
        checks.skip("groups.selected", T_GROUPS_SELECTED, "no connection group uses this connection");
        return;
    }
    let ids: Vec<String> = selected.iter().map(|s| s.0.clone()).collect();
    let answers = match m.graph.groups_by_id(&ids).await {
        Ok(a) => a,
        Err(e) => {
            checks.fail(
                "groups.selected",
                T_GROUPS_SELECTED,
                format!("the groups could not be read: {e}"),
                "run doctor again",
            );
            return;
        }
    };
    let mut problems = Vec::new();
    for ((id, label, org, role), answer) in selected.iter().zip(answers) {
        let label = if label.is_empty() { id.clone() } else { label.clone() };
        match answer {
            Ok(group) => {
                if let Err(reason) = connectors::microsoft::syncable(&group) {
                    problems.push(format!(
                        "`{}` ({id}, selected for {org} as {role}) cannot be synced: {reason}",
                        group.display_name.as_deref().unwrap_or(&label)
                    ));
                }
            }
            Err(e) if e.is_not_found() => {
                problems.push(format!("`{label}` ({id}, selected for {org}) does not exist (deleted, or a wrong id)"));
            }
            Err(e) => problems.push(format!("`{label}` ({id}) could not be read: {e}")),
        }
    }
    if problems.is_empty() {
        checks.pass(
            "groups.selected",
            T_GROUPS_SELECTED,
            format!("{} selected group(s), all Security or Distribution groups", selected.len()),
        );
    } else {
        checks.fail(
            "groups.selected",
            T_GROUPS_SELECTED,
            problems.join("; "),
            format!(
                "select Security or Distribution groups in the configuration (`secure-schools-sync groups \
                 --connection {name}` lists them with their kind); an organisation with an unsyncable group does \
                 not sync"
            ),
        );
    }
}

const T_WONDE_TOKEN: &str = "The Wonde API token is set and accepted";
const T_WONDE_ACCESS: &str = "The school has approved access for this token";
const T_WONDE_REGION: &str = "The school's data lives on the connection's region";

/// The checks of a Wonde connection: the token, the school's approval, the region.
async fn check_wonde(app: &App, connection: &crate::config::ConnectionConfig, checks: &mut Checks) {
    let name = &connection.name;
    let var = connection.wonde_token_env();
    let w = match app.wonde(name) {
        Ok(w) => w,
        Err(e) => {
            let remedy = if connection.origin.is_store() {
                "delete the connection in the web UI and create it again with the Wonde API token of the app the \
                 school approved"
                    .to_owned()
            } else {
                format!("set the environment variable {var} to the Wonde API token of the app the school approved")
            };
            checks.fail("wonde.token", T_WONDE_TOKEN, format!("{e:#}"), remedy);
            checks.skip("wonde.school_access", T_WONDE_ACCESS, "needs a Wonde token");
            checks.skip("wonde.region", T_WONDE_REGION, "needs a Wonde token");
            return;
        }
    };
    let school_id = w.school_id().to_owned();
    match w.client.school(&school_id).await {
        Ok(school) => {
            checks.pass("wonde.token", T_WONDE_TOKEN, "Wonde accepted the token");
            checks.pass(
                "wonde.school_access",
                T_WONDE_ACCESS,
                format!("{} ({school_id}) has approved access; its students and employees can be read", school.name),
            );
            let actual = school.region.as_ref().and_then(|r| r.domain.clone());
            match actual {
                Some(d) if !d.eq_ignore_ascii_case(w.region.domain()) => checks.fail(
                    "wonde.region",
                    T_WONDE_REGION,
                    format!("the school is served by {d}, but the connection uses {}", w.region.domain()),
                    if connection.origin.is_store() {
                        format!(
                            "delete connection `{name}` in the web UI and create it again with the region served by \
                             {d}; Wonde answers no data from the wrong domain"
                        )
                    } else {
                        format!(
                            "set `region = \"{d}\"` on connection `{name}`; Wonde answers no data from the wrong domain"
                        )
                    },
                ),
                Some(d) => checks.pass("wonde.region", T_WONDE_REGION, format!("served by {d}")),
                None => checks.push(
                    "wonde.region",
                    T_WONDE_REGION,
                    Status::Warn,
                    "Wonde did not say which domain serves the school",
                    Some("check the school's region in the Wonde portal".into()),
                ),
            }
        }
        Err(e) if e.is_unauthorized() => {
            checks.fail(
                "wonde.token",
                T_WONDE_TOKEN,
                format!("Wonde refused the token (401): {e}"),
                if connection.origin.is_store() {
                    "delete the connection in the web UI and create it again with a valid Wonde API token (Wonde \
                     portal → your app → API token)"
                        .to_owned()
                } else {
                    format!("set {var} to a valid Wonde API token (Wonde portal → your app → API token)")
                },
            );
            checks.skip("wonde.school_access", T_WONDE_ACCESS, "needs an accepted Wonde token");
            checks.skip("wonde.region", T_WONDE_REGION, "needs an accepted Wonde token");
        }
        Err(e) if e.is_forbidden() || e.is_not_found() => {
            checks.pass("wonde.token", T_WONDE_TOKEN, "Wonde accepted the token");
            let pending: Vec<String> =
                w.client.pending_schools().map_ok(|s| s.id).try_collect().await.unwrap_or_default();
            let (detail, remedy) = if pending.iter().any(|p| p == &school_id) {
                (
                    format!("access to school {school_id} was requested and waits for the school's approval"),
                    "ask the school's Wonde administrator to approve the app's access request in the Wonde portal"
                        .to_owned(),
                )
            } else if e.is_not_found() {
                (
                    format!("Wonde knows no school {school_id} for this token"),
                    format!("check `school_id` of connection `{name}` (the school's Wonde id, e.g. A1930499544)"),
                )
            } else {
                (
                    format!("school {school_id} has not approved access for this token (never requested, or revoked)"),
                    "request access to the school in the Wonde dashboard, then have the school approve it".to_owned(),
                )
            };
            checks.fail("wonde.school_access", T_WONDE_ACCESS, detail, remedy);
            checks.skip("wonde.region", T_WONDE_REGION, "needs access to the school");
        }
        Err(e) => {
            checks.fail(
                "wonde.token",
                T_WONDE_TOKEN,
                format!("Wonde could not be asked: {e}"),
                "check the network and the connection's region / wonde_url, then run doctor again",
            );
            checks.skip("wonde.school_access", T_WONDE_ACCESS, "needs an answer from Wonde");
            checks.skip("wonde.region", T_WONDE_REGION, "needs an answer from Wonde");
        }
    }
}

async fn check_secure_schools(app: &App, checks: &mut Checks) -> Option<Me> {
    let var = &app.config().secure_schools.token_env;
    let client = match app.secure_schools() {
        Ok(c) => c,
        Err(e) => {
            checks.fail(
                "secure_schools.token",
                T_SS_TOKEN,
                format!("{e:#}"),
                format!("set the environment variable {var} to an API token of the Secure Schools admin account"),
            );
            return None;
        }
    };
    match client.me().await {
        Ok(me) => {
            checks.pass("secure_schools.token", T_SS_TOKEN, format!("the token belongs to {} <{}>", me.name, me.email));
            Some(me)
        }
        Err(e) if e.is_unauthorized() => {
            checks.fail(
                "secure_schools.token",
                T_SS_TOKEN,
                format!("Secure Schools refused the token (401): {e}"),
                format!("create a new API token for the Secure Schools admin account and set it in {var}"),
            );
            None
        }
        Err(e) => {
            checks.fail(
                "secure_schools.token",
                T_SS_TOKEN,
                format!("Secure Schools /me failed: {e}"),
                "check secure_schools.base_url in the configuration and the network",
            );
            None
        }
    }
}

fn check_same_account(app: &App, ss: Option<&Me>, graph: &BTreeMap<String, User>, checks: &mut Checks) {
    for connection in &app.config().connections {
        checks.connection = Some(connection.name.clone());
        if connection.is_google() {
            checks.skip(
                "identity.same_account",
                T_SAME,
                "Google connection: the sync acts through a service account, so there is no signed-in Microsoft \
                 account to compare",
            );
            continue;
        }
        if connection.is_wonde() {
            checks.skip(
                "identity.same_account",
                T_SAME,
                "Wonde connection: it reads the school's MIS with an API token; no Microsoft account signs in",
            );
            continue;
        }
        if connection.auth == AuthMode::AppOnly {
            checks.skip(
                "identity.same_account",
                T_SAME,
                "app-only connection: no Microsoft account signs in, so there is no account to compare",
            );
            continue;
        }
        let (Some(ss), Some(user)) = (ss, graph.get(&connection.name)) else {
            checks.skip("identity.same_account", T_SAME, "needs both the Microsoft account and the Secure Schools /me");
            continue;
        };
        let upn = user.user_principal_name().unwrap_or_default();
        let mail = user.mail().unwrap_or_default();
        let email = ss.email.trim();
        let remedy = format!(
            "the Secure Schools admin must be exactly the account that signs in to Microsoft — no alias, no \
             rerouted account: either use the API token of the Secure Schools admin whose email is {upn}, or sign \
             in to Microsoft (`secure-schools-sync connect microsoft --connection {}`) as the account whose sign-in \
             name is {email}",
            connection.name
        );
        if !upn.is_empty() && email.eq_ignore_ascii_case(upn.trim()) {
            checks.pass("identity.same_account", T_SAME, format!("both are {upn}"));
        } else if !mail.is_empty() && email.eq_ignore_ascii_case(mail.trim()) {
            checks.fail(
                "identity.same_account",
                T_SAME,
                format!(
                    "the Secure Schools admin {email} matches only the mail address (an alias) of the Microsoft \
                     account, whose sign-in name (userPrincipalName) is {upn}: no alias, no rerouted account"
                ),
                remedy,
            );
        } else {
            checks.fail(
                "identity.same_account",
                T_SAME,
                format!(
                    "different accounts: the Secure Schools token belongs to {email}, but Microsoft is signed in as \
                     {upn}; no alias, no rerouted account"
                ),
                remedy,
            );
        }
    }
    checks.connection = None;
}

async fn check_admin(app: &App, ss: Option<&Me>, checks: &mut Checks) {
    let organisations = app.config().organisations();
    let Some(me) = ss else {
        checks.skip("secure_schools.admin", T_ADMIN, "needs a working Secure Schools token");
        return;
    };
    let known: Option<BTreeMap<String, String>> = match app.secure_schools() {
        Ok(client) => client
            .organisations()
            .map_ok(|o| (o.id, o.name))
            .try_collect::<BTreeMap<_, _>>()
            .await
            .map_err(|e| tracing::warn!(error = %e, "listing Secure Schools organisations failed"))
            .ok(),
        Err(_) => None,
    };
    let mut problems = Vec::new();
    for org in &organisations {
        let id = org.as_str();
        if me.is_admin_of(id) {
            continue;
        }
        let exists = known.as_ref().is_none_or(|k| k.contains_key(id));
        let what = match me.role_in(id) {
            Some(MembershipRole::Member) => "a Member, not an Admin".to_owned(),
            Some(role) => format!("{}, not an Admin", role.as_str()),
            None if !exists => "no such organisation (or this account cannot see it)".to_owned(),
            None => "not a member".to_owned(),
        };
        problems.push(format!("{id} ({what})"));
    }
    if problems.is_empty() {
        checks.pass(
            "secure_schools.admin",
            T_ADMIN,
            format!("{} is an Admin of all {} organisation(s)", me.email, organisations.len()),
        );
    } else {
        checks.fail(
            "secure_schools.admin",
            T_ADMIN,
            format!("{} is not an Admin of: {}", me.email, problems.join(", ")),
            format!(
                "in Secure Schools, make {} an Admin of each organisation listed (or remove its connection group from \
                 the configuration); the sync cannot manage the users of an organisation it is not an Admin of",
                me.email
            ),
        );
    }
}

/// `doctor [--json]`: runs every check and prints them; fails if any check fails.
pub async fn doctor(app: &App, json: bool, out: &mut Output) -> anyhow::Result<Outcome> {
    let report = run(app).await;
    if json {
        out.json(&report)?;
    } else {
        write_report(&report, out)?;
    }
    Ok(if report.passed { Outcome::Success } else { Outcome::Failed })
}

/// Writes a report as a readable list.
pub fn write_report(report: &DoctorReport, out: &mut Output) -> std::io::Result<()> {
    for check in &report.checks {
        let style = match check.status {
            Status::Pass => Style::Good,
            Status::Fail => Style::Bad,
            Status::Warn => Style::Warn,
            Status::Skip => Style::Dim,
        };
        let label = out.paint(style, check.status.label());
        let scope = check.connection.as_ref().map(|c| format!("[{c}] ")).unwrap_or_default();
        writeln!(out, "{label}  {scope}{}", check.title)?;
        if check.status != Status::Pass || !check.detail.is_empty() {
            writeln!(out, "      {}", check.detail)?;
        }
        if let Some(remedy) = &check.remedy {
            writeln!(out, "      {} {remedy}", out.paint(Style::Bold, "Remedy:"))?;
        }
    }
    let count = |s: Status| report.checks.iter().filter(|c| c.status == s).count();
    writeln!(
        out,
        "\n{} passed, {} failed, {} warnings, {} skipped",
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Warn),
        count(Status::Skip)
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: serde_json::Value) -> String {
        let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!("{}.{}.{}", b64(br#"{"alg":"RS256","typ":"JWT"}"#), b64(payload.to_string().as_bytes()), b64(b"sig"))
    }

    #[test]
    fn reads_application_permissions_from_the_roles_claim() {
        let token = jwt(
            serde_json::json!({"aud": "https://graph.microsoft.com", "roles": ["User.Read.All", "GroupMember.Read.All"]}),
        );
        assert_eq!(token_roles(&token).unwrap(), vec!["User.Read.All", "GroupMember.Read.All"]);
        assert_eq!(token_roles(&jwt(serde_json::json!({"scp": "User.Read"}))).unwrap(), Vec::<String>::new());
        assert_eq!(token_roles("fake-at.0123456789abcdef"), None);
        assert_eq!(token_roles("a.b"), None);
    }

    #[test]
    fn missing_permissions_fail_with_their_names() {
        let token = jwt(serde_json::json!({"roles": ["User.Read.All"]}));
        let mut checks = Checks { list: Vec::new(), connection: None };
        check_app_permissions(&token, &mut checks);
        assert_eq!(checks.list[0].status, Status::Fail);
        assert!(checks.list[0].detail.contains("GroupMember.Read.All"), "{}", checks.list[0].detail);
        assert!(!checks.list[0].detail.contains(&token));
        let token = jwt(serde_json::json!({"roles": ["Directory.Read.All"]}));
        let mut checks = Checks { list: Vec::new(), connection: None };
        check_app_permissions(&token, &mut checks);
        assert_eq!(checks.list[0].status, Status::Pass);
    }
}
