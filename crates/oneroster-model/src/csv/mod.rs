//! The OneRoster 1.1 CSV binding: `manifest.csv` and the rostering files it names, read from a folder or a `.zip`,
//! written to either.
//!
//! # Reading
//!
//! [`CsvSetReader`] opens a set and streams one file's records at a time, so a set of millions of rows can be
//! imported or validated without holding it all; [`read_roster`] collects a whole set into a [`Roster`].
//!
//! Real exports are messy, so the reader accepts, beyond the letter of the specification:
//!
//! * a UTF-8 byte-order mark, CRLF or LF line ends, header names in any letter case and in any order;
//! * optional columns left out altogether (a column for a required field must be there);
//! * `TRUE`/`True`/`true` for booleans, any letter case for vocabulary values;
//! * blank `status` and `dateLastModified` in bulk files (`status` is then `active`); in delta files both are
//!   required, as the specification says;
//! * dates with or without a time (`2024-09-01`, `2024-09-01T00:00:00Z`) and date-times without milliseconds or zone;
//! * lists as a quoted comma list (`"09,10,11"`), and `userIds` as `{type:identifier}` items (`"{LDAP:jdoe},{SIS:42}"`);
//! * extension columns named `metadata.<name>`, read into `metadata`. Other unknown columns are reported as
//!   warnings and ignored.
//!
//! Every problem names the file, the line, the column and the offending value. A bad row does not stop the
//! others: problems are collected (up to a cap, [`ReadOptions::max_issues`]) and reported together.
//!
//! The gradebook files of the specification (`categories`, `lineItems`, `results`, `resources`,
//! `classResources`, `courseResources`) are recognised in the manifest but not read; a set that supplies them gets a
//! warning saying so.
//!
//! # Writing
//!
//! [`write_roster`] writes a set (folder or `.zip`) whose every field reads back to the same [`Roster`]: round
//! trips are exact for everything the CSV binding can carry. It cannot carry `href`, `children` and `resources`
//! (derived or gradebook data), GUIDRef types other than the one each column implies, list items that contain a
//! comma, or `userIds` whose type contains `:` or either part contains `}`.

mod columns;
mod manifest;
mod read;
mod write;

pub use columns::CsvEntity;
pub use manifest::{CsvFile, FileMode, Manifest};
pub use read::{CsvSet, CsvSetReader, ReadOptions, Records, read_roster};
pub use write::{WriteOptions, write_roster};

use std::fmt;
use std::path::PathBuf;

use crate::Roster;

/// One problem in a CSV set, located as precisely as it can be.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CsvIssue {
    /// The file, e.g. `users.csv`.
    pub file: String,
    /// The line, counting from 1 (the header is line 1); 0 when the problem is the file itself.
    pub line: u64,
    /// The column's header name, when one column is at fault.
    pub column: Option<String>,
    /// The offending value, when there is one.
    pub value: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for CsvIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, " line {}", self.line)?;
        }
        if let Some(column) = &self.column {
            write!(f, " column `{column}`")?;
        }
        if let Some(value) = &self.value {
            write!(f, " value {value:?}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The problems found in a CSV set, up to a cap, and how many there were in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CsvIssues {
    /// The first problems found, in file and line order.
    pub issues: Vec<CsvIssue>,
    /// How many problems there were in all; more than `issues.len()` when the cap was reached.
    pub total: usize,
}

impl CsvIssues {
    pub(crate) fn push(&mut self, cap: usize, issue: CsvIssue) {
        self.total += 1;
        if self.issues.len() < cap {
            self.issues.push(issue);
        }
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

impl fmt::Display for CsvIssues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for issue in &self.issues {
            writeln!(f, "  {issue}")?;
        }
        if self.total > self.issues.len() {
            writeln!(f, "  … and {} more", self.total - self.issues.len())?;
        }
        Ok(())
    }
}

/// Why a CSV set could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A `.zip` file is damaged or not a zip.
    #[error("{}: not a readable zip archive: {message}", path.display())]
    Zip {
        /// The path.
        path: PathBuf,
        /// What the zip reader said.
        message: String,
    },
    /// The set has no `manifest.csv`.
    #[error("{}: no manifest.csv (a OneRoster 1.1 CSV set must have one)", path.display())]
    MissingManifest {
        /// The folder or zip.
        path: PathBuf,
    },
    /// The manifest names a file as bulk or delta, but the set does not contain it.
    #[error("manifest.csv says {file} is {mode}, but the set has no such file")]
    MissingFile {
        /// The file name.
        file: String,
        /// What the manifest says.
        mode: FileMode,
    },
    /// The set has problems; all of them (up to the cap) are listed.
    #[error("the CSV set has {} problem(s):\n{issues}", issues.total)]
    Invalid {
        /// The problems.
        issues: CsvIssues,
    },
}

impl CsvError {
    /// The problems, when the set was readable but its content was not.
    pub fn issues(&self) -> Option<&CsvIssues> {
        match self {
            CsvError::Invalid { issues } => Some(issues),
            _ => None,
        }
    }
}

/// Convenience: read a set from a folder or `.zip` and return its roster only.
pub fn read_roster_only(path: impl AsRef<std::path::Path>) -> Result<Roster, CsvError> {
    read_roster(path, &ReadOptions::default()).map(|set| set.roster)
}
