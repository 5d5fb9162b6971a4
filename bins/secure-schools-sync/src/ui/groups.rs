//! Connection groups: the list (the configuration file's read-only), create (connection → organisation from the
//! Secure Schools API → the source's groups with their kind, Microsoft 365 groups shown but not selectable with
//! the reason, a role per group), edit, and delete with what happens to its users spelled out.

use super::layout::{Nav, csrf_field};
use super::{Admin, UiError, UiResult, done, page};
use crate::app::App;
use crate::commands::{self, GroupRow};
use crate::config::{ConnectionConfig, ConnectionGroupConfig, GroupConfig, Origin};
use crate::daemon::Daemon;
use crate::stored;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use futures::TryStreamExt;
use maud::{Markup, html};
use std::collections::BTreeMap;
use std::sync::Arc;
use sync_engine::model::ConnectionGroup;

pub(crate) fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/ui/groups", get(list).post(create))
        .route("/ui/groups/new", get(new_form))
        .route("/ui/groups/{id}/edit", get(edit_form))
        .route("/ui/groups/{id}", axum::routing::post(update))
        .route("/ui/groups/{id}/delete", get(delete_confirm).post(delete))
}

const ROLES: [(&str, &str); 3] = [("staff", "Staff"), ("student", "Student"), ("governor", "Governor")];

/// A connection group's id for URLs: the store's id, or `config-N` for the file's N-th.
fn group_id(g: &ConnectionGroupConfig, index: usize) -> String {
    match &g.origin {
        Origin::Store(id) => id.clone(),
        Origin::File => format!("config-{index}"),
    }
}

/// A Wonde scope (`<school>/students`, `<school>/employees`) in words.
fn wonde_scope_label(scope: &str) -> String {
    match scope.rsplit('/').next() {
        Some("students") => "The school's students".to_owned(),
        Some("employees") => "The school's employees".to_owned(),
        _ => scope.to_owned(),
    }
}

/// Organisation names from the Secure Schools API, by id (empty, with the reason, when it cannot be read).
pub(super) async fn organisation_names(app: &App) -> (BTreeMap<String, String>, Option<String>) {
    let client = match app.secure_schools() {
        Ok(c) => c,
        Err(e) => return (BTreeMap::new(), Some(format!("{e:#}"))),
    };
    match client.organisations().try_collect::<Vec<_>>().await {
        Ok(orgs) => (orgs.into_iter().map(|o| (o.id, o.name)).collect(), None),
        Err(e) => (BTreeMap::new(), Some(format!("the organisations could not be read from Secure Schools: {e}"))),
    }
}

async fn list(State(d): State<Arc<Daemon>>, admin: Admin) -> UiResult {
    let app = d.app();
    let (names, _) = organisation_names(&app).await;
    let file_count = app.file_config().connection_groups.len();
    let automatic: Vec<(&ConnectionConfig, ConnectionGroup)> =
        app.config().connections.iter().filter_map(|c| c.wonde_group().map(|g| (c, g))).collect();
    let content = html! {
        div class="actions" { a class="button" href="/ui/groups/new" { "Create a connection group" } }
        p class="hint" { "A connection group syncs the chosen groups of one connection into one Secure Schools organisation, each group with a role." }
        @if app.config().connection_groups.is_empty() && automatic.is_empty() {
            p { "No connection groups yet." }
        } @else {
            table {
                caption class="visually-hidden" { "Connection groups" }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Organisation" } th scope="col" { "Connection" }
                    th scope="col" { "Groups and roles" } th scope="col" { "Defined in" }
                    th scope="col" { span class="visually-hidden" { "Actions" } }
                } }
                tbody {
                    @for (c, g) in &automatic {
                        tr data-group=(g.id) data-automatic="wonde" {
                            th scope="row" { (c.name) " (Wonde school " (c.school_id.as_deref().unwrap_or("")) ")" }
                            td { (names.get(g.organisation.as_str()).cloned().unwrap_or_default()) br; span class="hint" { (g.organisation) } }
                            td { (c.name) }
                            td { ul { @for s in &g.scopes { li { (wonde_scope_label(s.scope.as_str())) " as " (s.role) } } } }
                            td { span class="badge muted" { "Made by the Wonde connection" } }
                            td { span class="hint" { "Made automatically: a Wonde connection syncs its whole school. Change it on the connection (delete it and create it again)." } }
                        }
                    }
                    @for (i, g) in app.config().connection_groups.iter().enumerate() {
                        @let id = group_id(g, i.min(file_count));
                        tr data-group=(g.name) {
                            th scope="row" { (g.name) }
                            td { (names.get(&g.organisation).cloned().unwrap_or_default()) br; span class="hint" { (g.organisation) } }
                            td { (g.connection) }
                            td { ul { @for s in &g.groups { li { (if s.name.is_empty() { &s.id } else { &s.name }) " as " (s.role) } } } }
                            td { @if g.origin.is_store() { span class="badge good" { "Created here" } } @else { span class="badge muted" { "Configuration file" } } }
                            td {
                                @if g.origin.is_store() {
                                    div class="actions" {
                                        a class="button secondary" href=(format!("/ui/groups/{id}/edit")) { "Edit" span class="visually-hidden" { " " (g.name) } }
                                        a class="button secondary" href=(format!("/ui/groups/{id}/delete")) { "Delete" span class="visually-hidden" { " " (g.name) } }
                                    }
                                } @else {
                                    span class="hint" { "Edit the configuration file to change it." }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let content = html! {
        (content)
        @if !automatic.is_empty() {
            p class="hint" id="wonde-groups" {
                "A Wonde connection makes its own connection group, shown read-only above: the school (read from its management information system through Wonde) is the scope, its students sync as students and its employees as staff, into the organisation chosen on the connection. There is nothing to select."
            }
        }
    };
    Ok(page(&d, &admin, Nav::Groups, "Connection groups", content))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct NewQuery {
    connection: String,
    organisation: String,
    search: String,
}

/// The selections of a connection group being edited: group id → (name, role).
type Selected = BTreeMap<String, (String, String)>;

/// The group table of a connection's tenant: a checkbox per syncable group, the reason for the others, a role. For
/// a Google connection the rows are its organisational units.
fn group_table(rows: &[GroupRow], selected: &Selected, google: bool) -> Markup {
    let (caption, what) = if google {
        ("Organisational units of the account", "Organisational unit")
    } else {
        ("Groups of the tenant", "Group")
    };
    html! {
        table {
            caption { (caption) }
            thead { tr { th scope="col" { "Sync" } th scope="col" { (what) } th scope="col" { "Kind" } th scope="col" { "Role" } } }
            tbody {
                @for (i, r) in rows.iter().enumerate() {
                    @let chosen = selected.get(&r.id);
                    tr data-group-id=(r.id) data-syncable=(r.syncable) {
                        td {
                            @if r.syncable {
                                input type="checkbox" id=(format!("g{i}")) name="group" value=(r.id) checked[chosen.is_some()];
                            } @else {
                                input type="checkbox" id=(format!("g{i}")) disabled aria-describedby=(format!("why{i}"));
                            }
                        }
                        td {
                            label for=(format!("g{i}")) { (r.name) }
                            input type="hidden" name=(format!("name:{}", r.id)) value=(r.name);
                            @if let Some(reason) = &r.reason { p class="hint" id=(format!("why{i}")) { "Cannot be synced: " (reason) } }
                        }
                        td { (r.kind) @if r.dynamic { " (dynamic)" } }
                        td {
                            @if r.syncable {
                                label class="visually-hidden" for=(format!("role{i}")) { "Role for " (r.name) }
                                select id=(format!("role{i}")) name=(format!("role:{}", r.id)) {
                                    @let role = chosen.map(|c| c.1.as_str()).unwrap_or(if r.name.to_lowercase().contains("staff") { "staff" } else { "student" });
                                    @for (value, label) in ROLES { option value=(value) selected[role == value] { (label) } }
                                }
                            } @else { "—" }
                        }
                    }
                }
            }
        }
    }
}

async fn new_form(State(d): State<Arc<Daemon>>, admin: Admin, Query(q): Query<NewQuery>) -> UiResult {
    let app = d.app();
    let (orgs, orgs_error) = organisation_names(&app).await;
    let connections: Vec<&ConnectionConfig> = app.config().connections.iter().collect();
    let selectable = connections.iter().any(|c| !c.is_wonde());
    let google = app.config().connection(&q.connection).is_some_and(ConnectionConfig::is_google);
    let chosen = !q.connection.is_empty() && !q.organisation.is_empty();
    let rows = if chosen {
        let search = Some(q.search.as_str()).filter(|s| !s.trim().is_empty());
        Some(commands::group_rows(&app, &q.connection, search).await.map_err(|e| format!("{e:#}")))
    } else {
        None
    };
    let default_name = orgs.get(&q.organisation).cloned().unwrap_or_else(|| q.organisation.clone());
    let content = html! {
        @if !selectable {
            p { "Create a Microsoft or Google connection first: " a href="/ui/connections/new" { "Create a connection" } }
            @if !connections.is_empty() { p class="hint" { "A Wonde connection makes its own connection group: there is nothing to create for it." } }
        } @else {
            form method="get" action="/ui/groups/new" aria-label="Choose the connection and the organisation" {
                fieldset {
                    legend { "1. Connection and organisation" }
                    div class="field" {
                        label for="connection" { "Connection" }
                        select id="connection" name="connection" required {
                            @for c in &connections {
                                @if c.is_wonde() {
                                    option value=(c.name) disabled { (c.name) " (Wonde: makes its own connection group)" }
                                } @else {
                                    option value=(c.name) selected[q.connection == c.name] { (c.name) }
                                }
                            }
                        }
                        @if connections.iter().any(|c| c.is_wonde()) {
                            p class="hint" id="connection-hint" { "A Wonde connection cannot be chosen: it makes its own connection group (see Connection groups)." }
                        }
                    }
                    div class="field" {
                        label for="organisation" { "Secure Schools organisation" }
                        @if orgs.is_empty() {
                            input id="organisation" name="organisation" type="text" value=(q.organisation) required aria-describedby="org-hint";
                            p class="hint" id="org-hint" { "Its id. " @if let Some(e) = &orgs_error { "(The list could not be loaded: " (e) ")" } }
                        } @else {
                            select id="organisation" name="organisation" required {
                                @for (id, name) in &orgs { option value=(id) selected[q.organisation == *id] { (name) " (" (id) ")" } }
                            }
                        }
                    }
                    div class="field" {
                        label for="search" { "Only groups whose name contains (optional)" }
                        input id="search" name="search" type="search" value=(q.search);
                    }
                    button type="submit" class="secondary" { "Show groups" }
                }
            }
            @match &rows {
                None => {}
                Some(Err(e)) => { div class="flash bad" role="alert" { "The groups could not be listed: " (e) } }
                Some(Ok(rows)) => {
                    form method="post" action="/ui/groups" {
                        (csrf_field(admin.csrf()))
                        input type="hidden" name="connection" value=(q.connection);
                        input type="hidden" name="organisation" value=(q.organisation);
                        fieldset {
                            legend { "2. Groups to sync into " (default_name) }
                            div class="field" {
                                label for="name" { "Name of this connection group" }
                                input id="name" name="name" type="text" value=(default_name) required;
                            }
                            @if google {
                                p class="hint" { "Every organisational unit can be synced, and includes the units under it: selecting a school's Students unit takes in its year units." }
                            } @else {
                                p class="hint" { "Security groups and Distribution groups can be synced (nested groups are followed). Microsoft 365 groups cannot, and say why." }
                            }
                            @if rows.is_empty() { p { "No groups found." } } @else { (group_table(rows, &Selected::new(), google)) }
                        }
                        button type="submit" { "Create connection group" }
                    }
                }
            }
        }
    };
    Ok(page(&d, &admin, Nav::Groups, "Create a connection group", content))
}

/// The posted form: `name`, `connection`, `organisation`, `group` (repeated), `role:<id>`, `name:<id>`.
fn parse_form(pairs: &[(String, String)]) -> (BTreeMap<String, String>, Vec<GroupConfig>) {
    let mut fields = BTreeMap::new();
    let mut chosen = Vec::new();
    let mut roles = BTreeMap::new();
    let mut names = BTreeMap::new();
    for (k, v) in pairs {
        if k == "group" {
            chosen.push(v.clone());
        } else if let Some(id) = k.strip_prefix("role:") {
            roles.insert(id.to_owned(), v.clone());
        } else if let Some(id) = k.strip_prefix("name:") {
            names.insert(id.to_owned(), v.clone());
        } else {
            fields.insert(k.clone(), v.clone());
        }
    }
    let groups = chosen
        .into_iter()
        .map(|id| GroupConfig {
            name: names.get(&id).cloned().unwrap_or_default(),
            role: roles.get(&id).cloned().unwrap_or_default(),
            id,
        })
        .collect();
    (fields, groups)
}

/// Checks a connection group against the source: at least one group, each one existing and syncable (a Microsoft
/// 365 group is refused here too, whatever the form sent), each with a role.
async fn check_group(app: &App, group: &ConnectionGroupConfig) -> Result<(), String> {
    if group.name.trim().is_empty() {
        return Err("Give the connection group a name.".into());
    }
    if group.organisation.trim().is_empty() {
        return Err("Choose an organisation.".into());
    }
    if group.groups.is_empty() {
        return Err("Select at least one group.".into());
    }
    let Some(connection) = app.config().connection(&group.connection) else {
        return Err(format!("No connection is named `{}`.", group.connection));
    };
    if connection.is_wonde() {
        return Err(format!(
            "{} is a Wonde connection: it makes its own connection group, so none can be created for it.",
            group.connection
        ));
    }
    if connection.is_google() {
        return check_units(app, group).await;
    }
    let m = app.microsoft(&group.connection).map_err(|e| format!("{e:#}"))?;
    let ids: Vec<String> = group.groups.iter().map(|g| g.id.clone()).collect();
    let answers = m.graph.groups_by_id(&ids).await.map_err(|e| format!("the groups could not be read: {e}"))?;
    let mut problems = Vec::new();
    for (g, answer) in group.groups.iter().zip(answers) {
        if !ROLES.iter().any(|(r, _)| *r == g.role) {
            problems.push(format!("`{}` needs a role (staff, student or governor)", g.name));
        }
        match answer {
            Ok(found) => {
                if let Err(reason) = connectors::microsoft::syncable(&found) {
                    problems.push(format!("`{}` cannot be synced: {reason}", g.name));
                }
            }
            Err(e) if e.is_not_found() => problems.push(format!("`{}` ({}) does not exist", g.name, g.id)),
            Err(e) => problems.push(format!("`{}` could not be read: {e}", g.name)),
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

/// Checks the organisational units of a Google connection group: each one exists in the account (its path, compared
/// without regard to case as `groups` does) and has a role.
async fn check_units(app: &App, group: &ConnectionGroupConfig) -> Result<(), String> {
    let units = commands::group_rows(app, &group.connection, None).await.map_err(|e| format!("{e:#}"))?;
    let mut problems = Vec::new();
    for g in &group.groups {
        if !ROLES.iter().any(|(r, _)| *r == g.role) {
            problems.push(format!("`{}` needs a role (staff, student or governor)", g.name));
        }
        if !units.iter().any(|u| u.id.eq_ignore_ascii_case(&g.id)) {
            problems.push(format!("`{}` is not an organisational unit of the account", g.id));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

async fn save(d: &Arc<Daemon>, admin: &Admin, id: &str, group: ConnectionGroupConfig, creating: bool) -> UiResult {
    let verb = if creating { "created" } else { "saved" };
    let app = d.app();
    if let Err(message) = check_group(&app, &group).await {
        return Ok(done(d, admin, &back_to(&group, creating, id), false, message));
    }
    // A file connection gets its store record first (the store's groups refer to it), as `connect` does.
    app.save_connection(&group.connection).await?;
    let record = stored::group_record(id, &group)?;
    app.store().save_group(&record).await?;
    d.reload().await?;
    tracing::info!(group = %group.name, organisation = %group.organisation, "connection group {verb} in the web UI");
    Ok(done(
        d,
        admin,
        "/ui/groups",
        true,
        format!(
            "Connection group {} {verb}. {} syncs at its next turn, or now from User sync.",
            group.name, group.organisation
        ),
    ))
}

/// Where a refused form goes back to: the create form (with its connection and organisation) or the edit form.
fn back_to(group: &ConnectionGroupConfig, creating: bool, id: &str) -> String {
    if creating {
        let q = serde_urlencoded::to_string([("connection", &group.connection), ("organisation", &group.organisation)])
            .unwrap_or_default();
        format!("/ui/groups/new?{q}")
    } else {
        format!("/ui/groups/{id}/edit")
    }
}

async fn create(State(d): State<Arc<Daemon>>, admin: Admin, Form(pairs): Form<Vec<(String, String)>>) -> UiResult {
    let (fields, groups) = parse_form(&pairs);
    let field = |k: &str| fields.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let id = format!("ui-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let group = ConnectionGroupConfig {
        name: field("name"),
        organisation: field("organisation"),
        connection: field("connection"),
        groups,
        origin: Origin::Store(id.clone()),
    };
    if d.app().config().connection(&group.connection).is_none() {
        return Err(UiError::bad_request(format!("No connection is named `{}`.", group.connection)));
    }
    save(&d, &admin, &id, group, true).await
}

/// A stored connection group by id.
async fn stored_group(app: &App, id: &str) -> UiResult<ConnectionGroupConfig> {
    let Some(record) = app.store().group(id).await? else {
        if id.starts_with("config-") {
            return Err(UiError::bad_request(
                "That connection group is defined in the configuration file: edit the file to change it.",
            ));
        }
        return Err(UiError::not_found(format!("No connection group has the id {id}.")));
    };
    Ok(stored::group_config(record))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct EditQuery {
    search: String,
}

async fn edit_form(
    State(d): State<Arc<Daemon>>,
    admin: Admin,
    Path(id): Path<String>,
    Query(q): Query<EditQuery>,
) -> UiResult {
    let app = d.app();
    let group = stored_group(&app, &id).await?;
    let selected: Selected = group.groups.iter().map(|g| (g.id.clone(), (g.name.clone(), g.role.clone()))).collect();
    let search = Some(q.search.as_str()).filter(|s| !s.trim().is_empty());
    let rows = commands::group_rows(&app, &group.connection, search).await.map_err(|e| format!("{e:#}"));
    let content = html! {
        dl class="facts" {
            dt { "Organisation" } dd { (group.organisation) }
            dt { "Connection" } dd { (group.connection) }
        }
        form method="get" action=(format!("/ui/groups/{id}/edit")) class="filters" aria-label="Search groups" {
            div class="field" { label for="search" { "Only groups whose name contains" } input id="search" name="search" type="search" value=(q.search); }
            button type="submit" class="secondary" { "Search" }
        }
        @match &rows {
            Err(e) => { div class="flash bad" role="alert" { "The groups could not be listed: " (e) } }
            Ok(rows) => {
                form method="post" action=(format!("/ui/groups/{id}")) {
                    (csrf_field(admin.csrf()))
                    div class="field" { label for="name" { "Name" } input id="name" name="name" type="text" value=(group.name) required; }
                    @if search.is_some() {
                        // Selected groups the search hides stay selected.
                        @for g in group.groups.iter().filter(|g| !rows.iter().any(|r| r.id == g.id)) {
                            input type="hidden" name="group" value=(g.id);
                            input type="hidden" name=(format!("name:{}", g.id)) value=(g.name);
                            input type="hidden" name=(format!("role:{}", g.id)) value=(g.role);
                        }
                    }
                    (group_table(rows, &selected, app.config().connection(&group.connection).is_some_and(ConnectionConfig::is_google)))
                    button type="submit" { "Save changes" }
                }
            }
        }
        p class="hint" { "Removing a group: its members who are in no other selected group of this organisation are suspended at the next sync (held for approval if that is many)." }
    };
    Ok(page(&d, &admin, Nav::Groups, &format!("Edit {}", group.name), content))
}

async fn update(
    State(d): State<Arc<Daemon>>,
    admin: Admin,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> UiResult {
    let app = d.app();
    let old = stored_group(&app, &id).await?;
    let (fields, groups) = parse_form(&pairs);
    let name = fields.get("name").map(|v| v.trim().to_owned()).unwrap_or_default();
    let group = ConnectionGroupConfig { name, groups, ..old };
    save(&d, &admin, &id, group, false).await
}

/// What deleting a connection group does to its users, in words.
fn consequences(app: &App, group: &ConnectionGroupConfig, id: &str) -> Markup {
    let mut others: Vec<String> = app
        .config()
        .connection_groups
        .iter()
        .filter(|g| g.organisation == group.organisation && g.origin != Origin::Store(id.to_owned()))
        .map(|g| g.name.clone())
        .collect();
    // A Wonde connection's own connection group counts too.
    others.extend(
        app.config()
            .connections
            .iter()
            .filter(|c| c.wonde_group().is_some_and(|w| w.organisation.as_str() == group.organisation))
            .map(|c| format!("{} (Wonde)", c.name)),
    );
    let policy = app.config().safety_policy();
    html! {
        @if others.is_empty() {
            p { strong { (group.organisation) " will no longer be synced" } ": it is its only connection group." }
            ul {
                li { "Its users stay exactly as they are: nobody is suspended or deleted." }
                li { "They keep their link to " (group.connection) ", so a new connection group for this organisation picks them up again without duplicates." }
                li { "Its run history stays." }
            }
        } @else {
            p { (group.organisation) " stays synced from " (others.join(", ")) "." }
            ul {
                li { "At its next sync, users who came only from this connection group (in none of the groups that remain) are " strong { "suspended" } ", not deleted; they are reactivated if they come back." }
                li { "If that is more than " (policy.max_suspension_fraction * 100.0) " % of the users the sync manages, or more than " (policy.max_suspensions) ", the run is held and applies nothing until you approve it on User sync." }
                li { "Users who are also in a remaining group keep their account (their role may change to the remaining group's)." }
            }
        }
        p class="hint" { "Users the sync did not create or adopt are never touched." }
    }
}

async fn delete_confirm(State(d): State<Arc<Daemon>>, admin: Admin, Path(id): Path<String>) -> UiResult {
    let app = d.app();
    let group = stored_group(&app, &id).await?;
    let content = html! {
        h2 { "What happens to its users" }
        (consequences(&app, &group, &id))
        form method="post" action=(format!("/ui/groups/{id}/delete")) class="actions" {
            (csrf_field(admin.csrf()))
            button type="submit" class="danger" { "Delete " (group.name) }
            a class="button secondary" href="/ui/groups" { "Cancel" }
        }
    };
    Ok(page(&d, &admin, Nav::Groups, &format!("Delete {}?", group.name), content))
}

async fn delete(State(d): State<Arc<Daemon>>, admin: Admin, Path(id): Path<String>) -> UiResult<Response> {
    let app = d.app();
    let group = stored_group(&app, &id).await?;
    if !app.store().delete_group(&id).await? {
        return Err(UiError::not_found(format!("No connection group has the id {id}.")));
    }
    d.reload().await?;
    tracing::info!(group = %group.name, organisation = %group.organisation, "connection group deleted in the web UI");
    Ok(done(&d, &admin, "/ui/groups", true, format!("Connection group {} deleted.", group.name)))
}
