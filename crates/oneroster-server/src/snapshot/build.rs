//! Building a snapshot, kind by kind, from records that arrive one at a time: sorting, linking, indexing and
//! pre-serialising.
//!
//! Records must come in dependency order ([`EntityKind::ALL`]: orgs, academic sessions, courses, classes, users,
//! enrollments, demographics), as [`roster_store::Store::stream_roster`] sends them. Each record is serialised as it
//! arrives and dropped; what the indexes need of it (its org, class, user, role…) is resolved at once against the
//! kinds already finished, into record indexes. So the builder never holds more than the snapshot itself, the
//! record being serialised, and a few integers per reference; orgs and academic sessions (few, and whose
//! `children` are derived from their `parent`s) are the only kinds held as records until they are complete.

use super::kind::{Kind, href_segment};
use super::{Groups, HREF_MARK, ID_PREFIX, NONE, PASSWORD_MARK, Record, STATUS_MARK, Snapshot, Table};
use crate::error::Error;
use crate::page::QueryCache;
use crate::util::{encode, random_bytes};
use oneroster_model::{
    AcademicSession, Class, Course, Demographics, Enrollment, EnrollmentRole, Entity, EntityKind, Org, OrgType,
    RoleType, Roster, SessionType, User,
};
use roster_store::StoredRecord;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::marker::PhantomData;

/// Builds a snapshot of a whole roster (see [`Snapshot::from_roster`]).
pub(super) fn build(version: u64, roster: Roster) -> Result<Snapshot, Error> {
    let mut builder = Builder::new(version)?;
    let Roster { orgs, academic_sessions, courses, classes, users, enrollments, demographics } = roster;
    orgs.into_iter().try_for_each(|r| builder.org(r))?;
    academic_sessions.into_iter().try_for_each(|r| builder.academic_session(r))?;
    courses.into_iter().try_for_each(|r| builder.course(r))?;
    classes.into_iter().try_for_each(|r| builder.class(r))?;
    users.into_iter().try_for_each(|r| builder.user(r))?;
    enrollments.into_iter().try_for_each(|r| builder.enrollment(r))?;
    demographics.into_iter().try_for_each(|r| builder.demographics(r))?;
    builder.finish()
}

fn idx(i: usize, what: &str) -> Result<u32, Error> {
    u32::try_from(i).ok().filter(|&i| i != NONE).ok_or_else(|| Error::TooLarge { what: what.to_owned() })
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

/// Records of one kind as they arrive, serialised, waiting to be sorted into a [`Table`].
struct Pending<E> {
    /// The record, its id if escaping changed it, and its arrival number.
    items: Vec<(Record, Option<Box<str>>, u32)>,
    kind: PhantomData<fn() -> E>,
}

impl<E: Kind> Pending<E> {
    fn new() -> Pending<E> {
        Pending { items: Vec::new(), kind: PhantomData }
    }

    /// Serialises `item` and returns its arrival number.
    fn push(&mut self, item: E, marker: &str, scratch: &mut Vec<u8>) -> Result<u32, Error> {
        let arrival = idx(self.items.len(), E::KIND.collection_key())?;
        let (record, odd) = prerender(item, marker, scratch)?;
        self.items.push((record, odd, arrival));
        Ok(arrival)
    }

    /// Sorts by `sourcedId` (of equal ids the later wins) into a table, and returns with it where each arrival
    /// ended up ([`NONE`] for a record replaced by a later one with the same id).
    fn finish(self) -> Result<(Table<E>, Vec<u32>), Error> {
        let mut items = self.items;
        // A stable sort keeps arrivals with equal ids in arrival order, so the last of each run is the latest.
        items.sort_by(|a, b| key(a).cmp(key(b)));
        let mut position = vec![NONE; items.len()];
        let mut records = Vec::with_capacity(items.len());
        let mut odd_ids = HashMap::new();
        let mut iter = items.into_iter().peekable();
        while let Some(item) = iter.next() {
            if iter.peek().is_some_and(|next| key(next) == key(&item)) {
                continue; // A later record with the same id follows: it wins.
            }
            let (record, odd, arrival) = item;
            let at = idx(records.len(), E::KIND.collection_key())?;
            if let Some(odd) = odd {
                odd_ids.insert(at, odd);
            }
            if let Some(slot) = position.get_mut(arrival as usize) {
                *slot = at;
            }
            records.push(record);
        }
        Ok((Table { records, odd_ids, kind: PhantomData }, position))
    }
}

/// The `sourcedId` of a pending record.
fn key(item: &(Record, Option<Box<str>>, u32)) -> &str {
    match &item.1 {
        Some(odd) => odd,
        None => plain_id(&item.0),
    }
}

/// The `sourcedId` of a record whose id JSON escaping left unchanged.
fn plain_id(record: &Record) -> &str {
    let end = ID_PREFIX.len() + record.id_len as usize;
    record.json.get(ID_PREFIX.len()..end).unwrap_or("")
}

/// `(parent, child)` pairs whose child is an arrival number, remapped to final positions.
fn remap_children(pairs: Vec<(u32, u32)>, position: &[u32]) -> Vec<(u32, u32)> {
    pairs.into_iter().map(|(p, c)| (p, position.get(c as usize).copied().unwrap_or(NONE))).collect()
}

/// Arrival numbers that satisfy a predicate, as sorted final positions.
fn positions_of(arrivals: Vec<u32>, position: &[u32]) -> Box<[u32]> {
    let mut out: Vec<u32> =
        arrivals.into_iter().filter_map(|a| position.get(a as usize).copied()).filter(|&p| p != NONE).collect();
    out.sort_unstable();
    out.dedup();
    out.into()
}

#[derive(Default)]
struct UserRefs {
    students: Vec<u32>,
    teachers: Vec<u32>,
    /// (org, user arrival)
    org_students: Vec<(u32, u32)>,
    org_teachers: Vec<(u32, u32)>,
}

#[derive(Default)]
struct EnrollmentRefs {
    /// (org, enrollment arrival)
    org_enrollments: Vec<(u32, u32)>,
    /// (class, enrollment arrival)
    class_enrollments: Vec<(u32, u32)>,
    class_students: Vec<(u32, u32)>,
    class_teachers: Vec<(u32, u32)>,
    user_classes: Vec<(u32, u32)>,
    student_classes: Vec<(u32, u32)>,
    teacher_classes: Vec<(u32, u32)>,
}

#[derive(Default)]
struct ClassRefs {
    /// (class arrival, school)
    class_school: Vec<(u32, u32)>,
    /// (course, class arrival)
    course_classes: Vec<(u32, u32)>,
    /// (session, class arrival)
    session_classes: Vec<(u32, u32)>,
    /// (org, session)
    org_terms: Vec<(u32, u32)>,
}

/// Builds a [`Snapshot`] from records given kind by kind in dependency order.
pub(crate) struct Builder {
    version: u64,
    /// A random marker stands for the base URL while records are serialised; it is then replaced by HREF_MARK.
    /// Data cannot contain it by chance, and nobody can know it in advance.
    marker: String,
    scratch: Vec<u8>,
    /// The kind records are arriving for.
    current: usize,
    orgs_in: Vec<Org>,
    sessions_in: Vec<AcademicSession>,
    courses_in: Pending<Course>,
    course_orgs: Vec<(u32, u32)>,
    classes_in: Pending<Class>,
    class_refs: ClassRefs,
    users_in: Pending<User>,
    user_refs: UserRefs,
    enrollments_in: Pending<Enrollment>,
    enrollment_refs: EnrollmentRefs,
    demographics_in: Pending<Demographics>,
    snapshot: Snapshot,
}

impl Builder {
    pub(crate) fn new(version: u64) -> Result<Builder, Error> {
        let marker = random_bytes::<16>()?.iter().fold(String::with_capacity(32), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
        let mut snapshot = Snapshot::empty();
        snapshot.version = version;
        Ok(Builder {
            version,
            marker,
            scratch: Vec::with_capacity(1024),
            current: 0,
            orgs_in: Vec::new(),
            sessions_in: Vec::new(),
            courses_in: Pending::new(),
            course_orgs: Vec::new(),
            classes_in: Pending::new(),
            class_refs: ClassRefs::default(),
            users_in: Pending::new(),
            user_refs: UserRefs::default(),
            enrollments_in: Pending::new(),
            enrollment_refs: EnrollmentRefs::default(),
            demographics_in: Pending::new(),
            snapshot,
        })
    }

    /// Moves on to `kind`, finishing every kind before it. A kind that comes back after a later one is an error.
    fn enter(&mut self, kind: EntityKind) -> Result<(), Error> {
        let target = EntityKind::ALL.iter().position(|&k| k == kind).unwrap_or(0);
        if target < self.current {
            return Err(Error::internal(format!(
                "snapshot records out of order: a {kind} after {}",
                EntityKind::ALL.get(self.current).map_or("the end", |k| k.collection_key())
            )));
        }
        while self.current < target {
            self.finish_kind()?;
            self.current += 1;
        }
        Ok(())
    }

    fn finish_kind(&mut self) -> Result<(), Error> {
        match EntityKind::ALL.get(self.current).copied() {
            Some(EntityKind::Org) => self.finish_orgs(),
            Some(EntityKind::AcademicSession) => self.finish_sessions(),
            Some(EntityKind::Course) => self.finish_courses(),
            Some(EntityKind::Class) => self.finish_classes(),
            Some(EntityKind::User) => self.finish_users(),
            Some(EntityKind::Enrollment) => self.finish_enrollments(),
            Some(EntityKind::Demographics) => {
                let (table, _) = std::mem::replace(&mut self.demographics_in, Pending::new()).finish()?;
                self.snapshot.demographics = table;
                Ok(())
            }
            None => Ok(()),
        }
    }

    pub(crate) fn org(&mut self, item: Org) -> Result<(), Error> {
        self.enter(EntityKind::Org)?;
        self.orgs_in.push(item);
        Ok(())
    }

    pub(crate) fn academic_session(&mut self, item: AcademicSession) -> Result<(), Error> {
        self.enter(EntityKind::AcademicSession)?;
        self.sessions_in.push(item);
        Ok(())
    }

    pub(crate) fn course(&mut self, item: Course) -> Result<(), Error> {
        self.enter(EntityKind::Course)?;
        let org = self.snapshot.orgs.find(&item.org.sourced_id).unwrap_or(NONE);
        let arrival = self.courses_in.push(item, &self.marker, &mut self.scratch)?;
        self.course_orgs.push((org, arrival));
        Ok(())
    }

    pub(crate) fn class(&mut self, item: Class) -> Result<(), Error> {
        self.enter(EntityKind::Class)?;
        let s = &self.snapshot;
        let school = s.orgs.find(&item.school.sourced_id).unwrap_or(NONE);
        let course = s.courses.find(&item.course.sourced_id).unwrap_or(NONE);
        let terms: Vec<u32> =
            item.terms.iter().map(|t| s.academic_sessions.find(&t.sourced_id).unwrap_or(NONE)).collect();
        let arrival = self.classes_in.push(item, &self.marker, &mut self.scratch)?;
        let refs = &mut self.class_refs;
        refs.class_school.push((arrival, school));
        refs.course_classes.push((course, arrival));
        for term in terms {
            refs.session_classes.push((term, arrival));
            refs.org_terms.push((school, term));
        }
        Ok(())
    }

    pub(crate) fn user(&mut self, item: User) -> Result<(), Error> {
        self.enter(EntityKind::User)?;
        let role = match item.role {
            RoleType::Student => Some(true),
            RoleType::Teacher => Some(false),
            _ => None,
        };
        let orgs: Vec<u32> = match role {
            Some(_) => item.orgs.iter().map(|o| self.snapshot.orgs.find(&o.sourced_id).unwrap_or(NONE)).collect(),
            None => Vec::new(),
        };
        let arrival = self.users_in.push(item, &self.marker, &mut self.scratch)?;
        let refs = &mut self.user_refs;
        match role {
            Some(true) => {
                refs.students.push(arrival);
                refs.org_students.extend(orgs.into_iter().map(|o| (o, arrival)));
            }
            Some(false) => {
                refs.teachers.push(arrival);
                refs.org_teachers.extend(orgs.into_iter().map(|o| (o, arrival)));
            }
            None => {}
        }
        Ok(())
    }

    pub(crate) fn enrollment(&mut self, item: Enrollment) -> Result<(), Error> {
        self.enter(EntityKind::Enrollment)?;
        let s = &self.snapshot;
        let class = s.classes.find(&item.class.sourced_id).unwrap_or(NONE);
        let user = s.users.find(&item.user.sourced_id).unwrap_or(NONE);
        let school = s.orgs.find(&item.school.sourced_id).unwrap_or(NONE);
        let role = item.role.clone();
        let arrival = self.enrollments_in.push(item, &self.marker, &mut self.scratch)?;
        let refs = &mut self.enrollment_refs;
        refs.org_enrollments.push((school, arrival));
        refs.class_enrollments.push((class, arrival));
        refs.user_classes.push((user, class));
        match role {
            EnrollmentRole::Student => {
                refs.class_students.push((class, user));
                refs.student_classes.push((user, class));
            }
            EnrollmentRole::Teacher => {
                refs.class_teachers.push((class, user));
                refs.teacher_classes.push((user, class));
            }
            _ => {}
        }
        Ok(())
    }

    /// Adds a record read from the store.
    pub(crate) fn push(&mut self, record: StoredRecord) -> Result<(), Error> {
        match record {
            StoredRecord::Org(r) => self.org(r),
            StoredRecord::AcademicSession(r) => self.academic_session(r),
            StoredRecord::Course(r) => self.course(r),
            StoredRecord::Class(r) => self.class(r),
            StoredRecord::User(r) => self.user(r),
            StoredRecord::Enrollment(r) => self.enrollment(r),
            StoredRecord::Demographics(r) => self.demographics(r),
            other => Err(Error::internal(format!("a stored {} the snapshot cannot serve", other.kind()))),
        }
    }

    pub(crate) fn demographics(&mut self, item: Demographics) -> Result<(), Error> {
        self.enter(EntityKind::Demographics)?;
        self.demographics_in.push(item, &self.marker, &mut self.scratch)?;
        Ok(())
    }

    fn finish_orgs(&mut self) -> Result<(), Error> {
        let mut roster = Roster { orgs: std::mem::take(&mut self.orgs_in), ..Roster::default() };
        sort_dedup(&mut roster.orgs);
        roster.link_children();
        idx(roster.orgs.len(), "orgs")?;
        let schools: Vec<u32> = (0..roster.orgs.len())
            .filter(|&i| roster.orgs.get(i).is_some_and(|o| o.org_type == OrgType::School))
            .map(|i| i as u32)
            .collect();
        self.snapshot.index.schools = schools.into();
        self.snapshot.orgs = table(std::mem::take(&mut roster.orgs), &self.marker, &mut self.scratch)?;
        Ok(())
    }

    fn finish_sessions(&mut self) -> Result<(), Error> {
        let mut roster = Roster { academic_sessions: std::mem::take(&mut self.sessions_in), ..Roster::default() };
        sort_dedup(&mut roster.academic_sessions);
        roster.link_children();
        let sessions = &roster.academic_sessions;
        idx(sessions.len(), "academicSessions")?;
        let position =
            |id: &str| sessions.binary_search_by(|s| s.base.sourced_id.as_str().cmp(id)).map_or(NONE, |i| i as u32);
        let of_type = |t: SessionType| -> Box<[u32]> {
            (0..sessions.len()).filter(|&i| sessions[i].session_type == t).map(|i| i as u32).collect()
        };
        let mut gp = Vec::new();
        for (i, s) in sessions.iter().enumerate() {
            if s.session_type == SessionType::GradingPeriod
                && let Some(parent) = &s.parent
            {
                gp.push((position(&parent.sourced_id), i as u32));
            }
        }
        let index = &mut self.snapshot.index;
        index.terms = of_type(SessionType::Term);
        index.grading_periods = of_type(SessionType::GradingPeriod);
        index.session_grading_periods = Groups::build(sessions.len(), gp, "gradingPeriods")?;
        self.snapshot.academic_sessions =
            table(std::mem::take(&mut roster.academic_sessions), &self.marker, &mut self.scratch)?;
        Ok(())
    }

    fn finish_courses(&mut self) -> Result<(), Error> {
        let (table, position) = std::mem::replace(&mut self.courses_in, Pending::new()).finish()?;
        let pairs = remap_children(std::mem::take(&mut self.course_orgs), &position);
        self.snapshot.index.org_courses = Groups::build(self.snapshot.orgs.len(), pairs, "courses")?;
        self.snapshot.courses = table;
        Ok(())
    }

    fn finish_classes(&mut self) -> Result<(), Error> {
        let (table, position) = std::mem::replace(&mut self.classes_in, Pending::new()).finish()?;
        let refs = std::mem::take(&mut self.class_refs);
        let mut class_school = vec![NONE; table.len()];
        let mut org_classes = Vec::with_capacity(table.len());
        for (arrival, school) in refs.class_school {
            if let Some(&at) = position.get(arrival as usize)
                && let Some(slot) = class_school.get_mut(at as usize)
            {
                *slot = school;
                org_classes.push((school, at));
            }
        }
        let (orgs, courses, sessions) =
            (self.snapshot.orgs.len(), self.snapshot.courses.len(), self.snapshot.academic_sessions.len());
        let index = &mut self.snapshot.index;
        index.class_school = class_school.into();
        index.org_classes = Groups::build(orgs, org_classes, "classes")?;
        index.course_classes = Groups::build(courses, remap_children(refs.course_classes, &position), "classes")?;
        index.session_classes = Groups::build(sessions, remap_children(refs.session_classes, &position), "classes")?;
        index.org_terms = Groups::build(orgs, refs.org_terms, "terms")?;
        self.snapshot.classes = table;
        Ok(())
    }

    fn finish_users(&mut self) -> Result<(), Error> {
        let (table, position) = std::mem::replace(&mut self.users_in, Pending::new()).finish()?;
        let refs = std::mem::take(&mut self.user_refs);
        let orgs = self.snapshot.orgs.len();
        let index = &mut self.snapshot.index;
        index.students = positions_of(refs.students, &position);
        index.teachers = positions_of(refs.teachers, &position);
        index.org_students = Groups::build(orgs, remap_children(refs.org_students, &position), "students")?;
        index.org_teachers = Groups::build(orgs, remap_children(refs.org_teachers, &position), "teachers")?;
        self.snapshot.users = table;
        Ok(())
    }

    fn finish_enrollments(&mut self) -> Result<(), Error> {
        let (table, position) = std::mem::replace(&mut self.enrollments_in, Pending::new()).finish()?;
        let refs = std::mem::take(&mut self.enrollment_refs);
        let (orgs, classes, users) = (self.snapshot.orgs.len(), self.snapshot.classes.len(), self.snapshot.users.len());
        let index = &mut self.snapshot.index;
        // Each list is built and dropped in turn, so that only one is held at a time besides the groups.
        index.org_enrollments = Groups::build(orgs, remap_children(refs.org_enrollments, &position), "enrollments")?;
        index.class_enrollments =
            Groups::build(classes, remap_children(refs.class_enrollments, &position), "enrollments")?;
        index.class_students = Groups::build(classes, refs.class_students, "students")?;
        index.class_teachers = Groups::build(classes, refs.class_teachers, "teachers")?;
        index.user_classes = Groups::build(users, refs.user_classes, "classes")?;
        index.student_classes = Groups::build(users, refs.student_classes, "classes")?;
        index.teacher_classes = Groups::build(users, refs.teacher_classes, "classes")?;
        self.snapshot.enrollments = table;
        Ok(())
    }

    /// Sets the version the snapshot is labelled with.
    pub(crate) fn set_version(&mut self, version: u64) {
        self.version = version;
    }

    /// Finishes every kind and returns the snapshot.
    pub(crate) fn finish(mut self) -> Result<Snapshot, Error> {
        while self.current < EntityKind::ALL.len() {
            self.finish_kind()?;
            self.current += 1;
        }
        let mut snapshot = self.snapshot;
        snapshot.version = self.version;
        snapshot.cache = QueryCache::default();
        Ok(snapshot)
    }
}

/// Replaces the `,"status":"…"` member and the `,"dateLastModified":"…"` member after it (serde writes `Base`'s
/// fields first, right after `sourcedId`) by [`STATUS_MARK`]: the renderer writes them from the record's columns.
/// JSON without them where expected is kept whole (and then carries them itself).
fn strip_status(json: String) -> String {
    const STATUS: &str = "\",\"status\":\"";
    const MODIFIED: &str = ",\"dateLastModified\":\"";
    // The id ends at the first unescaped quote: escaped quotes inside it are preceded by a backslash, so this
    // pattern cannot occur inside it.
    let Some(found) = json.get(ID_PREFIX.len()..).and_then(|rest| rest.find(STATUS)) else { return json };
    let start = ID_PREFIX.len() + found + 1;
    let value = start + STATUS.len() - 1;
    let Some(end_status) = json.get(value..).and_then(|rest| rest.find('"')).map(|i| value + i + 1) else {
        return json;
    };
    let mut end = end_status;
    if json.get(end..).is_some_and(|rest| rest.starts_with(MODIFIED)) {
        let date = end + MODIFIED.len();
        match json.get(date..).and_then(|rest| rest.find('"')) {
            Some(i) => end = date + i + 1,
            None => return json,
        }
    }
    let mut out = String::with_capacity(json.len() - (end - start) + 1);
    out.push_str(&json[..start]);
    out.push(char::from(STATUS_MARK));
    out.push_str(&json[end..]);
    out
}

/// Pre-serialises records (sorted and deduplicated), consuming them one by one so that their memory is reused
/// for the JSON.
fn table<E: Kind>(items: Vec<E>, marker: &str, scratch: &mut Vec<u8>) -> Result<Table<E>, Error> {
    let mut records = Vec::with_capacity(items.len());
    let mut odd_ids = HashMap::new();
    for (i, item) in items.into_iter().enumerate() {
        let (record, id) = prerender(item, marker, scratch)?;
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
    let json = strip_status(json);
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
