//! `manifest.csv`.

use super::{CsvIssue, CsvIssues};
use std::collections::BTreeMap;
use std::fmt;

/// How a file of the set is supplied (`file.<name>` in the manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileMode {
    /// Not supplied.
    Absent,
    /// The complete data of its kind: records not in it no longer exist.
    Bulk,
    /// Changes only: new or changed records, and deletions as `status=tobedeleted`.
    Delta,
}

impl FileMode {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FileMode::Absent => "absent",
            FileMode::Bulk => "bulk",
            FileMode::Delta => "delta",
        }
    }

    fn parse(text: &str) -> Option<FileMode> {
        let t = text.trim();
        [FileMode::Absent, FileMode::Bulk, FileMode::Delta].into_iter().find(|m| t.eq_ignore_ascii_case(m.as_str()))
    }
}

impl fmt::Display for FileMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The data files a OneRoster 1.1 CSV set may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[allow(missing_docs)]
pub enum CsvFile {
    AcademicSessions,
    Categories,
    Classes,
    ClassResources,
    Courses,
    CourseResources,
    Demographics,
    Enrollments,
    LineItems,
    Orgs,
    Resources,
    Results,
    Users,
}

impl CsvFile {
    /// Every file, in the specification's order.
    pub const ALL: [CsvFile; 13] = [
        CsvFile::AcademicSessions,
        CsvFile::Categories,
        CsvFile::Classes,
        CsvFile::ClassResources,
        CsvFile::Courses,
        CsvFile::CourseResources,
        CsvFile::Demographics,
        CsvFile::Enrollments,
        CsvFile::LineItems,
        CsvFile::Orgs,
        CsvFile::Resources,
        CsvFile::Results,
        CsvFile::Users,
    ];

    /// The name without `.csv`, as used in the manifest's `file.<name>`.
    pub fn stem(self) -> &'static str {
        match self {
            CsvFile::AcademicSessions => "academicSessions",
            CsvFile::Categories => "categories",
            CsvFile::Classes => "classes",
            CsvFile::ClassResources => "classResources",
            CsvFile::Courses => "courses",
            CsvFile::CourseResources => "courseResources",
            CsvFile::Demographics => "demographics",
            CsvFile::Enrollments => "enrollments",
            CsvFile::LineItems => "lineItems",
            CsvFile::Orgs => "orgs",
            CsvFile::Resources => "resources",
            CsvFile::Results => "results",
            CsvFile::Users => "users",
        }
    }

    /// The file name, e.g. `users.csv`.
    pub fn file_name(self) -> String {
        format!("{}.csv", self.stem())
    }

    /// The rostering entity this file holds, or `None` for the gradebook files this crate does not read.
    pub fn entity(self) -> Option<crate::EntityKind> {
        use crate::EntityKind as K;
        Some(match self {
            CsvFile::AcademicSessions => K::AcademicSession,
            CsvFile::Classes => K::Class,
            CsvFile::Courses => K::Course,
            CsvFile::Demographics => K::Demographics,
            CsvFile::Enrollments => K::Enrollment,
            CsvFile::Orgs => K::Org,
            CsvFile::Users => K::User,
            _ => return None,
        })
    }

    /// The file that holds an entity kind.
    pub fn for_entity(kind: crate::EntityKind) -> CsvFile {
        use crate::EntityKind as K;
        match kind {
            K::Org => CsvFile::Orgs,
            K::AcademicSession => CsvFile::AcademicSessions,
            K::Course => CsvFile::Courses,
            K::Class => CsvFile::Classes,
            K::User => CsvFile::Users,
            K::Enrollment => CsvFile::Enrollments,
            K::Demographics => CsvFile::Demographics,
        }
    }
}

/// The content of `manifest.csv`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Manifest {
    /// `manifest.version`, `1.0` for OneRoster 1.1.
    pub manifest_version: String,
    /// `oneroster.version`, `1.1`.
    pub oneroster_version: String,
    /// `file.<name>` for every data file; a file the manifest does not mention is absent.
    pub files: BTreeMap<CsvFile, FileMode>,
    /// `source.systemName`, optional.
    pub source_system_name: Option<String>,
    /// `source.systemCode`, optional.
    pub source_system_code: Option<String>,
    /// Any other property, kept as written.
    pub other: BTreeMap<String, String>,
}

impl Default for Manifest {
    fn default() -> Manifest {
        Manifest {
            manifest_version: "1.0".into(),
            oneroster_version: "1.1".into(),
            files: CsvFile::ALL.into_iter().map(|f| (f, FileMode::Absent)).collect(),
            source_system_name: None,
            source_system_code: None,
            other: BTreeMap::new(),
        }
    }
}

impl Manifest {
    /// How a file is supplied.
    pub fn mode(&self, file: CsvFile) -> FileMode {
        self.files.get(&file).copied().unwrap_or(FileMode::Absent)
    }

    /// Reads the manifest's records (`propertyName,value`), reporting problems into `issues`.
    pub(crate) fn from_reader<R: std::io::Read>(reader: R, cap: usize, issues: &mut CsvIssues) -> Manifest {
        let mut manifest =
            Manifest { manifest_version: String::new(), oneroster_version: String::new(), ..Manifest::default() };
        let issue = |line: u64, column: Option<&str>, value: Option<&str>, message: String| CsvIssue {
            file: "manifest.csv".into(),
            line,
            column: column.map(str::to_owned),
            value: value.map(str::to_owned),
            message,
        };
        let mut csv = ::csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(reader);
        match csv.headers() {
            Ok(h) => {
                let names: Vec<String> = h.iter().map(super::read::clean_header).collect();
                if names.len() < 2
                    || !names[0].eq_ignore_ascii_case("propertyName")
                    || !names[1].eq_ignore_ascii_case("value")
                {
                    issues.push(
                        cap,
                        issue(1, None, Some(&names.join(",")), "the header must be `propertyName,value`".into()),
                    );
                }
            }
            Err(e) => issues.push(cap, issue(1, None, None, format!("unreadable header: {e}"))),
        }
        let mut record = ::csv::StringRecord::new();
        loop {
            let line = csv.position().line() + 1;
            match csv.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    issues.push(cap, issue(line, None, None, format!("unreadable row: {e}")));
                    continue;
                }
            }
            let line = record.position().map_or(line, |p| p.line());
            let name = record.get(0).unwrap_or("").trim();
            let value = record.get(1).unwrap_or("").trim();
            if name.is_empty() {
                continue;
            }
            match name {
                "manifest.version" => manifest.manifest_version = value.to_owned(),
                "oneroster.version" => manifest.oneroster_version = value.to_owned(),
                "source.systemName" => manifest.source_system_name = Some(value.to_owned()).filter(|v| !v.is_empty()),
                "source.systemCode" => manifest.source_system_code = Some(value.to_owned()).filter(|v| !v.is_empty()),
                _ => {
                    if let Some(stem) = name.strip_prefix("file.") {
                        match CsvFile::ALL.into_iter().find(|f| f.stem().eq_ignore_ascii_case(stem)) {
                            Some(file) => match FileMode::parse(value) {
                                Some(mode) => {
                                    manifest.files.insert(file, mode);
                                }
                                None => issues.push(
                                    cap,
                                    issue(
                                        line,
                                        Some("value"),
                                        Some(value),
                                        format!("`{name}` must be bulk, delta or absent"),
                                    ),
                                ),
                            },
                            None => issues.push(
                                cap,
                                issue(
                                    line,
                                    Some("propertyName"),
                                    Some(name),
                                    "not a file of a OneRoster 1.1 CSV set".into(),
                                ),
                            ),
                        }
                    } else {
                        manifest.other.insert(name.to_owned(), value.to_owned());
                    }
                }
            }
        }
        if manifest.oneroster_version.is_empty() {
            issues
                .push(cap, issue(0, Some("oneroster.version"), None, "the manifest has no `oneroster.version`".into()));
        } else if manifest.oneroster_version != "1.1" {
            issues.push(
                cap,
                issue(
                    0,
                    Some("oneroster.version"),
                    Some(&manifest.oneroster_version),
                    "this reader reads OneRoster 1.1 sets (`oneroster.version` must be 1.1)".into(),
                ),
            );
        }
        if manifest.manifest_version.is_empty() {
            manifest.manifest_version = "1.0".into();
        }
        manifest
    }

    /// Writes the manifest as CSV.
    pub(crate) fn to_csv<W: std::io::Write>(&self, writer: W) -> Result<(), ::csv::Error> {
        let mut csv = ::csv::WriterBuilder::new().terminator(::csv::Terminator::CRLF).from_writer(writer);
        csv.write_record(["propertyName", "value"])?;
        csv.write_record(["manifest.version", self.manifest_version.as_str()])?;
        csv.write_record(["oneroster.version", self.oneroster_version.as_str()])?;
        for file in CsvFile::ALL {
            csv.write_record([format!("file.{}", file.stem()).as_str(), self.mode(file).as_str()])?;
        }
        if let Some(name) = &self.source_system_name {
            csv.write_record(["source.systemName", name.as_str()])?;
        }
        if let Some(code) = &self.source_system_code {
            csv.write_record(["source.systemCode", code.as_str()])?;
        }
        for (name, value) in &self.other {
            csv.write_record([name.as_str(), value.as_str()])?;
        }
        csv.flush()?;
        Ok(())
    }
}
