//! Writing a CSV set to a folder or a `.zip`.

use super::CsvError;
use super::columns::CsvEntity;
use super::manifest::{CsvFile, FileMode, Manifest};
use crate::{EntityKind, Roster};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

/// How to write a set.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct WriteOptions {
    /// The mode of each rostering file. Kinds not listed are written as bulk. A kind marked absent is not written.
    pub modes: BTreeMap<EntityKind, FileMode>,
    /// Write a `.zip` instead of a folder.
    pub zip: bool,
    /// `source.systemName` for the manifest.
    pub source_system_name: Option<String>,
}

impl WriteOptions {
    /// Writes a zip archive at the target path.
    pub fn zip(mut self, zip: bool) -> WriteOptions {
        self.zip = zip;
        self
    }

    /// Sets the mode of one kind's file.
    pub fn mode(mut self, kind: EntityKind, mode: FileMode) -> WriteOptions {
        self.modes.insert(kind, mode);
        self
    }

    fn mode_of(&self, kind: EntityKind) -> FileMode {
        self.modes.get(&kind).copied().unwrap_or(FileMode::Bulk)
    }
}

fn render<E: CsvEntity>(records: &[E]) -> Result<Vec<u8>, ::csv::Error> {
    let metadata: BTreeSet<&str> = records.iter().flat_map(|r| r.base().metadata.keys().map(String::as_str)).collect();
    let mut csv = ::csv::WriterBuilder::new().terminator(::csv::Terminator::CRLF).from_writer(Vec::new());
    let mut header: Vec<String> = E::COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    header.extend(metadata.iter().map(|k| format!("metadata.{k}")));
    csv.write_record(&header)?;
    let mut row = Vec::with_capacity(header.len());
    for record in records {
        row.clear();
        record.to_row(&mut row);
        for key in &metadata {
            row.push(match record.base().metadata.get(*key) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            });
        }
        csv.write_record(&row)?;
    }
    csv.into_inner().map_err(|e| e.into_error().into())
}

/// Writes a roster as a OneRoster 1.1 CSV set: a folder (created if needed) or, with [`WriteOptions::zip`], a
/// `.zip` file at `target`.
pub fn write_roster(roster: &Roster, target: impl AsRef<Path>, options: &WriteOptions) -> Result<(), CsvError> {
    let target = target.as_ref();
    let io = |e: std::io::Error| CsvError::Io { path: target.to_owned(), source: e };
    let csv_err = |e: ::csv::Error| CsvError::Io { path: target.to_owned(), source: std::io::Error::other(e) };

    let mut manifest = Manifest { source_system_name: options.source_system_name.clone(), ..Manifest::default() };
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |kind: EntityKind, bytes: Result<Vec<u8>, ::csv::Error>| -> Result<(), CsvError> {
        let file = CsvFile::for_entity(kind);
        manifest.files.insert(file, options.mode_of(kind));
        files.push((file.file_name(), bytes.map_err(csv_err)?));
        Ok(())
    };
    for kind in EntityKind::ALL {
        if options.mode_of(kind) == FileMode::Absent {
            continue;
        }
        match kind {
            EntityKind::Org => add(kind, render(&roster.orgs))?,
            EntityKind::AcademicSession => add(kind, render(&roster.academic_sessions))?,
            EntityKind::Course => add(kind, render(&roster.courses))?,
            EntityKind::Class => add(kind, render(&roster.classes))?,
            EntityKind::User => add(kind, render(&roster.users))?,
            EntityKind::Enrollment => add(kind, render(&roster.enrollments))?,
            EntityKind::Demographics => add(kind, render(&roster.demographics))?,
        }
    }
    let mut manifest_bytes = Vec::new();
    manifest.to_csv(&mut manifest_bytes).map_err(csv_err)?;
    files.insert(0, ("manifest.csv".to_owned(), manifest_bytes));

    if options.zip {
        let file = std::fs::File::create(target).map_err(io)?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in files {
            zip.start_file(name, opts).map_err(|e| io(std::io::Error::other(e)))?;
            zip.write_all(&bytes).map_err(io)?;
        }
        let mut inner = zip.finish().map_err(|e| io(std::io::Error::other(e)))?;
        inner.flush().map_err(io)?;
    } else {
        std::fs::create_dir_all(target).map_err(io)?;
        for (name, bytes) in files {
            let path = target.join(&name);
            std::fs::write(&path, bytes).map_err(|e| CsvError::Io { path, source: e })?;
        }
    }
    Ok(())
}
