//! The field catalogue: which fields each entity has, under which JSON names, and of which types.

use crate::entity::{
    AcademicSession, Class, Course, Demographics, Enrollment, Entity, GuidRef, Metadata, Org, Password, User, UserId,
};
use crate::vocab::{ClassType, EnrollmentRole, Grade, OrgType, RoleType, SessionType, Sex};
use chrono::{DateTime, NaiveDate, Utc};
use std::fmt;

/// The type of a field, which decides how filter values are read and how values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Free text, compared case-sensitively.
    Text,
    /// A controlled vocabulary, compared by its specification spelling. Holds the values the specification lists.
    Enum(&'static [&'static str]),
    /// A date-time (`dateLastModified`), compared as an instant.
    DateTime,
    /// A calendar date (`startDate`, `birthDate`, …).
    Date,
    /// `true` or `false`.
    Boolean,
    /// A `GUIDRef`, compared by the referenced `sourcedId`.
    GuidRef,
    /// A list of `GUIDRef`s.
    GuidRefList,
    /// A list of free-text values (`subjects`, `periods`, …).
    TextList,
    /// A list of grade levels.
    GradeList,
    /// A list of `UserId`s, compared by `identifier` (or by `type` with `userIds.type`).
    UserIdList,
    /// The `metadata` object: selectable, but only its keys (`metadata.<key>`) can be filtered and sorted on.
    Metadata,
    /// A user's `password`: selectable, never filtered or sorted on.
    Password,
}

impl FieldType {
    /// Whether a field of this type holds any number of values.
    pub fn is_list(self) -> bool {
        matches!(self, FieldType::GuidRefList | FieldType::TextList | FieldType::GradeList | FieldType::UserIdList)
    }

    /// Whether a field of this type can be named in a filter or a sort.
    pub fn is_queryable(self) -> bool {
        !matches!(self, FieldType::Metadata | FieldType::Password)
    }

    /// The values the specification lists for an enumeration (or a list of grades); empty for other types.
    pub fn spec_values(self) -> &'static [&'static str] {
        match self {
            FieldType::Enum(values) => values,
            FieldType::GradeList => Grade::SPEC_VALUES,
            _ => &[],
        }
    }
}

/// The value of one field of one record, borrowed from the record.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum FieldValue<'a> {
    /// An optional field that is not set.
    Absent,
    /// Text.
    Text(&'a str),
    /// A vocabulary value, in its specification spelling (or as written, for an extension).
    Enum(&'a str),
    /// A date-time.
    DateTime(DateTime<Utc>),
    /// A date.
    Date(NaiveDate),
    /// A boolean.
    Boolean(bool),
    /// A reference.
    GuidRef(&'a GuidRef),
    /// A list of references.
    GuidRefs(&'a [GuidRef]),
    /// A list of text values.
    Texts(&'a [String]),
    /// A list of grade levels.
    Grades(&'a [Grade]),
    /// A list of user identifiers.
    UserIds(&'a [UserId]),
    /// Extension data.
    Metadata(&'a Metadata),
    /// A password.
    Password(&'a Password),
}

/// One field of an entity's catalogue: its JSON name, its type, and how to read it from a record.
pub struct FieldDef<E> {
    name: &'static str,
    ty: FieldType,
    get: for<'a> fn(&'a E) -> FieldValue<'a>,
}

impl<E> FieldDef<E> {
    /// A field named `name` (as serialized) of type `ty`, read by `get`.
    pub const fn new(name: &'static str, ty: FieldType, get: for<'a> fn(&'a E) -> FieldValue<'a>) -> FieldDef<E> {
        FieldDef { name, ty, get }
    }

    /// The field's JSON name, e.g. `givenName`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The field's type.
    pub fn field_type(&self) -> FieldType {
        self.ty
    }

    /// Whether the field can be named in a filter or a sort.
    pub fn is_queryable(&self) -> bool {
        self.ty.is_queryable()
    }

    /// The field's value in `record`.
    pub fn value<'a>(&self, record: &'a E) -> FieldValue<'a> {
        (self.get)(record)
    }
}

impl<E> Clone for FieldDef<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for FieldDef<E> {}

impl<E> fmt::Debug for FieldDef<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldDef").field("name", &self.name).field("ty", &self.ty).finish_non_exhaustive()
    }
}

/// An entity whose fields can be filtered, sorted and selected.
///
/// Implemented for the seven rostering entities; [`FIELDS`](Queryable::FIELDS) lists every field a record of the type
/// serializes, under its JSON name, and is what `filter`, `sort` and `fields` names are checked against.
pub trait Queryable: Entity {
    /// Every field of the type, in the order the specification lists them (the common fields first).
    const FIELDS: &'static [FieldDef<Self>];

    /// The field with exactly this JSON name, if the type has one. (Filters and sorts also accept dotted forms such
    /// as `school.sourcedId`; see the [module docs](crate::query).)
    fn field(name: &str) -> Option<&'static FieldDef<Self>> {
        Self::FIELDS.iter().find(|f| f.name == name)
    }

    /// The value of the field named `name` in this record, if the type has such a field.
    fn field_value(&self, name: &str) -> Option<FieldValue<'_>> {
        Self::field(name).map(|f| f.value(self))
    }

    /// The names that `fields=` accepts: every top-level JSON key a record of the type can have.
    fn selectable_fields() -> impl Iterator<Item = &'static str> {
        Self::FIELDS.iter().map(FieldDef::name)
    }
}

const STATUS_VALUES: &[&str] = &["active", "tobedeleted"];

fn text(value: &Option<String>) -> FieldValue<'_> {
    value.as_deref().map_or(FieldValue::Absent, FieldValue::Text)
}

fn guid_ref(value: &Option<GuidRef>) -> FieldValue<'_> {
    value.as_ref().map_or(FieldValue::Absent, FieldValue::GuidRef)
}

fn date(value: Option<NaiveDate>) -> FieldValue<'static> {
    value.map_or(FieldValue::Absent, FieldValue::Date)
}

fn boolean(value: Option<bool>) -> FieldValue<'static> {
    value.map_or(FieldValue::Absent, FieldValue::Boolean)
}

/// Implements [`Queryable`] for entities: the common fields, then the listed ones.
macro_rules! catalogue {
    ($(
        $ty:ident {
            $( $name:literal : $kind:expr => |$r:ident| $get:expr ),+ $(,)?
        }
    )+) => {$(
        impl Queryable for $ty {
            const FIELDS: &'static [FieldDef<Self>] = &[
                FieldDef::<$ty>::new("sourcedId", FieldType::Text, |r| FieldValue::Text(&r.base.sourced_id)),
                FieldDef::<$ty>::new("status", FieldType::Enum(STATUS_VALUES), |r| {
                    FieldValue::Enum(r.base.status.as_str())
                }),
                FieldDef::<$ty>::new("dateLastModified", FieldType::DateTime, |r| {
                    r.base.date_last_modified.map_or(FieldValue::Absent, FieldValue::DateTime)
                }),
                FieldDef::<$ty>::new("metadata", FieldType::Metadata, |r| FieldValue::Metadata(&r.base.metadata)),
                $( FieldDef::<$ty>::new($name, $kind, |$r| $get), )+
            ];
        }
    )+};
}

catalogue! {
    Org {
        "name": FieldType::Text => |r| FieldValue::Text(&r.name),
        "type": FieldType::Enum(OrgType::SPEC_VALUES) => |r| FieldValue::Enum(r.org_type.as_str()),
        "identifier": FieldType::Text => |r| text(&r.identifier),
        "parent": FieldType::GuidRef => |r| guid_ref(&r.parent),
        "children": FieldType::GuidRefList => |r| FieldValue::GuidRefs(&r.children),
    }

    AcademicSession {
        "title": FieldType::Text => |r| FieldValue::Text(&r.title),
        "startDate": FieldType::Date => |r| FieldValue::Date(r.start_date),
        "endDate": FieldType::Date => |r| FieldValue::Date(r.end_date),
        "type": FieldType::Enum(SessionType::SPEC_VALUES) => |r| FieldValue::Enum(r.session_type.as_str()),
        "parent": FieldType::GuidRef => |r| guid_ref(&r.parent),
        "children": FieldType::GuidRefList => |r| FieldValue::GuidRefs(&r.children),
        "schoolYear": FieldType::Text => |r| FieldValue::Text(&r.school_year),
    }

    Course {
        "title": FieldType::Text => |r| FieldValue::Text(&r.title),
        "schoolYear": FieldType::GuidRef => |r| guid_ref(&r.school_year),
        "courseCode": FieldType::Text => |r| text(&r.course_code),
        "grades": FieldType::GradeList => |r| FieldValue::Grades(&r.grades),
        "subjects": FieldType::TextList => |r| FieldValue::Texts(&r.subjects),
        "org": FieldType::GuidRef => |r| FieldValue::GuidRef(&r.org),
        "subjectCodes": FieldType::TextList => |r| FieldValue::Texts(&r.subject_codes),
        "resources": FieldType::GuidRefList => |r| FieldValue::GuidRefs(&r.resources),
    }

    Class {
        "title": FieldType::Text => |r| FieldValue::Text(&r.title),
        "classCode": FieldType::Text => |r| text(&r.class_code),
        "classType": FieldType::Enum(ClassType::SPEC_VALUES) => |r| FieldValue::Enum(r.class_type.as_str()),
        "location": FieldType::Text => |r| text(&r.location),
        "grades": FieldType::GradeList => |r| FieldValue::Grades(&r.grades),
        "subjects": FieldType::TextList => |r| FieldValue::Texts(&r.subjects),
        "course": FieldType::GuidRef => |r| FieldValue::GuidRef(&r.course),
        "school": FieldType::GuidRef => |r| FieldValue::GuidRef(&r.school),
        "terms": FieldType::GuidRefList => |r| FieldValue::GuidRefs(&r.terms),
        "subjectCodes": FieldType::TextList => |r| FieldValue::Texts(&r.subject_codes),
        "periods": FieldType::TextList => |r| FieldValue::Texts(&r.periods),
        "resources": FieldType::GuidRefList => |r| FieldValue::GuidRefs(&r.resources),
    }

    User {
        "username": FieldType::Text => |r| FieldValue::Text(&r.username),
        "userIds": FieldType::UserIdList => |r| FieldValue::UserIds(&r.user_ids),
        "enabledUser": FieldType::Boolean => |r| FieldValue::Boolean(r.enabled_user),
        "givenName": FieldType::Text => |r| FieldValue::Text(&r.given_name),
        "familyName": FieldType::Text => |r| FieldValue::Text(&r.family_name),
        "middleName": FieldType::Text => |r| text(&r.middle_name),
        "role": FieldType::Enum(RoleType::SPEC_VALUES) => |r| FieldValue::Enum(r.role.as_str()),
        "identifier": FieldType::Text => |r| text(&r.identifier),
        "email": FieldType::Text => |r| text(&r.email),
        "sms": FieldType::Text => |r| text(&r.sms),
        "phone": FieldType::Text => |r| text(&r.phone),
        "agents": FieldType::GuidRefList => |r| FieldValue::GuidRefs(&r.agents),
        "orgs": FieldType::GuidRefList => |r| FieldValue::GuidRefs(&r.orgs),
        "grades": FieldType::GradeList => |r| FieldValue::Grades(&r.grades),
        "password": FieldType::Password => |r| r.password.as_ref().map_or(FieldValue::Absent, FieldValue::Password),
    }

    Enrollment {
        "user": FieldType::GuidRef => |r| FieldValue::GuidRef(&r.user),
        "class": FieldType::GuidRef => |r| FieldValue::GuidRef(&r.class),
        "school": FieldType::GuidRef => |r| FieldValue::GuidRef(&r.school),
        "role": FieldType::Enum(EnrollmentRole::SPEC_VALUES) => |r| FieldValue::Enum(r.role.as_str()),
        "primary": FieldType::Boolean => |r| boolean(r.primary),
        "beginDate": FieldType::Date => |r| date(r.begin_date),
        "endDate": FieldType::Date => |r| date(r.end_date),
    }

    Demographics {
        "birthDate": FieldType::Date => |r| date(r.birth_date),
        "sex": FieldType::Enum(Sex::SPEC_VALUES) => |r| {
            r.sex.as_ref().map_or(FieldValue::Absent, |s| FieldValue::Enum(s.as_str()))
        },
        "americanIndianOrAlaskaNative": FieldType::Boolean => |r| boolean(r.american_indian_or_alaska_native),
        "asian": FieldType::Boolean => |r| boolean(r.asian),
        "blackOrAfricanAmerican": FieldType::Boolean => |r| boolean(r.black_or_african_american),
        "nativeHawaiianOrOtherPacificIslander": FieldType::Boolean => |r| {
            boolean(r.native_hawaiian_or_other_pacific_islander)
        },
        "white": FieldType::Boolean => |r| boolean(r.white),
        "demographicRaceTwoOrMoreRaces": FieldType::Boolean => |r| boolean(r.demographic_race_two_or_more_races),
        "hispanicOrLatinoEthnicity": FieldType::Boolean => |r| boolean(r.hispanic_or_latino_ethnicity),
        "countryOfBirthCode": FieldType::Text => |r| text(&r.country_of_birth_code),
        "stateOfBirthAbbreviation": FieldType::Text => |r| text(&r.state_of_birth_abbreviation),
        "cityOfBirth": FieldType::Text => |r| text(&r.city_of_birth),
        "publicSchoolResidenceStatus": FieldType::Text => |r| text(&r.public_school_residence_status),
    }
}
