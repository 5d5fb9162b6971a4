//! The checks that look at more than one record, and what they need: which records exist, and the few facts
//! about them kept in [`Tables`]. Each runs as soon as everything it looks at has been seen, or at the end.

use super::Rule;
use super::keys::{DEFINED, DELETED, Fp, KeyTable, Known, NONE, SCHOOL};
use super::report::{At, Severity, Sink};
use crate::entity::{Base, EntityKind, Status};
use crate::vocab::GuidType;
use std::collections::HashMap;

/// The kinds a reference can point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Org,
    Session,
    Course,
    Class,
    User,
}

impl Target {
    pub(super) fn kind(self) -> EntityKind {
        match self {
            Target::Org => EntityKind::Org,
            Target::Session => EntityKind::AcademicSession,
            Target::Course => EntityKind::Course,
            Target::Class => EntityKind::Class,
            Target::User => EntityKind::User,
        }
    }

    /// Whether a `GUIDRef` of type `kind` may point at this target. `ext:` types are taken on trust.
    pub(super) fn accepts(self, kind: &GuidType) -> bool {
        if matches!(kind, GuidType::Extension(_)) {
            return true;
        }
        match self {
            Target::Org => matches!(kind, GuidType::Org),
            Target::Session => matches!(kind, GuidType::AcademicSession | GuidType::Term | GuidType::GradingPeriod),
            Target::Course => matches!(kind, GuidType::Course),
            Target::Class => matches!(kind, GuidType::Class),
            Target::User => matches!(kind, GuidType::User | GuidType::Student | GuidType::Teacher),
        }
    }

    pub(super) fn expected_types(self) -> &'static str {
        match self {
            Target::Org => "org",
            Target::Session => "academicSession, term or gradingPeriod",
            Target::Course => "course",
            Target::Class => "class",
            Target::User => "user, student or teacher",
        }
    }
}

/// What a resolved reference must also satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    Exists,
    /// The target is an org of type `school` (a class's `school`).
    School,
}

/// The record a check is about.
#[derive(Debug, Clone, Copy)]
pub(super) struct Site<'a> {
    pub(super) entity: EntityKind,
    pub(super) sourced_id: &'a str,
    pub(super) active: bool,
}

impl<'a> Site<'a> {
    pub(super) fn new(entity: EntityKind, base: &'a Base) -> Site<'a> {
        Site { entity, sourced_id: &base.sourced_id, active: base.status == Status::Active }
    }

    pub(super) fn at(self, field: &'static str) -> At<'a> {
        At { entity: self.entity, sourced_id: self.sourced_id, field: Some(field) }
    }
}

/// A check waiting for a record that had not been seen when it was made.
#[derive(Debug)]
pub(super) enum Deferred {
    Ref {
        entity: EntityKind,
        sourced_id: Box<str>,
        active: bool,
        field: &'static str,
        target: Target,
        fp: Fp,
        check: Check,
    },
    EnrollmentClass {
        sourced_id: Box<str>,
        class: Fp,
        school: Fp,
    },
    EnrollmentUser {
        sourced_id: Box<str>,
        user: Fp,
        school: Fp,
    },
}

/// What is kept of the records seen: their ids, and the few facts later records are checked against (a class's
/// school and a user's first org live in their table slots).
#[derive(Debug, Default)]
pub(super) struct Tables {
    pub(super) orgs: KeyTable,
    pub(super) sessions: KeyTable,
    pub(super) courses: KeyTable,
    pub(super) classes: KeyTable,
    pub(super) users: KeyTable,
    /// User id → its orgs after the first, for the few users with more than one.
    pub(super) user_more_orgs: HashMap<u32, Vec<u32>>,
}

impl Tables {
    pub(super) fn table(&self, target: Target) -> &KeyTable {
        match target {
            Target::Org => &self.orgs,
            Target::Session => &self.sessions,
            Target::Course => &self.courses,
            Target::Class => &self.classes,
            Target::User => &self.users,
        }
    }

    pub(super) fn table_mut(&mut self, target: Target) -> &mut KeyTable {
        match target {
            Target::Org => &mut self.orgs,
            Target::Session => &mut self.sessions,
            Target::Course => &mut self.courses,
            Target::Class => &mut self.classes,
            Target::User => &mut self.users,
        }
    }

    pub(super) fn user_in_org(&self, user: Known, org: u32) -> bool {
        user.aux == org || self.user_more_orgs.get(&user.id).is_some_and(|more| more.contains(&org))
    }
}

pub(super) fn check_ref(
    tables: &Tables,
    sink: &mut Sink,
    site: Site<'_>,
    field: &'static str,
    target: Target,
    known: Known,
    check: Check,
) {
    let table = tables.table(target);
    let (id, flags) = (known.id, known.flags);
    let at = site.at(field);
    if flags & DEFINED == 0 {
        sink.report(
            Severity::Error,
            at,
            Rule::DanglingReference,
            || format!("refers to {} '{}', which is not in the roster", target.kind(), table.name(id)),
            || None,
        );
        return;
    }
    if site.active && flags & DELETED != 0 {
        sink.report(
            Severity::Warning,
            at,
            Rule::ReferenceToDeleted,
            || format!("refers to {} '{}', which is marked tobedeleted", target.kind(), table.name(id)),
            || None,
        );
    }
    if check == Check::School && flags & SCHOOL == 0 {
        sink.report(
            Severity::Warning,
            at,
            Rule::ClassSchoolNotSchool,
            || format!("org '{}' is not of type school", table.name(id)),
            || None,
        );
    }
}

/// Whether everything the class check of an enrollment looks at has been seen, so that checking now gives the
/// same answer as checking at the end.
pub(super) fn enrollment_class_ready(tables: &Tables, class: Known, school: Known) -> bool {
    class.is_defined() && school.is_defined() && (class.aux == NONE || tables.orgs.is_defined(class.aux))
}

/// An enrollment's school must be its class's. Silent when the class, or either school, is missing: that is
/// reported as a dangling reference.
pub(super) fn check_enrollment_class(tables: &Tables, sink: &mut Sink, sourced_id: &str, class: Known, school: Known) {
    if !enrollment_class_ready(tables, class, school) || class.aux == NONE || class.aux == school.id {
        return;
    }
    let orgs = &tables.orgs;
    sink.report(
        Severity::Error,
        At { entity: EntityKind::Enrollment, sourced_id, field: Some("school") },
        Rule::EnrollmentSchoolMismatch,
        || {
            format!(
                "school '{}' is not the school '{}' of class '{}'",
                orgs.name(school.id),
                orgs.name(class.aux),
                tables.classes.name(class.id)
            )
        },
        || Some(orgs.name(class.aux).to_owned()),
    );
}

pub(super) fn enrollment_user_ready(user: Known, school: Known) -> bool {
    user.is_defined() && school.is_defined()
}

/// An enrollment's user should belong to the enrollment's school. Silent when the user or the school is missing.
pub(super) fn check_enrollment_user(tables: &Tables, sink: &mut Sink, sourced_id: &str, user: Known, school: Known) {
    if !enrollment_user_ready(user, school) || tables.user_in_org(user, school.id) {
        return;
    }
    sink.report(
        Severity::Warning,
        At { entity: EntityKind::Enrollment, sourced_id, field: Some("user") },
        Rule::EnrollmentUserNotInSchool,
        || {
            format!(
                "user '{}' does not list school '{}' among its orgs",
                tables.users.name(user.id),
                tables.orgs.name(school.id)
            )
        },
        || None,
    );
}
