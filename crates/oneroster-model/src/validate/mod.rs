//! Validation of a whole roster: the OneRoster 1.1 rules, and optionally what Microsoft School Data Sync rejects.
//!
//! [`validate`] checks a [`Roster`] in memory. For a roster too large for that, feed a [`Validator`] one record at
//! a time (as a CSV set is read) and call [`Validator::finish`]: it keeps only compact key sets (128-bit
//! fingerprints of `sourcedId`s, a school per class, the orgs of each user as small numbers), never whole records.
//! A million users and three million enrollments take about 230 MB, half the size of their CSV files; validation
//! alone gets through a few million records a second on one core.
//!
//! Records may come in any order. In the dependency order (orgs, academic sessions, courses, classes, users,
//! enrollments, demographics) almost every reference is resolved as soon as it is seen; the rest are kept and
//! resolved by [`Validator::finish`]. Either way the report is the same.
//!
//! Every finding names a [`Rule`] with a stable id. The core rules, checked by both profiles:
//!
//! * `required`: `sourcedId`; org `name`; session `title` and `schoolYear`; course `title` and `org`; class
//!   `title`, `course`, `school` and at least one of `terms`; user `username`, `givenName`, `familyName` and at
//!   least one of `orgs`; enrollment `user`, `class` and `school`; and the `sourcedId` of every reference;
//! * `school-year-format`: `schoolYear` is a four-digit year;
//! * `missing-date-last-modified` (warning): the REST binding requires `dateLastModified`;
//! * `unknown-vocabulary` (warning): a vocabulary value neither listed by the specification nor `ext:`;
//! * `duplicate-sourced-id`: a `sourcedId` twice within a kind;
//! * `dangling-reference`: org `parent` → org, session `parent` → session, course `org` → org, course
//!   `schoolYear` → session, class `course` → course, class `school` → org, class `terms` → session, user `orgs` →
//!   org, user `agents` → user, enrollment `user`/`class`/`school`, and a demographics `sourcedId` → user;
//! * `reference-type-mismatch` (warning): a reference's `type` contradicts its field;
//! * `reference-to-deleted` (warning): an active record refers to a `tobedeleted` one (which still counts as
//!   present);
//! * `enrollment-school-mismatch`: an enrollment's `school` differs from its class's;
//! * `enrollment-user-not-in-school` (warning): the enrolled user's `orgs` do not include that school;
//! * `class-school-not-school` (warning): a class's `school` is an org of another type;
//! * `date-order`: a session's `startDate` after its `endDate`, or an enrollment's `beginDate` after its `endDate`.
//!
//! [`Profile::Sds`] adds the `sds-` rules (see [`Rule`] and [`chars`]).
//!
//! ```
//! use oneroster_model::validate::{validate, Profile, Rule};
//! use oneroster_model::{Base, Org, OrgType, Roster};
//!
//! let org = Org {
//!     base: Base::new("s1"),
//!     name: "North High".into(),
//!     org_type: OrgType::School,
//!     identifier: None,
//!     parent: None,
//!     children: vec![],
//! };
//! let roster = Roster { orgs: vec![org.clone(), org], ..Roster::default() };
//! let report = validate(&roster, &Profile::Core);
//! assert!(!report.is_ok());
//! assert!(report.findings.iter().any(|f| f.rule == Rule::DuplicateSourcedId && f.sourced_id == "s1"));
//! // Without dateLastModified, each org also has a warning.
//! assert_eq!((report.errors, report.warnings), (1, 2));
//! ```

pub mod chars;
mod checks;
mod keys;
mod report;
mod rules;
mod sds;
mod validator;

pub use report::{Finding, KindCounts, Report, Severity};
pub use rules::Rule;
pub use sds::is_plausible_email;
pub use validator::Validator;

use crate::roster::Roster;
use std::fmt;
use std::str::FromStr;

/// How many findings a [`Report`] keeps unless told otherwise ([`Validator::with_max_findings`]).
pub const DEFAULT_MAX_FINDINGS: usize = 10_000;

/// Which rules to check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Profile {
    /// The OneRoster 1.1 rules.
    #[default]
    Core,
    /// The OneRoster 1.1 rules and what Microsoft School Data Sync rejects or needs.
    Sds(SdsOptions),
}

impl Profile {
    /// The SDS profile with default options (people matched on `email`).
    pub fn sds() -> Profile {
        Profile::Sds(SdsOptions::default())
    }

    /// The SDS options, if this is the SDS profile.
    pub fn sds_options(&self) -> Option<&SdsOptions> {
        match self {
            Profile::Core => None,
            Profile::Sds(options) => Some(options),
        }
    }
}

/// Options of the School Data Sync profile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdsOptions {
    /// The user field SDS matches people to Microsoft Entra accounts on.
    pub match_field: MatchField,
}

/// The user field School Data Sync matches people to Microsoft Entra accounts on. Every active user needs a value
/// in it, unique ignoring letter case.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MatchField {
    /// `email` (the default).
    #[default]
    Email,
    /// `username`.
    Username,
    /// `identifier`.
    Identifier,
    /// The `identifier` of the `userIds` entry of this type (compared ignoring letter case), e.g. `LDAP`.
    UserId(String),
}

impl MatchField {
    /// The JSON name of the field the value is read from: `email`, `username`, `identifier` or `userIds`.
    pub fn field_name(&self) -> &'static str {
        match self {
            MatchField::Email => "email",
            MatchField::Username => "username",
            MatchField::Identifier => "identifier",
            MatchField::UserId(_) => "userIds",
        }
    }
}

/// `email`, `username`, `identifier` or `userIds:<type>`.
impl fmt::Display for MatchField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatchField::UserId(kind) => write!(f, "userIds:{kind}"),
            other => f.write_str(other.field_name()),
        }
    }
}

/// A match field that is not `email`, `username`, `identifier` or `userIds:<type>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SDS match field `{0}`: expected email, username, identifier or userIds:<type>")]
pub struct UnknownMatchField(pub String);

/// Reads what [`Display`](fmt::Display) writes, in any letter case (`userId:<type>` is accepted too).
impl FromStr for MatchField {
    type Err = UnknownMatchField;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("email") {
            return Ok(MatchField::Email);
        }
        if t.eq_ignore_ascii_case("username") {
            return Ok(MatchField::Username);
        }
        if t.eq_ignore_ascii_case("identifier") {
            return Ok(MatchField::Identifier);
        }
        if let Some((name, kind)) = t.split_once(':')
            && (name.eq_ignore_ascii_case("userIds") || name.eq_ignore_ascii_case("userId"))
            && !kind.trim().is_empty()
        {
            return Ok(MatchField::UserId(kind.trim().to_owned()));
        }
        Err(UnknownMatchField(text.to_owned()))
    }
}

/// Validates a whole roster, feeding a [`Validator`] in dependency order.
pub fn validate(roster: &Roster, profile: &Profile) -> Report {
    let mut validator = Validator::new(profile.clone());
    validator.roster(roster);
    validator.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_field_round_trips() {
        for field in
            [MatchField::Email, MatchField::Username, MatchField::Identifier, MatchField::UserId("LDAP".into())]
        {
            assert_eq!(field.to_string().parse::<MatchField>(), Ok(field));
        }
        assert_eq!("USERID: sis ".parse::<MatchField>(), Ok(MatchField::UserId("sis".into())));
        assert!("userIds:".parse::<MatchField>().is_err());
        assert!("upn".parse::<MatchField>().is_err());
    }
}
