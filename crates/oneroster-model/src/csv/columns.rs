//! Column layouts of the rostering files and the conversion of one row to and from an entity.

use super::CsvIssue;
use super::manifest::FileMode;
use crate::datetime::{format_date, format_datetime, parse_bool, parse_date, parse_datetime};
use crate::entity::{
    AcademicSession, Base, Class, Course, Demographics, Enrollment, Entity, GuidRef, Org, Password, Status, User,
    UserId,
};
use crate::vocab::{ClassType, EnrollmentRole, Grade, GuidType, OrgType, RoleType, SessionType, Sex};
use chrono::NaiveDate;

/// A rostering entity with a file in the CSV binding.
pub trait CsvEntity: Entity + Sized {
    /// The file's columns, in the specification's order. The first three are always `sourcedId`, `status`,
    /// `dateLastModified`.
    const COLUMNS: &'static [&'static str];
    /// The columns a file must have: those of required fields.
    const REQUIRED_COLUMNS: &'static [&'static str];

    /// Reads one row; problems are recorded in the row, and `None` is returned when the row cannot be read.
    #[doc(hidden)]
    fn from_row(row: &mut Row<'_>) -> Option<Self>;

    /// Writes one row's fields in [`COLUMNS`](Self::COLUMNS) order.
    #[doc(hidden)]
    fn to_row(&self, out: &mut Vec<String>);
}

/// One data row being read, with the problems found in it so far.
#[doc(hidden)]
#[derive(Debug)]
pub struct Row<'a> {
    pub(crate) file: &'a str,
    pub(crate) line: u64,
    pub(crate) mode: FileMode,
    pub(crate) columns: &'static [&'static str],
    /// For each of `columns`, its index in the record, if the file has that column.
    pub(crate) index: &'a [Option<usize>],
    /// `metadata.<name>` columns: (record index, name).
    pub(crate) metadata: &'a [(usize, String)],
    pub(crate) record: &'a ::csv::StringRecord,
    pub(crate) issues: Vec<CsvIssue>,
}

impl<'a> Row<'a> {
    fn raw(&self, col: usize) -> &'a str {
        match self.index.get(col).copied().flatten() {
            Some(i) => self.record.get(i).unwrap_or(""),
            None => "",
        }
    }

    fn issue(&mut self, col: usize, value: &str, message: impl Into<String>) {
        self.issues.push(CsvIssue {
            file: self.file.to_owned(),
            line: self.line,
            column: self.columns.get(col).map(|c| (*c).to_owned()),
            value: Some(value.to_owned()),
            message: message.into(),
        });
    }

    /// Text as written, trimmed; empty when blank. Used for required text, which validation checks.
    fn text(&self, col: usize) -> String {
        self.raw(col).trim().to_owned()
    }

    fn opt_text(&self, col: usize) -> Option<String> {
        let t = self.raw(col).trim();
        (!t.is_empty()).then(|| t.to_owned())
    }

    fn list(&self, col: usize) -> Vec<String> {
        self.raw(col).split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
    }

    fn grades(&self, col: usize) -> Vec<Grade> {
        self.raw(col).split(',').map(str::trim).filter(|s| !s.is_empty()).map(Grade::parse).collect()
    }

    fn guid(&self, col: usize, kind: GuidType) -> GuidRef {
        GuidRef::new(kind, self.raw(col).trim())
    }

    fn opt_guid(&self, col: usize, kind: GuidType) -> Option<GuidRef> {
        self.opt_text(col).map(|id| GuidRef::new(kind, id))
    }

    fn guids(&self, col: usize, kind: GuidType) -> Vec<GuidRef> {
        self.raw(col)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|id| GuidRef::new(kind.clone(), id))
            .collect()
    }

    fn required<T>(&mut self, col: usize, parse: impl FnOnce(&str) -> Option<T>, what: &str) -> Option<T> {
        let raw = self.raw(col);
        let t = raw.trim();
        if t.is_empty() {
            self.issue(col, raw, format!("required: expected {what}"));
            return None;
        }
        let parsed = parse(t);
        if parsed.is_none() {
            self.issue(col, raw, format!("expected {what}"));
        }
        parsed
    }

    fn optional<T>(&mut self, col: usize, parse: impl FnOnce(&str) -> Option<T>, what: &str) -> Option<T> {
        let raw = self.raw(col);
        let t = raw.trim();
        if t.is_empty() {
            return None;
        }
        let parsed = parse(t);
        if parsed.is_none() {
            self.issue(col, raw, format!("expected {what}"));
        }
        parsed
    }

    fn date(&mut self, col: usize) -> Option<NaiveDate> {
        self.required(col, |t| parse_date(t).ok(), "a date (YYYY-MM-DD)")
    }

    fn opt_date(&mut self, col: usize) -> Option<NaiveDate> {
        self.optional(col, |t| parse_date(t).ok(), "a date (YYYY-MM-DD)")
    }

    fn opt_bool(&mut self, col: usize) -> Option<bool> {
        self.optional(col, parse_bool, "true or false")
    }

    fn user_ids(&mut self, col: usize) -> Vec<UserId> {
        let raw = self.raw(col);
        match parse_user_ids(raw) {
            Ok(ids) => ids,
            Err(message) => {
                self.issue(col, raw, message);
                Vec::new()
            }
        }
    }

    /// The three common columns plus `metadata.*`.
    fn base(&mut self) -> Base {
        let sourced_id = self.text(0);
        let delta = self.mode == FileMode::Delta;
        let status_raw = self.raw(1);
        let status = if status_raw.trim().is_empty() {
            if delta {
                self.issue(1, status_raw, "required in a delta file: expected active or tobedeleted");
            }
            Status::Active
        } else {
            match Status::parse(status_raw) {
                Some(s) => s,
                None => {
                    self.issue(1, status_raw, "expected active or tobedeleted");
                    Status::Active
                }
            }
        };
        let dlm_raw = self.raw(2);
        let date_last_modified = if dlm_raw.trim().is_empty() {
            if delta {
                self.issue(2, dlm_raw, "required in a delta file: expected a date-time (YYYY-MM-DDTHH:mm:ss.SSSZ)");
            }
            None
        } else {
            match parse_datetime(dlm_raw) {
                Ok(dt) => Some(dt),
                Err(_) => {
                    self.issue(2, dlm_raw, "expected a date-time (YYYY-MM-DDTHH:mm:ss.SSSZ)");
                    None
                }
            }
        };
        let mut metadata = crate::Metadata::new();
        for (i, name) in self.metadata {
            let value = self.record.get(*i).unwrap_or("");
            if !value.is_empty() {
                metadata.insert(name.clone(), serde_json::Value::String(value.to_owned()));
            }
        }
        Base { sourced_id, status, date_last_modified, metadata }
    }
}

/// Parses `{type:identifier},{type:identifier}`.
fn parse_user_ids(raw: &str) -> Result<Vec<UserId>, String> {
    let mut ids = Vec::new();
    let mut rest = raw.trim();
    while !rest.is_empty() {
        let Some(body) = rest.strip_prefix('{') else {
            return Err("expected userIds as a list of {type:identifier}".into());
        };
        let Some(end) = body.find('}') else {
            return Err("a `{` in userIds has no matching `}`".into());
        };
        let item = &body[..end];
        let Some((kind, identifier)) = item.split_once(':') else {
            return Err(format!("userIds item `{{{item}}}` has no `:` between type and identifier"));
        };
        ids.push(UserId { kind: kind.trim().to_owned(), identifier: identifier.trim().to_owned() });
        rest = body[end + 1..].trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
        } else if !rest.is_empty() {
            return Err("userIds items must be separated by commas".into());
        }
    }
    Ok(ids)
}

fn base_fields(base: &Base, out: &mut Vec<String>) {
    out.push(base.sourced_id.clone());
    out.push(base.status.as_str().to_owned());
    out.push(base.date_last_modified.as_ref().map(format_datetime).unwrap_or_default());
}

fn opt(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

fn join<T: AsRef<str>>(items: impl IntoIterator<Item = T>) -> String {
    let mut out = String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item.as_ref());
    }
    out
}

fn ids(refs: &[GuidRef]) -> String {
    join(refs.iter().map(|r| r.sourced_id.as_str()))
}

fn opt_id(r: &Option<GuidRef>) -> String {
    r.as_ref().map(|r| r.sourced_id.clone()).unwrap_or_default()
}

fn opt_bool(value: Option<bool>) -> String {
    value.map(|b| if b { "true" } else { "false" }.to_owned()).unwrap_or_default()
}

fn opt_date(value: &Option<NaiveDate>) -> String {
    value.as_ref().map(format_date).unwrap_or_default()
}

impl CsvEntity for Org {
    const COLUMNS: &'static [&'static str] =
        &["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"];
    const REQUIRED_COLUMNS: &'static [&'static str] = &["sourcedId", "name", "type"];

    fn from_row(row: &mut Row<'_>) -> Option<Self> {
        let base = row.base();
        let name = row.text(3);
        let org_type = row.required(4, |t| Some(OrgType::parse(t)), "an org type (school, district, …)");
        Some(Org {
            base,
            name,
            org_type: org_type?,
            identifier: row.opt_text(5),
            parent: row.opt_guid(6, GuidType::Org),
            children: Vec::new(),
        })
    }

    fn to_row(&self, out: &mut Vec<String>) {
        base_fields(&self.base, out);
        out.push(self.name.clone());
        out.push(self.org_type.as_str().to_owned());
        out.push(opt(&self.identifier));
        out.push(opt_id(&self.parent));
    }
}

impl CsvEntity for AcademicSession {
    const COLUMNS: &'static [&'static str] = &[
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "type",
        "startDate",
        "endDate",
        "parentSourcedId",
        "schoolYear",
    ];
    const REQUIRED_COLUMNS: &'static [&'static str] =
        &["sourcedId", "title", "type", "startDate", "endDate", "schoolYear"];

    fn from_row(row: &mut Row<'_>) -> Option<Self> {
        let base = row.base();
        let title = row.text(3);
        let session_type = row.required(4, |t| Some(SessionType::parse(t)), "a session type (term, schoolYear, …)");
        let start_date = row.date(5);
        let end_date = row.date(6);
        Some(AcademicSession {
            base,
            title,
            start_date: start_date?,
            end_date: end_date?,
            session_type: session_type?,
            parent: row.opt_guid(7, GuidType::AcademicSession),
            children: Vec::new(),
            school_year: row.text(8),
        })
    }

    fn to_row(&self, out: &mut Vec<String>) {
        base_fields(&self.base, out);
        out.push(self.title.clone());
        out.push(self.session_type.as_str().to_owned());
        out.push(format_date(&self.start_date));
        out.push(format_date(&self.end_date));
        out.push(opt_id(&self.parent));
        out.push(self.school_year.clone());
    }
}

impl CsvEntity for Course {
    const COLUMNS: &'static [&'static str] = &[
        "sourcedId",
        "status",
        "dateLastModified",
        "schoolYearSourcedId",
        "title",
        "courseCode",
        "grades",
        "orgSourcedId",
        "subjects",
        "subjectCodes",
    ];
    const REQUIRED_COLUMNS: &'static [&'static str] = &["sourcedId", "title", "orgSourcedId"];

    fn from_row(row: &mut Row<'_>) -> Option<Self> {
        Some(Course {
            base: row.base(),
            school_year: row.opt_guid(3, GuidType::AcademicSession),
            title: row.text(4),
            course_code: row.opt_text(5),
            grades: row.grades(6),
            org: row.guid(7, GuidType::Org),
            subjects: row.list(8),
            subject_codes: row.list(9),
            resources: Vec::new(),
        })
    }

    fn to_row(&self, out: &mut Vec<String>) {
        base_fields(&self.base, out);
        out.push(opt_id(&self.school_year));
        out.push(self.title.clone());
        out.push(opt(&self.course_code));
        out.push(join(self.grades.iter().map(Grade::as_str)));
        out.push(self.org.sourced_id.clone());
        out.push(join(&self.subjects));
        out.push(join(&self.subject_codes));
    }
}

impl CsvEntity for Class {
    const COLUMNS: &'static [&'static str] = &[
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
    ];
    const REQUIRED_COLUMNS: &'static [&'static str] =
        &["sourcedId", "title", "courseSourcedId", "classType", "schoolSourcedId", "termSourcedIds"];

    fn from_row(row: &mut Row<'_>) -> Option<Self> {
        let base = row.base();
        let class_type = row.required(7, |t| Some(ClassType::parse(t)), "a class type (homeroom or scheduled)");
        Some(Class {
            base,
            title: row.text(3),
            grades: row.grades(4),
            course: row.guid(5, GuidType::Course),
            class_code: row.opt_text(6),
            class_type: class_type?,
            location: row.opt_text(8),
            school: row.guid(9, GuidType::Org),
            terms: row.guids(10, GuidType::AcademicSession),
            subjects: row.list(11),
            subject_codes: row.list(12),
            periods: row.list(13),
            resources: Vec::new(),
        })
    }

    fn to_row(&self, out: &mut Vec<String>) {
        base_fields(&self.base, out);
        out.push(self.title.clone());
        out.push(join(self.grades.iter().map(Grade::as_str)));
        out.push(self.course.sourced_id.clone());
        out.push(opt(&self.class_code));
        out.push(self.class_type.as_str().to_owned());
        out.push(opt(&self.location));
        out.push(self.school.sourced_id.clone());
        out.push(ids(&self.terms));
        out.push(join(&self.subjects));
        out.push(join(&self.subject_codes));
        out.push(join(&self.periods));
    }
}

impl CsvEntity for User {
    const COLUMNS: &'static [&'static str] = &[
        "sourcedId",
        "status",
        "dateLastModified",
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
    ];
    const REQUIRED_COLUMNS: &'static [&'static str] =
        &["sourcedId", "enabledUser", "orgSourcedIds", "role", "username", "givenName", "familyName"];

    fn from_row(row: &mut Row<'_>) -> Option<Self> {
        let base = row.base();
        let enabled_user = row.required(3, parse_bool, "true or false");
        let role = row.required(5, |t| Some(RoleType::parse(t)), "a role (student, teacher, …)");
        let user_ids = row.user_ids(7);
        Some(User {
            base,
            enabled_user: enabled_user?,
            orgs: row.guids(4, GuidType::Org),
            role: role?,
            username: row.text(6),
            user_ids,
            given_name: row.text(8),
            family_name: row.text(9),
            middle_name: row.opt_text(10),
            identifier: row.opt_text(11),
            email: row.opt_text(12),
            sms: row.opt_text(13),
            phone: row.opt_text(14),
            agents: row.guids(15, GuidType::User),
            grades: row.grades(16),
            password: row.opt_text(17).map(Password::new),
        })
    }

    fn to_row(&self, out: &mut Vec<String>) {
        base_fields(&self.base, out);
        out.push(if self.enabled_user { "true" } else { "false" }.to_owned());
        out.push(ids(&self.orgs));
        out.push(self.role.as_str().to_owned());
        out.push(self.username.clone());
        out.push(join(self.user_ids.iter().map(|id| format!("{{{}:{}}}", id.kind, id.identifier))));
        out.push(self.given_name.clone());
        out.push(self.family_name.clone());
        out.push(opt(&self.middle_name));
        out.push(opt(&self.identifier));
        out.push(opt(&self.email));
        out.push(opt(&self.sms));
        out.push(opt(&self.phone));
        out.push(ids(&self.agents));
        out.push(join(self.grades.iter().map(Grade::as_str)));
        out.push(self.password.as_ref().map(|p| p.expose().to_owned()).unwrap_or_default());
    }
}

impl CsvEntity for Enrollment {
    const COLUMNS: &'static [&'static str] = &[
        "sourcedId",
        "status",
        "dateLastModified",
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ];
    const REQUIRED_COLUMNS: &'static [&'static str] =
        &["sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"];

    fn from_row(row: &mut Row<'_>) -> Option<Self> {
        let base = row.base();
        let role = row.required(6, |t| Some(EnrollmentRole::parse(t)), "a role (student, teacher, …)");
        let primary = row.opt_bool(7);
        let begin_date = row.opt_date(8);
        let end_date = row.opt_date(9);
        Some(Enrollment {
            base,
            class: row.guid(3, GuidType::Class),
            school: row.guid(4, GuidType::Org),
            user: row.guid(5, GuidType::User),
            role: role?,
            primary,
            begin_date,
            end_date,
        })
    }

    fn to_row(&self, out: &mut Vec<String>) {
        base_fields(&self.base, out);
        out.push(self.class.sourced_id.clone());
        out.push(self.school.sourced_id.clone());
        out.push(self.user.sourced_id.clone());
        out.push(self.role.as_str().to_owned());
        out.push(opt_bool(self.primary));
        out.push(opt_date(&self.begin_date));
        out.push(opt_date(&self.end_date));
    }
}

impl CsvEntity for Demographics {
    const COLUMNS: &'static [&'static str] = &[
        "sourcedId",
        "status",
        "dateLastModified",
        "birthDate",
        "sex",
        "americanIndianOrAlaskaNative",
        "asian",
        "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white",
        "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity",
        "countryOfBirthCode",
        "stateOfBirthAbbreviation",
        "cityOfBirth",
        "publicSchoolResidenceStatus",
    ];
    const REQUIRED_COLUMNS: &'static [&'static str] = &["sourcedId"];

    fn from_row(row: &mut Row<'_>) -> Option<Self> {
        Some(Demographics {
            base: row.base(),
            birth_date: row.opt_date(3),
            sex: row.optional(4, |t| Some(Sex::parse(t)), "male, female, other or unspecified"),
            american_indian_or_alaska_native: row.opt_bool(5),
            asian: row.opt_bool(6),
            black_or_african_american: row.opt_bool(7),
            native_hawaiian_or_other_pacific_islander: row.opt_bool(8),
            white: row.opt_bool(9),
            demographic_race_two_or_more_races: row.opt_bool(10),
            hispanic_or_latino_ethnicity: row.opt_bool(11),
            country_of_birth_code: row.opt_text(12),
            state_of_birth_abbreviation: row.opt_text(13),
            city_of_birth: row.opt_text(14),
            public_school_residence_status: row.opt_text(15),
        })
    }

    fn to_row(&self, out: &mut Vec<String>) {
        base_fields(&self.base, out);
        out.push(opt_date(&self.birth_date));
        out.push(self.sex.as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default());
        for flag in [
            self.american_indian_or_alaska_native,
            self.asian,
            self.black_or_african_american,
            self.native_hawaiian_or_other_pacific_islander,
            self.white,
            self.demographic_race_two_or_more_races,
            self.hispanic_or_latino_ethnicity,
        ] {
            out.push(opt_bool(flag));
        }
        out.push(opt(&self.country_of_birth_code));
        out.push(opt(&self.state_of_birth_abbreviation));
        out.push(opt(&self.city_of_birth));
        out.push(opt(&self.public_school_residence_status));
    }
}

#[cfg(test)]
mod tests {
    use super::parse_user_ids;

    #[test]
    fn user_ids_lists() {
        let ids = parse_user_ids("{LDAP:jdoe}, {SIS:42:a}").unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!((ids[1].kind.as_str(), ids[1].identifier.as_str()), ("SIS", "42:a"));
        assert!(parse_user_ids("").unwrap().is_empty());
        assert!(parse_user_ids("LDAP:jdoe").is_err());
        assert!(parse_user_ids("{LDAP:jdoe").is_err());
        assert!(parse_user_ids("{LDAPjdoe}").is_err());
        assert!(parse_user_ids("{a:b} {c:d}").is_err());
    }
}
