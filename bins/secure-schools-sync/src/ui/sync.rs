//! User sync (per organisation: state, last and next run, counts; *Sync all* and per-organisation sync; live
//! progress; held runs to approve), the run list, and run details with filters.

use super::layout::{Nav, csrf_field};
use super::{Admin, LONG_POLL, UiError, UiResult, done, page};
use crate::app::App;
use crate::commands::{RunRow, run_rows, status_name};
use crate::daemon::{Daemon, Live};
use crate::output::{duration, time};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use std::collections::BTreeMap;
use std::sync::Arc;
use sync_engine::plan::{SkipReason, SuspendReason, UpdateReason};
use sync_engine::{HeldRun, RunReport, StateStore};

pub(crate) fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/ui/sync", get(sync_page))
        .route("/ui/sync/live", get(live))
        .route("/ui/sync/all", post(sync_all))
        .route("/ui/sync/org/{org}", post(sync_org))
        .route("/ui/held/{id}/approve", post(approve))
        .route("/ui/runs", get(runs_page))
        .route("/ui/runs/{id}", get(run_page))
        .route("/ui/held/{id}", get(held_page))
}

/// A badge for a run status.
pub(crate) fn status_badge(status: &str) -> Markup {
    let (class, label) = match status {
        "succeeded" => ("good", "Succeeded"),
        "partially_failed" => ("bad", "Some records failed"),
        "failed" => ("bad", "Failed"),
        "held" => ("warn", "Held: needs approval"),
        "dry_run" => ("muted", "Dry run"),
        "running" => ("warn", "Running"),
        "queued" => ("muted", "Queued"),
        "never" => ("muted", "Never synced"),
        other => ("muted", other),
    };
    html! { span class=(format!("badge {class}")) { (label) } }
}

/// One organisation's row on the sync page.
struct OrgRow {
    id: String,
    label: String,
    last: Option<RunRow>,
    next: Option<chrono::DateTime<chrono::Utc>>,
}

/// The organisations that have connection groups (those configured, and those Wonde connections make), labelled
/// with their groups' names.
fn organisations(app: &App) -> Vec<(String, String)> {
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for g in &app.config().connection_groups {
        names.entry(g.organisation.clone()).or_default().push(g.name.clone());
    }
    for c in &app.config().connections {
        if let Some(g) = c.wonde_group() {
            let school = c.school_id.as_deref().unwrap_or("");
            names.entry(g.organisation.to_string()).or_default().push(format!("{} (Wonde school {school})", c.name));
        }
    }
    names.into_iter().map(|(org, groups)| (org, groups.join(", "))).collect()
}

/// The live region: progress of the run in progress, the queue, every organisation's state, held runs.
async fn live_region(d: &Daemon, csrf: &str, live: &Live) -> UiResult<Markup> {
    let app = d.app();
    let mut rows = Vec::new();
    for (id, label) in organisations(&app) {
        let last = run_rows(&app, Some(&id), 1).await?.into_iter().next();
        rows.push(OrgRow { next: d.next_run(&id), id, label, last });
    }
    let held = app.store().held_runs().await?;
    Ok(html! {
        div id="live" data-live-url="/ui/sync/live" data-version=(live.version) {
            div aria-live="polite" {
                @if let Some(run) = &live.running {
                    div class="progress" id="progress" {
                        strong { "Syncing " (run.organisation) }
                        @match run.total {
                            Some(total) if total > 0 => {
                                progress max=(total) value=(run.done) aria-label=(format!("Changes applied in {}", run.organisation)) { (run.done) " of " (total) }
                                span { (run.done) " of " (total) " changes applied" @if run.failed > 0 { ", " (run.failed) " failed" } }
                            }
                            Some(_) => { span { "nothing to change" } }
                            None => { span { "reading the directory and planning…" } }
                        }
                    }
                } @else {
                    p id="progress" class="hint" { "No sync is running." }
                }
                @if !live.queued.is_empty() {
                    p class="hint" { "Waiting their turn: " (live.queued.join(", ")) }
                }
            }
            @if !held.is_empty() {
                section aria-labelledby="held-heading" {
                    h2 id="held-heading" { "Held runs waiting for approval" }
                    @for h in &held {
                        (held_block(h, csrf))
                    }
                }
            }
            h2 { "Organisations" }
            @if rows.is_empty() {
                p { "No organisation has a connection group yet. " a href="/ui/groups/new" { "Create a connection group" } " to start syncing." }
            } @else {
                table {
                    caption class="visually-hidden" { "Every organisation with its last and next run" }
                    thead { tr {
                        th scope="col" { "Organisation" }
                        th scope="col" { "State" }
                        th scope="col" { "Last run" }
                        th scope="col" class="num" { "Created" }
                        th scope="col" class="num" { "Updated" }
                        th scope="col" class="num" { "Suspended" }
                        th scope="col" class="num" { "Reactivated" }
                        th scope="col" class="num" { "Errors" }
                        th scope="col" { "Next run" }
                        th scope="col" { span class="visually-hidden" { "Actions" } }
                    } }
                    tbody {
                        @for row in &rows {
                            @let state = if live.running.as_ref().is_some_and(|r| r.organisation == row.id) { "running".to_owned() }
                                else if live.queued.contains(&row.id) { "queued".to_owned() }
                                else { row.last.as_ref().map(|l| l.status.clone()).unwrap_or_else(|| "never".to_owned()) };
                            tr data-organisation=(row.id) {
                                th scope="row" { (row.label) br; span class="hint" { (row.id) } }
                                td data-field="state" { (status_badge(&state)) }
                                @if let Some(last) = &row.last {
                                    td { a href=(format!("/ui/runs/{}", last.id)) { (time(last.started_at)) } br; span class="hint" { "took " (duration(last.finished_at - last.started_at)) } }
                                    td class="num" data-field="created" { (last.applied.created) }
                                    td class="num" data-field="updated" { (last.applied.updated) }
                                    td class="num" data-field="suspended" { (last.applied.suspended) }
                                    td class="num" data-field="reactivated" { (last.applied.reactivated) }
                                    td class="num" data-field="errors" { (last.errors) }
                                } @else {
                                    td { "—" } td class="num" { "—" } td class="num" { "—" } td class="num" { "—" } td class="num" { "—" } td class="num" { "—" }
                                }
                                td { @if let Some(next) = row.next { (time(next)) } @else { "—" } }
                                td {
                                    form method="post" action=(format!("/ui/sync/org/{}", row.id)) {
                                        (csrf_field(csrf))
                                        button type="submit" class="secondary" { "Sync now" span class="visually-hidden" { " " (row.label) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}

fn held_block(h: &HeldRun, csrf: &str) -> Markup {
    html! {
        div class="held" data-held=(h.id) {
            p { strong { (h.organisation) } " — held " (time(h.held_at)) ". Nothing was applied." }
            ul { @for r in &h.reasons { li { (r.explain()) } } }
            p class="hint" {
                "It would create " (h.plan.creates.len()) ", update " (h.plan.updates.len()) ", suspend " (h.plan.suspensions.len())
                " and reactivate " (h.plan.reactivations.len()) ". Approving lets the organisation's next run do this; "
                a href=(format!("/ui/held/{}", h.id)) { "see what it would change" } "."
            }
            form method="post" action=(format!("/ui/held/{}/approve", h.id)) {
                (csrf_field(csrf))
                button type="submit" { "Approve" span class="visually-hidden" { " the held run of " (h.organisation) } }
            }
        }
    }
}

async fn sync_page(State(d): State<Arc<Daemon>>, admin: Admin) -> UiResult {
    let live = d.live().borrow().clone();
    let region = live_region(&d, admin.csrf(), &live).await?;
    let content = html! {
        div class="actions" {
            form method="post" action="/ui/sync/all" {
                (csrf_field(admin.csrf()))
                button type="submit" { "Sync all" }
            }
            a class="button secondary" href="/ui/runs" { "Run history" }
        }
        p class="hint" { "Every organisation syncs about every " (d.app().config().schedule.every_hours) " hours. A run that would suspend too many users is held until you approve it." }
        (region)
    };
    Ok(page(&d, &admin, Nav::Sync, "User sync", content))
}

#[derive(Debug, serde::Deserialize)]
struct After {
    after: Option<u64>,
}

/// The live region once the scheduler's state moves past `after` (at once if it already has), or 204 after
/// [`LONG_POLL`] with no change.
async fn live(State(d): State<Arc<Daemon>>, admin: Admin, Query(q): Query<After>) -> UiResult {
    let mut rx = d.live();
    let after = q.after.unwrap_or(0);
    let changed = tokio::select! {
        r = rx.wait_for(|l| l.version > after) => r.is_ok(),
        () = tokio::time::sleep(LONG_POLL) => false,
        () = d.ui().stopped() => false,
    };
    if !changed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let live = rx.borrow().clone();
    Ok(super::html(live_region(&d, admin.csrf(), &live).await?))
}

async fn sync_all(State(d): State<Arc<Daemon>>, admin: Admin) -> Response {
    let organisations = d.trigger_all();
    tracing::info!(organisations = organisations.len(), "sync all requested in the web UI");
    let text = if organisations.is_empty() {
        "No organisation has a connection group, so there is nothing to sync.".to_owned()
    } else {
        format!("Sync all started: {} organisation(s) are queued.", organisations.len())
    };
    done(&d, &admin, "/ui/sync", !organisations.is_empty(), text)
}

async fn sync_org(State(d): State<Arc<Daemon>>, admin: Admin, Path(org): Path<String>) -> Response {
    if d.trigger(&org) {
        tracing::info!(organisation = %org, "sync requested in the web UI");
        done(&d, &admin, "/ui/sync", true, format!("Sync of {org} started."))
    } else {
        done(&d, &admin, "/ui/sync", false, format!("Organisation {org} has no connection group."))
    }
}

async fn approve(State(d): State<Arc<Daemon>>, admin: Admin, Path(id): Path<String>) -> UiResult {
    let app = d.app();
    // The CLI's `runs approve` does the same: approve in the store, then the next run may proceed.
    let Some(held) = StateStore::approve_held(app.store(), &id).await.map_err(anyhow::Error::from)? else {
        let known = app.store().held_run(&id).await?.is_some();
        let text = if known {
            format!("Held run {id} was already approved; the organisation's next run uses the approval.")
        } else {
            format!("No held run has the id {id}.")
        };
        return Ok(done(&d, &admin, "/ui/sync", false, text));
    };
    tracing::info!(held_run = %held.id, organisation = %held.organisation, "held run approved in the web UI");
    // Run it now rather than at the next turn: the approval is what the admin was waiting for.
    d.trigger(held.organisation.as_str());
    let allowance = held.allowance();
    let mut text = format!("Approved the held run of {}. Its sync has started", held.organisation);
    if let Some(n) = allowance.suspensions {
        text.push_str(&format!(" and may suspend up to {n} users"));
    }
    text.push('.');
    Ok(done(&d, &admin, "/ui/sync", true, text))
}

#[derive(Debug, serde::Deserialize)]
struct RunsFilter {
    org: Option<String>,
    status: Option<String>,
}

async fn runs_page(State(d): State<Arc<Daemon>>, admin: Admin, Query(f): Query<RunsFilter>) -> UiResult {
    let app = d.app();
    let org = f.org.as_deref().filter(|o| !o.is_empty());
    let status = f.status.as_deref().filter(|s| !s.is_empty());
    let rows: Vec<RunRow> =
        run_rows(&app, org, 200).await?.into_iter().filter(|r| status.is_none_or(|s| r.status == s)).collect();
    let orgs = organisations(&app);
    let statuses = ["succeeded", "partially_failed", "held", "failed", "dry_run"];
    let content = html! {
        form method="get" action="/ui/runs" class="filters" aria-label="Filter runs" {
            div class="field" {
                label for="f-org" { "Organisation" }
                select id="f-org" name="org" {
                    option value="" { "All" }
                    @for (id, label) in &orgs { option value=(id) selected[org == Some(id.as_str())] { (label) " (" (id) ")" } }
                }
            }
            div class="field" {
                label for="f-status" { "Status" }
                select id="f-status" name="status" {
                    option value="" { "Any" }
                    @for s in statuses { option value=(s) selected[status == Some(s)] { (s) } }
                }
            }
            button type="submit" class="secondary" { "Filter" }
        }
        @if rows.is_empty() { p { "No runs match." } } @else {
            table {
                caption class="visually-hidden" { "Runs, newest first" }
                thead { tr {
                    th scope="col" { "Started" } th scope="col" { "Organisation" } th scope="col" { "Status" }
                    th scope="col" class="num" { "Created" } th scope="col" class="num" { "Updated" }
                    th scope="col" class="num" { "Suspended" } th scope="col" class="num" { "Reactivated" }
                    th scope="col" class="num" { "Errors" } th scope="col" { "Took" }
                } }
                tbody { @for r in &rows { tr {
                    td { a href=(format!("/ui/runs/{}", r.id)) { (time(r.started_at)) } }
                    td { (r.organisation) } td { (status_badge(&r.status)) }
                    td class="num" { (r.applied.created) } td class="num" { (r.applied.updated) }
                    td class="num" { (r.applied.suspended) } td class="num" { (r.applied.reactivated) }
                    td class="num" { (r.errors) } td { (duration(r.finished_at - r.started_at)) }
                } } }
            }
        }
    };
    Ok(page(&d, &admin, Nav::Sync, "Run history", content))
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct RecordFilter {
    /// `create`, `update`, `suspend`, `reactivate`.
    operation: Option<String>,
    /// An error code.
    code: Option<String>,
    /// Text in the record or the message.
    q: Option<String>,
}

impl RecordFilter {
    fn keeps(&self, operation: &str, code: &str, text: &[&str]) -> bool {
        let op = self.operation.as_deref().filter(|s| !s.is_empty());
        let c = self.code.as_deref().filter(|s| !s.is_empty());
        let q = self.q.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
        op.is_none_or(|o| o == operation)
            && c.is_none_or(|c| c == code)
            && q.is_none_or(|q| text.iter().any(|t| t.to_lowercase().contains(&q)))
    }
}

fn filter_form(action: &str, f: &RecordFilter, codes: &[String]) -> Markup {
    html! {
        form method="get" action=(action) class="filters" aria-label="Filter records" {
            div class="field" {
                label for="r-op" { "Change" }
                select id="r-op" name="operation" {
                    option value="" { "Any" }
                    @for o in ["create", "update", "suspend", "reactivate"] { option value=(o) selected[f.operation.as_deref() == Some(o)] { (o) } }
                }
            }
            @if !codes.is_empty() {
                div class="field" {
                    label for="r-code" { "Error code" }
                    select id="r-code" name="code" {
                        option value="" { "Any" }
                        @for c in codes { option value=(c) selected[f.code.as_deref() == Some(c.as_str())] { (c) } }
                    }
                }
            }
            div class="field" {
                label for="r-q" { "Contains" }
                input id="r-q" name="q" type="search" value=(f.q.clone().unwrap_or_default());
            }
            button type="submit" class="secondary" { "Filter" }
        }
    }
}

async fn run_page(
    State(d): State<Arc<Daemon>>,
    admin: Admin,
    Path(id): Path<String>,
    Query(f): Query<RecordFilter>,
) -> UiResult {
    let app = d.app();
    let Some(r) = app.store().run(&id).await? else {
        return Err(UiError::not_found(format!("No run has the id {id}.")));
    };
    let pending = app.store().held_runs().await?;
    let awaiting = r.held_run.as_ref().and_then(|h| pending.iter().find(|p| &p.id == h));
    let held_plan = match &r.held_run {
        Some(h) => app.store().held_run(h).await?,
        None => None,
    };
    let content = run_detail(&r, awaiting, held_plan.as_ref(), &f, admin.csrf());
    Ok(page(&d, &admin, Nav::Sync, &format!("Run of {}", r.organisation), content))
}

fn run_detail(
    r: &RunReport,
    awaiting: Option<&HeldRun>,
    held: Option<&HeldRun>,
    f: &RecordFilter,
    csrf: &str,
) -> Markup {
    let status = status_name(r.status);
    let mut codes: Vec<String> = r.errors.iter().map(|e| e.code.clone()).collect();
    codes.sort();
    codes.dedup();
    let errors: Vec<_> =
        r.errors.iter().filter(|e| f.keeps(&e.operation, &e.code, &[&e.external_id, &e.message, &e.code])).collect();
    html! {
        dl class="facts" {
            dt { "Run" } dd { code { (r.id) } }
            dt { "Organisation" } dd { (r.organisation) }
            dt { "Status" } dd { (status_badge(status)) }
            dt { "Started" } dd { (time(r.started_at)) }
            dt { "Took" } dd { (duration(r.finished_at - r.started_at)) }
            @if let Some(failure) = &r.failure { dt { "Failure" } dd role="alert" { (failure) } }
        }
        h2 { "What changed" }
        table {
            caption class="visually-hidden" { "Planned and applied changes" }
            thead { tr { th scope="col" { "Change" } th scope="col" class="num" { "Planned" } th scope="col" class="num" { "Applied" } } }
            tbody {
                tr { th scope="row" { "Created" } td class="num" { (r.planned.creates) } td class="num" data-field="created" { (r.applied.created) } }
                tr { th scope="row" { "Updated" } td class="num" { (r.planned.updates) } td class="num" data-field="updated" { (r.applied.updated) } }
                tr { th scope="row" { "Suspended" } td class="num" { (r.planned.suspensions) } td class="num" data-field="suspended" { (r.applied.suspended) } }
                tr { th scope="row" { "Reactivated" } td class="num" { (r.planned.reactivations) } td class="num" data-field="reactivated" { (r.applied.reactivated) } }
                tr { th scope="row" { "Left out (skipped)" } td class="num" { (r.planned.skipped) } td class="num" { "—" } }
                tr { th scope="row" { "Already right" } td class="num" { (r.planned.unchanged) } td class="num" { "—" } }
            }
        }
        @if !r.hold_reasons.is_empty() {
            h2 { "Why it was held" }
            ul { @for reason in &r.hold_reasons { li { (reason.explain()) } } }
            @if let Some(h) = awaiting {
                form method="post" action=(format!("/ui/held/{}/approve", h.id)) {
                    (csrf_field(csrf))
                    button type="submit" { "Approve" }
                }
            } @else {
                p { (status_badge("succeeded")) " Approved." }
            }
        }
        h2 id="errors" { "Records that failed (" (r.errors.len()) ")" }
        @if r.errors.is_empty() {
            p { "None: every planned change was applied or nothing needed to change." }
        } @else {
            (filter_form(&format!("/ui/runs/{}", r.id), f, &codes))
            p class="hint" { "Showing " (errors.len()) " of " (r.errors.len()) "." }
            table {
                caption class="visually-hidden" { "Per-record errors" }
                thead { tr { th scope="col" { "Record" } th scope="col" { "Change" } th scope="col" { "Code" } th scope="col" { "Message" } } }
                tbody { @for e in &errors { tr { td { code { (e.external_id) } } td { (e.operation) } td { (e.code) } td { (e.message) } } } }
            }
        }
        @if let Some(h) = held {
            h2 { "What the held run would change" }
            (plan_table(h, f, &format!("/ui/runs/{}", r.id)))
        }
        p { a href="/ui/runs" { "All runs" } }
    }
}

/// The records a held plan would change, with filters.
fn plan_table(h: &HeldRun, f: &RecordFilter, action: &str) -> Markup {
    let p = &h.plan;
    let mut rows: Vec<(&str, String, String)> = Vec::new();
    for c in &p.creates {
        let detail = format!(
            "{} {} <{}> as {}",
            c.fields.given_name.as_deref().unwrap_or(""),
            c.fields.family_name.as_deref().unwrap_or(""),
            c.fields.email.as_deref().unwrap_or("?"),
            c.fields.role.as_ref().map(|r| r.as_str().to_owned()).unwrap_or_default()
        );
        rows.push(("create", c.external_id.clone(), detail));
    }
    for u in &p.updates {
        let why = match &u.reason {
            UpdateReason::Changed => "changed at the source".to_owned(),
            UpdateReason::Adopted => "existing user adopted".to_owned(),
            UpdateReason::Relinked { previous_external_id } => format!("relinked from {previous_external_id}"),
        };
        let changes: Vec<String> = u.changes.iter().map(|c| format!("{}: {} → {}", c.field, c.from, c.to)).collect();
        rows.push(("update", u.external_id.clone(), format!("{why}; {}", changes.join(", "))));
    }
    for s in &p.suspensions {
        let why = match s.reason {
            SuspendReason::GoneFromSource => "no longer in any selected group",
            SuspendReason::DisabledAtSource => "blocked at the source",
        };
        rows.push(("suspend", s.external_id.clone(), format!("{}: {why}", s.email)));
    }
    for r in &p.reactivations {
        rows.push(("reactivate", r.external_id.clone(), r.email.clone()));
    }
    let total = rows.len();
    let shown: Vec<_> = rows.iter().filter(|(op, id, detail)| f.keeps(op, "", &[id, detail])).collect();
    let skipped: Vec<String> = p
        .skipped
        .iter()
        .map(|s| match &s.reason {
            SkipReason::NoEmail => format!("{}: no email at the source", s.external_id),
            SkipReason::DuplicateEmail { kept } => format!("{}: same email as {kept}", s.external_id),
            SkipReason::EmailTaken { record_external_id } => {
                format!("{}: email used by {record_external_id}", s.external_id)
            }
        })
        .collect();
    html! {
        (filter_form(action, f, &[]))
        p class="hint" { "Showing " (shown.len()) " of " (total) "." }
        table {
            caption class="visually-hidden" { "Changes the held run would make" }
            thead { tr { th scope="col" { "Change" } th scope="col" { "Record" } th scope="col" { "Detail" } } }
            tbody { @for (op, id, detail) in &shown { tr { td { (op) } td { code { (id) } } td { (detail) } } } }
        }
        @if !skipped.is_empty() {
            details { summary { (skipped.len()) " people left out" } ul { @for s in &skipped { li { (s) } } } }
        }
    }
}

/// `/ui/held/{id}`: a held run's plan (linked from the sync page).
pub(crate) async fn held_page(
    State(d): State<Arc<Daemon>>,
    admin: Admin,
    Path(id): Path<String>,
    Query(f): Query<RecordFilter>,
) -> UiResult {
    let app = d.app();
    let Some(h) = app.store().held_run(&id).await? else {
        return Err(UiError::not_found(format!("No held run has the id {id}.")));
    };
    let pending = app.store().held_runs().await?.iter().any(|p| p.id == h.id);
    let content = html! {
        dl class="facts" {
            dt { "Organisation" } dd { (h.organisation) }
            dt { "Held" } dd { (time(h.held_at)) }
            dt { "State" } dd { @if pending { (status_badge("held")) } @else { (status_badge("succeeded")) " approved" } }
        }
        h2 { "Why" }
        ul { @for r in &h.reasons { li { (r.explain()) } } }
        @if pending {
            form method="post" action=(format!("/ui/held/{}/approve", h.id)) {
                (csrf_field(admin.csrf()))
                button type="submit" { "Approve" }
            }
        }
        h2 { "What it would change" }
        (plan_table(&h, &f, &format!("/ui/held/{}", h.id)))
    };
    Ok(page(&d, &admin, Nav::Sync, &format!("Held run of {}", h.organisation), content))
}
