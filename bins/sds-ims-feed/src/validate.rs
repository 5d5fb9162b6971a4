//! `validate`: the OneRoster 1.1 rules (and with the `sds` profile, what School Data Sync rejects) over the stored
//! roster or a CSV set, as a report. Errors make the exit status non-zero; warnings do not.

use crate::Outcome;
use crate::output::Output;
use anyhow::Context as _;
use oneroster_model::csv::{CsvError, ReadOptions, read_roster};
use oneroster_model::validate::{Profile, Report, validate};
use oneroster_model::{Roster, Status};
use roster_store::Store;
use std::io::Write as _;
use std::path::Path;

/// Where the roster to validate comes from.
#[derive(Debug, Clone)]
pub enum Source<'a> {
    /// The stored roster (records marked `tobedeleted` are left out: SDS does not sync them).
    Store(&'a Store),
    /// A CSV set, folder or zip.
    Csv(&'a Path),
}

/// Validates and prints the report (JSON with `json`). [`Outcome::Failed`] if there is an error (or the CSV set
/// cannot be read record by record).
pub async fn run(source: Source<'_>, profile: Profile, json: bool, out: &mut Output) -> anyhow::Result<Outcome> {
    let roster = match source {
        Source::Store(store) => {
            let (_, mut roster) = store.load_roster().await.context("cannot read the stored roster")?;
            drop_deleted(&mut roster);
            roster
        }
        Source::Csv(path) => {
            let owned = path.to_owned();
            let read = tokio::task::spawn_blocking(move || read_roster(&owned, &ReadOptions::default()))
                .await
                .context("the CSV reader stopped unexpectedly")?;
            match read {
                Ok(set) => set.roster,
                Err(CsvError::Invalid { issues }) => {
                    if json {
                        out.json(&serde_json::json!({ "csvProblems": issues }))?;
                    } else {
                        writeln!(out, "{}: {} problem(s) reading the set:", path.display(), issues.total)?;
                        write!(out, "{issues}")?;
                    }
                    return Ok(Outcome::Failed);
                }
                Err(e) => return Err(e).with_context(|| format!("cannot read the CSV set {}", path.display())),
            }
        }
    };
    let report = tokio::task::spawn_blocking(move || validate(&roster, &profile))
        .await
        .context("the validator stopped unexpectedly")?;
    print(&report, json, out)?;
    Ok(if report.is_ok() { Outcome::Success } else { Outcome::Failed })
}

fn drop_deleted(roster: &mut Roster) {
    let live = |s: Status| s != Status::ToBeDeleted;
    roster.orgs.retain(|r| live(r.base.status));
    roster.academic_sessions.retain(|r| live(r.base.status));
    roster.courses.retain(|r| live(r.base.status));
    roster.classes.retain(|r| live(r.base.status));
    roster.users.retain(|r| live(r.base.status));
    roster.enrollments.retain(|r| live(r.base.status));
    roster.demographics.retain(|r| live(r.base.status));
}

/// Prints a report: one finding a line and a summary, or JSON.
pub fn print(report: &Report, json: bool, out: &mut Output) -> std::io::Result<()> {
    if json {
        return out.json(report);
    }
    writeln!(out, "{report}")?;
    if report.is_ok() {
        writeln!(out, "OK: no errors ({} warning(s)) in {} records", report.warnings, report.records())
    } else {
        writeln!(
            out,
            "FAILED: {} error(s), {} warning(s) in {} records",
            report.errors,
            report.warnings,
            report.records()
        )
    }
}
