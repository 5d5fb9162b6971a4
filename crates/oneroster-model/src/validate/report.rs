//! Findings, the report that collects them, and the capped sink that builds it.

use super::Rule;
use crate::entity::EntityKind;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The data is wrong: a consumer will reject the record or misread it.
    Error,
    /// The data is suspicious or incomplete, but usable.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// The kind of the record.
    pub entity: EntityKind,
    /// The record's `sourcedId` (empty if the record has none).
    pub sourced_id: String,
    /// The JSON name of the field at fault (`orgs`, `email`, …), if the finding is about one field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The rule broken.
    pub rule: Rule,
    /// What is wrong, for a person.
    pub message: String,
    /// A replacement value, when one can be suggested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl Finding {
    fn key(&self) -> (EntityKind, &str, Option<&str>, &'static str) {
        (self.entity, &self.sourced_id, self.field.as_deref(), self.rule.id())
    }
}

/// Findings sort by entity kind (in [`EntityKind::ALL`] order), `sourcedId`, field (none first), rule id, then
/// severity, message and suggestion.
impl Ord for Finding {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key()
            .cmp(&other.key())
            .then_with(|| self.severity.cmp(&other.severity))
            .then_with(|| self.message.cmp(&other.message))
            .then_with(|| self.suggestion.cmp(&other.suggestion))
    }
}

impl PartialOrd for Finding {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `error[dangling-reference] enrollment 'e1' user: references user 'u9', which is not in the roster`.
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}] {} '{}'", self.severity, self.rule, self.entity, self.sourced_id)?;
        if let Some(field) = &self.field {
            write!(f, " {field}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(suggestion) = &self.suggestion {
            write!(f, " (suggestion: '{suggestion}')")?;
        }
        Ok(())
    }
}

/// Counts for one kind of record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCounts {
    /// Records validated.
    pub records: usize,
    /// Errors found in them.
    pub errors: usize,
    /// Warnings found in them.
    pub warnings: usize,
}

/// The outcome of validating a roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The findings kept, sorted (see [`Finding`]'s `Ord`). At most the validator's cap; when there were more,
    /// these are the first in sort order, so the report does not depend on the order records were fed in.
    pub findings: Vec<Finding>,
    /// All errors found, kept or not.
    pub errors: usize,
    /// All warnings found, kept or not.
    pub warnings: usize,
    /// Findings counted but not kept because of the cap.
    pub truncated: usize,
    /// Records, errors and warnings per kind; every kind is present.
    pub kinds: BTreeMap<EntityKind, KindCounts>,
}

impl Report {
    /// Whether there are no errors (warnings allowed).
    pub fn is_ok(&self) -> bool {
        self.errors == 0
    }

    /// Records validated, all kinds together.
    pub fn records(&self) -> usize {
        self.kinds.values().map(|k| k.records).sum()
    }
}

/// One finding a line, then a summary line.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            writeln!(f, "{finding}")?;
        }
        write!(f, "{} records: {} errors, {} warnings", self.records(), self.errors, self.warnings)?;
        if self.truncated > 0 {
            write!(f, " ({} findings not shown)", self.truncated)?;
        }
        Ok(())
    }
}

/// Where findings go while validating: counts all of them, keeps the `max` first in sort order.
#[derive(Debug)]
pub(super) struct Sink {
    max: usize,
    kept: BinaryHeap<Finding>,
    truncated: usize,
    kinds: [KindCounts; 7],
}

fn slot(kind: EntityKind) -> usize {
    match kind {
        EntityKind::Org => 0,
        EntityKind::AcademicSession => 1,
        EntityKind::Course => 2,
        EntityKind::Class => 3,
        EntityKind::User => 4,
        EntityKind::Enrollment => 5,
        EntityKind::Demographics => 6,
    }
}

/// What a finding is about, before its message is written.
#[derive(Debug, Clone, Copy)]
pub(super) struct At<'a> {
    pub(super) entity: EntityKind,
    pub(super) sourced_id: &'a str,
    pub(super) field: Option<&'static str>,
}

impl Sink {
    pub(super) fn new(max: usize) -> Sink {
        Sink { max, kept: BinaryHeap::new(), truncated: 0, kinds: [KindCounts::default(); 7] }
    }

    pub(super) fn set_max(&mut self, max: usize) {
        self.max = max;
        while self.kept.len() > max {
            self.kept.pop();
            self.truncated += 1;
        }
    }

    pub(super) fn record(&mut self, kind: EntityKind) {
        if let Some(k) = self.kinds.get_mut(slot(kind)) {
            k.records += 1;
        }
    }

    /// Counts a finding and keeps it if it is among the first `max`; the message and suggestion are built only
    /// then.
    pub(super) fn report(
        &mut self,
        severity: Severity,
        at: At<'_>,
        rule: Rule,
        message: impl FnOnce() -> String,
        suggestion: impl FnOnce() -> Option<String>,
    ) {
        if let Some(k) = self.kinds.get_mut(slot(at.entity)) {
            match severity {
                Severity::Error => k.errors += 1,
                Severity::Warning => k.warnings += 1,
            }
        }
        if self.kept.len() >= self.max {
            let beyond = match self.kept.peek() {
                Some(top) => (at.entity, at.sourced_id, at.field, rule.id()) > top.key(),
                None => true,
            };
            if beyond {
                self.truncated += 1;
                return;
            }
        }
        let finding = Finding {
            severity,
            entity: at.entity,
            sourced_id: at.sourced_id.to_owned(),
            field: at.field.map(str::to_owned),
            rule,
            message: message(),
            suggestion: suggestion(),
        };
        self.kept.push(finding);
        if self.kept.len() > self.max {
            self.kept.pop();
            self.truncated += 1;
        }
    }

    pub(super) fn finish(self) -> Report {
        let mut kinds = BTreeMap::new();
        let (mut errors, mut warnings) = (0, 0);
        for kind in EntityKind::ALL {
            let counts = self.kinds.get(slot(kind)).copied().unwrap_or_default();
            errors += counts.errors;
            warnings += counts.warnings;
            kinds.insert(kind, counts);
        }
        Report { findings: self.kept.into_sorted_vec(), errors, warnings, truncated: self.truncated, kinds }
    }
}
