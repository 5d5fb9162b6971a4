//! The OneRoster 1.1 rostering entities.
//!
//! Field names, required-ness and types follow the OneRoster 1.1 Information Model and its REST/JSON binding.
//! Required fields are plain values; optional fields are `Option`s, and optional lists are `Vec`s that are left out
//! of the JSON when empty. Required *text* and *list* fields that a producer left out are read as empty rather than
//! failing, so that [`crate::validate`] can report every such gap at once; required fields of any other type (an enum,
//! a date) must be present to be read.

use crate::datetime::serde_impl;
use crate::vocab::{ClassType, EnrollmentRole, Grade, GuidType, OrgType, RoleType, SessionType, Sex};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Free-form extension data a producer attaches to a record (`metadata` in JSON, `metadata.*` columns in CSV).
pub type Metadata = BTreeMap<String, serde_json::Value>;

/// `StatusType`: whether a record is live or marked for deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
pub enum Status {
    /// `active`
    #[default]
    #[serde(rename = "active")]
    Active,
    /// `tobedeleted`
    #[serde(rename = "tobedeleted")]
    ToBeDeleted,
}

impl<'de> Deserialize<'de> for Status {
    /// Reads `active` or `tobedeleted` in any letter case.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Status, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Status;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`active` or `tobedeleted`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Status, E> {
                Status::parse(v).ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(V)
    }
}

impl Status {
    /// The value as OneRoster writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::ToBeDeleted => "tobedeleted",
        }
    }

    /// Reads `active` or `tobedeleted` in any letter case.
    pub fn parse(text: &str) -> Option<Status> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("active") {
            Some(Status::Active)
        } else if t.eq_ignore_ascii_case("tobedeleted") {
            Some(Status::ToBeDeleted)
        } else {
            None
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields every OneRoster entity carries.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Base {
    /// The record's identifier, unique within its kind.
    #[serde(default)]
    pub sourced_id: String,
    /// `active` or `tobedeleted`. A bulk CSV file may leave it blank; it is then `active`.
    #[serde(default)]
    pub status: Status,
    /// When the record last changed, always written as `YYYY-MM-DDTHH:mm:ss.SSSZ`. Required by the REST binding;
    /// `None` only for records read from a bulk CSV file that left it blank.
    #[serde(default, with = "serde_impl::opt_datetime", skip_serializing_if = "Option::is_none")]
    pub date_last_modified: Option<DateTime<Utc>>,
    /// Extension data.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: Metadata,
}

impl Base {
    /// An active record with this id and no modification date.
    pub fn new(sourced_id: impl Into<String>) -> Base {
        Base { sourced_id: sourced_id.into(), ..Base::default() }
    }
}

/// `GUIDRef`: a reference to another record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuidRef {
    /// The URL of the referenced record. Required in the REST binding, but derived from the service's base URL, so
    /// records read from CSV leave it `None` and a provider fills it in when it serves them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    /// The referenced record's `sourcedId`.
    #[serde(default)]
    pub sourced_id: String,
    /// What kind of record is referenced.
    #[serde(rename = "type")]
    pub kind: GuidType,
}

impl GuidRef {
    /// A reference without `href`.
    pub fn new(kind: GuidType, sourced_id: impl Into<String>) -> GuidRef {
        GuidRef { href: None, sourced_id: sourced_id.into(), kind }
    }
}

/// `UserId`: one of a user's identifiers in another system (e.g. `{type: "LDAP", identifier: "jdoe"}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UserId {
    /// The kind of identifier, free text.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The identifier.
    #[serde(default)]
    pub identifier: String,
}

/// A user's password. Never shown by `Debug`; see the `password` field of [`User`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Password {
        Password(password.into())
    }
    /// The password itself. Call only to hand it on to where it must go.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// `Org`: a school, district or other organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Org {
    /// Common fields.
    #[serde(flatten)]
    pub base: Base,
    /// Required.
    #[serde(default)]
    pub name: String,
    /// Required.
    #[serde(rename = "type")]
    pub org_type: OrgType,
    /// Optional: a human-readable identifier, such as a national school number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Optional: the parent org.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<GuidRef>,
    /// Optional: the child orgs (not carried in CSV; see [`crate::Roster::link_children`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<GuidRef>,
}

/// `AcademicSession`: a school year, term, semester or grading period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcademicSession {
    /// Common fields.
    #[serde(flatten)]
    pub base: Base,
    /// Required.
    #[serde(default)]
    pub title: String,
    /// Required.
    #[serde(with = "serde_impl::date")]
    pub start_date: NaiveDate,
    /// Required.
    #[serde(with = "serde_impl::date")]
    pub end_date: NaiveDate,
    /// Required.
    #[serde(rename = "type")]
    pub session_type: SessionType,
    /// Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<GuidRef>,
    /// Optional (not carried in CSV; see [`crate::Roster::link_children`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<GuidRef>,
    /// Required: the school year this session belongs to, as a four-digit year (`2025` for 2024–25).
    #[serde(default)]
    pub school_year: String,
}

/// `Course`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Course {
    /// Common fields.
    #[serde(flatten)]
    pub base: Base,
    /// Required.
    #[serde(default)]
    pub title: String,
    /// Optional: the school year (an academic session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school_year: Option<GuidRef>,
    /// Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub course_code: Option<String>,
    /// Optional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grades: Vec<Grade>,
    /// Optional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    /// Required: the org that owns the course.
    pub org: GuidRef,
    /// Optional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_codes: Vec<String>,
    /// Optional (not carried in the rostering CSV files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<GuidRef>,
}

/// `Class`: a course taught to a group of students in a term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Class {
    /// Common fields.
    #[serde(flatten)]
    pub base: Base,
    /// Required.
    #[serde(default)]
    pub title: String,
    /// Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_code: Option<String>,
    /// Required.
    pub class_type: ClassType,
    /// Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Optional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grades: Vec<Grade>,
    /// Optional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    /// Required.
    pub course: GuidRef,
    /// Required.
    pub school: GuidRef,
    /// Required, at least one.
    #[serde(default)]
    pub terms: Vec<GuidRef>,
    /// Optional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_codes: Vec<String>,
    /// Optional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub periods: Vec<String>,
    /// Optional (not carried in the rostering CSV files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<GuidRef>,
}

/// `User`: a student, teacher, administrator, guardian…
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Common fields.
    #[serde(flatten)]
    pub base: Base,
    /// Required.
    #[serde(default)]
    pub username: String,
    /// Optional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_ids: Vec<UserId>,
    /// Required. Written as the string `"true"`/`"false"` as the 1.1 binding does; read from a string or a boolean.
    #[serde(with = "serde_impl::str_bool")]
    pub enabled_user: bool,
    /// Required.
    #[serde(default)]
    pub given_name: String,
    /// Required.
    #[serde(default)]
    pub family_name: String,
    /// Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// Required.
    pub role: RoleType,
    /// Optional: e.g. the student number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<String>,
    /// Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Optional: related users (parents, guardians, or the students of a guardian).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<GuidRef>,
    /// Required, at least one.
    #[serde(default)]
    pub orgs: Vec<GuidRef>,
    /// Optional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grades: Vec<Grade>,
    /// Optional. Kept out of `Debug`; a provider serves it only when its operator asks for that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Password>,
}

/// `Enrollment`: a user in a class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Enrollment {
    /// Common fields.
    #[serde(flatten)]
    pub base: Base,
    /// Required.
    pub user: GuidRef,
    /// Required.
    pub class: GuidRef,
    /// Required: the school of the class.
    pub school: GuidRef,
    /// Required.
    pub role: EnrollmentRole,
    /// Optional: whether this teacher is the class's primary teacher.
    #[serde(default, with = "serde_impl::opt_str_bool", skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    /// Optional.
    #[serde(default, with = "serde_impl::opt_date", skip_serializing_if = "Option::is_none")]
    pub begin_date: Option<NaiveDate>,
    /// Optional.
    #[serde(default, with = "serde_impl::opt_date", skip_serializing_if = "Option::is_none")]
    pub end_date: Option<NaiveDate>,
}

/// `Demographics` of a user; its `sourcedId` is the user's.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Demographics {
    /// Common fields.
    #[serde(flatten)]
    pub base: Base,
    /// Optional.
    #[serde(default, with = "serde_impl::opt_date", skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    /// Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    /// Optional.
    #[serde(default, with = "serde_impl::opt_str_bool", skip_serializing_if = "Option::is_none")]
    pub american_indian_or_alaska_native: Option<bool>,
    /// Optional.
    #[serde(default, with = "serde_impl::opt_str_bool", skip_serializing_if = "Option::is_none")]
    pub asian: Option<bool>,
    /// Optional.
    #[serde(default, with = "serde_impl::opt_str_bool", skip_serializing_if = "Option::is_none")]
    pub black_or_african_american: Option<bool>,
    /// Optional.
    #[serde(default, with = "serde_impl::opt_str_bool", skip_serializing_if = "Option::is_none")]
    pub native_hawaiian_or_other_pacific_islander: Option<bool>,
    /// Optional.
    #[serde(default, with = "serde_impl::opt_str_bool", skip_serializing_if = "Option::is_none")]
    pub white: Option<bool>,
    /// Optional.
    #[serde(default, with = "serde_impl::opt_str_bool", skip_serializing_if = "Option::is_none")]
    pub demographic_race_two_or_more_races: Option<bool>,
    /// Optional.
    #[serde(default, with = "serde_impl::opt_str_bool", skip_serializing_if = "Option::is_none")]
    pub hispanic_or_latino_ethnicity: Option<bool>,
    /// Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_of_birth_code: Option<String>,
    /// Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_of_birth_abbreviation: Option<String>,
    /// Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city_of_birth: Option<String>,
    /// Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_school_residence_status: Option<String>,
}

/// The kinds of rostering entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EntityKind {
    /// [`Org`]
    Org,
    /// [`AcademicSession`]
    AcademicSession,
    /// [`Course`]
    Course,
    /// [`Class`]
    Class,
    /// [`User`]
    User,
    /// [`Enrollment`]
    Enrollment,
    /// [`Demographics`]
    Demographics,
}

impl EntityKind {
    /// All kinds, in dependency order (a kind refers only to kinds before it, or to its own kind).
    pub const ALL: [EntityKind; 7] = [
        EntityKind::Org,
        EntityKind::AcademicSession,
        EntityKind::Course,
        EntityKind::Class,
        EntityKind::User,
        EntityKind::Enrollment,
        EntityKind::Demographics,
    ];

    /// The JSON key of a collection response, e.g. `users` in `{"users": […]}`.
    pub fn collection_key(self) -> &'static str {
        match self {
            EntityKind::Org => "orgs",
            EntityKind::AcademicSession => "academicSessions",
            EntityKind::Course => "courses",
            EntityKind::Class => "classes",
            EntityKind::User => "users",
            EntityKind::Enrollment => "enrollments",
            EntityKind::Demographics => "demographics",
        }
    }

    /// The JSON key of a single-record response, e.g. `user` in `{"user": {…}}`.
    pub fn single_key(self) -> &'static str {
        match self {
            EntityKind::Org => "org",
            EntityKind::AcademicSession => "academicSession",
            EntityKind::Course => "course",
            EntityKind::Class => "class",
            EntityKind::User => "user",
            EntityKind::Enrollment => "enrollment",
            EntityKind::Demographics => "demographics",
        }
    }

    /// The file of a OneRoster CSV set that holds this kind, e.g. `users.csv`.
    pub fn csv_file_name(self) -> &'static str {
        match self {
            EntityKind::Org => "orgs.csv",
            EntityKind::AcademicSession => "academicSessions.csv",
            EntityKind::Course => "courses.csv",
            EntityKind::Class => "classes.csv",
            EntityKind::User => "users.csv",
            EntityKind::Enrollment => "enrollments.csv",
            EntityKind::Demographics => "demographics.csv",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.single_key())
    }
}

/// What every rostering entity type has in common.
pub trait Entity:
    Clone + fmt::Debug + PartialEq + Serialize + for<'de> Deserialize<'de> + Send + Sync + 'static
{
    /// Which kind this is.
    const KIND: EntityKind;
    /// The common fields.
    fn base(&self) -> &Base;
    /// The common fields, mutably.
    fn base_mut(&mut self) -> &mut Base;
    /// The record's `sourcedId`.
    fn sourced_id(&self) -> &str {
        &self.base().sourced_id
    }
}

macro_rules! entity {
    ($($ty:ident => $kind:ident),+ $(,)?) => {$(
        impl Entity for $ty {
            const KIND: EntityKind = EntityKind::$kind;
            fn base(&self) -> &Base {
                &self.base
            }
            fn base_mut(&mut self) -> &mut Base {
                &mut self.base
            }
        }
    )+};
}

entity! {
    Org => Org,
    AcademicSession => AcademicSession,
    Course => Course,
    Class => Class,
    User => User,
    Enrollment => Enrollment,
    Demographics => Demographics,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_redacted_in_debug() {
        let user = User {
            base: Base::new("u1"),
            username: "jdoe".into(),
            user_ids: vec![],
            enabled_user: true,
            given_name: "J".into(),
            family_name: "Doe".into(),
            middle_name: None,
            role: RoleType::Student,
            identifier: None,
            email: None,
            sms: None,
            phone: None,
            agents: vec![],
            orgs: vec![],
            grades: vec![],
            password: Some(Password::new("hunter2")),
        };
        let debug = format!("{user:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("[redacted]"));
    }
}
