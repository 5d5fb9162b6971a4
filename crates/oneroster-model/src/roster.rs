//! A whole roster in memory.

use crate::entity::{AcademicSession, Class, Course, Demographics, Enrollment, GuidRef, Org, User};
use crate::vocab::GuidType;
use std::collections::BTreeMap;

/// Every rostering record of one data set.
///
/// Fine for tests, fixtures and rosters of a few schools. A large CSV set can be read and validated record by record
/// without holding all of it (see [`crate::csv::CsvSetReader`] and [`crate::validate::Validator`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Roster {
    /// `orgs`
    pub orgs: Vec<Org>,
    /// `academicSessions`
    pub academic_sessions: Vec<AcademicSession>,
    /// `courses`
    pub courses: Vec<Course>,
    /// `classes`
    pub classes: Vec<Class>,
    /// `users`
    pub users: Vec<User>,
    /// `enrollments`
    pub enrollments: Vec<Enrollment>,
    /// `demographics`
    pub demographics: Vec<Demographics>,
}

impl Roster {
    /// The number of records of every kind.
    pub fn len(&self) -> usize {
        self.orgs.len()
            + self.academic_sessions.len()
            + self.courses.len()
            + self.classes.len()
            + self.users.len()
            + self.enrollments.len()
            + self.demographics.len()
    }

    /// Whether there are no records at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills the `children` of orgs and academic sessions from the `parent` references of the others, replacing
    /// whatever `children` they had. The CSV binding carries only `parent`; the REST binding serves both.
    pub fn link_children(&mut self) {
        let mut org_children: BTreeMap<String, Vec<GuidRef>> = BTreeMap::new();
        for org in &self.orgs {
            if let Some(parent) = &org.parent {
                org_children
                    .entry(parent.sourced_id.clone())
                    .or_default()
                    .push(GuidRef::new(GuidType::Org, org.base.sourced_id.clone()));
            }
        }
        for org in &mut self.orgs {
            org.children = org_children.remove(&org.base.sourced_id).unwrap_or_default();
        }
        let mut session_children: BTreeMap<String, Vec<GuidRef>> = BTreeMap::new();
        for session in &self.academic_sessions {
            if let Some(parent) = &session.parent {
                session_children
                    .entry(parent.sourced_id.clone())
                    .or_default()
                    .push(GuidRef::new(GuidType::AcademicSession, session.base.sourced_id.clone()));
            }
        }
        for session in &mut self.academic_sessions {
            session.children = session_children.remove(&session.base.sourced_id).unwrap_or_default();
        }
    }
}
