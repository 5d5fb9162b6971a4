//! Doctor: every preflight check (the CLI's `doctor`) with pass/fail and its remedy; "Run again" runs it anew.

use super::connections::checks_table;
use super::layout::Nav;
use super::{Admin, UiResult, page};
use crate::daemon::Daemon;
use crate::doctor::{self, Status};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use maud::html;
use std::sync::Arc;

pub(crate) fn routes() -> Router<Arc<Daemon>> {
    Router::new().route("/ui/doctor", get(doctor_page))
}

async fn doctor_page(State(d): State<Arc<Daemon>>, admin: Admin) -> UiResult {
    let app = d.app();
    let report = doctor::run(&app).await;
    let failed = report.checks.iter().filter(|c| c.status == Status::Fail).count();
    let checked_at = crate::output::time(chrono::Utc::now());
    let content = html! {
        @if report.passed {
            p class="flash ok" role="status" { "Every check passed." }
        } @else {
            p class="flash bad" role="alert" { (failed) " check(s) failed. Each one says what was found and what to do." }
        }
        form method="get" action="/ui/doctor" class="actions" {
            button type="submit" { "Run again" }
            span class="hint" { "Checked " (checked_at) "." }
        }
        (checks_table(&report.checks))
    };
    Ok(page(&d, &admin, Nav::Doctor, "Doctor", content))
}
