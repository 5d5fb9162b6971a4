//! Reading a CSV set from a folder or a `.zip`.

use super::columns::{CsvEntity, Row};
use super::manifest::{CsvFile, FileMode, Manifest};
use super::{CsvError, CsvIssue, CsvIssues};
use crate::{AcademicSession, Class, Course, Demographics, Enrollment, Org, Roster, User};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// How to read a set.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReadOptions {
    /// The most problems to keep (all are counted). Default 1,000.
    pub max_issues: usize,
}

impl Default for ReadOptions {
    fn default() -> ReadOptions {
        ReadOptions { max_issues: 1000 }
    }
}

impl ReadOptions {
    /// Keep at most this many problems.
    pub fn max_issues(mut self, max: usize) -> ReadOptions {
        self.max_issues = max;
        self
    }
}

/// A whole set read into memory.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvSet {
    /// The manifest.
    pub manifest: Manifest,
    /// The records.
    pub roster: Roster,
    /// Things that did not stop the read but that an operator should know (ignored columns or files).
    pub warnings: Vec<CsvIssue>,
}

enum Source {
    Dir(PathBuf),
    Zip { path: PathBuf, archive: zip::ZipArchive<BufReader<File>> },
}

/// An open CSV set, read one file at a time.
///
/// ```no_run
/// use oneroster_model::csv::{CsvSetReader, ReadOptions};
/// use oneroster_model::User;
///
/// let mut set = CsvSetReader::open("export.zip", ReadOptions::default())?;
/// let mut count = 0;
/// for user in set.records::<User>()? {
///     match user {
///         Ok(_user) => count += 1,
///         Err(issues) => eprintln!("{}", issues[0]),
///     }
/// }
/// # Ok::<(), oneroster_model::csv::CsvError>(())
/// ```
pub struct CsvSetReader {
    source: Source,
    manifest: Manifest,
    options: ReadOptions,
    warnings: Vec<CsvIssue>,
}

impl std::fmt::Debug for CsvSetReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvSetReader").field("path", &self.path()).field("manifest", &self.manifest).finish()
    }
}

pub(crate) fn clean_header(name: &str) -> String {
    name.trim_start_matches('\u{feff}').trim().to_owned()
}

fn io_error(path: &Path, source: std::io::Error) -> CsvError {
    CsvError::Io { path: path.to_owned(), source }
}

impl CsvSetReader {
    /// Opens a set: a folder holding `manifest.csv` and the data files, or a `.zip` of them (the files may sit in one
    /// folder inside the zip). Reads and checks the manifest.
    pub fn open(path: impl AsRef<Path>, options: ReadOptions) -> Result<CsvSetReader, CsvError> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
        let source = if meta.is_dir() {
            Source::Dir(path.to_owned())
        } else {
            let file = File::open(path).map_err(|e| io_error(path, e))?;
            let archive = zip::ZipArchive::new(BufReader::new(file))
                .map_err(|e| CsvError::Zip { path: path.to_owned(), message: e.to_string() })?;
            Source::Zip { path: path.to_owned(), archive }
        };
        let mut reader = CsvSetReader { source, manifest: Manifest::default(), options, warnings: Vec::new() };
        let mut issues = CsvIssues::default();
        let max_issues = reader.options.max_issues;
        let manifest = match Self::open_file(&mut reader.source, "manifest.csv")? {
            Some(file) => Manifest::from_reader(file, max_issues, &mut issues),
            None => return Err(CsvError::MissingManifest { path: path.to_owned() }),
        };
        if !issues.is_empty() {
            return Err(CsvError::Invalid { issues });
        }
        for file in CsvFile::ALL {
            let mode = manifest.mode(file);
            let present = reader.has_file(&file.file_name());
            if mode != FileMode::Absent && !present {
                return Err(CsvError::MissingFile { file: file.file_name(), mode });
            }
            if mode == FileMode::Absent && present {
                reader.warn(&file.file_name(), "present but marked absent in manifest.csv: ignored".into());
            } else if mode != FileMode::Absent && file.entity().is_none() {
                reader.warn(&file.file_name(), "a gradebook file: this reader reads the rostering files only".into());
            }
        }
        reader.manifest = manifest;
        Ok(reader)
    }

    fn warn(&mut self, file: &str, message: String) {
        self.warnings.push(CsvIssue { file: file.to_owned(), line: 0, column: None, value: None, message });
    }

    /// Where the set is.
    pub fn path(&self) -> &Path {
        match &self.source {
            Source::Dir(p) | Source::Zip { path: p, .. } => p,
        }
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Warnings so far (ignored files and columns).
    pub fn warnings(&self) -> &[CsvIssue] {
        &self.warnings
    }

    fn zip_entry_name(archive: &zip::ZipArchive<BufReader<File>>, name: &str) -> Option<String> {
        let mut best: Option<&str> = None;
        for entry in archive.file_names() {
            let base = entry.rsplit('/').next().unwrap_or(entry);
            if base == name {
                return Some(entry.to_owned());
            }
            if base.eq_ignore_ascii_case(name) && best.is_none() {
                best = Some(entry);
            }
        }
        best.map(str::to_owned)
    }

    fn dir_entry(dir: &Path, name: &str) -> Option<PathBuf> {
        let exact = dir.join(name);
        if exact.is_file() {
            return Some(exact);
        }
        std::fs::read_dir(dir).ok()?.filter_map(Result::ok).map(|e| e.path()).find(|p| {
            p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    fn has_file(&self, name: &str) -> bool {
        match &self.source {
            Source::Dir(dir) => Self::dir_entry(dir, name).is_some(),
            Source::Zip { archive, .. } => Self::zip_entry_name(archive, name).is_some(),
        }
    }

    fn open_file<'s>(source: &'s mut Source, name: &str) -> Result<Option<Box<dyn Read + 's>>, CsvError> {
        match source {
            Source::Dir(dir) => match Self::dir_entry(dir, name) {
                Some(path) => {
                    let file = File::open(&path).map_err(|e| io_error(&path, e))?;
                    Ok(Some(Box::new(BufReader::with_capacity(256 * 1024, file))))
                }
                None => Ok(None),
            },
            Source::Zip { path, archive } => match Self::zip_entry_name(archive, name) {
                Some(entry) => {
                    let file = archive
                        .by_name(&entry)
                        .map_err(|e| CsvError::Zip { path: path.clone(), message: format!("{entry}: {e}") })?;
                    Ok(Some(Box::new(BufReader::with_capacity(256 * 1024, file))))
                }
                None => Ok(None),
            },
        }
    }

    /// Streams the records of one kind. A kind whose file the manifest marks absent yields nothing.
    ///
    /// Each item is a record or the problems of one row. Problems of the file itself (a missing required column,
    /// an unreadable header) are returned as an error before any row.
    pub fn records<E: CsvEntity>(&mut self) -> Result<Records<'_, E>, CsvError> {
        let file = CsvFile::for_entity(E::KIND);
        let mode = self.manifest.mode(file);
        let name = file.file_name();
        let max_issues = self.options.max_issues;
        if mode == FileMode::Absent {
            return Ok(Records::empty(name, mode));
        }
        let Some(input) = Self::open_file(&mut self.source, &name)? else {
            return Err(CsvError::MissingFile { file: name, mode });
        };
        let mut csv = ::csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(input);
        let mut header = ::csv::StringRecord::new();
        let file_issue = |message: String, value: Option<String>| CsvIssue {
            file: name.clone(),
            line: 1,
            column: None,
            value,
            message,
        };
        match csv.read_record(&mut header) {
            Ok(true) => {}
            Ok(false) => {
                let mut issues = CsvIssues::default();
                issues.push(max_issues, file_issue("the file is empty: it needs at least a header row".into(), None));
                return Err(CsvError::Invalid { issues });
            }
            Err(e) => {
                let mut issues = CsvIssues::default();
                issues.push(max_issues, file_issue(format!("unreadable header: {e}"), None));
                return Err(CsvError::Invalid { issues });
            }
        }
        let names: Vec<String> = header.iter().map(clean_header).collect();
        let mut index = vec![None; E::COLUMNS.len()];
        let mut metadata = Vec::new();
        let mut unknown = Vec::new();
        let mut issues = CsvIssues::default();
        for (i, name) in names.iter().enumerate() {
            if let Some(col) = E::COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(name)) {
                if index[col].is_some() {
                    issues.push(max_issues, file_issue(format!("column `{name}` appears twice"), Some(name.clone())));
                }
                index[col] = Some(i);
            } else if let Some(key) = name.strip_prefix("metadata.").filter(|k| !k.is_empty()) {
                metadata.push((i, key.to_owned()));
            } else if !name.is_empty() {
                unknown.push(name.clone());
            }
        }
        for required in E::REQUIRED_COLUMNS {
            let col = E::COLUMNS.iter().position(|c| c == required);
            if col.is_some_and(|c| index[c].is_none()) {
                issues.push(
                    max_issues,
                    CsvIssue {
                        file: name.clone(),
                        line: 1,
                        column: Some((*required).to_owned()),
                        value: None,
                        message: format!("required column `{required}` is missing from the header"),
                    },
                );
            }
        }
        if !issues.is_empty() {
            return Err(CsvError::Invalid { issues });
        }
        for column in unknown {
            self.warnings.push(CsvIssue {
                file: name.clone(),
                line: 1,
                column: Some(column),
                value: None,
                message: "not a OneRoster 1.1 column (nor metadata.*): ignored".into(),
            });
        }
        Ok(Records {
            file: name,
            mode,
            csv: Some(csv),
            width: names.len(),
            index,
            metadata,
            record: ::csv::StringRecord::new(),
            _kind: std::marker::PhantomData,
        })
    }
}

/// The records of one file, streamed; see [`CsvSetReader::records`].
pub struct Records<'a, E> {
    file: String,
    mode: FileMode,
    csv: Option<::csv::Reader<Box<dyn Read + 'a>>>,
    width: usize,
    index: Vec<Option<usize>>,
    metadata: Vec<(usize, String)>,
    record: ::csv::StringRecord,
    _kind: std::marker::PhantomData<fn() -> E>,
}

impl<E> std::fmt::Debug for Records<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records").field("file", &self.file).field("mode", &self.mode).finish_non_exhaustive()
    }
}

impl<E> Records<'_, E> {
    fn empty(file: String, mode: FileMode) -> Self {
        Records {
            file,
            mode,
            csv: None,
            width: 0,
            index: Vec::new(),
            metadata: Vec::new(),
            record: ::csv::StringRecord::new(),
            _kind: std::marker::PhantomData,
        }
    }

    /// How the manifest says this file is supplied.
    pub fn mode(&self) -> FileMode {
        self.mode
    }

    /// The file name.
    pub fn file(&self) -> &str {
        &self.file
    }
}

impl<E: CsvEntity> Iterator for Records<'_, E> {
    /// A record, or every problem found in one row.
    type Item = Result<E, Vec<CsvIssue>>;

    fn next(&mut self) -> Option<Self::Item> {
        let csv = self.csv.as_mut()?;
        loop {
            let line = csv.position().line();
            let issue =
                |message: String| CsvIssue { file: self.file.clone(), line, column: None, value: None, message };
            match csv.read_record(&mut self.record) {
                Ok(false) => return None,
                Err(e) => {
                    let message = match e.kind() {
                        ::csv::ErrorKind::Utf8 { .. } => {
                            "the row is not valid UTF-8 (save the file as UTF-8)".to_owned()
                        }
                        _ => format!("unreadable row: {e}"),
                    };
                    let line = e.position().map_or(line, |p| p.line());
                    return Some(Err(vec![CsvIssue { line, ..issue(message) }]));
                }
                Ok(true) => {}
            }
            let line = self.record.position().map_or(line, |p| p.line());
            // A blank line (one empty field) is skipped, as spreadsheet exports often end with one.
            if self.record.len() == 1 && self.record.get(0).is_some_and(|f| f.trim().is_empty()) {
                continue;
            }
            if self.record.len() != self.width {
                return Some(Err(vec![CsvIssue {
                    line,
                    ..issue(format!("the row has {} fields but the header has {}", self.record.len(), self.width))
                }]));
            }
            let mut row = Row {
                file: &self.file,
                line,
                mode: self.mode,
                columns: E::COLUMNS,
                index: &self.index,
                metadata: &self.metadata,
                record: &self.record,
                issues: Vec::new(),
            };
            let entity = E::from_row(&mut row);
            return Some(match entity {
                Some(entity) if row.issues.is_empty() => Ok(entity),
                _ => Err(row.issues),
            });
        }
    }
}

fn collect<E: CsvEntity>(reader: &mut CsvSetReader, out: &mut Vec<E>, issues: &mut CsvIssues) -> Result<(), CsvError> {
    let cap = reader.options.max_issues;
    match reader.records::<E>() {
        Ok(records) => {
            for record in records {
                match record {
                    Ok(entity) => out.push(entity),
                    Err(row_issues) => row_issues.into_iter().for_each(|i| issues.push(cap, i)),
                }
            }
            Ok(())
        }
        Err(CsvError::Invalid { issues: file_issues }) => {
            issues.total += file_issues.total - file_issues.issues.len();
            file_issues.issues.into_iter().for_each(|i| issues.push(cap, i));
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Reads a whole set (folder or `.zip`) into memory.
///
/// Fails with [`CsvError::Invalid`] listing every problem (up to the cap) if any row or file is bad: a set is
/// accepted whole or not at all.
pub fn read_roster(path: impl AsRef<Path>, options: &ReadOptions) -> Result<CsvSet, CsvError> {
    let mut reader = CsvSetReader::open(path, options.clone())?;
    let mut roster = Roster::default();
    let mut issues = CsvIssues::default();
    collect::<Org>(&mut reader, &mut roster.orgs, &mut issues)?;
    collect::<AcademicSession>(&mut reader, &mut roster.academic_sessions, &mut issues)?;
    collect::<Course>(&mut reader, &mut roster.courses, &mut issues)?;
    collect::<Class>(&mut reader, &mut roster.classes, &mut issues)?;
    collect::<User>(&mut reader, &mut roster.users, &mut issues)?;
    collect::<Enrollment>(&mut reader, &mut roster.enrollments, &mut issues)?;
    collect::<Demographics>(&mut reader, &mut roster.demographics, &mut issues)?;
    if !issues.is_empty() {
        return Err(CsvError::Invalid { issues });
    }
    Ok(CsvSet { manifest: reader.manifest.clone(), roster, warnings: reader.warnings })
}
