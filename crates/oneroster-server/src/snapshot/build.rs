//! Building a snapshot from a roster: sorting, linking, indexing and pre-serialising.

use super::kind::{Kind, href_segment};
use super::{Groups, HREF_MARK, ID_PREFIX, Indexes, NONE, PASSWORD_MARK, Record, Snapshot, Table};
use crate::error::Error;
use crate::page::QueryCache;
use crate::util::{encode, random_bytes};
use oneroster_model::{AcademicSession, EnrollmentRole, Entity, OrgType, RoleType, Roster, SessionType};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::marker::PhantomData;

pub(super) fn build(version: u64, mut roster: Roster) -> Result<Snapshot, Error> {
    sort_dedup(&mut roster.orgs);
    sort_dedup(&mut roster.academic_sessions);
    sort_dedup(&mut roster.courses);
    sort_dedup(&mut roster.classes);
    sort_dedup(&mut roster.users);
    sort_dedup(&mut roster.enrollments);
    sort_dedup(&mut roster.demographics);
    roster.link_children();
    let index = index(&roster)?;
    // A random marker stands for the base URL while records are serialised; it is then replaced by HREF_MARK.
    // Data cannot contain it by chance, and nobody can know it in advance.
    let marker = random_bytes::<16>()?.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    Ok(Snapshot {
        version,
        orgs: table(std::mem::take(&mut roster.orgs), &marker)?,
        academic_sessions: table(std::mem::take(&mut roster.academic_sessions), &marker)?,
        courses: table(std::mem::take(&mut roster.courses), &marker)?,
        classes: table(std::mem::take(&mut roster.classes), &marker)?,
        users: table(std::mem::take(&mut roster.users), &marker)?,
        enrollments: table(std::mem::take(&mut roster.enrollments), &marker)?,
        demographics: table(std::mem::take(&mut roster.demographics), &marker)?,
        index,
        cache: QueryCache::default(),
    })
}

/// Sorts by `sourcedId`; of equal ids, keeps the last.
fn sort_dedup<E: Entity>(items: &mut Vec<E>) {
    items.sort_by(|a, b| a.sourced_id().cmp(b.sourced_id()));
    items.dedup_by(|later, kept| {
        if later.sourced_id() == kept.sourced_id() {
            std::mem::swap(later, kept);
            true
        } else {
            false
        }
    });
}

fn idx(i: usize, what: &str) -> Result<u32, Error> {
    u32::try_from(i).ok().filter(|&i| i != NONE).ok_or_else(|| Error::TooLarge { what: what.to_owned() })
}

/// Record positions by id, for resolving references while indexing (faster than binary searches over strings).
struct Positions<'a>(HashMap<&'a str, u32>);

impl<'a> Positions<'a> {
    /// `items` has already been checked to have fewer than `u32::MAX` records.
    fn of<E: Entity>(items: &'a [E]) -> Positions<'a> {
        Positions(items.iter().enumerate().map(|(i, item)| (item.sourced_id(), i as u32)).collect())
    }

    /// The index of the record with this id, or [`NONE`].
    fn get(&self, id: &str) -> u32 {
        self.0.get(id).copied().unwrap_or(NONE)
    }
}

fn positions_where<E>(items: &[E], keep: impl Fn(&E) -> bool, what: &str) -> Result<Box<[u32]>, Error> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if keep(item) {
            out.push(idx(i, what)?);
        }
    }
    Ok(out.into())
}

fn index(r: &Roster) -> Result<Indexes, Error> {
    for (len, what) in [
        (r.orgs.len(), "orgs"),
        (r.academic_sessions.len(), "academicSessions"),
        (r.courses.len(), "courses"),
        (r.classes.len(), "classes"),
        (r.users.len(), "users"),
        (r.enrollments.len(), "enrollments"),
        (r.demographics.len(), "demographics"),
    ] {
        idx(len, what)?;
    }
    let (orgs, sessions, classes, courses, users) = (
        Positions::of(&r.orgs),
        Positions::of(&r.academic_sessions),
        Positions::of(&r.classes),
        Positions::of(&r.courses),
        Positions::of(&r.users),
    );
    let org = |id: &str| orgs.get(id);
    let session = |id: &str| sessions.get(id);
    let class = |id: &str| classes.get(id);
    let user = |id: &str| users.get(id);
    let course = |id: &str| courses.get(id);
    // Every index below is in range: the lengths were checked above.
    let at = |i: usize| i as u32;

    let mut session_gp = Vec::new();
    for (i, s) in r.academic_sessions.iter().enumerate() {
        if s.session_type == SessionType::GradingPeriod
            && let Some(parent) = &s.parent
        {
            session_gp.push((session(&parent.sourced_id), at(i)));
        }
    }

    let mut class_school = Vec::with_capacity(r.classes.len());
    let (mut org_classes, mut course_classes, mut session_classes, mut org_terms) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, c) in r.classes.iter().enumerate() {
        let school = org(&c.school.sourced_id);
        class_school.push(school);
        org_classes.push((school, at(i)));
        course_classes.push((course(&c.course.sourced_id), at(i)));
        for term in &c.terms {
            let term = session(&term.sourced_id);
            session_classes.push((term, at(i)));
            org_terms.push((school, term));
        }
    }

    let org_courses = r.courses.iter().enumerate().map(|(i, c)| (org(&c.org.sourced_id), at(i))).collect();

    let (mut org_enrollments, mut class_enrollments) = (Vec::new(), Vec::new());
    let (mut class_students, mut class_teachers) = (Vec::new(), Vec::new());
    let (mut user_classes, mut student_classes, mut teacher_classes) = (Vec::new(), Vec::new(), Vec::new());
    for (i, e) in r.enrollments.iter().enumerate() {
        let (c, u) = (class(&e.class.sourced_id), user(&e.user.sourced_id));
        org_enrollments.push((org(&e.school.sourced_id), at(i)));
        class_enrollments.push((c, at(i)));
        user_classes.push((u, c));
        match e.role {
            EnrollmentRole::Student => {
                class_students.push((c, u));
                student_classes.push((u, c));
            }
            EnrollmentRole::Teacher => {
                class_teachers.push((c, u));
                teacher_classes.push((u, c));
            }
            _ => {}
        }
    }

    let (mut org_students, mut org_teachers) = (Vec::new(), Vec::new());
    for (i, u) in r.users.iter().enumerate() {
        let target = match u.role {
            RoleType::Student => &mut org_students,
            RoleType::Teacher => &mut org_teachers,
            _ => continue,
        };
        for o in &u.orgs {
            target.push((org(&o.sourced_id), at(i)));
        }
    }

    let (orgs, sessions, classes, users) = (r.orgs.len(), r.academic_sessions.len(), r.classes.len(), r.users.len());
    let is = |t: SessionType| move |s: &AcademicSession| s.session_type == t;
    Ok(Indexes {
        terms: positions_where(&r.academic_sessions, is(SessionType::Term), "terms")?,
        grading_periods: positions_where(&r.academic_sessions, is(SessionType::GradingPeriod), "gradingPeriods")?,
        schools: positions_where(&r.orgs, |o| o.org_type == OrgType::School, "schools")?,
        students: positions_where(&r.users, |u| u.role == RoleType::Student, "students")?,
        teachers: positions_where(&r.users, |u| u.role == RoleType::Teacher, "teachers")?,
        session_grading_periods: Groups::build(sessions, session_gp, "gradingPeriods")?,
        class_school: class_school.into(),
        org_classes: Groups::build(orgs, org_classes, "classes")?,
        course_classes: Groups::build(r.courses.len(), course_classes, "classes")?,
        session_classes: Groups::build(sessions, session_classes, "classes")?,
        org_courses: Groups::build(orgs, org_courses, "courses")?,
        org_terms: Groups::build(orgs, org_terms, "terms")?,
        org_enrollments: Groups::build(orgs, org_enrollments, "enrollments")?,
        class_enrollments: Groups::build(classes, class_enrollments, "enrollments")?,
        class_students: Groups::build(classes, class_students, "students")?,
        class_teachers: Groups::build(classes, class_teachers, "teachers")?,
        org_students: Groups::build(orgs, org_students, "students")?,
        org_teachers: Groups::build(orgs, org_teachers, "teachers")?,
        user_classes: Groups::build(users, user_classes, "classes")?,
        student_classes: Groups::build(users, student_classes, "classes")?,
        teacher_classes: Groups::build(users, teacher_classes, "classes")?,
    })
}

/// Pre-serialises records (sorted and deduplicated), consuming them one by one so that their memory is reused
/// for the JSON.
fn table<E: Kind>(items: Vec<E>, marker: &str) -> Result<Table<E>, Error> {
    let mut records = Vec::with_capacity(items.len());
    let mut odd_ids = HashMap::new();
    let mut scratch = Vec::with_capacity(1024);
    for (i, item) in items.into_iter().enumerate() {
        let (record, id) = prerender(item, marker, &mut scratch)?;
        if let Some(id) = id {
            odd_ids.insert(idx(i, E::KIND.collection_key())?, id);
        }
        records.push(record);
    }
    Ok(Table { records, odd_ids, kind: PhantomData })
}

/// One record as JSON with markers (see [`Record`]), and its id if escaping changed it. `scratch` is a reusable
/// buffer.
fn prerender<E: Kind>(mut item: E, marker: &str, scratch: &mut Vec<u8>) -> Result<(Record, Option<Box<str>>), Error> {
    let password = item.take_password();
    item.for_each_ref(&mut |r| {
        r.href = href_segment(&r.kind).map(|segment| format!("{marker}/{segment}/{}", encode(&r.sourced_id)));
    });
    let fail = |e: serde_json::Error| Error::internal(format!("serialising a {}: {e}", E::KIND));
    scratch.clear();
    serde_json::to_writer(&mut *scratch, &item).map_err(fail)?;
    if let Some(password) = password
        && scratch.last() == Some(&b'}')
    {
        scratch.pop();
        scratch.push(PASSWORD_MARK);
        scratch.extend_from_slice(b",\"password\":");
        serde_json::to_writer(&mut *scratch, password.expose()).map_err(fail)?;
        scratch.push(b'}');
    }
    // serde_json writes UTF-8.
    let written = std::str::from_utf8(scratch).map_err(|e| Error::internal(format!("serialising: {e}")))?;
    // The marker stands for the base URL: replace it by HREF_MARK, into a string of exactly the final size.
    let hits = written.matches(marker).count();
    let mut json = String::with_capacity(written.len() - hits * (marker.len() - 1));
    let mut rest = written;
    while let Some(at) = rest.find(marker) {
        json.push_str(&rest[..at]);
        json.push(char::from(HREF_MARK));
        rest = &rest[at + marker.len()..];
    }
    json.push_str(rest);
    let id = item.sourced_id();
    let plain = json.strip_prefix(ID_PREFIX).and_then(|rest| rest.strip_prefix(id)).is_some_and(|r| r.starts_with('"'));
    let (id_len, odd) = match u32::try_from(id.len()) {
        Ok(len) if plain && len != u32::MAX => (len, None),
        _ => (u32::MAX, Some(Box::from(id))),
    };
    let base = item.base();
    let record = Record {
        json: json.into_boxed_str(),
        modified: base.date_last_modified.map_or(i64::MIN, |d| d.timestamp_millis()),
        id_len,
        status: base.status,
    };
    Ok((record, odd))
}
