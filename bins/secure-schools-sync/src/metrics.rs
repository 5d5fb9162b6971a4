//! Prometheus metrics of the daemon, in the text exposition format (version 0.0.4).
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `secure_schools_sync_runs_total` | counter | `status` |
//! | `secure_schools_sync_last_run_timestamp_seconds` | gauge | `organisation` |
//! | `secure_schools_sync_last_run_status` | gauge (1 for the last status) | `organisation`, `status` |
//! | `secure_schools_sync_users_total` | counter | `operation` (created, updated, suspended, reactivated) |
//! | `secure_schools_sync_record_errors_total` | counter | |
//! | `secure_schools_sync_held_runs` | gauge | |
//! | `secure_schools_sync_run_in_progress` | gauge | |
//! | `secure_schools_sync_graph_requests_total` | counter | `connection` |
//! | `secure_schools_sync_graph_throttled_total` | counter | `connection` |
//! | `secure_schools_sync_graph_retries_total` | counter | `connection` |
//! | `secure_schools_sync_graph_resource_units_total` | counter | `connection` |
//! | `secure_schools_sync_graph_throttle_limit_percent` | gauge | `connection` |
//! | `secure_schools_sync_secure_schools_requests_total`, `…_throttled_total`, `…_retries_total` | counter | |

use crate::app::App;
use crate::commands::status_name;
use graph_client::ThrottleSnapshot;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use sync_engine::{RunReport, RunStatus};

/// A metric family drawn from the Graph clients' counters: name, type, help, and the value to read.
type Family = (&'static str, &'static str, &'static str, fn(&ThrottleSnapshot) -> u64);

const STATUSES: [RunStatus; 4] = [RunStatus::Succeeded, RunStatus::PartiallyFailed, RunStatus::Held, RunStatus::Failed];

#[derive(Debug, Default)]
struct State {
    runs: BTreeMap<&'static str, u64>,
    last: BTreeMap<String, (i64, &'static str)>,
    created: u64,
    updated: u64,
    suspended: u64,
    reactivated: u64,
    record_errors: u64,
    running: bool,
}

/// What the daemon counts between scrapes.
#[derive(Debug, Default)]
pub struct Metrics(Mutex<State>);

impl Metrics {
    /// Counts a finished run.
    pub fn record(&self, report: &RunReport) {
        let Ok(mut s) = self.0.lock() else { return };
        let status = status_name(report.status);
        *s.runs.entry(status).or_insert(0) += 1;
        s.last.insert(report.organisation.to_string(), (report.finished_at.timestamp(), status));
        s.created += report.applied.created as u64;
        s.updated += report.applied.updated as u64;
        s.suspended += report.applied.suspended as u64;
        s.reactivated += report.applied.reactivated as u64;
        s.record_errors += report.errors.len() as u64;
    }

    /// Marks whether a run is in progress.
    pub fn set_running(&self, running: bool) {
        if let Ok(mut s) = self.0.lock() {
            s.running = running;
        }
    }

    /// The metrics as Prometheus text: these counters, the held runs waiting, and the clients' request and
    /// throttling counters.
    pub fn render(&self, app: &App, held_runs: Option<usize>) -> String {
        let mut out = String::new();
        let Ok(s) = self.0.lock() else { return out };
        family(&mut out, "secure_schools_sync_runs_total", "counter", "Sync runs, by how they ended.");
        for status in STATUSES.map(status_name) {
            sample(
                &mut out,
                "secure_schools_sync_runs_total",
                &[("status", status)],
                s.runs.get(status).copied().unwrap_or(0),
            );
        }
        family(
            &mut out,
            "secure_schools_sync_last_run_timestamp_seconds",
            "gauge",
            "When the last run of each organisation ended (Unix time).",
        );
        for (org, (at, _)) in &s.last {
            sample(&mut out, "secure_schools_sync_last_run_timestamp_seconds", &[("organisation", org)], *at);
        }
        family(
            &mut out,
            "secure_schools_sync_last_run_status",
            "gauge",
            "How the last run of each organisation ended (1 for its status).",
        );
        for (org, (_, status)) in &s.last {
            sample(&mut out, "secure_schools_sync_last_run_status", &[("organisation", org), ("status", status)], 1);
        }
        family(
            &mut out,
            "secure_schools_sync_users_total",
            "counter",
            "Users changed in Secure Schools, by operation.",
        );
        for (operation, n) in
            [("created", s.created), ("updated", s.updated), ("suspended", s.suspended), ("reactivated", s.reactivated)]
        {
            sample(&mut out, "secure_schools_sync_users_total", &[("operation", operation)], n);
        }
        family(&mut out, "secure_schools_sync_record_errors_total", "counter", "Records that could not be changed.");
        sample(&mut out, "secure_schools_sync_record_errors_total", &[], s.record_errors);
        if let Some(held) = held_runs {
            family(&mut out, "secure_schools_sync_held_runs", "gauge", "Held runs waiting for approval.");
            sample(&mut out, "secure_schools_sync_held_runs", &[], held);
        }
        family(&mut out, "secure_schools_sync_run_in_progress", "gauge", "1 while a run is in progress.");
        sample(&mut out, "secure_schools_sync_run_in_progress", &[], u8::from(s.running));
        drop(s);

        let graph: Vec<(String, ThrottleSnapshot)> =
            app.connections().filter_map(|(name, m)| m.ok().map(|m| (name.to_owned(), m.stats.snapshot()))).collect();
        let graph_families: [Family; 5] = [
            ("secure_schools_sync_graph_requests_total", "counter", "Answers received from Microsoft Graph.", |t| {
                t.requests
            }),
            ("secure_schools_sync_graph_throttled_total", "counter", "429 answers from Microsoft Graph.", |t| {
                t.throttled
            }),
            ("secure_schools_sync_graph_retries_total", "counter", "Requests to Microsoft Graph retried.", |t| {
                t.retries
            }),
            (
                "secure_schools_sync_graph_resource_units_total",
                "counter",
                "Resource units Microsoft Graph charged (x-ms-resource-unit).",
                |t| t.resource_units,
            ),
            (
                "secure_schools_sync_graph_throttle_limit_percent",
                "gauge",
                "The last x-ms-throttle-limit-percentage Microsoft Graph sent.",
                |t| t.last_limit_percentage,
            ),
        ];
        for (name, kind, help, value) in graph_families {
            family(&mut out, name, kind, help);
            for (connection, snapshot) in &graph {
                sample(&mut out, name, &[("connection", connection)], value(snapshot));
            }
        }
        let ss = app.secure_schools_stats().snapshot();
        for (name, help, value) in [
            ("secure_schools_sync_secure_schools_requests_total", "Answers received from Secure Schools.", ss.requests),
            ("secure_schools_sync_secure_schools_throttled_total", "429 answers from Secure Schools.", ss.throttled),
            ("secure_schools_sync_secure_schools_retries_total", "Requests to Secure Schools retried.", ss.retries),
        ] {
            family(&mut out, name, "counter", help);
            sample(&mut out, name, &[], value);
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
        return;
    }
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
}

/// A label value escaped as the text format requires (backslash, double quote, newline).
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        sample(&mut out, "m", &[("organisation", "a\"b\\c\nd")], 1);
        assert_eq!(out, "m{organisation=\"a\\\"b\\\\c\\nd\"} 1\n");
    }
}
