//! What the snapshot needs to know about each entity type beyond `Entity` and `Queryable`.

use super::{Snapshot, Table};
use chrono::NaiveDate;
use oneroster_model::query::Queryable;
use oneroster_model::{
    AcademicSession, Base, Class, ClassType, Course, Demographics, Enrollment, EnrollmentRole, GuidRef, GuidType, Org,
    OrgType, Password, RoleType, SessionType, User,
};

/// An entity type the snapshot serves.
pub(crate) trait Kind: Queryable {
    /// Its table in a snapshot.
    fn table(snapshot: &Snapshot) -> &Table<Self>;

    /// A record whose fields other than the common ones are placeholders: used to evaluate filters and sorts that
    /// name only `sourcedId`, `status` and `dateLastModified` without decoding whole records.
    fn placeholder() -> Self;

    /// Visits every `GUIDRef` of the record.
    fn for_each_ref(&mut self, f: &mut dyn FnMut(&mut GuidRef));

    /// Takes the `password` out of the record, for the types that have one.
    fn take_password(&mut self) -> Option<Password> {
        None
    }
}

fn placeholder_ref(kind: GuidType) -> GuidRef {
    GuidRef::new(kind, String::new())
}

impl Kind for Org {
    fn table(snapshot: &Snapshot) -> &Table<Self> {
        &snapshot.orgs
    }
    fn placeholder() -> Self {
        Org {
            base: Base::default(),
            name: String::new(),
            org_type: OrgType::School,
            identifier: None,
            parent: None,
            children: vec![],
        }
    }
    fn for_each_ref(&mut self, f: &mut dyn FnMut(&mut GuidRef)) {
        self.parent.iter_mut().chain(self.children.iter_mut()).for_each(f);
    }
}

impl Kind for AcademicSession {
    fn table(snapshot: &Snapshot) -> &Table<Self> {
        &snapshot.academic_sessions
    }
    fn placeholder() -> Self {
        AcademicSession {
            base: Base::default(),
            title: String::new(),
            start_date: NaiveDate::MIN,
            end_date: NaiveDate::MIN,
            session_type: SessionType::Term,
            parent: None,
            children: vec![],
            school_year: String::new(),
        }
    }
    fn for_each_ref(&mut self, f: &mut dyn FnMut(&mut GuidRef)) {
        self.parent.iter_mut().chain(self.children.iter_mut()).for_each(f);
    }
}

impl Kind for Course {
    fn table(snapshot: &Snapshot) -> &Table<Self> {
        &snapshot.courses
    }
    fn placeholder() -> Self {
        Course {
            base: Base::default(),
            title: String::new(),
            school_year: None,
            course_code: None,
            grades: vec![],
            subjects: vec![],
            org: placeholder_ref(GuidType::Org),
            subject_codes: vec![],
            resources: vec![],
        }
    }
    fn for_each_ref(&mut self, f: &mut dyn FnMut(&mut GuidRef)) {
        self.school_year.iter_mut().chain(std::iter::once(&mut self.org)).chain(self.resources.iter_mut()).for_each(f);
    }
}

impl Kind for Class {
    fn table(snapshot: &Snapshot) -> &Table<Self> {
        &snapshot.classes
    }
    fn placeholder() -> Self {
        Class {
            base: Base::default(),
            title: String::new(),
            class_code: None,
            class_type: ClassType::Scheduled,
            location: None,
            grades: vec![],
            subjects: vec![],
            course: placeholder_ref(GuidType::Course),
            school: placeholder_ref(GuidType::Org),
            terms: vec![],
            subject_codes: vec![],
            periods: vec![],
            resources: vec![],
        }
    }
    fn for_each_ref(&mut self, f: &mut dyn FnMut(&mut GuidRef)) {
        [&mut self.course, &mut self.school]
            .into_iter()
            .chain(self.terms.iter_mut())
            .chain(self.resources.iter_mut())
            .for_each(f);
    }
}

impl Kind for User {
    fn table(snapshot: &Snapshot) -> &Table<Self> {
        &snapshot.users
    }
    fn placeholder() -> Self {
        User {
            base: Base::default(),
            username: String::new(),
            user_ids: vec![],
            enabled_user: true,
            given_name: String::new(),
            family_name: String::new(),
            middle_name: None,
            role: RoleType::Student,
            identifier: None,
            email: None,
            sms: None,
            phone: None,
            agents: vec![],
            orgs: vec![],
            grades: vec![],
            password: None,
        }
    }
    fn for_each_ref(&mut self, f: &mut dyn FnMut(&mut GuidRef)) {
        self.agents.iter_mut().chain(self.orgs.iter_mut()).for_each(f);
    }
    fn take_password(&mut self) -> Option<Password> {
        self.password.take()
    }
}

impl Kind for Enrollment {
    fn table(snapshot: &Snapshot) -> &Table<Self> {
        &snapshot.enrollments
    }
    fn placeholder() -> Self {
        Enrollment {
            base: Base::default(),
            user: placeholder_ref(GuidType::User),
            class: placeholder_ref(GuidType::Class),
            school: placeholder_ref(GuidType::Org),
            role: EnrollmentRole::Student,
            primary: None,
            begin_date: None,
            end_date: None,
        }
    }
    fn for_each_ref(&mut self, f: &mut dyn FnMut(&mut GuidRef)) {
        [&mut self.user, &mut self.class, &mut self.school].into_iter().for_each(f);
    }
}

impl Kind for Demographics {
    fn table(snapshot: &Snapshot) -> &Table<Self> {
        &snapshot.demographics
    }
    fn placeholder() -> Self {
        Demographics::default()
    }
    fn for_each_ref(&mut self, _f: &mut dyn FnMut(&mut GuidRef)) {}
}

/// The collection segment of the URL of a referenced record, e.g. `orgs` for an `org`; `None` for a type the
/// specification does not list.
pub(crate) fn href_segment(kind: &GuidType) -> Option<&'static str> {
    Some(match kind {
        GuidType::AcademicSession => "academicSessions",
        GuidType::Category => "categories",
        GuidType::Class => "classes",
        GuidType::Course => "courses",
        GuidType::Demographics => "demographics",
        GuidType::Enrollment => "enrollments",
        GuidType::GradingPeriod => "gradingPeriods",
        GuidType::LineItem => "lineItems",
        GuidType::Org => "orgs",
        GuidType::Resource => "resources",
        GuidType::Result => "results",
        GuidType::Student => "students",
        GuidType::Teacher => "teachers",
        GuidType::Term => "terms",
        GuidType::User => "users",
        _ => return None,
    })
}
