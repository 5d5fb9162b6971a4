//! `daemon`: the scheduler (every few hours with jitter, per the configuration) and a local HTTP endpoint.
//!
//! Endpoints (no authentication: keep `daemon.listen` on localhost or behind a firewall):
//!
//! * `GET /healthz` — `200 {"status":"ok","running":…}`;
//! * `GET /metrics` — Prometheus text format (see [`crate::metrics`]);
//! * `GET /runs?limit=&org=` — recent runs, newest first, as JSON;
//! * `POST /sync` — "sync all": every organisation is due now (`202`; `403` when a browser sends it from another
//!   site, told by its `Origin` header);
//! * `POST /sync/{org}` — one organisation is due now (`202`, or `404` if it has no connection group);
//! * `/ui/…` — the admin web UI ([`crate::ui`]), which, unlike the endpoints above, needs a signed-in admin.
//!
//! One run at a time, and one organisation is never synced twice at once (the engine's lock, shared with any
//! other worker on the same store). On SIGINT/SIGTERM the HTTP endpoint stops, and a run in progress may finish
//! for `daemon.shutdown_grace_seconds`; then it is cancelled cleanly (lock released, run recorded as interrupted).

use crate::Outcome;
use crate::app::{App, SyncOutcome};
use crate::commands::{run_rows, status_name};
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use anyhow::Context;
use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sync_engine::model::OrganisationId;
use sync_engine::{Progress, ProgressEvent, RunOptions, Scheduler};
use tokio::sync::{Notify, watch};

/// The longest the scheduler sleeps before looking again (so a clock change is noticed).
const MAX_SLEEP: Duration = Duration::from_secs(300);

/// The daemon's shared state: the app, the scheduler, the metrics.
pub struct Daemon {
    app: ArcSwap<App>,
    scheduler: Mutex<Scheduler>,
    wake: Notify,
    metrics: Metrics,
    running: Mutex<Option<String>>,
    grace: Duration,
    /// How many scheduled turns have ended since start (see [`Daemon::finished_runs`]).
    finished: watch::Sender<u64>,
    /// What the scheduler is doing now (see [`Daemon::live`]).
    live: watch::Sender<Live>,
    /// The web UI's sessions and sign-ins.
    ui: crate::ui::UiState,
}

/// What the scheduler is doing now: the run in progress and the organisations waiting their turn. `version` moves
/// at every change, so a watcher can wait for the next one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Live {
    /// Moves at every change.
    pub version: u64,
    /// The run in progress, if any.
    pub running: Option<LiveRun>,
    /// Organisations due in this turn that have not started yet, in order.
    pub queued: Vec<String>,
}

/// A run in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRun {
    /// The organisation.
    pub organisation: String,
    /// When it started.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Operations applied so far (applied or failed); 0 while the sources are read and the plan is made.
    pub done: usize,
    /// Operations to apply, once known.
    pub total: Option<usize>,
    /// Operations that failed so far.
    pub failed: usize,
}

/// Publishes the executor's progress on the daemon's [`Live`] channel.
struct LiveProgress<'a>(&'a watch::Sender<Live>);

impl Progress for LiveProgress<'_> {
    fn event(&self, event: &ProgressEvent) {
        self.0.send_modify(|live| {
            live.version += 1;
            if let Some(run) = &mut live.running {
                match event {
                    ProgressEvent::Started { total, .. } => run.total = Some(*total),
                    ProgressEvent::Batch { done, total, failed, .. } => {
                        run.done = *done;
                        run.total = Some(*total);
                        run.failed = *failed;
                    }
                }
            }
        });
    }
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").field("app", &self.app.load()).finish_non_exhaustive()
    }
}

/// An error answer: logged in full, shown to the client as a short JSON message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %error, "daemon request failed");
        ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, message: "internal error; see the daemon's log".into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(serde_json::json!({ "error": self.message }))).into_response()
    }
}

/// `GET /runs` parameters.
#[derive(Debug, serde::Deserialize)]
pub struct RunsQuery {
    /// How many (default 50, at most 1000).
    pub limit: Option<usize>,
    /// One organisation only.
    pub org: Option<String>,
}

impl Daemon {
    /// A daemon for `app`, with the organisations of the configuration scheduled.
    pub fn new(app: Arc<App>) -> Arc<Daemon> {
        let mut scheduler = Scheduler::new(app.config().schedule(), random_seed());
        scheduler.set_organisations(app.config().organisations(), chrono::Utc::now());
        let grace = Duration::from_secs(app.config().daemon.shutdown_grace_seconds);
        Arc::new(Daemon {
            app: ArcSwap::new(app),
            scheduler: Mutex::new(scheduler),
            wake: Notify::new(),
            metrics: Metrics::default(),
            running: Mutex::new(None),
            grace,
            finished: watch::Sender::new(0),
            live: watch::Sender::new(Live::default()),
            ui: crate::ui::UiState::default(),
        })
    }

    /// The app as it is now (the web UI replaces it when it changes connections or connection groups).
    pub fn app(&self) -> Arc<App> {
        self.app.load_full()
    }

    /// Reads the store's connections and connection groups again (after the web UI changed them): a new app
    /// replaces the old (a run in progress finishes with the old one), and the scheduler follows the organisations
    /// that now have connection groups (a new one is first due within one jitter).
    pub async fn reload(&self) -> anyhow::Result<()> {
        let app = Arc::new(self.app().reload().await?);
        let organisations = app.config().organisations();
        self.app.store(app);
        if let Ok(mut s) = self.scheduler.lock() {
            s.set_organisations(organisations, chrono::Utc::now());
        }
        self.wake.notify_one();
        self.live.send_modify(|l| l.version += 1);
        Ok(())
    }

    /// Watches what the scheduler is doing: the run in progress (with its progress) and the queue.
    pub fn live(&self) -> watch::Receiver<Live> {
        self.live.subscribe()
    }

    /// Whether nothing is running, queued or due now (an organisation triggered on demand counts as due).
    pub fn is_idle(&self) -> bool {
        let Ok(scheduler) = self.scheduler.lock() else { return false };
        let live = self.live.borrow();
        let now = chrono::Utc::now();
        live.running.is_none() && live.queued.is_empty() && scheduler.next_due(now).is_none_or(|t| t > now)
    }

    /// Waits until at least `turns` scheduled turns have ended since start (see [`Daemon::finished_runs`]) and the
    /// daemon is idle: what was triggered has run, including an organisation the schedule happened to run just
    /// before a trigger asked for it again. For tests and tools that trigger runs and then read the results.
    pub async fn settled(&self, turns: u64) {
        let mut finished = self.finished_runs();
        loop {
            if *finished.borrow_and_update() >= turns && self.is_idle() {
                return;
            }
            if finished.changed().await.is_err() {
                return;
            }
        }
    }

    /// When an organisation is next due, if it is scheduled.
    pub fn next_run(&self, organisation: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        self.scheduler.lock().ok().and_then(|s| s.next_for(&OrganisationId::new(organisation)))
    }

    /// The web UI's state (sessions, sign-ins in progress).
    pub fn ui(&self) -> &crate::ui::UiState {
        &self.ui
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Watches how many scheduled turns have ended since start: a run finished (its outcome already in the run history
    /// and the metrics, so a watcher that sees the count move can read both), a run skipped because another process
    /// held the organisation, or a run that could not start. Wait on it for a triggered run instead of polling.
    pub fn finished_runs(&self) -> watch::Receiver<u64> {
        self.finished.subscribe()
    }

    /// "Sync all": every organisation is due now. Returns them.
    pub fn trigger_all(&self) -> Vec<String> {
        if let Ok(mut s) = self.scheduler.lock() {
            s.trigger_all();
        }
        self.wake.notify_one();
        self.app().config().organisations().iter().map(|o| o.to_string()).collect()
    }

    /// One organisation is due now; false if it is not scheduled.
    pub fn trigger(&self, organisation: &str) -> bool {
        let ok = self.scheduler.lock().map(|mut s| s.trigger(&OrganisationId::new(organisation))).unwrap_or(false);
        if ok {
            self.wake.notify_one();
        }
        ok
    }

    /// The HTTP endpoint.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics))
            .route("/runs", get(runs))
            .route("/sync", post(sync_all))
            .route("/sync/{org}", post(sync_one))
            .with_state(self.clone())
            .merge(crate::ui::router(self.clone()))
    }

    /// Runs organisations as they fall due until `shutdown`. A run in progress at shutdown may finish within the
    /// grace period, then is cancelled cleanly.
    pub async fn run_scheduler(self: Arc<Self>, shutdown: Shutdown) -> anyhow::Result<()> {
        // Fails early (e.g. no Secure Schools token); each turn then builds the engine of the app as it is then.
        self.app().engine()?;
        let mut stop = shutdown.clone();
        loop {
            if shutdown.is_requested() {
                break;
            }
            // Taken from the scheduler and published as queued under its lock, so that `is_idle` never sees an
            // organisation that is neither due nor queued yet.
            let due = match self.scheduler.lock() {
                Ok(mut scheduler) => {
                    let due = scheduler.due(chrono::Utc::now());
                    self.live.send_modify(|l| {
                        l.version += 1;
                        l.queued = due.iter().map(|d| d.organisation.to_string()).collect();
                    });
                    due
                }
                Err(_) => Vec::new(),
            };
            for item in due {
                if shutdown.is_requested() {
                    break;
                }
                let org = item.organisation;
                let app = self.app();
                self.live.send_modify(|l| {
                    l.version += 1;
                    l.queued.retain(|q| q != org.as_str());
                    l.running = Some(LiveRun {
                        organisation: org.to_string(),
                        started_at: chrono::Utc::now(),
                        done: 0,
                        total: None,
                        failed: 0,
                    });
                });
                tracing::info!(organisation = %org, trigger = ?item.trigger, "sync run starting");
                if let Ok(mut r) = self.running.lock() {
                    *r = Some(org.to_string());
                }
                self.metrics.set_running(true);
                let cancel = grace_period(shutdown.clone(), self.grace);
                let progress = LiveProgress(&self.live);
                // A due full reconciliation reads in full; other runs follow the change feeds where they can.
                let options = RunOptions { full: item.full, ..RunOptions::default() };
                let outcome = match app.engine() {
                    Ok(engine) => app.sync_org(&engine, &org, &options, &progress, &cancel.1).await,
                    Err(e) => Err(e),
                };
                cancel.0.abort();
                self.metrics.set_running(false);
                if let Ok(mut r) = self.running.lock() {
                    *r = None;
                }
                match outcome {
                    Ok(SyncOutcome::Ran(report)) => {
                        tracing::info!(
                            organisation = %org,
                            status = status_name(report.status),
                            created = report.applied.created,
                            updated = report.applied.updated,
                            suspended = report.applied.suspended,
                            reactivated = report.applied.reactivated,
                            errors = report.errors.len(),
                            failure = report.failure.as_deref().unwrap_or(""),
                            "sync run finished"
                        );
                        for reason in &report.hold_reasons {
                            tracing::warn!(
                                organisation = %org,
                                held_run = report.held_run.as_deref().unwrap_or(""),
                                "run held: {}; approve with `secure-schools-sync runs approve {}`",
                                reason.explain(),
                                report.held_run.as_deref().unwrap_or("?")
                            );
                        }
                        if item.full
                            && report.status != sync_engine::RunStatus::Failed
                            && let Ok(mut s) = self.scheduler.lock()
                        {
                            s.full_done(&org, chrono::Utc::now());
                        }
                        self.metrics.record(&report);
                    }
                    Ok(SyncOutcome::Interrupted(report)) => self.metrics.record(&report),
                    Ok(SyncOutcome::Busy { holder, .. }) => {
                        tracing::warn!(organisation = %org, holder = ?holder.map(|h| h.0), "organisation busy; skipped this turn");
                    }
                    Err(e) => tracing::error!(organisation = %org, error = format!("{e:#}"), "sync run could not run"),
                }
                self.live.send_modify(|l| {
                    l.version += 1;
                    l.running = None;
                });
                self.finished.send_modify(|n| *n += 1);
            }
            self.live.send_if_modified(|l| {
                let changed = !l.queued.is_empty();
                l.queued.clear();
                l.version += u64::from(changed);
                changed
            });
            let now = chrono::Utc::now();
            let next = self.scheduler.lock().ok().and_then(|s| s.next_due(now));
            let wait = next.and_then(|t| (t - now).to_std().ok()).unwrap_or(MAX_SLEEP).min(MAX_SLEEP);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => {}
                () = stop.wait() => break,
            }
        }
        tracing::info!("scheduler stopped");
        Ok(())
    }
}

/// A cancellation that fires `grace` after `shutdown` (the task that fires it, to abort once the run is over).
fn grace_period(shutdown: Shutdown, grace: Duration) -> (tokio::task::JoinHandle<()>, Shutdown) {
    let (trigger, cancel) = Shutdown::manual();
    let mut shutdown = shutdown;
    let task = tokio::spawn(async move {
        shutdown.wait().await;
        tracing::info!(grace_s = grace.as_secs(), "waiting for the run in progress to finish");
        tokio::time::sleep(grace).await;
        trigger.trigger();
    });
    (task, cancel)
}

fn random_seed() -> u64 {
    let id = uuid::Uuid::new_v4();
    let bytes = id.as_bytes();
    u64::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]])
}

async fn healthz(State(d): State<Arc<Daemon>>) -> Response {
    let running = d.running.lock().ok().and_then(|r| r.clone());
    axum::Json(serde_json::json!({ "status": "ok", "running": running })).into_response()
}

async fn metrics(State(d): State<Arc<Daemon>>) -> Response {
    let app = d.app();
    let held = app.store().held_runs().await.map(|h| h.len());
    if let Err(e) = &held {
        tracing::warn!(error = %e, "reading held runs for the metrics failed");
    }
    let body = d.metrics.render(&app, held.ok());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

async fn runs(State(d): State<Arc<Daemon>>, Query(q): Query<RunsQuery>) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let rows = run_rows(&d.app(), q.org.as_deref(), limit).await.map_err(|e| ApiError::internal(format!("{e:#}")))?;
    Ok(axum::Json(rows).into_response())
}

/// A web page on another site must not be able to make a browser trigger syncs: a request whose `Origin` (which
/// browsers send with every cross-site POST, and scripts do not) is not this host is refused.
fn cross_site(headers: &axum::http::HeaderMap) -> Option<ApiError> {
    if crate::ui::same_origin(headers) {
        return None;
    }
    Some(ApiError { status: StatusCode::FORBIDDEN, message: "refused: the request came from another site".into() })
}

async fn sync_all(State(d): State<Arc<Daemon>>, headers: axum::http::HeaderMap) -> Response {
    if let Some(e) = cross_site(&headers) {
        return e.into_response();
    }
    let organisations = d.trigger_all();
    tracing::info!(organisations = organisations.len(), "sync all requested over HTTP");
    (StatusCode::ACCEPTED, axum::Json(serde_json::json!({ "status": "accepted", "organisations": organisations })))
        .into_response()
}

async fn sync_one(
    State(d): State<Arc<Daemon>>,
    headers: axum::http::HeaderMap,
    Path(org): Path<String>,
) -> Result<Response, ApiError> {
    if let Some(e) = cross_site(&headers) {
        return Err(e);
    }
    if !d.trigger(&org) {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("organisation `{org}` has no connection group in the configuration"),
        });
    }
    tracing::info!(organisation = %org, "sync requested over HTTP");
    Ok((StatusCode::ACCEPTED, axum::Json(serde_json::json!({ "status": "accepted", "organisations": [org] })))
        .into_response())
}

/// Serves the HTTP endpoint on `listener` and runs the scheduler until `shutdown`.
pub async fn serve_on(
    daemon: Arc<Daemon>,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<Outcome> {
    let addr = listener.local_addr().context("reading the listening address")?;
    let app = daemon.app();
    crate::ui::setup_admin(app.store(), app.admin_password()).await?;
    tracing::info!(
        listen = %addr,
        organisations = app.config().organisations().len(),
        every_hours = app.config().schedule.every_hours,
        jitter_minutes = app.config().schedule.jitter_minutes,
        ui = %format!("http://{addr}/ui/"),
        "daemon started"
    );
    if !addr.ip().is_loopback() {
        tracing::warn!(
            listen = %addr,
            "the daemon listens beyond localhost: its JSON endpoints have no authentication (the web UI does); \
             put it behind a firewall or a TLS-terminating proxy"
        );
    }
    drop(app);
    let mut http_stop = shutdown.clone();
    let ui = daemon.clone();
    let server = axum::serve(listener, daemon.router()).with_graceful_shutdown(async move {
        http_stop.wait().await;
        // Long-polls and sign-ins in progress end now, so that the server does not wait for them.
        ui.ui().stop();
    });
    // Both on this task: the engine's futures borrow across awaits in ways that are not `Send` for every
    // lifetime, so the scheduler is not spawned.
    let (served, scheduled) =
        tokio::join!(std::future::IntoFuture::into_future(server), daemon.clone().run_scheduler(shutdown));
    served.context("the HTTP endpoint")?;
    scheduled.context("the scheduler")?;
    tracing::info!("daemon stopped");
    Ok(Outcome::Success)
}

/// `daemon`: binds `daemon.listen` and runs until SIGINT/SIGTERM.
pub async fn serve(app: App, shutdown: Shutdown) -> anyhow::Result<Outcome> {
    let listen = app.config().daemon.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen} (daemon.listen)"))?;
    serve_on(Daemon::new(Arc::new(app)), listener, shutdown).await
}
