//! `import`: reads a OneRoster 1.1 CSV set (a folder or a `.zip`) and imports it into the store in one
//! transaction. If any row or file has a problem, every problem is listed (file, line, column, value) and nothing
//! is imported.

use crate::Outcome;
use crate::output::Output;
use anyhow::Context as _;
use oneroster_model::csv::{CsvError, ReadOptions, read_roster};
use roster_store::{ImportMode, ImportOptions, ImportReport, Store};
use std::io::Write as _;
use std::path::Path;

/// Reads the set at `csv` and imports it: per kind as its manifest says (`bulk` kinds replace, `delta` kinds
/// apply), or every kind as a delta when `delta` is set. Prints created/updated/unchanged/deleted per kind (JSON
/// with `json`). Returns [`Outcome::Failed`] (having imported nothing) if the set has problems.
pub async fn run(store: &Store, csv: &Path, delta: bool, json: bool, out: &mut Output) -> anyhow::Result<Outcome> {
    let path = csv.to_owned();
    let read = tokio::task::spawn_blocking(move || read_roster(&path, &ReadOptions::default()))
        .await
        .context("the CSV reader stopped unexpectedly")?;
    let set = match read {
        Ok(set) => set,
        Err(CsvError::Invalid { issues }) => {
            if json {
                out.json(&serde_json::json!({ "imported": false, "problems": issues }))?;
            } else {
                writeln!(
                    out,
                    "{}: {} problem(s); nothing was imported, the stored roster is unchanged:",
                    csv.display(),
                    issues.total
                )?;
                write!(out, "{issues}")?;
            }
            return Ok(Outcome::Failed);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read the CSV set {}", csv.display())),
    };
    for warning in &set.warnings {
        tracing::warn!(%warning, "CSV set warning");
    }
    let mode = if delta { ImportMode::Delta } else { ImportMode::from_manifest(&set.manifest) };
    let options = ImportOptions::new(mode).source(csv.display().to_string());
    let report = store
        .import_roster_with(&set.roster, &options, chrono::Utc::now())
        .await
        .context("the import failed; nothing was imported, the stored roster is unchanged")?;
    print_report(&report, json, out)?;
    Ok(Outcome::Success)
}

/// Prints an import report: a table per kind and the totals, or JSON.
pub fn print_report(report: &ImportReport, json: bool, out: &mut Output) -> std::io::Result<()> {
    if json {
        return out.json(report);
    }
    writeln!(out, "imported: roster version {} at {}", report.version, report.imported_at.to_rfc3339())?;
    writeln!(out, "{:<18} {:>10} {:>10} {:>10} {:>10}", "kind", "created", "updated", "unchanged", "deleted")?;
    for (kind, c) in &report.kinds {
        writeln!(
            out,
            "{:<18} {:>10} {:>10} {:>10} {:>10}",
            kind.collection_key(),
            c.created,
            c.updated,
            c.unchanged,
            c.deleted
        )?;
    }
    let t = report.totals();
    writeln!(out, "{:<18} {:>10} {:>10} {:>10} {:>10}", "total", t.created, t.updated, t.unchanged, t.deleted)
}
