//! The commands a school IT team runs: `connect microsoft`, `groups`, `plan`, `sync`, `runs`.
//!
//! Each writes its results to an [`Output`] (a table or text for people, JSON with `--json`) and returns an
//! [`Outcome`] that becomes the exit status. Nothing here prints a token or a secret.

use crate::Outcome;
use crate::app::{App, StoredSignIn, SyncOutcome, delegated_scopes};
use crate::config::{AuthMode, MAX_PARALLEL_ORGANISATIONS};
use crate::output::{Output, RunProgress, Style, Table, duration, time};
use crate::shutdown::Shutdown;
use anyhow::{Context, anyhow, bail};
use futures::{StreamExt, TryStreamExt};
use graph_client::auth::{DeviceCodeFlow, DeviceCodePrompt, RefreshTokenSource, TokenSource};
use graph_client::{GraphClient, Group, GroupQuery};
use http_retry::Retrier;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use sync_engine::model::{ConnectionId, OrganisationId};
use sync_engine::plan::{SkipReason, SuspendReason, UpdateReason};
use sync_engine::{Allowance, Engine, HeldRun, Plan, RunOptions, RunReport, RunStatus, StateStore, Verdict};

/// How many lines of each kind of change `plan` prints per organisation before it says "and N more".
const DETAIL_LINES: usize = 25;

// ---------------------------------------------------------------------------------------------------------------
// connect microsoft

/// Who signed in with `connect microsoft`.
#[derive(Debug, Clone, Serialize)]
pub struct SignedIn {
    /// The connection.
    pub connection: String,
    /// The account's object id.
    pub id: String,
    /// Its sign-in name.
    pub user_principal_name: Option<String>,
    /// Its display name.
    pub display_name: Option<String>,
}

/// `connect microsoft --connection NAME`: the device-code sign-in of the admin account. Prints Entra's message
/// (the page to open and the code to enter), calls `on_prompt` (the demo approves the code there), waits for the
/// sign-in, and stores the refresh token encrypted in the store. Every later refresh replaces it (rotation).
/// `on_prompt` may return a note to print after the prompt.
pub async fn connect_microsoft(
    app: &App,
    connection: &str,
    out: &mut Output,
    shutdown: &Shutdown,
    on_prompt: &(dyn Fn(&DeviceCodePrompt) -> anyhow::Result<Option<String>> + Send + Sync),
) -> anyhow::Result<SignedIn> {
    let config = app.config().connection(connection).ok_or_else(|| {
        anyhow!(
            "no connection is named `{connection}` in the configuration (connections: {})",
            app.config().connections.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
        )
    })?;
    if config.auth == AuthMode::AppOnly {
        bail!(
            "connection `{connection}` signs in app-only with its client secret (environment variable {}); there is \
             nobody to sign in. Run `secure-schools-sync doctor` to check it",
            config.client_secret_env.as_deref().unwrap_or("?")
        );
    }
    if !app.store().has_secret_key() {
        bail!(
            "the sign-in would be stored encrypted, but no secret key is configured: set ROSTERBRIDGE_SECRET_KEY to a \
             base64-encoded 32-byte key (e.g. `openssl rand -base64 32`) or set `secret_key_file` in the \
             configuration, then connect again"
        );
    }
    let m = app.microsoft(connection)?;
    let retrier = Retrier::new(app.options().retry_policy.clone().unwrap_or_default());
    let scopes = delegated_scopes(&m.cloud);
    let flow = DeviceCodeFlow::new(m.cloud.clone(), m.tenant.clone(), config.client_id.clone(), scopes.clone())
        .with_retrier(retrier.clone());
    let prompt = flow.start().await.context("starting the device-code sign-in")?;
    writeln!(out, "{}", out.paint(Style::Bold, &prompt.message))?;
    writeln!(
        out,
        "Sign in as the Microsoft account that is an Admin of every Secure Schools organisation. Waiting (the code \
         expires in {} minutes)…",
        prompt.expires_in.as_secs() / 60
    )?;
    out.flush()?;
    if let Some(note) = on_prompt(&prompt)? {
        writeln!(out, "{}", out.paint(Style::Dim, &note))?;
    }
    let mut cancel = shutdown.clone();
    let tokens = tokio::select! {
        tokens = flow.wait(&prompt) => tokens.context("the device-code sign-in")?,
        () = cancel.wait() => bail!("sign-in cancelled"),
    };
    if tokens.refresh.is_none() {
        bail!(
            "Microsoft Entra ID completed the sign-in but issued no refresh token, so the sync could not run \
             unattended; check that the app registration allows the offline_access permission"
        );
    }
    app.save_connection(connection).await?;
    let stored = Arc::new(StoredSignIn::new(app.store().clone(), ConnectionId::new(connection)));
    let source: Arc<dyn TokenSource> = Arc::new(
        RefreshTokenSource::from_sign_in(
            tokens,
            m.cloud.clone(),
            m.tenant.clone(),
            config.client_id.clone(),
            scopes,
            stored,
        )
        .await
        .context("storing the sign-in")?
        .with_retrier(retrier),
    );
    let graph = GraphClient::builder().cloud(m.cloud.clone()).token_source(source).build()?;
    let me = graph.me().await.context("reading the signed-in account (GET /me)")?;
    let signed_in = SignedIn {
        connection: connection.to_owned(),
        id: me.id().to_owned(),
        user_principal_name: me.user_principal_name().map(str::to_owned),
        display_name: me.display_name().map(str::to_owned),
    };
    writeln!(
        out,
        "{} {} <{}>. The sign-in is stored encrypted in the store and renewed at every use.",
        out.paint(Style::Good, "Signed in as"),
        signed_in.display_name.as_deref().unwrap_or("?"),
        signed_in.user_principal_name.as_deref().unwrap_or("?")
    )?;
    writeln!(out, "Next: `secure-schools-sync doctor` checks everything the sync needs.")?;
    Ok(signed_in)
}

// ---------------------------------------------------------------------------------------------------------------
// groups

/// One group as `groups` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupRow {
    /// Object id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Security, Mail-enabled security, Distribution, Microsoft 365, Other.
    pub kind: String,
    /// Membership computed from a rule.
    pub dynamic: bool,
    /// Whether it can be synced.
    pub syncable: bool,
    /// Why not, when it cannot.
    pub reason: Option<String>,
    /// The connection groups that select it: organisation and role.
    pub selected_by: Vec<Selection>,
}

/// A selection of a group by a connection group.
#[derive(Debug, Clone, Serialize)]
pub struct Selection {
    /// The organisation.
    pub organisation: String,
    /// The role its members get.
    pub role: String,
}

fn group_row(group: &Group, selections: &BTreeMap<String, Vec<Selection>>) -> GroupRow {
    let verdict = connectors::microsoft::syncable(group);
    GroupRow {
        id: group.id.clone(),
        name: group.display_name.clone().unwrap_or_default(),
        kind: group.kind().as_str().to_owned(),
        dynamic: group.is_dynamic(),
        syncable: verdict.is_ok(),
        reason: verdict.err(),
        selected_by: selections.get(&group.id).cloned().unwrap_or_default(),
    }
}

/// The kind `groups` shows for a Google organisational unit.
pub const ORGANISATIONAL_UNIT: &str = "organisational unit";

/// The organisational units of a Google connection as `groups` rows: every unit (the top unit `/` first), syncable,
/// with the organisations that select it. A unit includes the units under it, so selecting a school's unit takes
/// in its `Students/Year 7` and the rest.
async fn google_rows(app: &App, connection: &str, search: Option<&str>) -> anyhow::Result<Vec<GroupRow>> {
    let g = app.google(connection)?;
    let units = match g.directory.org_units().await {
        Ok(units) => units,
        Err(e) => {
            let hint = if e.is_unauthorized() || e.is_forbidden() {
                " (`secure-schools-sync doctor` checks the domain-wide delegation and the admin's rights)"
            } else {
                ""
            };
            bail!("listing the organisational units of `{connection}`: {e}{hint}");
        }
    };
    let mut paths: Vec<(String, String)> = vec![("/".to_owned(), "(the whole account)".to_owned())];
    paths.extend(units.into_iter().map(|u| (u.org_unit_path, u.description.unwrap_or_default())));
    paths.sort_by_key(|(p, _)| p.to_lowercase());
    let wanted = search.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
    let mut selections: BTreeMap<String, Vec<Selection>> = BTreeMap::new();
    for cg in app.config().connection_groups.iter().filter(|g| g.connection == connection) {
        for unit in &cg.groups {
            let key = unit.id.trim_end_matches('/').to_lowercase();
            selections
                .entry(if key.is_empty() { "/".into() } else { key })
                .or_default()
                .push(Selection { organisation: cg.organisation.clone(), role: unit.role.clone() });
        }
    }
    Ok(paths
        .into_iter()
        .filter(|(p, d)| wanted.as_ref().is_none_or(|w| p.to_lowercase().contains(w) || d.to_lowercase().contains(w)))
        .map(|(path, _)| GroupRow {
            selected_by: selections.get(&path.to_lowercase()).cloned().unwrap_or_default(),
            id: path.clone(),
            name: path,
            kind: ORGANISATIONAL_UNIT.into(),
            dynamic: false,
            syncable: true,
            reason: None,
        })
        .collect())
}

/// `groups --connection NAME [--search TEXT]`: the groups of the tenant, with their kind and whether they can be
/// synced (Microsoft 365 groups cannot, and the reason is shown), and which organisations select them. For a
/// Google connection: its organisational units (kind "organisational unit", each syncable).
pub async fn groups(
    app: &App,
    connection: &str,
    search: Option<&str>,
    json: bool,
    out: &mut Output,
) -> anyhow::Result<Outcome> {
    if app.is_wonde(connection) {
        return wonde_groups(app, connection, json, out).await;
    }
    if app.config().connection(connection).is_some_and(|c| c.is_google()) {
        let rows = google_rows(app, connection, search).await?;
        if json {
            out.json(&rows)?;
            return Ok(Outcome::Success);
        }
        let mut table = Table::new(["organisational unit", "kind", "syncable", "selected by"]);
        for row in &rows {
            let selected: Vec<String> =
                row.selected_by.iter().map(|s| format!("{} as {}", s.organisation, s.role)).collect();
            table.row([row.name.clone(), row.kind.clone(), "yes".to_owned(), selected.join(", ")]);
        }
        write!(out, "{}", table.render())?;
        writeln!(out, "A unit includes every unit under it. Select units by path in `connection_groups`.")?;
        return Ok(Outcome::Success);
    }
    let rows = group_rows(app, connection, search).await?;
    if json {
        out.json(&rows)?;
        return Ok(Outcome::Success);
    }
    write_group_rows(&rows, search, out)
}

/// The groups of a connection's tenant (those whose name contains `search`, when given), sorted by name, each with
/// its kind, whether it can be synced and why not, and the connection groups that select it. For a Google
/// connection, its organisational units (see [`ORGANISATIONAL_UNIT`]). `groups` prints them; the web UI offers them
/// for selection. A Wonde connection has nothing to select (it makes its own connection group): an error says so.
pub async fn group_rows(app: &App, connection: &str, search: Option<&str>) -> anyhow::Result<Vec<GroupRow>> {
    if app.is_wonde(connection) {
        bail!(
            "`{connection}` is a Wonde connection: it makes its own connection group (the school's students and \
             employees into its organisation), so there is nothing to select"
        );
    }
    if app.config().connection(connection).is_some_and(|c| c.is_google()) {
        return google_rows(app, connection, search).await;
    }
    let m = app.microsoft(connection)?;
    let query = match search.map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => GroupQuery::Search(text.to_owned()),
        None => GroupQuery::All,
    };
    let mut groups: Vec<Group> = match m.graph.groups(query).try_collect().await {
        Ok(groups) => groups,
        Err(e) => {
            let hint = if e.is_unauthorized() {
                format!(" (sign in with `secure-schools-sync connect microsoft --connection {connection}`)")
            } else if e.is_forbidden() {
                " (the sign-in lacks a permission: run `secure-schools-sync doctor`)".to_owned()
            } else {
                String::new()
            };
            bail!("listing the groups of `{connection}`: {e}{hint}");
        }
    };
    groups.sort_by(|a, b| {
        a.display_name
            .as_deref()
            .unwrap_or("")
            .to_lowercase()
            .cmp(&b.display_name.as_deref().unwrap_or("").to_lowercase())
    });
    let mut selections: BTreeMap<String, Vec<Selection>> = BTreeMap::new();
    for cg in app.config().connection_groups.iter().filter(|g| g.connection == connection) {
        for g in &cg.groups {
            selections
                .entry(g.id.clone())
                .or_default()
                .push(Selection { organisation: cg.organisation.clone(), role: g.role.clone() });
        }
    }
    Ok(groups.iter().map(|g| group_row(g, &selections)).collect())
}

fn write_group_rows(rows: &[GroupRow], search: Option<&str>, out: &mut Output) -> anyhow::Result<Outcome> {
    if rows.is_empty() {
        writeln!(out, "No groups found{}.", search.map(|s| format!(" for \"{s}\"")).unwrap_or_default())?;
        return Ok(Outcome::Success);
    }
    let mut table = Table::new(["group", "kind", "syncable", "selected by", "id"]);
    for row in rows {
        let kind = if row.dynamic { format!("{} (dynamic)", row.kind) } else { row.kind.clone() };
        let selected: Vec<String> =
            row.selected_by.iter().map(|s| format!("{} as {}", s.organisation, s.role)).collect();
        table.row([
            row.name.clone(),
            kind,
            if row.syncable { "yes".to_owned() } else { "NO".to_owned() },
            selected.join(", "),
            row.id.clone(),
        ]);
    }
    write!(out, "{}", table.render())?;
    let refused: Vec<&GroupRow> = rows.iter().filter(|r| !r.syncable).collect();
    if !refused.is_empty() {
        writeln!(out)?;
        writeln!(out, "Not syncable:")?;
        for row in &refused {
            writeln!(out, "  {}: {}", row.name, row.reason.as_deref().unwrap_or(""))?;
        }
    }
    let selected_refused: Vec<&&GroupRow> = refused.iter().filter(|r| !r.selected_by.is_empty()).collect();
    if !selected_refused.is_empty() {
        writeln!(out)?;
        for row in selected_refused {
            writeln!(
                out,
                "{} `{}` is selected in the configuration but cannot be synced; its organisations will not sync \
                 until it is replaced.",
                out.paint(Style::Bad, "Warning:"),
                row.name
            )?;
        }
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::Success)
}

/// `groups --connection NAME` for a Wonde connection: there is nothing to select — the school is the scope — so
/// it shows the connection group the connection makes by itself: the school's students (as students) and employees
/// (as staff), with how many each has now, and the organisation they sync into.
async fn wonde_groups(app: &App, connection: &str, json: bool, out: &mut Output) -> anyhow::Result<Outcome> {
    let w = app.wonde(connection)?;
    let source = w.source();
    let school =
        source.check_school(None).await.map_err(|e| anyhow!("reading the Wonde school of `{connection}`: {e}"))?;
    let Some(group) = w.config.wonde_group() else {
        bail!("connection `{connection}` has no school_id or organisation in the configuration");
    };
    let snapshot = sync_engine::IdentitySource::snapshot(&source, &group.scopes)
        .await
        .map_err(|e| anyhow!("reading the people of {} ({}): {e}", school.name, school.id))?;
    let rows: Vec<GroupRow> = group
        .scopes
        .iter()
        .map(|s| GroupRow {
            id: s.scope.to_string(),
            name: format!("{} {}", school.name, s.scope.as_str().rsplit('/').next().unwrap_or("")),
            kind: format!("Wonde {}", s.scope.as_str().rsplit('/').next().unwrap_or("")),
            dynamic: false,
            syncable: true,
            reason: None,
            selected_by: vec![Selection { organisation: group.organisation.to_string(), role: s.role.to_string() }],
        })
        .collect();
    if json {
        out.json(&rows)?;
        return Ok(Outcome::Success);
    }
    writeln!(
        out,
        "Wonde school {} ({}): its connection group is made automatically (organisation {}).",
        school.name, school.id, group.organisation
    )?;
    let mut table = Table::new(["scope", "members", "role", "organisation", "id"]);
    for (row, scope) in rows.iter().zip(&group.scopes) {
        table.row([
            row.name.clone(),
            snapshot.scope_counts.get(&scope.scope).copied().unwrap_or(0).to_string(),
            scope.role.to_string(),
            group.organisation.to_string(),
            row.id.clone(),
        ]);
    }
    write!(out, "{}", table.render())?;
    Ok(Outcome::Success)
}

// ---------------------------------------------------------------------------------------------------------------
// plan

/// The plan of one organisation, as `plan --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    /// The organisation.
    pub organisation: String,
    /// `proceed`, `hold` or `error`.
    pub verdict: String,
    /// Why it would be held, in words.
    pub hold_reasons: Vec<String>,
    /// Members per selected group.
    pub group_members: BTreeMap<String, usize>,
    /// The plan itself.
    pub plan: Option<Plan>,
    /// Why it could not be planned.
    pub error: Option<String>,
}

/// Plans the organisations (one, or every organisation with a connection group), applying nothing.
pub async fn plan_views(app: &App, organisation: Option<&str>) -> anyhow::Result<Vec<PlanView>> {
    let organisations = match organisation {
        Some(org) => vec![app.check_organisation(org)?],
        None => app.config().organisations(),
    };
    let engine = app.engine()?;
    let groups = app.config().connection_groups();
    let mut views = Vec::new();
    for org in organisations {
        let view = match engine.plan(&org, &groups).await {
            Ok(planned) => {
                let (verdict, hold_reasons) = match &planned.verdict {
                    Verdict::Proceed => ("proceed".to_owned(), Vec::new()),
                    Verdict::Hold(reasons) => ("hold".to_owned(), reasons.iter().map(|r| r.explain()).collect()),
                };
                PlanView {
                    organisation: org.to_string(),
                    verdict,
                    hold_reasons,
                    group_members: planned.scope_counts,
                    plan: Some(planned.plan),
                    error: None,
                }
            }
            Err(e) => PlanView {
                organisation: org.to_string(),
                verdict: "error".into(),
                hold_reasons: Vec::new(),
                group_members: BTreeMap::new(),
                plan: None,
                error: Some(e.to_string()),
            },
        };
        views.push(view);
    }
    Ok(views)
}

/// `plan [--org ID] [--json]`: what a sync would change in each organisation, applying nothing.
pub async fn plan(app: &App, organisation: Option<&str>, json: bool, out: &mut Output) -> anyhow::Result<Outcome> {
    let views = plan_views(app, organisation).await?;
    let outcome = if views.iter().any(|v| v.error.is_some()) { Outcome::Failed } else { Outcome::Success };
    if json {
        out.json(&views)?;
        return Ok(outcome);
    }
    write_plans(&views, DETAIL_LINES, out)?;
    Ok(outcome)
}

/// Writes plans as a summary table and the changes of each organisation (up to `detail_lines` of each kind; 0
/// for the table only).
pub fn write_plans(views: &[PlanView], detail_lines: usize, out: &mut Output) -> anyhow::Result<()> {
    let mut table =
        Table::new(["organisation", "create", "update", "suspend", "reactivate", "skip", "unchanged", "verdict"]);
    for c in 1..=6 {
        table = table.right(c);
    }
    for v in views {
        match &v.plan {
            Some(p) => table.row([
                v.organisation.clone(),
                p.creates.len().to_string(),
                p.updates.len().to_string(),
                p.suspensions.len().to_string(),
                p.reactivations.len().to_string(),
                p.skipped.len().to_string(),
                p.unchanged.to_string(),
                v.verdict.clone(),
            ]),
            None => table.row([
                v.organisation.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "ERROR".into(),
            ]),
        }
    }
    write!(out, "{}", table.render())?;
    for v in views {
        if let Some(error) = &v.error {
            writeln!(out)?;
            writeln!(out, "{} {}: {error}", out.paint(Style::Bad, "error:"), v.organisation)?;
            continue;
        }
        let Some(p) = &v.plan else { continue };
        if (p.is_empty() && p.skipped.is_empty() && v.hold_reasons.is_empty()) || detail_lines == 0 {
            continue;
        }
        writeln!(out)?;
        writeln!(out, "{}", out.paint(Style::Bold, &v.organisation))?;
        write_plan_details(p, detail_lines, out)?;
        for reason in &v.hold_reasons {
            writeln!(out, "  {} {reason}", out.paint(Style::Warn, "would be HELD:"))?;
        }
    }
    Ok(())
}

fn more(out: &mut Output, total: usize, shown: usize) -> std::io::Result<()> {
    if total > shown {
        writeln!(out, "  … and {} more (use --json for all)", total - shown)?;
    }
    Ok(())
}

/// Writes each change of a plan on a line, up to `lines` of each kind.
pub fn write_plan_details(p: &Plan, lines: usize, out: &mut Output) -> std::io::Result<()> {
    for c in p.creates.iter().take(lines) {
        let role = c.fields.role.as_ref().map(|r| r.as_str().to_owned()).unwrap_or_default();
        writeln!(
            out,
            "  create      {:<8} {} {} <{}>",
            role,
            c.fields.given_name.as_deref().unwrap_or(""),
            c.fields.family_name.as_deref().unwrap_or(""),
            c.fields.email.as_deref().unwrap_or("")
        )?;
    }
    more(out, p.creates.len(), lines)?;
    for u in p.updates.iter().take(lines) {
        let why = match &u.reason {
            UpdateReason::Changed => "changed".to_owned(),
            UpdateReason::Adopted => "adopt".to_owned(),
            UpdateReason::Relinked { previous_external_id } => format!("relink (was {previous_external_id})"),
        };
        let changes: Vec<String> = u.changes.iter().map(|c| format!("{}: {} → {}", c.field, c.from, c.to)).collect();
        let changes = if changes.is_empty() { "no field changes".to_owned() } else { changes.join("; ") };
        writeln!(out, "  update      {why:<8} {} ({changes})", u.external_id)?;
    }
    more(out, p.updates.len(), lines)?;
    for s in p.suspensions.iter().take(lines) {
        let why = match s.reason {
            SuspendReason::GoneFromSource => "no longer in any selected group",
            SuspendReason::DisabledAtSource => "blocked from sign-in in Microsoft",
        };
        writeln!(out, "  suspend     {} ({why})", s.email)?;
    }
    more(out, p.suspensions.len(), lines)?;
    for r in p.reactivations.iter().take(lines) {
        writeln!(out, "  reactivate  {}", r.email)?;
    }
    more(out, p.reactivations.len(), lines)?;
    for s in p.skipped.iter().take(lines) {
        let why = match &s.reason {
            SkipReason::NoEmail => "no email address in Microsoft".to_owned(),
            SkipReason::DuplicateEmail { kept } => format!("same email as {kept}"),
            SkipReason::EmailTaken { record_external_id } => {
                format!("email already belongs to the synced user {record_external_id}")
            }
        };
        writeln!(out, "  skip        {} ({why})", s.external_id)?;
    }
    more(out, p.skipped.len(), lines)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// sync

/// Which organisations `sync` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncTarget {
    /// Every organisation with a connection group.
    All,
    /// One organisation.
    Organisation(String),
}

/// The result of one organisation's sync, as `sync --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct SyncResult {
    /// The organisation.
    pub organisation: String,
    /// `succeeded`, `partially_failed`, `held`, `failed`, `busy`, `interrupted` or `not_started`.
    pub status: String,
    /// The run report, when it ran.
    pub report: Option<RunReport>,
    /// A sentence for the operator.
    pub message: Option<String>,
}

/// Runs organisations now, with a progress bar on a terminal, and returns what became of each, in the order of
/// the configuration's organisations.
///
/// Up to `[sync] parallel_organisations` organisations run at once (one after another when it is 1, or for a
/// single organisation). Each run still takes its organisation's lock, so an organisation another worker is
/// syncing is reported `busy`, never synced twice. An organisation that cannot run at all (a broken store) ends
/// the command with that error; runs still in flight then are cancelled, which is safe (runs are idempotent and
/// the lock of a cancelled run is released).
pub async fn sync_results(
    app: &App,
    target: SyncTarget,
    allow_suspensions: Option<usize>,
    out: &Output,
    shutdown: &Shutdown,
) -> anyhow::Result<Vec<SyncResult>> {
    sync_results_with(app, target, &run_options(allow_suspensions, false), out, shutdown).await
}

/// The options of a `sync` run: an approval of up to `allow_suspensions` suspensions, and whether to read every
/// source in full (`--full`) rather than follow change feeds where they are set up.
pub fn run_options(allow_suspensions: Option<usize>, full: bool) -> RunOptions {
    RunOptions {
        dry_run: false,
        full,
        allowance: allow_suspensions.map(|n| Allowance { suspensions: Some(n), empty_scopes: false }),
    }
}

/// [`sync_results`] with explicit run options.
pub async fn sync_results_with(
    app: &App,
    target: SyncTarget,
    options: &RunOptions,
    out: &Output,
    shutdown: &Shutdown,
) -> anyhow::Result<Vec<SyncResult>> {
    let organisations = match &target {
        SyncTarget::All => app.config().organisations(),
        SyncTarget::Organisation(org) => vec![app.check_organisation(org)?],
    };
    app.record_connections().await?;
    let engine = app.engine()?;
    let parallel = app.config().sync.parallel_organisations.clamp(1, MAX_PARALLEL_ORGANISATIONS);
    let parallel = parallel.min(organisations.len()).max(1);
    let progress = if parallel > 1 { out.progress_organisations(organisations.len()) } else { out.progress() };
    let (engine, options, progress) = (&engine, &options, progress.as_ref());
    futures::stream::iter(organisations)
        .map(|org| sync_one(app, engine, org, options, progress, shutdown))
        .buffered(parallel)
        .try_collect()
        .await
}

/// Runs one organisation of `sync_results`.
async fn sync_one(
    app: &App,
    engine: &Engine,
    org: OrganisationId,
    options: &RunOptions,
    progress: &dyn RunProgress,
    shutdown: &Shutdown,
) -> anyhow::Result<SyncResult> {
    if shutdown.is_requested() {
        return Ok(SyncResult {
            organisation: org.to_string(),
            status: "not_started".into(),
            report: None,
            message: Some("not started: shutdown requested".into()),
        });
    }
    progress.begin(org.as_str());
    let outcome = app.sync_org(engine, &org, options, progress, shutdown).await;
    progress.end();
    Ok(match outcome? {
        SyncOutcome::Ran(report) => SyncResult {
            organisation: org.to_string(),
            status: status_name(report.status).into(),
            message: report.failure.clone(),
            report: Some(report),
        },
        SyncOutcome::Busy { organisation, holder } => SyncResult {
            organisation: organisation.to_string(),
            status: "busy".into(),
            report: None,
            message: Some(match holder {
                Some((owner, until)) => format!(
                    "another worker ({owner}) is syncing it; its lock lasts until {} unless it finishes first",
                    time(until)
                ),
                None => "another worker is syncing it".into(),
            }),
        },
        SyncOutcome::Interrupted(report) => SyncResult {
            organisation: org.to_string(),
            status: "interrupted".into(),
            message: report.failure.clone(),
            report: Some(report),
        },
    })
}

/// The outcome of a set of sync results.
pub fn sync_outcome(results: &[SyncResult]) -> Outcome {
    results.iter().fold(Outcome::Success, |acc, r| {
        acc.worst(match r.status.as_str() {
            "succeeded" => Outcome::Success,
            "held" => Outcome::Held,
            "interrupted" | "not_started" => Outcome::Interrupted,
            _ => Outcome::Failed,
        })
    })
}

/// `sync all` / `sync org ID` [`--allow-suspensions N`]: runs now and prints a summary; held runs are explained
/// with how to approve them.
pub async fn sync(
    app: &App,
    target: SyncTarget,
    allow_suspensions: Option<usize>,
    json: bool,
    out: &mut Output,
    shutdown: &Shutdown,
) -> anyhow::Result<Outcome> {
    sync_with(app, target, &run_options(allow_suspensions, false), json, out, shutdown).await
}

/// [`sync`] with explicit run options (`--full`).
pub async fn sync_with(
    app: &App,
    target: SyncTarget,
    options: &RunOptions,
    json: bool,
    out: &mut Output,
    shutdown: &Shutdown,
) -> anyhow::Result<Outcome> {
    let results = sync_results_with(app, target, options, out, shutdown).await?;
    if json {
        out.json(&results)?;
    } else {
        write_sync_summary(&results, out)?;
    }
    Ok(sync_outcome(&results))
}

/// Writes the summary table of sync results and what to do about the ones that did not succeed.
pub fn write_sync_summary(results: &[SyncResult], out: &mut Output) -> anyhow::Result<()> {
    let mut table =
        Table::new(["organisation", "status", "created", "updated", "suspended", "reactivated", "errors", "took"]);
    for c in 2..=7 {
        table = table.right(c);
    }
    for r in results {
        match &r.report {
            Some(rep) if r.status != "interrupted" => table.row([
                r.organisation.clone(),
                r.status.clone(),
                rep.applied.created.to_string(),
                rep.applied.updated.to_string(),
                rep.applied.suspended.to_string(),
                rep.applied.reactivated.to_string(),
                rep.errors.len().to_string(),
                duration(rep.finished_at - rep.started_at),
            ]),
            _ => table.row([r.organisation.clone(), r.status.clone()]),
        }
    }
    write!(out, "{}", table.render())?;
    for r in results {
        let Some(report) = &r.report else {
            if let Some(message) = &r.message {
                writeln!(out, "{} {}: {message}", out.paint(Style::Warn, "note:"), r.organisation)?;
            }
            continue;
        };
        match report.status {
            RunStatus::Held => {
                writeln!(out)?;
                writeln!(out, "{} {} (run {}):", out.paint(Style::Warn, "HELD"), r.organisation, report.id)?;
                for reason in &report.hold_reasons {
                    writeln!(out, "  {}", reason.explain())?;
                }
                write_approval_hint(out, &r.organisation, report)?;
            }
            RunStatus::Failed => {
                writeln!(out)?;
                writeln!(
                    out,
                    "{} {}: {}",
                    out.paint(Style::Bad, "FAILED"),
                    r.organisation,
                    report.failure.as_deref().unwrap_or("unknown failure")
                )?;
                if r.status != "interrupted" {
                    writeln!(out, "  `secure-schools-sync doctor` checks the prerequisites and says what to fix.")?;
                }
            }
            RunStatus::PartiallyFailed => {
                writeln!(out)?;
                writeln!(
                    out,
                    "{} {}: {} record(s) could not be changed:",
                    out.paint(Style::Bad, "ERRORS"),
                    r.organisation,
                    report.errors.len()
                )?;
                for e in report.errors.iter().take(10) {
                    writeln!(out, "  {} {}: {} ({})", e.operation, e.external_id, e.message, e.code)?;
                }
                writeln!(out, "  Details: secure-schools-sync runs show {}", report.id)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn write_approval_hint(out: &mut Output, organisation: &str, report: &RunReport) -> std::io::Result<()> {
    let Some(held) = &report.held_run else { return Ok(()) };
    writeln!(out, "  Nothing was applied. Check the plan: secure-schools-sync plan --org {organisation}")?;
    writeln!(
        out,
        "  To approve: secure-schools-sync runs approve {held}   then: secure-schools-sync sync org {organisation}"
    )?;
    let suspensions = report.planned.suspensions;
    if suspensions > 0 {
        writeln!(out, "  Or at once: secure-schools-sync sync org {organisation} --allow-suspensions {suspensions}")?;
    }
    Ok(())
}

/// The name of a run status, as the JSON and the tables spell it.
pub fn status_name(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Succeeded => "succeeded",
        RunStatus::PartiallyFailed => "partially_failed",
        RunStatus::Held => "held",
        RunStatus::DryRun => "dry_run",
        RunStatus::Failed => "failed",
    }
}

// ---------------------------------------------------------------------------------------------------------------
// runs

/// A run as `runs` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    /// Its id.
    pub id: String,
    /// The organisation.
    pub organisation: String,
    /// When it started.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// When it ended.
    pub finished_at: chrono::DateTime<chrono::Utc>,
    /// How it ended.
    pub status: String,
    /// Created, updated, suspended, reactivated.
    pub applied: sync_engine::OpCounts,
    /// What was planned.
    pub planned: sync_engine::PlannedCounts,
    /// Records that failed.
    pub errors: usize,
    /// The held run to approve, if it was held.
    pub held_run: Option<String>,
    /// Why it failed.
    pub failure: Option<String>,
}

/// Recent runs, newest first.
pub async fn run_rows(app: &App, organisation: Option<&str>, limit: usize) -> anyhow::Result<Vec<RunRow>> {
    let org = organisation.map(OrganisationId::new);
    let runs = app.store().runs(org.as_ref(), limit).await.context("reading the run history")?;
    Ok(runs
        .into_iter()
        .map(|r| RunRow {
            id: r.id,
            organisation: r.organisation.to_string(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            status: status_name(r.status).into(),
            applied: r.applied,
            planned: r.planned,
            errors: r.error_count,
            held_run: r.held_run,
            failure: r.failure,
        })
        .collect())
}

/// `runs [--org ID] [--limit N]`: the run history, newest first.
pub async fn runs(
    app: &App,
    organisation: Option<&str>,
    limit: usize,
    json: bool,
    out: &mut Output,
) -> anyhow::Result<Outcome> {
    let rows = run_rows(app, organisation, limit).await?;
    if json {
        out.json(&rows)?;
        return Ok(Outcome::Success);
    }
    if rows.is_empty() {
        writeln!(out, "No runs yet.")?;
        return Ok(Outcome::Success);
    }
    let mut table = Table::new([
        "run",
        "organisation",
        "started",
        "took",
        "status",
        "created",
        "updated",
        "suspended",
        "reactivated",
        "errors",
    ]);
    for c in 5..=9 {
        table = table.right(c);
    }
    for r in &rows {
        table.row([
            r.id.clone(),
            r.organisation.clone(),
            time(r.started_at),
            duration(r.finished_at - r.started_at),
            r.status.clone(),
            r.applied.created.to_string(),
            r.applied.updated.to_string(),
            r.applied.suspended.to_string(),
            r.applied.reactivated.to_string(),
            r.errors.to_string(),
        ]);
    }
    write!(out, "{}", table.render())?;
    Ok(Outcome::Success)
}

/// One run in full, as `runs show --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct RunDetail {
    /// The report, per-record errors included.
    pub report: RunReport,
    /// Whether its held run still waits for approval.
    pub awaiting_approval: bool,
}

/// `runs show ID`: one run with its per-record errors.
pub async fn show_run(app: &App, id: &str, json: bool, out: &mut Output) -> anyhow::Result<Outcome> {
    let Some(report) = app.store().run(id).await.context("reading the run")? else {
        bail!("no run has the id `{id}` (see `secure-schools-sync runs`)");
    };
    let pending: Vec<HeldRun> = app.store().held_runs().await.context("reading held runs")?;
    let awaiting_approval = report.held_run.as_ref().is_some_and(|h| pending.iter().any(|p| &p.id == h));
    if json {
        out.json(&RunDetail { report, awaiting_approval })?;
        return Ok(Outcome::Success);
    }
    let r = &report;
    writeln!(out, "run           {}", r.id)?;
    writeln!(out, "organisation  {}", r.organisation)?;
    writeln!(out, "status        {}", status_name(r.status))?;
    writeln!(out, "started       {}", time(r.started_at))?;
    writeln!(out, "took          {}", duration(r.finished_at - r.started_at))?;
    writeln!(out, "read          {}", r.planned.read.as_str())?;
    writeln!(
        out,
        "planned       {} create, {} update, {} suspend, {} reactivate, {} skipped, {} unchanged",
        r.planned.creates,
        r.planned.updates,
        r.planned.suspensions,
        r.planned.reactivations,
        r.planned.skipped,
        r.planned.unchanged
    )?;
    writeln!(
        out,
        "applied       {} created, {} updated, {} suspended, {} reactivated",
        r.applied.created, r.applied.updated, r.applied.suspended, r.applied.reactivated
    )?;
    if let Some(failure) = &r.failure {
        writeln!(out, "failure       {failure}")?;
    }
    if !r.hold_reasons.is_empty() {
        writeln!(out, "held because:")?;
        for reason in &r.hold_reasons {
            writeln!(out, "  {}", reason.explain())?;
        }
        if awaiting_approval {
            write_approval_hint(out, r.organisation.as_str(), r)?;
        } else {
            writeln!(out, "  (approved)")?;
        }
    }
    if r.errors.is_empty() {
        writeln!(out, "errors        none")?;
    } else {
        writeln!(out, "errors        {}", r.errors.len())?;
        let mut table = Table::new(["record", "operation", "code", "message"]);
        for e in &r.errors {
            table.row([e.external_id.clone(), e.operation.clone(), e.code.clone(), e.message.clone()]);
        }
        write!(out, "{}", table.render())?;
    }
    Ok(Outcome::Success)
}

/// `runs approve ID`: approves a held run; the organisation's next run may then do what it would have done.
pub async fn approve(app: &App, id: &str, out: &mut Output) -> anyhow::Result<Outcome> {
    let approved = StateStore::approve_held(app.store(), id).await.context("approving the held run")?;
    let Some(held) = approved else {
        if app.store().held_run(id).await.context("reading the held run")?.is_some() {
            bail!("held run `{id}` was already approved; the organisation's next run uses the approval");
        }
        bail!("no held run has the id `{id}` (the id is shown by `sync` and `runs show`)");
    };
    let allowance = held.allowance();
    writeln!(out, "{} held run {} of {}.", out.paint(Style::Good, "Approved"), held.id, held.organisation)?;
    if let Some(n) = allowance.suspensions {
        writeln!(out, "Its next run may suspend up to {n} users.")?;
    }
    if allowance.empty_scopes {
        writeln!(out, "Its next run may proceed although some selected groups are empty.")?;
    }
    writeln!(
        out,
        "Run it now with `secure-schools-sync sync org {}`, or let the daemon run it at its next turn.",
        held.organisation
    )?;
    Ok(Outcome::Success)
}
